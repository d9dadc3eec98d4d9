#!/usr/bin/env bash
# Trains the bundled models; the commands are recorded in assets/README.md and in each file's metadata.
# Usage: bash scripts/train_assets.sh [fmnist|emoji|families|all]   (default: all)
# Fashion-MNIST: about 1-1.5 hours on a busy 2-core CPU.  Emoji (64x64 RGB): about an hour, the VAE and
# the GAN side by side with one thread each.  Minutes on a GPU (add --device cuda).
# Every epoch leaves a complete checkpoint; after a stop, run the same command with --resume.
set -e
cd "$(dirname "$0")/.."
export OMP_WAIT_POLICY=PASSIVE
LE=${LE:-.venv/bin/latent-explorer}
PY=${PY:-.venv/bin/python}
what=${1:-all}

if [ "$what" = fmnist ] || [ "$what" = all ]; then
  # the VAE: 64 latents, 64/128-channel stages, cosine learning rate (about 35 min with 2 threads on an idle
  # 2-core CPU, 65 with one); then its learned prior and the OOD calibration that uses it
  $LE train vae --data fashion-mnist --latent-dim 64 --width 64 --epochs 20 --lr 0.0015 --lr-decay cosine --seed 0 \
    --out assets/vae-fmnist.safetensors --name "VAE (Fashion-MNIST)" --no-calibrate --quiet
  $LE prior assets/vae-fmnist.safetensors --epochs 30
  $LE calibrate assets/vae-fmnist.safetensors
  $LE train vae --data fashion-mnist --epochs 6 --beta 4 --seed 0 --out assets/beta-vae-fmnist.safetensors --name "β-VAE, β=4 (Fashion-MNIST)" --quiet &
  $LE train gan --data fashion-mnist --epochs 8 --seed 0 --out assets/gan-fmnist.safetensors --name "DCGAN (Fashion-MNIST)" --quiet
  wait
  $LE prior assets/beta-vae-fmnist.safetensors --epochs 30
  $LE calibrate assets/beta-vae-fmnist.safetensors
fi

if [ "$what" = emoji ] || [ "$what" = all ]; then
  # the data: 64x64 RGB renders of the colour emoji font (apt-get install fonts-noto-color-emoji)
  [ -f runs/emoji/emoji.json ] || $PY -m models.emoji_data --out runs/emoji
  mkdir -p runs
  OMP_NUM_THREADS=1 nice -n 10 $LE train vae --data runs/emoji --image-size 64 --channels 3 --latent-dim 32 --width 24 \
    --batch-size 32 --epochs 60 --seed 0 --out assets/vae-emoji.safetensors --name "VAE (emoji, 64×64 RGB)" --quiet \
    > runs/vae-emoji.log 2>&1 &
  OMP_NUM_THREADS=1 nice -n 10 $LE train gan --data runs/emoji --image-size 64 --channels 3 --latent-dim 32 --width 16 \
    --batch-size 64 --epochs 100 --seed 0 --out assets/gan-emoji.safetensors --name "DCGAN (emoji, 64×64 RGB)" --quiet \
    > runs/gan-emoji.log 2>&1 &
  wait
fi
if [ "$what" = families ] || [ "$what" = all ]; then
  # the flow and the PixelCNN (Fashion-MNIST), side by side with one thread each; about 7.5 min a flow epoch
  # and 20-25 min a PixelCNN epoch on an idle core, 2-4x that on a shared one
  mkdir -p runs
  OMP_NUM_THREADS=1 nice -n 10 $LE train flow --data fashion-mnist --epochs 3 --seed 0 \
    --out assets/flow-fmnist.safetensors --name "RealNVP/Glow flow (Fashion-MNIST)" --quiet > runs/flow-fmnist.log 2>&1 &
  OMP_NUM_THREADS=1 nice -n 10 $LE train pixelcnn --data fashion-mnist --width 24 --epochs 2 --seed 0 \
    --out assets/pixelcnn-fmnist.safetensors --name "Gated PixelCNN (Fashion-MNIST)" --quiet > runs/pixelcnn-fmnist.log 2>&1 &
  wait
fi
echo ALL DONE

#!/usr/bin/env bash
# Trains the bundled models; the commands are recorded in assets/README.md and in each file's metadata.
# About 1-1.5 hours on a busy 2-core CPU; minutes on a GPU (add --device cuda).
set -e
export OMP_WAIT_POLICY=PASSIVE
LE=${LE:-.venv/bin/latent-explorer}
$LE train vae --data fashion-mnist --epochs 12 --seed 0 --out assets/vae-fmnist.safetensors --name "VAE (Fashion-MNIST)" --quiet
$LE train vae --data fashion-mnist --epochs 6 --beta 4 --seed 0 --out assets/beta-vae-fmnist.safetensors --name "β-VAE, β=4 (Fashion-MNIST)" --quiet &
$LE train gan --data fashion-mnist --epochs 8 --seed 0 --out assets/gan-fmnist.safetensors --name "DCGAN (Fashion-MNIST)" --quiet
wait
echo ALL DONE

#!/usr/bin/env bash
# Trains the bundled models (the commands are recorded in assets/README.md).
set -e
export OMP_WAIT_POLICY=PASSIVE
LE=${LE:-.venv/bin/latent-explorer}
$LE train vae --data fashion-mnist --epochs 12 --seed 0 --out assets/vae-fmnist.safetensors --name "VAE (Fashion-MNIST)" --quiet
$LE train vae --data fashion-mnist --epochs 10 --beta 4 --seed 0 --out assets/beta-vae-fmnist.safetensors --name "β-VAE, β=4 (Fashion-MNIST)" --quiet
$LE train gan --data fashion-mnist --epochs 10 --seed 0 --out assets/gan-fmnist.safetensors --name "DCGAN (Fashion-MNIST)" --quiet
echo ALL DONE

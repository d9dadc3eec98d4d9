#!/usr/bin/env bash
# One-command set-up on a fresh Debian/Ubuntu machine: system packages, a venv in .venv, pinned wheels,
# and Latent Explorer itself (editable).  Safe to run again.  Usage: bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  dataset-fashion-mnist          # the training/test data (IDX files in /usr/share/datasets/fashion-mnist)
  fonts-noto-color-emoji         # the colour data set: python -m models.emoji_data renders its emoji
  xvfb xauth xdotool imagemagick # the real-window test and screenshots
  # what Qt's xcb platform plugin needs on a bare machine
  libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libxkbcommon-x11-0 libxcb-xinerama0 libxcb-randr0
  libxcb-render-util0 libxcb-image0 libxcb-shape0 libxkbcommon0 libegl1 libgl1 libfontconfig1 libdbus-1-3
  libglib2.0-0
)
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
if command -v apt-get >/dev/null; then
  missing=()
  for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
else
  echo "setup: no apt-get here; install the equivalents of: ${APT_PACKAGES[*]}" >&2
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch first and pinned: an unpinned torch resolves a ~3 GB CUDA build; 2.13.0 is the CPU wheel here.
# With a GPU, install your CUDA build of torch (>=2.2,<2.14) into .venv before running this script.
.venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/python -m pip install -q "torch==2.13.0"
# the onnx and hf extras: the tests open ONNX graphs and diffusers autoencoders (docs/foreign-models.md);
# map: UMAP and t-SNE for the latent map (umap-learn compiles with numba on first use, about 15 s)
.venv/bin/python -m pip install -q -e ".[test,onnx,hf,map]"
echo "setup: done. Run the tests with: .venv/bin/python -m pytest"

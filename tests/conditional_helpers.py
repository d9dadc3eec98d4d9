"""Tiny class-conditional models for tests, trained for seconds on a folder of two obvious classes:
"left" (a bright block in the left half of a dark 28x28 image) and "right" (in the right half).

A model that draws the class it is asked for puts the light on that side, which a test (and a
person) can check without a classifier: :func:`side_share` is the share of an image's light that
lies in its left half.
"""
from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import numpy as np
import torch

CLASSES = ("left", "right")


def make_folder(root: Path, n: int = 192, seed: int = 0) -> Path:
    """``n`` PNGs, half per class, in sub-folders ``left/`` and ``right/``."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for c, name in enumerate(CLASSES):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n // 2):
            img = np.zeros((28, 28), np.uint8)
            top, h, w = rng.integers(2, 10), rng.integers(10, 17), rng.integers(7, 11)
            left = rng.integers(1, 13 - w + 1) if c == 0 else rng.integers(15, 27 - w + 1)
            img[top:top + h, left:left + w] = rng.integers(180, 256)
            Image.fromarray(img, "L").save(root / name / f"{i:03d}.png")
    return root


#: epochs that make each family draw the two classes apart (a few seconds each)
EPOCHS = {"vae": 15, "gan": 30}


@functools.lru_cache(maxsize=None)
def trained(family: str, epochs: int | None = None) -> Path:
    """A conditional ``family`` model trained on the two-class folder (cached for the session)."""
    epochs = epochs or EPOCHS[family]
    from models.training import TrainConfig, train

    root = Path(tempfile.mkdtemp(prefix=f"cond-{family}-"))
    folder = make_folder(root / "data")
    out = root / f"c{family}.safetensors"
    torch.manual_seed(0)
    cfg = TrainConfig(family=family, data=str(folder), epochs=epochs, out=str(out), seed=0, batch_size=32,
                      conditional=True, calibrate=False, width=16, lr=2e-3,
                      command=f"latent-explorer train {family} --conditional (test)")
    train(cfg, progress=False, log=lambda s: None)
    return out


def left_share(images) -> np.ndarray:
    """Per image (N, 1, 28, 28) in [0, 1]: the share of its light in the left half (0.5: even)."""
    x = torch.as_tensor(images).float().reshape(-1, 28, 28)
    total = x.sum((1, 2)).clamp_min(1e-6)
    return (x[:, :, :14].sum((1, 2)) / total).numpy()

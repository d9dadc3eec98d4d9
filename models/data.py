"""Datasets: Fashion-MNIST from the Debian package's IDX files, and folders of user images."""
from __future__ import annotations

import gzip
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .errors import LatentExplorerError

FASHION_MNIST_DIR = Path(os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"))
FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
#: Images of the training file held out for calibration and validation (the last ones).
HELDOUT = 5000
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}


class DataError(LatentExplorerError):
    """A dataset could not be read; the message says what to do."""


@dataclass
class Split:
    images: torch.Tensor  # (N, 1, 28, 28) uint8
    labels: torch.Tensor  # (N,) int64, -1 where unknown
    classes: list[str]
    name: str

    def __len__(self) -> int:
        return self.images.shape[0]

    def float01(self) -> torch.Tensor:
        return self.images.float() / 255.0


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        data = fh.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise DataError(f"{path}: not an unsigned-byte IDX file")
    shape = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _idx_file(root: Path, stem: str) -> Path:
    for name in (f"{stem}.gz", stem):
        if (root / name).exists():
            return root / name
    raise DataError(f"Fashion-MNIST not found in {root} (looked for {stem}[.gz]). Install it with "
                    f"`sudo apt-get install dataset-fashion-mnist`, or set FASHION_MNIST_DIR.")


def fashion_mnist(split: str = "train", root: str | os.PathLike | None = None) -> Split:
    """A Fashion-MNIST split: ``"train"`` (55,000), ``"heldout"`` (the last 5,000 of the training
    file: calibration and validation), ``"test"`` (10,000) or ``"train-full"`` (60,000)."""
    root = Path(root) if root else FASHION_MNIST_DIR
    prefix = "t10k" if split == "test" else "train"
    x = _read_idx(_idx_file(root, f"{prefix}-images-idx3-ubyte"))
    y = _read_idx(_idx_file(root, f"{prefix}-labels-idx1-ubyte"))
    if split == "train":
        x, y = x[:-HELDOUT], y[:-HELDOUT]
    elif split == "heldout":
        x, y = x[-HELDOUT:], y[-HELDOUT:]
    elif split not in ("test", "train-full"):
        raise ValueError(f"unknown split {split!r}")
    return Split(torch.from_numpy(x.copy()).unsqueeze(1), torch.from_numpy(y.astype(np.int64)),
                 list(FASHION_MNIST_CLASSES), f"fashion-mnist/{split}")


def image_folder(folder: str | os.PathLike, heldout_fraction: float = 0.1, seed: int = 0) -> tuple[Split, Split]:
    """All images under ``folder`` (recursively), through :func:`models.intake.load_image`.

    Sub-folder names become class names.  Returns (train, heldout) splits.
    """
    from .intake import IntakeError, load_image

    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder of images")
    files = sorted(f for f in folder.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
    if not files:
        raise DataError(f"{folder}: no image files found (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
    classes = sorted({f.parent.relative_to(folder).as_posix() for f in files} - {"."})
    imgs, labels, skipped = [], [], []
    for f in files:
        try:
            imgs.append(load_image(f).uint8)
        except IntakeError as exc:
            skipped.append(f"{f.name}: {exc}")
            continue
        rel = f.parent.relative_to(folder).as_posix()
        labels.append(classes.index(rel) if rel in classes else -1)
    if not imgs:
        raise DataError(f"{folder}: none of the {len(files)} images could be read; first problem: {skipped[0]}")
    x = torch.stack(imgs)
    y = torch.tensor(labels)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    n_hold = max(1, int(len(x) * heldout_fraction)) if len(x) > 1 else 0
    hold, train = perm[:n_hold], perm[n_hold:]
    name = f"folder:{folder.name}"
    return (Split(x[train], y[train], classes, name), Split(x[hold], y[hold], classes, name + "/heldout"))


def load_training_data(data: str) -> tuple[Split, Split]:
    """``"fashion-mnist"`` or a folder path -> (train, heldout)."""
    if data in ("fashion-mnist", "fmnist"):
        return fashion_mnist("train"), fashion_mnist("heldout")
    return image_folder(data)

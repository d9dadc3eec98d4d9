"""Datasets: Fashion-MNIST from the Debian package's IDX files, and folders of user images.

A folder is read at one shape (C, H, W): every image is centre-cropped to the aspect H:W and resized
(Lanczos), transparency composited on white (:data:`BACKGROUND`), and kept as RGB or turned into
ITU-R 601 luma (Y = 0.299 R + 0.587 G + 0.114 B).  About 10% of the images are held out, chosen by a
hash of each path, so the split is stable under ``max_images`` and when images are added.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import struct
from collections import Counter
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
#: Share of a folder's images held out for calibration and validation.
HELDOUT_FRACTION = 0.1
#: Transparent pixels of folder images are composited onto this colour (recorded in checkpoints).
BACKGROUND = (255, 255, 255)
from .intake import IMAGE_SUFFIXES, folder_files  # noqa: E402  (the one list of image suffixes)


class DataError(LatentExplorerError):
    """A dataset could not be read; the message says what to do."""


@dataclass
class Split:
    images: torch.Tensor  # (N, C, H, W) uint8
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


def _folder_files(folder: Path) -> list[Path]:
    return folder_files(folder, arrays=False)


def is_heldout(relative_path: str, fraction: float = HELDOUT_FRACTION) -> bool:
    """Whether a folder image is held out: by a hash of its path inside the folder, so the split is
    the same whatever subset (``max_images``) or order is read, and images added later keep theirs."""
    digest = hashlib.sha256(relative_path.encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:4], "big") < fraction * 2 ** 32


def _read_folder_image(path: Path, size: tuple[int, int] | None) -> np.ndarray:
    """One image -> (H, W, 3) uint8 RGB: EXIF-rotated, transparency composited on :data:`BACKGROUND`,
    centre-cropped to the aspect of ``size`` and resized to it (Lanczos); ``None`` keeps its size."""
    from PIL import Image, ImageOps

    from .intake import _pillow

    _pillow()   # the process-wide limit on pixels (decompression bombs)
    with Image.open(path) as img:
        img = ImageOps.exif_transpose(img)
        if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
            rgba = img.convert("RGBA")
            img = Image.new("RGBA", rgba.size, BACKGROUND + (255,))
            img.alpha_composite(rgba)
        img = img.convert("RGB")
        if size is not None and img.size != (size[1], size[0]):
            img = ImageOps.fit(img, (size[1], size[0]), method=Image.Resampling.LANCZOS)
        return np.asarray(img, dtype=np.uint8)


def image_folder(folder: str | os.PathLike, heldout_fraction: float = HELDOUT_FRACTION, seed: int = 0, *,
                 size: int | tuple[int, int] | None = None, channels: int | None = None,
                 max_images: int | None = None) -> tuple[Split, Split]:
    """All images under ``folder`` (recursively) as (train, heldout) splits of (N, C, H, W) uint8.

    * Sub-folder names become class names (images directly in ``folder`` get label -1).
    * ``size``: S or (H, W); by default the most common size among the images.  Each image is
      centre-cropped to that aspect and resized (Lanczos); transparency is composited on white.
    * ``channels``: 1 or 3; by default 1 when every image is grey (R = G = B), else 3.
    * ``max_images``: read only a random (seeded) subset of that many files (quick runs).
    * The held-out split is chosen by a hash of each file's path (:func:`is_heldout`).
    """
    from .conv_geometry import ImageShapeError, check_image_shape
    from PIL import Image, UnidentifiedImageError

    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder of images")
    files = _folder_files(folder)
    if not files:
        raise DataError(f"{folder}: no image files found (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
    if max_images is not None and max_images < len(files):
        if max_images < 2:
            raise DataError("--max-images must be at least 2 (some images train, some are held out)")
        pick = torch.randperm(len(files), generator=torch.Generator().manual_seed(seed))[:max_images]
        files = [files[i] for i in sorted(pick.tolist())]
    if isinstance(size, int):
        size = (size, size)
    if size is None:
        sizes: Counter = Counter()
        for f in files:
            try:
                with Image.open(f) as img:
                    sizes[(img.height, img.width)] += 1
            except (OSError, UnidentifiedImageError, ValueError):
                continue
        if not sizes:
            raise DataError(f"{folder}: none of the {len(files)} image files could be opened")
        size = sizes.most_common(1)[0][0]
    try:
        check_image_shape((channels or 3, *size))
    except ImageShapeError as exc:
        raise DataError(f"{folder}: {exc}; choose --image-size (and --channels)") from None
    classes = sorted({f.parent.relative_to(folder).as_posix() for f in files} - {"."})
    imgs, labels, held, skipped = [], [], [], []
    for f in files:
        try:
            imgs.append(_read_folder_image(f, size))
        except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as exc:
            skipped.append(f"{f.name}: {type(exc).__name__}: {exc}")
            continue
        rel = f.parent.relative_to(folder).as_posix()
        labels.append(classes.index(rel) if rel in classes else -1)
        held.append(is_heldout(f.relative_to(folder).as_posix(), heldout_fraction))
    if not imgs:
        raise DataError(f"{folder}: none of the {len(files)} images could be read; first problem: {skipped[0]}")
    x = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).contiguous()      # (N, 3, H, W)
    if channels is None:
        channels = 1 if bool((x[:, :1] == x[:, 1:]).all()) else 3
    if channels == 1:   # ITU-R 601-2 luma, as Pillow's convert("L")
        x = ((x[:, 0:1].int() * 299 + x[:, 1:2].int() * 587 + x[:, 2:3].int() * 114 + 500) // 1000).to(torch.uint8)
    y = torch.tensor(labels)
    hold = torch.tensor(held)
    if len(x) > 1 and (bool(hold.all()) or not bool(hold.any())):  # tiny folders: keep both splits non-empty
        hold = torch.zeros(len(x), dtype=torch.bool)
        hold[torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:max(1, int(len(x) * heldout_fraction))]] = True
    name = f"folder:{folder.name}"
    return (Split(x[~hold], y[~hold], classes, name), Split(x[hold], y[hold], classes, name + "/heldout"))


def load_training_data(data: str, *, size: int | tuple[int, int] | None = None, channels: int | None = None,
                       max_images: int | None = None) -> tuple[Split, Split]:
    """``"fashion-mnist"`` or a folder path -> (train, heldout); see :func:`image_folder` for the options."""
    if data in ("fashion-mnist", "fmnist"):
        if size not in (None, 28, (28, 28)) or channels not in (None, 1):
            raise DataError("Fashion-MNIST is 1x28x28; --image-size and --channels apply to image folders")
        train, held = fashion_mnist("train"), fashion_mnist("heldout")
        if max_images is not None:
            train = Split(train.images[:max_images], train.labels[:max_images], train.classes, train.name)
        return train, held
    return image_folder(data, size=size, channels=channels, max_images=max_images)

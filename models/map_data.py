"""Which images a latent map holds: a data set the user names, read at the model's own shape.

``data`` names the source (:func:`map_source`):

* ``None`` or ``"bundled"``: the model's own domain, quick (:func:`map_images`: the
  1,500 bundled Fashion-MNIST test images, the checkpoint's data folder, or the model's samples);
* ``"fashion-mnist"``: every Fashion-MNIST image of ``split`` -- ``"train"`` (the 60,000 images of the
  training file, held-out ones included), ``"test"`` (10,000) or ``"all"`` (70,000: train, then test).
  A point's ``index`` is the image's position in that order (the CSV's ``index`` column);
* a folder: every image under it (sub-folders are classes; :func:`models.data.image_folder`, the
  reading training uses) at the model's shape; ``index`` counts the images as read (the training
  part in the folder's sorted order, then the held-out part).

``max_images`` keeps a seeded random subset (seed 0), in the original order, so ``index`` still
names the same image and a cached map of the subset is reused.  ``key`` names the source for the
map cache (:mod:`models.map_cache`): same key, same images.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .errors import LatentExplorerError

SPLITS = ("train", "test", "all")
FASHION_MNIST_NAMES = ("fashion-mnist", "fmnist")
#: Images read from a model's data folder for its quick map (a seeded random subset of larger folders).
MAP_IMAGES = 1500
#: Prior samples drawn when the model's own data is not at hand: 1,000 up to 64x64, fewer above (the
#: same pixel budget, at least :data:`MIN_SAMPLES`), so a 256x256 model's map costs seconds, not minutes.
N_SAMPLES = 1000
MIN_SAMPLES = 200


class MapDataError(LatentExplorerError):
    """The map's data set cannot be read for this model; the message says what to do."""


@dataclass
class MapImages:
    images: np.ndarray     # (N, C, H, W) uint8 at the model's shape
    labels: np.ndarray     # (N,) int64, -1 where unknown
    classes: list[str]
    index: np.ndarray      # (N,) int64: each image's position in the full data set
    source: str            # in words, for the map's status ("60,000 Fashion-MNIST train images")
    kind: str = "data"     # "data" or "samples"
    key: str = ""          # names the source for the cache; "" = do not cache


def subset(n: int, max_images: int | None, seed: int = 0) -> np.ndarray:
    """Sorted indices of a seeded random subset of ``range(n)`` of size ``max_images`` (all when None)."""
    if max_images is None or max_images >= n:
        return np.arange(n, dtype=np.int64)
    if max_images < 1:
        raise MapDataError(f"--max-images must be at least 1 (got {max_images})")
    return np.sort(np.random.default_rng(seed).choice(n, size=int(max_images), replace=False)).astype(np.int64)


def fashion_mnist_images(split: str = "train", max_images: int | None = None) -> MapImages:
    """Fashion-MNIST's ``split`` ("train" 60k, "test" 10k, "all" 70k) as (N, 1, 28, 28) uint8."""
    from .data import FASHION_MNIST_CLASSES, fashion_mnist

    if split not in SPLITS:
        raise MapDataError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    parts = [fashion_mnist("train-full" if s == "train" else "test") for s in
             (("train", "test") if split == "all" else (split,))]
    images = np.concatenate([p.images.numpy() for p in parts])
    labels = np.concatenate([p.labels.numpy() for p in parts]).astype(np.int64)
    pick = subset(len(images), max_images)
    what = {"train": "train", "test": "test", "all": "train + test"}[split]
    of = f" of {len(images):,}" if len(pick) < len(images) else ""
    return MapImages(np.ascontiguousarray(images[pick]), labels[pick], list(FASHION_MNIST_CLASSES), pick,
                     f"{len(pick):,}{of} Fashion-MNIST {what} images", "data",
                     f"fmnist-{split}-{len(pick)}")


def folder_images(folder: str | Path, shape: tuple[int, int, int], max_images: int | None = None) -> MapImages:
    """Every image under ``folder`` at ``shape`` (C, H, W), labelled by sub-folder."""
    from .data import image_folder

    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise MapDataError(f"{folder}: not a folder of images; give --data fashion-mnist or a folder")
    train, held = image_folder(folder, size=shape[1:], channels=shape[0], max_images=max_images)
    images = torch.cat([train.images, held.images]).numpy()
    labels = torch.cat([train.labels, held.labels]).numpy().astype(np.int64)
    digest = hashlib.sha256(f"{folder.resolve()}|{max_images}".encode()).hexdigest()[:16]
    return MapImages(images, labels, list(train.classes), np.arange(len(images), dtype=np.int64),
                     f"{len(images):,} images from {folder}", "data", f"folder-{digest}-{len(images)}")


def _data_folder(model) -> Path | None:
    """The folder the checkpoint says the model was trained on, if it exists here: as recorded
    (relative to the working directory), else relative to the checkpoint's folder or the one above."""
    training = model.metadata.get("training")
    data = training.get("data") if isinstance(training, dict) else None
    if not data or str(data).lower() in ("fashion-mnist", "fmnist"):
        return None
    p = Path(str(data)).expanduser()
    tries = [p]
    if not p.is_absolute() and model.metadata.get("path"):
        here = Path(str(model.metadata["path"])).resolve().parent
        tries += [here / p, here.parent / p]
    return next((t for t in tries if t.is_dir()), None)


@torch.no_grad()
def _samples(model, n: int) -> np.ndarray:
    """``n`` prior samples (seed 0) as uint8 (N, C, H, W)."""
    from .imaging import to_uint8

    z = model.prior_z(n, seed=0)
    return np.concatenate([to_uint8(model.decode(z[i:i + 250])) for i in range(0, n, 250)])


def map_images(model, max_images: int = MAP_IMAGES, n_samples: int | None = None
               ) -> tuple[np.ndarray, np.ndarray, list[str], str, str]:
    """(images uint8 (N, C, H, W), labels, classes, source, kind) of ``model``'s own domain (see the
    module docstring for the order of choice); ``source`` says in words what they are."""
    from .intake_style import FASHION_MNIST, style_for

    shape = tuple(model.image_shape)
    if n_samples is None:
        n_samples = max(MIN_SAMPLES, min(N_SAMPLES, N_SAMPLES * 64 * 64 // (shape[1] * shape[2])))
    if getattr(model, "has_encoder", True) is False:  # a decoder alone (models.foreign): its own samples,
        images = _samples(model, n_samples)           # whose codes are known (build skips the inversion)
        return (images, np.zeros(len(images), np.int64), ["samples"],
                f"{len(images):,} of the model's own samples (it has no encoder)", "samples")
    if shape == (1, 28, 28) and style_for(model).framing == FASHION_MNIST:
        from .bundled_data import load_subset

        images, labels, classes = load_subset()
        return images[:, None], labels, classes, f"{len(images):,} Fashion-MNIST test images", "data"
    folder = _data_folder(model)
    note = ""
    if folder is not None:
        from .data import image_folder
        from .errors import LatentExplorerError

        try:
            train, held = image_folder(folder, size=shape[1:], channels=shape[0], max_images=max_images)
        except (LatentExplorerError, OSError, ValueError) as exc:
            note = f" ({folder} could not be read: {str(exc)[:80]})"
        else:
            images = torch.cat([train.images, held.images]).numpy()
            labels = torch.cat([train.labels, held.labels]).numpy().astype(np.int64)
            return images, labels, list(train.classes), f"{len(images):,} images from {folder}", "data"
    images = _samples(model, n_samples)
    why = "its data folder is not here" if _recorded_data(model) else "no data folder recorded"
    return (images, np.zeros(len(images), np.int64), ["samples"],
            f"{len(images):,} of the model's own samples ({why}){note}", "samples")


def _recorded_data(model) -> bool:
    training = model.metadata.get("training")
    return bool(isinstance(training, dict) and training.get("data"))


def is_fashion_mnist_model(model) -> bool:
    from .intake_style import FASHION_MNIST, style_for

    return tuple(model.image_shape) == (1, 28, 28) and style_for(model).framing == FASHION_MNIST


def map_source(model, data: str | None = None, split: str = "train", max_images: int | None = None) -> MapImages:
    """The images a map of ``model`` holds (see the module docstring)."""
    if data is None or data == "bundled":
        images, labels, classes, source, kind = map_images(model)
        pick = subset(len(images), max_images)
        key = "bundled" if kind == "data" else ""
        return MapImages(images[pick], labels[pick], classes, pick, source, kind,
                         f"{key}-{len(pick)}" if key else "")
    if data.lower() in FASHION_MNIST_NAMES:
        if tuple(model.image_shape) != (1, 28, 28):
            c, h, w = model.image_shape
            raise MapDataError(f"Fashion-MNIST is 1x28x28 but {model.name} takes {c}x{h}x{w} images; "
                               "give --data a folder of images of the model's kind")
        return fashion_mnist_images(split, max_images)
    return folder_images(data, tuple(model.image_shape), max_images)

"""A 2-D map of a model's latent space: images of the model's own domain, encoded and projected.

>>> import models
>>> from models.latent_map import build
>>> lm = build(models.load(models.bundled("vae")))     # PCA of the encoded subset
>>> lm.xy.shape, lm.project(some_z).shape              # (1500, 2), (M, 2): same 2-D space
>>> lm.source                                          # what the points are, said in the map's status

Which images (:func:`map_images`), so that the points are of the model's own kind:

1. a model trained on Fashion-MNIST (1x28x28, see :func:`models.intake.style_for`): the bundled
   Fashion-MNIST test subset (``assets/fmnist-test-subset.npz``), labelled by class;
2. otherwise the data folder its checkpoint records (``training.data``), when that folder exists here
   (as written, or beside the checkpoint), read at the model's shape (:func:`models.data.image_folder`,
   the reading training used), at most :data:`MAP_IMAGES` of them, labelled by sub-folder;
3. otherwise the model's own samples: :data:`N_SAMPLES` prior draws (seed 0) decoded and encoded
   again, one label, "samples" (fewer for images over 64x64, see :data:`N_SAMPLES`).

Projections (both linear, so any new code -- the current z, a dropped image's encoding -- lands in
the same picture with :meth:`LatentMap.project`, and the map needs no extra dependency):

* ``"pca"`` (default): the two principal axes of the encoded images (numpy SVD), i.e. the plane in
  which these images' codes vary most.
* ``"directions"``: the model's own two strongest slider directions (VAE: latent units with the
  largest KL; GAN: principal directions of sampled latents), so the map's axes are the first two
  sliders.

Non-linear embeddings (t-SNE, UMAP) were left out: they cannot place a new point without refitting
or approximating, and the point of the map is to see where *your* z is among the data.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

METHODS = ("pca", "directions")
#: Images read from a model's data folder for its map (a seeded random subset of larger folders).
MAP_IMAGES = 1500
#: Prior samples drawn when the model's own data is not at hand: 1,000 up to 64x64, fewer above (the
#: same pixel budget, at least :data:`MIN_SAMPLES`), so a 256x256 model's map costs seconds, not minutes.
N_SAMPLES = 1000
MIN_SAMPLES = 200


@dataclass
class LatentMap:
    z: np.ndarray            # (N, D) float32 codes of the subset
    xy: np.ndarray           # (N, 2) float32 projected codes
    labels: np.ndarray       # (N,) int64, -1 where unknown
    classes: list[str]
    images: np.ndarray       # (N, H, W) grey or (N, H, W, 3) colour uint8, for thumbnails
    mean: np.ndarray         # (D,) centre subtracted before projecting
    axes: np.ndarray         # (2, D) rows: the projection axes (orthonormal)
    method: str = "pca"
    axis_labels: tuple[str, str] = ("PC 1", "PC 2")
    explained: tuple[float, float] = field(default=(0.0, 0.0))  # fraction of the subset's variance per axis
    source: str = "images"   # what the points are, for the map's status ("1,500 Fashion-MNIST test images")
    kind: str = "data"       # "data" (real images) or "samples" (the model's own)

    def __len__(self) -> int:
        return int(self.z.shape[0])

    def project(self, z) -> np.ndarray:
        """Codes (M, D) or (D,) -> (M, 2) points in the map's coordinates."""
        a = z.detach().float().cpu().numpy() if isinstance(z, torch.Tensor) else np.asarray(z, dtype=np.float32)
        if a.ndim == 1:
            a = a[None]
        if a.ndim != 2 or a.shape[1] != self.z.shape[1]:
            raise ValueError(f"expected codes of shape (M, {self.z.shape[1]}), got {a.shape}")
        return ((a - self.mean) @ self.axes.T).astype(np.float32)

    def nearest(self, x: float, y: float) -> int:
        """Index of the subset point closest to (x, y) in map coordinates."""
        d = ((self.xy - np.array([x, y], dtype=np.float32)) ** 2).sum(1)
        return int(np.argmin(d))


def pca_axes(z: np.ndarray, k: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean (D,), axes (k, D) orthonormal, explained-variance fractions (k,)) by SVD.

    Each axis's sign is fixed so that its largest-magnitude weight is positive (deterministic)."""
    z = np.asarray(z, dtype=np.float64)
    mean = z.mean(0)
    _, s, vt = np.linalg.svd(z - mean, full_matrices=False)
    axes = vt[:k].copy()
    for i in range(axes.shape[0]):
        if axes[i, np.argmax(np.abs(axes[i]))] < 0:
            axes[i] = -axes[i]
    var = s ** 2
    return mean, axes, var[:k] / max(var.sum(), 1e-12)


@torch.no_grad()
def encode_all(model, images: np.ndarray, batch: int = 256) -> np.ndarray:
    """uint8 (N, C, H, W) (or (N, H, W) grey) -> (N, D) float32 codes, in batches."""
    x = torch.from_numpy(np.ascontiguousarray(images))
    if x.dim() == 3:
        x = x.unsqueeze(1)
    parts = [model.encode(x[i:i + batch]).float().cpu() for i in range(0, x.shape[0], batch)]
    return torch.cat(parts).numpy()


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


def _as_nchw(model, images) -> np.ndarray:
    """Given images -- (N, H, W), (N, C, H, W) or (N, H, W, C) uint8 -- in the model's own layout."""
    from .intake import from_array
    from .intake_style import style_for

    results = from_array(images, "map images", style_for(model))
    return torch.stack([r.uint8 for r in results]).numpy()


def build(model, images: np.ndarray | None = None, labels: np.ndarray | None = None,
          classes: list[str] | None = None, method: str = "pca", source: str | None = None) -> LatentMap:
    """Encode ``images`` (default: :func:`map_images`, the model's own domain) with ``model`` and
    project them to 2-D."""
    from .imaging import hwc

    if method not in METHODS:
        raise ValueError(f"unknown projection {method!r}; use one of {', '.join(METHODS)}")
    kind = "data"
    if images is None:
        images, sub_labels, sub_classes, found, kind = map_images(model)
        labels = sub_labels if labels is None else labels
        classes = classes or sub_classes
        source = source or found
    else:
        images = _as_nchw(model, images)
        source = source or f"{len(images):,} images"
    labels = np.full(len(images), -1, np.int64) if labels is None else np.asarray(labels, np.int64)
    classes = list(classes or model.class_names)
    if kind == "samples" and getattr(model, "has_encoder", True) is False:
        z = model.prior_z(len(images), seed=0).float().cpu().numpy()   # the codes _samples decoded
    else:
        z = encode_all(model, images)
    if method == "pca":
        mean, axes, explained = pca_axes(z)
        names = (f"PC 1 ({100 * explained[0]:.0f}% of variance)", f"PC 2 ({100 * explained[1]:.0f}%)")
    else:
        dirs = model.directions()[:2]
        axes = torch.stack([d.vector.float().cpu() for d in dirs]).numpy().astype(np.float64)
        mean = np.zeros(z.shape[1])
        centred = z - z.mean(0)
        total = max(float((centred ** 2).sum()), 1e-12)
        explained = np.array([float(((centred @ a) ** 2).sum()) / total for a in axes])
        names = tuple(f"{d.name} ({d.label})" for d in dirs)  # type: ignore[assignment]
    xy = ((z - mean) @ axes.T).astype(np.float32)
    return LatentMap(z=z.astype(np.float32), xy=xy, labels=labels, classes=classes, images=hwc(images),
                     mean=mean.astype(np.float32), axes=axes.astype(np.float32), method=method,
                     axis_labels=(str(names[0]), str(names[1])),
                     explained=(float(explained[0]), float(explained[1])), source=str(source), kind=kind)

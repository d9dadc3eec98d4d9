"""A 2-D map of a model's latent space: the bundled Fashion-MNIST test subset, encoded and projected.

>>> import models
>>> from models.latent_map import build
>>> lm = build(models.load(models.bundled("vae")))     # PCA of the encoded subset
>>> lm.xy.shape, lm.project(some_z).shape              # (1500, 2), (M, 2): same 2-D space

Projections (both linear, so any new code -- the current z, a dropped image's encoding -- lands in
the same picture with :meth:`LatentMap.project`, and the map needs no extra dependency):

* ``"pca"`` (default): the two principal axes of the encoded subset (numpy SVD), i.e. the plane in
  which these images' codes vary most.
* ``"directions"``: the model's own two strongest slider directions (VAE: latent units with the
  largest KL; GAN: principal directions of sampled latents), so the map's axes are the first two
  sliders.

Non-linear embeddings (t-SNE, UMAP) were left out: they cannot place a new point without refitting
or approximating, and the point of the map is to see where *your* z is among the data.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

METHODS = ("pca", "directions")


@dataclass
class LatentMap:
    z: np.ndarray            # (N, D) float32 codes of the subset
    xy: np.ndarray           # (N, 2) float32 projected codes
    labels: np.ndarray       # (N,) int64
    classes: list[str]
    images: np.ndarray       # (N, 28, 28) uint8, for thumbnails
    mean: np.ndarray         # (D,) centre subtracted before projecting
    axes: np.ndarray         # (2, D) rows: the projection axes (orthonormal)
    method: str = "pca"
    axis_labels: tuple[str, str] = ("PC 1", "PC 2")
    explained: tuple[float, float] = field(default=(0.0, 0.0))  # fraction of the subset's variance per axis

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
    """uint8 (N, 28, 28) -> (N, D) float32 codes, in batches."""
    x = torch.from_numpy(np.ascontiguousarray(images)).unsqueeze(1)
    parts = [model.encode(x[i:i + batch]).float().cpu() for i in range(0, x.shape[0], batch)]
    return torch.cat(parts).numpy()


def build(model, images: np.ndarray | None = None, labels: np.ndarray | None = None,
          classes: list[str] | None = None, method: str = "pca") -> LatentMap:
    """Encode ``images`` (default: the bundled test subset) with ``model`` and project them to 2-D."""
    if method not in METHODS:
        raise ValueError(f"unknown projection {method!r}; use one of {', '.join(METHODS)}")
    if images is None:
        from .bundled_data import load_subset

        images, sub_labels, sub_classes = load_subset()
        labels = sub_labels if labels is None else labels
        classes = classes or sub_classes
    images = np.asarray(images)
    if images.ndim == 4:
        images = images[:, 0]
    labels = np.full(len(images), -1, np.int64) if labels is None else np.asarray(labels, np.int64)
    classes = list(classes or model.class_names)
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
    return LatentMap(z=z.astype(np.float32), xy=xy, labels=labels, classes=classes, images=images,
                     mean=mean.astype(np.float32), axes=axes.astype(np.float32), method=method,
                     axis_labels=(str(names[0]), str(names[1])),
                     explained=(float(explained[0]), float(explained[1])))

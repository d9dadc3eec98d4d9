"""A 2-D map of a model's latent space: images of a data set, encoded and projected.

>>> import models
>>> from models.latent_map import build
>>> lm = build(models.load(models.bundled("vae")))     # PCA of the 1,500 bundled test images
>>> lm = build(model, data="fashion-mnist", split="all", method="umap")   # all 70,000, UMAP
>>> lm.xy.shape, lm.project(some_z).shape              # (N, 2), (M, 2): same 2-D space
>>> z, note = lm.inverse(x, y)                         # the code a map point stands for

Which images: :mod:`models.map_data` (``data=None``: the model's own domain, quick -- the bundled
Fashion-MNIST subset, the checkpoint's data folder, or the model's own samples; ``"fashion-mnist"``
with a ``split``; or a folder).  Codes are the encoder's (VAE: posterior mean), in batches
(:func:`encode_all`); codes and embeddings are cached beside the model (:mod:`models.map_cache`).

Projections (:mod:`models.projections`):

* ``"pca"`` (default): the two principal axes of the codes.  Linear: any new code -- the current z,
  a dropped image's encoding -- lands exactly in the picture (:meth:`LatentMap.project`), and a map
  point decodes exactly (:meth:`LatentMap.inverse`: ``mean + x axis1 + y axis2``).
* ``"directions"``: the model's own two strongest slider directions (linear too).
* ``"umap"``, ``"tsne"``: non-linear, seeded.  They have no inverse and cannot place a new code
  without refitting, so the map uses the nearest encoded image (in latent space): a new code is drawn
  where its nearest neighbour is, and a map point stands for the code of the image nearest to it.

**Progress and cancel.**  ``progress(fraction, text)`` is called between encoding batches and
embedding stages; it may raise (the app's ``job.checkpoint`` raises ``Cancelled``) to stop.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from .map_data import (  # noqa: F401
    MAP_IMAGES,
    MIN_SAMPLES,
    N_SAMPLES,
    MapImages,
    map_images,
    map_source,
)
from .projections import LINEAR, pca_axes  # noqa: F401  (pca_axes: the one PCA, re-exported)

METHODS = ("pca", "directions", "umap", "tsne")
#: codes encoded between two progress calls
ENCODE_BATCH = 500


@dataclass
class LatentMap:
    z: np.ndarray            # (N, D) float32 codes of the images
    xy: np.ndarray           # (N, 2) float32 projected codes
    labels: np.ndarray       # (N,) int64, -1 where unknown
    classes: list[str]
    images: np.ndarray       # (N, H, W) grey or (N, H, W, 3) colour uint8, for thumbnails
    mean: np.ndarray | None  # (D,) centre subtracted before projecting (linear maps)
    axes: np.ndarray | None  # (2, D) rows: the projection axes (linear maps)
    method: str = "pca"
    axis_labels: tuple[str, str] = ("PC 1", "PC 2")
    explained: tuple[float, float] = field(default=(0.0, 0.0))  # fraction of the codes' variance per axis
    source: str = "images"   # what the points are, for the map's status ("1,500 Fashion-MNIST test images")
    kind: str = "data"       # "data" (real images) or "samples" (the model's own)
    index: np.ndarray | None = None   # (N,) each point's image index in its data set
    cached: bool = False     # codes (and embedding) came from the map cache

    def __post_init__(self) -> None:
        if self.index is None:
            self.index = np.arange(len(self.z), dtype=np.int64)

    def __len__(self) -> int:
        return int(self.z.shape[0])

    @property
    def linear(self) -> bool:
        return self.axes is not None

    def _codes(self, z) -> np.ndarray:
        a = z.detach().float().cpu().numpy() if isinstance(z, torch.Tensor) else np.asarray(z, dtype=np.float32)
        if a.ndim == 1:
            a = a[None]
        if a.ndim != 2 or a.shape[1] != self.z.shape[1]:
            raise ValueError(f"expected codes of shape (M, {self.z.shape[1]}), got {a.shape}")
        return a

    def project(self, z) -> np.ndarray:
        """Codes (M, D) or (D,) -> (M, 2) points in the map's coordinates (non-linear maps: where
        each code's nearest encoded image is)."""
        a = self._codes(z)
        if self.linear:
            return ((a - self.mean) @ self.axes.T).astype(np.float32)
        return self.xy[[self.neighbours(row, 1)[0] for row in a]]

    def nearest(self, x: float, y: float) -> int:
        """Index of the point closest to (x, y) in map coordinates."""
        d = ((self.xy - np.array([x, y], dtype=np.float32)) ** 2).sum(1)
        return int(np.argmin(d))

    def neighbours(self, z, k: int = 20) -> np.ndarray:
        """Indices of the ``k`` codes nearest to ``z`` (Euclidean, in latent space), nearest first."""
        a = self._codes(z)[0]
        d = ((self.z - a) ** 2).sum(1)
        k = min(int(k), len(d))
        part = np.argpartition(d, k - 1)[:k]
        return part[np.argsort(d[part], kind="stable")]

    def inverse(self, x: float, y: float) -> tuple[np.ndarray, str]:
        """The code a map point stands for, and how it was found: linear maps invert exactly; UMAP
        and t-SNE use the code of the image nearest to the point."""
        if self.linear:
            return (self.mean + np.array([x, y], np.float32) @ self.axes).astype(np.float32), "exact inverse"
        i = self.nearest(x, y)
        return self.z[i].copy(), f"{self.method.upper()} has no inverse: the code of image #{int(self.index[i])}, the nearest"

    def search(self, query: str) -> np.ndarray:
        """Points matching ``query``: a class name (case-insensitive; a unique prefix or substring),
        an image index (``123`` or ``#123``), or several joined by commas."""
        hits: list[np.ndarray] = []
        for q in (t.strip().lower().lstrip("#") for t in str(query).split(",")):
            if not q:
                continue
            if q.isdigit():
                hits.append(np.flatnonzero(self.index == int(q)))
                continue
            names = [c.lower() for c in self.classes]
            exact = [i for i, c in enumerate(names) if c == q]
            found = exact or [i for i, c in enumerate(names) if c.startswith(q)] or [i for i, c in enumerate(names) if q in c]
            hits += [np.flatnonzero(self.labels == i) for i in found]
        return np.unique(np.concatenate(hits)) if hits else np.zeros(0, np.int64)


def encode_all(model, images: np.ndarray, batch: int = 256,
               progress: Callable[[float, str], None] | None = None) -> np.ndarray:
    """uint8 (N, C, H, W) (or (N, H, W) grey) -> (N, D) float32 codes, in batches (``progress``
    between batches of :data:`ENCODE_BATCH` codes or more)."""
    x = torch.from_numpy(np.ascontiguousarray(images))
    if x.dim() == 3:
        x = x.unsqueeze(1)
    n, parts, told = x.shape[0], [], 0
    with torch.no_grad():
        for i in range(0, n, batch):
            parts.append(model.encode(x[i:i + batch]).float().cpu())
            done = min(i + batch, n)
            if progress is not None and (done - told >= ENCODE_BATCH or done == n):
                told = done
                progress(done / max(n, 1), f"encoded {done:,} of {n:,} images")
    return torch.cat(parts).numpy() if parts else np.zeros((0, model.latent_dim), np.float32)


def _as_nchw(model, images) -> np.ndarray:
    """Given images -- (N, H, W), (N, C, H, W) or (N, H, W, C) uint8 -- in the model's own layout."""
    from .intake import from_array
    from .intake_style import style_for

    results = from_array(images, "map images", style_for(model))
    return torch.stack([r.uint8 for r in results]).numpy()


def _codes_of(model, src: MapImages, cache: bool, progress, span: float = 1.0) -> tuple[np.ndarray, bool]:
    """The codes of ``src``'s images: from the map cache, else encoded (and stored)."""
    from . import map_cache

    use = cache and bool(src.key)
    if use:
        hit = map_cache.load(model, src.key)
        if hit is not None and hit.get("codes") is not None and len(hit["codes"]) == len(src.images) \
                and np.array_equal(hit.get("index", src.index), src.index):
            return hit["codes"].astype(np.float32), True
    if src.kind == "samples" and getattr(model, "has_encoder", True) is False:
        z = model.prior_z(len(src.images), seed=0).float().cpu().numpy()   # the codes the samples decoded
    else:
        z = encode_all(model, src.images, progress=None if progress is None else
                       (lambda f, t: progress(span * f, t)))
    if use:
        map_cache.store(model, src.key, {"codes": z, "labels": src.labels, "index": src.index})
    return z, False


def embedding(model, z: np.ndarray, method: str, key: str = "", cache: bool = True,
              progress=None, embed=None):
    """``method``'s embedding of ``z`` (see :mod:`models.projections`), cached under ``key``;
    ``embed(z, method, progress=...)`` computes it (default: in this process)."""
    from . import map_cache, projections

    if method == "directions":
        dirs = model.directions()[:2]
        axes = torch.stack([d.vector.float().cpu() for d in dirs]).numpy().astype(np.float64)
        centred = z - z.mean(0)
        total = max(float((centred ** 2).sum()), 1e-12)
        explained = [float(((centred @ a) ** 2).sum()) / total for a in axes]
        return projections.Embedding((z @ axes.T).astype(np.float32), "directions", np.zeros(z.shape[1], np.float32),
                                     axes.astype(np.float32), tuple(f"{d.name} ({d.label})" for d in dirs),
                                     (explained[0], explained[1]))
    if method == "pca":
        return projections.pca(z)
    entry = map_cache.entry_name(key, f"{method}-s{projections.SEED}") if key and cache else ""
    if entry:
        hit = map_cache.load(model, entry)
        if hit is not None and hit.get("xy") is not None and hit["xy"].shape == (len(z), 2):
            names = {"umap": ("UMAP 1", "UMAP 2"), "tsne": ("t-SNE 1", "t-SNE 2")}[method]
            return projections.Embedding(hit["xy"].astype(np.float32), method, axis_labels=names)
    emb = (embed or projections.embed)(z, method, progress=progress)
    if entry:
        map_cache.store(model, entry, {"xy": emb.xy})
    return emb


def build(model, images: np.ndarray | None = None, labels: np.ndarray | None = None,
          classes: list[str] | None = None, method: str = "pca", source: str | None = None, *,
          data: str | None = None, split: str = "train", max_images: int | None = None,
          cache: bool = True, progress: Callable[[float, str], None] | None = None,
          embed: Callable | None = None) -> LatentMap:
    """Encode ``images`` (default: the data set ``data`` names, see :mod:`models.map_data`) with
    ``model`` and project them to 2-D with ``method``.  Codes and non-linear embeddings of a named
    data set are cached beside the model (``cache=False``: neither read nor written)."""
    from .imaging import hwc

    if method not in METHODS:
        raise ValueError(f"unknown projection {method!r}; use one of {', '.join(METHODS)}")
    if images is None:
        src = map_source(model, data, split, max_images)
        if labels is not None:
            src.labels = np.asarray(labels, np.int64)
        src.classes = list(classes or src.classes)
        src.source = source or src.source
    else:
        nchw = _as_nchw(model, images)
        lab = np.full(len(nchw), -1, np.int64) if labels is None else np.asarray(labels, np.int64)
        src = MapImages(nchw, lab, list(classes or model.class_names), np.arange(len(nchw), dtype=np.int64),
                        source or f"{len(nchw):,} images", "data", "")
    say = progress or (lambda f, t: None)
    span = 0.5 if method in ("umap", "tsne") else 1.0
    z, cached = _codes_of(model, src, cache, say, span)
    emb = embedding(model, z, method, src.key, cache, progress=None if progress is None else
                    (lambda f, t: say(span + (1 - span) * f, t)), embed=embed)
    return LatentMap(z=z.astype(np.float32), xy=emb.xy, labels=src.labels, classes=list(src.classes),
                     images=hwc(src.images), mean=emb.mean, axes=emb.axes, method=method,
                     axis_labels=(str(emb.axis_labels[0]), str(emb.axis_labels[1])),
                     explained=(float(emb.explained[0]), float(emb.explained[1])), source=str(src.source),
                     kind=src.kind, index=src.index, cached=cached)

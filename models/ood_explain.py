"""Why a model finds an image unusual: a per-pixel heat map and the nearest training images in latent space.

* **Heat map** (a VAE, or any model whose decoder gives each pixel a distribution): the bits the model
  spends on each pixel given the code, minus the bits a *local* model spends on it given only its causal
  neighbours (the background model stored in the calibration, :mod:`models.ood_background`):

      heat(h, w) = Σ_c [ −log₂ p(x_chw | z = μ(x))  −  (−log₂ p_local(x_chw | x_<chw nearby)) ]

  Positive where the model is surprised *beyond* what the local texture explains -- the strokes of a
  digit, the edges of a letter -- and near zero on flat background, which both models predict.  Summed
  over pixels it is the reconstruction part of the likelihood ratio the verdict uses.
* **Nearest training images**: the model's code of the image against the codes of a small bundled
  index of Fashion-MNIST *training* images (``assets/fmnist-train-index.npz``: 60 per class), Euclidean
  distance in latent space (the VAE's posterior means live under an isotropic prior).  The index holds
  images and labels only; the codes are computed by each model's own encoder once and cached.
"""
from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

INDEX_FILE = Path(__file__).resolve().parent.parent / "assets" / "fmnist-train-index.npz"
PER_CLASS = 60
NEIGHBOURS = 5
LN2 = math.log(2.0)
_CODES: weakref.WeakKeyDictionary[object, np.ndarray] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Neighbour:
    """One training image near the dropped one in latent space."""

    image: np.ndarray       # uint8 (C, H, W)
    class_name: str
    distance: float         # Euclidean, in latent units
    train_index: int        # position in the Fashion-MNIST training file


# ------------------------------------------------------------------------------------------ heat map
@torch.no_grad()
def model_pixel_bits(model, x01: torch.Tensor, mu: torch.Tensor | None = None) -> torch.Tensor | None:
    """−log₂ p(x_chw | z = μ(x)) of every pixel (N, C, H, W), or None for a model without per-pixel
    decoder distributions (GAN, flow, PixelCNN).  ``mu``: the posterior means, when already computed."""
    from . import likelihood

    if model.family != "vae":
        return None
    x01 = x01.to(model.device, torch.float32)
    if mu is None:
        mu, _ = model.net.posterior(x01)
    mu = torch.as_tensor(mu, dtype=torch.float32, device=model.device)
    lp = likelihood.level_log_probs(model.net.decoder_params(mu), model.net.n_mix)   # (N, C, H, W, 256)
    levels = torch.round(x01.clamp(0, 1) * 255).long().unsqueeze(-1)
    return (-lp.gather(-1, levels)[..., 0] / LN2).float().cpu()


def heat_map(model, x_u8: torch.Tensor, cal: dict | None = None, mu=None) -> np.ndarray | None:
    """(N, H, W) float32 bits: model bits minus local bits per pixel (summed over channels), or None when
    the model has no per-pixel likelihood or its calibration has no background model."""
    from . import ood_background

    cal = cal if cal is not None else model.metadata.get("calibration") or {}
    if "background" not in cal:
        return None
    x01 = model._as_batch(x_u8).float().cpu()
    mb = model_pixel_bits(model, x01, mu)
    if mb is None:
        return None
    with torch.no_grad():
        lb = ood_background.pixel_bits(ood_background.from_json(cal["background"]), x01)
    return (mb - lb).sum(1).numpy().astype(np.float32)


def heat_rgb(heat: np.ndarray, scale: float | None = None) -> np.ndarray:
    """A (H, W) heat map as a (3, H, W) uint8 picture: black where the model is no more surprised than
    the local model (≤ 0 bits), through red to yellow at ``scale`` bits (default: the map's maximum, at
    least 4 bits, so a garment's faint map stays faint)."""
    top = max(float(scale if scale is not None else heat.max()), 4.0)
    t = np.clip(heat / top, 0.0, 1.0)
    r = np.clip(t * 2.0, 0, 1)
    g = np.clip(t * 2.0 - 1.0, 0, 1)
    b = np.zeros_like(t)
    return np.round(np.stack([r, g, b], 0) * 255).astype(np.uint8)


# ------------------------------------------------------------------------------------------ neighbours
def load_index(path: str | Path = INDEX_FILE) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """(images (N, 28, 28) uint8, labels, training-file indices, class names) of the bundled index."""
    d = np.load(path)
    return d["images"], d["labels"], d["indices"], [str(c) for c in d["classes"]]


def index_available(model) -> bool:
    return bool(model.latent_dim) and tuple(model.image_shape) == (1, 28, 28) and INDEX_FILE.exists()


def _codes(model) -> np.ndarray:
    codes = _CODES.get(model)
    if codes is None:
        images = torch.from_numpy(load_index()[0]).unsqueeze(1)
        with torch.no_grad():
            codes = np.concatenate([model.encode(images[i:i + 256].float().to(model.device) / 255.0)
                                    .float().cpu().numpy() for i in range(0, len(images), 256)])
        _CODES[model] = codes
    return codes


def nearest_training(model, z: np.ndarray, k: int = NEIGHBOURS) -> list[list[Neighbour]]:
    """The ``k`` bundled training images whose codes are nearest each row of ``z`` (N, D); empty lists when
    the model has no latent or is not a 28x28 grey model (the index is Fashion-MNIST)."""
    z = np.atleast_2d(np.asarray(z, dtype=np.float32))
    if not index_available(model):
        return [[] for _ in range(len(z))]
    images, labels, indices, classes = load_index()
    codes = _codes(model)
    d2 = ((z[:, None, :] - codes[None]) ** 2).sum(-1)
    out = []
    for row in d2:
        near = np.argsort(row, kind="stable")[:k]
        out.append([Neighbour(images[j][None].copy(), classes[int(labels[j])], float(math.sqrt(row[j])),
                              int(indices[j])) for j in near])
    return out


def make_index(path: str | Path = INDEX_FILE, per_class: int = PER_CLASS, seed: int = 0) -> Path:
    """Write the bundled index: ``per_class`` random images of each class from the *training* part of
    Fashion-MNIST's training file (never the held-out tail or the test set)."""
    from .data import FASHION_MNIST_CLASSES, fashion_mnist

    train = fashion_mnist("train")
    labels = train.labels.numpy()
    rng = np.random.default_rng(seed)
    pick = np.sort(np.concatenate([rng.choice(np.flatnonzero(labels == c), per_class, replace=False)
                                   for c in range(len(FASHION_MNIST_CLASSES))]))
    np.savez_compressed(path, images=train.images[pick, 0].numpy(), labels=labels[pick].astype(np.uint8),
                        indices=pick.astype(np.int32), classes=np.array(FASHION_MNIST_CLASSES))
    return Path(path)


if __name__ == "__main__":   # python -m models.ood_explain  (re)writes the bundled index
    print(make_index())

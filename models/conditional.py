"""Class conditioning shared by the conditional VAE and DCGAN: the class embedding, what a class
argument ``y`` may be, class names and paths between classes.

A conditional model (config ``n_classes`` = K > 0) has a learned embedding table of K + 1 rows: one
per class and a last one for *no class given*.  Training replaces the label by "no class" for
:data:`LABEL_DROPOUT` of the images (and uses it for images without a label), so the last row is a
trained, class-agnostic mode: ``y=None`` draws from the whole data set, as an unconditional model
would.  That is what every label-free call uses (scoring, the OOD features, encoding does not need
a class at all: the encoders see the image only, so ``z`` holds the style and the class is apart).

``y`` is one of:

* ``None`` -- no class given (the model's :attr:`default_class` where the model says so);
* an int, or an integer tensor/sequence of length N (``-1`` means no class);
* a float tensor (K,) or (N, K) of class weights: the embedding is the weighted sum of the class
  embeddings, so ``(1 - t) * onehot(a) + t * onehot(b)`` blends two classes (:func:`blend`).

Unconditional models (K = 0) have no table and take no ``y``; their weights and outputs are exactly
those of a model made before conditioning existed.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from .errors import LatentExplorerError

#: Share of training images whose label is replaced by "no class" (trains the class-agnostic mode).
LABEL_DROPOUT = 0.1
#: Size of the class embedding when a config does not say (``class_dim``).
CLASS_DIM = 16


class ClassError(LatentExplorerError, ValueError):
    """A class was asked for that the model does not have (or the model has no classes)."""


def class_weights(y: Any, n: int, n_classes: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """``y`` (see the module docstring) as (n, K + 1) float weights over the embedding table's rows."""
    k = int(n_classes)
    if y is None:
        y = -1
    t = torch.as_tensor(y, device=device)
    if t.is_floating_point():
        if t.dim() == 1:
            t = t.unsqueeze(0)
        if t.dim() != 2 or t.shape[1] not in (k, k + 1):
            raise ValueError(f"class weights must have {k} (or {k + 1}) columns, got shape {tuple(t.shape)}")
        if t.shape[1] == k:
            t = torch.cat([t, torch.zeros(t.shape[0], 1, device=t.device, dtype=t.dtype)], 1)
        if t.shape[0] == 1 and n != 1:
            t = t.expand(n, -1)
        if t.shape[0] != n:
            raise ValueError(f"{t.shape[0]} rows of class weights for {n} latents")
        return t.float()
    t = t.long().reshape(-1)
    if t.numel() == 1 and n != 1:
        t = t.expand(n)
    if t.numel() != n:
        raise ValueError(f"{t.numel()} classes for {n} latents")
    if bool(((t < -1) | (t >= k)).any()):
        raise ClassError(f"class index out of range: this model has classes 0-{k - 1} (-1 or None: no class)")
    t = torch.where(t < 0, torch.full_like(t, k), t)
    return nn.functional.one_hot(t, k + 1).float()


class ClassEmbedding(nn.Module):
    """K class embeddings and one for "no class": ``forward(y, n, device) -> (n, dim)``."""

    def __init__(self, n_classes: int, dim: int) -> None:
        super().__init__()
        self.n_classes = int(n_classes)
        self.table = nn.Embedding(self.n_classes + 1, int(dim))
        nn.init.normal_(self.table.weight, std=0.5)

    def forward(self, y: Any, n: int, device: torch.device | str) -> torch.Tensor:
        return class_weights(y, n, self.n_classes, device) @ self.table.weight


def make_embedding(config: dict[str, Any]) -> tuple[ClassEmbedding | None, int]:
    """The embedding a config asks for and its size: ``(None, 0)`` for an unconditional model."""
    k = int(config.get("n_classes", 0) or 0)
    if k < 0:
        raise ValueError(f"n_classes must be 0 (unconditional) or more, got {k}")
    if k == 0:
        return None, 0
    dim = int(config.get("class_dim", CLASS_DIM))
    return ClassEmbedding(k, dim), dim


def drop_labels(y: torch.Tensor, p: float = LABEL_DROPOUT) -> torch.Tensor:
    """Training: replace a share ``p`` of the labels by -1 ("no class")."""
    return torch.where(torch.rand(y.shape, device=y.device) < p, torch.full_like(y, -1), y)


def names(model) -> list[str]:
    """The class names of a conditional model, one per class (indices as names when unrecorded)."""
    k = int(getattr(model, "n_classes", 0) or 0)
    recorded = list(model.metadata.get("dataset", {}).get("classes", []))
    return recorded if len(recorded) == k else [str(i) for i in range(k)]


def listing(model) -> str:
    """"0 T-shirt/top, 1 Trouser, ..." for messages."""
    return ", ".join(f"{i} {n}" for i, n in enumerate(names(model)))


def class_index(model, spec: str | int) -> int:
    """A class name (case-insensitive) or index -> its index; :class:`ClassError` naming the model's
    classes when there is no such class, or when the model is not conditional."""
    k = int(getattr(model, "n_classes", 0) or 0)
    if k == 0:
        raise ClassError(f"{model.name} is not class-conditional (trained without --conditional) and "
                         f"takes no class")
    known = names(model)
    text = str(spec).strip()
    for i, name in enumerate(known):
        if text.casefold() == name.casefold():
            return i
    try:
        i = int(text)
    except ValueError:
        i = None
    if i is not None and 0 <= i < k:
        return i
    raise ClassError(f"{model.name} has no class {text!r}; its classes are {listing(model)}")


def blend(a: int, b: int, steps: int, n_classes: int) -> torch.Tensor:
    """(steps, K) weights from class ``a`` to class ``b``: the embedding moves linearly between them."""
    t = torch.linspace(0.0, 1.0, int(steps)).unsqueeze(1)
    eye = torch.eye(int(n_classes))
    return (1 - t) * eye[a] + t * eye[b]




@torch.no_grad()
def decode_path(model, zs: torch.Tensor, y: Any, batch: int = 256) -> torch.Tensor:
    """Frames of latents ``zs`` (T, D) drawn as class ``y``: an index for every frame, or (T, K)
    weights (:func:`blend`), decoded ``batch`` at a time: (T, C, H, W) in [0, 1]."""
    zs = zs.to(model.device)
    w = class_weights(y, zs.shape[0], model.n_classes, model.device)
    return torch.cat([model.decode(zs[i:i + batch], y=w[i:i + batch]) for i in range(0, zs.shape[0], batch)])

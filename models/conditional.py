"""Class conditioning of the VAE and the DCGAN: what a class argument ``y`` may be, the DCGAN's class
embedding, the VAE's prior per class, class names, errors and blends.

A conditional model has config ``n_classes`` = K > 0; ``decode(z, y)`` draws latent ``z ~ N(0, I)`` as
class ``y``.  The two families condition differently, each the way that measurably draws the class
asked for (``benchmarks/class_agreement.py``):

* **DCGAN**: the generator reads a learned class embedding beside z, the discriminator is a projection
  discriminator (Miyato & Koyama 2018).  The embedding table has K + 1 rows, the last for *no class*:
  training replaces :data:`LABEL_DROPOUT` of the labels by it (and uses it for images without one), so
  ``y=None`` is a trained class-agnostic mode -- what label-free calls (the OOD features) use.
* **VAE**: the encoder and decoder are those of an unconditional VAE; the class is a prior per class,
  p(w | y) = N(m_y, L_y L_y^T), fitted after every epoch to the codes of each class's training images
  (:class:`ClassPrior`), and ``decode(z, y)`` decodes ``m_y + L_y z``.  Conditioning the decoder on a
  class embedding instead (with or without the encoder) drew the asked class for only a third of the
  samples in trial runs: the codes carry the class anyway (it costs the KL at most log K nats) and the
  decoder learns to follow the code, not the label.  ``y=None`` decodes z as it is (the VAE itself).

``y`` is one of:

* ``None`` -- no class given (the model's :attr:`~models.base.GenerativeModel.default_class` in ``decode``);
* an int, or an integer tensor/sequence of length N (``-1`` means no class);
* a float tensor (K,) or (N, K) of class weights, which blend the classes' embeddings (DCGAN) or
  means and scales (VAE): ``(1 - t) * onehot(a) + t * onehot(b)`` moves from a to b (:func:`blend`).

Unconditional models (K = 0) have neither and take no ``y``; their weights and outputs are exactly
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


class ClassPrior(nn.Module):
    """The conditional VAE's prior per class: p(w | y) = N(m_y, L_y L_y^T), fitted to the codes of each
    class's training images (:meth:`fit`, after every epoch).  A latent z ~ N(0, I) of class y is the
    code ``m_y + L_y z``; class weights blend m and L (so a blend moves between the classes' clouds at
    the same z); "no class" is z itself, the unconditional VAE."""

    def __init__(self, n_classes: int, dim: int) -> None:
        super().__init__()
        self.n_classes = int(n_classes)
        self.register_buffer("mean", torch.zeros(self.n_classes, int(dim)))
        self.register_buffer("scale_tril", torch.eye(int(dim)).repeat(self.n_classes, 1, 1))

    def to_code(self, z: torch.Tensor, y: Any) -> torch.Tensor:
        w = class_weights(y, z.shape[0], self.n_classes, z.device)
        given = w[:, :self.n_classes]
        m = given @ self.mean
        scale = torch.einsum("nk,kij->nij", given, self.scale_tril)
        code = m + (scale @ z.unsqueeze(-1)).squeeze(-1)
        none = w[:, self.n_classes:] > 0.5             # rows with no class: z as it is
        return torch.where(none, z, code)

    @torch.no_grad()
    def fit(self, codes: torch.Tensor, labels: torch.Tensor) -> list[int]:
        """Mean and covariance of each class's codes (covariance shrunk toward its diagonal by D / (n + D),
        so a class with few images still gets a proper Gaussian); returns the images per class."""
        counts = []
        d = self.mean.shape[1]
        for k in range(self.n_classes):
            c = codes[labels == k].double()
            counts.append(len(c))
            if len(c) < 2:
                continue
            cov = torch.cov(c.T).reshape(d, d)
            a = d / (len(c) + d)
            cov = (1 - a) * cov + a * torch.diag(torch.diagonal(cov)) + 1e-5 * torch.eye(d, dtype=cov.dtype)
            self.mean[k] = c.mean(0).to(self.mean)
            self.scale_tril[k] = torch.linalg.cholesky(cov).to(self.scale_tril)
        return counts

    def kl(self, mu: torch.Tensor, logvar: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """KL(N(mu, diag exp(logvar)) || p(w | y)) per row, nats (rows with y = -1: against N(0, I))."""
        yk = y.clamp_min(0)
        L, m = self.scale_tril[yk], self.mean[yk]
        dev = torch.linalg.solve_triangular(L, (mu - m).unsqueeze(-1), upper=False).squeeze(-1)
        sol = torch.linalg.solve_triangular(L, torch.diag_embed(torch.exp(0.5 * logvar)), upper=False)
        logdet = 2 * torch.log(torch.diagonal(L, dim1=-2, dim2=-1)).sum(-1)
        kl = 0.5 * ((sol ** 2).sum((-2, -1)) + (dev ** 2).sum(-1) - mu.shape[1] + logdet - logvar.sum(-1))
        plain = 0.5 * (mu ** 2 + logvar.exp() - 1.0 - logvar).sum(-1)
        return torch.where(y >= 0, kl, plain)


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


def class_blend_frames(model, a: torch.Tensor, b: torch.Tensor, steps: int, method: str, class_from: int,
                       class_to: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The path between classes that ``latent-explorer interpolate --class-from --class-to`` and the app's
    class blend draw: z along ``a`` -> ``b`` (pass ``a`` twice for a fixed z; ``models.interpolation.path``)
    while the class weights move from ``class_from`` to ``class_to`` (:func:`blend`).
    Returns (zs (steps, D), frames (steps, C, H, W) in [0, 1])."""
    from .interpolation import path

    zs = path(a, b, steps, method)
    return zs, decode_path(model, zs, blend(class_from, class_to, steps, model.n_classes))

"""Encoding by optimisation, for a decoder that came without an encoder.

z*(x) = argmin_z  mean((D(z) - x)^2) + λ |z|^2 / (2 d)

(the prior term keeps z on the N(0, I) shell's scale).  Start: the best of :data:`CANDIDATES` prior
draws (fixed seed, so the same image always starts from the same code).  Then, for a torch decoder,
:data:`STEPS` Adam steps on each image's own loss (Adam is element-wise, so a result does not depend
on the batch); for a decoder without gradients (ONNX), :data:`SEARCH_ROUNDS` rounds of a seeded
random search that keeps a perturbation when it lowers the loss, its step halving when none does
(the perturbations are the same for every image, so a result does not depend on the batch either).
Both are bounded, and ``cancel()`` is checked between steps: it raises
:class:`~models.errors.Cancelled`.
"""
from __future__ import annotations

from typing import Callable

import torch

from ..errors import Cancelled

CANDIDATES = 64
STEPS = 100
LR = 0.05
PRIOR_WEIGHT = 1e-3
SEARCH_ROUNDS = 40
SEARCH_WIDTH = 16
SEED = 4321


def _loss(x_hat: torch.Tensor, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    return ((x_hat - x) ** 2).flatten(1).mean(1) + PRIOR_WEIGHT * (z ** 2).mean(1) / 2


def _check(cancel: Callable[[], bool] | None) -> None:
    if cancel is not None and cancel():
        raise Cancelled()


@torch.no_grad()
def _start(model, x: torch.Tensor, cancel) -> torch.Tensor:
    gen = torch.Generator().manual_seed(SEED)
    cand = torch.randn(CANDIDATES, model.latent_dim, generator=gen).to(model.device)
    imgs = torch.cat([model.decode(cand[i:i + 32]) for i in range(0, CANDIDATES, 32)])
    _check(cancel)
    d = ((imgs.flatten(1)[None] - x.flatten(1)[:, None]) ** 2).mean(-1)       # (N, CANDIDATES)
    return cand[d.argmin(1)].clone()


def invert(model, x: torch.Tensor, *, steps: int = STEPS, cancel: Callable[[], bool] | None = None) -> torch.Tensor:
    """Codes (N, latent_dim) whose decodes are closest to images ``x`` (N, C, H, W) in [0, 1]."""
    x = x.to(model.device, torch.float32)
    z = _start(model, x, cancel)
    if getattr(model, "differentiable", False):
        return _adam(model, x, z, steps, cancel)
    return _search(model, x, z, cancel)


def _adam(model, x, z, steps, cancel) -> torch.Tensor:
    z = z.requires_grad_(True)
    opt = torch.optim.Adam([z], lr=LR)
    with torch.enable_grad():
        for _ in range(int(steps)):
            _check(cancel)
            opt.zero_grad()
            _loss(model.decode_differentiable(z), x, z).sum().backward()
            opt.step()
    return z.detach()


@torch.no_grad()
def _search(model, x, z, cancel) -> torch.Tensor:
    gen = torch.Generator().manual_seed(SEED + 1)
    best = _loss(model.decode(z), x, z)
    step = torch.full((z.shape[0], 1), 0.5, device=z.device)
    for _ in range(SEARCH_ROUNDS):
        _check(cancel)
        # the same W perturbation directions for every image (scaled by its own step): an image's code
        # does not depend on what else is in its batch, so a calibrated verdict is reproducible
        noise = torch.randn(SEARCH_WIDTH, 1, z.shape[1], generator=gen).to(z.device).expand(-1, z.shape[0], -1)
        cand = (z[None] + step[None] * noise).reshape(-1, z.shape[1])
        loss = _loss(model.decode(cand), x.repeat(SEARCH_WIDTH, 1, 1, 1), cand).reshape(SEARCH_WIDTH, -1)
        low, idx = loss.min(0)
        better = low < best
        z = torch.where(better[:, None], cand.reshape(SEARCH_WIDTH, *z.shape)[idx, torch.arange(z.shape[0])], z)
        best = torch.where(better, low, best)
        step = torch.where(better[:, None], step, step * 0.5)
    return z

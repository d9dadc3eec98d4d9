"""Paths between two latent codes: linear and spherical interpolation, and the frames along them.

>>> import models, models.interpolation as interp
>>> m = models.load(models.bundled("vae"))
>>> a, b = m.prior_z(1, seed=1)[0], m.prior_z(1, seed=2)[0]
>>> zs = interp.path(a, b, 8, method="slerp")        # (8, D); zs[0] == a, zs[-1] == b
>>> frames = interp.frames(m, a, b, 8)              # (8, 1, 28, 28) in [0, 1]

Spherical interpolation (Shoemake's slerp; White 2016, "Sampling generative networks") moves along
the great circle between the two directions.  Under a Gaussian prior almost all mass sits on a thin
shell of radius ~sqrt(D), and the straight line between two codes cuts through the low-norm interior
that the decoder rarely saw in training; slerp stays on the shell.  Here the direction is slerped
and the *norm* is interpolated linearly, so two codes of equal norm keep that norm at every frame,
and codes of different norms blend their norms evenly (plain slerp of unequal vectors does not).

An endpoint is a seed (z = temperature * N(0, I) drawn with that seed, :meth:`prior_z`) or an image
(z = the model's encoding of it, taken in by :func:`models.intake.take_in`): :func:`parse_endpoint`
reads one from text and :func:`endpoint_latent` turns one into z, for the CLI and the app alike.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from .imaging import from_uint8
from .intake import IntakeError, IntakeResult, take_in

METHODS = ("lerp", "slerp")
#: Fewest and most frames a path may have.
MIN_STEPS, MAX_STEPS = 2, 1000
_EPS = 1e-8


def _ts(t: float | Sequence[float] | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    ts = torch.as_tensor(t, dtype=torch.float64)
    return ts.reshape(-1, 1).to(like.device)


def _pair(a, b) -> tuple[torch.Tensor, torch.Tensor]:
    a = torch.as_tensor(a).detach()
    b = torch.as_tensor(b).detach()
    if a.dim() == 2 and a.shape[0] == 1:
        a = a[0]
    if b.dim() == 2 and b.shape[0] == 1:
        b = b[0]
    if a.dim() != 1 or a.shape != b.shape:
        raise ValueError(f"endpoints must be two latent vectors of the same length, got shapes "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    if not (torch.isfinite(a).all() and torch.isfinite(b).all()):
        raise ValueError("endpoints contain NaN or infinite values")
    return a, b.to(a.device)


def lerp(a: torch.Tensor, b: torch.Tensor, t: float | Sequence[float] | torch.Tensor) -> torch.Tensor:
    """(1 - t) a + t b for each t: (T, D) (float32, on ``a``'s device)."""
    a, b = _pair(a, b)
    ts = _ts(t, a)
    out = (1.0 - ts) * a.double() + ts * b.double()
    return out.to(torch.float32)


def slerp(a: torch.Tensor, b: torch.Tensor, t: float | Sequence[float] | torch.Tensor) -> torch.Tensor:
    """Spherical interpolation of direction, linear interpolation of norm: (T, D).

    ``slerp(a, b, 0) == a`` and ``slerp(a, b, 1) == b``; if ``|a| == |b|`` every frame has that norm.
    Falls back to :func:`lerp` when an endpoint is (nearly) zero or both point the same way; for
    opposite directions the great circle is not unique and a fixed perpendicular is used.
    """
    a, b = _pair(a, b)
    ts = _ts(t, a)
    a64, b64 = a.double(), b.double()
    na, nb = a64.norm(), b64.norm()
    if na < _EPS or nb < _EPS:
        return lerp(a, b, ts)
    ua, ub = a64 / na, b64 / nb
    cos = float(torch.clamp(ua @ ub, -1.0, 1.0))
    omega = math.acos(cos)
    if omega < 1e-6:                                   # same direction: the great circle is a point
        return lerp(a, b, ts)
    if math.pi - omega < 1e-6:                          # opposite: pick a perpendicular to rotate through
        k = int(torch.argmin(ua.abs()))
        e = torch.zeros_like(ua)
        e[k] = 1.0
        perp = e - (e @ ua) * ua
        perp = perp / perp.norm()
        angle = ts * math.pi
        direction = torch.cos(angle) * ua + torch.sin(angle) * perp
    else:
        s = math.sin(omega)
        direction = (torch.sin((1.0 - ts) * omega) / s) * ua + (torch.sin(ts * omega) / s) * ub
        direction = direction / direction.norm(dim=1, keepdim=True)
    norms = (1.0 - ts) * na + ts * nb
    out = direction * norms
    # the endpoints exactly, not up to rounding
    out[(ts == 0).flatten()] = a64
    out[(ts == 1).flatten()] = b64
    return out.to(torch.float32)


def path(a: torch.Tensor, b: torch.Tensor, steps: int, method: str = "slerp") -> torch.Tensor:
    """``steps`` latents from ``a`` to ``b`` inclusive, evenly spaced in t: (steps, D)."""
    steps = int(steps)
    if not MIN_STEPS <= steps <= MAX_STEPS:
        raise ValueError(f"steps must be between {MIN_STEPS} and {MAX_STEPS}, got {steps}")
    if method not in METHODS:
        raise ValueError(f"unknown interpolation method {method!r}; use one of {', '.join(METHODS)}")
    ts = torch.linspace(0.0, 1.0, steps, dtype=torch.float64)
    return (slerp if method == "slerp" else lerp)(a, b, ts)


@torch.no_grad()
def frames(model, a: torch.Tensor, b: torch.Tensor, steps: int, method: str = "slerp",
           batch: int = 256) -> torch.Tensor:
    """Decoded frames along :func:`path`: (steps, C, H, W) in [0, 1] on the model's device."""
    zs = path(a, b, steps, method).to(model.device)
    return torch.cat([model.decode(zs[i:i + batch]) for i in range(0, zs.shape[0], batch)])


# ------------------------------------------------------------------------------------------ endpoints
def parse_endpoint(text: str) -> int | Path:
    """An integer seed, unless a file of that name exists; otherwise a path that exists.

    Raises :class:`~models.intake.IntakeError` for text that is neither."""
    p = Path(text)
    if p.exists():
        return p
    try:
        return int(text)
    except ValueError:
        raise IntakeError(f"{text}: not an image file that exists, nor an integer seed") from None


def endpoint_latent(model, spec: int | str | os.PathLike | IntakeResult | np.ndarray | torch.Tensor,
                    temperature: float = 1.0) -> torch.Tensor:
    """The latent code (D,) of an endpoint, on the model's device.

    ``spec``: an int seed (a prior sample scaled by ``temperature``), or an image -- a path, an
    :class:`~models.intake.IntakeResult`, or uint8 pixels -- which is taken in and encoded."""
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        return model.prior_z(1, temperature=temperature, seed=int(spec))[0]
    if not isinstance(spec, IntakeResult):
        spec = take_in(spec, model=model, max_images=1)[0]
    with torch.no_grad():
        return model.encode(from_uint8(spec.uint8).unsqueeze(0))[0]

"""Latent traversals: one direction (or every direction) swept over ±3σ around a base code.

The standard view of what each latent direction does (Higgins et al. 2017, β-VAE; the traversal grids of
disentanglement_lib): hold a base code ``z0`` fixed and decode

    z0 + t · σ · v        for t in linspace(-extent, +extent, steps)

for each chosen direction ``v`` of :meth:`GenerativeModel.directions`, one row per direction, one column
per step.  σ is the prior's standard deviation along ``v`` (:attr:`Direction.sigma`).  For our models the
prior is the standard normal N(0, I) and the directions are orthonormal, so the coordinate ``v · z`` of
a prior sample is itself N(0, 1) and σ = 1: ±3σ spans 99.7% of the prior along the direction.  With an
odd number of steps the middle column is ``z0`` itself, i.e. the base decode.

The base is zeros (the prior's mode), a seed's prior sample, or an image's code (the caller encodes
it: the intake belongs to :mod:`models.intake`).  All rows × steps codes are decoded in one batch (in
chunks of :data:`MAX_BATCH` for very large sheets).  No Qt: the CLI's ``traverse`` and the app both
call :func:`traverse`.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable, Sequence

import torch

from .base import Direction, GenerativeModel
from .errors import LatentExplorerError

#: largest decode batch; a sheet of every direction of a 512-d model is split into such chunks
MAX_BATCH = 1024
#: limits a user can be given (the CLI's argument checks are these)
MAX_STEPS = 101
MAX_EXTENT = 10.0


class TraversalError(LatentExplorerError, ValueError):
    """A traversal that cannot be made as asked (no latent, a direction out of range, bad steps)."""


@dataclasses.dataclass(frozen=True)
class Traversal:
    """A traversal sheet: ``images[r, s]`` is direction ``directions[r]`` at ``offsets[s]`` σ."""

    images: torch.Tensor            # (rows, steps, C, H, W) in [0, 1]
    offsets: torch.Tensor           # (steps,) in units of σ, from -extent to +extent
    directions: list[Direction]     # one per row
    indices: list[int]              # each row's index in model.directions()
    base: torch.Tensor              # (latent_dim,) the code every row passes through

    def flat(self) -> torch.Tensor:
        """(rows · steps, C, H, W), row after row: what a grid with ``steps`` per row tiles."""
        return self.images.reshape(-1, *self.images.shape[2:])


def offsets(steps: int, extent: float = 3.0) -> torch.Tensor:
    """``steps`` evenly spaced multiples of σ from ``-extent`` to ``+extent`` (0 in the middle when odd)."""
    check_sweep(steps, extent)
    return torch.linspace(-float(extent), float(extent), int(steps))


def check_sweep(steps: int, extent: float) -> None:
    if not 2 <= int(steps) <= MAX_STEPS:
        raise TraversalError(f"steps must be between 2 and {MAX_STEPS}, got {steps}")
    if not (math.isfinite(extent) and 0 < extent <= MAX_EXTENT):
        raise TraversalError(f"the range must be a positive number of σ up to {MAX_EXTENT:g}, got {extent:g}")


def base_code(model: GenerativeModel, *, seed: int | None = None, z: torch.Tensor | None = None) -> torch.Tensor:
    """The base code (latent_dim,): ``z`` as given (e.g. an image's encoding), a seed's prior sample,
    or zeros, the prior's mode, when neither is given."""
    _require_latent(model)
    if z is not None:
        z = torch.as_tensor(z, dtype=torch.float32).reshape(-1)
        if z.numel() != model.latent_dim or not torch.isfinite(z).all():
            raise TraversalError(f"the base code must be {model.latent_dim} finite numbers, got shape "
                                 f"{tuple(z.shape)}")
        return z.to(model.device)
    if seed is not None:
        return model.prior_z(1, seed=seed)[0]
    return torch.zeros(model.latent_dim, device=model.device)


def select(model: GenerativeModel, direction: int | str | Sequence[int] = "all") -> list[int]:
    """Indices into ``model.directions()``: ``"all"``, one index, or several (a sequence or "0,3,5")."""
    n = _require_latent(model)
    if isinstance(direction, str):
        if direction.strip().lower() == "all":
            return list(range(n))
        try:
            direction = [int(part) for part in direction.split(",")]
        except ValueError:
            raise TraversalError(f"direction must be an index from 0 to {n - 1}, several (0,3,5) or 'all', "
                                 f"got {direction!r}") from None
    chosen = [int(direction)] if isinstance(direction, int) else [int(i) for i in direction]
    bad = [i for i in chosen if not 0 <= i < n]
    if bad or not chosen:
        raise TraversalError(f"direction must be between 0 and {n - 1} ({model.name} has {n} directions, "
                             f"strongest first), got {bad[0] if bad else 'none'}")
    return chosen


@torch.no_grad()
def traverse(model: GenerativeModel, base: torch.Tensor | None = None, direction: int | str | Sequence[int] = "all",
             *, steps: int = 9, extent: float = 3.0, batch: int = MAX_BATCH,
             between: Callable[[], None] | None = None) -> Traversal:
    """Sweep the chosen direction(s) over ±``extent`` σ in ``steps`` columns around ``base`` (default:
    zeros) and decode every code; see the module docstring.

    ``batch`` codes are decoded at a time and ``between()`` is called before each batch: the app
    passes its job's checkpoint there, so a large sheet lets frames through and stops when cancelled."""
    idx = select(model, direction)
    t = offsets(steps, extent)
    z0 = base_code(model, z=base)
    dirs = model.directions()
    chosen = [dirs[i] for i in idx]
    v = torch.stack([d.vector.float() * float(d.sigma) for d in chosen]).to(model.device)   # (R, D)
    codes = z0[None, None, :] + t.to(model.device)[None, :, None] * v[:, None, :]          # (R, S, D)
    flat = codes.reshape(-1, model.latent_dim)
    parts = []
    for i in range(0, flat.shape[0], batch):
        if between is not None:
            between()
        with torch.no_grad():
            parts.append(model.decode(flat[i:i + batch]))
    images = torch.cat(parts)
    return Traversal(images=images.reshape(len(idx), len(t), *images.shape[1:]), offsets=t,
                     directions=chosen, indices=idx, base=z0)


def _require_latent(model: GenerativeModel) -> int:
    n = int(getattr(model, "latent_dim", 0) or 0)
    if n < 1:
        raise TraversalError(f"{model.name} has no latent space to traverse")
    return n

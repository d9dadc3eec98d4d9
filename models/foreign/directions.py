"""Slider directions for a decoder made elsewhere, and the sidecar that caches them.

A foreign decoder comes with no ranking of its latent units, and under its N(0, I) prior every
direction of z is equally likely, so PCA of z itself says nothing.  What differs between directions is
how much they change the *picture*: as for GANs (GANSpace, Härkönen et al. 2020), S latents are drawn
from the prior (fixed seed), decoded, the images (average-pooled to at most 64x64) are centred and
their top principal components found (randomised low-rank SVD, seeded); each component's coordinates
are carried back to z by least squares (z ≈ coords @ B, row j of B is component j's direction in z),
and the rows are orthonormalised in order.  When the images have fewer components than z has
dimensions, the basis is completed with the remaining unit vectors (labelled "rest").  Labels give
each component's share of the image variance.

The result depends only on the model's bytes, so it is cached in a sidecar, a ``.safetensors`` file
(tensors ``basis`` (D, D) and ``strength`` (D,); metadata ``fingerprint``, ``names``, ``labels``)
beside the model (``NAME.latent-explorer-directions.safetensors``), or in the user cache folder when
the model's folder is read-only.  A sidecar whose fingerprint, shapes or orthonormality do not match
is ignored and recomputed: it is data we wrote, but a user may have copied a stale one.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F

from ..base import Direction, orthonormal_basis
from .sidecars import beside

SEED = 1234
#: Largest pooled image side used for the PCA (enough to see structure, cheap for big decoders).
POOL_SIDE = 64
SIDECAR_SUFFIX = ".latent-explorer-directions.safetensors"
DECODE_BATCH = 64


def sample_count(latent_dim: int) -> int:
    """Prior samples decoded: twice the latent size plus margin, within [512, 4096]."""
    return int(min(max(2 * latent_dim + 64, 512), 4096))


@torch.no_grad()
def principal_directions(model, samples: int | None = None) -> list[Direction]:
    """GANSpace-style directions of ``model`` (see the module docstring); deterministic."""
    d = model.latent_dim
    s = samples or sample_count(d)
    gen = torch.Generator().manual_seed(SEED)
    z = torch.randn(s, d, generator=gen)
    feats = []
    for i in range(0, s, DECODE_BATCH):
        x = model.decode(z[i:i + DECODE_BATCH]).float()
        if max(x.shape[-2:]) > POOL_SIDE:
            x = F.adaptive_avg_pool2d(x, (min(x.shape[-2], POOL_SIDE), min(x.shape[-1], POOL_SIDE)))
        feats.append(x.flatten(1).cpu())
    act = torch.cat(feats).double()
    act = act - act.mean(0)
    k = min(d, act.shape[1], s - 1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        _, sv, v = torch.svd_lowrank(act, q=min(k + 16, *act.shape), niter=6)
    k = min(k, v.shape[1])
    coords = act @ v[:, :k]
    rows = torch.linalg.lstsq(coords, z.double()).solution          # (k, d)
    if k < d:
        rows = torch.cat([rows, torch.eye(d, dtype=torch.float64)])
    q = orthonormal_basis(rows.float())[:d]
    total = float((act ** 2).sum()) or 1.0
    ratio = [float(sv[j] ** 2) / total for j in range(k)]
    out = [Direction(name=f"PC{j}", vector=q[j], label=f"{100 * ratio[j]:.1f}% var", strength=ratio[j])
           for j in range(k)]
    out += [Direction(name=f"rest{j - k}", vector=q[j], label="rest", strength=0.0) for j in range(k, d)]
    return out


def sidecar_path(model_path: Path) -> Path:
    return beside(model_path, SIDECAR_SUFFIX)


def _cache_path(key: str) -> Path:
    from .sidecars import cache_path

    return cache_path("directions", f"{key}.safetensors")


def _read(path: Path, key: str, d: int) -> list[Direction] | None:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            if meta.get("fingerprint") != key:
                return None
            basis, strength = f.get_tensor("basis").float(), f.get_tensor("strength").float()
        names, labels = json.loads(meta["names"]), json.loads(meta["labels"])
    except Exception:  # noqa: BLE001 - a damaged or foreign sidecar is simply recomputed
        return None
    if (tuple(basis.shape) != (d, d) or tuple(strength.shape) != (d,) or len(names) != d or len(labels) != d
            or not bool(torch.isfinite(basis).all())
            or not torch.allclose(basis @ basis.T, torch.eye(d), atol=1e-3)):
        return None
    return [Direction(name=str(n), vector=basis[j], label=str(lab), strength=float(strength[j]))
            for j, (n, lab) in enumerate(zip(names, labels))]


def _write(path: Path, key: str, dirs: list[Direction]) -> bool:
    from safetensors.torch import save

    from ..atomic_io import atomic_write_bytes

    data = save({"basis": torch.stack([x.vector.float() for x in dirs]).contiguous(),
                 "strength": torch.tensor([x.strength for x in dirs], dtype=torch.float32)},
                metadata={"fingerprint": key, "names": json.dumps([x.name for x in dirs]),
                          "labels": json.dumps([x.label for x in dirs]), "method": "gan-space-pixels"})
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data)
        return True
    except OSError:
        return False


def cached_directions(model) -> list[Direction]:
    """The model's directions from its sidecar (beside the model, else the user cache), computing
    and storing them when neither holds a matching one."""
    key = model.key
    places = [sidecar_path(model.path), _cache_path(key)] if key else []
    for place in places:
        if place.is_file():
            found = _read(place, key, model.latent_dim)
            if found is not None:
                return found
    dirs = principal_directions(model)
    for place in places:
        if _write(place, key, dirs):
            break
    return dirs

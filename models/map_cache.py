"""The map cache: a model's encoded data sets and their 2-D embeddings, kept beside the model.

Encoding 70,000 images takes tens of seconds and a UMAP of them minutes; both depend only on the
model's bytes, the images and the method's seed, so they are stored once and the next open is
instant.  One ``.npz`` per model, ``NAME.map-cache.npz`` beside the checkpoint, or in the user cache
folder (``platformdirs.user_cache_dir``) when that folder is read-only.  It holds:

* ``fingerprint``: the sha256 of the checkpoint's bytes (a foreign model's own ``key`` when it has
  one); a file whose fingerprint differs (the checkpoint was retrained or replaced) is ignored and
  overwritten;
* per entry, arrays named ``ENTRY.NAME``: e.g. ``fmnist-train-60000.codes`` (N, D) float32,
  ``.labels``, ``.index``, and ``fmnist-train-60000.umap-s0.xy`` (N, 2) float32.

Read with ``np.load(allow_pickle=False)``: plain arrays only, never code.  Writes are atomic
(:func:`models.atomic_io.atomic_write_bytes`); a damaged file is read as empty.  Models without a
file (built in memory) are never cached.
"""
from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

import numpy as np

SUFFIX = ".map-cache.npz"
_FINGERPRINTS: dict[tuple[str, int, int], str] = {}


def model_file(model) -> Path | None:
    p = model.metadata.get("path") if isinstance(getattr(model, "metadata", None), dict) else None
    return Path(str(p)) if p else None


def fingerprint(model) -> str | None:
    """sha256 of the model's checkpoint file (remembered per path, size and mtime), or its ``key``."""
    key = getattr(model, "key", None)
    if isinstance(key, str) and key:
        return key
    p = model_file(model)
    if p is None or not p.is_file():
        return None
    st = p.stat()
    memo = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if memo not in _FINGERPRINTS:
        h = hashlib.sha256()
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        _FINGERPRINTS[memo] = h.hexdigest()
    return _FINGERPRINTS[memo]


def places(model) -> list[Path]:
    """Where the cache may be: beside the model, then the user cache folder."""
    fp = fingerprint(model)
    if fp is None:
        return []
    import platformdirs

    out = []
    p = model_file(model)
    if p is not None:
        stem = p.name[:-len(p.suffix)] if p.suffix and p.is_file() else p.name
        out.append(p.with_name(stem + SUFFIX))
    out.append(Path(platformdirs.user_cache_dir("latent-explorer", appauthor=False)) / "maps" / f"{fp[:32]}{SUFFIX}")
    return out


def entry_name(*parts: str) -> str:
    return ".".join(re.sub(r"[^A-Za-z0-9_-]+", "-", p) for p in parts if p)


def _read_all(path: Path, fp: str) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as f:
            if str(f["fingerprint"]) != fp:
                return None
            return {k: f[k] for k in f.files}
    except Exception:  # noqa: BLE001 - a damaged or foreign cache is simply rebuilt
        return None


def load(model, entry: str) -> dict[str, np.ndarray] | None:
    """The arrays stored under ``entry`` (``{"codes": ..., ...}``), or None when not cached."""
    fp = fingerprint(model)
    for place in places(model):
        if place.is_file():
            found = _read_all(place, fp)
            if found is None:
                continue
            prefix = entry + "."
            got = {k[len(prefix):]: v for k, v in found.items() if k.startswith(prefix) and "." not in k[len(prefix):]}
            if got:
                return got
    return None


def store(model, entry: str, arrays: dict[str, np.ndarray]) -> Path | None:
    """Add (or replace) ``entry`` in the model's cache; the path written, or None when nowhere could be."""
    from .atomic_io import atomic_write_bytes

    fp = fingerprint(model)
    for place in places(model):
        old = _read_all(place, fp) if place.is_file() else None
        data = dict(old or {})
        data["fingerprint"] = np.array(fp)
        data.update({f"{entry}.{k}": np.ascontiguousarray(v) for k, v in arrays.items()})
        buf = io.BytesIO()
        np.savez(buf, **data)
        try:
            place.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(place, buf.getvalue())
            return place
        except OSError:
            continue
    return None

"""The checkpoint format: one ``.safetensors`` file per model, validated on load.

Tensors are the networks' state dict; the string metadata holds (JSON where structured):

=================  ==========================================================================
``format``         ``"latent-explorer-checkpoint"``
``format_version`` ``"1"``
``family``         ``"vae"`` | ``"gan"``
``config``         constructor arguments (latent_dim, image_shape, channels, ...)
``image``          ``{"shape": [1, 28, 28], "range": [0, 1], "bits": 8}``
``dataset``        ``{"name": ..., "classes": [...]}``
``training``       ``{"command": ..., "epochs": ..., "seed": ..., "metrics": {...}}``
``calibration``    OOD calibration quantiles on held-out in-distribution data
``directions``     family-specific slider facts (VAE: per-unit KL on the test set)
``name``           a display name
=================  ==========================================================================

Nothing in a checkpoint is ever executed.  Pickle-based ``.pt/.pth/.ckpt`` files are read only with
``torch.load(weights_only=True)``; a pickle that carries code is refused without running it.
"""
from __future__ import annotations

import json
import math
import os
import struct
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch

from .base import GenerativeModel, json_dumps

FORMAT_TAG = "latent-explorer-checkpoint"
FORMAT_VERSION = 1
JSON_FIELDS = ("config", "image", "dataset", "training", "calibration", "directions")
#: A safetensors header larger than this is refused before it is read (ours are a few kB).
MAX_HEADER_BYTES = 16 * 1024 * 1024
PICKLE_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin", ".pkl")


class CheckpointError(Exception):
    """A checkpoint could not be loaded.  The message says what is wrong and what to do."""


def _families() -> dict[str, Callable[..., GenerativeModel]]:
    from .gan import GANModel
    from .vae import VAEModel

    return {"vae": VAEModel.build, "gan": GANModel.build}


# ---------------------------------------------------------------------------------------- saving
def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes 0600; a saved file gets the usual permissions
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def save(model: GenerativeModel, path: str | os.PathLike, **metadata: Any) -> Path:
    """Save ``model`` as one ``.safetensors`` file (atomically).  Keyword arguments are merged into
    the model's metadata first (e.g. ``training={...}``, ``calibration={...}``, ``name="..."``)."""
    from safetensors.torch import save as st_save

    model.metadata.update(metadata)
    meta: dict[str, str] = {
        "format": FORMAT_TAG,
        "format_version": str(FORMAT_VERSION),
        "family": model.family,
        "config": json_dumps(model.config),
        "image": json_dumps({"shape": list(model.image_shape), "range": [0, 1], "bits": 8}),
    }
    for key, value in model.metadata.items():
        if key in ("format", "format_version", "family", "config", "image"):
            continue
        meta[key] = value if isinstance(value, str) and key not in JSON_FIELDS else json_dumps(value)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.net.state_dict().items()}
    atomic_write_bytes(path, st_save(tensors, metadata=meta))
    return Path(path)


# ---------------------------------------------------------------------------------------- loading
def load(path: str | os.PathLike, device: str | torch.device = "auto") -> GenerativeModel:
    """Load a checkpoint and return its :class:`GenerativeModel` on ``device`` ("auto": CUDA, MPS, CPU).

    Raises :class:`CheckpointError` with an actionable message for anything that is not a valid
    Latent Explorer checkpoint.
    """
    p = Path(path)
    tensors, meta = read_checkpoint(p)
    model = _build(p, tensors, meta)
    try:
        model.to(device)
    except ValueError as exc:
        raise CheckpointError(f"{p.name}: {exc}") from None
    except RuntimeError as exc:  # e.g. CUDA out of memory while moving
        raise CheckpointError(f"{p.name}: could not move the model to {device}: {exc}") from None
    return model


def read_checkpoint(p: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read tensors and string metadata from a ``.safetensors`` or a (safe) pickle file."""
    if not p.exists():
        raise CheckpointError(f"{p}: no such file. Check the path.")
    if p.is_dir():
        raise CheckpointError(f"{p}: is a folder, not a checkpoint file. Choose a .safetensors file inside it.")
    if not os.access(p, os.R_OK):
        raise CheckpointError(f"{p.name}: permission denied. Make the file readable (chmod +r) and try again.")
    size = p.stat().st_size
    if size == 0:
        raise CheckpointError(f"{p.name}: the file is empty (0 bytes). It was probably not written "
                              f"completely; re-download or re-save it.")
    with open(p, "rb") as fh:
        head = fh.read(8)
    if p.suffix.lower() in PICKLE_SUFFIXES or head[:2] in (b"PK", b"\x80\x02", b"\x80\x03", b"\x80\x04",
                                                          b"\x80\x05"):
        return _read_pickle(p)
    return _read_safetensors(p, size, head)


def _read_safetensors(p: Path, size: int, head: bytes) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    if len(head) < 8:
        raise CheckpointError(f"{p.name}: too short to be a safetensors file ({size} bytes).")
    (header_len,) = struct.unpack("<Q", head)
    if header_len > MAX_HEADER_BYTES:
        raise CheckpointError(f"{p.name}: not a Latent Explorer checkpoint (its header claims {header_len:,} "
                              f"bytes, more than the {MAX_HEADER_BYTES // 2**20} MiB allowed). The file is "
                              f"corrupt or of another format.")
    if 8 + header_len > size:
        raise CheckpointError(f"{p.name}: the file is truncated or not a safetensors file (header claims "
                              f"{header_len:,} bytes, file has {size - 8:,}). Re-download or re-save it.")
    from safetensors import SafetensorError
    from safetensors.torch import load as st_load

    data = p.read_bytes()
    try:
        header = json.loads(data[8:8 + header_len])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CheckpointError(f"{p.name}: not a safetensors file (its header is not JSON). "
                              f"Open a .safetensors checkpoint made by Latent Explorer.") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{p.name}: not a safetensors file (malformed header).")
    meta = header.get("__metadata__") or {}
    try:
        tensors = st_load(data)
    except (SafetensorError, Exception) as exc:  # noqa: BLE001 - safetensors raises several types
        raise CheckpointError(f"{p.name}: the file is damaged ({_first_line(exc)}). "
                              f"Re-download or re-save it.") from None
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise CheckpointError(f"{p.name}: malformed metadata in the safetensors header.")
    return tensors, dict(meta)


class _RefusedPickle(Exception):
    pass


def _read_pickle(p: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read a ``.pt``-style file with ``weights_only=True``: tensors and plain containers only."""
    import pickle

    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{p.name}: refused: this pickle file wants to run code or build objects that are not plain "
            f"tensors ({_first_line(exc)[:120]}). It was not executed. Only load pickles you trust, and "
            f"convert them to .safetensors with the code that made them.") from None
    except Exception as exc:  # noqa: BLE001 - torch raises many types for broken zips/pickles
        raise CheckpointError(f"{p.name}: not a readable PyTorch file ({_first_line(exc)[:160]}). "
                              f"The file is damaged or of another format.") from None
    if isinstance(obj, dict) and obj.get("format") == FORMAT_TAG and isinstance(obj.get("state_dict"), dict):
        meta = obj.get("metadata") or {}
        meta = {k: v if isinstance(v, str) else json_dumps(v) for k, v in meta.items()}
        meta.setdefault("format", FORMAT_TAG)
        return dict(obj["state_dict"]), meta
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{p.name}: a plain PyTorch state dict with no Latent Explorer metadata "
                              f"(family, architecture, image shape), so it cannot be opened. Save the model "
                              f"with models.save(model, 'name.safetensors').")
    raise CheckpointError(f"{p.name}: a PyTorch file, but not a Latent Explorer checkpoint "
                          f"(it holds a {type(obj).__name__}). Open a .safetensors file made by Latent Explorer.")


def _parse_meta(p: Path, meta: dict[str, str]) -> dict[str, Any]:
    if not meta:
        raise CheckpointError(f"{p.name}: a safetensors file without Latent Explorer metadata (no family, "
                              f"architecture or image shape), e.g. another project's weights. "
                              f"Open a checkpoint made by `latent-explorer train`.")
    if meta.get("format") != FORMAT_TAG:
        raise CheckpointError(f"{p.name}: not a Latent Explorer checkpoint (format tag is "
                              f"{meta.get('format')!r}, expected {FORMAT_TAG!r}).")
    try:
        version = int(meta.get("format_version", ""))
    except ValueError:
        raise CheckpointError(f"{p.name}: unreadable format version {meta.get('format_version')!r}.") from None
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{p.name}: made by a newer Latent Explorer (format version {version}; this one "
                              f"reads up to {FORMAT_VERSION}). Upgrade Latent Explorer to open it.")
    if version < 1:
        raise CheckpointError(f"{p.name}: invalid format version {version}.")
    parsed: dict[str, Any] = {}
    for key, value in meta.items():
        if key in JSON_FIELDS:
            try:
                parsed[key] = json.loads(value)
            except json.JSONDecodeError:
                raise CheckpointError(f"{p.name}: metadata field {key!r} is not valid JSON; "
                                      f"the file is damaged.") from None
        else:
            parsed[key] = value
    if parsed.get("family") not in _families():
        raise CheckpointError(f"{p.name}: unknown model family {parsed.get('family')!r}; this version "
                              f"knows {', '.join(sorted(_families()))}.")
    if not isinstance(parsed.get("config"), dict):
        raise CheckpointError(f"{p.name}: metadata has no architecture ('config'); the file is damaged.")
    image = parsed.get("image") or {}
    if list(image.get("shape", [])) != list(parsed["config"].get("image_shape", [1, 28, 28])):
        raise CheckpointError(f"{p.name}: image shape in metadata {image.get('shape')} disagrees with the "
                              f"architecture's {parsed['config'].get('image_shape')}; the file is damaged.")
    return parsed


def _build(p: Path, tensors: dict[str, torch.Tensor], meta: dict[str, str]) -> GenerativeModel:
    parsed = _parse_meta(p, meta)
    family = parsed.pop("family")
    config = parsed.pop("config")
    for key in ("format", "format_version", "image"):
        parsed.pop(key, None)
    parsed.setdefault("name", p.stem)
    parsed["path"] = str(p)
    try:
        model = _families()[family](config, parsed, "cpu")
    except (TypeError, ValueError, KeyError) as exc:
        raise CheckpointError(f"{p.name}: its architecture cannot be built ({exc}).") from None
    expected = model.net.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        what = []
        if missing:
            what.append(f"missing {len(missing)} tensors (e.g. {missing[0]})")
        if extra:
            what.append(f"{len(extra)} unexpected tensors (e.g. {extra[0]})")
        raise CheckpointError(f"{p.name}: weights do not match the {family} architecture in its metadata: "
                              f"{'; '.join(what)}. The file was edited or made for another model.")
    for key, ref in expected.items():
        t = tensors[key]
        if tuple(t.shape) != tuple(ref.shape):
            raise CheckpointError(f"{p.name}: tensor {key} has shape {tuple(t.shape)}, but the architecture "
                                  f"in the metadata needs {tuple(ref.shape)}.")
        if t.dtype != ref.dtype:
            if not (t.dtype.is_floating_point and ref.dtype.is_floating_point):
                raise CheckpointError(f"{p.name}: tensor {key} has dtype {t.dtype}, expected {ref.dtype}.")
        if t.dtype.is_floating_point and not bool(torch.isfinite(t).all()):
            raise CheckpointError(f"{p.name}: tensor {key} contains NaN or infinite values; the model "
                                  f"diverged or the file is damaged. Use an earlier checkpoint.")
    model.net.load_state_dict({k: tensors[k].to(expected[k].dtype) for k in expected})
    model.net.eval()
    return model


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def finite_or_none(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)

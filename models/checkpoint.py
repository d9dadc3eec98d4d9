"""The checkpoint format: one ``.safetensors`` file per model, validated on load.

Tensors are the networks' state dict; the string metadata holds (JSON where structured):

=================  ==========================================================================
``format``         ``"latent-explorer-checkpoint"``
``format_version`` ``"1"``
``family``         ``"vae"`` | ``"gan"`` | ``"flow"`` | ``"autoregressive"`` (PixelCNN)
``config``         constructor arguments (latent_dim, image_shape, channels, ...)
``image``          ``{"shape": [1, 28, 28], "range": [0, 1], "bits": 8}``
``dataset``        ``{"name": ..., "classes": [...]}``
``training``       ``{"command": ..., "epochs": ..., "seed": ..., "metrics": {...}}``
``calibration``    OOD calibration quantiles on held-out in-distribution data
``directions``     family-specific slider facts (VAE: per-unit KL on the test set)
``name``           a display name
=================  ==========================================================================

This module owns the format: the tags, the metadata's parsing and validation, saving, loading and
the dispatch to a family's builder.  Its neighbours own the rest: :mod:`models.safetensors_reader`
(the container's header and lazy tensor reads), :mod:`models.pickle_guard` (``.pt``-style files,
never unpickled unsafely), :mod:`models.atomic_io` (the atomic write of a saved file) and
:mod:`models.tensor_source` (what a reader returns, and :class:`CheckpointError`).

Loading checks in the order that keeps hostile files cheap: the file type is sniffed, the header and
metadata are validated, the architecture is built on PyTorch's ``meta`` device (no memory) and its
tensors' names, shapes and dtypes compared with the file's, and only then are tensor bytes read and
checked for NaN/Inf.  Nothing in a checkpoint is ever executed.  Every message is one printable line.
"""
from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path
from typing import Any, Callable

import torch

from .atomic_io import atomic_write_bytes
from .base import GenerativeModel, json_dumps
from .conv_geometry import ImageShapeError, check_image_shape
from .errors import first_line, printable_name
from .pickle_guard import looks_like_pickle, safe_torch_load
from .safetensors_reader import looks_like_safetensors, read_safetensors
from .tensor_source import CheckpointError, TensorSource, TensorSpec, checkpoint_error as _err

__all__ = ["FORMAT_TAG", "FORMAT_VERSION", "CheckpointError", "save", "load", "read_checkpoint",
           "atomic_write_bytes"]  # atomic_write_bytes: re-exported for callers not yet on models.atomic_io

FORMAT_TAG = "latent-explorer-checkpoint"
FORMAT_VERSION = 1
JSON_FIELDS = ("config", "image", "dataset", "training", "calibration", "directions", "prior")


def _families() -> dict[str, Callable[..., GenerativeModel]]:
    from .flow import FlowModel
    from .gan import GANModel
    from .pixelcnn import PixelCNNModel
    from .vae import VAEModel

    from .foreign.plugins import builders  # families of installed plugins (entry points)

    return {**builders(), "vae": VAEModel.build, "gan": GANModel.build, "flow": FlowModel.build,
            "autoregressive": PixelCNNModel.build}


# ---------------------------------------------------------------------------------------- saving
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
        if key in ("format", "format_version", "family", "config", "image", "path"):
            continue
        meta[key] = value if isinstance(value, str) and key not in JSON_FIELDS else json_dumps(value)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.net.state_dict().items()}
    atomic_write_bytes(path, st_save(tensors, metadata=meta))
    return Path(path)


# ---------------------------------------------------------------------------------------- loading
def load(path: str | os.PathLike, device: str | torch.device = "auto") -> GenerativeModel:
    """Load a checkpoint and return its :class:`GenerativeModel` on ``device`` ("auto": CUDA, MPS, CPU).

    Raises :class:`CheckpointError` with a one-line, actionable message for anything that is not a
    valid Latent Explorer checkpoint (see the module docstring for the order of checks).
    """
    p = Path(path)
    from .foreign import kind_of, open_foreign  # made elsewhere: .pt2, .onnx, HF folders, plugins' files

    kind = kind_of(p)
    model = open_foreign(p, kind) if kind else _build(p, _open_source(p))
    try:
        model.to(device)
    except ValueError as exc:
        raise _err(p, first_line(exc, 160)) from None
    except RuntimeError as exc:  # e.g. CUDA out of memory while moving
        raise _err(p, f"could not move the model to {device}: {first_line(exc, 160)}") from None
    return model


def read_checkpoint(p: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read all tensors and the string metadata of a ``.safetensors`` or (safe) pickle file,
    validating the container but not the model (see :func:`load` for that)."""
    source = _open_source(Path(p))
    return source.load(list(source.specs)), dict(source.meta)


def _open_source(p: Path) -> TensorSource:
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise _err(p, "no such file. Check the path.", full=True) from None
    except PermissionError:
        raise _err(p, "permission denied (a folder on its path cannot be entered).", full=True) from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
        raise _err(p, f"cannot be opened ({first_line(exc, 160)}).", full=True) from None
    if stat.S_ISDIR(st.st_mode):
        raise _err(p, "is a folder, not a checkpoint file. Choose a .safetensors file inside it.")
    if not stat.S_ISREG(st.st_mode):
        raise _err(p, "not a regular file (a named pipe, device or socket). Save the checkpoint as an "
                      "ordinary file and open that.")
    if not os.access(p, os.R_OK):
        raise _err(p, "permission denied. Make the file readable (chmod +r) and try again.")
    size = st.st_size
    if size == 0:
        raise _err(p, "the file is empty (0 bytes). It was probably not written completely; "
                      "re-download or re-save it.")
    try:
        fh = open(p, "rb")
    except PermissionError:
        raise _err(p, "permission denied. Make the file readable (chmod +r) and try again.") from None
    except OSError as exc:
        raise _err(p, f"cannot be read ({first_line(exc, 160)}).") from None
    with fh:
        try:
            head = fh.read(64)
            if looks_like_pickle(p, head) and not looks_like_safetensors(head, size):
                return _pickle_source(p, safe_torch_load(p, fh, size))
            return read_safetensors(p, fh, size, head)
        except OSError as exc:  # an I/O error half way (network drive gone, bad sector)
            raise _err(p, f"cannot be read ({first_line(exc, 160)}).") from None


def _pickle_source(p: Path, obj: Any) -> TensorSource:
    """What a safely loaded pickle holds: our ``{"format", "state_dict", "metadata"}`` dict, or a
    refusal that says what it is instead."""
    if isinstance(obj, dict) and obj.get("format") == FORMAT_TAG and isinstance(obj.get("state_dict"), dict):
        state, meta = obj["state_dict"], obj.get("metadata") or {}
        if not (all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items())
                and isinstance(meta, dict) and all(isinstance(k, str) for k in meta)):
            raise _err(p, "a Latent Explorer pickle with a malformed state dict or metadata; the file is damaged.")
        meta = {k: v if isinstance(v, str) else json_dumps(v) for k, v in meta.items()}
        meta.setdefault("format", FORMAT_TAG)
        specs = {k: TensorSpec(tuple(v.shape), str(v.dtype).removeprefix("torch."), v.dtype.is_floating_point)
                 for k, v in state.items()}
        return TensorSource(meta, specs, lambda keys: {k: state[k] for k in keys})
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise _err(p, "a plain PyTorch state dict with no Latent Explorer metadata (family, architecture, "
                      "image shape), so it cannot be opened. Save the model with "
                      "models.save(model, 'name.safetensors').")
    what = type(obj).__name__
    if isinstance(obj, dict):
        keys = ", ".join(printable_name(str(k), 30) for k in list(obj)[:4])
        what = f"a dict with keys {keys}" + (", ..." if len(obj) > 4 else "")
    raise _err(p, f"a PyTorch file, but not a Latent Explorer checkpoint (it holds {what}). Open a "
                  f".safetensors file made by Latent Explorer.")


def _parse_meta(p: Path, meta: dict[str, str]) -> dict[str, Any]:
    if not meta:
        raise _err(p, "a safetensors file without Latent Explorer metadata (no family, architecture or "
                      "image shape), e.g. another project's weights. Open a checkpoint made by "
                      "`latent-explorer train`.")
    tag = meta.get("format")
    if tag != FORMAT_TAG:
        what = f"its format tag is {printable_name(str(tag), 40)!r}" if tag is not None else "it has no format tag"
        raise _err(p, f"not a Latent Explorer checkpoint ({what}; expected {FORMAT_TAG!r}), e.g. another "
                      f"project's weights. Open a checkpoint made by `latent-explorer train`.")
    raw_version = meta.get("format_version")
    if raw_version is None:
        raise _err(p, "the checkpoint has no format version; the file is damaged. Re-save it.")
    try:
        version = int(raw_version)
    except ValueError:
        raise _err(p, f"unreadable format version {printable_name(raw_version, 40)!r}; the file is damaged.") from None
    if version > FORMAT_VERSION:
        raise _err(p, f"made by a newer version of Latent Explorer (format version {version}; this one reads "
                      f"up to {FORMAT_VERSION}). Upgrade Latent Explorer to open it.")
    if version < 1:
        raise _err(p, f"invalid format version {version}; the file is damaged.")
    parsed: dict[str, Any] = {}
    for key, value in meta.items():
        if key in JSON_FIELDS:
            try:
                parsed[key] = json.loads(value)
            except (ValueError, RecursionError):  # incl. 5,000-digit integers and 100k-deep nesting
                raise _err(p, f"metadata field {key!r} is not valid JSON; the file is damaged.") from None
            if not isinstance(parsed[key], dict):
                raise _err(p, f"metadata field {key!r} should be a JSON object, not "
                              f"{type(parsed[key]).__name__}; the file is damaged.")
        else:
            parsed[key] = value
    family = parsed.get("family")
    if family not in _families():
        raise _err(p, f"unknown model family {printable_name(str(family), 40)!r}; this version knows "
                      f"{', '.join(sorted(_families()))}. Upgrade Latent Explorer, or open another file.")
    config = parsed.get("config")
    if not isinstance(config, dict):
        raise _err(p, "metadata has no architecture ('config'); the file is damaged.")
    image = parsed.get("image") or {}
    if "shape" not in image:
        raise _err(p, "metadata has no image shape; the file is damaged.")
    if list(image["shape"]) != list(config.get("image_shape", [1, 28, 28])) if isinstance(
            image["shape"], list) else True:
        raise _err(p, f"image shape in its metadata {printable_name(str(image['shape']), 40)} disagrees with the "
                      f"architecture's {printable_name(str(config.get('image_shape', [1, 28, 28])), 40)}; "
                      f"the file is damaged.")
    try:
        check_image_shape(tuple(image["shape"]))
    except ImageShapeError as exc:
        raise _err(p, f"{exc}; this app cannot build a network for that image shape.") from None
    classes = (parsed.get("dataset") or {}).get("classes")
    if classes is not None and not (isinstance(classes, list) and all(isinstance(c, str) for c in classes)):
        raise _err(p, "the class names in its metadata are malformed (expected a list of names); "
                      "the file is damaged.")
    kl = (parsed.get("directions") or {}).get("kl")
    if kl is not None and not (isinstance(kl, list) and len(kl) == config.get("latent_dim", len(kl)) and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in kl)):
        raise _err(p, "metadata field 'directions' is malformed ('kl' must hold one finite number per "
                      "latent unit); the file is damaged.")
    return parsed


def _build(p: Path, source: TensorSource) -> GenerativeModel:
    parsed = _parse_meta(p, source.meta)
    family = parsed.pop("family")
    config = parsed.pop("config")
    for key in ("format", "format_version", "image"):
        parsed.pop(key, None)
    parsed["name"] = printable_name(str(parsed.get("name") or p.stem), 200)
    parsed["path"] = str(p)
    builder = _families()[family]
    # Build the architecture on the meta device first: a config asking for a billion latent units
    # costs nothing there, and the weights' shapes must match it before any real memory is used.
    try:
        with torch.device("meta"):
            probe = builder(config, {}, "meta")
        expected = {k: (tuple(v.shape), v.dtype) for k, v in probe.net.state_dict().items()}
        del probe
    except Exception as exc:  # noqa: BLE001 - the constructor's arguments come from the file
        raise _err(p, f"its architecture cannot be built from the metadata ({first_line(exc, 160)}); the file is "
                      f"damaged or was made by an incompatible version.") from None
    missing = sorted(set(expected) - set(source.specs))
    extra = sorted(set(source.specs) - set(expected))
    if missing or extra:
        what = []
        if missing:
            what.append(f"missing {len(missing)} tensor{'s' * (len(missing) != 1)} "
                        f"(e.g. {printable_name(missing[0], 60)})")
        if extra:
            what.append(f"{len(extra):,} unexpected tensors (e.g. {printable_name(extra[0], 60)})")
        raise _err(p, f"weights do not match the {family} architecture in its metadata: {'; '.join(what)}. "
                      f"The file was edited or made for another model.")
    for key, (shape, dtype) in expected.items():
        spec = source.specs[key]
        if spec.shape != shape:
            raise _err(p, f"tensor {key} has shape {spec.shape}, but the {family} architecture in its metadata "
                          f"needs {shape}; the weights and the metadata do not belong together.")
        if spec.is_float != dtype.is_floating_point:
            raise _err(p, f"tensor {key} holds {spec.dtype} values, but the model needs "
                          f"{str(dtype).removeprefix('torch.')} there; the file is damaged or was made by "
                          f"another program.")
    tensors = source.load(list(expected))
    for key, (shape, dtype) in expected.items():
        t = tensors[key]
        if tuple(t.shape) != shape or t.dtype.is_floating_point != dtype.is_floating_point:
            raise _err(p, f"tensor {key} changed while it was read; try again.")
        if t.dtype.is_floating_point and not bool(torch.isfinite(t).all()):
            raise _err(p, f"tensor {key} contains NaN or infinite values; the model diverged or the file is "
                          f"damaged. Use an earlier checkpoint.")
    try:
        model = builder(config, parsed, "cpu")
        model.net.load_state_dict({k: tensors[k].to(expected[k][1]) for k in expected})
    except Exception as exc:  # noqa: BLE001 - anything left is a damaged file, said in one line
        raise _err(p, f"could not be loaded ({first_line(exc, 160)}).") from None
    model.net.eval()
    return model

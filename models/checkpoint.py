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

Nothing in a checkpoint is ever executed.  Pickle-based ``.pt/.pth/.ckpt`` files are first parsed
opcode by opcode (``pickletools``, which runs nothing): one that names a function outside tensor
plumbing is refused, naming it.  The rest are read only with ``torch.load(weights_only=True)``.
Every message is one printable line: names from the file are cleaned of control characters.
"""
from __future__ import annotations

import io
import json
import math
import os
import pickletools
import re
import stat
import struct
import tempfile
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from .errors import LatentExplorerError
from .base import GenerativeModel, json_dumps

FORMAT_TAG = "latent-explorer-checkpoint"
FORMAT_VERSION = 1
JSON_FIELDS = ("config", "image", "dataset", "training", "calibration", "directions")
#: A safetensors header larger than this is refused before it is read (ours are a few kB).
MAX_HEADER_BYTES = 16 * 1024 * 1024
PICKLE_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin", ".pkl")
#: A pickle-based file (or what its zip unpacks to) larger than this is refused.
MAX_PICKLE_BYTES = 2 * 2**30


class CheckpointError(LatentExplorerError):
    """A checkpoint could not be loaded.  The message says what is wrong and what to do."""


def _families() -> dict[str, Callable[..., GenerativeModel]]:
    from .gan import GANModel
    from .vae import VAEModel

    return {"vae": VAEModel.build, "gan": GANModel.build}


# ---------------------------------------------------------------------------------------- saving
def _current_umask() -> int:
    """The process umask, read without changing it (``os.umask`` to read it races other threads)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable (POSIX); a no-op where directories cannot be opened (Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half.

    The bytes go to a temporary file in the same folder, are flushed to disk, and the temporary file
    is renamed over ``path`` in one step.  If anything fails on the way (disk full, Ctrl-C), the old
    file is untouched and the temporary file is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:100]}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            # mkstemp makes 0600; a saved file gets the usual permissions
            os.fchmod(fh.fileno(), 0o666 & ~_current_umask())
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
    _fsync_dir(path.parent)


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
    valid Latent Explorer checkpoint.  The order of checks keeps hostile files cheap to refuse: the
    file type is sniffed, the header and metadata are validated, the architecture is built on
    PyTorch's ``meta`` device (no memory) and compared with the tensors' names, shapes and dtypes,
    and only then are tensor bytes read and checked for NaN/Inf.
    """
    p = Path(path)
    source = _open_source(p)
    model = _build(p, source)
    try:
        model.to(device)
    except ValueError as exc:
        raise _err(p, _clean_exc(exc)) from None
    except RuntimeError as exc:  # e.g. CUDA out of memory while moving
        raise _err(p, f"could not move the model to {device}: {_clean_exc(exc)}") from None
    return model


def read_checkpoint(p: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read all tensors and the string metadata of a ``.safetensors`` or (safe) pickle file,
    validating the container but not the model (see :func:`load` for that)."""
    source = _open_source(Path(p))
    return source.load(list(source.specs)), dict(source.meta)


@dataclass
class _Spec:
    shape: tuple[int, ...]
    dtype: str        # torch-style name: "float32", "int64", "bool", ...
    is_float: bool


@dataclass
class _Source:
    meta: dict[str, str]
    specs: dict[str, _Spec]
    load: Callable[[list[str]], dict[str, torch.Tensor]]


#: safetensors dtype -> (torch-style name, bytes per element); anything else is refused
_ST_DTYPES = {
    "BOOL": ("bool", 1), "U8": ("uint8", 1), "I8": ("int8", 1), "I16": ("int16", 2), "U16": ("uint16", 2),
    "F16": ("float16", 2), "BF16": ("bfloat16", 2), "I32": ("int32", 4), "U32": ("uint32", 4),
    "F32": ("float32", 4), "I64": ("int64", 8), "U64": ("uint64", 8), "F64": ("float64", 8),
}
_ST_FLOATS = {"F16", "BF16", "F32", "F64"}


def _open_source(p: Path) -> _Source:
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise _err(p, "no such file. Check the path.", full=True) from None
    except PermissionError:
        raise _err(p, "permission denied (a folder on its path cannot be entered).", full=True) from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
        raise _err(p, f"cannot be opened ({_clean_exc(exc)}).", full=True) from None
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
        raise _err(p, f"cannot be read ({_clean_exc(exc)}).") from None
    with fh:
        try:
            head = fh.read(64)
            if _looks_like_pickle(p, head):
                return _pickle_source(p, fh, size)
            return _safetensors_source(p, fh, size, head)
        except OSError as exc:  # an I/O error half way (network drive gone, bad sector)
            raise _err(p, f"cannot be read ({_clean_exc(exc)}).") from None


def _looks_like_pickle(p: Path, head: bytes) -> bool:
    return (p.suffix.lower() in PICKLE_SUFFIXES or head[:4] == b"PK\x03\x04"
            or (head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"))
            or re.match(rb"c[A-Za-z_][\w.]*\n[A-Za-z_]\w*\n", head) is not None)   # protocol 0/1 GLOBAL


def _sniff_other_format(head: bytes) -> str | None:
    """A message for well-known files that are not checkpoints at all (or None)."""
    images = {b"\x89PNG": "PNG", b"\xff\xd8\xff": "JPEG", b"GIF8": "GIF", b"II*\x00": "TIFF", b"MM\x00*": "TIFF"}
    for magic, kind in images.items():
        if head.startswith(magic):
            return (f"is an image ({kind}), not a model checkpoint. Open a .safetensors checkpoint here; "
                    f"images go to the image panel (or `latent-explorer score`).")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return ("is an image (WebP), not a model checkpoint. Open a .safetensors checkpoint here; "
                "images go to the image panel (or `latent-explorer score`).")
    if head.startswith(b"version https://git-lfs"):
        return ("is a Git LFS pointer, not the checkpoint itself. Fetch the real file "
                "(`git lfs pull`) and open that.")
    low = head.lstrip().lower()
    if low.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return "is a web page (HTML), not a checkpoint; the download probably failed. Download it again."
    if head.startswith(b"%PDF"):
        return "is a PDF document, not a model checkpoint."
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = head[:-3].decode("utf-8", errors="strict") if _utf8_prefix_ok(head) else None
    if text is not None and all(c.isprintable() or c in "\r\n\t" for c in text):
        return "is a text file, not a model checkpoint. Open a .safetensors checkpoint made by Latent Explorer."
    return None


def _utf8_prefix_ok(head: bytes) -> bool:
    """True if ``head`` is valid UTF-8 apart from a multi-byte character cut off at its end."""
    for cut in (1, 2, 3):
        try:
            head[:-cut].decode("utf-8")
            return True
        except UnicodeDecodeError:
            continue
    return False


def _safetensors_source(p: Path, fh, size: int, head: bytes) -> _Source:
    if len(head) < 8:
        raise _err(p, f"too short to be a checkpoint ({size} bytes); the file is damaged. "
                      f"Re-download or re-save it.")
    (n,) = struct.unpack("<Q", head[:8])
    if n > MAX_HEADER_BYTES or 8 + n > size:
        other = _sniff_other_format(head)
        if other:
            raise _err(p, other)
        if n > MAX_HEADER_BYTES:
            raise _err(p, f"not a safetensors file, or a corrupt one: its header claims {n:,} bytes, more "
                          f"than the {MAX_HEADER_BYTES // 2**20} MiB allowed. Open a .safetensors checkpoint "
                          f"made by Latent Explorer.")
        raise _err(p, f"the file is truncated: its header claims {n:,} bytes but only {size - 8:,} follow. "
                      f"Re-download or re-save it.")
    fh.seek(8)
    raw = fh.read(n)
    try:
        header = json.loads(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        other = _sniff_other_format(head)
        raise _err(p, other or "not a safetensors file, or a damaged one: its header is not valid JSON. "
                               "Re-download or re-save it.") from None
    if not isinstance(header, dict):
        raise _err(p, "not a safetensors file: malformed header (not a JSON object).")
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise _err(p, "malformed metadata in the safetensors header (every value must be a string); "
                      "the file is damaged or was not written by Latent Explorer.")
    data_len = size - 8 - n
    specs = {key: _tensor_spec(p, key, info, data_len) for key, info in header.items()}

    def load_tensors(keys: list[str]) -> dict[str, torch.Tensor]:
        from safetensors import safe_open

        try:
            out = {}
            with safe_open(str(p), framework="pt", device="cpu") as f:
                for key in keys:
                    out[key] = f.get_tensor(key)
            return out
        except Exception as exc:  # noqa: BLE001 - safetensors raises several types for broken files
            raise _err(p, f"the file is damaged ({_clean_exc(exc)}). Re-download or re-save it.") from None

    return _Source(dict(meta), specs, load_tensors)


def _tensor_spec(p: Path, key: str, info: Any, data_len: int) -> _Spec:
    name = _clean_text(key, 80)
    if not isinstance(info, dict):
        raise _err(p, f"malformed entry for tensor {name} in the header; the file is damaged.")
    dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if dtype not in _ST_DTYPES:
        raise _err(p, f"tensor {name} has an unknown dtype {_clean_text(str(dtype), 20)!r}; the file is "
                      f"damaged or was made by another program.")

    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and v >= 0

    if not (isinstance(shape, list) and len(shape) <= 8 and all(is_int(d) for d in shape)):
        raise _err(p, f"tensor {name} has a malformed shape in the header; the file is damaged.")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(is_int(o) for o in offsets)
            and offsets[0] <= offsets[1]):
        raise _err(p, f"tensor {name} has malformed data offsets in the header; the file is damaged.")
    torch_name, itemsize = _ST_DTYPES[dtype]
    if offsets[1] > data_len:
        raise _err(p, f"the file is truncated: tensor {name} ends at byte {offsets[1]:,} of the data but only "
                      f"{data_len:,} bytes are there. Re-download or re-save it.")
    need = math.prod(shape) * itemsize
    if need != offsets[1] - offsets[0]:
        raise _err(p, f"tensor {name} is damaged: its shape {shape} of {torch_name} needs {need:,} bytes but "
                      f"the file gives it {offsets[1] - offsets[0]:,}.")
    return _Spec(tuple(shape), torch_name, dtype in _ST_FLOATS)


def _pickle_source(p: Path, fh, size: int) -> _Source:
    """A ``.pt``-style file: refused if its pickle names code, else read with ``weights_only=True``."""
    import pickle

    if size > MAX_PICKLE_BYTES:
        raise _err(p, f"a {size / 2**30:.1f} GiB pickle file, more than the {MAX_PICKLE_BYTES // 2**30} GiB "
                      f"allowed. Convert it to .safetensors.")
    fh.seek(0)
    data = fh.read()
    pickles = [data]
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                infos = zf.infolist()
                if sum(i.file_size for i in infos) > MAX_PICKLE_BYTES:
                    raise _err(p, "a zip archive that would unpack to more than "
                                  f"{MAX_PICKLE_BYTES // 2**30} GiB; refused.")
                pkl = [i for i in infos if i.filename == "data.pkl" or i.filename.endswith("/data.pkl")]
                if not pkl:
                    raise _err(p, "an ordinary zip archive, not a readable PyTorch file (there is no data.pkl "
                                  "inside). Open a .safetensors checkpoint made by Latent Explorer.")
                pickles = [zf.read(i) for i in pkl]
        except CheckpointError:
            raise
        except Exception as exc:  # noqa: BLE001 - zipfile raises many types for broken archives
            raise _err(p, f"not a readable PyTorch file (a damaged zip archive: {_clean_exc(exc)}). "
                          f"Re-download or re-save it.") from None
    for blob in pickles:
        code = _unsafe_globals(blob)
        if code:
            raise _err(p, _refusal(code[0]))
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols on stderr: not for users
            warnings.simplefilter("ignore")
            obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        raise _err(p, _refusal(found.group(1)) if found else
                   f"refused: it holds objects that are not plain tensors ({_clean_exc(exc)}); nothing in it "
                   f"was run. Convert it to .safetensors with the code that made it.") from None
    except Exception as exc:  # noqa: BLE001 - torch raises many types for broken zips/pickles
        raise _err(p, f"not a readable PyTorch file ({_clean_exc(exc)}). The file is damaged or of "
                      f"another format.") from None
    if isinstance(obj, dict) and obj.get("format") == FORMAT_TAG and isinstance(obj.get("state_dict"), dict):
        state, meta = obj["state_dict"], obj.get("metadata") or {}
        if not (all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items())
                and isinstance(meta, dict) and all(isinstance(k, str) for k in meta)):
            raise _err(p, "a Latent Explorer pickle with a malformed state dict or metadata; the file is damaged.")
        meta = {k: v if isinstance(v, str) else json_dumps(v) for k, v in meta.items()}
        meta.setdefault("format", FORMAT_TAG)
        specs = {k: _Spec(tuple(v.shape), str(v.dtype).removeprefix("torch."), v.dtype.is_floating_point)
                 for k, v in state.items()}
        return _Source(meta, specs, lambda keys: {k: state[k] for k in keys})
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise _err(p, "a plain PyTorch state dict with no Latent Explorer metadata (family, architecture, "
                      "image shape), so it cannot be opened. Save the model with "
                      "models.save(model, 'name.safetensors').")
    what = type(obj).__name__
    if isinstance(obj, dict):
        keys = ", ".join(_clean_text(str(k), 30) for k in list(obj)[:4])
        what = f"a dict with keys {keys}" + (", ..." if len(obj) > 4 else "")
    raise _err(p, f"a PyTorch file, but not a Latent Explorer checkpoint (it holds {what}). Open a "
                  f".safetensors file made by Latent Explorer.")


#: Globals a plain tensor pickle may name; ``torch.load(weights_only=True)`` polices torch's own.
_SAFE_GLOBALS = {"collections.OrderedDict", "_codecs.encode", "builtins.set", "builtins.frozenset",
                 "builtins.bytearray", "builtins.slice", "builtins.complex"}


def _unsafe_globals(blob: bytes) -> list[str]:
    """Functions/classes a pickle would look up when loaded, other than tensor plumbing.

    This only parses opcodes (``pickletools``); nothing is executed.  It makes the refusal message
    name what the file wanted to run; the safety itself rests on ``weights_only=True``.
    """
    found: list[str] = []
    strings: list[str] = []
    stream = io.BytesIO(blob)
    try:
        for _ in range(8):  # legacy torch files are several pickles in a row
            if stream.tell() >= len(blob):
                break
            for op, arg, _pos in pickletools.genops(stream):
                if op.name in ("GLOBAL", "INST"):
                    module, _, name = str(arg).partition(" ")
                    found.append(_py3_name(module, name))
                elif op.name == "STACK_GLOBAL":
                    found.append(_py3_name(strings[-2], strings[-1]) if len(strings) >= 2
                                 else "an unnamed function")
                elif isinstance(arg, str):
                    strings.append(arg)
            if not found and stream.tell() < len(blob) and blob[stream.tell():stream.tell() + 1] not in (
                    b"\x80", b"c", b"(", b"}", b"]"):
                break  # legacy tensor data follows the pickles
    except Exception:  # noqa: BLE001 - unparseable: torch.load (weights_only) will judge it
        pass
    return [g for g in found if not (g.startswith("torch.") or g in _SAFE_GLOBALS)]


def _py3_name(module: str, name: str) -> str:
    """``module.name`` as Python 3 resolves it (protocol-2 pickles say ``__builtin__.exec``)."""
    import _compat_pickle

    if (module, name) in _compat_pickle.NAME_MAPPING:
        module, name = _compat_pickle.NAME_MAPPING[(module, name)]
    else:
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
    return f"{module}.{name}"


def _refusal(what: str) -> str:
    return (f"refused: loading this pickle would run {_clean_text(what, 80)} (code, not weights); nothing in "
            f"it was run. Only open pickle files from people you trust, and convert them to .safetensors "
            f"with the code that made them.")


def _parse_meta(p: Path, meta: dict[str, str]) -> dict[str, Any]:
    if not meta:
        raise _err(p, "a safetensors file without Latent Explorer metadata (no family, architecture or "
                      "image shape), e.g. another project's weights. Open a checkpoint made by "
                      "`latent-explorer train`.")
    tag = meta.get("format")
    if tag != FORMAT_TAG:
        what = f"its format tag is {_clean_text(str(tag), 40)!r}" if tag is not None else "it has no format tag"
        raise _err(p, f"not a Latent Explorer checkpoint ({what}; expected {FORMAT_TAG!r}), e.g. another "
                      f"project's weights. Open a checkpoint made by `latent-explorer train`.")
    raw_version = meta.get("format_version")
    if raw_version is None:
        raise _err(p, "the checkpoint has no format version; the file is damaged. Re-save it.")
    try:
        version = int(raw_version)
    except ValueError:
        raise _err(p, f"unreadable format version {_clean_text(raw_version, 40)!r}; the file is damaged.") from None
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
        raise _err(p, f"unknown model family {_clean_text(str(family), 40)!r}; this version knows "
                      f"{', '.join(sorted(_families()))}. Upgrade Latent Explorer, or open another file.")
    config = parsed.get("config")
    if not isinstance(config, dict):
        raise _err(p, "metadata has no architecture ('config'); the file is damaged.")
    image = parsed.get("image") or {}
    if "shape" not in image:
        raise _err(p, "metadata has no image shape; the file is damaged.")
    if list(image["shape"]) != list(config.get("image_shape", [1, 28, 28])) if isinstance(
            image["shape"], list) else True:
        raise _err(p, f"image shape in its metadata {_clean_text(str(image['shape']), 40)} disagrees with the "
                      f"architecture's {_clean_text(str(config.get('image_shape', [1, 28, 28])), 40)}; "
                      f"the file is damaged.")
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


def _build(p: Path, source: _Source) -> GenerativeModel:
    parsed = _parse_meta(p, source.meta)
    family = parsed.pop("family")
    config = parsed.pop("config")
    for key in ("format", "format_version", "image"):
        parsed.pop(key, None)
    parsed["name"] = _clean_text(str(parsed.get("name") or p.stem), 200)
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
        raise _err(p, f"its architecture cannot be built from the metadata ({_clean_exc(exc)}); the file is "
                      f"damaged or was made by an incompatible version.") from None
    missing = sorted(set(expected) - set(source.specs))
    extra = sorted(set(source.specs) - set(expected))
    if missing or extra:
        what = []
        if missing:
            what.append(f"missing {len(missing)} tensor{'s' * (len(missing) != 1)} "
                        f"(e.g. {_clean_text(missing[0], 60)})")
        if extra:
            what.append(f"{len(extra):,} unexpected tensors (e.g. {_clean_text(extra[0], 60)})")
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
        raise _err(p, f"could not be loaded ({_clean_exc(exc)}).") from None
    model.net.eval()
    return model


# ---------------------------------------------------------------------------------------- messages
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def _clean_text(text: str, limit: int = 200) -> str:
    """One printable line: control characters (newlines, terminal escapes) shown escaped, length capped."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _clean_exc(exc: BaseException, limit: int = 160) -> str:
    """The first meaningful line of an exception's message, cleaned (torch's start with boilerplate)."""
    lines = [ln.strip() for ln in _ANSI.sub("", str(exc)).splitlines() if ln.strip()]  # torch bolds text
    if not lines:
        return type(exc).__name__
    return _clean_text(lines[0], limit)


def _display(p: Path, full: bool = False) -> str:
    return _clean_text(str(p) if full else (p.name or str(p)), 120)


def _err(p: Path, text: str, full: bool = False) -> CheckpointError:
    return CheckpointError(f"{_display(p, full)}: {text}")


def _first_line(exc: BaseException) -> str:
    return _clean_exc(exc)


def finite_or_none(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)

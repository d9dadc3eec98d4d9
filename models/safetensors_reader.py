"""Reading a ``.safetensors`` file defensively: header, validation, tensor specs, lazy tensor loading.

The format is ``[u64 little-endian n][n bytes of JSON header][tensor bytes]``; the header maps each
tensor name to ``{"dtype", "shape", "data_offsets": [begin, end]}`` (offsets into the tensor bytes)
plus an optional ``"__metadata__"`` of string pairs.  Every claim in it is checked before it is
trusted: the header length against :data:`MAX_HEADER_BYTES` and the file size, each dtype against
:data:`ST_DTYPES`, each shape and offset pair for type and range, and

    prod(shape) * itemsize(dtype) == end - begin   and   end <= file size - 8 - n

so a truncated or edited file is refused with a message that says which tensor is wrong.  Files that
are not safetensors at all (an image, a web page from a failed download, a Git LFS pointer) are
recognised by their first bytes and named.  Tensor bytes are read only when :attr:`TensorSource.load`
is called, through the ``safetensors`` library (which executes nothing).
"""
from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import torch

from .errors import first_line, printable_name
from .tensor_source import TensorSource, TensorSpec, checkpoint_error as _err

#: A safetensors header larger than this is refused before it is read (ours are a few kB).
MAX_HEADER_BYTES = 16 * 1024 * 1024

#: safetensors dtype -> (torch-style name, bytes per element); anything else is refused
ST_DTYPES = {
    "BOOL": ("bool", 1), "U8": ("uint8", 1), "I8": ("int8", 1), "I16": ("int16", 2), "U16": ("uint16", 2),
    "F16": ("float16", 2), "BF16": ("bfloat16", 2), "I32": ("int32", 4), "U32": ("uint32", 4),
    "F32": ("float32", 4), "I64": ("int64", 8), "U64": ("uint64", 8), "F64": ("float64", 8),
}
ST_FLOATS = {"F16", "BF16", "F32", "F64"}


def read_safetensors(p: Path, fh, size: int, head: bytes) -> TensorSource:
    """Validate the header of the open file ``fh`` (``size`` bytes, first bytes ``head``) and return
    its metadata, tensor specs and a lazy loader.  Raises :class:`~models.tensor_source.CheckpointError`."""
    if len(head) < 8:
        raise _err(p, f"too short to be a checkpoint ({size} bytes); the file is damaged. "
                      f"Re-download or re-save it.")
    (n,) = struct.unpack("<Q", head[:8])
    if n > MAX_HEADER_BYTES or 8 + n > size:
        other = sniff_other_format(head)
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
        other = sniff_other_format(head)
        raise _err(p, other or "not a safetensors file, or a damaged one: its header is not valid JSON. "
                               "Re-download or re-save it.") from None
    if not isinstance(header, dict):
        raise _err(p, "not a safetensors file: malformed header (not a JSON object).")
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise _err(p, "malformed metadata in the safetensors header (every value must be a string); "
                      "the file is damaged or was not written by Latent Explorer.")
    data_len = size - 8 - n
    specs = {key: tensor_spec(p, key, info, data_len) for key, info in header.items()}

    def load_tensors(keys: list[str]) -> dict[str, torch.Tensor]:
        from safetensors import safe_open

        try:
            out = {}
            with safe_open(str(p), framework="pt", device="cpu") as f:
                for key in keys:
                    out[key] = f.get_tensor(key)
            return out
        except Exception as exc:  # noqa: BLE001 - safetensors raises several types for broken files
            raise _err(p, f"the file is damaged ({first_line(exc, 160)}). Re-download or re-save it.") from None

    return TensorSource(dict(meta), specs, load_tensors)


def tensor_spec(p: Path, key: str, info: Any, data_len: int) -> TensorSpec:
    """One header entry, validated: dtype known, shape and offsets well formed and consistent."""
    name = printable_name(key, 80)
    if not isinstance(info, dict):
        raise _err(p, f"malformed entry for tensor {name} in the header; the file is damaged.")
    dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if dtype not in ST_DTYPES:
        raise _err(p, f"tensor {name} has an unknown dtype {printable_name(str(dtype), 20)!r}; the file is "
                      f"damaged or was made by another program.")

    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and v >= 0

    if not (isinstance(shape, list) and len(shape) <= 8 and all(is_int(d) for d in shape)):
        raise _err(p, f"tensor {name} has a malformed shape in the header; the file is damaged.")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(is_int(o) for o in offsets)
            and offsets[0] <= offsets[1]):
        raise _err(p, f"tensor {name} has malformed data offsets in the header; the file is damaged.")
    torch_name, itemsize = ST_DTYPES[dtype]
    if offsets[1] > data_len:
        raise _err(p, f"the file is truncated: tensor {name} ends at byte {offsets[1]:,} of the data but only "
                      f"{data_len:,} bytes are there. Re-download or re-save it.")
    need = math.prod(shape) * itemsize
    if need != offsets[1] - offsets[0]:
        raise _err(p, f"tensor {name} is damaged: its shape {shape} of {torch_name} needs {need:,} bytes but "
                      f"the file gives it {offsets[1] - offsets[0]:,}.")
    return TensorSpec(tuple(shape), torch_name, dtype in ST_FLOATS)


def looks_like_safetensors(head: bytes, size: int) -> bool:
    """A safetensors layout: an 8-byte little-endian header length that fits the file, then ``{``.

    Checked before the pickle sniff: a header of 0x0280-0x0580 bytes (mod 65536) starts with the same
    two bytes as a protocol 2-5 pickle (0x80, 0x02-0x05), and byte 8 of a pickle is never ``{`` (not an
    opcode; in protocol 4-5 it is inside the frame length).
    """
    if len(head) < 9:
        return False
    n = int.from_bytes(head[:8], "little")
    return 2 <= n <= size - 8 and head[8:9] == b"{"


def sniff_other_format(head: bytes) -> str | None:
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

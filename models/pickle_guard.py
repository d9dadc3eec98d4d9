"""Pickle-based model files (``.pt/.pth/.ckpt/.bin/.pkl``) read without running anything in them.

Unpickling can call any function the file names (``posix.system`` included), so two guards stand
in front of the bytes:

1. :func:`unsafe_globals` walks the pickle opcode by opcode with :mod:`pickletools` (a parser, it
   executes nothing) and collects every global a ``GLOBAL``/``INST``/``STACK_GLOBAL`` would look up.
   Anything outside tensor plumbing (``torch.*`` and :data:`SAFE_GLOBALS`) is refused, *naming* it,
   so the user learns what the file wanted to run.
2. The safety itself rests on ``torch.load(weights_only=True)``, PyTorch's restricted unpickler:
   a pickle that fools the scan (memoised decoys) still cannot reach a function.

Size limits (:data:`MAX_PICKLE_BYTES`, also on what a zip would unpack to) refuse bombs before any
work.  What the loaded object *means* (a Latent Explorer checkpoint, a bare state dict) is decided
by :mod:`models.checkpoint`.
"""
from __future__ import annotations

import io
import pickletools
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch

from .errors import first_line, printable_name
from .tensor_source import CheckpointError, checkpoint_error as _err

PICKLE_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin", ".pkl")
#: A pickle-based file (or what its zip unpacks to) larger than this is refused.
MAX_PICKLE_BYTES = 2 * 2**30
#: Globals a plain tensor pickle may name; ``torch.load(weights_only=True)`` polices torch's own.
SAFE_GLOBALS = {"collections.OrderedDict", "_codecs.encode", "builtins.set", "builtins.frozenset",
                "builtins.bytearray", "builtins.slice", "builtins.complex"}


def looks_like_pickle(p: Path, head: bytes) -> bool:
    """By suffix, a zip signature (torch's format), a protocol-2+ header or a protocol-0/1 GLOBAL."""
    return (p.suffix.lower() in PICKLE_SUFFIXES or head[:4] == b"PK\x03\x04"
            or (head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"))
            or re.match(rb"c[A-Za-z_][\w.]*\n[A-Za-z_]\w*\n", head) is not None)


def safe_torch_load(p: Path, fh, size: int) -> Any:
    """The object in the pickle-based file ``fh`` (``size`` bytes), loaded on the CPU with
    ``weights_only=True`` after the opcode scan.  Raises :class:`CheckpointError` naming what a refused
    file wanted to run, or why it cannot be read."""
    import pickle

    if size > MAX_PICKLE_BYTES:
        raise _err(p, f"a {size / 2**30:.1f} GiB pickle file, more than the {MAX_PICKLE_BYTES // 2**30} GiB "
                      f"allowed. Convert it to .safetensors.")
    fh.seek(0)
    data = fh.read()
    for blob in _pickles_in(p, data):
        code = unsafe_globals(blob)
        if code:
            raise _err(p, refusal(code[0]))
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols on stderr: not for users
            warnings.simplefilter("ignore")
            return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        raise _err(p, refusal(found.group(1)) if found else
                   f"refused: it holds objects that are not plain tensors ({first_line(exc, 160)}); nothing "
                   f"in it was run. Convert it to .safetensors with the code that made it.") from None
    except Exception as exc:  # noqa: BLE001 - torch raises many types for broken zips/pickles
        raise _err(p, f"not a readable PyTorch file ({first_line(exc, 160)}). The file is damaged or of "
                      f"another format.") from None


def _pickles_in(p: Path, data: bytes) -> list[bytes]:
    """The pickle streams to scan: the file itself, or each ``data.pkl`` of torch's zip format."""
    if data[:4] != b"PK\x03\x04":
        return [data]
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
            return [zf.read(i) for i in pkl]
    except CheckpointError:
        raise
    except Exception as exc:  # noqa: BLE001 - zipfile raises many types for broken archives
        raise _err(p, f"not a readable PyTorch file (a damaged zip archive: {first_line(exc, 160)}). "
                      f"Re-download or re-save it.") from None


def unsafe_globals(blob: bytes) -> list[str]:
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
    return [g for g in found if not (g.startswith("torch.") or g in SAFE_GLOBALS)]


def _py3_name(module: str, name: str) -> str:
    """``module.name`` as Python 3 resolves it (protocol-2 pickles say ``__builtin__.exec``)."""
    import _compat_pickle

    if (module, name) in _compat_pickle.NAME_MAPPING:
        module, name = _compat_pickle.NAME_MAPPING[(module, name)]
    else:
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
    return f"{module}.{name}"


def refusal(what: str) -> str:
    """The message for a pickle that names ``what`` (code, not weights)."""
    return (f"refused: loading this pickle would run {printable_name(what, 80)} (code, not weights); nothing in "
            f"it was run. Only open pickle files from people you trust, and convert them to .safetensors "
            f"with the code that made them.")

"""Exports that carry the explorer's state: a JSON record in a PNG text chunk or a GIF comment.

Like harskish/tlgan's exports, every PNG or GIF the app writes says where it came from, so dropping
it back on the window restores that point instead of scoring the picture.  The record::

    {"format": "latent-explorer/state", "version": 1,
     "model": {"name", "family", "latent_dim", "file", "sha256"},
     "z": [...], "slider_values": [...],
     "class": {"index": 3, "name": "Dress"},   (conditional models only; null: "Any class")
     "interpolation": {"a": [...], "b": [...], "method": "slerp", "steps": 16,   (optional)
                       "class_from": {"index": 7, "name": "Sneaker"},        (a class blend only)
                       "class_to": {"index": 8, "name": "Bag"}}}

``class`` is the class a class-conditional model draws (:mod:`models.conditional`), written only
for such models, so an unconditional model's record is as it always was.  It came without a version
change: a record without it (an older export, an unconditional model) restores the point and leaves
the class as it is, and a reader that does not know it ignores it.  ``class_from`` / ``class_to`` (also
without a version change) mark the interpolation panel's class blend: the frames hold z at ``a`` (``b``
is ``a``) and move the class from one to the other; an interpolation without them is a path in z.

The model is identified by the SHA-256 of its checkpoint file (a file name says nothing about the
weights in it).  PNG: one ``tEXt`` chunk with keyword :data:`KEYWORD` right after ``IHDR``
(PNG spec 11.3.4.3; the JSON is ASCII; before the image data, so readers see it without decoding).  GIF: one Comment Extension (0x21 0xFE, sub-blocks of at
most 255 bytes) after the global colour table (GIF89a spec 24).  Both are inserted into the bytes
the encoder made, so the pixels are exactly what the encoder wrote.  No Qt, no torch.
"""
from __future__ import annotations

import hashlib
import json
import math
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from models.errors import LatentExplorerError

FORMAT = "latent-explorer/state"
VERSION = 1
KEYWORD = "latent-explorer"
#: a record larger than this is not ours (a 4096-d z with endpoints is about 200 kB)
MAX_RECORD_BYTES = 4 << 20

_hashes: dict[tuple[str, int, int], str] = {}


class StampError(LatentExplorerError, ValueError):
    """An exported file's state cannot be used; the message names the file and says why."""


# ---------------------------------------------------------------------------------------- records
def file_sha256(path: str | Path | None) -> str | None:
    """SHA-256 of a checkpoint file (of every file in a folder model, in name order), cached by
    path, size and modification time; None when there is no file."""
    if path is None:
        return None
    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        return None
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _hashes:
        h = hashlib.sha256()
        files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
        for f in files:
            with open(f, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
        _hashes[key] = h.hexdigest()
    return _hashes[key]


def state_record(state, interpolation: dict | None = None) -> dict[str, Any] | None:
    """The record of an ExplorerState as every export and bookmark stamps it: its model, its point and
    its class, with optional endpoints; None when no model is open."""
    if state.loaded is None:
        return None
    return make_record(state.loaded, state.values, interpolation, state.class_index)


def make_record(loaded, values: np.ndarray, interpolation: dict | None = None,
                class_index: int | None = None) -> dict[str, Any]:
    """The state record of ``loaded`` (a LoadedModel) at slider ``values``, drawing ``class_index``
    (None: any class; ignored for an unconditional model), with optional endpoints
    ``{"a": z, "b": z, "method": ..., "steps": ...}`` and, for a class blend of a conditional model,
    their ``"class_from"`` and ``"class_to"`` indices."""
    values = np.asarray(values, dtype=np.float32).reshape(-1)
    rec: dict[str, Any] = {
        "format": FORMAT, "version": VERSION,
        "model": {"name": loaded.name, "family": loaded.family, "latent_dim": int(loaded.latent_dim),
                  "file": str(loaded.path) if loaded.path else None, "sha256": file_sha256(loaded.path)},
        "z": _floats(loaded.z_from_values(values)),
        "slider_values": _floats(values),
    }
    conditional = bool(getattr(loaded.model, "conditional", False))
    if conditional:
        from models.conditional import names     # the model is in memory: torch is already loaded

        known = names(loaded.model)
        rec["class"] = (None if class_index is None
                        else {"index": int(class_index), "name": known[int(class_index)]})
    if interpolation:
        rec["interpolation"] = {"a": _floats(interpolation["a"]), "b": _floats(interpolation["b"]),
                                "method": str(interpolation.get("method", "slerp")),
                                "steps": int(interpolation.get("steps", 16))}
        if conditional and interpolation.get("class_from") is not None and interpolation.get("class_to") is not None:
            for key in ("class_from", "class_to"):
                i = int(interpolation[key])
                rec["interpolation"][key] = {"index": i, "name": known[i]}
    return rec


def _is_class(cls: Any) -> bool:
    """A record's class entry: ``{"index": int >= 0, "name": str}`` (the name optional)."""
    return (isinstance(cls, dict) and type(cls.get("index")) is int and cls["index"] >= 0
            and isinstance(cls.get("name", ""), str))


def _floats(a) -> list[float]:
    return [round(float(v), 7) for v in np.asarray(a, dtype=np.float32).reshape(-1)]


def check_record(rec: Any, name: str) -> dict[str, Any]:
    """``rec`` if it is a usable state record, else :class:`StampError` naming ``name``."""
    if not isinstance(rec, dict) or rec.get("format") != FORMAT:
        raise StampError(f"{name}: not a Latent Explorer state")
    model = rec.get("model")
    if not isinstance(model, dict):
        raise StampError(f"{name}: its state names no model")
    for key in ("z", "slider_values"):
        v = rec.get(key)
        if not isinstance(v, list) or not v or not all(isinstance(x, (int, float)) and math.isfinite(x) for x in v):
            raise StampError(f"{name}: its state's {key!r} is not a list of finite numbers")
    if len(rec["z"]) != len(rec["slider_values"]):
        raise StampError(f"{name}: its state's z and slider values differ in length")
    cls = rec.get("class")
    if cls is not None and not _is_class(cls):
        raise StampError(f"{name}: its state's class is not an index and a name")
    interp = rec.get("interpolation")
    if interp is not None:
        ok = isinstance(interp, dict) and all(
            isinstance(interp.get(k), list) and len(interp[k]) == len(rec["z"])
            and all(isinstance(x, (int, float)) and math.isfinite(x) for x in interp[k]) for k in ("a", "b"))
        if not ok:
            raise StampError(f"{name}: its interpolation endpoints are not two latents of the same size")
        if any(k in interp and not _is_class(interp[k]) for k in ("class_from", "class_to")):
            raise StampError(f"{name}: its interpolation's class blend is not two classes (an index and a name)")
    return rec


def recorded_class(rec: dict, model, name: str) -> tuple[bool, int | None]:
    """``(set, index)``: whether restoring ``rec`` into ``model`` sets its class, and to which (None:
    any class).  Nothing to set for a record without a class (an older export) or an unconditional
    model; :class:`StampError` naming ``name`` for a class the model does not have."""
    if "class" not in rec or not getattr(model, "conditional", False):
        return False, None
    cls = rec["class"]
    if cls is None:
        return True, None
    k = int(model.n_classes)
    if cls["index"] >= k:
        label = f"{cls['index']} ({cls['name']})" if cls.get("name") else str(cls["index"])
        raise StampError(f"{name}: its state draws class {label}, but {model.name} has only {k} classes "
                         f"(0-{k - 1})")
    return True, cls["index"]


def encode(rec: dict) -> bytes:
    return json.dumps(rec, separators=(",", ":"), ensure_ascii=True).encode("ascii")


# ---------------------------------------------------------------------------------------- PNG
def png_with_state(data: bytes, rec: dict) -> bytes:
    """PNG bytes with a ``tEXt`` chunk holding ``rec`` inserted right after ``IHDR``."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    at = 8 + 12 + struct.unpack(">I", data[8:12])[0]          # signature + IHDR (length, type, data, CRC)
    body = b"tEXt" + KEYWORD.encode("latin-1") + b"\x00" + encode(rec)
    chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    return data[:at] + chunk + data[at:]


# ---------------------------------------------------------------------------------------- GIF
def gif_with_state(data: bytes, rec: dict) -> bytes:
    """GIF bytes with a Comment Extension holding ``rec`` after the header and global colour table."""
    if data[:6] not in (b"GIF87a", b"GIF89a"):
        raise ValueError("not a GIF")
    flags = data[10]
    at = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    text = encode(rec)
    blocks = b"".join(bytes([len(text[i:i + 255])]) + text[i:i + 255] for i in range(0, len(text), 255))
    return b"GIF89a" + data[6:at] + b"\x21\xfe" + blocks + b"\x00" + data[at:]


# ---------------------------------------------------------------------------------------- reading
def read_state(path: str | Path) -> dict[str, Any] | None:
    """The state record a PNG or GIF carries, None if it carries none (an ordinary image);
    :class:`StampError` if it carries a damaged one."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".png", ".gif"):
        return None
    import stat

    from PIL import Image

    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return None                  # a folder, a pipe, a device: never opened here (it could block)
        with Image.open(path) as im:     # reads the header chunks only, not the pixels
            raw = im.info.get(KEYWORD) if suffix == ".png" else im.info.get("comment")
    except Exception:  # noqa: BLE001 - any unreadable image (bombs included): the intake will say why
        return None
    if raw is None:
        return None
    if isinstance(raw, bytes):
        if not raw.startswith(b"{"):
            return None                  # somebody else's GIF comment
        raw = raw.decode("ascii", "replace")
    if len(raw) > MAX_RECORD_BYTES:
        raise StampError(f"{path.name}: its state is too large")
    try:
        rec = json.loads(raw)
    except json.JSONDecodeError:
        if suffix == ".gif":
            return None
        raise StampError(f"{path.name}: its Latent Explorer state is damaged (not JSON)") from None
    if suffix == ".gif" and not (isinstance(rec, dict) and rec.get("format") == FORMAT):
        return None
    return check_record(rec, path.name)

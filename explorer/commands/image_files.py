"""The one rule for every image the command line writes: the format is the one ``--out``'s suffix names.

Not a subcommand: ``sample``, ``interpolate`` (its strip) and ``traverse`` call it.  ``grid.jpg`` gets
JPEG bytes, ``grid.webp`` WebP, ``grid.gif`` a GIF and ``grid.png`` PNG (all through Pillow); any other
suffix is refused before the model is even loaded, with a message listing the ones that work.  Files are
written atomically (a half-written image never replaces a good one).  No Qt.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

#: suffix -> Pillow format name, for still images
STILL_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".gif": "GIF"}
#: extra keyword arguments per format: JPEG at high quality and without chroma subsampling (grids
#: of small images are all edges), WebP lossless
SAVE_OPTIONS = {"JPEG": {"quality": 95, "subsampling": 0}, "WEBP": {"lossless": True}}


def supported_suffixes() -> list[str]:
    """The ``--out`` suffixes this Pillow can write (WebP only where Pillow was built with it)."""
    from PIL import features

    return [s for s in STILL_FORMATS if s != ".webp" or features.check("webp")]


def check_out_path(out: str | os.PathLike, *, option: str = "--out", extra: dict[str, str] | None = None) -> Path:
    """``out`` as a Path, or a :class:`~explorer.errors.UserError` naming the problem: an unsupported
    suffix (the message lists the supported ones) or a folder that does not exist.

    ``extra`` maps further suffixes a command accepts to what they mean (interpolate's ``.gif``
    animation); they are listed first in the message."""
    from explorer.errors import UserError

    path = Path(out)
    suffix = path.suffix.lower()
    extra = extra or {}
    allowed = [*extra, *(s for s in supported_suffixes() if s not in extra)]
    if suffix not in allowed:
        what = f"ends in {path.suffix!r}" if path.suffix else "has no suffix"
        listed = ", ".join(f"{s} ({extra[s]})" if s in extra else s for s in allowed)
        raise UserError(f"{option} {path.name} {what}; the image format is chosen by the suffix: {listed}")
    if path.is_dir():
        raise UserError(f"{option} {path} is a folder; give a file name such as {path / ('out' + allowed[0])}")
    parent = path.parent
    if not parent.exists():
        raise UserError(f"{option} {path}: folder {parent} does not exist")
    return path


def image_bytes(array: np.ndarray, suffix: str) -> bytes:
    """A uint8 (H, W) grey or (H, W, 3) colour array encoded in the format ``suffix`` names."""
    from PIL import Image

    fmt = STILL_FORMATS[suffix.lower()]
    img = Image.fromarray(np.ascontiguousarray(array))
    buf = io.BytesIO()
    img.save(buf, format=fmt, **SAVE_OPTIONS.get(fmt, {}))
    return buf.getvalue()


def write_image(array: np.ndarray, out: str | os.PathLike) -> Path:
    """Write ``array`` to ``out`` (checked with :func:`check_out_path`) in its suffix's format."""
    from models.atomic_io import atomic_write_bytes

    path = check_out_path(out)
    atomic_write_bytes(path, image_bytes(array, path.suffix))
    return path

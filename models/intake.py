"""Image intake: any image Pillow can open -> the model's format, framed like Fashion-MNIST.

Fashion-MNIST items are light objects on a black background, centred, scaled so the longer side
fills the 28x28 frame.  :func:`load_image` does the same to any picture and reports each step, so a
user sees what the model actually saw.
"""
from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

#: Images with more pixels than this are refused (a 10000x10000 photo is accepted).
MAX_PIXELS = 100_000_000
#: Files larger than this are refused before they are read.
MAX_FILE_BYTES = 256 * 2**20
SIZE = 28


class IntakeError(Exception):
    """An image could not be taken in; the message says why and what to do."""


@dataclass
class IntakeResult:
    uint8: torch.Tensor                 # (1, 28, 28) uint8, what the model sees
    steps: list[str] = field(default_factory=list)
    original_size: tuple[int, int] = (0, 0)
    original_mode: str = ""
    source: str = ""

    @property
    def float01(self) -> torch.Tensor:
        return self.uint8.float() / 255.0

    def describe(self) -> str:
        return "; ".join(self.steps) if self.steps else "used as is"


_VECTOR_MAGIC = {b"%PDF": "PDF", b"<svg": "SVG", b"<?xm": "SVG/XML"}


def load_image(source: str | os.PathLike | bytes, *, size: int = SIZE) -> IntakeResult:
    """Read an image file (or its bytes) and frame it as a ``size`` x ``size`` grayscale image."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    name = "image" if isinstance(source, (bytes, bytearray)) else Path(source).name
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    else:
        p = Path(source)
        if not p.exists():
            raise IntakeError(f"{name}: no such file")
        if p.is_dir():
            raise IntakeError(f"{name}: is a folder, not an image")
        if p.stat().st_size > MAX_FILE_BYTES:
            raise IntakeError(f"{name}: file is {p.stat().st_size / 2**20:.0f} MiB, more than the "
                              f"{MAX_FILE_BYTES // 2**20} MiB allowed for an image")
        try:
            data = p.read_bytes()
        except PermissionError:
            raise IntakeError(f"{name}: permission denied; make the file readable") from None
        except OSError as exc:
            raise IntakeError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    if not data:
        raise IntakeError(f"{name}: the file is empty (0 bytes)")
    stripped = data.lstrip()[:4]
    for magic, kind in _VECTOR_MAGIC.items():
        if stripped.startswith(magic) or (kind.startswith("SVG") and b"<svg" in data[:2048]):
            raise IntakeError(f"{name}: {kind.split('/')[0]} is a vector/document format, which is not "
                              f"supported; export it as PNG first")
    steps: list[str] = []
    old_limit = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = MAX_PIXELS
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            try:
                img = Image.open(io.BytesIO(data))
            except UnidentifiedImageError:
                raise IntakeError(f"{name}: not an image file Pillow can read (PNG, JPEG, GIF, BMP, TIFF, "
                                  f"WebP, ...)") from None
            except (Image.DecompressionBombError, Image.DecompressionBombWarning):
                raise IntakeError(f"{name}: image is too large (over {MAX_PIXELS // 10**6} megapixels; "
                                  f"possibly a decompression bomb); scale it down first") from None
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise IntakeError(f"{name}: image is {w}x{h} ({w * h / 1e6:.0f} megapixels), more than the "
                                  f"{MAX_PIXELS // 10**6} megapixels allowed; scale it down first")
            if w < 1 or h < 1:
                raise IntakeError(f"{name}: image has no pixels ({w}x{h})")
            orig_mode = img.mode
            n_frames = getattr(img, "n_frames", 1)
            if n_frames > 1:
                img.seek(0)
                steps.append(f"animated ({n_frames} frames): used the first frame")
            if img.format == "JPEG" and max(w, h) > 8 * size:
                img.draft("RGB" if img.mode in ("RGB", "YCbCr", "CMYK") else "L", (4 * size, 4 * size))
            try:
                img.load()
            except (OSError, SyntaxError, ValueError) as exc:
                raise IntakeError(f"{name}: the image data is damaged or truncated ({exc})") from None
            except (Image.DecompressionBombError, Image.DecompressionBombWarning):
                raise IntakeError(f"{name}: image is too large (possibly a decompression bomb)") from None
            transposed = ImageOps.exif_transpose(img)
            if transposed is not None and transposed.size != img.size or _exif_orientation(img) not in (0, 1):
                steps.append("rotated by its EXIF orientation")
            img = transposed if transposed is not None else img
            arr = _to_gray(img, steps)
    finally:
        Image.MAX_IMAGE_PIXELS = old_limit
    arr = _frame(arr, size, steps)
    if (w, h) != (size, size) or orig_mode != "L":
        steps.insert(0, f"{w}x{h} {orig_mode}")
    return IntakeResult(torch.from_numpy(arr).unsqueeze(0), steps, (w, h), orig_mode, name)


def _exif_orientation(img) -> int:
    try:
        return int(img.getexif().get(0x0112, 1))
    except Exception:  # noqa: BLE001 - broken EXIF must not stop intake
        return 1


def _to_gray(img, steps: list[str]) -> np.ndarray:
    """Any mode -> float array in [0, 255] (alpha composited on black, 16-bit rescaled)."""
    from PIL import Image

    mode = img.mode
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(img, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or a.max() > 255 else 255.0
        steps.append(f"{'16' if top > 255 else '32'}-bit values scaled to 8 bits")
        return np.clip(a / top * 255.0, 0, 255)
    if mode == "F":
        a = np.asarray(img, dtype=np.float64)
        lo, hi = float(np.nanmin(a)), float(np.nanmax(a))
        steps.append("floating-point values rescaled to 0-255")
        return np.zeros_like(a) if hi <= lo else (a - lo) / (hi - lo) * 255.0
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        alpha = np.asarray(rgba.getchannel("A"), dtype=np.float64) / 255.0
        gray = np.asarray(rgba.convert("L"), dtype=np.float64)
        if alpha.min() < 1.0:
            steps.append("transparent pixels taken as background")
            # composite on the background the picture itself implies: the colour under the opaque
            # border, else black (Fashion-MNIST's background)
            return gray * alpha
        return gray
    if mode == "CMYK":
        steps.append("CMYK converted to grayscale")
        return np.asarray(img.convert("RGB").convert("L"), dtype=np.float64)
    if mode != "L":
        if mode != "1":
            steps.append("converted to grayscale")
        img = img.convert("L")
    return np.asarray(img, dtype=np.float64)


def _frame(gray: np.ndarray, size: int, steps: list[str]) -> np.ndarray:
    """Light-on-dark, cropped to content, longer side scaled to ``size``, centred."""
    from PIL import Image

    h, w = gray.shape
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if (h, w) == (size, size):
        if border.mean() > 127:
            steps.append("inverted (light background; the model expects dark)")
            gray = 255.0 - gray
        return np.clip(np.round(gray), 0, 255).astype(np.uint8)
    if border.mean() > 127:
        gray = 255.0 - gray
        steps.append("inverted (light background; the model expects dark)")
        border = 255.0 - border
    bg = float(np.median(border))
    mask = np.abs(gray - bg) > max(16.0, 0.1 * float(np.abs(gray - bg).max()))
    if mask.any() and min(h, w) > 1:
        ys, xs = np.nonzero(mask)
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        if (y1 - y0, x1 - x0) != (h, w):
            gray = gray[y0:y1, x0:x1]
            steps.append(f"cropped to content ({x1 - x0}x{y1 - y0})")
    gray = np.clip(gray - bg, 0, 255) if bg > 0 else gray
    ch, cw = gray.shape
    scale = size / max(ch, cw)
    nw, nh = max(1, round(cw * scale)), max(1, round(ch * scale))
    im = Image.fromarray(np.clip(np.round(gray), 0, 255).astype(np.uint8), "L")
    im = im.resize((nw, nh), Image.Resampling.LANCZOS, reducing_gap=3.0)
    steps.append(f"scaled to {nw}x{nh} and centred in {size}x{size}")
    canvas = np.zeros((size, size), dtype=np.uint8)
    oy, ox = (size - nh) // 2, (size - nw) // 2
    canvas[oy:oy + nh, ox:ox + nw] = np.asarray(im)
    return canvas


def from_array(a: np.ndarray, source: str = "array") -> list[IntakeResult]:
    """An (N, 28, 28) or (N, 1, 28, 28) uint8 array (values 0-255) -> intake results, used as is."""
    a = np.asarray(a)
    if a.ndim == 2:
        a = a[None]
    if a.ndim == 4 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 3 or a.shape[1:] != (SIZE, SIZE):
        raise IntakeError(f"{source}: array of shape {a.shape}; expected (N, 28, 28) or (N, 1, 28, 28)")
    if a.dtype != np.uint8:
        if not np.issubdtype(a.dtype, np.number) or not np.isfinite(a).all() or a.min() < 0 or a.max() > 255:
            raise IntakeError(f"{source}: array of dtype {a.dtype} with values outside 0-255; expected uint8")
        a = np.round(a).astype(np.uint8)
    t = torch.from_numpy(np.ascontiguousarray(a)).unsqueeze(1)
    return [IntakeResult(t[i], [], (SIZE, SIZE), "L", source) for i in range(t.shape[0])]

"""Image intake: any image Pillow can open -> the model's format, framed like Fashion-MNIST.

Fashion-MNIST items are light objects on a black background, centred, scaled so the longer side
fills the 28x28 frame.  :func:`load_image` does the same to any picture and reports each step, so a
user sees what the model actually saw.
"""
from __future__ import annotations

import io
import os
import stat
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .errors import LatentExplorerError

#: Images with more pixels than this are refused (a 10000x10000 photo is accepted).
MAX_PIXELS = 100_000_000
#: Files larger than this are refused before they are read.
MAX_FILE_BYTES = 256 * 2**20
SIZE = 28


class IntakeError(LatentExplorerError):
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
#: Images wider or taller than this are reduced (box filter) before any float work, so a
#: 10000x10000 picture costs about as much as its decoding, not gigabytes of float arrays.
MAX_WORK_SIDE = 1024
_ANIMATED_FORMATS = ("GIF", "PNG", "WEBP", "FLI", "MPO")


def _pillow():
    """Pillow, configured once for the whole process (never toggled per call: intake runs on worker
    threads).  Pillow itself refuses images over 2 x MAX_PIXELS while reading their header; we refuse
    anything over MAX_PIXELS ourselves, so its warning for the range between is silenced."""
    from PIL import Image

    if Image.MAX_IMAGE_PIXELS != MAX_PIXELS:
        Image.MAX_IMAGE_PIXELS = MAX_PIXELS
        warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
    return Image


def _clean_name(name: str) -> str:
    """A file name as one printable line (a name may hold newlines or terminal escapes)."""
    name = "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)
    return name if len(name) <= 120 else name[:119] + "…"


def _read_file(p: Path, name: str) -> bytes:
    try:
        st = p.stat()
    except FileNotFoundError:
        raise IntakeError(f"{name}: no such file") from None
    except (OSError, ValueError) as exc:
        raise IntakeError(f"{name}: cannot be opened ({getattr(exc, 'strerror', None) or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise IntakeError(f"{name}: is a folder, not an image")
    if not stat.S_ISREG(st.st_mode):
        raise IntakeError(f"{name}: not a regular file (a named pipe, device or socket); save the image as a "
                          f"file first")
    if not os.access(p, os.R_OK):
        raise IntakeError(f"{name}: permission denied; make the file readable")
    if st.st_size > MAX_FILE_BYTES:
        raise IntakeError(f"{name}: file is {st.st_size / 2**20:.0f} MiB, more than the "
                          f"{MAX_FILE_BYTES // 2**20} MiB allowed for an image")
    try:
        with open(p, "rb") as fh:
            return fh.read(MAX_FILE_BYTES + 1)
    except PermissionError:
        raise IntakeError(f"{name}: permission denied; make the file readable") from None
    except OSError as exc:
        raise IntakeError(f"{name}: cannot be read ({exc.strerror or exc})") from None


def load_image(source: str | os.PathLike | bytes, *, size: int = SIZE) -> IntakeResult:
    """Read an image file (or its bytes) and frame it as a ``size`` x ``size`` grayscale image.

    Raises :class:`IntakeError` (one line: what is wrong and what to do) for anything that is not a
    usable raster image: empty, damaged or truncated files, vector/document formats (SVG, PDF),
    images over :data:`MAX_PIXELS` (decompression bombs included), folders, pipes, unreadable files.
    """
    Image = _pillow()
    from PIL import ImageOps, UnidentifiedImageError

    if isinstance(source, (bytes, bytearray, memoryview)):
        name, data = "image", bytes(source)
    else:
        p = Path(source)
        name = _clean_name(p.name or str(p))
        data = _read_file(p, name)
    if not data:
        raise IntakeError(f"{name}: the file is empty (0 bytes)")
    if len(data) > MAX_FILE_BYTES:
        raise IntakeError(f"{name}: more than the {MAX_FILE_BYTES // 2**20} MiB allowed for an image")
    stripped = data.lstrip()[:4]
    for magic, kind in _VECTOR_MAGIC.items():
        if stripped.startswith(magic) or (kind.startswith("SVG") and b"<svg" in data[:2048]):
            raise IntakeError(f"{name}: {kind.split('/')[0]} is a vector/document format, which is not "
                              f"supported; export it as PNG first")
    steps: list[str] = []
    too_large = (f"{name}: image is too large (over {MAX_PIXELS // 10**6} megapixels, or metadata that "
                 f"unpacks to too much; possibly a decompression bomb); scale it down first")
    try:
        img = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise IntakeError(f"{name}: not an image file Pillow can read (PNG, JPEG, GIF, BMP, TIFF, "
                          f"WebP, ...)") from None
    except Image.DecompressionBombError:
        raise IntakeError(too_large) from None
    except ValueError as exc:  # e.g. "Decompressed data too large" for a zTXt/iCCP bomb
        if "too large" in str(exc).lower():
            raise IntakeError(too_large) from None
        raise IntakeError(f"{name}: the image is damaged ({_one_line(exc)})") from None
    except Exception as exc:  # noqa: BLE001 - Pillow's plugins raise many types for broken headers
        raise IntakeError(f"{name}: the image is damaged ({_one_line(exc)})") from None
    with img:
        w, h = img.size
        if w * h > MAX_PIXELS:
            raise IntakeError(f"{name}: image is too large: {w}x{h} ({w * h / 1e6:.0f} megapixels), more than the "
                              f"{MAX_PIXELS // 10**6} megapixels allowed; scale it down first")
        if w < 1 or h < 1:
            raise IntakeError(f"{name}: image has no pixels ({w}x{h})")
        orig_mode = img.mode
        try:
            n_frames = int(getattr(img, "n_frames", 1))
            if n_frames > 1:
                img.seek(0)
                what = "animated" if (img.format or "") in _ANIMATED_FORMATS else "multi-page"
                steps.append(f"{what} ({n_frames} frames): used the first frame")
            if img.format == "JPEG" and max(w, h) > 8 * size:
                img.draft("RGB" if img.mode in ("RGB", "YCbCr", "CMYK") else "L", (4 * size, 4 * size))
            img.load()
        except Image.DecompressionBombError:
            raise IntakeError(too_large) from None
        except MemoryError:
            raise IntakeError(too_large) from None
        except Exception as exc:  # noqa: BLE001 - OSError, SyntaxError, zlib.error, struct.error, ...
            raise IntakeError(f"{name}: the image data is damaged or truncated ({_one_line(exc)})") from None
        orientation = _exif_orientation(img)
        if orientation in range(2, 9):
            try:
                rotated = ImageOps.exif_transpose(img)
            except Exception:  # noqa: BLE001 - broken EXIF must not stop intake
                rotated = None
            if rotated is not None:
                img = rotated
                steps.append("rotated by its EXIF orientation")
        img = _shrink(img, steps)
        arr = _to_gray(img, steps)
    arr = _frame(arr, size, steps)
    if (w, h) != (size, size) or orig_mode != "L":
        steps.insert(0, f"{w}x{h} {orig_mode}")
    return IntakeResult(torch.from_numpy(arr).unsqueeze(0), steps, (w, h), orig_mode, name)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    text = "".join(c for c in text if c.isprintable())
    return (text[:157] + "...") if len(text) > 160 else (text or type(exc).__name__)


def _shrink(img, steps: list[str]):
    """Reduce a big image by an integer factor (box filter) so later float work stays small."""
    w, h = img.size
    if max(w, h) <= MAX_WORK_SIDE:
        return img
    factor = -(-max(w, h) // MAX_WORK_SIDE)
    steps.append(f"reduced {factor}x first ({w}x{h} -> {-(-w // factor)}x{-(-h // factor)})")
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif img.mode == "1":
        img = img.convert("L")
    elif img.mode.startswith("I;16"):
        img = img.convert("I")
    try:
        return img.reduce(factor)
    except (ValueError, NotImplementedError):
        return img.convert("RGBA" if "A" in img.getbands() else "RGB").reduce(factor)


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
        finite = np.isfinite(a)
        steps.append("floating-point values rescaled to 0-255")
        if not finite.all():
            steps.append("NaN/infinite pixels set to the lowest value")
        if not finite.any():
            return np.zeros_like(a)
        lo, hi = float(a[finite].min()), float(a[finite].max())
        a = np.where(finite, a, lo)
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

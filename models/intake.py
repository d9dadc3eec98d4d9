"""Image intake: the one way any image source becomes the model's input, with the steps it took.

:func:`take_in` accepts a file path, a folder (its image and array files, sorted, searched
recursively), image file bytes, ``.npy`` bytes or path (``np.load(allow_pickle=False)``: nothing in
it runs), a numpy array (pixel values 0-255: (H, W), (N, H, W), (N, C, H, W) or (N, H, W, C) with
C = 1, 3 or 4 (RGBA)), a torch tensor (uint8 0-255, or float in [0, 1] as models produce) or a PIL
image, and returns one :class:`IntakeResult` per image, in the model's own shape (C, H, W).  It owns
the one list of accepted suffixes (:data:`IMAGE_SUFFIXES`, :data:`ARRAY_SUFFIXES`, :func:`accepts`,
:func:`folder_files`): the CLI, the training data reader and the app's drops, pastes and file dialogs
all ask it, so they cannot disagree about what is an image.

How a picture is made into the model's input depends on what the model was trained on
(:class:`IntakeStyle`, :func:`style_for`):

* a model trained on Fashion-MNIST (its checkpoint's ``dataset.name``; a 1x28x28 model that records
  no data set is taken to follow that convention) gets pictures *framed* like Fashion-MNIST: light
  objects on black, centred, the longer side filling the frame (:mod:`models.framing`);
* any other model gets pictures *fitted* the way its training folder was read (:func:`models.data.image_folder`):
  transparency composited on the training background (recorded in the checkpoint, else white),
  centre-cropped to the model's aspect and resized with Lanczos, kept in colour for a colour model
  or turned into luma for a grey one.  A training image dropped back in is the image it trained on.

Arrays are used as they are, at the model's H x W (grey ones repeated into R, G, B for a colour
model; colour ones turned into luma for a grey model).  Every step is reported, so a user sees what
the model actually saw.  More than ``max_images`` images from one folder or array: the first
``max_images`` are returned and the last result's ``steps`` end with a note saying how many were
left out.  Anything unusable raises :class:`IntakeError`, one line that says what is wrong and what
to do.
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

from .file_kinds import ARRAY_SUFFIXES, IMAGE_SUFFIXES
from .errors import first_line, printable_name
from .framing import exif_orientation, fit, frame, luma, shrink, to_gray, to_rgb
from .imaging import from_uint8, to_uint8
from .intake_style import FASHION_MNIST, FIT, SIZE, IntakeError, IntakeStyle, style_for  # noqa: F401 (re-exported)

#: Images with more pixels than this are refused (a 10000x10000 photo is accepted).
MAX_PIXELS = 100_000_000
#: Files larger than this are refused before they are read.
MAX_FILE_BYTES = 256 * 2**20
#: Files taken as pictures (anything Pillow opens with one of these suffixes), and as arrays.
#: Images taken from one folder or array unless the caller says otherwise.
MAX_IMAGES = 64


@dataclass
class IntakeResult:
    uint8: torch.Tensor                 # (C, H, W) uint8, what the model sees
    steps: list[str] = field(default_factory=list)
    original_size: tuple[int, int] = (0, 0)
    original_mode: str = ""
    source: str = ""
    index: int = 0                      # position in a multi-image source (an array's row)

    @property
    def float01(self) -> torch.Tensor:
        return from_uint8(self.uint8)

    def describe(self) -> str:
        return "; ".join(self.steps) if self.steps else "used as is"


_VECTOR_MAGIC = {b"%PDF": "PDF", b"<svg": "SVG", b"<?xm": "SVG/XML"}
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


def _read_file(p: Path, name: str) -> bytes:
    try:
        st = p.stat()
    except FileNotFoundError:
        raise IntakeError(f"{name}: no such file") from None
    except (OSError, ValueError) as exc:
        raise IntakeError(f"{name}: cannot be opened ({getattr(exc, 'strerror', None) or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        if not folder_files(p):
            raise IntakeError(f"{name}: is a folder, and there are no image files in this folder (looked for "
                              f"{', '.join(IMAGE_SUFFIXES + ARRAY_SUFFIXES)})")
        raise IntakeError(f"{name}: is a folder, not an image; open the folder itself to take in its images")
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


def load_image(source: str | os.PathLike | bytes, *, size: int = SIZE, name: str | None = None,
               style: IntakeStyle | None = None) -> IntakeResult:
    """Read an image file (or its bytes) and make it the model's input: by ``style`` (see
    :func:`style_for`), by default framed as a ``size`` x ``size`` grayscale image like Fashion-MNIST.

    Raises :class:`IntakeError` (one line: what is wrong and what to do) for anything that is not a
    usable raster image: empty, damaged or truncated files, vector/document formats (SVG, PDF),
    images over :data:`MAX_PIXELS` (decompression bombs included), folders, pipes, unreadable files.
    """
    Image = _pillow()
    from PIL import UnidentifiedImageError

    if isinstance(source, (bytes, bytearray, memoryview)):
        name, data = printable_name(name or "image", 120), bytes(source)
    else:
        p = Path(source)
        name = printable_name(name or p.name or str(p), 120)
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
    too_large = _too_large(name)
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
        raise IntakeError(f"{name}: the image is damaged ({first_line(exc, 160)})") from None
    except Exception as exc:  # noqa: BLE001 - Pillow's plugins raise many types for broken headers
        raise IntakeError(f"{name}: the image is damaged ({first_line(exc, 160)})") from None
    with img:
        return _from_pil(img, name, style or IntakeStyle((1, size, size)))


def _too_large(name: str) -> str:
    return (f"{name}: image is too large (over {MAX_PIXELS // 10**6} megapixels, or metadata that "
            f"unpacks to too much; possibly a decompression bomb); scale it down first")


def _from_pil(img, name: str, style: IntakeStyle) -> IntakeResult:
    """An open PIL image -> the result in ``style.shape`` (the image is not closed here)."""
    Image = _pillow()
    from PIL import ImageOps

    steps: list[str] = []
    too_large = _too_large(name)
    w, h = img.size
    if w * h > MAX_PIXELS:
        raise IntakeError(f"{name}: image is too large: {w}x{h} ({w * h / 1e6:.0f} megapixels), more than the "
                          f"{MAX_PIXELS // 10**6} megapixels allowed; scale it down first")
    if w < 1 or h < 1:
        raise IntakeError(f"{name}: image has no pixels ({w}x{h})")
    orig_mode = img.mode
    c, height, width = style.shape
    size = max(height, width)
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
        raise IntakeError(f"{name}: the image data is damaged or truncated ({first_line(exc, 160)})") from None
    orientation = exif_orientation(img)
    if orientation in range(2, 9):
        try:
            rotated = ImageOps.exif_transpose(img)
        except Exception:  # noqa: BLE001 - broken EXIF must not stop intake
            rotated = None
        if rotated is not None:
            img = rotated
            steps.append("rotated by its EXIF orientation")
    img = shrink(img, steps)
    if style.framing == FASHION_MNIST and height == width and c == 1:
        pixels = torch.from_numpy(frame(to_gray(img, steps), size, steps)).unsqueeze(0)
    else:
        rgb = np.asarray(fit(to_rgb(img, style.background, style.background_name, steps), height, width, steps))
        if c == 3:
            if orig_mode in ("L", "LA", "1", "I", "I;16", "I;16B", "I;16L", "F", "La"):
                steps.append("grey picture: the same value in R, G and B")
            pixels = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))
        else:
            if not (rgb[..., 0] == rgb[..., 1]).all() or not (rgb[..., 1] == rgb[..., 2]).all():
                steps.append("converted to grey (luma)")
            pixels = torch.from_numpy(luma(rgb)).unsqueeze(0)
    if (w, h) != (width, height) or orig_mode != ("RGB" if c == 3 else "L"):
        steps.insert(0, f"{w}x{h} {orig_mode}")
    return IntakeResult(pixels, steps, (w, h), orig_mode, name)


def from_array(a, source: str = "array", style: IntakeStyle | None = None) -> list[IntakeResult]:
    """Pixel values 0-255 -- (H, W), (N, H, W), (N, C, H, W) or (N, H, W, C) with C = 1, 3 or 4, any
    numeric dtype, or a torch tensor (uint8, or float in [0, 1] as models produce) -- as intake
    results at the model's H x W, used as they are (channels converted as the model needs, stated)."""
    style = style or IntakeStyle()
    c, height, width = style.shape
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu()
        a = to_uint8(a) if a.is_floating_point() else a.numpy()
    a = np.asarray(a)
    given = a.shape
    expected = (f"expected (N, {height}, {width}), (N, {c}, {height}, {width}) or (N, {height}, {width}, {c}) "
                f"pixel values 0-255")
    if a.ndim == 2:
        a = a[None]
    if a.ndim == 3 and a.shape[:2] == (height, width) and a.shape[2] in (3, 4) and a.shape[1:] != (height, width):
        a = a[None]                                   # one (H, W, 3|4) picture
    if a.ndim == 3:
        a = a[..., None]                              # (N, H, W) grey
    elif a.ndim == 4 and a.shape[1] in (1, 3, 4) and a.shape[2:] == (height, width) and \
            not (a.shape[3] in (1, 3, 4) and a.shape[1:3] == (height, width)):
        a = a.transpose(0, 2, 3, 1)                   # (N, C, H, W) -> (N, H, W, C)
    if a.ndim != 4 or a.shape[1:3] != (height, width) or a.shape[3] not in (1, 3, 4):
        raise IntakeError(f"{source}: array of shape {given}; {expected}")
    if a.dtype != np.uint8:
        if not np.issubdtype(a.dtype, np.number) or not np.isfinite(a).all() or a.min() < 0 or a.max() > 255:
            raise IntakeError(f"{source}: array of dtype {a.dtype} with values outside 0-255; expected uint8")
        a = np.round(a).astype(np.uint8)
    steps: list[str] = []
    if a.shape[3] == 4:
        alpha = a[..., 3:].astype(np.float32) / 255.0
        if alpha.min() < 1.0:
            steps.append(f"transparent pixels composited on {style.background_name} (the training background)")
        bg = np.asarray(style.background, np.float32)
        a = np.round(a[..., :3] * alpha + bg * (1.0 - alpha)).astype(np.uint8)
    if c == 3 and a.shape[3] == 1:
        steps.append("grey image: the same value in R, G and B")
        a = np.repeat(a, 3, axis=3)
    elif c == 1 and a.shape[3] == 3:
        steps.append("converted to grey (luma)")
        a = luma(a)[..., None]
    t = torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))
    mode = "L" if c == 1 else "RGB"
    return [IntakeResult(t[i], list(steps), (width, height), mode, source, i) for i in range(t.shape[0])]


# ------------------------------------------------------------------------------------------ one way in
def is_image_path(p: str | os.PathLike) -> bool:
    """True for a file name intake reads as a picture (by its suffix, :data:`IMAGE_SUFFIXES`)."""
    return Path(p).suffix.lower() in IMAGE_SUFFIXES


def accepts(p: str | os.PathLike) -> bool:
    """True for a file name intake takes in: a picture or an array (:data:`ARRAY_SUFFIXES`)."""
    return is_image_path(p) or Path(p).suffix.lower() in ARRAY_SUFFIXES


def folder_files(folder: str | os.PathLike, *, arrays: bool = True) -> list[Path]:
    """The files under ``folder`` (recursively, sorted, hidden ones skipped) that intake takes in;
    ``arrays=False`` keeps pictures only (training reads pictures)."""
    keep = accepts if arrays else is_image_path
    return sorted(f for f in Path(folder).rglob("*")
                  if not f.name.startswith(".") and keep(f) and f.is_file())


def take_in(source, *, image_shape: tuple[int, int, int] | None = None, model=None, name: str | None = None,
            max_images: int | None = MAX_IMAGES, style: IntakeStyle | None = None) -> list[IntakeResult]:
    """Any image source (see the module docstring) -> intake results in the model's shape.

    Pass ``model`` (its shape and checkpoint metadata choose the framing and background,
    :func:`style_for`), or a bare ``image_shape`` (default 1x28x28), or a ready ``style``.  ``name``
    labels the results and messages (default: the file's name).  At most ``max_images`` results
    (``None``: all); the last one's ``steps`` say how many were left out.  Raises
    :class:`IntakeError` for a source that gives no usable image.
    """
    style = style or style_for(model, image_shape)
    results = _take_all(source, name, style)
    if max_images is not None and len(results) > max_images:
        n = len(results)
        results = results[:max(int(max_images), 1)]
        results[-1].steps.append(f"took the first {len(results)} of {n} images")
    return results


def _take_all(source, name: str | None, style: IntakeStyle) -> list[IntakeResult]:
    from PIL import Image

    if isinstance(source, Image.Image):
        return [_from_pil(source, printable_name(name or "image", 120), style)]
    if isinstance(source, (np.ndarray, torch.Tensor)):
        return from_array(source, printable_name(name or "array", 120), style)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if data[:6] == b"\x93NUMPY":
            return _npy(data, printable_name(name or "array", 120), style)
        return [load_image(data, name=name, style=style)]
    if not isinstance(source, (str, os.PathLike)):
        raise IntakeError(f"{printable_name(name or type(source).__name__, 120)}: not an image source (a file, folder, "
                          f"bytes, array or picture)")
    p = Path(source)
    label = printable_name(name or p.name or str(p), 120)
    if p.is_dir():
        return _folder(p, label, style)
    if p.suffix.lower() in ARRAY_SUFFIXES:
        return _npy(_read_file(p, label), label, style)
    return [load_image(p, name=label, style=style)]


def _npy(data: bytes, name: str, style: IntakeStyle) -> list[IntakeResult]:
    """The images of a ``.npy`` file's bytes (``allow_pickle=False``: an object array is refused)."""
    try:
        arr = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        c, h, w = style.shape
        raise IntakeError(f"{name}: not a readable .npy array ({first_line(exc, 160)}); save it with "
                          f"numpy.save as uint8 (N, {h}, {w}){f' or (N, {h}, {w}, 3)' if c == 3 else ''}") from None
    return from_array(arr, name, style)


def _folder(folder: Path, name: str, style: IntakeStyle) -> list[IntakeResult]:
    """Every readable image in ``folder``; unreadable files are skipped and noted."""
    files = folder_files(folder)
    if not files:
        raise IntakeError(f"{name}: no image files in this folder (looked for "
                          f"{', '.join(IMAGE_SUFFIXES + ARRAY_SUFFIXES)})")
    out: list[IntakeResult] = []
    problems: list[str] = []
    for f in files:
        try:
            out += _take_all(f, printable_name(str(f.relative_to(folder)), 120), style)
        except IntakeError as exc:
            problems.append(str(exc))
    if not out:
        raise IntakeError(f"{name}: none of its {len(files)} image files could be read; first problem: "
                          f"{problems[0]}")
    if problems:
        out[-1].steps.append(f"skipped {len(problems)} unreadable file{'s' * (len(problems) != 1)} "
                             f"(first: {problems[0]})")
    return out

"""Image intake: the one way any image source becomes the model's input, with the steps it took.

:func:`take_in` accepts a file path, a folder (its image and array files, sorted, searched
recursively), image file bytes, ``.npy`` bytes or path (``np.load(allow_pickle=False)``: nothing in
it runs), a numpy array (pixel values 0-255: (H, W), (N, H, W), (N, 1, H, W) or (N, H, W, 1)), a
torch tensor (uint8 0-255, or float in [0, 1] as models produce) or a PIL image, and returns one
:class:`IntakeResult` per image.  It owns the one list of accepted suffixes (:data:`IMAGE_SUFFIXES`,
:data:`ARRAY_SUFFIXES`, :func:`accepts`, :func:`folder_files`): the CLI, the training data reader and
the app's drops, pastes and file dialogs all ask it, so they cannot disagree about what is an image.

Pictures are framed like Fashion-MNIST: light objects on a black background, centred, scaled so the
longer side fills the 28x28 frame (:func:`load_image`); arrays are used as they are.  Every step is
reported, so a user sees what the model actually saw.  More than ``max_images`` images from one
folder or array: the first ``max_images`` are returned and the last result's ``steps`` end with a
note saying how many were left out.  Anything unusable raises :class:`IntakeError`, one line that
says what is wrong and what to do.
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

from .errors import LatentExplorerError, first_line, printable_name
from .framing import exif_orientation, frame, shrink, to_gray
from .imaging import from_uint8, to_uint8

#: Images with more pixels than this are refused (a 10000x10000 photo is accepted).
MAX_PIXELS = 100_000_000
#: Files larger than this are refused before they are read.
MAX_FILE_BYTES = 256 * 2**20
SIZE = 28
#: The image shapes intake can produce today (the models' own shape; colour and other sizes to come).
SUPPORTED_SHAPES = ((1, SIZE, SIZE),)
#: Files taken as pictures (anything Pillow opens with one of these suffixes), and as arrays.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm",
                  ".ico", ".tga")
ARRAY_SUFFIXES = (".npy",)
#: Images taken from one folder or array unless the caller says otherwise.
MAX_IMAGES = 64


class IntakeError(LatentExplorerError):
    """An image could not be taken in; the message says why and what to do."""


@dataclass
class IntakeResult:
    uint8: torch.Tensor                 # (1, 28, 28) uint8, what the model sees
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


def load_image(source: str | os.PathLike | bytes, *, size: int = SIZE, name: str | None = None) -> IntakeResult:
    """Read an image file (or its bytes) and frame it as a ``size`` x ``size`` grayscale image.

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
        return _from_pil(img, name, size)


def _too_large(name: str) -> str:
    return (f"{name}: image is too large (over {MAX_PIXELS // 10**6} megapixels, or metadata that "
            f"unpacks to too much; possibly a decompression bomb); scale it down first")


def _from_pil(img, name: str, size: int) -> IntakeResult:
    """An open PIL image -> the framed ``size`` x ``size`` result (the image is not closed here)."""
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
    arr = to_gray(img, steps)
    arr = frame(arr, size, steps)
    if (w, h) != (size, size) or orig_mode != "L":
        steps.insert(0, f"{w}x{h} {orig_mode}")
    return IntakeResult(torch.from_numpy(arr).unsqueeze(0), steps, (w, h), orig_mode, name)


def from_array(a, source: str = "array") -> list[IntakeResult]:
    """Pixel values 0-255 -- (H, W), (N, H, W), (N, 1, H, W) or (N, H, W, 1), any numeric dtype, or a
    torch tensor (uint8, or float in [0, 1] as models produce) -- as intake results, used as they are."""
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu()
        a = to_uint8(a) if a.is_floating_point() else a.numpy()
    a = np.asarray(a)
    if a.ndim == 2:
        a = a[None]
    if a.ndim == 4 and a.shape[1] == 1:
        a = a[:, 0]
    elif a.ndim == 4 and a.shape[3] == 1:
        a = a[..., 0]
    if a.ndim != 3 or a.shape[1:] != (SIZE, SIZE):
        raise IntakeError(f"{source}: array of shape {a.shape}; expected (N, {SIZE}, {SIZE}) or "
                          f"(N, 1, {SIZE}, {SIZE}) pixel values 0-255")
    if a.dtype != np.uint8:
        if not np.issubdtype(a.dtype, np.number) or not np.isfinite(a).all() or a.min() < 0 or a.max() > 255:
            raise IntakeError(f"{source}: array of dtype {a.dtype} with values outside 0-255; expected uint8")
        a = np.round(a).astype(np.uint8)
    t = torch.from_numpy(np.ascontiguousarray(a)).unsqueeze(1)
    return [IntakeResult(t[i], [], (SIZE, SIZE), "L", source, i) for i in range(t.shape[0])]


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


def take_in(source, *, image_shape: tuple[int, int, int] = (1, SIZE, SIZE), name: str | None = None,
            max_images: int | None = MAX_IMAGES) -> list[IntakeResult]:
    """Any image source (see the module docstring) -> intake results in ``image_shape``.

    ``name`` labels the results and messages (default: the file's name).  At most ``max_images``
    results (``None``: all); the last one's ``steps`` say how many were left out.  Raises
    :class:`IntakeError` for a source that gives no usable image.
    """
    if tuple(image_shape) not in SUPPORTED_SHAPES:
        raise IntakeError(f"images of shape {'x'.join(map(str, image_shape))} cannot be taken in yet (this "
                          f"version frames pictures as {'x'.join(map(str, SUPPORTED_SHAPES[0]))}); use a "
                          f"model of that shape")
    results = _take_all(source, name)
    if max_images is not None and len(results) > max_images:
        n = len(results)
        results = results[:max(int(max_images), 1)]
        results[-1].steps.append(f"took the first {len(results)} of {n} images")
    return results


def _take_all(source, name: str | None) -> list[IntakeResult]:
    from PIL import Image

    if isinstance(source, Image.Image):
        return [_from_pil(source, printable_name(name or "image", 120), SIZE)]
    if isinstance(source, (np.ndarray, torch.Tensor)):
        return from_array(source, printable_name(name or "array", 120))
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if data[:6] == b"\x93NUMPY":
            return _npy(data, printable_name(name or "array", 120))
        return [load_image(data, name=name)]
    if not isinstance(source, (str, os.PathLike)):
        raise IntakeError(f"{printable_name(name or type(source).__name__, 120)}: not an image source (a file, folder, "
                          f"bytes, array or picture)")
    p = Path(source)
    label = printable_name(name or p.name or str(p), 120)
    if p.is_dir():
        return _folder(p, label)
    if p.suffix.lower() in ARRAY_SUFFIXES:
        return _npy(_read_file(p, label), label)
    return [load_image(p, name=label)]


def _npy(data: bytes, name: str) -> list[IntakeResult]:
    """The images of a ``.npy`` file's bytes (``allow_pickle=False``: an object array is refused)."""
    try:
        arr = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise IntakeError(f"{name}: not a readable .npy array ({first_line(exc, 160)}); save it with "
                          f"numpy.save as uint8 (N, {SIZE}, {SIZE})") from None
    return from_array(arr, name)


def _folder(folder: Path, name: str) -> list[IntakeResult]:
    """Every readable image in ``folder``; unreadable files are skipped and noted."""
    files = folder_files(folder)
    if not files:
        raise IntakeError(f"{name}: no image files in this folder (looked for "
                          f"{', '.join(IMAGE_SUFFIXES + ARRAY_SUFFIXES)})")
    out: list[IntakeResult] = []
    problems: list[str] = []
    for f in files:
        try:
            out += _take_all(f, printable_name(str(f.relative_to(folder)), 120))
        except IntakeError as exc:
            problems.append(str(exc))
    if not out:
        raise IntakeError(f"{name}: none of its {len(files)} image files could be read; first problem: "
                          f"{problems[0]}")
    if problems:
        out[-1].steps.append(f"skipped {len(problems)} unreadable file{'s' * (len(problems) != 1)} "
                             f"(first: {problems[0]})")
    return out

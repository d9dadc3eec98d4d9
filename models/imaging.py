"""Image tensors <-> 8-bit pixels and files: the one float<->uint8 conversion, grids, strips, GIFs.

The conversion is the one the likelihood uses for pixel levels (:mod:`models.likelihood`):

    u8 = round(clamp(x, 0, 1) * 255)        x = u8 / 255

with round-half-to-even, computed in float32.  Why one helper: the OOD features, the intake, the
app's canvas and the exported files must agree to the last level, or an image scored from a file
and the same image scored from the screen get different numbers.  :func:`to_uint8` keeps its
input's shape ((N, C, H, W) stays (N, C, H, W), C = 1 or 3); :func:`hwc` lays images out as
Pillow wants them.  Files are written with :func:`models.atomic_io.atomic_write_bytes`.
"""
from __future__ import annotations

import io
import math
import os
from typing import Sequence

import numpy as np
import torch

from .atomic_io import atomic_write_bytes


def to_uint8(x: torch.Tensor | np.ndarray) -> np.ndarray:
    """Floats in [0, 1] (any shape, e.g. (N, C, H, W)) -> a uint8 numpy array of the same shape."""
    t = torch.as_tensor(x).detach().to("cpu", torch.float32)
    return (t.clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def from_uint8(a: torch.Tensor | np.ndarray) -> torch.Tensor:
    """uint8 pixels (any shape) -> a float32 tensor of the same shape in [0, 1] (same device)."""
    t = a if isinstance(a, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(a))
    return t.float() / 255.0


def hwc(images_u8: np.ndarray) -> np.ndarray:
    """(N, C, H, W) or (N, H, W) uint8 -> (N, H, W) for one channel, (N, H, W, 3) for colour."""
    if images_u8.ndim == 3:
        return images_u8
    if images_u8.ndim != 4 or images_u8.shape[1] not in (1, 3):
        raise ValueError(f"expected (N, 1 or 3, H, W) images, got shape {images_u8.shape}")
    return images_u8[:, 0] if images_u8.shape[1] == 1 else np.ascontiguousarray(images_u8.transpose(0, 2, 3, 1))


def grid(images: torch.Tensor, nrow: int | None = None, pad: int = 2, scale: int = 1) -> np.ndarray:
    """Tile images into one uint8 array, ``nrow`` per row (default: a square-ish grid)."""
    a = hwc(to_uint8(images))
    n, h, w = a.shape[:3]
    nrow = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / nrow)
    out = np.zeros((rows * (h + pad) + pad, nrow * (w + pad) + pad, *a.shape[3:]), dtype=np.uint8)
    for i in range(n):
        r, c = divmod(i, nrow)
        out[pad + r * (h + pad):pad + r * (h + pad) + h, pad + c * (w + pad):pad + c * (w + pad) + w] = a[i]
    if scale > 1:
        out = out.repeat(scale, 0).repeat(scale, 1)
    return out


def png_bytes(array: np.ndarray) -> bytes:
    """An (H, W) or (H, W, 3) uint8 array as PNG file bytes."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def save_grid(images: torch.Tensor, path: str | os.PathLike, nrow: int | None = None, scale: int = 1) -> None:
    atomic_write_bytes(path, png_bytes(grid(images, nrow=nrow, scale=scale)))


def save_strip(frames: torch.Tensor, path: str | os.PathLike, scale: int = 1) -> None:
    """All frames in one row, as PNG."""
    save_grid(frames, path, nrow=frames.shape[0], scale=scale)


def save_gif(frames: torch.Tensor | Sequence[np.ndarray], path: str | os.PathLike, *, fps: float = 12.0,
             scale: int = 4, loop: bool = True, boomerang: bool = False) -> None:
    """Frames (N, C, H, W) in [0, 1] (or uint8 (H, W[, 3]) arrays) -> an animated GIF file (atomically),
    nearest-neighbour upscaled by ``scale``."""
    atomic_write_bytes(path, gif_bytes(frames, fps=fps, scale=scale, loop=loop, boomerang=boomerang))


def gif_bytes(frames: torch.Tensor | Sequence[np.ndarray], *, fps: float = 12.0, scale: int = 4,
              loop: bool = True, boomerang: bool = False) -> bytes:
    """The bytes :func:`save_gif` writes."""
    from PIL import Image

    arrays = list(hwc(to_uint8(frames))) if isinstance(frames, torch.Tensor) else [np.asarray(f) for f in frames]
    if boomerang and len(arrays) > 2:
        arrays = arrays + arrays[-2:0:-1]
    if not arrays:
        raise ValueError("no frames to write")
    imgs = [Image.fromarray(a.repeat(scale, 0).repeat(scale, 1) if scale > 1 else a) for a in arrays]
    buf = io.BytesIO()
    imgs[0].save(buf, format="GIF", save_all=True, append_images=imgs[1:], duration=int(round(1000 / fps)),
                 loop=0 if loop else 1, optimize=False, disposal=1)
    return buf.getvalue()

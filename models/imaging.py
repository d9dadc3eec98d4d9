"""Image tensors <-> files: grids, strips and GIFs with Pillow, written atomically."""
from __future__ import annotations

import io
import math
import os
from typing import Sequence

import numpy as np
import torch

from .checkpoint import atomic_write_bytes


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, 1, H, W) or (N, H, W) floats in [0, 1] -> (N, H, W) uint8."""
    a = images.detach().float().cpu()
    if a.dim() == 4:
        a = a[:, 0]
    return (a.clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def grid(images: torch.Tensor, nrow: int | None = None, pad: int = 2, scale: int = 1) -> np.ndarray:
    """Tile images into one uint8 array, ``nrow`` per row (default: a square-ish grid)."""
    a = to_uint8(images)
    n, h, w = a.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / nrow)
    out = np.zeros((rows * (h + pad) + pad, nrow * (w + pad) + pad), dtype=np.uint8)
    for i in range(n):
        r, c = divmod(i, nrow)
        out[pad + r * (h + pad):pad + r * (h + pad) + h, pad + c * (w + pad):pad + c * (w + pad) + w] = a[i]
    if scale > 1:
        out = out.repeat(scale, 0).repeat(scale, 1)
    return out


def png_bytes(array: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def save_grid(images: torch.Tensor, path: str | os.PathLike, nrow: int | None = None, scale: int = 1) -> None:
    atomic_write_bytes(path, png_bytes(grid(images, nrow=nrow, scale=scale)))


def save_strip(frames: torch.Tensor, path: str | os.PathLike, scale: int = 1) -> None:
    """All frames in one row, as PNG."""
    save_grid(frames, path, nrow=frames.shape[0], scale=scale)


def save_gif(frames: torch.Tensor | Sequence[np.ndarray], path: str | os.PathLike, *, fps: float = 12.0,
             scale: int = 4, loop: bool = True, boomerang: bool = False) -> None:
    """Frames (N, 1, H, W) in [0, 1] -> an animated GIF (nearest-neighbour upscaled by ``scale``)."""
    from PIL import Image

    arrays = list(to_uint8(frames)) if isinstance(frames, torch.Tensor) else [np.asarray(f) for f in frames]
    if boomerang and len(arrays) > 2:
        arrays = arrays + arrays[-2:0:-1]
    if not arrays:
        raise ValueError("no frames to write")
    imgs = [Image.fromarray(a.repeat(scale, 0).repeat(scale, 1) if scale > 1 else a, "L") for a in arrays]
    buf = io.BytesIO()
    imgs[0].save(buf, format="GIF", save_all=True, append_images=imgs[1:], duration=int(round(1000 / fps)),
                 loop=0 if loop else 1, optimize=False, disposal=1)
    atomic_write_bytes(path, buf.getvalue())

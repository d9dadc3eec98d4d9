"""The interpolation panel's work off the GUI thread and its files: endpoints, frame decoding, exports.

* :func:`endpoint_job` / :func:`decode_u8` run on the model executor (they call torch);
* :func:`export_frames` writes the frames as an animated GIF or a PNG strip, nearest-neighbour
  upscaled by a whole factor (``scale_for``: the export size in pixels over the image height), and
  stamps the explorer's state into the file (:mod:`explorer.app.state_stamp`), so dropping the file
  back on the window restores the endpoints and the current point.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .rendering import display_image

#: default whole-number upscaling when no export size is chosen: GIF frames 4x, strip tiles 2x
GIF_SCALE = 4
STRIP_SCALE = 2


@dataclass
class Endpoint:
    label: str
    z: np.ndarray            # (D,) float32
    image: np.ndarray        # (H, W) or (H, W, 3) uint8: the decoded endpoint


def endpoint_job(model, spec, label: str) -> Callable[[], Endpoint]:
    """An endpoint from a seed, a file or pixels (``models.interpolation.endpoint_latent``), decoded."""
    def job() -> Endpoint:
        from models.interpolation import endpoint_latent

        z = endpoint_latent(model, spec).detach().float().cpu().numpy()
        return Endpoint(label, z, decode_u8(model, z)[0])
    return job


def decode_u8(model, z) -> np.ndarray:
    """Latents (N, D) -> images as the views draw them: (N, H, W) grey or (N, H, W, 3) colour uint8."""
    import torch

    from models.imaging import to_uint8

    with torch.no_grad():
        imgs = to_uint8(model.decode(torch.as_tensor(z, dtype=torch.float32).reshape(-1, model.latent_dim)))
    return np.stack([display_image(a) for a in imgs])


def frames_job(model, a: Endpoint, b: Endpoint, steps: int, method: str,
               classes: tuple[int, int] | None = None):
    """The path from ``a`` to ``b``: (zs (N, D), frames (N, H, W[, 3]) uint8).  With ``classes``
    (from, to) of a conditional model, z stays at ``a`` and the class moves from one to the other
    (:func:`models.conditional.class_blend_frames`, as ``interpolate --class-from --class-to``)."""
    def job():
        import torch

        from models import conditional, interpolation
        from models.imaging import to_uint8

        za = torch.from_numpy(a.z)
        with torch.no_grad():
            if classes is not None:
                zs, frames = conditional.class_blend_frames(model, za, za, steps, method, *classes)
            else:
                zs = interpolation.path(za, torch.from_numpy(b.z), steps, method)
                frames = interpolation.frames(model, zs[0], zs[-1], steps, method)
        return zs.float().cpu().numpy(), np.stack([display_image(f) for f in to_uint8(frames)])
    return job


def scale_for(height: int, size: int | None, default: int) -> int:
    """The whole upscaling factor that brings an image ``height`` pixels high closest to ``size``."""
    if not size:
        return default
    return max(1, int(round(size / max(1, height))))


def export_frames(frames: np.ndarray, path: str | Path, *, fps: float, bounce: bool,
                  size: int | None = None, record: dict | None = None) -> Path:
    """Frames (N, H, W[, 3]) uint8 as a GIF (``.gif``) or a PNG strip (anything else), atomically,
    carrying ``record`` (the explorer's state) in the GIF comment / PNG text chunk.  Raises OSError."""
    from models.atomic_io import atomic_write_bytes
    from models.imaging import from_uint8, gif_bytes, grid, png_bytes

    from .state_stamp import gif_with_state, png_with_state

    path = Path(path)
    h = int(frames.shape[1])
    if path.suffix.lower() == ".gif":
        data = gif_bytes(list(frames), fps=float(fps), scale=scale_for(h, size, GIF_SCALE), boomerang=bounce)
        # one write: a failure leaves the old file as it was (never a stateless GIF in its place)
        atomic_write_bytes(path, gif_with_state(data, record) if record is not None else data)
        return path
    chw = frames[:, None] if frames.ndim == 3 else frames.transpose(0, 3, 1, 2)
    data = png_bytes(grid(from_uint8(chw), nrow=len(frames), scale=scale_for(h, size, STRIP_SCALE)))
    atomic_write_bytes(path, png_with_state(data, record) if record is not None else data)
    return path

"""A frame as a pure function of its arguments: decode one latent to the image the canvas shows.

:func:`render_frame` runs on the model executor (``model_executor.py``), which renders only the newest
request.  It never moves the model: running out of GPU memory raises, and the executor runs the
window's fallback (move to the CPU) as a job of its own before rendering the frame again.
"""
from __future__ import annotations

import time

import numpy as np

from .state import Frame, LoadedModel


def render_frame(loaded: LoadedModel, values: np.ndarray, token: int, requested_at: float) -> Frame:
    """Decode ``loaded.z_from_values(values)`` to a (H, W) or (H, W, 3) uint8 image."""
    import torch

    from models.imaging import to_uint8

    t0 = time.perf_counter()
    z = torch.from_numpy(loaded.z_from_values(values).reshape(1, -1))
    with torch.no_grad():
        img = loaded.model.decode(z)
    pixels = display_image(to_uint8(img)[0])
    t1 = time.perf_counter()
    return Frame(image=pixels, values=np.asarray(values, dtype=np.float32).copy(), token=token,
                 requested_at=requested_at, rendered_at=t1, render_ms=(t1 - t0) * 1000.0, model=loaded)


def display_image(chw: np.ndarray) -> np.ndarray:
    """(C, H, W) or (H, W) uint8 -> what the views draw: (H, W) for grey, (H, W, 3) for colour."""
    a = np.asarray(chw)
    if a.ndim == 3:
        a = a[0] if a.shape[0] == 1 else np.ascontiguousarray(a.transpose(1, 2, 0))
    return a


def free_gpu_memory() -> None:
    """Release cached GPU memory after an out-of-memory error (best effort)."""
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception:  # noqa: BLE001 - best effort
        pass

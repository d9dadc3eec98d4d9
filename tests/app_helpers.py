"""Helpers for tests that drive the explorer window (see the ``make_window`` fixture in conftest.py)."""
from __future__ import annotations

import numpy as np


def wait_for_frame(win, qtbot, timeout: int = 30_000) -> None:
    """Wait until the canvas shows the frame for the state's current values."""
    qtbot.waitUntil(lambda: win.canvas.image() is not None and win.canvas.token == win.state.token,
                    timeout=timeout)


def expected_pixels(win) -> np.ndarray:
    """What ``model.decode`` gives for the values the latent dock's sliders show, as uint8 pixels."""
    import torch

    from explorer.app.rendering import display_image
    from models.imaging import to_uint8

    loaded = win.state.loaded
    values = np.array([s.value() for s in win.latent_dock.sliders], dtype=np.float32)
    z = torch.from_numpy(loaded.basis @ values)[None]
    return display_image(to_uint8(loaded.model.decode(z))[0])

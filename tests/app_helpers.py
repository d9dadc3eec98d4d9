"""Helpers for tests that drive the explorer window (see the ``make_window`` fixture in conftest.py).

Pixel checks compare what a *person* would see: :func:`painted_pixels` reads the canvas back from
the screen (the view's own rendering, sampled at each image pixel's centre), not from the arrays the
code under test keeps, and :func:`assert_visibly_different` asks for a change a person notices —
at least ``LEVELS`` grey levels in at least ``SHARE`` of the pixels — so a stale frame or a decoder
that ignores its latent cannot pass as "changed by one grey level in two pixels".
"""
from __future__ import annotations

import numpy as np

#: a change a person sees: this many grey levels ...
LEVELS = 30
#: ... in at least this share of the pixels
SHARE = 0.05


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
    z = torch.from_numpy(loaded.z_from_values(values))[None]
    return display_image(to_uint8(loaded.model.decode(z))[0])


def decoded_pixels(win, z) -> np.ndarray:
    """What ``model.decode(z)`` gives for a latent code ``z``, as the uint8 pixels the canvas draws."""
    import torch

    from explorer.app.rendering import display_image
    from models.imaging import to_uint8

    z = torch.as_tensor(np.asarray(z, dtype=np.float32)).reshape(1, -1)
    return display_image(to_uint8(win.state.loaded.model.decode(z))[0])


def painted_pixels(canvas) -> np.ndarray:
    """What the canvas shows on screen now, as (H, W) grey or (H, W, 3) uint8 at the image's own size:
    the view is rendered (``QWidget.grab``) and read at the centre of each image pixel."""
    from PySide6.QtCore import QPointF

    image = canvas.image()
    assert image is not None, "the canvas has no image"
    h, w = image.shape[:2]
    viewport = canvas.view.viewport()
    shot = viewport.grab().toImage()
    ratio = shot.devicePixelRatio()
    out = np.zeros((h, w, 3), np.uint8)
    for r in range(h):
        for c in range(w):
            scene = canvas.viewbox.mapViewToScene(QPointF(c + 0.5, r + 0.5))
            p = canvas.view.mapFromScene(scene)
            colour = shot.pixelColor(int(p.x() * ratio), int(p.y() * ratio))
            out[r, c] = (colour.red(), colour.green(), colour.blue())
    return out[..., 0].copy() if image.ndim == 2 else out


def differing_share(a, b, levels: int = LEVELS) -> float:
    """The share of pixels where ``a`` and ``b`` differ by at least ``levels`` grey levels."""
    d = np.abs(np.asarray(a).astype(int) - np.asarray(b).astype(int))
    if d.ndim == 3:
        d = d.max(-1)
    return float((d >= levels).mean())


def assert_visibly_different(a, b, what: str = "the images") -> None:
    share = differing_share(a, b)
    assert share >= SHARE, (f"{what} should differ visibly (>= {LEVELS} grey levels in >= {SHARE:.0%} of "
                            f"pixels); they differ so in {share:.1%}")


def assert_looks_the_same(a, b, what: str = "the images", tolerance: int = 2) -> None:
    """Equal up to ``tolerance`` grey levels (the screen read-back may round)."""
    d = np.abs(np.asarray(a).astype(int) - np.asarray(b).astype(int))
    assert d.shape and d.max() <= tolerance, f"{what} should look the same; they differ by up to {d.max()} levels"


def assert_shows(win, expected=None, what: str = "the canvas") -> np.ndarray:
    """The canvas's pixels and what is painted on screen are ``expected`` (default: decode of the sliders).
    Returns the painted pixels."""
    expected = expected_pixels(win) if expected is None else expected
    assert np.array_equal(win.canvas.image(), expected), f"{what}: the canvas holds another image than expected"
    shown = painted_pixels(win.canvas)
    assert_looks_the_same(shown, expected, f"{what} (as painted on screen)")
    return shown

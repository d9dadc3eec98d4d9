"""The app's class selector: shown only for class-conditional models; choosing a class changes what a
person sees on the canvas, in the sampling grid and in the interpolation, and every selector follows.

Offscreen Qt (tests/conftest.py).  The model is a tiny conditional VAE trained for seconds on two obvious
classes, light on the left or on the right (tests/conditional_helpers.py), so "the class shows" is
"the light moved to that side", read from the painted screen.
"""
from __future__ import annotations

import numpy as np
import pytest

from app_helpers import assert_shows, assert_visibly_different, painted_pixels, wait_for_frame  # noqa: I001
from conditional_helpers import CLASSES, left_share, trained


@pytest.fixture(scope="module")
def cvae_path():
    return trained("vae")


def _icon_pixels(button) -> np.ndarray:
    """A sampling tile as a person sees it: the button's icon, read back as grey levels."""
    img = button.icon().pixmap(button.iconSize()).toImage().convertToFormat(
        __import__("PySide6.QtGui", fromlist=["QImage"]).QImage.Format.Format_Grayscale8)
    a = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())[:, :img.width()]
    return a.copy()


def _choose(win, qtbot, selector, text: str) -> None:
    """Pick ``text`` in ``selector`` as a user does (the combo's activated signal), then wait for the frame."""
    i = selector.combo.findText(text)
    assert i >= 0, [selector.combo.itemText(j) for j in range(selector.combo.count())]
    selector.combo.setCurrentIndex(i)
    selector.combo.activated.emit(i)
    want = None if text == "Any class" else CLASSES.index(text)
    qtbot.waitUntil(lambda: win.state.class_index == want, timeout=30_000)
    wait_for_frame(win, qtbot)


def test_the_class_selector_is_shown_only_for_conditional_models(make_window, tiny_vae_path, cvae_path, qtbot):
    win = make_window(tiny_vae_path)
    selectors = (win.sampling_panel.class_selector, win.interpolation_dock.panel.class_selector)
    assert all(s.isHidden() for s in selectors)
    with qtbot.waitSignal(win.model_load_finished, timeout=120_000):
        win.open_model(cvae_path)
    wait_for_frame(win, qtbot)
    for s in selectors:
        assert not s.isHidden()
        assert [s.combo.itemText(i) for i in range(s.combo.count())] == ["Any class", *CLASSES]
        assert s.combo.currentText() == "Any class"
    with qtbot.waitSignal(win.model_load_finished, timeout=120_000):
        win.open_model(tiny_vae_path)
    wait_for_frame(win, qtbot)
    assert all(s.isHidden() for s in selectors)


def test_choosing_a_class_changes_the_canvas_the_samples_and_the_interpolation(make_window, cvae_path, qtbot):
    win = make_window(cvae_path)
    panel, interp = win.sampling_panel, win.interpolation_dock.panel
    qtbot.waitUntil(lambda: panel.grid_data is not None and interp.frames is not None, timeout=60_000)

    _choose(win, qtbot, panel.class_selector, "left")
    left = assert_shows(win)            # the canvas holds decode(z) of the chosen class, and it is painted
    assert left_share(painted_pixels(win.canvas)[None] / 255.0)[0] > 0.75
    qtbot.waitUntil(lambda: np.median(left_share(panel.grid_data.images / 255.0)) > 0.75, timeout=60_000)
    tile_left = _icon_pixels(panel.buttons[0])
    assert interp.class_selector.combo.currentText() == "left"       # the other selector follows
    qtbot.waitUntil(lambda: left_share(interp.frames / 255.0).mean() > 0.7, timeout=60_000)

    _choose(win, qtbot, interp.class_selector, "right")                # from the interpolation panel
    right = assert_shows(win)
    assert left_share(right[None] / 255.0)[0] < 0.25
    assert_visibly_different(right, left, "the canvas drawn as 'right' and as 'left'")
    assert panel.class_selector.combo.currentText() == "right"
    qtbot.waitUntil(lambda: np.median(left_share(panel.grid_data.images / 255.0)) < 0.25, timeout=60_000)
    assert_visibly_different(_icon_pixels(panel.buttons[0]), tile_left, "the first sampling tile in each class")
    qtbot.waitUntil(lambda: left_share(interp.frames / 255.0).mean() < 0.3, timeout=60_000)
    assert win.state.values.tolist() == [0.0] * win.state.loaded.latent_dim   # the same point, another class


def test_the_gan_truncation_tooltip_says_what_it_does(make_window, tiny_gan_path, monkeypatch):
    import models.gan

    monkeypatch.setattr(models.gan, "DIRECTION_SAMPLES", 512)
    win = make_window(tiny_gan_path)
    tip = win.sampling_panel.temperature.toolTip()
    assert "pulls z toward the mean latent (ψ·z)" in tip.lower()
    assert "truncation trick" not in tip

"""The explorer window: sliders drive the image (it is model.decode of the slider values), bursts end on
their last value, the worker renders only the newest request, render failures are shown and survived.
Models, drops, devices and sampling: tests/test_app_models.py.

Offscreen Qt (tests/conftest.py).  No test asserts a timing.  Pixel tests use the bundled trained VAE
and read the canvas back from the screen (``app_helpers.assert_shows``), so a stale frame, a frozen
canvas or a decoder that ignores its latent fails them.
"""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from models.imaging import to_uint8

from app_helpers import assert_looks_the_same, assert_shows, assert_visibly_different, painted_pixels, wait_for_frame  # noqa: I001  (tests/ is on sys.path)


# ---------------------------------------------------------------------------------------------- sliders
def test_moving_a_slider_changes_the_image_to_decode_of_the_slider_values(make_window, trained_vae_path, qtbot):
    win = make_window(trained_vae_path)
    before = assert_shows(win)  # all zeros: the prior's mean

    win.latent_dock.sliders[0].setValue(2.5)
    win.latent_dock.sliders[1].setValue(-1.75)
    wait_for_frame(win, qtbot)

    shown = assert_shows(win)   # decode of the sliders, in the image item and on screen
    assert win.canvas.image().shape == (28, 28) and win.canvas.image().dtype == np.uint8
    assert_visibly_different(shown, before, "the image after moving two sliders and before")
    assert np.allclose(win.state.values[:2], [2.5, -1.75], atol=0.01)
    # and back: the first image again
    win.latent_dock.sliders[0].setValue(0.0)
    win.latent_dock.sliders[1].setValue(0.0)
    wait_for_frame(win, qtbot)
    assert_looks_the_same(assert_shows(win), before, "the image after moving the sliders back")


def test_after_a_burst_the_last_value_is_shown(make_window, trained_vae_path, qtbot):
    win = make_window(trained_vae_path)
    start = painted_pixels(win.canvas)
    slider = win.latent_dock.sliders[0]
    rendered_before = win.executor.frames_rendered
    values = np.linspace(-3, 3, 400)
    for i, v in enumerate(values):
        slider.setValue(float(v))
        if i % 25 == 0:
            qtbot.wait(1)  # let some frames through, as a real drag would
    wait_for_frame(win, qtbot)
    assert win.state.values[0] == pytest.approx(3.0, abs=0.01)
    assert win.state.frame.values[0] == pytest.approx(3.0, abs=0.01)
    assert_visibly_different(assert_shows(win), start, "the frame after the burst and the first")
    # stale requests were dropped, not queued: far fewer frames than events
    assert win.executor.frames_rendered - rendered_before < len(values)


def test_the_worker_renders_only_the_newest_request(qtbot, trained_vae_path):
    """While the worker is busy, 50 frame requests arrive; only the last one is rendered."""
    from explorer.app.model_executor import ModelExecutor
    from explorer.app.state import LoadedModel

    loaded = LoadedModel.load(trained_vae_path, "cpu")
    worker = ModelExecutor()
    gate = threading.Event()
    frames = []
    worker.frame_ready.connect(frames.append)
    try:
        worker.submit("block", gate.wait)
        for i in range(50):
            v = np.zeros(loaded.latent_dim, dtype=np.float32)
            v[0] = i / 10
            worker.request_frame(loaded, v, token=i, requested_at=0.0)
        gate.set()
        qtbot.waitUntil(lambda: worker.is_idle() and len(frames) > 0, timeout=20_000)
        qtbot.wait(50)
        assert [f.token for f in frames] == [49]
        assert frames[0].values[0] == pytest.approx(4.9)
        z = torch.from_numpy(loaded.z_from_values(frames[0].values))[None]
        assert np.array_equal(frames[0].image, to_uint8(loaded.model.decode(z))[0, 0])
        zero = to_uint8(loaded.model.decode(torch.zeros(1, loaded.latent_dim)))[0, 0]
        assert_visibly_different(frames[0].image, zero, "the newest frame and the prior mean's")
    finally:
        worker.stop()


def test_reset_and_randomize(make_window, trained_vae_path, qtbot):
    win = make_window(trained_vae_path)
    mean_image = assert_shows(win)
    win.randomize_action.trigger()
    wait_for_frame(win, qtbot)
    assert np.abs(win.state.values).sum() > 0
    random_image = assert_shows(win, to_uint8(win.state.model.decode(torch.from_numpy(win.state.z)[None]))[0, 0])
    assert_visibly_different(random_image, mean_image, "a random point's image and the prior mean's")
    win.reset_action.trigger()
    wait_for_frame(win, qtbot)
    assert not win.state.values.any()
    assert all(s.value() == 0 for s in win.latent_dock.sliders)
    assert_looks_the_same(assert_shows(win), mean_image, "the image after Reset")


def test_strongest_directions_first_and_the_rest_one_click_away(make_window, tiny_vae_path):
    from explorer.app.latent_dock import SHOWN_FIRST

    win = make_window(tiny_vae_path)
    dock = win.latent_dock
    assert len(dock.sliders) == win.state.loaded.latent_dim == 16
    assert all(s.isVisible() for s in dock.sliders[:SHOWN_FIRST])
    assert not any(s.isVisible() for s in dock.sliders[SHOWN_FIRST:])
    dock.more_button.click()
    assert all(s.isVisible() for s in dock.sliders)
    assert dock.sliders[0].minimum() == pytest.approx(-3.0) and dock.sliders[0].maximum() == pytest.approx(3.0)


def test_the_weaker_rows_show_the_current_point_when_revealed_and_their_release_ends_a_drag(
        make_window, tiny_vae_path, qtbot):
    """Rows past the first eight are built when revealed: they must show where the state already is
    (values set before they existed), move it, and end an undo step on release like the first eight."""
    from explorer.app.latent_dock import SHOWN_FIRST

    win = make_window(tiny_vae_path)
    dock = win.latent_dock
    win.state.randomize(seed=5)
    values = win.state.values.copy()
    dock.more_button.click()
    late = dock.sliders[SHOWN_FIRST + 3]
    assert late.isVisible()
    lo, hi = late.minimum(), late.maximum()
    assert late.value() == pytest.approx(float(np.clip(values[SHOWN_FIRST + 3], lo, hi)), abs=0.01)
    steps = win.history.stack.count()
    for v in (0.4, 0.8, 1.2):                                 # one drag of a revealed slider ...
        late.setValue(v)
    late.sliderReleased.emit()                                # ... ends on release
    late.setValue(-1.0)                                       # so this is a new step
    assert win.state.values[SHOWN_FIRST + 3] == pytest.approx(-1.0, abs=1e-3)
    assert win.history.stack.count() == steps + 2
    dock.more_button.click()
    assert not late.isVisible() and dock.sliders[0].isVisible()


def test_f1_lists_every_shortcut(make_window, qtbot):
    """F1 (Help → Keyboard Shortcuts) opens a box that names each action with its key."""
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QMessageBox

    win = make_window()
    win.activateWindow()
    assert QTest.qWaitForWindowActive(win, 30_000), "the window never became active"
    seen = []

    def read_and_close() -> None:
        boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]
        if not boxes:
            QTimer.singleShot(20, read_and_close)
            return
        seen.append(boxes[0].text())
        boxes[0].accept()

    QTimer.singleShot(0, read_and_close)
    QTest.keyClick(win, Qt.Key.Key_F1)
    qtbot.waitUntil(lambda: bool(seen), timeout=30_000)
    text = seen[0]
    for name, key in (("Undo", "Ctrl+Z"), ("Redo", "Ctrl+Shift+Z"), ("Reset", "R"), ("Randomize", "Ctrl+R"),
                      ("Keyboard Shortcuts", "F1")):
        assert name in text and key in text, (name, key, text)


def test_keyboard_shortcuts_are_set(make_window):
    from PySide6.QtGui import QKeySequence

    # the actions exist with their keys (pressing them needs an active window: see test_xvfb.py)
    win = make_window()
    keys = {"open_action": QKeySequence(QKeySequence.StandardKey.Open).toString(),
            "reset_action": "R", "randomize_action": "Ctrl+R", "new_sample_action": "N",
            "reset_zoom_action": "Ctrl+0"}
    for attr, key in keys.items():
        assert getattr(win, attr).shortcut().toString() == key


# ---------------------------------------------------------------------------------------------- failures
@pytest.mark.logs_unexpected_errors     # the simulated failure is an unexpected error: logged with its traceback
def test_a_render_failure_is_shown_and_the_app_survives(make_window, trained_vae_path, qtbot, monkeypatch):
    win = make_window(trained_vae_path)
    before = painted_pixels(win.canvas)
    model = win.state.model

    def broken(z):
        raise RuntimeError("simulated decoder failure")

    monkeypatch.setattr(model, "decode", broken)
    win.latent_dock.sliders[0].setValue(1.0)
    qtbot.waitUntil(lambda: "simulated decoder failure" in win.canvas.overlay_text(), timeout=20_000)
    assert "simulated decoder failure" in win.last_render_error  # also said in the status bar
    monkeypatch.undo()
    win.latent_dock.sliders[0].setValue(2.0)
    wait_for_frame(win, qtbot)
    assert win.canvas.overlay_text() == ""
    assert_visibly_different(assert_shows(win), before, "the frame after recovering and the first")


def test_window_without_a_model_shows_how_to_open_one(make_window):
    win = make_window()
    assert "File → Open" in win.canvas.overlay_text()
    win.reset_action.trigger()
    win.randomize_action.trigger()
    win.new_sample_action.trigger()  # nothing to do, nothing breaks
    assert win.state.loaded is None


def test_status_bar_shows_device_and_frame_time(make_window, tiny_vae_path, qtbot):
    win = make_window(tiny_vae_path)
    for v in (0.5, 1.0, 1.5):
        win.latent_dock.sliders[0].setValue(v)
        wait_for_frame(win, qtbot)
        qtbot.wait(20)
    qtbot.waitUntil(lambda: "ms" in win.frame_label.text() and "–" not in win.frame_label.text(),
                    timeout=30_000)  # "frame 1.2 ms · 60 fps" (fps while frames flow)
    assert "cpu" in win.device_label.text()
    assert "VAE" in win.model_label.text()


def test_values_settled_is_throttled_and_ends_on_the_last_value(make_window, tiny_vae_path, qtbot):
    win = make_window(tiny_vae_path)
    settled = []
    win.state.values_settled.connect(settled.append)
    with qtbot.waitSignal(win.state.values_settled, timeout=30_000):
        for v in np.linspace(-2, 2, 200):
            win.state.set_value(0, float(v))
    # the trailing emission carries the last value (waited for, not slept for)
    qtbot.waitUntil(lambda: settled and settled[-1][0] == pytest.approx(2.0), timeout=30_000)
    assert 1 <= len(settled) < 200

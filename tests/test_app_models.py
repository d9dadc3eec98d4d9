"""The explorer window's models: every bundled model opens and rebuilds the dock, File/drop/Recent,
broken files keep the open model, the Device menu, and the sampling panel.

Offscreen Qt (tests/conftest.py).  No test asserts a timing.  Pixel checks use trained models (the
bundled ones) and what is painted on screen (``app_helpers.assert_shows``).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

import models
from models.imaging import to_uint8

from app_helpers import assert_looks_the_same, assert_shows, assert_visibly_different, differing_share, \
    painted_pixels, wait_for_frame  # noqa: I001  (tests/ is on sys.path)


@pytest.fixture
def fast_gan_directions(monkeypatch):
    """GANSpace directions from fewer samples, so opening a GAN is quick in tests (the directions'
    quality is the models layer's business, tested there)."""
    import models.gan

    monkeypatch.setattr(models.gan, "DIRECTION_SAMPLES", 512)


# ---------------------------------------------------------------------------------------------- models
@pytest.mark.parametrize("name", ["vae", "beta-vae", "gan"])
def test_every_bundled_model_opens_and_rebuilds_the_dock(make_window, tiny_vae_path, name, qtbot,
                                                         fast_gan_directions):
    from panel_helpers import bundled_calibrated

    path = bundled_calibrated(name)            # missing or uncalibrated fails: the repository ships them
    win = make_window(tiny_vae_path)
    with qtbot.waitSignal(win.model_load_finished, timeout=120_000) as blocker:
        win.open_model(path)
    assert blocker.args[0], blocker.args[1]
    wait_for_frame(win, qtbot)
    loaded = win.state.loaded
    assert loaded.path == path
    assert loaded.name in win.windowTitle()
    assert len(win.latent_dock.sliders) == loaded.latent_dim == win.state.model.latent_dim
    strength_labels = [row[2].text() for row in win.latent_dock._rows]
    if loaded.family == "vae":
        assert all("KL" in t for t in strength_labels)
        assert win.sampling_panel.temperature.toolTip() and "Temperature" in _form_label(win)
    else:
        assert all("var" in t for t in strength_labels)
        assert "Truncation" in _form_label(win)
    first = assert_shows(win)
    win.latent_dock.sliders[0].setValue(2.5)
    wait_for_frame(win, qtbot)
    assert_visibly_different(assert_shows(win), first, f"{name}: the image after moving slider 0 and before")


def _form_label(win) -> str:
    panel = win.sampling_panel
    return panel.widget().layout().itemAt(0).layout().labelForField(panel.temperature).text()


def test_switching_family_rebuilds_the_dock(make_window, trained_vae_path, trained_gan_path, qtbot,
                                            fast_gan_directions):
    win = make_window(trained_vae_path)
    vae_frame = painted_pixels(win.canvas)
    assert len(win.latent_dock.sliders) == win.state.loaded.latent_dim == 64
    with qtbot.waitSignal(win.model_load_finished, timeout=120_000):
        win.open_model(trained_gan_path)
    wait_for_frame(win, qtbot)
    assert win.state.loaded.family == "gan"
    assert len(win.latent_dock.sliders) == 32
    assert win.state.loaded.name in win.windowTitle() and "gan-fmnist" in win.windowTitle()
    assert win.latent_dock.sliders[0].objectName() == "slider-0"
    gan_frame = assert_shows(win)
    assert_visibly_different(gan_frame, vae_frame, "the GAN's first frame and the VAE's")
    win.latent_dock.sliders[0].setValue(2.0)
    wait_for_frame(win, qtbot)
    assert_visibly_different(assert_shows(win), gan_frame, "the GAN's image after moving slider 0 and before")


def _drop(win, paths) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(QPointF(100, 100), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    win.dropEvent(event)


def test_dropping_a_checkpoint_opens_it(make_window, tiny_vae_path, tmp_path, qtbot):
    import shutil

    win = make_window(tiny_vae_path)
    first = win.state.loaded
    other = tmp_path / "dropped.safetensors"
    shutil.copy(tiny_vae_path, other)
    with qtbot.waitSignal(win.model_load_finished, timeout=60_000) as blocker:
        _drop(win, [other])
    assert blocker.args[0]
    assert win.state.loaded is not first and win.state.loaded.path == other
    assert "dropped.safetensors" in win.windowTitle()
    wait_for_frame(win, qtbot)


def test_drop_routing_is_one_overridable_place(make_window, tmp_path):
    win = make_window()
    got = []
    win.router.register((".png",), got.append, "score the image")
    img = tmp_path / "x.png"
    img.write_bytes(b"")
    _drop(win, [img])
    assert got == [img]
    _drop(win, [tmp_path / "notes.txt"])
    assert "notes.txt" in win.last_error


def test_a_broken_file_leaves_the_open_model_with_a_message(make_window, trained_vae_path, tmp_path, qtbot):
    win = make_window(trained_vae_path)
    before, pixels = win.state.loaded, painted_pixels(win.canvas)
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"\x00not a checkpoint at all" * 10)
    with qtbot.waitSignal(win.model_load_finished, timeout=60_000) as blocker:
        win.open_model(bad)
    assert blocker.args[0] is False
    assert win.state.loaded is before
    assert "broken.safetensors" in win.last_error and "stays open" in win.last_error
    assert "broken.safetensors" in win.statusBar().currentMessage()
    assert_looks_the_same(painted_pixels(win.canvas), pixels, "the canvas after the refused file")
    assert before.name in win.windowTitle()
    # and the app goes on working
    win.latent_dock.sliders[0].setValue(2.5)
    wait_for_frame(win, qtbot)
    assert_visibly_different(assert_shows(win), pixels, "the frame after a slider move and before")


def test_recent_menu_remembers_opened_files(make_window, tiny_vae_path, tmp_path, qtbot):
    win = make_window(tiny_vae_path)
    assert win.recent_files()[0] == str(tiny_vae_path.resolve())
    assert str(win.settings.fileName()).startswith(str(tmp_path))
    win.recent.fill()
    texts = [a.text() for a in win.recent_menu.actions()]
    assert any(tiny_vae_path.name in t for t in texts)
    action = next(a for a in win.recent_menu.actions() if tiny_vae_path.name in a.text())
    with qtbot.waitSignal(win.model_load_finished, timeout=60_000) as blocker:
        action.trigger()
    assert blocker.args[0]


# ---------------------------------------------------------------------------------------------- devices
def test_device_menu_lists_devices_and_moves_the_model(make_window, trained_vae_path, qtbot):
    win = make_window(trained_vae_path)
    actions = win.device_actions()
    assert "cpu" in actions and set(actions) == set(models.available_devices())
    assert actions["cpu"].isChecked()
    assert "cpu" in win.device_label.text()
    for name in actions:  # cuda:N / mps where present; cpu always
        with qtbot.waitSignal(win.state.device_changed, timeout=60_000) as blocker:
            actions[name].trigger()
        assert blocker.args[0].startswith(name.split(":")[0])
        wait_for_frame(win, qtbot)
        assert str(win.state.model.device).startswith(name.split(":")[0])
        assert name.split(":")[0] in win.device_label.text()
        before = painted_pixels(win.canvas)
        win.latent_dock.sliders[0].setValue(-2.5 if win.latent_dock.sliders[0].value() > 0 else 2.5)
        wait_for_frame(win, qtbot)
        assert_visibly_different(assert_shows(win), before, f"on {name}: the frame after a slider move and before")


def test_a_missing_device_is_refused_and_the_model_keeps_working(make_window, trained_vae_path, qtbot):
    missing = f"cuda:{torch.cuda.device_count()}"   # cuda:0 without CUDA; one past the last GPU with it
    win = make_window(trained_vae_path)
    before = painted_pixels(win.canvas)
    win.move_to_device(missing)
    qtbot.waitUntil(lambda: missing in win.last_error, timeout=60_000)
    assert str(win.state.model.device) == "cpu"
    win.latent_dock.sliders[0].setValue(2.5)
    wait_for_frame(win, qtbot)
    assert_visibly_different(assert_shows(win), before, "the frame after the refused move and before")


# ---------------------------------------------------------------------------------------------- sampling
def test_clicking_a_sample_makes_it_current(make_window, trained_vae_path, qtbot):
    win = make_window(trained_vae_path)
    mean_frame = painted_pixels(win.canvas)
    panel = win.sampling_panel
    qtbot.waitUntil(lambda: panel.grid_data is not None, timeout=60_000)
    grid = panel.grid_data
    expected = to_uint8(win.state.model.sample(9, temperature=1.0, seed=0))[:, 0]
    assert np.array_equal(grid.images, expected)  # same seed, same images as models.sample
    # nine different garments, as a person sees them: most pairs differ visibly
    pairs = [(i, j) for i in range(9) for j in range(i + 1, 9)]
    distinct = sum(differing_share(grid.images[i], grid.images[j]) >= 0.05 for i, j in pairs)
    assert distinct >= 0.8 * len(pairs), f"only {distinct} of {len(pairs)} sample pairs differ visibly"
    # the buttons show those images
    icon = panel.buttons[4].icon().pixmap(panel.buttons[4].iconSize()).toImage()
    assert not icon.isNull()
    qtbot.mouseClick(panel.buttons[4], Qt.MouseButton.LeftButton)
    wait_for_frame(win, qtbot)
    assert np.allclose(win.state.values, grid.values[4])
    assert_visibly_different(assert_shows(win, grid.images[4]), mean_frame, "sample 4 and the prior mean's image")


def test_new_sample_takes_the_next_seed_and_temperature_pulls_samples_toward_the_mean(make_window, trained_vae_path,
                                                                                    qtbot):
    win = make_window(trained_vae_path)
    mean_frame = painted_pixels(win.canvas)
    panel = win.sampling_panel
    qtbot.waitUntil(lambda: panel.grid_data is not None, timeout=60_000)
    seed0 = panel.grid_data.images.copy()
    win.new_sample_action.trigger()
    qtbot.waitUntil(lambda: panel.grid_data is not None and panel.grid_data.seed == 1, timeout=60_000)
    wait_for_frame(win, qtbot)
    assert np.allclose(win.state.values, panel.grid_data.values[0])
    assert_shows(win, panel.grid_data.images[0])
    assert_visibly_different(panel.grid_data.images[0], seed0[0], "seed 1's first sample and seed 0's")
    hot = panel.grid_data.images.astype(int)
    panel.temperature.setValue(0.3)
    qtbot.waitUntil(lambda: panel.grid_data.temperature == pytest.approx(0.3), timeout=60_000)
    cold = panel.grid_data.images.astype(int)
    # the same seed at a lower temperature: z scaled toward 0, so each sample nearer the prior mean's image
    to_mean = lambda imgs: np.abs(imgs - mean_frame.astype(int)).mean(axis=(1, 2))  # noqa: E731
    assert (to_mean(cold) < to_mean(hot)).sum() >= 8, (to_mean(cold), to_mean(hot))



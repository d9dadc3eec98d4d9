"""Issue 5 in the main window: drop images to score them, the latent map, interpolation, undo,
copy, latent-state files and the layout kept between runs.

With the bundled trained VAE: every pixel check asks for what a person would see (the canvas read back
from the screen, changes of >= 30 grey levels), so a stale frame after Undo or a decoder that ignores
its latent fails."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QGuiApplication
from PySide6.QtTest import QTest

from app_helpers import (assert_looks_the_same, assert_shows, assert_visibly_different, decoded_pixels,
                         painted_pixels, wait_for_frame)
from explorer.app import score_panel as sp
from models.bundled_data import SAMPLES_DIR
from panel_helpers import slow_scoring, wait_background


def drop_files(win, paths) -> None:
    """What the window gets when files are dropped on it (a synthetic QDropEvent)."""
    md = QMimeData()
    md.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    ev = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, md, Qt.MouseButton.LeftButton,
                    Qt.KeyboardModifier.NoModifier)
    win.dropEvent(ev)


def wait_scored(qtbot, win, timeout=60_000, at_least: int = 1) -> None:
    """Until the panel holds ``at_least`` images (a dropped array is read on the executor first) and
    none of them waits or runs."""
    panel = win.score_dock.panel
    qtbot.waitUntil(lambda: len(panel.items) >= at_least and not panel.is_busy()
                    and not any(i.status == "queued" for i in panel.items), timeout=timeout)
    qtbot.waitUntil(win.executor.is_idle, timeout=timeout)


def wait_map(qtbot, win, timeout=60_000) -> None:
    qtbot.waitUntil(lambda: win.map_dock.panel.map is not None, timeout=timeout)
    wait_background(qtbot)


def test_dropping_a_garment_and_a_digit_shows_two_verdicts_and_markers(make_window, trained_vae_path, qtbot):
    win = make_window(trained_vae_path)
    mean_frame = painted_pixels(win.canvas)
    wait_map(qtbot, win)
    drop_files(win, [SAMPLES_DIR / "sneaker.png", SAMPLES_DIR / "foreign-digit-3.png"])
    wait_scored(qtbot, win)
    panel = win.score_dock.panel
    garment, digit = panel.items
    assert garment.verdict == "in-distribution"
    assert digit.verdict == "out-of-distribution"
    assert "in-distribution" in panel.list.item(0).text() and "out-of-distribution" in panel.list.item(1).text()
    # both are markers on the map, coloured by verdict, where their codes project
    lmap = win.map_dock.panel
    assert [m[0] for m in lmap.markers] == ["sneaker.png", "foreign-digit-3.png"]
    assert [m[2] for m in lmap.markers] == ["in-distribution", "out-of-distribution"]
    brushes = [lmap.marker_items.data["brush"][i].color().getRgb()[:3] for i in range(2)]
    assert brushes[0] != brushes[1]
    assert np.allclose(lmap.marker_positions(), lmap.map.project(np.stack([garment.z, digit.z])))
    # the first dropped image was selected: sliders and canvas went to its code
    wait_for_frame(win, qtbot)
    assert np.allclose(win.state.z, garment.z, atol=1e-4)
    shown = assert_shows(win, decoded_pixels(win, garment.z))
    assert_looks_the_same(shown, garment.reconstruction, "the canvas and the sneaker's reconstruction", tolerance=3)
    assert_visibly_different(shown, mean_frame, "the sneaker's reconstruction and the prior mean's image")
    # and it can be an interpolation endpoint
    assert set(win.interpolation_dock.panel.dropped) == {"sneaker.png", "foreign-digit-3.png"}


def test_cancelling_a_scoring_job_leaves_the_app_usable(make_window, trained_vae_path, qtbot, monkeypatch):
    win = make_window(trained_vae_path)
    first = painted_pixels(win.canvas)
    orig = slow_scoring(monkeypatch, 3000)       # ~30 s of checkpoints: only Cancel ends it in time
    panel = win.score_dock.panel
    drop_files(win, [SAMPLES_DIR / "bag.png", SAMPLES_DIR / "coat.png", SAMPLES_DIR / "dress.png"])
    qtbot.waitUntil(lambda: panel.is_busy(), timeout=60_000)
    # the window stays responsive while scoring: a slider move renders
    win.latent_dock.sliders[0].setValue(2.0)
    wait_for_frame(win, qtbot)
    assert panel.is_busy(), "the frame must come while the scoring job runs"
    assert_visibly_different(assert_shows(win), first, "the frame rendered during scoring and the first")
    panel.cancel_button.click()
    wait_scored(qtbot, win)
    assert {i.status for i in panel.items} == {"cancelled"}
    monkeypatch.setattr(sp, "analyse", orig)
    before = painted_pixels(win.canvas)
    win.latent_dock.sliders[1].setValue(-2.0)
    wait_for_frame(win, qtbot)
    assert_visibly_different(assert_shows(win), before, "the frame after cancelling and the one before")
    drop_files(win, [SAMPLES_DIR / "trouser.png"])
    wait_scored(qtbot, win)
    assert panel.items[-1].status == "done"


def _isolated_point(lmap) -> int:
    vb = lmap.plot.getPlotItem().getViewBox()
    s = lmap.map.xy / np.array(vb.viewPixelSize())
    d = ((s[:, None] - s[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    return int(np.argmax(d.min(1)))


def test_clicking_a_map_point_updates_sliders_and_canvas(make_window, trained_vae_path, qtbot):
    win = make_window(trained_vae_path)
    mean_frame = painted_pixels(win.canvas)
    win.map_dock.raise_()
    wait_map(qtbot, win)
    lmap = win.map_dock.panel
    qtbot.wait(50)
    i = _isolated_point(lmap)
    QTest.mouseClick(lmap.plot.viewport(), Qt.MouseButton.LeftButton, pos=lmap.widget_pos_of(i))
    qtbot.waitUntil(lambda: np.allclose(win.state.z, lmap.map.z[i], atol=1e-4), timeout=30_000)
    wait_for_frame(win, qtbot)
    values = win.state.loaded.values_from_z(lmap.map.z[i])
    sliders = win.latent_dock.sliders
    slider_values = np.array([s.value() for s in sliders], dtype=np.float32)
    lo, hi = np.array([s.minimum() for s in sliders]), np.array([s.maximum() for s in sliders])
    assert np.allclose(slider_values, np.clip(values, lo, hi), atol=0.02)
    shown = assert_shows(win, decoded_pixels(win, lmap.map.z[i]))   # the point itself (sliders clip at their ends)
    # the canvas now shows that image's reconstruction: nearer the clicked image than the mean image was
    clicked = lmap.map.images[i].astype(int)
    assert np.abs(shown.astype(int) - clicked).mean() < 0.8 * np.abs(mean_frame.astype(int) - clicked).mean()
    assert_visibly_different(shown, mean_frame, "the clicked point's image and the prior mean's")
    assert np.allclose(lmap.current_position(), lmap.map.xy[i], atol=1e-3)   # the star follows


def test_undo_restores_the_previous_z_and_a_drag_is_one_step(make_window, trained_vae_path, qtbot):
    win = make_window(trained_vae_path)
    z0 = win.state.z.copy()
    frame0 = painted_pixels(win.canvas)
    for v in (0.5, 1.0, 1.5, 2.0):              # one drag of slider 0
        win.latent_dock.sliders[0].setValue(v)
    z_drag = win.state.z.copy()
    wait_for_frame(win, qtbot)
    frame_drag = assert_shows(win)
    win.history.seal()
    win.latent_dock.sliders[2].setValue(-2.0)
    wait_for_frame(win, qtbot)
    frame_moved = assert_shows(win)
    assert_visibly_different(frame_drag, frame0, "the dragged frame and the first")
    assert_visibly_different(frame_moved, frame_drag, "the frame after the second move and the dragged one")
    assert win.history.stack.count() == 2
    assert "z0" in win.history.stack.text(0) or "Move" in win.history.stack.text(0)
    win.undo_action.trigger()
    assert np.allclose(win.state.z, z_drag)
    wait_for_frame(win, qtbot)
    # the dragged frame again, on screen: a stale frame (the moved one) fails here
    assert_looks_the_same(assert_shows(win), frame_drag, "the frame after Undo")
    win.undo_action.trigger()
    assert np.allclose(win.state.z, z0)
    assert win.latent_dock.sliders[0].value() == pytest.approx(0.0, abs=1e-3)
    wait_for_frame(win, qtbot)
    assert_looks_the_same(assert_shows(win), frame0, "the frame after the second Undo")
    win.redo_action.trigger()
    assert np.allclose(win.state.z, z_drag)
    win.state.randomize(seed=3)                 # any other change is a step too
    win.undo_action.trigger()
    assert np.allclose(win.state.z, z_drag)
    # Ctrl+Z and Ctrl+Shift+Z reach the actions from the window
    win.activateWindow()
    assert QTest.qWaitForWindowActive(win, 30_000), "the window never became active"
    QTest.keyClick(win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.allclose(win.state.z, z0)
    QTest.keyClick(win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert np.allclose(win.state.z, z_drag)
    wait_for_frame(win, qtbot)
    assert_looks_the_same(assert_shows(win), frame_drag, "the frame after Ctrl+Shift+Z")


def test_interpolation_gif_export_from_the_window_has_n_frames(make_window, trained_vae_path, qtbot, tmp_path):
    from PIL import Image

    win = make_window(trained_vae_path)
    panel = win.interpolation_dock.panel
    qtbot.waitUntil(lambda: panel.frames is not None, timeout=20_000)
    panel.steps.setValue(9)
    qtbot.waitUntil(lambda: panel.frames is not None and len(panel.frames) == 9, timeout=20_000)
    wait_background(qtbot)
    out = panel.export(tmp_path / "path.gif")
    with Image.open(out) as im:
        assert im.n_frames == 9 and im.size == (112, 112)
        first = np.asarray(im.convert("L"))[::4, ::4]
        im.seek(8)
        last = np.asarray(im.convert("L"))[::4, ::4]
    assert_visibly_different(first, last, "the GIF's first and last frames")
    win.latent_dock.sliders[0].setValue(2.5)
    wait_for_frame(win, qtbot)
    with qtbot.waitSignal(panel.framesReady, timeout=20_000):
        panel.set_endpoint_current("B")
    assert np.allclose(panel.zs[-1], win.state.z, atol=1e-5)
    assert_looks_the_same(panel.frames[-1], painted_pixels(win.canvas), "endpoint B and the canvas")


def test_copy_image_latent_state_json_and_shortcuts(make_window, trained_vae_path, qtbot, tmp_path):
    from explorer.app.window_files import load_latent, save_latent

    win = make_window(trained_vae_path)
    mean_frame = painted_pixels(win.canvas)
    win.latent_dock.sliders[0].setValue(2.5)
    wait_for_frame(win, qtbot)
    win.copy_image_action.trigger()
    img = QGuiApplication.clipboard().image()
    assert img.width() == 28 * 8 and img.height() == 28 * 8
    # what lands on the clipboard is the picture on screen, upscaled 8 times
    pasted = np.array([[img.pixelColor(8 * c + 4, 8 * r + 4).red() for c in range(28)] for r in range(28)])
    assert_looks_the_same(pasted, assert_shows(win), "the copied image and the canvas")
    assert_visibly_different(pasted, mean_frame, "the copied image and the prior mean's")
    path = save_latent(win, tmp_path / "point.json")
    doc = json.loads(path.read_text())
    assert doc["format"] == "latent-explorer/latent-state" and len(doc["z"]) == win.state.loaded.latent_dim
    z_saved = win.state.z.copy()
    win.state.reset()
    assert load_latent(win, path)
    assert np.allclose(win.state.z, z_saved, atol=1e-5)
    wait_for_frame(win, qtbot)
    assert_looks_the_same(assert_shows(win), pasted, "the frame of the loaded point")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**doc, "z": [0.0, 1.0]}))
    assert not load_latent(win, bad)
    assert "2-d latent" in win.last_error
    # the new actions have shortcuts, so the Help dialog (Keyboard Shortcuts) lists them
    keys = {a.text().replace("&", ""): a.shortcut().toString() for a in win.actions() if not a.shortcut().isEmpty()}
    for name in ("Undo", "Redo", "Copy Image", "Paste Image", "Score Images…", "Save Latent State…",
                 "Load Latent State…", "Play/Pause Interpolation"):
        assert any(k.startswith(name) for k in keys), name


def test_pasting_an_image_and_dropping_an_array_score_them(make_window, trained_vae_path, qtbot, tmp_path):
    from PySide6.QtGui import QImage

    from models.bundled_data import load_subset

    win = make_window(trained_vae_path)
    img = QImage(str(SAMPLES_DIR / "sandal.png"))
    QGuiApplication.clipboard().setImage(img)
    win.paste_action.trigger()
    wait_scored(qtbot, win)
    item = win.score_dock.panel.items[-1]
    assert item.name == "pasted image" and item.status == "done"
    arr = tmp_path / "three.npy"
    np.save(arr, load_subset()[0][:3])
    drop_files(win, [arr])
    wait_scored(qtbot, win, at_least=4)
    names = [i.name for i in win.score_dock.panel.items]
    assert names[-3:] == ["three.npy[0]", "three.npy[1]", "three.npy[2]"]
    assert np.array_equal(win.score_dock.panel.items[-1].image, load_subset()[0][2])
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((2, 5, 5)))
    drop_files(win, [bad])
    qtbot.waitUntil(lambda: "bad.npy" in win.last_error, timeout=30_000)   # read on the executor
    assert "expected (N, 28, 28)" in win.last_error


def test_window_layout_is_restored_between_runs(qtbot, tmp_path):
    from PySide6.QtCore import QSettings

    from explorer.app.main_window import MainWindow

    path = str(tmp_path / "layout.ini")
    w1 = MainWindow(settings=QSettings(path, QSettings.Format.IniFormat), device="cpu")
    qtbot.addWidget(w1)
    w1.show()
    hint = w1.minimumSizeHint()
    w1.resize(hint.width() + 200, hint.height() + 150)
    w1.map_dock.hide()
    w1.score_dock.setFloating(True)
    qtbot.wait(100)
    size = (w1.width(), w1.height())
    w1.close()
    w1.executor.stop()
    w2 = MainWindow(settings=QSettings(path, QSettings.Format.IniFormat), device="cpu")
    qtbot.addWidget(w2)
    w2.show()
    qtbot.wait(100)
    assert not w2.map_dock.isVisible() and w2.interpolation_dock.isVisible()
    assert w2.score_dock.isFloating()
    # the size comes back too, as far as the offscreen screen (800x800, smaller than the window's
    # minimum) allows: Qt fits a restored window to the screen, so compare against that bound
    avail = w2.screen().availableGeometry()
    # (the restored window keeps its full height, or reaches down to the screen's bottom edge)
    assert w2.height() >= size[1] or w2.geometry().bottom() >= avail.bottom() - 10, (w2.geometry(), size, avail)
    w2.close()
    w2.executor.stop()

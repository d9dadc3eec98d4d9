"""Issue 16's views in the main window: exports that carry the state and restore it when dropped back,
named bookmarks, scored results as CSV/JSON, the export size, the traversal sheet, the compare dock,
the marked sample tile, undo steps that say what they undo, typed slider values and per-slider reset."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

from app_helpers import decoded_pixels, wait_for_frame
from models.bundled_data import SAMPLES_DIR
from panel_helpers import wait_background
from test_analysis_window import drop_files, wait_scored

from explorer.app import window_files, window_views
from explorer.app.state_stamp import KEYWORD, file_sha256, read_state


def _idle(qtbot, win, timeout=60_000) -> None:
    qtbot.waitUntil(win.executor.is_idle, timeout=timeout)
    qtbot.wait(30)


# ------------------------------------------------------------------------------------ bookmarks that travel
def test_a_saved_png_carries_the_state_and_dropping_it_back_goes_there_instead_of_scoring(
        make_window, tiny_vae_path, qtbot, tmp_path):
    win = make_window(tiny_vae_path)
    panel = win.interpolation_dock.panel                        # its default endpoints arrive in the background
    qtbot.waitUntil(lambda: panel.endpoints_record() is not None, timeout=20_000)
    win.state.randomize(seed=11)
    wait_for_frame(win, qtbot)
    z_saved = win.state.z
    out = tmp_path / "point.png"
    window_files.save_image(win, out)
    with Image.open(out) as im:
        rec = json.loads(im.info[KEYWORD])
    assert rec["model"]["sha256"] == file_sha256(tiny_vae_path)
    assert np.allclose(rec["z"], z_saved, atol=1e-5) and len(rec["slider_values"]) == win.state.loaded.latent_dim
    assert np.allclose(rec["interpolation"]["a"], win.interpolation_dock.panel.endpoints["A"].z, atol=1e-5)
    win.state.reset()
    wait_for_frame(win, qtbot)
    drop_files(win, [out])
    wait_for_frame(win, qtbot)
    assert np.allclose(win.state.z, z_saved, atol=1e-4)
    assert win.score_dock.panel.items == []                      # restored, not scored
    assert "Restored the state of point.png" in win.statusBar().currentMessage()
    assert win.undo_action.text() == "&Undo Restore point.png"


def test_an_exported_gif_restores_the_interpolation_endpoints(make_window, tiny_vae_path, qtbot, tmp_path):
    win = make_window(tiny_vae_path)
    panel = win.interpolation_dock.panel
    qtbot.waitUntil(lambda: panel.frames is not None, timeout=20_000)
    with qtbot.waitSignal(panel.framesReady, timeout=20_000):
        panel.set_endpoint_sample("B", seed=42)
    wait_background(qtbot)
    a, b = panel.endpoints["A"].z.copy(), panel.endpoints["B"].z.copy()
    gif = panel.export(tmp_path / "walk.gif")
    assert read_state(gif)["interpolation"]["steps"] == 16
    with qtbot.waitSignal(panel.framesReady, timeout=20_000):
        panel.set_endpoint_sample("A", seed=7)
    _idle(qtbot, win)
    with qtbot.waitSignal(panel.framesReady, timeout=20_000):
        drop_files(win, [gif])
    _idle(qtbot, win)
    assert np.allclose(panel.endpoints["A"].z, a, atol=1e-5) and np.allclose(panel.endpoints["B"].z, b, atol=1e-5)
    with Image.open(gif) as im:
        assert im.n_frames == 16                                  # the comment leaves the frames as they were


def test_an_ordinary_image_is_still_scored(make_window, tiny_vae_path, qtbot):
    win = make_window(tiny_vae_path)
    drop_files(win, [SAMPLES_DIR / "coat.png"])
    wait_scored(qtbot, win)
    assert [i.name for i in win.score_dock.panel.items] == ["coat.png"]


def test_a_state_for_another_latent_size_is_refused_in_one_line_naming_the_file(make_window, tiny_vae_path,
                                                                               tiny_gan_path, qtbot, tmp_path):
    gan = make_window(tiny_gan_path)
    out = tmp_path / "gan-point.png"
    window_files.save_image(gan, out)
    win = make_window(tiny_vae_path)
    z = win.state.z
    rec = read_state(out)
    rec["model"]["file"] = str(tmp_path / "gone.safetensors")     # its model cannot be found
    assert window_views.restore_state(win, rec, out.name) == "refused"
    assert win.last_error.startswith("gan-point.png: made with tiny GAN") and "\n" not in win.last_error
    assert np.allclose(win.state.z, z)


def test_bookmarks_add_rename_delete_go_and_survive_a_restart(make_window, tiny_vae_path, qtbot):
    from explorer.app.bookmarks import BookmarkDock

    win = make_window(tiny_vae_path)
    dock = win.bookmark_dock
    win.state.randomize(seed=3)
    z1 = win.state.z
    win.bookmark_action.trigger()
    win.state.randomize(seed=4)
    dock.add("second")
    dock.list.item(0).setText("the coat-like one")               # what Rename (inline edit) does
    assert dock.names() == ["the coat-like one", "second"]
    dock.list.setCurrentRow(1)
    dock.delete()
    assert dock.names() == ["the coat-like one"]
    again = BookmarkDock(win.state, win.settings)                  # the next run reads the same settings
    qtbot.addWidget(again)
    assert again.names() == ["the coat-like one"]
    win.state.reset()
    dock.list.setCurrentRow(0)
    dock.go_button.click()
    assert np.allclose(win.state.z, z1, atol=1e-5)


# ------------------------------------------------------------------------------------ exports
def test_scored_results_export_as_csv_and_json_rows_with_verdicts(make_window, trained_vae_path, qtbot,
                                                                  tmp_path):
    win = make_window(trained_vae_path)
    drop_files(win, [SAMPLES_DIR / "coat.png", SAMPLES_DIR / "bag.png"])
    wait_scored(qtbot, win, at_least=2)
    dock = win.score_dock
    with open(dock.export_results(tmp_path / "scores.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["name"] for r in rows] == ["coat.png", "bag.png"]
    assert all(r["status"] == "done" and float(r["bits_per_dim"]) > 0 and r["verdict"] for r in rows)
    doc = json.loads(dock.export_results(tmp_path / "scores.json").read_text())
    assert doc["model"] == win.state.loaded.name and [r["name"] for r in doc["results"]] == ["coat.png", "bag.png"]
    items = win.score_dock.panel.items
    assert [r["verdict"] for r in doc["results"]] == [i.verdict for i in items]
    assert "Wrote 2 results" in win.statusBar().currentMessage()


def test_the_export_size_sets_how_large_gifs_and_images_are(make_window, tiny_vae_path, qtbot, tmp_path):
    win = make_window(tiny_vae_path)
    panel = win.interpolation_dock.panel
    qtbot.waitUntil(lambda: panel.frames is not None, timeout=20_000)
    win.export_size_actions[224].trigger()
    with Image.open(panel.export(tmp_path / "big.gif")) as im:
        assert im.size == (224, 224)                              # was always 112
    window_files.save_image(win, tmp_path / "big.png")
    with Image.open(tmp_path / "big.png") as im:
        assert im.size == (224, 224)
    win.export_size_actions[None].trigger()
    with Image.open(panel.export(tmp_path / "small.gif")) as im:
        assert im.size == (112, 112)


# ------------------------------------------------------------------------------------ traversal sheet
def test_the_traversal_sheet_sweeps_every_direction_and_a_click_goes_to_that_cell(make_window, tiny_vae_path,
                                                                                  qtbot, tmp_path):
    win = make_window(tiny_vae_path)
    dock = win.traversal_dock
    with qtbot.waitSignal(dock.sheetReady, timeout=30_000) as blocker:
        win.traversal_action.trigger()
    d = win.state.loaded.latent_dim
    assert blocker.args == [d, 9]
    sheet = dock.sheet
    assert np.array_equal(sheet.images[0, 4], decoded_pixels(win, win.state.z))   # the middle is the point
    assert np.abs(sheet.images[0, 0].astype(int) - sheet.images[0, 8].astype(int)).max() > 0
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    want = dock.cell_z(2, 8)
    QTest.mouseClick(dock.view, Qt.MouseButton.LeftButton, pos=dock.cell_pos(2, 8))
    assert np.allclose(win.state.z, want, atol=1e-5)
    assert win.undo_action.text() == "&Undo Go to traversal cell"
    _idle(qtbot, win)
    out = dock.export(tmp_path / "sheet.png")
    assert read_state(out) is not None
    with Image.open(out) as im:
        assert im.size == ((9 * 30 + 2) * 2, (d * 30 + 2) * 2)


# ------------------------------------------------------------------------------------ compare
def test_compare_shows_the_same_z_through_a_second_model_and_its_verdict(make_window, trained_vae_path, qtbot):
    from app_helpers import assert_visibly_different

    win = make_window(trained_vae_path)
    dock = win.compare_dock
    with qtbot.waitSignal(dock.modelOpened, timeout=60_000) as blocker:
        dock.open_model(trained_vae_path)
    assert blocker.args[0]
    qtbot.waitUntil(lambda: dock.canvas.image() is not None, timeout=30_000)
    at_zero = dock.canvas.image().copy()
    win.state.randomize(seed=5)
    expected = decoded_pixels(win, win.state.z)
    qtbot.waitUntil(lambda: np.array_equal(dock.canvas.image(), expected), timeout=30_000)
    assert_visibly_different(expected, at_zero, "the second canvas before and after Randomize")
    name = win.state.loaded.name
    with qtbot.waitSignal(dock.verdictReady, timeout=60_000) as verdict:
        drop_files(win, [SAMPLES_DIR / "coat.png"])
    first, second = verdict.args[0].split("\n")[1:]
    assert verdict.args[0].startswith("coat.png\n") and first.startswith(f"{name}: ")     # the open model's
    assert second.startswith(f"{name}: in-distribution") or second.startswith(f"{name}: out-of-distribution")


def test_compare_says_why_when_the_latent_sizes_differ(make_window, tiny_vae_path, tiny_gan_path, qtbot):
    win = make_window(tiny_vae_path)
    dock = win.compare_dock
    with qtbot.waitSignal(dock.modelOpened, timeout=60_000):
        dock.open_model(tiny_gan_path)
    text = dock.canvas.overlay_text()
    assert text.startswith(f"Different latent sizes: tiny VAE has {win.state.loaded.latent_dim}, tiny GAN has 32")
    assert dock.canvas.image() is None


# ------------------------------------------------------------------------------------ small gaps
def test_the_current_sample_tile_is_marked_until_the_point_moves(make_window, tiny_vae_path, qtbot):
    win = make_window(tiny_vae_path)
    sp = win.sampling_panel
    qtbot.waitUntil(lambda: sp.grid_data is not None, timeout=20_000)
    assert win.sample_marker.current is None
    sp.buttons[3].click()
    assert win.sample_marker.current == 3
    assert "255, 150, 0" in sp.buttons[3].styleSheet() and not sp.buttons[2].styleSheet()
    win.latent_dock.sliders[0].setValue(2.5)
    assert win.sample_marker.current is None and not sp.buttons[3].styleSheet()
    win.undo_action.trigger()
    assert win.sample_marker.current == 3


def test_undo_names_the_step_and_says_what_it_undid(make_window, tiny_vae_path, qtbot):
    win = make_window(tiny_vae_path)
    name = win.state.loaded.names[1]
    win.latent_dock.sliders[1].setValue(1.0)
    assert win.undo_action.text() == f"&Undo Move slider '{name}'"
    win.undo_action.trigger()
    assert win.statusBar().currentMessage() == f"Undid Move slider '{name}'"
    win.redo_action.trigger()
    assert win.statusBar().currentMessage() == f"Redid Move slider '{name}'"
    win.randomize_action.trigger()
    assert win.undo_action.text() == "&Undo Random point"


def test_a_typed_slider_value_moves_the_point_and_the_row_reset_puts_one_direction_back(
        make_window, tiny_vae_path, qtbot):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QLineEdit, QToolButton

    win = make_window(tiny_vae_path)
    slider = win.latent_dock.sliders[0]
    edit = slider.findChild(QLineEdit)
    edit.setFocus()
    edit.selectAll()
    QTest.keyClicks(edit, "1.25")
    QTest.keyClick(edit, Qt.Key.Key_Return)
    assert win.state.values[0] == pytest.approx(1.25, abs=1e-3)
    win.latent_dock.sliders[1].setValue(-2.0)
    win.latent_dock.findChild(QToolButton, "reset-0").click()
    assert win.state.values[0] == 0 and win.state.values[1] == pytest.approx(-2.0)

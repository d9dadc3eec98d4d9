"""The class a person picked for a class-conditional model travels with what they save: an exported
PNG or GIF and a bookmark bring that class back (the selector shows it, the canvas draws it); an older
export without a class still restores its point; a class the open model lacks is refused in one line
naming the file.

Offscreen Qt (tests/conftest.py), the bundled conditional VAE (Fashion-MNIST classes, so "Dress" is a
real choice), copied to a temporary folder so that nothing is written beside the repository's copy.
"""
from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from app_helpers import assert_shows, assert_visibly_different, wait_for_frame  # noqa: I001
from test_analysis_window import drop_files

import models
from explorer.app import window_files
from explorer.app.state_stamp import StampError, check_record, png_with_state, read_state
from models.imaging import png_bytes

DRESS, BAG, SANDAL = 3, 8, 5


@pytest.fixture(scope="module")
def cvae_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("cvae") / "cvae-fmnist.safetensors"
    shutil.copyfile(models.bundled("cvae-fmnist"), path)
    return path


def _choose(win, qtbot, text: str, selector=None) -> None:
    """Pick ``text`` in a class selector as a user does, then wait until the canvas draws it."""
    selector = selector or win.sampling_panel.class_selector
    i = selector.combo.findText(text)
    assert i >= 0, [selector.combo.itemText(j) for j in range(selector.combo.count())]
    selector.combo.setCurrentIndex(i)
    selector.combo.activated.emit(i)
    _wait_for_class(win, qtbot, None if text == "Any class" else i - 1)


def _shown_class(win) -> list[str]:
    """What every class selector shows."""
    return [win.sampling_panel.class_selector.combo.currentText(),
            win.interpolation_dock.panel.class_selector.combo.currentText()]


def _sliders(win) -> np.ndarray:
    return np.array([s.value() for s in win.latent_dock.sliders], dtype=np.float32)


def _wait_for_class(win, qtbot, index) -> None:
    qtbot.waitUntil(lambda: win.state.class_index == index and win.state.loaded.model.default_class == index,
                    timeout=30_000)
    wait_for_frame(win, qtbot)


def test_a_png_saved_with_dress_selected_brings_dress_and_its_image_back_when_dropped(
        make_window, cvae_path, qtbot, tmp_path):
    win = make_window(cvae_path)
    _choose(win, qtbot, "Dress")
    win.state.randomize(seed=5)
    wait_for_frame(win, qtbot)
    exported = assert_shows(win)                     # the dress as it is on screen
    canvas = win.canvas.image().copy()
    out = tmp_path / "dress.png"
    window_files.save_image(win, out, scale=1)
    with Image.open(out) as im:
        assert np.array_equal(np.asarray(im.convert("L")), canvas)   # the file is the canvas's image
    assert read_state(out)["class"] == {"index": DRESS, "name": "Dress"}

    _choose(win, qtbot, "Bag")
    win.state.reset()
    wait_for_frame(win, qtbot)
    assert_visibly_different(assert_shows(win), exported, "a bag at the centre and the exported dress")

    drop_files(win, [out])
    _wait_for_class(win, qtbot, DRESS)
    assert _shown_class(win) == ["Dress", "Dress"]
    assert np.array_equal(win.canvas.image(), canvas)        # the very image that was exported
    assert_shows(win, canvas, "the canvas after dropping dress.png")
    assert "Restored the state of dress.png" in win.statusBar().currentMessage()
    assert win.score_dock.panel.items == []                  # restored, not scored


def test_an_interpolation_gif_carries_the_class_and_dropping_it_selects_that_class(
        make_window, cvae_path, qtbot, tmp_path):
    win = make_window(cvae_path)
    panel = win.interpolation_dock.panel
    _choose(win, qtbot, "Sandal", panel.class_selector)        # chosen in the interpolation panel
    qtbot.waitUntil(lambda: panel.frames is not None, timeout=60_000)
    gif = panel.export(tmp_path / "sandals.gif")
    assert read_state(gif)["class"] == {"index": SANDAL, "name": "Sandal"}
    _choose(win, qtbot, "Any class")
    drop_files(win, [gif])
    _wait_for_class(win, qtbot, SANDAL)
    assert _shown_class(win) == ["Sandal", "Sandal"]


def test_a_bookmark_recalls_the_class_it_was_made_in(make_window, cvae_path, qtbot):
    win = make_window(cvae_path)
    dock = win.bookmark_dock
    _choose(win, qtbot, "Dress")
    win.state.randomize(seed=9)
    wait_for_frame(win, qtbot)
    dress = win.canvas.image().copy()
    dock.add("a dress")
    assert "Dress" in dock.list.item(0).toolTip()

    _choose(win, qtbot, "Sandal")
    win.state.reset()
    wait_for_frame(win, qtbot)
    dock.list.setCurrentRow(0)
    dock.go_button.click()
    _wait_for_class(win, qtbot, DRESS)
    assert _shown_class(win) == ["Dress", "Dress"]
    assert np.array_equal(win.canvas.image(), dress)


def test_an_older_export_without_a_class_restores_its_sliders_and_keeps_the_class(
        make_window, cvae_path, qtbot, tmp_path):
    win = make_window(cvae_path)
    win.state.randomize(seed=2)
    wait_for_frame(win, qtbot)
    rec = read_state(_saved(win, tmp_path / "new.png"))
    del rec["class"]                                             # as the app wrote it before classes travelled
    old = tmp_path / "old.png"
    old.write_bytes(png_with_state(png_bytes(np.zeros((28, 28), np.uint8)), rec))

    _choose(win, qtbot, "Bag")
    win.state.reset()
    wait_for_frame(win, qtbot)
    drop_files(win, [old])
    qtbot.waitUntil(lambda: np.allclose(_sliders(win), rec["slider_values"], atol=1e-3), timeout=30_000)
    wait_for_frame(win, qtbot)
    assert win.state.class_index == BAG and _shown_class(win) == ["Bag", "Bag"]
    assert "Restored the state of old.png" in win.statusBar().currentMessage()
    assert_shows(win)


def test_a_class_the_open_model_lacks_is_refused_in_one_line_naming_the_file(
        make_window, cvae_path, qtbot, tmp_path):
    win = make_window(cvae_path)
    _choose(win, qtbot, "Dress")
    rec = read_state(_saved(win, tmp_path / "new.png"))
    rec["class"] = {"index": 12, "name": "Unicorn"}
    rec["z"] = [1.5] * len(rec["z"])
    far = tmp_path / "unicorn.png"
    far.write_bytes(png_with_state(png_bytes(np.zeros((28, 28), np.uint8)), rec))
    z, shown = win.state.z, win.canvas.image().copy()

    drop_files(win, [far])
    qtbot.waitUntil(lambda: win.last_error is not None and "unicorn.png" in win.last_error, timeout=10_000)
    msg = win.last_error
    assert msg.startswith("unicorn.png: ") and "\n" not in msg and "class 12 (Unicorn)" in msg, msg
    assert "10 classes" in msg
    assert np.allclose(win.state.z, z) and win.state.class_index == DRESS          # nothing changed
    assert _shown_class(win) == ["Dress", "Dress"]
    assert np.array_equal(win.canvas.image(), shown)


@pytest.mark.parametrize("cls", [{"index": "3"}, {"index": -1}, {"index": True}, "Dress", {"index": 3, "name": 4}])
def test_a_damaged_class_in_a_record_is_refused_in_one_line(cls):
    rec = {"format": "latent-explorer/state", "version": 1, "model": {"name": "m", "latent_dim": 2},
           "z": [0.0, 1.0], "slider_values": [0.0, 1.0], "class": cls}
    with pytest.raises(StampError) as err:
        check_record(rec, "odd.png")
    assert str(err.value) == "odd.png: its state's class is not an index and a name"


def _saved(win, path):
    window_files.save_image(win, path, scale=1)
    return path

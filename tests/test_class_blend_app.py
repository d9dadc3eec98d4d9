"""The interpolation dock's class blend: for a class-conditional model a person can hold z at endpoint A
and watch the class change from one to another along the strip (what ``latent-explorer interpolate
--class-from --class-to`` draws, the same frames); an unconditional model shows no such control; an
exported GIF of a class blend records both classes and brings the blend back when dropped.

Offscreen Qt (tests/conftest.py), the bundled conditional VAE (Fashion-MNIST classes, so Sneaker -> Bag
is a change a person sees), copied to a temporary folder so nothing is written beside the repository's copy.
"""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from app_helpers import assert_visibly_different, wait_for_frame  # noqa: I001
from test_analysis_window import drop_files

import models
from explorer import cli
from explorer.app.rendering import display_image
from explorer.app.state_stamp import StampError, check_record, read_state
from models.imaging import to_uint8

SNEAKER, BAG = 7, 8


@pytest.fixture(scope="module")
def cvae_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("cvae") / "cvae-fmnist.safetensors"
    shutil.copyfile(models.bundled("cvae-fmnist"), path)
    return path


def _pick(combo, text: str) -> None:
    i = combo.findText(text)
    assert i >= 0, [combo.itemText(j) for j in range(combo.count())]
    combo.setCurrentIndex(i)
    combo.activated.emit(i)


def _blend(panel, qtbot, class_from: str, class_to: str) -> None:
    """Turn the class blend on from ``class_from`` to ``class_to`` as a person does, and wait for the strip."""
    blend = panel.class_blend
    assert blend.isVisible()
    if not blend.check.isChecked():
        blend.check.click()
    _pick(blend.from_combo, class_from)
    _pick(blend.to_combo, class_to)
    qtbot.waitUntil(lambda: f"class {class_from} → {class_to}" in panel.status.text(), timeout=60_000)


def _decoded(model, z, y: int) -> np.ndarray:
    with torch.no_grad():
        return display_image(to_uint8(model.decode(torch.as_tensor(z, dtype=torch.float32)[None], y=y))[0])


def test_blending_sneaker_to_bag_starts_at_the_sneaker_and_ends_at_the_bag_of_the_same_z(
        make_window, cvae_path, qtbot):
    win = make_window(cvae_path)
    panel = win.interpolation_dock.panel
    qtbot.waitUntil(lambda: panel.frames is not None, timeout=60_000)
    _blend(panel, qtbot, "Sneaker", "Bag")
    model, z = win.state.loaded.model, panel.endpoints["A"].z
    assert np.allclose(panel.zs, z[None], atol=1e-6)                 # every frame is the same z
    sneaker, bag = _decoded(model, z, SNEAKER), _decoded(model, z, BAG)
    assert_visibly_different(sneaker, bag, "the sneaker and the bag of one z")
    assert np.array_equal(panel.frames[0], sneaker)
    assert np.array_equal(panel.frames[-1], bag)
    middle = panel.frames[len(panel.frames) // 2]
    assert_visibly_different(middle, sneaker, "the middle of the blend and the sneaker")
    assert_visibly_different(middle, bag, "the middle of the blend and the bag")
    assert not panel.end_buttons["B"].isEnabled()                    # B has no part in a class blend
    assert not panel.class_selector.isEnabled()                      # nor has the one class
    assert panel.end_labels["B"].text() == "B: the same z, Bag"      # the thumbnails show the strip's ends
    assert panel.end_labels["A"].text() == "A: sample (seed 0), Sneaker"

    panel.class_blend.check.click()                                  # off: the path between A and B again
    qtbot.waitUntil(lambda: "class" not in panel.status.text() and panel.frames is not None
                    and not np.allclose(panel.zs[-1], z), timeout=60_000)
    assert np.allclose(panel.zs[-1], panel.endpoints["B"].z, atol=1e-5)
    assert panel.end_buttons["B"].isEnabled() and panel.class_selector.isEnabled()
    assert panel.end_labels["B"].text() == "B: sample (seed 1)"


def test_the_app_blend_draws_the_frames_the_command_line_blend_writes(make_window, cvae_path, qtbot, tmp_path):
    win = make_window(cvae_path)
    panel = win.interpolation_dock.panel
    qtbot.waitUntil(lambda: panel.frames is not None, timeout=60_000)
    assert panel.end_labels["A"].text() == "A: sample (seed 0)"
    _blend(panel, qtbot, "Sneaker", "Bag")
    out = tmp_path / "blend.png"
    assert cli.main(["interpolate", str(cvae_path), "--from", "0", "--class-from", "Sneaker", "--class-to", "Bag",
                     "--steps", str(len(panel.frames)), "--out", str(out), "--scale", "1"]) == 0
    with Image.open(out) as im:
        strip = np.asarray(im.convert("L"))
    tiles = np.stack([strip[2:30, 2 + 30 * i:30 + 30 * i] for i in range(len(panel.frames))])
    assert np.abs(tiles.astype(int) - panel.frames.astype(int)).max() <= 1


def test_the_class_blend_is_hidden_for_an_unconditional_model(make_window, tiny_vae_path, cvae_path, qtbot):
    win = make_window(tiny_vae_path)
    panel = win.interpolation_dock.panel
    assert panel.class_blend.isHidden()
    with qtbot.waitSignal(win.model_load_finished, timeout=120_000):
        win.open_model(cvae_path)
    wait_for_frame(win, qtbot)
    qtbot.waitUntil(lambda: panel.frames is not None, timeout=60_000)
    assert not panel.class_blend.isHidden()
    _blend(panel, qtbot, "Sneaker", "Bag")
    with qtbot.waitSignal(win.model_load_finished, timeout=120_000):
        win.open_model(tiny_vae_path)
    wait_for_frame(win, qtbot)
    qtbot.waitUntil(lambda: panel.frames is not None and panel.endpoints_record() is not None, timeout=60_000)
    assert panel.class_blend.isHidden()
    assert "class_from" not in panel.endpoints_record()              # the strip is a path in z again
    assert panel.end_buttons["B"].isEnabled()


def test_an_exported_class_blend_gif_records_both_classes_and_dropping_it_blends_again(
        make_window, cvae_path, qtbot, tmp_path):
    win = make_window(cvae_path)
    panel = win.interpolation_dock.panel
    qtbot.waitUntil(lambda: panel.frames is not None, timeout=60_000)
    _blend(panel, qtbot, "Sneaker", "Bag")
    blended = panel.frames.copy()
    gif = panel.export(tmp_path / "sneaker-to-bag.gif")
    interp = read_state(gif)["interpolation"]
    assert interp["class_from"] == {"index": SNEAKER, "name": "Sneaker"}
    assert interp["class_to"] == {"index": BAG, "name": "Bag"}
    assert interp["a"] == interp["b"] == [round(float(v), 7) for v in panel.endpoints["A"].z]

    panel.class_blend.check.click()                                  # off, and another A
    qtbot.waitUntil(lambda: "class" not in panel.status.text(), timeout=60_000)
    drop_files(win, [gif])
    qtbot.waitUntil(lambda: panel.class_blend.classes() == (SNEAKER, BAG) and "saved A" in panel.status.text()
                    and "class Sneaker → Bag" in panel.status.text(), timeout=60_000)
    assert np.array_equal(panel.frames, blended)                     # the same strip as exported

    rec = read_state(gif)
    rec["interpolation"]["class_to"] = {"index": "Bag"}
    with pytest.raises(StampError, match="class blend"):
        check_record(rec, "edited.gif")
    del rec["interpolation"]["class_from"], rec["interpolation"]["class_to"]
    assert check_record(rec, "older.gif")["interpolation"]["steps"] == 16   # a record without them is valid

"""A colour model of another size works end to end: a 3x32x32 VAE trained here for a few seconds on 64
PNGs opens in the app, its sliders change the canvas's colours, the sampling grid, the score dock, the
interpolation strip and the latent map show colour, and the command line samples, scores and
interpolates it in colour."""
from __future__ import annotations

import json

import numpy as np
import pytest
from app_helpers import assert_shows, assert_visibly_different
from panel_helpers import wait_background
from PIL import Image

import models
from explorer.app.interpolation_panel import STRIP_PAD

SIZE = 32


def _colour_folder(root, n: int = 64, size: int = 48):
    """``n`` saturated squares (red, green, blue, yellow) on white, ``size`` px, in two class folders."""
    rng = np.random.default_rng(0)
    colours = [(230, 30, 30), (30, 180, 40), (30, 60, 230), (240, 200, 20)]
    for i in range(n):
        sub = root / ("warm" if i % 4 in (0, 3) else "cool")
        sub.mkdir(parents=True, exist_ok=True)
        a = np.full((size, size, 3), 255, np.uint8)
        y, x = rng.integers(0, size // 4, 2)
        a[y:y + size * 2 // 3, x:x + size * 2 // 3] = colours[i % 4]
        Image.fromarray(a).save(sub / f"{i:03d}.png")
    return root


@pytest.fixture(scope="session")
def colour_model(tmp_path_factory):
    """(checkpoint, data folder): a 3x32x32 VAE trained by `latent-explorer train` on 64 PNGs (40 epochs,
    about 5 s: enough for its samples to have colour and its code to matter), calibrated on its own images
    (64 images leave too few held out for a real calibration; no test here looks at its heat map, so the
    calibration's background model gets a few steps)."""
    from explorer.cli import main
    from models import scoring
    from models.data import image_folder
    from panel_helpers import quick_background_fit

    root = tmp_path_factory.mktemp("colour")
    folder = _colour_folder(root / "squares")
    out = root / "vae-colour.safetensors"
    assert main(["train", "vae", "--data", str(folder), "--image-size", str(SIZE), "--channels", "3",
                 "--max-images", "64", "--epochs", "40", "--batch-size", "16", "--width", "8",
                 "--latent-dim", "4", "--lr", "0.003", "--no-calibrate", "--quiet", "--out", str(out)]) == 0
    m = models.load(out, device="cpu")
    train, _ = image_folder(folder, size=SIZE, channels=3)
    with quick_background_fit():
        scoring.calibrate(m, images=train.images[:48])
    path = m.metadata.pop("path", None)
    models.save(m, out)
    assert path is not None
    return out, folder


def _coloured(a, levels: int = 30) -> float:
    """The share of pixels whose channels differ by at least ``levels`` (0 for a grey image)."""
    a = np.asarray(a).astype(int)
    return float((a.max(-1) - a.min(-1) >= levels).mean())


def _qimage_array(img) -> np.ndarray:
    from PySide6.QtGui import QImage

    img = img.convertToFormat(QImage.Format.Format_RGB888)
    w, h = img.width(), img.height()
    return np.frombuffer(img.constBits(), np.uint8, count=img.bytesPerLine() * h).reshape(h, -1)[:, :3 * w] \
        .reshape(h, w, 3).copy()


def test_a_colour_model_opens_and_a_slider_changes_each_colour_channel_on_the_canvas(make_window, colour_model,
                                                                                    frame_waiter):
    import torch

    from models.intake import take_in

    win = make_window(colour_model[0])
    loaded = win.state.loaded
    red = take_in(next(colour_model[1].rglob("000.png")), model=loaded.model)[0]     # a red square
    with torch.no_grad():
        z = loaded.model.encode(red.float01.unsqueeze(0))[0].numpy()
    for slider, v in zip(win.latent_dock.sliders, loaded.values_from_z(z)):   # as a user would drag them
        slider.setValue(float(v))
    frame_waiter(win)
    before = assert_shows(win)
    assert before.shape == (SIZE, SIZE, 3) and _coloured(before) > 0.1
    slider = win.latent_dock.sliders[0]
    slider.setValue(-2.5 if slider.value() > 0 else 2.5)
    frame_waiter(win)
    after = assert_shows(win, what="the canvas after the slider moved")
    assert_visibly_different(before, after, "the canvas before and after the slider moved")
    d = after.astype(int) - before.astype(int)
    # the channels change differently (a grey image copied into R, G and B would change all three alike)
    assert (np.abs(d[..., 0] - d[..., 1]) >= 30).mean() > 0.02 or (np.abs(d[..., 1] - d[..., 2]) >= 30).mean() > 0.02


def test_the_sampling_grid_shows_colour_thumbnails_sized_for_the_model(make_window, colour_model, qtbot):
    win = make_window(colour_model[0])
    panel = win.sampling_panel
    qtbot.waitUntil(lambda: panel.grid_data is not None, timeout=30_000)
    assert panel.grid_data.images.shape == (9, SIZE, SIZE, 3)
    b = panel.buttons[0]
    assert b.iconSize().width() == 2 * SIZE          # 32 px shown at 2x (a 28 px image at 3x)
    icons = [_qimage_array(b.icon().pixmap(b.iconSize()).toImage()) for b in panel.buttons]
    assert icons[0].shape[:2] == (2 * SIZE, 2 * SIZE)
    assert _coloured(np.concatenate(icons)) > 0.01          # a grey drawing path would give exactly 0


def test_a_dropped_colour_png_is_scored_in_colour(make_window, colour_model, qtbot, tmp_path):
    from test_analysis_window import drop_files, wait_scored

    win = make_window(colour_model[0])
    a = np.zeros((90, 60, 4), np.uint8)
    a[20:70, 10:50] = (30, 60, 230, 255)                 # a blue block, the rest transparent
    Image.fromarray(a, "RGBA").save(tmp_path / "blue.png")
    drop_files(win, [tmp_path / "blue.png"])
    wait_scored(qtbot, win)
    item = win.score_dock.panel.items[-1]
    assert item.status == "done", item.error
    assert item.image.shape == (SIZE, SIZE, 3) and item.reconstruction.shape == (SIZE, SIZE, 3)
    assert tuple(item.image[0, 0]) == (255, 255, 255) and tuple(item.image[SIZE // 2, SIZE // 2]) == (30, 60, 230)
    assert "transparent pixels composited on white (the training background)" in item.steps
    assert any(s.startswith("centre-cropped to 60x60") for s in item.steps)
    assert item.score is not None and item.verdict in ("in-distribution", "out-of-distribution")
    seen = _qimage_array(win.score_dock.panel.details.seen.pixmap().toImage())
    assert _coloured(seen) > 0.2                          # the "model sees" picture is drawn in colour


def test_the_interpolation_strip_and_the_latent_map_are_in_colour(make_window, colour_model, qtbot):
    win = make_window(colour_model[0])
    interp = win.interpolation_dock.panel
    qtbot.waitUntil(lambda: interp.frames is not None, timeout=30_000)
    red, yellow = (next(colour_model[1].rglob(name)) for name in ("000.png", "003.png"))
    interp.set_endpoint_file("A", red)
    interp.set_endpoint_file("B", yellow)
    qtbot.waitUntil(lambda: all(interp.endpoints[k] is not None and interp.endpoints[k].label == p.name
                                for k, p in (("A", red), ("B", yellow))), timeout=30_000)
    wait_background(qtbot)
    frames = interp.frames
    assert frames.shape[1:] == (SIZE, SIZE, 3) and _coloured(frames) > 0.01
    strip = _qimage_array(interp.strip.pixmap().toImage())
    scale = interp.strip_scale()
    for i in (0, len(frames) - 1):            # the strip draws the end frames' own colours, pixel for pixel
        x0 = STRIP_PAD + i * (SIZE * scale + STRIP_PAD)
        tile = strip[STRIP_PAD:STRIP_PAD + SIZE * scale:scale, x0:x0 + SIZE * scale:scale]
        assert np.array_equal(tile[2:-2, 2:-2], frames[i][2:-2, 2:-2])   # inside the highlight's frame
    lmap = win.map_dock.panel
    qtbot.waitUntil(lambda: lmap.map is not None, timeout=60_000)
    wait_background(qtbot)
    lm = lmap.map
    assert lm.kind == "data" and lm.images.shape == (64, SIZE, SIZE, 3)
    assert lm.classes == ["cool", "warm"] and f"64 images from {colour_model[1]}" in lmap.status.text()
    lmap.show_thumbnail(0)
    thumb = _qimage_array(lmap.thumb.pixmap().toImage())
    assert thumb.shape[:2] == (2 * SIZE, 2 * SIZE) and _coloured(thumb) > 0.05


def test_without_its_data_a_colour_models_map_is_made_of_its_own_samples(tmp_path):
    from models.latent_map import build
    from models.vae import VAEModel

    m = VAEModel.build({"image_shape": [3, 16, 24], "latent_dim": 3, "channels": 4},
                       metadata={"training": {"data": str(tmp_path / "gone")}})
    lm = build(m)
    assert lm.kind == "samples" and lm.classes == ["samples"] and lm.images.shape[1:] == (16, 24, 3)
    assert lm.source == "1,000 of the model's own samples (its data folder is not here)"


def test_the_command_line_samples_scores_and_interpolates_a_colour_model(colour_model, tmp_path, capsys):
    from explorer.cli import main

    ckpt, folder = colour_model
    assert main(["sample", str(ckpt), "-n", "4", "--scale", "1", "--out", str(tmp_path / "grid.png")]) == 0
    grid = np.asarray(Image.open(tmp_path / "grid.png"))
    assert grid.ndim == 3 and grid.shape[2] == 3 and _coloured(grid) > 0.05
    assert main(["interpolate", str(ckpt), "--from", "0", "--to", str(next(folder.rglob("*.png"))),
                 "--steps", "5", "--out", str(tmp_path / "walk.gif")]) == 0
    gif = Image.open(tmp_path / "walk.gif")
    assert gif.n_frames == 5
    gif.seek(4)                                           # the end that is the (coloured) training image
    assert _coloured(np.asarray(gif.convert("RGB"))) > 0.05
    capsys.readouterr()
    png = tmp_path / "in.png"
    Image.open(next(folder.rglob("*.png"))).save(png)
    assert main(["score", "--json", "--quiet", "--model", str(ckpt), str(png)]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["source"] == str(png) and row["verdict"] in ("in-distribution", "out-of-distribution")
    assert 0 < row["bits_per_dim"] < 16
    assert main(["info", str(ckpt)]) == 0
    out = capsys.readouterr().out
    assert "3x32x32 (colour)" in out and "pictures are centre-cropped to 1:1, resized to 32x32 (colour)" in out

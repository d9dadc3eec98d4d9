"""The interpolation panel: endpoints, frames, playback, scrubbing and export.

With the bundled trained VAE, so a walk from A to B is one a person sees change."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from app_helpers import assert_visibly_different
from panel_helpers import executor, trained_vae, wait_background  # noqa: I001

from explorer.app.interpolation_panel import InterpolationPanel
from models.bundled_data import SAMPLES_DIR


@pytest.fixture
def panel(qtbot):
    p = InterpolationPanel(executor())
    qtbot.addWidget(p)
    p.show()
    with qtbot.waitSignal(p.framesReady, timeout=20000):
        p.set_model(trained_vae())
    wait_background(qtbot)
    return p


def test_new_model_gives_a_strip_whose_ends_are_a_and_b(panel):
    assert panel.frames.shape == (16, 28, 28)
    m = trained_vae()
    za, zb = m.prior_z(1, seed=0)[0].numpy(), m.prior_z(1, seed=1)[0].numpy()
    assert np.allclose(panel.zs[0], za, atol=1e-5) and np.allclose(panel.zs[-1], zb, atol=1e-5)
    assert np.array_equal(panel.frames[0], panel.endpoints["A"].image)
    assert np.array_equal(panel.frames[-1], panel.endpoints["B"].image)
    # a walk a person sees: A and B differ, the middle is neither, and the frames are decodes of the path
    assert_visibly_different(panel.frames[0], panel.frames[-1], "A and B")
    middle = panel.frames[8]
    assert not (np.array_equal(middle, panel.frames[0]) or np.array_equal(middle, panel.frames[-1]))
    from models.imaging import to_uint8

    assert np.array_equal(panel.frames[8], to_uint8(m.decode(torch.from_numpy(panel.zs[8])[None]))[0, 0])


def test_steps_method_and_endpoints_from_images_and_current_z(panel, qtbot):
    with qtbot.waitSignal(panel.framesReady, timeout=20000) as blocker:
        panel.steps.setValue(5)
    assert blocker.args == [5]
    wait_background(qtbot)
    with qtbot.waitSignal(panel.framesReady, timeout=20000):
        panel.method.setCurrentIndex(panel.method.findData("lerp"))
    wait_background(qtbot)
    norms = np.linalg.norm(panel.zs, axis=1)
    assert norms[2] < max(norms[0], norms[-1])          # lerp passes inside the shell
    before = panel.frames[0].copy()
    with qtbot.waitSignal(panel.framesReady, timeout=20000):
        panel.set_endpoint_file("A", SAMPLES_DIR / "trouser.png")
    wait_background(qtbot)
    assert panel.end_labels["A"].text() == "A: trouser.png"
    # the walk now starts at the trouser's reconstruction: it looks like the trouser, not like sample 0
    from models.intake import load_image

    trouser = load_image(SAMPLES_DIR / "trouser.png").uint8.numpy()[0]
    assert_visibly_different(panel.frames[0], before, "the new start and the old one")
    assert np.abs(panel.frames[0].astype(int) - trouser).mean() < 0.6 * np.abs(before.astype(int) - trouser).mean()
    z = np.linspace(-1, 1, trained_vae().latent_dim).astype(np.float32)
    panel.current_z_provider = lambda: z
    with qtbot.waitSignal(panel.framesReady, timeout=20000):
        panel.set_endpoint_current("B")
    wait_background(qtbot)
    assert np.allclose(panel.zs[-1], z, atol=1e-5)
    panel.add_dropped_image("digit.png", np.zeros((28, 28), np.uint8))
    with qtbot.waitSignal(panel.framesReady, timeout=20000):
        panel.set_endpoint_image("B", panel.dropped["digit.png"], "digit.png")
    assert "digit.png" in panel.end_labels["B"].text()


def test_play_loops_and_pause_stops(panel, qtbot):
    panel.fps.setValue(60)
    panel.play_button.click()
    assert panel.is_playing() and panel.play_button.text() == "Pause"
    seen = set()
    qtbot.waitUntil(lambda: seen.add(panel.current_frame()) or len(seen) == 16, timeout=60_000)
    qtbot.waitUntil(lambda: panel.current_frame() < 3, timeout=60_000)   # wrapped round: loop
    panel.play_button.click()
    assert not panel.is_playing()
    f = panel.current_frame()
    qtbot.wait(100)
    assert panel.current_frame() == f


def test_without_loop_playback_stops_at_the_last_frame(panel, qtbot):
    panel.loop.setChecked(False)
    panel.fps.setValue(60)
    panel.set_playing(True)
    qtbot.waitUntil(lambda: not panel.is_playing(), timeout=60_000)
    assert panel.current_frame() == 15


def test_scrub_shows_frame_and_use_frame_emits_its_z(panel, qtbot):
    panel.scrub.setValue(7)
    assert np.array_equal(panel.preview.array(), panel.frames[7])
    panel.scrub.setValue(15)
    assert_visibly_different(panel.preview.array(), panel.frames[0], "the last frame and the first")
    panel.scrub.setValue(7)
    assert panel.frame_label.text().startswith("frame 8 / 16")
    with qtbot.waitSignal(panel.latentChosen) as blocker:
        panel.use_button.click()
    assert np.allclose(blocker.args[0], panel.zs[7])


def test_export_gif_has_n_frames_and_png_strip_has_n_tiles(panel, tmp_path):
    gif = panel.export(tmp_path / "walk.gif")
    with Image.open(gif) as im:
        assert im.n_frames == 16 and im.size == (112, 112)
        first = np.asarray(im.convert("L"))
        im.seek(15)
        last = np.asarray(im.convert("L"))
    assert_visibly_different(first, last, "the GIF's first and last frames")
    png = panel.export(tmp_path / "walk.png")
    with Image.open(png) as im:
        assert im.size == ((16 * 30 + 2) * 2, 32 * 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["walk.gif", "walk.png"]   # no temp files left
    assert panel.export(tmp_path / "walk.gif" / "x.gif") is None      # parent is a file
    assert "could not write" in panel.status.text()

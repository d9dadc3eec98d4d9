"""Opening a model without a latent (a PixelCNN) hides the latent views and says why; opening a
model with one brings them back."""
from __future__ import annotations

import pytest
import torch

import models
from models.pixelcnn import PixelCNNModel


@pytest.fixture
def pixelcnn_file(tmp_path):
    torch.manual_seed(0)
    m = PixelCNNModel.build({"hidden": 4, "layers": 2, "n_mix": 2})
    return models.save(m, tmp_path / "tiny-pixelcnn.safetensors", name="tiny PixelCNN")


def test_a_model_without_a_latent_hides_the_latent_views_and_says_why(make_window, qtbot, pixelcnn_file):
    win = make_window()
    with qtbot.waitSignal(win.model_load_finished, timeout=120_000) as blocker:
        win.open_model(pixelcnn_file)
    assert blocker.args[0], blocker.args[1]
    qtbot.waitUntil(lambda: not win.latent_dock.isVisible(), timeout=10_000)
    assert not win.map_dock.isVisible() and not win.interpolation_dock.isVisible()
    assert win.canvas.overlay.isVisible() and "has no latent code" in win.canvas.overlay.text()
    with qtbot.waitSignal(win.model_load_finished, timeout=120_000):
        win.open_model(models.bundled("vae"))
    qtbot.waitUntil(lambda: win.latent_dock.isVisible(), timeout=10_000)


def test_a_pixelcnn_fills_the_sampling_grid_pixel_by_pixel_and_says_how_far_it_got(make_window, qtbot,
                                                                                   pixelcnn_file):
    """A PixelCNN has no latent, yet the Sampling dock draws its grid (model.sample, with progress):
    nine different pictures, not blank tiles (a tiny untrained one: the bundled one takes a minute here)."""
    import numpy as np

    win = make_window()
    texts = []
    win.sampling_panel._progress.changed.connect(lambda _f, text: texts.append(text))
    with qtbot.waitSignal(win.model_load_finished, timeout=120_000) as blocker:
        win.open_model(pixelcnn_file)
    assert blocker.args[0], blocker.args[1]
    panel = win.sampling_panel
    qtbot.waitUntil(lambda: panel.grid_data is not None, timeout=600_000)
    g = panel.grid_data
    assert g.images.shape[0] == 9 and g.images.shape[1:3] == (28, 28)
    assert all(img.std() > 10 for img in g.images)                 # each tile has a picture in it
    assert len({img.tobytes() for img in g.images}) == 9           # and they differ
    assert texts and texts[-1].endswith("100%") and "pixel by pixel" in texts[0]
    assert not panel.progress_label.isVisible()
    assert np.allclose(g.values, np.zeros((9, 0)))


def test_closing_on_a_pixelcnn_does_not_save_the_latent_views_as_closed(make_window, qtbot, pixelcnn_file, tmp_path):
    """The latent docks were hidden for the model, not by the user: the next session shows them."""
    from PySide6.QtCore import QSettings

    from explorer.app.main_window import MainWindow

    win = make_window()
    with qtbot.waitSignal(win.model_load_finished, timeout=120_000):
        win.open_model(pixelcnn_file)
    qtbot.waitUntil(lambda: not win.latent_dock.isVisible(), timeout=10_000)
    path = win.settings.fileName()
    win.close()
    again = MainWindow(settings=QSettings(path, QSettings.Format.IniFormat), device="cpu")
    qtbot.addWidget(again)
    again.show()
    with qtbot.waitSignal(again.model_load_finished, timeout=120_000):
        again.open_model(models.bundled("vae"))
    qtbot.waitUntil(lambda: again.latent_dock.isVisible(), timeout=10_000)
    assert again.map_dock.isVisible() or again.interpolation_dock.isVisible()

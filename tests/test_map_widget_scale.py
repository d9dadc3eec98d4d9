"""The latent map widget at data-set scale: search, rectangle selection with its grid of images and
reconstructions, the selection as interpolation endpoints, exact PCA decoding of any spot, colouring
by a direction, nearest neighbours, switching the image set with progress, and cancel."""
from __future__ import annotations

import numpy as np
import pytest
from panel_helpers import executor, trained_vae, wait_background
from PySide6.QtCore import QPoint, QRectF, Qt
from PySide6.QtTest import QTest

from explorer.app.latent_map import LatentMapWidget
from explorer.app.map_scatter import RAMP


@pytest.fixture
def widget(qtbot):
    w = LatentMapWidget(executor())
    qtbot.addWidget(w)
    w.resize(700, 600)
    w.show()
    with qtbot.waitSignal(w.mapReady, timeout=30_000):
        w.set_model(trained_vae())
    wait_background(qtbot)
    qtbot.wait(50)
    return w


def _plot_pixels(w) -> np.ndarray:
    """What the plot shows now, as (H, W, 3) uint8."""
    from PySide6.QtGui import QImage

    img = w.plot.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    rows = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())
    return rows[:, :img.width() * 3].reshape(img.height(), img.width(), 3).copy()


def test_every_point_is_drawn_in_its_class_colour(widget):
    from models.map_picture import PALETTE

    assert widget.points.point_count() == len(widget.map)
    seen = {tuple(p) for p in _plot_pixels(widget).reshape(-1, 3)}
    premultiplied = [tuple(int(v * 230 / 255 + 0.5) for v in c) for c in PALETTE]   # on the black plot
    assert sum(any(np.abs(np.array(s) - c).max() <= 3 for s in seen) for c in premultiplied) == 10


def test_search_rings_every_point_of_a_class_and_says_how_many(widget):
    hits = widget.search("trouser")
    n = int((widget.map.labels == 1).sum())
    assert len(hits) == n > 0 and widget.points.highlighted() == n
    assert f"{n:,} points match “trouser”" in widget.status.text()
    widget.search("giraffe")
    assert widget.points.highlighted() == 0 and "Nothing matches" in widget.status.text()


def test_a_rectangle_selects_points_and_shows_their_images_and_reconstructions(widget, qtbot):
    lm = widget.map
    cx, cy = np.median(lm.xy, 0)
    rect = QRectF(cx - 0.5, cy - 0.5, 1.0, 1.0)
    inside = widget.select_rect(rect)
    assert len(inside) > 2
    grid = widget.selection_grid
    assert grid.isVisible() and f"{len(inside):,} selected" in grid.title.text()
    qtbot.waitUntil(lambda: grid.recon is not None, timeout=30_000)
    shown = len(grid.indices)
    assert grid.real.shape[0] == grid.recon.shape[0] == shown == min(len(inside), 24)
    assert np.array_equal(grid.real, lm.images[inside[:shown]])
    # a reconstruction is near its own image, nearer than to the other images shown
    d = np.abs(grid.recon[:, None].astype(int) - grid.real[None].astype(int)).mean((2, 3))
    assert (np.argmin(d, 1) == np.arange(shown)).mean() > 0.7
    assert len(grid.strips) == 2 * ((shown + 23) // 24)        # each row of images has its reconstructions


def test_shift_drag_draws_a_rectangle_that_selects(widget, qtbot):
    vp = widget.plot.viewport()
    c = vp.rect().center()
    a, b = QPoint(c.x() - 60, c.y() - 60), QPoint(c.x() + 60, c.y() + 60)
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, a)
    for k in range(1, 6):
        QTest.mouseMove(vp, a + (b - a) * (k / 5))
        QTest.qWait(10)
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, b)
    qtbot.waitUntil(lambda: len(widget.selection) > 0, timeout=10_000)
    assert widget.selection_grid.isVisible()


def test_the_selection_becomes_the_interpolations_endpoints(widget, qtbot):
    widget.select(np.array([5, 40, 90]))
    with qtbot.waitSignal(widget.endpointsChosen, timeout=10_000) as got:
        widget.selection_grid.interpolate.click()
    za, zb, na, nb = got.args
    assert np.array_equal(za, widget.map.z[5]) and np.array_equal(zb, widget.map.z[90])
    assert na == widget._name(5) and "#" in nb
    with qtbot.waitSignal(widget.traversalChosen, timeout=10_000) as base:
        widget.selection_grid.traverse.click()
    assert np.array_equal(base.args[0], widget.map.z[5])


def test_clicking_an_empty_spot_of_a_pca_map_decodes_that_exact_point(widget, qtbot):
    lm = widget.map
    vb = widget.viewbox
    (x0, x1), (y0, y1) = vb.viewRange()
    spot = (x0 + 0.02 * (x1 - x0), y1 - 0.02 * (y1 - y0))           # a corner: no point there
    assert widget.point_at(*spot) is None
    with qtbot.waitSignal(widget.latentChosen, timeout=10_000) as got:
        widget.choose_position(*spot)
    assert np.allclose(lm.project(got.args[0]), [spot], atol=1e-3)
    assert "exact inverse" in widget.status.text()


def test_colouring_by_a_direction_draws_a_ramp_and_says_its_range(widget):
    widget.toolbar.colour.setCurrentIndex(1)                            # the strongest direction
    assert widget.toolbar.colour_key() == "direction:0"
    assert "…" in widget.legend.text() and "Ankle" not in widget.legend.text()
    seen = {tuple(p) for p in _plot_pixels(widget).reshape(-1, 3)}
    ramp = [tuple(int(v * 230 / 255 + 0.5) for v in c) for c in RAMP]
    assert sum(any(np.abs(np.array(s) - c).max() <= 3 for s in seen) for c in ramp) >= 6


def test_a_scored_image_rings_its_nearest_neighbours(widget):
    z = widget.map.z[12] + 0.01
    widget.add_marker("dropped.png", z, "in-distribution")
    assert widget.points.highlighted() == 20 and 12 in widget.found
    assert "nearest to dropped.png" in widget.status.text()


def test_switching_to_a_larger_set_shows_progress_and_cancel_keeps_the_app_usable(widget, qtbot):
    shown = []
    widget._progress.changed.connect(lambda f, t: shown.append(t))
    assert widget.toolbar.choose_data("fashion-mnist", "test")
    qtbot.waitUntil(lambda: any("encoded" in t for t in shown), timeout=60_000)
    assert widget.toolbar.cancel.isVisible()
    widget.toolbar.cancel.click()
    assert "Cancelled" in widget.status.text() and not widget.toolbar.cancel.isVisible()
    wait_background(qtbot, timeout=60_000)
    with qtbot.waitSignal(widget.mapReady, timeout=30_000):
        widget.toolbar.choose_data("bundled", "train")
    assert len(widget.map) == 1500


def test_a_large_search_fades_the_other_points_instead_of_burying_the_hits_in_rings(widget):
    from explorer.app.map_scatter import FAINT

    hits = widget.search("trouser, bag, coat, dress")
    assert len(hits) > 500 and widget.points.highlighted() == len(hits)
    assert len(widget.points.highlight.data) == 0                       # no rings
    alpha = widget.points.raster.rgba >> 24
    assert int((alpha == FAINT).sum()) == len(widget.map) - len(hits)   # every other point is faint
    widget.search("")
    assert int(((widget.points.raster.rgba >> 24) == FAINT).sum()) == 0


def test_in_the_window_a_selection_becomes_the_interpolation_and_the_traversal_base(make_window, trained_vae_path,
                                                                                   qtbot):
    win = make_window(trained_vae_path)
    win.map_dock.raise_()
    lmap = win.map_dock.panel
    qtbot.waitUntil(lambda: lmap.map is not None, timeout=60_000)
    lmap.select(lmap.map.search("sandal")[:5])
    lmap.selection_grid.interpolate.click()
    panel = win.interpolation_dock.panel
    qtbot.waitUntil(lambda: all(panel.endpoints[k] is not None and "Sandal #" in panel.endpoints[k].label
                                for k in "AB"), timeout=30_000)
    first, last = int(lmap.selection[0]), int(lmap.selection[-1])
    assert np.allclose(panel.endpoints["A"].z, lmap.map.z[first]) and np.allclose(panel.endpoints["B"].z, lmap.map.z[last])
    lmap.selection_grid.traverse.click()
    qtbot.waitUntil(lambda: np.allclose(win.state.z, lmap.map.z[first], atol=1e-4), timeout=30_000)
    assert win.traversal_dock.isVisible()

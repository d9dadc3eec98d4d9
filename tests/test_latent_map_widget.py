"""The latent map widget: points by class, hover thumbnails, click to choose, markers."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from panel_helpers import executor, tiny_vae, wait_background  # noqa: I001

from explorer.app.latent_map import LatentMapWidget


@pytest.fixture
def widget(qtbot):
    w = LatentMapWidget(executor())
    qtbot.addWidget(w)
    w.resize(500, 420)
    w.show()
    with qtbot.waitSignal(w.mapReady, timeout=20000):
        w.set_model(tiny_vae())
    wait_background(qtbot)
    qtbot.wait(50)
    return w


def _isolated_point(w) -> int:
    """A point with no neighbour within the pick radius, so a click picks exactly it."""
    xy = w.map.xy
    vb = w.plot.getPlotItem().getViewBox()
    pw, ph = vb.viewPixelSize()
    s = xy / np.array([pw, ph])
    d = ((s[:, None] - s[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    return int(np.argmax(d.min(1)))


def test_map_shows_every_subset_point_with_a_legend(widget):
    n = len(widget.map)
    assert n >= 1000 and widget.scatter.data.shape[0] == n
    assert len(widget.legend_entries) == 10
    assert "T-shirt/top" in widget.legend.text() and "Ankle boot" in widget.legend.text()
    assert "PC 1" in widget.plot.getPlotItem().getAxis("bottom").labelText


def test_clicking_a_point_emits_its_z(widget, qtbot):
    i = _isolated_point(widget)
    pos = widget.widget_pos_of(i)
    with qtbot.waitSignal(widget.latentChosen, timeout=3000) as blocker:
        QTest.mouseClick(widget.plot.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert np.allclose(blocker.args[0], widget.map.z[i])
    assert np.allclose(widget.current_position(), widget.map.xy[i], atol=1e-4)


def test_hover_shows_a_thumbnail_of_the_image(widget, qtbot):
    i = _isolated_point(widget)
    QTest.mouseMove(widget.plot.viewport(), widget.widget_pos_of(i))
    qtbot.waitUntil(lambda: widget.thumb.isVisible(), timeout=3000)
    assert widget.hovered == i
    assert widget.thumb.pixmap().width() == 84
    cls = widget.map.classes[widget.map.labels[i]]
    assert cls in widget.status.text()


def test_current_z_and_scored_images_are_markers_in_the_same_projection(widget):
    z = widget.map.z[5] + 0.1
    widget.set_current_z(z)
    assert np.allclose(widget.current_item.data["x"][0], widget.map.project(z)[0, 0])
    widget.add_marker("digit.png", widget.map.z[3], "out-of-distribution")
    widget.add_marker("sneaker.png", widget.map.z[4], "in-distribution")
    assert widget.marker_items.data.shape[0] == 2 and len(widget.labels) == 2
    assert np.allclose(widget.marker_positions(), widget.map.xy[3:5], atol=1e-4)
    widget.clear_markers()
    assert widget.marker_items.data.shape[0] == 0 and not widget.labels


def test_second_projection_uses_slider_directions(widget, qtbot):
    with qtbot.waitSignal(widget.mapReady, timeout=20000):
        widget.projection.setCurrentIndex(widget.projection.findData("directions"))
    assert widget.map.method == "directions"

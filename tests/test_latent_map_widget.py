"""The latent map widget: points by class, hover thumbnails, click to choose, markers."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from panel_helpers import executor, trained_vae, wait_background  # noqa: I001

from explorer.app.latent_map import LatentMapWidget


@pytest.fixture
def widget(qtbot):
    w = LatentMapWidget(executor())
    qtbot.addWidget(w)
    w.resize(500, 420)
    w.show()
    with qtbot.waitSignal(w.mapReady, timeout=20000):
        w.set_model(trained_vae())
    wait_background(qtbot)
    qtbot.wait(50)
    return w


def _hover(w, pos) -> None:
    """Move the pointer onto ``pos`` of the plot (from elsewhere: a move to where it already is is no move)."""
    from PySide6.QtCore import QPoint

    QTest.mouseMove(w.plot.viewport(), QPoint(pos.x() + 40, pos.y() + 40))
    QTest.qWait(30)
    QTest.mouseMove(w.plot.viewport(), pos)


def _isolated_point(w) -> int:
    """A point with no neighbour within the pick radius, so a click picks exactly it, and at least
    30 px inside the plot's view box (an outlier on its edge is where a hover leaves the box)."""
    xy = w.map.xy
    vb = w.plot.getPlotItem().getViewBox()
    pw, ph = vb.viewPixelSize()
    s = xy / np.array([pw, ph])
    d = ((s[:, None] - s[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    box = w.plot.mapFromScene(vb.sceneBoundingRect()).boundingRect().adjusted(30, 30, -30, -30)
    inside = np.array([box.contains(w.widget_pos_of(i)) for i in range(len(xy))])
    return int(np.argmax(np.where(inside, d.min(1), -1.0)))


def test_map_shows_every_subset_point_with_a_legend(widget):
    n = len(widget.map)
    assert n >= 1000 and widget.points.point_count() == n
    assert len(widget.legend_entries) == 10
    assert "T-shirt/top" in widget.legend.text() and "Ankle&nbsp;boot" in widget.legend.text()  # kept on one line
    assert "PC 1" in widget.plot.getPlotItem().getAxis("bottom").labelText


def test_clicking_a_point_emits_its_z(widget, qtbot):
    i = _isolated_point(widget)
    pos = widget.widget_pos_of(i)
    with qtbot.waitSignal(widget.latentChosen, timeout=30_000) as blocker:
        QTest.mouseClick(widget.plot.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert np.allclose(blocker.args[0], widget.map.z[i])
    assert np.allclose(widget.current_position(), widget.map.xy[i], atol=1e-4)


def test_hover_shows_a_thumbnail_of_the_image(widget, qtbot):
    i = _isolated_point(widget)
    QTest.mouseMove(widget.plot.viewport(), widget.widget_pos_of(i))
    qtbot.waitUntil(lambda: widget.thumb.isVisible(), timeout=30_000)
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
    assert widget.marker_items.data.shape[0] == 2 and 1 <= len(widget.labels) <= 2
    assert np.allclose(widget.marker_positions(), widget.map.xy[3:5], atol=1e-4)
    widget.clear_markers()
    assert widget.marker_items.data.shape[0] == 0 and not widget.labels


def test_second_projection_uses_slider_directions(widget, qtbot):
    with qtbot.waitSignal(widget.mapReady, timeout=20000):
        widget.projection.setCurrentIndex(widget.projection.findData("directions"))
    assert widget.map.method == "directions"


def test_the_hover_preview_hides_when_the_pointer_leaves_the_plot(widget, qtbot):
    i = _isolated_point(widget)
    _hover(widget, widget.widget_pos_of(i))
    qtbot.waitUntil(lambda: widget.thumb.isVisible(), timeout=30_000)
    QTest.mouseMove(widget.projection)          # onto another widget: the plot gets a Leave
    qtbot.waitUntil(lambda: not widget.thumb.isVisible(), timeout=30_000)
    assert widget.hovered is None


def test_the_hover_preview_hides_when_a_menu_opens(widget, qtbot):
    from PySide6.QtCore import QEvent
    from PySide6.QtWidgets import QApplication, QMenu

    i = _isolated_point(widget)
    _hover(widget, widget.widget_pos_of(i))
    qtbot.waitUntil(lambda: widget.thumb.isVisible(), timeout=30_000)
    menu = QMenu(widget)
    menu.addAction("Open…")
    menu.popup(widget.mapToGlobal(widget.rect().center()))
    # a popup takes the pointer: Qt tells the widget under it that the pointer left
    QApplication.sendEvent(widget.plot.viewport(), QEvent(QEvent.Type.Leave))
    qtbot.waitUntil(lambda: not widget.thumb.isVisible(), timeout=30_000)
    menu.close()


def test_many_scored_images_in_one_place_get_one_label_and_each_name_shows_on_hover(widget, qtbot):
    names = [f"image-{k}.png" for k in range(6)]
    for n in names:
        widget.add_marker(n, widget.map.z[7], "in-distribution")
    assert widget.labelled_markers() == ["image-0.png"]          # the rest would pile on top of it
    _hover(widget, widget.marker_widget_pos(5))
    qtbot.waitUntil(lambda: widget.thumb.isVisible(), timeout=30_000)
    assert "image-5.png" in widget.thumb.text() and "in-distribution" in widget.thumb.text()


def test_scored_images_far_apart_are_all_labelled(widget):
    far = [int(np.argmin(widget.map.xy[:, 0])), int(np.argmax(widget.map.xy[:, 0]))]
    for k, i in enumerate(far):
        widget.add_marker(f"far-{k}.png", widget.map.z[i], "out-of-distribution")
    assert sorted(widget.labelled_markers()) in (["far-0.png", "far-1.png"], ["far-1.png"], ["far-0.png"])
    assert len(widget.labelled_markers()) >= 1


@pytest.mark.parametrize("size", [(1000, 700), (1100, 720), (1400, 900)])
def test_the_legend_shows_every_class_name_at_everyday_window_sizes(make_window, tiny_vae_path, qtbot, size):
    win = make_window(tiny_vae_path)
    win.resize(*size)
    win.map_dock.show()
    win.map_dock.raise_()
    lmap = win.map_dock.panel
    qtbot.waitUntil(lambda: lmap.map is not None, timeout=60_000)
    qtbot.wait(200)
    legend = lmap.legend
    assert "Ankle&nbsp;boot" in legend.text()
    from PySide6.QtGui import QTextDocument

    doc = QTextDocument()
    doc.setDefaultFont(legend.font())
    doc.setDocumentMargin(0)           # as QLabel lays out rich text
    doc.setHtml(legend.text())
    if not legend.wordWrap():
        assert doc.idealWidth() <= legend.width()                       # one line that fits
    doc.setTextWidth(legend.width())
    assert legend.height() + 1 >= doc.size().height()                   # room for every wrapped line
    bottom = legend.mapTo(lmap, legend.rect().bottomLeft()).y()
    assert bottom <= lmap.height()                                      # and it is inside the dock

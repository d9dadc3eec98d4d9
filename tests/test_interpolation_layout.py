"""The interpolation dock at everyday window sizes: its controls stay in view, the strip keeps its
place when an endpoint changes, and it follows the playing frame."""
from __future__ import annotations

import pytest

from panel_helpers import executor, tiny_vae, wait_background  # noqa: I001

from explorer.app.interpolation_panel import InterpolationPanel


@pytest.mark.parametrize("size", [(1000, 700), (1100, 720)])
def test_the_interpolation_controls_are_in_view_with_no_horizontal_scrollbar(make_window, tiny_vae_path,
                                                                             qtbot, size):
    win = make_window(tiny_vae_path)
    win.resize(*size)
    dock = win.interpolation_dock
    dock.show()
    dock.raise_()
    panel = dock.panel
    qtbot.waitUntil(lambda: panel.frames is not None, timeout=20_000)
    qtbot.wait(200)
    area = dock.widget()
    assert not area.horizontalScrollBar().isVisible()
    view = area.viewport().rect()
    for w in (panel.method, panel.steps, panel.loop, panel.bounce, panel.fps, panel.play_button,
              panel.gif_button, panel.png_button, panel.end_buttons["B"]):
        top_left = w.mapTo(area.viewport(), w.rect().topLeft())
        bottom_right = w.mapTo(area.viewport(), w.rect().bottomRight())
        assert view.contains(top_left) and view.contains(bottom_right), (w, size)
        assert w.width() >= w.minimumSizeHint().width()   # not squeezed into clipping its text


@pytest.fixture
def long_panel(qtbot):
    p = InterpolationPanel(executor())
    qtbot.addWidget(p)
    p.resize(700, 260)
    p.show()
    with qtbot.waitSignal(p.framesReady, timeout=20000):
        p.set_model(tiny_vae())
    wait_background(qtbot)
    with qtbot.waitSignal(p.framesReady, timeout=20000):
        p.steps.setValue(60)
    wait_background(qtbot)
    return p


def test_setting_an_endpoint_leaves_the_strip_scrolled_where_the_user_put_it(long_panel, qtbot):
    bar = long_panel.strip_scroll.horizontalScrollBar()
    assert bar.maximum() > 0
    bar.setValue(bar.maximum() // 2)
    kept = bar.value()
    with qtbot.waitSignal(long_panel.framesReady, timeout=20000):
        long_panel.set_endpoint_sample("A", seed=5)
    wait_background(qtbot)
    assert bar.value() == kept


def test_during_play_the_strip_scrolls_to_show_the_playing_frame(long_panel, qtbot):
    assert 45 not in long_panel.strip_visible_frames()
    long_panel.fps.setValue(60)
    long_panel.set_playing(True)
    qtbot.waitUntil(lambda: long_panel.current_frame() >= 45
                    and long_panel.current_frame() in long_panel.strip_visible_frames(), timeout=10_000)
    long_panel.set_playing(False)
    assert long_panel.current_frame() in long_panel.strip_visible_frames()


def test_clicking_a_strip_tile_shows_that_frame(long_panel, qtbot):
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    long_panel.scrub.setValue(0)
    tw = long_panel.tile_width()
    QTest.mouseClick(long_panel.strip, Qt.MouseButton.LeftButton, pos=QPoint(2 + 3 * tw + tw // 2, 20))
    assert long_panel.current_frame() == 3

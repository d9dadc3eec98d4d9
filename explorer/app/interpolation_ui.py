"""The interpolation panel's widgets, laid out for a short, wide dock under the canvas.

The playing frame sits on the left; beside it, in rows that fit the dock at a 1000-px window: the two
endpoints (names elide, never widen the dock), the class row (conditional models only: filled by the
panel), the path's options (slerp/lerp, frames, loop, bounce, fps), the strip (it scrolls; the view
follows the playing frame), the transport and the exports.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QCheckBox, QComboBox, QHBoxLayout, QLabel, QMenu, QPushButton, QScrollArea,
                               QSlider, QSpinBox, QVBoxLayout)

from .elided_label import ElidedLabel
from .pixmaps import ImageLabel

#: strip tiles are about this many pixels high (a whole upscaling factor of the image)
STRIP_TILE_PX = 56
STRIP_PAD = 2


def build_ui(panel) -> None:
    """Make ``panel``'s widgets as its attributes and connect them to its slots."""
    # wide and short, for a dock under the canvas: the playing frame on the left, the rest beside it
    # in rows that fit the dock's width at 1000 px windows (names and status elide, never widen)
    outer = QHBoxLayout(panel)
    outer.setContentsMargins(4, 4, 4, 4)
    left = QVBoxLayout()
    panel.preview = ImageLabel(scale=4, caption="current frame")
    left.addWidget(panel.preview)
    panel.frame_label = QLabel("frame —")
    left.addWidget(panel.frame_label)
    left.addStretch(1)
    outer.addLayout(left)
    lay = QVBoxLayout()
    lay.setSpacing(4)
    outer.addLayout(lay, 1)

    ends = QHBoxLayout()
    panel.thumbs: dict[str, ImageLabel] = {}
    panel.end_labels: dict[str, QLabel] = {}
    panel.end_buttons: dict[str, QPushButton] = {}
    for key in ("A", "B"):
        thumb = ImageLabel(scale=2, caption=f"endpoint {key}")
        label = ElidedLabel(f"{key}: —")
        btn = QPushButton(f"Set {key}")
        btn.setToolTip(f"Choose endpoint {key}: the current z, a sample, or an image")
        menu = QMenu(btn)
        menu.aboutToShow.connect(lambda k=key, m=menu: panel._fill_menu(k, m))
        btn.setMenu(menu)
        panel.thumbs[key], panel.end_labels[key], panel.end_buttons[key] = thumb, label, btn
        col = QVBoxLayout()
        col.addWidget(label)
        col.addWidget(btn, 0, Qt.AlignmentFlag.AlignLeft)
        ends.addWidget(thumb)
        ends.addLayout(col, 1)
    lay.addLayout(ends)
    panel.class_row = QHBoxLayout()      # conditional models: the class selector and the class blend
    lay.addLayout(panel.class_row)

    opts = QHBoxLayout()
    panel.method = QComboBox()
    panel.method.addItem("slerp", "slerp")
    panel.method.addItem("lerp", "lerp")
    panel.method.setToolTip("slerp (spherical) follows the shell where a Gaussian prior's samples live; lerp "
                           "(linear) cuts through the low-norm middle the decoder rarely saw")
    panel.steps = QSpinBox()
    panel.steps.setRange(2, 200)
    panel.steps.setValue(16)
    panel.steps.setSuffix(" frames")
    panel.loop = QCheckBox("Loop")
    panel.loop.setChecked(True)
    panel.bounce = QCheckBox("Bounce")
    panel.bounce.setToolTip("Play forth and back (the GIF too)")
    panel.fps = QSpinBox()
    panel.fps.setRange(1, 60)
    panel.fps.setValue(12)
    panel.fps.setSuffix(" fps")
    panel.fps.valueChanged.connect(panel._apply_speed)
    for w in (panel.method, panel.steps, panel.loop, panel.bounce, panel.fps):
        opts.addWidget(w)
    opts.addStretch(1)
    lay.addLayout(opts)
    panel.method.currentIndexChanged.connect(panel.recompute)
    panel.steps.valueChanged.connect(panel.recompute)

    panel.strip = QLabel()
    panel.strip.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    panel.strip.setToolTip("click a frame to show it")
    panel.strip.mousePressEvent = panel._strip_clicked  # type: ignore[method-assign]
    panel.strip_scroll = QScrollArea()
    panel.strip_scroll.setWidget(panel.strip)
    panel.strip_scroll.setWidgetResizable(False)     # the strip keeps its size; the view scrolls
    panel.strip_scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    panel.strip_scroll.setFixedHeight(STRIP_TILE_PX + 2 * STRIP_PAD + 4
                                     + panel.strip_scroll.horizontalScrollBar().sizeHint().height())
    panel.strip_scroll.setMinimumWidth(120)
    lay.addWidget(panel.strip_scroll)

    transport = QHBoxLayout()
    panel.play_button = QPushButton("Play")
    panel.play_button.setCheckable(True)
    panel.play_button.toggled.connect(panel.set_playing)
    panel.scrub = QSlider(Qt.Orientation.Horizontal)
    panel.scrub.setRange(0, 0)
    panel.scrub.valueChanged.connect(panel._show_frame)
    transport.addWidget(panel.play_button)
    transport.addWidget(panel.scrub, 1)
    lay.addLayout(transport)
    actions = QHBoxLayout()
    panel.use_button = QPushButton("Use frame")
    panel.use_button.setToolTip("Make this frame's z the current z (sliders and canvas)")
    panel.use_button.clicked.connect(panel._use_frame)
    panel.gif_button = QPushButton("Export GIF…")
    panel.gif_button.clicked.connect(lambda: panel._export_dialog("gif"))
    panel.png_button = QPushButton("Export PNG strip…")
    panel.png_button.clicked.connect(lambda: panel._export_dialog("png"))
    for w in (panel.use_button, panel.gif_button, panel.png_button):
        actions.addWidget(w)
    actions.addStretch(1)
    lay.addLayout(actions)
    panel.status = ElidedLabel("Open a model to interpolate.")
    panel.status.setStyleSheet("color: #888;")
    lay.addWidget(panel.status)
    lay.addStretch(1)

    play_action = QAction("Play/pause interpolation", panel)
    play_action.setShortcut(QKeySequence(Qt.Key.Key_Space))
    play_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
    play_action.triggered.connect(panel.play_button.toggle)
    panel.addAction(play_action)


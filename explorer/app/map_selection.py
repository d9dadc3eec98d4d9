"""The map's selection: the selected points' real images above their reconstructions.

A rectangle on the map selects points (:class:`explorer.app.map_scatter.SelectViewBox`); this panel,
laid over the bottom of the plot (at most :data:`MAX_SHARE` of its height, scrolling beyond: it never
makes the dock or the window taller), shows the first :data:`MAX_SHOWN` of them in map order, in rows of :data:`PER_ROW`: each row of real
images has the model's reconstructions (decode of each image's code, computed on the executor)
under it, so a user sees what the model keeps and what it loses in that region.  The selection can
become the interpolation's endpoints (its first and last image) or the traversal's base (the first
image's code becomes the current z, which the traversal follows).
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from .pixmaps import strip_pixmap

MAX_SHOWN = 24
PER_ROW = 24
#: the largest share of the plot's height the panel covers
MAX_SHARE = 0.5


class SelectionGrid(QWidget):
    interpolateRequested = Signal()
    traverseRequested = Signal()
    cleared = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("MapSelection")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet("#MapSelection { background: rgba(30, 30, 30, 235); } "
                           "#MapSelection QLabel { color: #ddd; }")
        if parent is not None:
            parent.installEventFilter(self)       # follow the plot's size
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 2, 4, 2)
        lay.setSpacing(2)
        top = QHBoxLayout()
        self.title = QLabel("")
        self.title.setWordWrap(True)
        self.title.setMinimumWidth(60)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.interpolate = QPushButton("Interpolate")
        self.interpolate.setToolTip("Make the first and last selected images the interpolation's endpoints")
        self.traverse = QPushButton("Traverse")
        self.traverse.setToolTip("Go to the first selected image's code: the traversal sweeps around it")
        self.clear_button = QPushButton("Clear")
        top.addWidget(self.title, 1)
        for b in (self.interpolate, self.traverse, self.clear_button):
            top.addWidget(b)
        lay.addLayout(top)
        # the strips scroll when the dock is short, so a selection never makes the window taller
        holder = QWidget()
        self.rows = QVBoxLayout(holder)
        self.rows.setContentsMargins(0, 0, 0, 0)
        self.rows.setSpacing(1)
        self.scroll = QScrollArea()
        self.scroll.setWidget(holder)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setStyleSheet("background: transparent;")
        lay.addWidget(self.scroll, 1)
        self.interpolate.clicked.connect(self.interpolateRequested.emit)
        self.traverse.clicked.connect(self.traverseRequested.emit)
        self.clear_button.clicked.connect(self.cleared.emit)
        self.indices = np.zeros(0, np.int64)
        self.real: np.ndarray | None = None
        self.recon: np.ndarray | None = None
        self.strips: list[QLabel] = []
        self.hide()

    def show_selection(self, indices: np.ndarray, images: np.ndarray, total: int) -> None:
        """The real images now; reconstructions follow with :meth:`set_reconstructions`."""
        self.indices = np.asarray(indices[:MAX_SHOWN], np.int64)
        self.real, self.recon = images[:MAX_SHOWN], None
        shown = len(self.indices)
        self.title.setText(f"{total:,} selected" + (f" (first {shown} shown)" if total > shown else "")
                           + ": images, and under them their reconstructions (computing…)")
        self.interpolate.setEnabled(total >= 2)
        self.traverse.setEnabled(total >= 1)
        self._draw()
        self.setVisible(total > 0)
        self._place()

    def set_reconstructions(self, recon: np.ndarray) -> None:
        self.recon = recon
        total_text = self.title.text().split(":")[0]
        self.title.setText(f"{total_text}: images, and under them their reconstructions")
        self._draw()
        self._place()

    def clear(self) -> None:
        self.indices = np.zeros(0, np.int64)
        self.real = self.recon = None
        self._draw()
        self.hide()

    def _draw(self) -> None:
        for s in self.strips:
            self.rows.removeWidget(s)
            s.deleteLater()
        self.strips = []
        if self.real is None or not len(self.real):
            return
        side = max(self.real.shape[1:3])
        scale = max(1, 32 // side)
        for start in range(0, len(self.real), PER_ROW):
            for arr in (self.real, self.recon):
                if arr is None:
                    continue
                label = QLabel()
                label.setAlignment(Qt.AlignmentFlag.AlignLeft)
                label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)   # never widens the dock
                label.setPixmap(strip_pixmap(arr[start:start + PER_ROW], scale=scale))
                self.rows.addWidget(label)
                self.strips.append(label)

    def eventFilter(self, obj, event) -> bool:
        if obj is self.parent() and event.type() == QEvent.Type.Resize:
            self._place()
        return super().eventFilter(obj, event)

    def _place(self) -> None:
        """Along the bottom of the plot: as tall as the strips need, at most :data:`MAX_SHARE` of it."""
        plot = self.parentWidget()
        if plot is None:
            return
        strips = sum(s.sizeHint().height() + 1 for s in self.strips)
        h = min(self.layout().sizeHint().height() - self.scroll.sizeHint().height() + strips + 6,
                int(plot.height() * MAX_SHARE))
        self.setGeometry(0, plot.height() - h, plot.width(), h)
        self.raise_()

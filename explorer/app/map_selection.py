"""The map's selection: the selected points' real images above their reconstructions.

A rectangle on the map selects points (:class:`explorer.app.map_scatter.SelectViewBox`); this panel
shows the first :data:`MAX_SHOWN` of them in map order, in rows of :data:`PER_ROW`: each row of real
images has the model's reconstructions (decode of each image's code, computed on the executor)
under it, so a user sees what the model keeps and what it loses in that region.  The selection can
become the interpolation's endpoints (its first and last image) or the traversal's base (the first
image's code becomes the current z, which the traversal follows).
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from .pixmaps import strip_pixmap

MAX_SHOWN = 24
PER_ROW = 12


class SelectionGrid(QWidget):
    interpolateRequested = Signal()
    traverseRequested = Signal()
    cleared = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("MapSelection")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 2, 0, 0)
        lay.setSpacing(2)
        top = QHBoxLayout()
        self.title = QLabel("")
        self.interpolate = QPushButton("Interpolate first → last")
        self.traverse = QPushButton("Traverse from first")
        self.clear_button = QPushButton("Clear")
        top.addWidget(self.title, 1)
        for b in (self.interpolate, self.traverse, self.clear_button):
            top.addWidget(b)
        lay.addLayout(top)
        self.rows = QVBoxLayout()
        self.rows.setSpacing(1)
        lay.addLayout(self.rows)
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

    def set_reconstructions(self, recon: np.ndarray) -> None:
        self.recon = recon
        total_text = self.title.text().split(":")[0]
        self.title.setText(f"{total_text}: images, and under them their reconstructions")
        self._draw()

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
        scale = max(1, 40 // side)
        for start in range(0, len(self.real), PER_ROW):
            for arr in (self.real, self.recon):
                if arr is None:
                    continue
                label = QLabel()
                label.setAlignment(Qt.AlignmentFlag.AlignLeft)
                label.setPixmap(strip_pixmap(arr[start:start + PER_ROW], scale=scale))
                self.rows.addWidget(label)
                self.strips.append(label)

"""Marks the sampling grid's tile that is the current point (an orange frame), and no tile when the
current point is elsewhere.

A tile is current when the state's slider values equal that sample's values (to float32 rounding):
after a click on it, after "New sample" adopts the first one, and again after undo returns there.  It
listens to the state's settled values and to each new grid; the sampling panel knows nothing of it.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject

MARK_STYLE = "QToolButton { border: 3px solid rgb(255, 150, 0); border-radius: 3px; }"


class SampleMarker(QObject):
    def __init__(self, state, sampling_panel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state, self.panel = state, sampling_panel
        self.current: int | None = None
        state.values_changed.connect(self.update)
        sampling_panel.grid_shown.connect(self.update)
        state.model_changed.connect(lambda _l: self.update())

    def update(self, *_args) -> None:
        g, values = self.panel.grid_data, self.state.values
        found = None
        if g is not None and values.size and g.values.shape[-1] == values.size:
            hits = np.flatnonzero(np.all(np.abs(g.values - values[None]) <= 1e-5 * (1 + np.abs(values)), axis=1))
            found = int(hits[0]) if hits.size else None
        if found == self.current:
            return
        self.current = found
        for i, b in enumerate(self.panel.buttons):
            b.setStyleSheet(MARK_STYLE if i == found else "")
            b.setAccessibleDescription("the current point" if i == found else "")

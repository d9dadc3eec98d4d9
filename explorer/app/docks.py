"""The analysis docks: Score, Latent map and Interpolation, each a panel in a ``QDockWidget``.

Each dock connects its panel to the window's :class:`ExplorerState` (the panel follows the open model
and asks the state for changes with ``state.set_z``) and hands it the window's model executor, which
runs all of the panel's calls into the model.  Panels never talk to each other; the few links between
them (scored images become map markers and interpolation endpoints) are made by the main window.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from .interpolation_panel import InterpolationPanel
from .latent_map import LatentMapWidget
from .score_panel import ScorePanel


class PanelDock(QDockWidget):
    """A dock holding one panel (scrolling when the window is too small for it)."""

    def __init__(self, title: str, key: str, panel: QWidget, parent: QWidget | None = None,
                 scroll: bool = False) -> None:
        super().__init__(title, parent)
        self.setObjectName(f"{key}-dock")
        self.panel = panel
        if scroll:
            area = QScrollArea()
            area.setWidget(panel)
            area.setWidgetResizable(True)
            area.setFrameShape(QFrame.Shape.NoFrame)
            self.setWidget(area)
        else:
            self.setWidget(panel)

    def announce(self, label: str) -> None:
        """Name the next latent change for undo ("Undo Jump to scored image")."""
        history = getattr(self.parent(), "history", None)
        if history is not None:
            history.expect(label)

    def jump(self, z, label: str) -> None:
        """Go to ``z`` (if it fits the open model) as one undo step called ``label``."""
        if self.state.loaded is not None and np.asarray(z).size == self.state.loaded.latent_dim:
            self.announce(label)
            self.state.set_z(z)


class ScoreDock(PanelDock):
    def __init__(self, state, executor, parent: QWidget | None = None) -> None:
        super().__init__("Score", "score", ScorePanel(executor), parent)
        self.state = state
        body = QWidget()
        lay = QVBoxLayout(body)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.panel, 1)
        row = QHBoxLayout()
        row.setContentsMargins(9, 0, 9, 6)
        self.export_button = QPushButton("Export results…")
        self.export_button.setToolTip("Save every scored image's numbers and verdict as CSV or JSON")
        self.export_button.clicked.connect(self._export_dialog)
        row.addStretch(1)
        row.addWidget(self.export_button)
        lay.addLayout(row)
        self.setWidget(body)
        state.model_changed.connect(lambda loaded: self.panel.set_model(loaded.model))
        self.panel.latentChosen.connect(self._go)
        self.panel.message.connect(state.say)
        if state.loaded is not None:
            self.panel.set_model(state.loaded.model)

    def _go(self, z) -> None:
        self.jump(z, "Jump to scored image")

    def _export_dialog(self) -> None:
        if not self.panel.items:
            self.state.say("No scored images to export yet: drop images on the window first")
            return
        path, chosen = QFileDialog.getSaveFileName(self, "Export scored results", "scores.csv",
                                                   "CSV table (*.csv);;JSON (*.json)")
        if path:
            if Path(path).suffix.lower() not in (".csv", ".json"):
                path += ".json" if "json" in chosen.lower() else ".csv"
            self.export_results(path)

    def export_results(self, path) -> Path | None:
        """The list's results as CSV (``.csv``) or JSON (``.json``); says where it wrote them."""
        from .score_export import write_results

        loaded = self.state.loaded
        try:
            out = write_results(self.panel.items, path, loaded.name if loaded is not None else None)
        except OSError as exc:
            self.state.say(f"Could not write {Path(path).name}: {exc.strerror or exc}")
            return None
        self.state.say(f"Wrote {len(self.panel.items)} results to {out}")
        return out


class LatentMapDock(PanelDock):
    def __init__(self, state, executor, parent: QWidget | None = None) -> None:
        super().__init__("Latent map", "latent-map", LatentMapWidget(executor), parent)
        self.state = state
        self.panel.toolbar.settings = getattr(parent, "settings", None)   # remembers the map's image set
        if parent is not None:      # closing the window stops a long map job at once (the executor
            parent.installEventFilter(self)   # lets a running job finish before it stops)
        self._pending = None
        state.model_changed.connect(self._model_changed)
        state.frame_rendered.connect(self._frame_rendered)
        # the map redraws its marker at most every 40 ms (and on the final value), not per slider event
        state.values_settled.connect(lambda _v: self.panel.set_current_z(self.state.z))
        self.panel.mapReady.connect(lambda _n: self.panel.set_current_z(self.state.z))
        self.panel.latentChosen.connect(lambda z: self.jump(z, "Jump to map point"))
        self.panel.endpointsChosen.connect(self._interpolate)
        self.panel.traversalChosen.connect(self._traverse)
        self.panel.message.connect(state.say)
        if state.loaded is not None:
            self.panel.set_model(state.loaded.model)

    def eventFilter(self, obj, event) -> bool:
        if obj is self.parent() and event.type() == QEvent.Type.Close:
            self.panel.cancel(quiet=True)
        return super().eventFilter(obj, event)

    def _interpolate(self, za, zb, name_a: str, name_b: str) -> None:
        """The map's selection becomes the interpolation's endpoints (first and last selected)."""
        dock = getattr(self.parent(), "interpolation_dock", None)
        if dock is None:
            return
        dock.panel.set_endpoint_z("A", za, name_a)
        dock.panel.set_endpoint_z("B", zb, name_b)
        dock.show()
        dock.raise_()
        self.state.say(f"Interpolating from {name_a} to {name_b} (the map's selection)")

    def _traverse(self, z) -> None:
        """The first selected image's code becomes the current z, which the traversal sweeps around."""
        self.jump(z, "Traverse from map selection")
        dock = getattr(self.parent(), "traversal_dock", None)
        if dock is not None:
            dock.show()
            dock.raise_()

    def _model_changed(self, loaded) -> None:
        # encoding the subset waits for the model's first frame, so it never delays what the user
        # came to see
        self._pending = loaded
        self.panel.set_model(None)
        self.panel.status.setText("The map is made after the first frame…")

    def _frame_rendered(self, frame) -> None:
        if self._pending is not None and getattr(frame, "model", None) is self._pending:
            loaded, self._pending = self._pending, None
            self.panel.set_model(loaded.model)


class InterpolationDock(PanelDock):
    def __init__(self, state, executor, parent: QWidget | None = None) -> None:
        super().__init__("Interpolation", "interpolation", InterpolationPanel(executor), parent, scroll=True)
        self.state = state
        self.panel.current_z_provider = lambda: self.state.z if self.state.loaded is not None else None
        self.panel.state_record_provider = self._record
        state.model_changed.connect(lambda loaded: self.panel.set_model(loaded.model))
        self.panel.latentChosen.connect(lambda z: self.jump(z, "Use interpolation frame"))
        self.panel.message.connect(state.say)
        if state.loaded is not None:
            self.panel.set_model(state.loaded.model)

    def _record(self, endpoints: dict | None) -> dict | None:
        """The state stamped into the panel's exports: the current point, its class and the endpoints."""
        from .state_stamp import state_record

        return state_record(self.state, endpoints)

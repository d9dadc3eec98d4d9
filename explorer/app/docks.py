"""The analysis docks: Score, Latent map and Interpolation, each a panel in a ``QDockWidget``.

Each dock connects its panel to the window's :class:`ExplorerState` (the panel follows the open model
and asks the state for changes with ``state.set_z``) and hands it the window's model executor, which
runs all of the panel's calls into the model.  Panels never talk to each other; the few links between
them (scored images become map markers and interpolation endpoints) are made by the main window.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QDockWidget, QFrame, QScrollArea, QWidget

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


class ScoreDock(PanelDock):
    def __init__(self, state, executor, parent: QWidget | None = None) -> None:
        super().__init__("Score", "score", ScorePanel(executor), parent)
        self.state = state
        state.model_changed.connect(lambda loaded: self.panel.set_model(loaded.model))
        self.panel.latentChosen.connect(self._go)
        self.panel.message.connect(state.say)
        if state.loaded is not None:
            self.panel.set_model(state.loaded.model)

    def _go(self, z) -> None:
        if self.state.loaded is not None and np.asarray(z).size == self.state.loaded.latent_dim:
            self.state.set_z(z)


class LatentMapDock(PanelDock):
    def __init__(self, state, executor, parent: QWidget | None = None) -> None:
        super().__init__("Latent map", "latent-map", LatentMapWidget(executor), parent)
        self.state = state
        self._pending = None
        state.model_changed.connect(self._model_changed)
        state.frame_rendered.connect(self._frame_rendered)
        # the map redraws its marker at most every 40 ms (and on the final value), not per slider event
        state.values_settled.connect(lambda _v: self.panel.set_current_z(self.state.z))
        self.panel.mapReady.connect(lambda _n: self.panel.set_current_z(self.state.z))
        self.panel.latentChosen.connect(state.set_z)
        self.panel.message.connect(state.say)
        if state.loaded is not None:
            self.panel.set_model(state.loaded.model)

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
        state.model_changed.connect(lambda loaded: self.panel.set_model(loaded.model))
        self.panel.latentChosen.connect(state.set_z)
        self.panel.message.connect(state.say)
        if state.loaded is not None:
            self.panel.set_model(state.loaded.model)

"""The latent dock: one labelled slider per direction of the open model.

VAE: latent units ranked by KL (label "KL 2.31 nats"); GAN: principal directions (label "12.4% var");
flow and models made elsewhere: principal directions of their codes.
Each slider spans ±3σ of the prior along its direction; its value can be typed (click the number,
type, Enter) and each row has a reset button (↺) that puts that one direction back to 0.  The strongest :data:`SHOWN_FIRST` directions
are shown; the rest are one click away ("Show all") and are built only then (or when :attr:`LatentDock.sliders`
is asked for): a 64-latent model's 56 hidden rows of superqt sliders cost about a third of a second to
build, which would otherwise stand between opening the model and its first frame.  Switching models
rebuilds the dock.

The dock writes to the :class:`~explorer.app.state.ExplorerState` and follows it; it never renders.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QDockWidget, QGridLayout, QHBoxLayout, QLabel, QPushButton, QScrollArea,
                               QSizePolicy, QToolButton, QVBoxLayout, QWidget)
from superqt import QLabeledDoubleSlider
from superqt.utils import signals_blocked

from .state import ExplorerState, LoadedModel

#: how many directions are shown before "Show all"
SHOWN_FIRST = 8
#: slider range in prior standard deviations
RANGE_SIGMAS = 3.0


#: what the sliders of each family are (the dock's header says it)
DIRECTION_KINDS = {
    "vae": "latent units ranked by KL",
    "gan": "principal directions (GANSpace)",
    "flow": "principal directions of encoded images",
}


class LatentDock(QDockWidget):
    #: a slider was released (the end of a drag)
    slider_released = Signal()

    def __init__(self, state: ExplorerState, parent: QWidget | None = None) -> None:
        super().__init__("Latent directions", parent)
        self.setObjectName("latent-dock")
        self.state = state
        self._sliders: list[QLabeledDoubleSlider] = []
        self._rows: list[tuple[QWidget, ...]] = []
        self._loaded: LoadedModel | None = None

        body = QWidget()
        outer = QVBoxLayout(body)
        outer.setContentsMargins(6, 6, 6, 6)
        self.summary = QLabel("No model open")
        self.summary.setWordWrap(True)
        self.summary.setStyleSheet("color: palette(mid);")
        outer.addWidget(self.summary)

        buttons = QHBoxLayout()
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("All sliders to zero (R)")
        self.reset_button.clicked.connect(state.reset)
        self.random_button = QPushButton("Randomize")
        self.random_button.setToolTip("A random point from the prior (Ctrl+R)")
        self.random_button.clicked.connect(lambda: state.randomize())
        buttons.addWidget(self.reset_button)
        buttons.addWidget(self.random_button)
        outer.addLayout(buttons)

        self.grid_host = QWidget()
        self.grid = QGridLayout(self.grid_host)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setHorizontalSpacing(6)
        self.grid.setVerticalSpacing(2)
        self.grid.setColumnStretch(1, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        holder = QWidget()
        holder_lay = QVBoxLayout(holder)
        holder_lay.setContentsMargins(0, 0, 0, 0)
        holder_lay.addWidget(self.grid_host)
        self.more_button = QPushButton()   # right under the rows it reveals
        self.more_button.setCheckable(True)
        self.more_button.setToolTip("Show or hide the weaker directions (A)")
        self.more_button.toggled.connect(self._show_rest)
        self.more_button.hide()
        holder_lay.addWidget(self.more_button)
        holder_lay.addStretch(1)           # rows pack at the top
        scroll.setWidget(holder)
        outer.addWidget(scroll, 1)

        self.setWidget(body)
        self.setMinimumWidth(330)
        state.model_changed.connect(self.rebuild)
        state.values_changed.connect(self.follow)
        self._set_enabled(False)

    # ------------------------------------------------------------------ building
    @property
    def sliders(self) -> list[QLabeledDoubleSlider]:
        """One slider per direction, strongest first (building the hidden rows if they are not yet)."""
        self._build_rows(self._count())
        return self._sliders

    def _count(self) -> int:
        """How many directions the open model has (rows built or not)."""
        return len(self._loaded.names) if self._loaded is not None else 0

    def rebuild(self, loaded: LoadedModel) -> None:
        """One row per direction: name, slider (±3σ, value shown), strength label, reset; the first
        :data:`SHOWN_FIRST` now, the rest when they are shown or asked for."""
        for row in self._rows:
            for w in row:
                self.grid.removeWidget(w)
                w.deleteLater()
        self._rows.clear()
        self._sliders.clear()
        self._loaded = loaded
        kind = DIRECTION_KINDS.get(loaded.family, "principal directions of the model's latent codes")
        self.summary.setText(f"{loaded.name}: {loaded.latent_dim} {kind}, strongest first; "
                             f"sliders span ±{RANGE_SIGMAS:g}σ around {loaded.zero_meaning}")
        self.reset_button.setToolTip(f"All sliders to zero: {loaded.zero_meaning} (R)")
        total = self._count()
        with signals_blocked(self.more_button):
            self.more_button.setChecked(False)
        self._build_rows(min(total, SHOWN_FIRST))
        self.more_button.setVisible(total > SHOWN_FIRST)
        self._show_rest(False)
        self._set_enabled(True)

    def _build_rows(self, upto: int) -> None:
        """Build rows ``len(built) .. upto-1``, at the state's values; rows past the first
        :data:`SHOWN_FIRST` start hidden unless "Show all" is on."""
        loaded = self._loaded
        if loaded is None or len(self._rows) >= upto:
            return
        values = self.state.values
        show_rest = self.more_button.isChecked()
        for i in range(len(self._rows), upto):
            name, label = loaded.names[i], loaded.labels[i]
            sigma = float(loaded.sigmas[i]) or 1.0
            name_label = QLabel(name)
            name_label.setMinimumWidth(34)
            slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
            slider.setObjectName(f"slider-{i}")
            slider.setDecimals(2)
            slider.setRange(-RANGE_SIGMAS * sigma, RANGE_SIGMAS * sigma)
            slider.setSingleStep(0.05 * sigma)
            slider.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            slider.setMinimumWidth(150)
            with signals_blocked(slider):
                slider.setValue(float(values[i]) if i < values.size else 0.0)
            slider.valueChanged.connect(lambda v, i=i: self.state.set_value(i, v))
            slider.sliderReleased.connect(self.slider_released)
            strength = QLabel(label)
            strength.setStyleSheet("color: palette(mid);")
            tip = (f"{name}: {label}. Drag to move along this direction (or click the number and type "
                   "a value); the image follows.")
            for w in (name_label, slider, strength):
                w.setToolTip(tip)
            reset = QToolButton()
            reset.setObjectName(f"reset-{i}")
            reset.setText("↺")
            reset.setAutoRaise(True)
            reset.setToolTip(f"{name} back to 0, as in {loaded.zero_meaning}")
            reset.clicked.connect(lambda _=False, i=i: self.reset_one(i))
            row = (name_label, slider, strength, reset)
            for col, w in enumerate(row):
                if i >= SHOWN_FIRST and not show_rest:
                    w.setVisible(False)
                self.grid.addWidget(w, i, col)
            self._rows.append(row)
            self._sliders.append(slider)

    def _show_rest(self, show: bool) -> None:
        total = self._count()
        rest = max(0, total - SHOWN_FIRST)
        if show:
            self._build_rows(total)
        for row in self._rows[SHOWN_FIRST:]:
            for w in row:
                w.setVisible(show)
        self.more_button.setText(f"Hide the {rest} weaker directions" if show
                                 else f"Show all {total} directions (+{rest})")

    def reset_one(self, index: int) -> None:
        """Put direction ``index`` back to 0 (an undo step called "Move slider '<name>'")."""
        if 0 <= index < self._count():
            self.sliders[index].setValue(0.0)

    def toggle_all(self) -> None:
        if self.more_button.isVisible():
            self.more_button.toggle()

    def showing_all(self) -> bool:
        return self.more_button.isChecked() or self._count() <= SHOWN_FIRST

    def _set_enabled(self, on: bool) -> None:
        self.reset_button.setEnabled(on)
        self.random_button.setEnabled(on)

    # ------------------------------------------------------------------ following the state
    def follow(self, values: np.ndarray) -> None:
        """Put the sliders where the state is, without echoing back (values beyond ±3σ are kept in
        the state; the slider shows its end)."""
        for slider, v in zip(self._sliders, values):       # the rows built so far; the rest start at the state
            if abs(slider.value() - float(v)) > 1e-6:
                with signals_blocked(slider):
                    slider.setValue(float(v))

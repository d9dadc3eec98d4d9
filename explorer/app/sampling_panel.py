"""The sampling panel: temperature (VAE) or truncation (GAN), a seed, "New sample", and a small grid
of samples from the prior; clicking a sample makes it the current point.

The grid is drawn on the render worker (``model.prior_z`` + ``decode``, so a seed here gives the same
images as ``latent-explorer sample``); this panel only shows the pixels it gets back, grey or colour.
Each thumbnail fills a :data:`THUMB_BOX` pixel square: a small image is upscaled by the largest whole
factor that fits (nearest neighbour, pixels stay crisp: 28 px x 3, 32 px x 2, 64 px x 1); a larger one
is scaled down smoothly to fit.  A class-conditional model gets a class selector above the grid
(:mod:`explorer.app.class_selector`); the grid is drawn again in the chosen class.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (QDockWidget, QDoubleSpinBox, QFormLayout, QGridLayout, QLabel, QPushButton,
                               QSpinBox, QToolButton, QVBoxLayout, QWidget)

from .class_selector import ClassSelector
from .model_executor import ModelExecutor, Progress
from .pixmaps import pixmap
from .rendering import display_image
from .state import ExplorerState, LoadedModel

GRID_ROWS = 3
GRID_COLS = 3
#: side of a thumbnail's square in screen pixels (a 28x28 image at 3x)
THUMB_BOX = 84


@dataclass
class SampleGrid:
    images: np.ndarray   # (N, H, W) grey or (N, H, W, 3) colour uint8
    values: np.ndarray   # (N, D) slider values of each sample
    seed: int
    temperature: float


def draw_grid(loaded: LoadedModel, n: int, temperature: float, seed: int, job=None,
              progress: Progress | None = None) -> SampleGrid:
    """Runs on the worker: ``n`` prior samples as pixels and slider values.  A model without a latent
    (a PixelCNN) draws its pixels one by one (H·W passes): ``progress`` hears how far, and the
    executor's ``job`` being cancelled (a newer seed) stops it between pixels."""
    import torch

    from models.imaging import to_uint8

    model = loaded.model
    if loaded.latent_dim == 0:
        def said(done: int, total: int) -> None:
            if progress is not None:
                progress.changed.emit(done / total, f"Drawing {n} samples pixel by pixel: {100 * done // total}%")
        x = model.sample(n, temperature=temperature, seed=seed, progress=said,
                         cancel=(lambda: job.cancelled) if job is not None else None)
        imgs = np.stack([display_image(a) for a in to_uint8(x)])
        return SampleGrid(images=imgs, values=np.zeros((n, 0), np.float32), seed=seed, temperature=temperature)
    z = model.prior_z(n, temperature=temperature, seed=seed)
    with torch.no_grad():
        imgs = np.stack([display_image(a) for a in to_uint8(model.decode(z))])
    zs = z.detach().float().cpu().numpy()
    values = np.stack([loaded.values_from_z(zi) for zi in zs])
    return SampleGrid(images=imgs, values=values, seed=seed, temperature=temperature)


def thumb_side(height: int, width: int, box: int = THUMB_BOX) -> int:
    """The on-screen side of a thumbnail of an H x W image (see the module docstring)."""
    longest = max(height, width)
    return longest * (box // longest) if longest <= box else box


def thumbnail(image: np.ndarray, box: int = THUMB_BOX) -> QPixmap:
    """(H, W) or (H, W, 3) uint8 -> a pixmap that fits ``box``: upscaled by a whole factor
    (nearest neighbour) when small, scaled down smoothly when larger."""
    h, w = image.shape[:2]
    if max(h, w) <= box:
        return pixmap(image, box // max(h, w))
    return pixmap(image, 1).scaled(box, box, Qt.AspectRatioMode.KeepAspectRatio,
                                   Qt.TransformationMode.SmoothTransformation)


class SamplingPanel(QDockWidget):
    #: a new grid is showing (explorer.app.sample_marker marks the current sample's tile)
    grid_shown = Signal()

    def __init__(self, state: ExplorerState, worker: ModelExecutor, parent: QWidget | None = None) -> None:
        super().__init__("Sampling", parent)
        self.setObjectName("sampling-dock")
        self.state = state
        self.worker = worker
        self.grid_data: SampleGrid | None = None
        self._adopt_first = False

        body = QWidget()
        lay = QVBoxLayout(body)
        lay.setContentsMargins(6, 6, 6, 6)
        form = QFormLayout()
        self.class_selector = ClassSelector(worker, state)
        self.class_selector.changed.connect(lambda _y: self.refresh())
        form.addRow(self.class_selector)
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.0, 3.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setDecimals(2)
        self.temperature.setValue(1.0)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setValue(0)
        form.addRow("Temperature", self.temperature)
        form.addRow("Seed", self.seed)
        lay.addLayout(form)
        self.new_button = QPushButton("New sample")
        self.new_button.setToolTip("Next seed: a new grid, and its first sample becomes current (N)")
        self.new_button.clicked.connect(self.new_sample)
        lay.addWidget(self.new_button)
        self.progress_label = QLabel()            # a PixelCNN's grid takes a while: say how far it is
        self.progress_label.setWordWrap(True)
        self.progress_label.hide()
        lay.addWidget(self.progress_label)
        self._progress = Progress()
        self._progress.changed.connect(lambda _f, text: self.progress_label.setText(text))

        self.buttons: list[QToolButton] = []
        grid = QGridLayout()
        grid.setSpacing(4)
        for i in range(GRID_ROWS * GRID_COLS):
            b = QToolButton()
            b.setObjectName(f"sample-{i}")
            b.setToolTip("Click to make this sample the current point")
            b.clicked.connect(lambda _=False, i=i: self.choose(i))
            grid.addWidget(b, i // GRID_COLS, i % GRID_COLS)
            self.buttons.append(b)
        self._size_buttons(thumb_side(28, 28))
        lay.addLayout(grid)
        lay.addStretch(1)
        self.setWidget(body)

        self.temperature.valueChanged.connect(self.refresh)
        self.seed.valueChanged.connect(self.refresh)
        state.model_changed.connect(self._model_changed)
        self._set_enabled(False)

    # ------------------------------------------------------------------ actions
    def new_sample(self) -> None:
        """Next seed; when its grid arrives, its first sample becomes the current point."""
        if self.state.loaded is None:
            return
        self._adopt_first = True
        if self.seed.value() >= self.seed.maximum():
            self.seed.setValue(0)
        else:
            self.seed.setValue(self.seed.value() + 1)  # -> refresh()

    def refresh(self) -> None:
        loaded = self.state.loaded
        if loaded is None:
            return
        n, t, s = GRID_ROWS * GRID_COLS, float(self.temperature.value()), int(self.seed.value())
        if loaded.latent_dim == 0:     # pixel by pixel: slow, so progress shows and a newer seed cancels it
            self.progress_label.setText(f"Drawing {n} samples pixel by pixel…")
            self.progress_label.show()
            self.worker.submit("grid", lambda job: draw_grid(loaded, n, t, s, job, self._progress),
                               lambda g: self._grid_ready(loaded, g), self._grid_failed,
                               pass_job=True, supersede=True)
            return
        self.worker.submit("grid", lambda: draw_grid(loaded, n, t, s),
                           lambda g: self._grid_ready(loaded, g), self._grid_failed)

    def _grid_failed(self, msg: str) -> None:
        self.progress_label.hide()
        self.state.say(f"Sampling failed: {msg}")

    def choose(self, index: int) -> None:
        """Make sample ``index`` of the grid the current point."""
        if self.grid_data is not None and 0 <= index < len(self.grid_data.values):
            self.state.set_values(self.grid_data.values[index])

    # ------------------------------------------------------------------ following
    def _model_changed(self, loaded: LoadedModel) -> None:
        gan = loaded.family == "gan"
        label = self.widget().layout().itemAt(0).layout().labelForField(self.temperature)
        label.setText("Truncation" if gan else "Temperature")
        self.temperature.setToolTip("Pulls z toward the mean latent (ψ·z): lower gives more typical, less "
                                    "varied samples" if gan else
                                    "Scales the prior's standard deviation: lower gives more typical, "
                                    "less varied samples")
        self.grid_data = None
        _, h, w = loaded.model.image_shape
        self._size_buttons(thumb_side(h, w))
        self._set_enabled(True)
        self.refresh()

    def _size_buttons(self, side: int) -> None:
        for b in self.buttons:
            b.setIconSize(QSize(side, side))
            b.setFixedSize(side + 8, side + 8)

    def _grid_ready(self, loaded: LoadedModel, g: SampleGrid) -> None:
        if loaded is not self.state.loaded:
            return  # the model changed meanwhile
        self.grid_data = g
        self.progress_label.hide()
        for b, img in zip(self.buttons, g.images):
            b.setIcon(QIcon(thumbnail(img)))
        self.grid_shown.emit()
        if self._adopt_first:
            self._adopt_first = False
            self.choose(0)

    def _set_enabled(self, on: bool) -> None:
        for w in (self.temperature, self.seed, self.new_button, *self.buttons):
            w.setEnabled(on)

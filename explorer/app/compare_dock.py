"""Compare: a second model beside the first, on its own canvas, at the same point.

The second model is loaded on the window's one model executor (never on the GUI thread).  It shows
the explorer's current z decoded by the second model when the two latents have the same size (the
same z means the same point in the prior N(0, I), which is what comparing two models of one family
asks); otherwise the canvas says why it shows nothing.  For the image selected in the Score dock it
shows the second model's verdict beside the first's, from the one analysis call,
``models.scoring.explain`` (the image as the second model takes it in: ``models.intake``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDockWidget, QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from .canvas import Canvas
from .elided_label import ElidedLabel


def _decode(model, z: np.ndarray) -> np.ndarray:
    from .interpolation_export import decode_u8

    return decode_u8(model, z)[0]


def _verdict(model, image: np.ndarray, name: str):
    from models import scoring
    from models.intake import take_in

    intake = take_in(image, image_shape=tuple(model.image_shape), name=name, max_images=1)[0]
    return scoring.explain(model, intake.uint8.unsqueeze(0))[0].score


def verdict_text(score) -> str:
    if score is None:
        return "no verdict (the model has no calibration)"
    return f"{score.verdict} ({score.percentile:.1f} pct)"


class CompareDock(QDockWidget):
    #: the second model is open (or failed): (ok, message)
    modelOpened = Signal(bool, str)
    #: the second canvas shows a new frame
    frameShown = Signal()
    #: the second model's verdict for the selected scored image arrived
    verdictReady = Signal(str)

    def __init__(self, state, executor, score_panel, parent: QWidget | None = None) -> None:
        super().__init__("Compare", parent)
        self.setObjectName("compare-dock")
        self.state, self.executor, self.score_panel = state, executor, score_panel
        self.other = None                    # the second LoadedModel
        body = QWidget()
        lay = QVBoxLayout(body)
        lay.setContentsMargins(4, 4, 4, 4)
        row = QHBoxLayout()
        self.open_button = QPushButton("Open second model…")
        self.open_button.clicked.connect(self._open_dialog)
        self.name = ElidedLabel("No second model")
        row.addWidget(self.open_button)
        row.addWidget(self.name, 1)
        lay.addLayout(row)
        self.canvas = Canvas()
        self.canvas.setMinimumSize(160, 160)
        self.canvas.set_overlay("Open a second model to see the same point through it")
        lay.addWidget(self.canvas, 1)
        self.verdicts = QLabel("")
        self.verdicts.setWordWrap(True)
        self.verdicts.setTextFormat(Qt.TextFormat.PlainText)
        lay.addWidget(self.verdicts)
        self.setWidget(body)
        state.values_settled.connect(lambda _v: self.refresh())
        state.model_changed.connect(lambda _l: self.refresh())
        score_panel.list.currentRowChanged.connect(lambda _r: self.compare_selected())
        score_panel.imageScored.connect(lambda _it: self.compare_selected())

    # ------------------------------------------------------------------ the second model
    def _open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a second model", "",
                                              "Checkpoints (*.safetensors *.pt2 *.onnx);;All files (*)")
        if path:
            self.open_model(path)

    def open_model(self, path: str | Path) -> None:
        from .state import LoadedModel

        path = Path(path)
        self.name.setText(f"Opening {path.name}…")

        def done(loaded) -> None:
            self.other = loaded
            self.name.setText(f"{loaded.name} — {path.name} ({loaded.summary})")
            self.modelOpened.emit(True, loaded.name)
            self.refresh()
            self.compare_selected()

        def failed(msg: str) -> None:
            self.name.setText(f"Could not open {path.name}")
            self.state.say(msg if msg.startswith(path.name) else f"Could not open {path.name}: {msg}")
            self.modelOpened.emit(False, msg)
        self.executor.submit("compare:load", lambda: LoadedModel.load(path, "cpu"), done, failed, owner=self)

    # ------------------------------------------------------------------ the same point
    def refresh(self) -> None:
        other, loaded = self.other, self.state.loaded
        if other is None or loaded is None:
            return
        if other.latent_dim != loaded.latent_dim:
            self.canvas.clear_image()
            self.canvas.set_overlay(f"Different latent sizes: {loaded.name} has {loaded.latent_dim}, "
                                    f"{other.name} has {other.latent_dim}, so no z means the same point in both. "
                                    "Scored images are still compared below.")
            return
        z = self.state.z

        def done(img) -> None:
            if other is self.other:
                self.canvas.set_overlay(None)
                self.canvas.set_image(img)
                self.frameShown.emit()
        self.executor.submit("compare:frame", lambda: _decode(other.model, z), done,
                             lambda msg: self.canvas.set_overlay(f"Rendering failed: {msg}", error=True), owner=self)

    def compare_selected(self) -> None:
        """The second model's verdict for the image selected in the Score dock, beside the first's."""
        other = self.other
        row = self.score_panel.list.currentItem()
        item = None if row is None else next(
            (i for i in self.score_panel.items if i.id == row.data(Qt.ItemDataRole.UserRole)), None)
        if other is None or item is None or item.image is None or item.status != "done":
            return
        first = f"{self.state.loaded.name if self.state.loaded else 'open model'}: {verdict_text(item.score)}"
        self.verdicts.setText(f"{item.name}\n{first}\n{other.name}: scoring…")

        def done(score) -> None:
            if other is self.other:
                text = f"{item.name}\n{first}\n{other.name}: {verdict_text(score)}"
                self.verdicts.setText(text)
                self.verdictReady.emit(text)
        self.executor.submit("compare:score", lambda: _verdict(other.model, item.image, item.name), done,
                             lambda msg: self.verdicts.setText(f"{item.name}\n{first}\n{other.name}: ⚠ {msg}"),
                             owner=self)

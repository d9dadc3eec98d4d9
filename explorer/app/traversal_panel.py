"""The traversal sheet in the app: one direction, or every direction, swept over ±3σ around the
current point, one row per direction (the standard β-VAE view; :mod:`models.traversal`, the same call
as ``latent-explorer traverse``).

Cell (r, c) is the code ``z0 + t_c · σ_r · v_r`` (z0 the current point, v_r the row's direction, σ_r
its prior standard deviation, t_c from -extent to +extent); clicking a cell makes it the current
point, computed here in numpy from the open model's basis, so the GUI thread never calls torch.  The
sheet is decoded on the model executor whenever the options change, or the point has rested for
:data:`FOLLOW_MS`, while the dock is visible: in small batches with a checkpoint between them (a
waiting frame renders first, so the sliders stay live), and a newer request cancels a running one; "Export PNG…" writes the sheet with the explorer's state stamped in.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPixmap
from PySide6.QtWidgets import (QComboBox, QDockWidget, QDoubleSpinBox, QFileDialog, QHBoxLayout, QLabel,
                               QPushButton, QScrollArea, QSpinBox, QVBoxLayout, QWidget)

from .elided_label import ElidedLabel
from .pixmaps import pixmap

#: sheet cells are about this many pixels high on screen
CELL_PX = 56
PAD = 2
NAME_W = 44


@dataclass
class Sheet:
    images: np.ndarray       # (rows, steps, H, W[, 3]) uint8
    offsets: np.ndarray      # (steps,) multiples of σ
    indices: list[int]       # each row's direction index
    base: np.ndarray         # (D,) the code every row passes through


#: codes decoded between two checkpoints of a sheet job (a waiting frame renders at each)
SHEET_BATCH = 16
#: the sheet follows the current point this long after it stopped moving (not during a drag)
FOLLOW_MS = 250


def sheet_job(model, base: np.ndarray, direction, steps: int, extent: float):
    def job(handle) -> Sheet:
        from models.imaging import to_uint8
        from models.traversal import traverse

        from .rendering import display_image

        t = traverse(model, base=base, direction=direction, steps=steps, extent=extent, batch=SHEET_BATCH,
                     between=handle.checkpoint)
        u8 = to_uint8(t.images)                                   # (R, S, C, H, W)
        imgs = np.stack([np.stack([display_image(c) for c in row]) for row in u8])
        return Sheet(imgs, t.offsets.cpu().numpy(), list(t.indices), t.base.detach().float().cpu().numpy())
    return job


class TraversalDock(QDockWidget):
    #: a sheet is showing: (rows, steps)
    sheetReady = Signal(int, int)

    def __init__(self, state, executor, parent: QWidget | None = None) -> None:
        super().__init__("Traversal", parent)
        self.setObjectName("traversal-dock")
        self.state, self.executor = state, executor
        self.sheet: Sheet | None = None
        self.export_size: int | None = None
        body = QWidget()
        lay = QVBoxLayout(body)
        lay.setContentsMargins(4, 4, 4, 4)
        row = QHBoxLayout()
        self.direction = QComboBox()
        self.direction.setToolTip("Sweep one direction, or every direction (one row each)")
        self.direction.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.steps = QSpinBox()
        self.steps.setRange(3, 21)
        self.steps.setValue(9)
        self.steps.setSuffix(" steps")
        self.extent = QDoubleSpinBox()
        self.extent.setRange(0.5, 6.0)
        self.extent.setSingleStep(0.5)
        self.extent.setValue(3.0)
        self.extent.setPrefix("±")
        self.extent.setSuffix(" σ")
        self.export_button = QPushButton("Export PNG…")
        self.export_button.clicked.connect(self._export_dialog)
        for w in (self.direction, self.steps, self.extent, self.export_button):
            row.addWidget(w)
        row.addStretch(1)
        lay.addLayout(row)
        self.view = QLabel()
        self.view.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.view.setToolTip("Click a cell to go there")
        self.view.mousePressEvent = self._clicked  # type: ignore[method-assign]
        scroll = QScrollArea()
        scroll.setWidget(self.view)
        scroll.setWidgetResizable(False)
        lay.addWidget(scroll, 1)
        self.status = ElidedLabel("Open a model to see its traversals.")
        self.status.setStyleSheet("color: #888;")
        lay.addWidget(self.status)
        self.setWidget(body)

        for sig in (self.direction.currentIndexChanged, self.steps.valueChanged, self.extent.valueChanged):
            sig.connect(lambda *_: self.refresh())
        state.model_changed.connect(self._model_changed)
        # follow the point once it rests: a drag never queues sheets behind the canvas's frames
        self._follow = QTimer(self)
        self._follow.setSingleShot(True)
        self._follow.setInterval(FOLLOW_MS)
        self._follow.timeout.connect(self.refresh)
        state.values_changed.connect(lambda _v: self._follow.start())
        self.visibilityChanged.connect(lambda on: on and self.refresh())
        self.export_button.setEnabled(False)

    def _model_changed(self, loaded) -> None:
        self.sheet = None
        self.view.clear()
        with_latent = loaded.latent_dim > 0
        self.direction.blockSignals(True)
        self.direction.clear()
        self.direction.addItem("All directions", "all")
        for i, (name, label) in enumerate(zip(loaded.names, loaded.labels)):
            self.direction.addItem(f"{name} ({label})", i)
        self.direction.blockSignals(False)
        self.direction.setEnabled(with_latent)
        self.refresh()

    def refresh(self) -> None:
        """Decode the sheet for the current point and options (when the dock is on screen)."""
        loaded = self.state.loaded
        if loaded is None or loaded.latent_dim < 1 or not self.isVisible():
            return
        direction = self.direction.currentData()
        steps, extent, base = int(self.steps.value()), float(self.extent.value()), self.state.z

        def done(sheet: Sheet) -> None:
            if loaded is self.state.loaded:
                self._show(sheet)
        self.status.setText("Decoding the sheet…")
        self.executor.submit("traversal", sheet_job(loaded.model, base, direction, steps, extent), done,
                             lambda msg: self.status.setText(f"⚠ {msg}"), owner=self, pass_job=True,
                             supersede=True)

    def cell_scale(self) -> int:
        return max(1, CELL_PX // self.sheet.images.shape[2]) if self.sheet is not None else 2

    def _show(self, sheet: Sheet) -> None:
        self.sheet = sheet
        rows, steps, h, w = sheet.images.shape[:4]
        s = self.cell_scale()
        cw, ch = w * s + PAD, h * s + PAD
        pm = QPixmap(NAME_W + steps * cw + PAD, rows * ch + PAD)
        pm.fill(QColor(40, 40, 40))
        p = QPainter(pm)
        p.setPen(QColor(220, 220, 220))
        names = self.state.loaded.names
        for r in range(rows):
            y = PAD + r * ch
            name = names[sheet.indices[r]] if sheet.indices[r] < len(names) else str(sheet.indices[r])
            p.drawText(2, y, NAME_W - 4, ch - PAD, int(Qt.AlignmentFlag.AlignVCenter), name)
            for c in range(steps):
                p.drawPixmap(NAME_W + c * cw, y, pixmap(sheet.images[r, c], s))
        p.end()
        self.view.setPixmap(pm)
        self.view.adjustSize()
        self.export_button.setEnabled(True)
        self.status.setText(f"{rows} direction{'s' if rows != 1 else ''} × {steps} steps from "
                            f"{sheet.offsets[0]:+g}σ to {sheet.offsets[-1]:+g}σ around the current point; "
                            "click a cell to go there")
        self.sheetReady.emit(rows, steps)

    # ------------------------------------------------------------------ cells
    def cell_at(self, pos: QPoint) -> tuple[int, int] | None:
        if self.sheet is None:
            return None
        rows, steps, h, w = self.sheet.images.shape[:4]
        s = self.cell_scale()
        c, r = (pos.x() - NAME_W) // (w * s + PAD), (pos.y() - PAD) // (h * s + PAD)
        return (int(r), int(c)) if 0 <= r < rows and 0 <= c < steps and pos.x() >= NAME_W else None

    def cell_pos(self, r: int, c: int) -> QPoint:
        h, w = self.sheet.images.shape[2:4]
        s = self.cell_scale()
        return QPoint(NAME_W + c * (w * s + PAD) + w * s // 2, PAD + r * (h * s + PAD) + h * s // 2)

    def cell_z(self, r: int, c: int) -> np.ndarray:
        """The code of cell (r, c): z0 + t_c · σ · v (numpy, from the model's basis)."""
        loaded, sheet = self.state.loaded, self.sheet
        j = sheet.indices[r]
        return sheet.base + float(sheet.offsets[c]) * float(loaded.sigmas[j]) * loaded.basis[:, j]

    def go_to(self, r: int, c: int) -> None:
        if self.sheet is None or self.state.loaded is None:
            return
        history = getattr(self.parent(), "history", None)
        if history is not None:
            history.expect("Go to traversal cell")
        name = self.state.loaded.names[self.sheet.indices[r]]
        self.state.set_z(self.cell_z(r, c))
        self.state.say(f"Went to {name} at {self.sheet.offsets[c]:+.2f}σ")

    def _clicked(self, ev) -> None:
        cell = self.cell_at(ev.position().toPoint())
        if cell is not None:
            self.go_to(*cell)

    # ------------------------------------------------------------------ export
    def _export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export traversal sheet", "traversal.png", "PNG image (*.png)")
        if path:
            self.export(path if path.lower().endswith(".png") else path + ".png")

    def export(self, path: str | Path) -> Path | None:
        """The sheet as PNG (cells about :attr:`export_size` px, else 2x), the state stamped in."""
        from models.atomic_io import atomic_write_bytes
        from models.imaging import from_uint8, grid, png_bytes

        from .interpolation_export import scale_for
        from .state_stamp import png_with_state, state_record

        if self.sheet is None or self.state.loaded is None:
            return None
        imgs = self.sheet.images
        flat = imgs.reshape(-1, *imgs.shape[2:])
        chw = flat[:, None] if flat.ndim == 3 else flat.transpose(0, 3, 1, 2)
        data = png_bytes(grid(from_uint8(chw), nrow=imgs.shape[1], scale=scale_for(imgs.shape[2], self.export_size, 2)))
        try:
            atomic_write_bytes(path, png_with_state(data, state_record(self.state)))
        except OSError as exc:
            self.state.say(f"Could not write {Path(path).name}: {exc.strerror or exc}")
            return None
        self.state.say(f"Wrote {path}")
        return Path(path)

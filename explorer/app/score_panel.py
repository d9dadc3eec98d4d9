"""Drop an image to encode and score it: a queue of images, scored one after another.

Images (dropped, pasted, opened) are queued; each gets a row in the list with its verdict, and the
selected row's details are drawn by :class:`~explorer.app.score_details.ScoreDetails`.

The panel does no science: each image is one job on the window's model executor (lane "queue"),
which calls ``models.intake.take_in`` and ``models.scoring.explain`` -- every feature computed once.
The job checks for Cancel between stages (``job.checkpoint()``, which also lets a waiting frame
render), so Cancel stops it within a stage and the sliders stay live while it runs.  Running out of
GPU memory moves the model to the CPU (a job of its own) and scores the image again there.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (QFileDialog, QFrame, QHBoxLayout, QListWidget, QListWidgetItem, QProgressBar,
                               QPushButton, QScrollArea, QSplitter, QVBoxLayout, QWidget)

from .rendering import display_image
from .score_details import IN_COLOR, NEUTRAL_COLOR, OUT_COLOR, ScoreDetails

STAGES = ("taking in", "encoding", "reconstructing", "likelihood and verdict")


@dataclass
class ScoredImage:
    id: int
    name: str
    source: Any                                   # a path, PNG bytes, an array or an IntakeResult
    status: str = "queued"                        # queued | running | done | failed | cancelled
    stage: str = ""
    image: np.ndarray | None = None               # (H, W) or (H, W, 3) uint8, as the model sees it
    steps: list[str] = field(default_factory=list)
    z: np.ndarray | None = None
    reconstruction: np.ndarray | None = None
    score: Any = None                             # models.Score, or None
    raw: float | None = None                      # this image's raw feature (see calibration["raw"])
    note: str = ""                                # e.g. "no calibration"
    error: str = ""
    heat: np.ndarray | None = None                # (H, W) bits: model minus local model (models.ood_explain)
    neighbours: list = field(default_factory=list)   # models.ood_explain.Neighbour, nearest first

    @property
    def verdict(self) -> str | None:
        return None if self.score is None else self.score.verdict

    def summary(self) -> str:
        if self.status == "done" and self.score is not None:
            mark = "✗" if self.verdict == "out-of-distribution" else "✓"
            return f"{mark} {self.name} — {self.verdict} ({self.score.percentile:.1f} pct)"
        if self.status == "done":
            return f"• {self.name} — scored, no verdict"
        if self.status == "failed":
            return f"⚠ {self.name} — {self.error}"
        if self.status == "running":
            return f"… {self.name} — {self.stage or 'scoring'}"
        return f"  {self.name} — {self.status}"


class _Progress(QObject):
    stage = Signal(int, str)


def analyse(model, item: ScoredImage, job, report) -> dict[str, Any]:
    """The job for one image, on the executor: intake in the model's shape, then one
    ``models.scoring.explain`` call.  ``report(item_id, stage)`` tells the GUI the stage."""
    from models import scoring
    from models.intake import IntakeResult, take_in

    def stage(text: str) -> None:
        job.checkpoint()
        report(item.id, text)

    def stop() -> bool:
        job.checkpoint()
        return False

    stage("taking in")
    intake = item.source if isinstance(item.source, IntakeResult) else \
        take_in(item.source, model=model, name=item.name, max_images=1)[0]
    ex = scoring.explain(model, intake.uint8.unsqueeze(0), cancel=stop, progress=stage)[0]
    return {"image": display_image(intake.uint8.numpy()), "steps": list(intake.steps), "z": ex.z,
            "reconstruction": display_image(ex.reconstruction), "score": ex.score, "raw": ex.raw,
            "note": ex.note, "heat": ex.heat, "neighbours": list(ex.neighbours)}


class ScorePanel(QWidget):
    """Queue of images to score, and the details of the selected one."""

    #: make this z the explorer's current z (a scored image was selected / finished while selected)
    latentChosen = Signal(object)
    #: an image finished scoring: the ScoredImage
    imageScored = Signal(object)
    #: the queue ran empty (every item done, failed or cancelled)
    queueIdle = Signal()
    message = Signal(str)

    def __init__(self, executor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ScorePanel")
        self.executor = executor
        self.model = None
        self.items: list[ScoredImage] = []
        self._ids = itertools.count(1)
        self._running: ScoredImage | None = None
        self._job = None
        self._progress = _Progress()
        self._progress.stage.connect(self._on_stage)
        self._build_ui()
        self._show(None)

    # ------------------------------------------------------------------------------------ UI
    def _build_ui(self) -> None:
        lay = QVBoxLayout(self)
        bar = QHBoxLayout()
        self.open_button = QPushButton("Open images…")
        self.open_button.clicked.connect(self._open_dialog)
        self.paste_button = QPushButton("Paste")
        self.paste_button.setToolTip("Score an image (or image files) from the clipboard")
        self.paste_button.clicked.connect(self.paste)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.clear_button = QPushButton("Clear")
        self.clear_button.clicked.connect(self.clear)
        for w in (self.open_button, self.paste_button, self.cancel_button, self.clear_button):
            bar.addWidget(w)
        lay.addLayout(bar)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setFormat("drop images on the window to score them")
        self.progress.setValue(0)
        lay.addWidget(self.progress)

        split = QSplitter(Qt.Orientation.Vertical)
        self.list = QListWidget()
        self.list.setMinimumHeight(60)
        self.list.setMaximumHeight(120)
        self.list.currentRowChanged.connect(self._on_select)
        split.addWidget(self.list)
        self.details = ScoreDetails()
        scroll = QScrollArea()
        scroll.setWidget(self.details)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        split.addWidget(scroll)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 6)
        split.setSizes([90, 600])
        lay.addWidget(split, 1)
        self._update_buttons()


    # ------------------------------------------------------------------------------------ input
    def set_model(self, model) -> None:
        """A new model: every image in the list (except cancelled ones) is scored again with it, so
        the user can compare how two models see the same images."""
        self._stop_running()
        self.model = model
        self.details.set_model(model)
        pending = [i for i in self.items if i.status != "cancelled"]
        for i in pending:
            i.status, i.stage, i.error, i.note = "queued", "", "", ""
            i.image = i.z = i.reconstruction = i.score = i.raw = i.heat = None
            i.steps, i.neighbours = [], []
        self.items = pending
        self.list.blockSignals(True)
        self.list.clear()
        for item in pending:
            row = QListWidgetItem(item.summary())
            row.setData(Qt.ItemDataRole.UserRole, item.id)
            self.list.addItem(row)
        if pending:
            self.list.setCurrentRow(0)
        self.list.blockSignals(False)
        self._show(None)
        self._pump()

    def add_files(self, paths) -> list[ScoredImage]:
        return [self._enqueue(Path(p).name, str(p)) for p in paths]

    def add_image(self, name: str, image) -> ScoredImage:
        """An image as an array (taken in to the model's shape) or an ``IntakeResult``."""
        return self._enqueue(name, image)

    def add_bytes(self, name: str, data: bytes) -> ScoredImage:
        return self._enqueue(name, bytes(data))

    def paste(self) -> list[ScoredImage]:
        """Score what the clipboard holds: image files (URLs) or an image."""
        md = QGuiApplication.clipboard().mimeData()
        if md is not None and md.hasUrls():
            files = [u.toLocalFile() for u in md.urls() if u.isLocalFile()]
            if files:
                return self.add_files(files)
        if md is not None and md.hasImage():
            from PySide6.QtCore import QBuffer, QByteArray, QIODevice

            img = QGuiApplication.clipboard().image()
            ba = QByteArray()
            buf = QBuffer(ba)
            buf.open(QIODevice.OpenModeFlag.WriteOnly)
            img.save(buf, "PNG")
            return [self.add_bytes("pasted image", bytes(ba.data()))]
        self.message.emit("The clipboard holds no image")
        return []

    def _open_dialog(self) -> None:
        from models.intake import IMAGE_SUFFIXES

        patterns = " ".join(f"*{s}" for s in IMAGE_SUFFIXES)
        paths, _ = QFileDialog.getOpenFileNames(self, "Images to score", "", f"Images ({patterns});;All files (*)")
        if paths:
            self.add_files(paths)

    def _enqueue(self, name: str, source) -> ScoredImage:
        was_idle = not any(i.status in ("queued", "running") for i in self.items)
        item = ScoredImage(next(self._ids), name, source)
        self.items.append(item)
        row = QListWidgetItem(item.summary())
        row.setData(Qt.ItemDataRole.UserRole, item.id)
        self.list.addItem(row)
        if was_idle or self.list.currentRow() < 0:
            # the first image of a new batch is selected, so the user sees what they just dropped
            self.list.setCurrentRow(self.list.count() - 1)
        self._pump()
        return item

    # ------------------------------------------------------------------------------------ the queue
    def _pump(self) -> None:
        if self._running is not None or self.model is None:
            self._update_buttons()
            return
        nxt = next((i for i in self.items if i.status == "queued"), None)
        if nxt is None:
            self._update_progress()
            self._update_buttons()
            self.queueIdle.emit()
            return
        nxt.status, nxt.stage = "running", "starting"
        self._running = nxt
        model, progress = self.model, self._progress

        def report(item_id: int, text: str) -> None:
            try:
                progress.stage.emit(item_id, text)
            except RuntimeError:         # the panel was closed meanwhile: stop quietly
                from models.errors import Cancelled

                raise Cancelled() from None
        self._job = self.executor.submit(f"score:{nxt.id}", lambda job: analyse(model, nxt, job, report),
                                         lambda res, it=nxt: self._on_done(it, res),
                                         lambda msg, it=nxt: self._on_failed(it, msg), lane="queue",
                                         pass_job=True, retry_on_oom=True, owner=self)
        self._refresh_row(nxt)
        self._update_progress()
        self._update_buttons()

    def _on_stage(self, item_id: int, text: str) -> None:
        item = self._item(item_id)
        if item is not None and item.status == "running":
            item.stage = text
            self._refresh_row(item)
            self._update_progress()

    def _on_done(self, item: ScoredImage, res: dict[str, Any]) -> None:
        self._running = None
        item.status, item.stage = "done", ""
        for k, v in res.items():
            setattr(item, k, v)
        self._refresh_row(item)
        if self._selected() is item:
            self._show(item)
            self.latentChosen.emit(item.z.copy())
        self.imageScored.emit(item)
        self._pump()

    def _on_failed(self, item: ScoredImage, msg: str) -> None:
        self._running = None
        item.status, item.error = "failed", msg
        self.message.emit(f"{item.name}: {msg}")
        self._refresh_row(item)
        if self._selected() is item:
            self._show(item)
        self._pump()

    def cancel(self) -> None:
        """Stop the running job at its next stage and drop everything queued."""
        n = 0
        for item in self.items:
            if item.status == "queued":
                item.status = "cancelled"
                n += 1
                self._refresh_row(item)
        if self._running is not None:
            n += 1
            self._running.status = "cancelled"
            self._refresh_row(self._running)
            self._stop_running()
        if n:
            self.message.emit(f"Cancelled scoring ({n} image{'s' if n != 1 else ''})")
        self._update_progress()
        self._update_buttons()

    def clear(self) -> None:
        """Cancel whatever runs or waits and empty the list."""
        self._stop_running()
        self.items = []
        self.list.blockSignals(True)
        self.list.clear()
        self.list.blockSignals(False)
        self._show(None)
        self._update_progress()
        self._update_buttons()

    def _stop_running(self) -> None:
        """Cancel the running job (it stops at its next stage and never reports back)."""
        if self._job is not None:
            self._job.cancel()
        self._job = None
        self._running = None

    def is_busy(self) -> bool:
        return self._running is not None

    # ------------------------------------------------------------------------------------ display
    def _item(self, item_id: int) -> ScoredImage | None:
        return next((i for i in self.items if i.id == item_id), None)

    def _row_of(self, item: ScoredImage) -> QListWidgetItem | None:
        for r in range(self.list.count()):
            if self.list.item(r).data(Qt.ItemDataRole.UserRole) == item.id:
                return self.list.item(r)
        return None

    def _selected(self) -> ScoredImage | None:
        row = self.list.currentItem()
        return None if row is None else self._item(row.data(Qt.ItemDataRole.UserRole))

    def select(self, item: ScoredImage) -> None:
        row = self._row_of(item)
        if row is not None:
            self.list.setCurrentItem(row)

    def _refresh_row(self, item: ScoredImage) -> None:
        row = self._row_of(item)
        if row is None:
            return
        row.setText(item.summary())
        color = (OUT_COLOR if item.verdict == "out-of-distribution" else IN_COLOR) if item.score is not None \
            else (OUT_COLOR if item.status == "failed" else NEUTRAL_COLOR)
        row.setForeground(color)
        row.setToolTip(item.error or item.note or item.summary())

    def _on_select(self, _row: int) -> None:
        item = self._selected()
        self._show(item)
        if item is not None and item.status == "done" and item.z is not None:
            self.latentChosen.emit(item.z.copy())

    def _update_progress(self) -> None:
        batch = [i for i in self.items if i.status in ("queued", "running", "done", "failed", "cancelled")]
        active = [i for i in batch if i.status in ("queued", "running")]
        if not active:
            done = sum(i.status == "done" for i in batch)
            self.progress.setRange(0, 1)
            self.progress.setValue(1 if batch else 0)
            self.progress.setFormat(f"{done} scored" if batch else "drop images on the window to score them")
            return
        total = len(batch)
        finished = total - len(active)
        self.progress.setRange(0, total * 4)
        stage_n = {"taking in": 0, "encoding": 1, "inverting the generator": 1, "reconstructing": 2,
                   "likelihood and verdict": 3}.get(self._running.stage if self._running else "", 0)
        self.progress.setValue(finished * 4 + stage_n)
        cur = self._running
        self.progress.setFormat(f"scoring {finished + 1} of {total}: {cur.name} — {cur.stage}" if cur
                                else f"{len(active)} queued")

    def _update_buttons(self) -> None:
        busy = self._running is not None or any(i.status == "queued" for i in self.items)
        self.cancel_button.setEnabled(busy)
        self.open_button.setEnabled(self.model is not None)
        self.paste_button.setEnabled(self.model is not None)

    def _show(self, item: ScoredImage | None) -> None:
        self.details.show_item(item)

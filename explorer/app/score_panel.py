"""Drop an image to encode and score it: what the model sees, its reconstruction, likelihood and verdict.

Images (dropped, pasted, opened) are queued and scored one after another in the background; each
gets a row in the list with its verdict.  The selected row shows:

* the image as the model sees it after intake, with the intake steps, and its reconstruction;
* log-likelihood in nats and bits/dim, the OOD statistic, its percentile and the verdict;
* a histogram of the OOD statistic on held-out Fashion-MNIST (the checkpoint's calibration) with
  this image's marker and the verdict threshold; beside it the *raw* likelihood's histogram with the
  same marker, and why raw likelihood alone misleads.

Cancel stops the running job at its next stage (well under a second) and drops the queue.
"""
from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication
from PySide6.QtWidgets import (QFileDialog, QFormLayout, QHBoxLayout, QLabel, QListWidget,
                               QListWidgetItem, QProgressBar, QPushButton, QSizePolicy, QSplitter,
                               QVBoxLayout, QWidget)

from .background import Ticket, run_in_background
from .pixmaps import ImageLabel, as_uint8

IN_COLOR = QColor(60, 170, 90)
OUT_COLOR = QColor(220, 70, 60)
NEUTRAL_COLOR = QColor(150, 150, 150)

RAW_EXPLANATION = (
    "<b>Why not just use the likelihood?</b> A model trained on Fashion-MNIST gives simple images — "
    "MNIST digits, blank or smooth pictures — likelihoods as high as, or higher than, its own garments, "
    "because they are easy to compress (mostly black, few strokes): on the raw histogram they hide among "
    "the likely garments. The verdict subtracts the image's own complexity (its lossless compressed "
    "size; Serrà et al. 2020), which moves such images into the unusual tail.")


RAW_EXPLANATION_GAN = (
    "<b>Why not just use how well the GAN reproduces it?</b> A GAN has no likelihood; its closest raw "
    "number is the inversion residual (how far the best generated image is from this one). Simple "
    "images — digits, blank or smooth pictures — are easy to reproduce, so a low residual alone does "
    "not mean \"looks like the training data\". The verdict corrects the residual by the image's own "
    "complexity (its lossless compressed size), as for the VAE; it is an approximation, labelled so.")


class Cancelled(Exception):
    """The user cancelled the scoring job."""

    quiet = True


@dataclass
class ScoredImage:
    id: int
    name: str
    source: Any                                   # a path, PNG bytes, or a (28, 28) uint8 array
    status: str = "queued"                        # queued | running | done | failed | cancelled
    stage: str = ""
    image: np.ndarray | None = None               # (28, 28) uint8, as the model sees it
    steps: list[str] = field(default_factory=list)
    z: np.ndarray | None = None
    reconstruction: np.ndarray | None = None
    score: Any = None                             # models.Score, or None
    raw: float | None = None                      # this image's raw feature (see calibration["raw"])
    note: str = ""                                # e.g. "no calibration"
    error: str = ""

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


def score_one(model, item: ScoredImage, cancel: threading.Event, report) -> dict[str, Any]:
    """The whole job for one image, on a background thread: intake, inversion, reconstruction, score.

    If the GPU runs out of memory, the image is scored again by a CPU copy of the model (the open
    model stays where it is) and the result's ``note`` says so."""
    from ..errors import is_out_of_memory

    try:
        return _score_one(model, item, cancel, report)
    except Exception as exc:  # noqa: BLE001 - only out-of-memory on a GPU is handled here
        if not is_out_of_memory(exc) or str(getattr(model, "device", "cpu")).startswith("cpu"):
            raise
        oom = type(exc).__name__
    from .render_worker import free_gpu_memory

    free_gpu_memory()
    report(item.id, "GPU out of memory: scoring on the CPU")
    res = _score_one(_cpu_copy(model), item, cancel, report)
    res["note"] = f"The GPU ran out of memory ({oom}); this image was scored on the CPU. {res.get('note', '')}".strip()
    return res


def _cpu_copy(model):
    """The same model (weights, config, metadata) on the CPU, leaving ``model`` where it is."""
    copy = type(model).build(model.config, dict(model.metadata), "cpu")
    copy.net.load_state_dict({k: v.detach().to("cpu") for k, v in model.net.state_dict().items()})
    copy.net.eval()
    return copy


def _score_one(model, item: ScoredImage, cancel: threading.Event, report) -> dict[str, Any]:
    import torch

    from models import scoring
    from models.imaging import to_uint8
    from models.intake import IntakeResult, load_image

    def stage(text: str) -> None:
        if cancel.is_set():
            raise Cancelled()
        report(item.id, text)

    stage("taking in")
    if isinstance(item.source, IntakeResult):
        intake = item.source
    elif isinstance(item.source, (str, Path, bytes, bytearray)):
        intake = load_image(item.source)
    else:
        intake = IntakeResult(torch.from_numpy(as_uint8(item.source)).unsqueeze(0), ["used as is"])
    x = intake.uint8.unsqueeze(0)
    stage("inverting the generator" if model.family == "gan" else "encoding")
    feats = scoring.features(model, x)
    z = torch.as_tensor(feats["latent"], dtype=torch.float32) if "latent" in feats else model.encode(x).cpu()
    stage("reconstructing")
    with torch.no_grad():
        recon = to_uint8(model.decode(z.to(model.device)))[0]
    raw_spec = scoring.RAW_FEATURES.get(model.family) if hasattr(scoring, "RAW_FEATURES") else None
    raw = float(feats[raw_spec["feature"]][0]) if raw_spec and raw_spec["feature"] in feats else None
    stage("likelihood and verdict")
    note = ""
    try:
        sc = model.score(x)[0]
    except scoring.UncalibratedError as exc:
        sc, note = None, str(exc)
        ll = scoring.log_likelihood(model, x)
        if ll is not None:
            note += f" (log-likelihood {float(ll[0]):.1f} nats)"
    if cancel.is_set():
        raise Cancelled()
    return {"image": intake.uint8.numpy()[0], "steps": list(intake.steps), "z": z[0].numpy(),
            "reconstruction": recon, "score": sc, "raw": raw, "note": note}


class ScorePanel(QWidget):
    """Queue of images to score, and the details of the selected one."""

    #: make this z the explorer's current z (a scored image was selected / finished while selected)
    latentChosen = Signal(object)
    #: an image finished scoring: the ScoredImage
    imageScored = Signal(object)
    #: the queue ran empty (every item done, failed or cancelled)
    queueIdle = Signal()
    message = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ScorePanel")
        self.model = None
        self.items: list[ScoredImage] = []
        self._ids = itertools.count(1)
        self._running: ScoredImage | None = None
        self._ticket: Ticket | None = None
        self._cancel = threading.Event()
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

        detail = QWidget()
        dl = QVBoxLayout(detail)
        dl.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        col1, col2 = QVBoxLayout(), QVBoxLayout()
        self.seen = ImageLabel(scale=3, caption="the image as the model sees it (after intake)")
        self.recon = ImageLabel(scale=3, caption="the model's reconstruction (decode(encode(x)))")
        col1.addWidget(QLabel("Model sees"))
        col1.addWidget(self.seen)
        col2.addWidget(QLabel("Reconstruction"))
        col2.addWidget(self.recon)
        top.addLayout(col1)
        top.addLayout(col2)
        form = QFormLayout()
        self.verdict_label = QLabel()
        self.verdict_label.setStyleSheet("font-weight: bold; font-size: 14px;")
        self.ll_label, self.stat_label, self.pct_label = QLabel(), QLabel(), QLabel()
        self.method_label = QLabel()
        self.method_label.setWordWrap(True)
        self.method_label.setStyleSheet("color: #888;")
        form.addRow("Verdict", self.verdict_label)
        form.addRow("Log-likelihood", self.ll_label)
        form.addRow("OOD statistic", self.stat_label)
        form.addRow("Percentile", self.pct_label)
        top.addLayout(form, 1)
        dl.addLayout(top)
        dl.addWidget(self.method_label)
        self.steps_label = QLabel()
        self.steps_label.setWordWrap(True)
        self.steps_label.setStyleSheet("color: #999;")
        dl.addWidget(self.steps_label)

        import pyqtgraph as pg

        hists = QHBoxLayout()
        self.stat_plot = pg.PlotWidget()
        self.raw_plot = pg.PlotWidget()
        for p in (self.stat_plot, self.raw_plot):
            p.setMinimumSize(180, 150)
            p.setMaximumHeight(240)
            p.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
            p.setMouseEnabled(False, False)
            p.hideButtons()
            p.getPlotItem().setMenuEnabled(False)
            hists.addWidget(p)
        dl.addLayout(hists)
        self.raw_text = QLabel(RAW_EXPLANATION)
        self.raw_text.setWordWrap(True)
        self.raw_text.setStyleSheet("color: #bbb;")
        dl.addWidget(self.raw_text)
        dl.addStretch(1)
        detail.setMinimumHeight(540)
        from PySide6.QtWidgets import QFrame, QScrollArea

        scroll = QScrollArea()
        scroll.setWidget(detail)
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
        """A new model: finished rows go (their scores were for the old model); images still waiting
        -- dropped while the model was loading, say -- are scored with the new one."""
        if self._ticket is not None:
            self._ticket.cancel()
        self._cancel.set()
        self._running = None
        self.model = model
        pending = [i for i in self.items if i.status in ("queued", "running")]
        for i in pending:
            i.status, i.stage = "queued", ""
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
        """An image already 28x28 (uint8 array or an IntakeResult)."""
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
        paths, _ = QFileDialog.getOpenFileNames(self, "Images to score", "",
                                                "Images (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff *.webp);;"
                                                "All files (*)")
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
        self._cancel = threading.Event()
        nxt.status, nxt.stage = "running", "starting"
        self._running = nxt
        model, cancel, progress = self.model, self._cancel, self._progress

        def report(item_id: int, text: str) -> None:
            try:
                progress.stage.emit(item_id, text)
            except RuntimeError:         # the panel was closed meanwhile: stop quietly
                raise Cancelled() from None
        self._ticket = run_in_background(lambda: score_one(model, nxt, cancel, report),
                                         lambda res, it=nxt: self._on_done(it, res),
                                         lambda msg, it=nxt: self._on_failed(it, msg), owner=self)
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
        if "GPU ran out of memory" in (item.note or ""):
            self.message.emit(f"{item.name}: {item.note}")  # the status bar says it, whatever is selected
        self._refresh_row(item)
        if self._selected() is item:
            self._show(item)
            self.latentChosen.emit(item.z.copy())
        self.imageScored.emit(item)
        self._pump()

    def _on_failed(self, item: ScoredImage, msg: str) -> None:
        self._running = None
        if msg == "Cancelled" or self._cancel.is_set():
            item.status = "cancelled"
        else:
            item.status, item.error = "failed", msg
            self.message.emit(f"{item.name}: {msg}")
        self._refresh_row(item)
        if self._selected() is item:
            self._show(item)
        self._pump()

    def cancel(self) -> None:
        """Stop the running job at its next stage and drop everything queued."""
        self._cancel.set()
        n = 0
        for item in self.items:
            if item.status == "queued":
                item.status = "cancelled"
                n += 1
                self._refresh_row(item)
        if self._running is not None:
            n += 1
            self._running.stage = "cancelling"
            self._refresh_row(self._running)
        if n:
            self.message.emit(f"Cancelled scoring ({n} image{'s' if n != 1 else ''})")
        self._update_progress()
        self._update_buttons()

    def clear(self) -> None:
        """Cancel whatever runs or waits and empty the list."""
        if self._ticket is not None:
            self._ticket.cancel()
        self._cancel.set()
        self._running = None
        self.items = []
        self.list.blockSignals(True)
        self.list.clear()
        self.list.blockSignals(False)
        self._show(None)
        self._update_progress()
        self._update_buttons()

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
        for p in (self.stat_plot, self.raw_plot):
            p.clear()
        if item is None or item.image is None:
            self.seen.clear_image()
            self.recon.clear_image()
            text = "" if item is None else (item.error or item.summary())
            self.verdict_label.setText(text)
            self.verdict_label.setStyleSheet("font-weight: bold; font-size: 14px;")
            for w in (self.ll_label, self.stat_label, self.pct_label, self.method_label, self.steps_label):
                w.setText("")
            self._draw_histograms(None)
            return
        self.seen.set_image(item.image)
        if item.reconstruction is not None:
            self.recon.set_image(item.reconstruction)
        self.steps_label.setText("Intake: " + ("; ".join(item.steps) if item.steps else "used as is"))
        sc = item.score
        if sc is None:
            self.verdict_label.setText("no verdict")
            self.verdict_label.setStyleSheet("font-weight: bold; font-size: 14px; color: #999;")
            self.ll_label.setText(item.note or "—")
            self.ll_label.setWordWrap(True)
            self.stat_label.setText("—")
            self.pct_label.setText("—")
            self.method_label.setText("")
        else:
            out = sc.verdict == "out-of-distribution"
            color = OUT_COLOR if out else IN_COLOR
            self.verdict_label.setText(sc.verdict.upper())
            self.verdict_label.setStyleSheet(f"font-weight: bold; font-size: 14px; color: {color.name()};")
            if sc.log_likelihood_nats is None:
                self.ll_label.setText("none (a GAN has no likelihood)")
            else:
                self.ll_label.setText(f"{sc.log_likelihood_nats:.1f} nats  ·  {sc.bits_per_dim:.3f} bits/dim")
            cal = self._calibration()
            thr = f"  (threshold {cal['threshold']:.2f})" if cal else ""
            self.stat_label.setText(f"{sc.ood_statistic:.2f}{thr}")
            fpr = f"  (OOD above {100 * (1 - cal['fpr']):.0f})" if cal and "fpr" in cal else ""
            self.pct_label.setText(f"{sc.percentile:.1f}{fpr}")
            self.pct_label.setToolTip("share of held-out Fashion-MNIST images with a lower OOD statistic, in %")
            self.method_label.setText(f"Method: {sc.method}")
        self._draw_histograms(item)

    def _explain(self) -> None:
        gan = self.model is not None and getattr(self.model, "family", "") == "gan"
        self.raw_text.setText(RAW_EXPLANATION_GAN if gan else RAW_EXPLANATION)

    def _calibration(self) -> dict[str, Any] | None:
        cal = None if self.model is None else self.model.metadata.get("calibration")
        return cal if isinstance(cal, dict) and cal.get("quantiles") else None

    def _draw_histograms(self, item: ScoredImage | None) -> None:
        self._explain()
        cal = self._calibration()
        stat_plot, raw_plot = self.stat_plot.getPlotItem(), self.raw_plot.getPlotItem()
        stat_plot.setTitle("OOD statistic, held-out images", size="9pt")
        raw = cal.get("raw") if cal else None
        raw_title = "Raw likelihood, held-out images"
        if raw and raw.get("unit"):
            raw_title = f"Raw {'NLL' if raw['unit'] == 'bits/dim' else 'residual'} ({raw['unit']}), held-out"
        raw_plot.setTitle(raw_title, size="9pt")
        if cal is None:
            stat_plot.setTitle("OOD statistic — this model has no calibration", size="9pt")
            return
        marker = None if item is None or item.score is None else item.score.ood_statistic
        _histogram(stat_plot, np.asarray(cal["quantiles"], float), marker, cal.get("threshold"),
                   "more unusual →")
        if raw and raw.get("quantiles"):
            rq = np.asarray(raw["quantiles"], float)
            rv = None if item is None else item.raw
            _histogram(raw_plot, rq, rv, None, f"{raw.get('unit', '')}: less likely →")
            if rv is not None:
                likelier = 100.0 - float(np.interp(rv, rq, np.asarray(cal.get("levels", np.linspace(0, 100, len(rq))))))
                what = "likelier" if raw.get("unit") == "bits/dim" else "better reproduced"
                raw_plot.setTitle(f"{raw_title}<br>this image is {what} than {likelier:.0f}% of them",
                                  size="9pt")
        else:
            raw_plot.setTitle("Raw likelihood: not in this checkpoint's calibration<br>"
                              "(run `latent-explorer calibrate FILE`)", size="9pt")


def _histogram(plot, quantiles: np.ndarray, marker: float | None, threshold: float | None, xlabel: str) -> None:
    """A histogram of the distribution the quantiles describe (they are equally spaced in probability,
    so they are a fair sample of it), the threshold dashed, and this image's marker in orange; a
    marker beyond the chart is pinned to its edge with its value written."""
    import pyqtgraph as pg

    q = quantiles[np.isfinite(quantiles)]
    if q.size < 2:
        return
    lo, hi = float(np.quantile(q, 0.002)), float(np.quantile(q, 0.998))
    if hi <= lo:
        hi = lo + 1.0
    width = hi - lo
    lo_v, hi_v = lo - 0.05 * width, hi + 0.05 * width
    if marker is not None and np.isfinite(marker):
        lo_v, hi_v = min(lo_v, marker - 0.05 * width), max(hi_v, marker + 0.05 * width)
        lo_v, hi_v = max(lo_v, lo - 0.6 * width), min(hi_v, hi + 0.6 * width)
    counts, edges = np.histogram(np.clip(q, lo, hi), bins=30, range=(lo, hi))
    dens = counts / counts.sum()
    plot.addItem(pg.PlotDataItem(edges, dens, stepMode="center", fillLevel=0,
                                 brush=(90, 140, 200, 150), pen=pg.mkPen((120, 170, 230), width=1)))
    if threshold is not None:
        plot.addItem(pg.InfiniteLine(pos=float(threshold), angle=90,
                                     pen=pg.mkPen((220, 220, 220), width=1, style=Qt.PenStyle.DashLine),
                                     label="threshold", labelOpts={"position": 0.9, "color": (220, 220, 220)}))
    if marker is not None and np.isfinite(marker):
        pos = float(np.clip(marker, lo_v, hi_v))
        text = "this image" if pos == marker else f"this image: {marker:.3g} →" if marker > pos else f"← {marker:.3g}"
        plot.addItem(pg.InfiniteLine(pos=pos, angle=90, pen=pg.mkPen((255, 150, 0), width=3),
                                     label=text, labelOpts={"position": 0.75, "color": (255, 170, 40),
                                                            "anchors": [(1, 0), (1, 0)] if pos > (lo_v + hi_v) / 2
                                                            else [(0, 0), (0, 0)]}))
    plot.setXRange(lo_v, hi_v, padding=0)
    plot.setYRange(0, float(dens.max()) * 1.15, padding=0)
    plot.setLabel("bottom", xlabel)
    plot.getAxis("bottom").enableAutoSIPrefix(False)
    plot.getAxis("left").setStyle(showValues=False)

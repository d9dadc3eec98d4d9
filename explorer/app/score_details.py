"""The details of one scored image: what the model sees, its reconstruction, the numbers and why.

* the image as the model sees it after intake, with the intake steps, and its reconstruction;
* why (:mod:`models.ood_explain`): a heat map of where the model finds the image unlikely beyond what a
  local model of neighbouring pixels explains, and the five nearest training images in latent space;
* log-likelihood in nats and bits/dim, the OOD statistic, its percentile and the verdict;
* a histogram of the OOD statistic on held-out in-distribution images (the checkpoint's calibration)
  with this image's marker and the verdict threshold; beside it the *raw* likelihood's histogram with
  the same marker, and why raw likelihood alone misleads.

A view only: it draws a ``ScoredImage`` that the score panel filled from ``models.scoring.explain``.
Every label wraps, so the dock never clips at the window sizes people use (1000×700 and up).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QFormLayout, QGridLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from .pixmaps import ImageLabel

IN_COLOR = QColor(60, 170, 90)
OUT_COLOR = QColor(220, 70, 60)
NEUTRAL_COLOR = QColor(150, 150, 150)
NEIGHBOURS_SHOWN = 5

RAW_EXPLANATION = (
    "<b>Why not just use the likelihood?</b> A model trained on {data} gives simple images — "
    "MNIST digits, blank or smooth pictures — likelihoods as high as, or higher than, its own images, "
    "because they are easy to compress (flat areas, few strokes): on the raw histogram they hide among "
    "the likely training images. The verdict subtracts the image's own complexity (its lossless compressed "
    "size; Serrà et al. 2020), which moves such images into the unusual tail.")


RAW_EXPLANATION_GAN = (
    "<b>Why not just use how well the GAN reproduces it?</b> A GAN has no likelihood; its closest raw "
    "number is the inversion residual (how far the best generated image is from this one). Simple "
    "images — digits, blank or smooth pictures — are easy to reproduce, so a low residual alone does "
    "not mean \"looks like the training data\". The verdict compares the residual with how well a small "
    "local pixel model predicts the image, asks the discriminator, compares the image with itself upside "
    "down and checks that its compressed size is typical; it is an approximation, labelled so.")

RAW_EXPLANATION_DECODER = (
    "<b>Why not just use how well the decoder reproduces it?</b> A decoder made elsewhere has no likelihood; "
    "its closest raw number is the reconstruction residual. Simple images are easy to reproduce, so a low "
    "residual alone does not mean \"like the held-in images\". The verdict combines the residual with the "
    "image's own complexity (its lossless compressed size) and its code's norm, calibrated on the folder "
    "named to `latent-explorer calibrate`; it is an approximation, labelled so.")


def _wrapping(text: str = "", style: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # never widens the dock
    if style:
        label.setStyleSheet(style)
    return label


class ScoreDetails(QWidget):
    """The lower half of the Score dock."""

    VERDICT_STYLE = "font-weight: bold; font-size: 14px;"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = None
        dl = QVBoxLayout(self)
        dl.setContentsMargins(0, 0, 0, 0)
        images = QGridLayout()
        self.seen = ImageLabel(scale=3, caption="the image as the model sees it (after intake)")
        self.recon = ImageLabel(scale=3, caption="the model's reconstruction (decode(encode(x)))")
        images.addWidget(QLabel("Model sees"), 0, 0)
        images.addWidget(QLabel("Reconstruction"), 0, 1)
        images.addWidget(self.seen, 1, 0)
        images.addWidget(self.recon, 1, 1)
        images.setColumnStretch(2, 1)
        dl.addLayout(images)
        dl.addWidget(self._why_row())
        form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.verdict_label = _wrapping(style=self.VERDICT_STYLE)
        self.ll_label, self.stat_label, self.pct_label = _wrapping(), _wrapping(), _wrapping()
        form.addRow("Verdict", self.verdict_label)
        form.addRow("Log-likelihood", self.ll_label)
        form.addRow("OOD statistic", self.stat_label)
        form.addRow("Percentile", self.pct_label)
        dl.addLayout(form)
        self.method_label = _wrapping(style="color: #888;")
        self.steps_label = _wrapping(style="color: #999;")
        dl.addWidget(self.method_label)
        dl.addWidget(self.steps_label)

        import pyqtgraph as pg

        self.stat_plot = pg.PlotWidget()
        self.raw_plot = pg.PlotWidget()
        for p in (self.stat_plot, self.raw_plot):   # one above the other: each gets the dock's width
            p.setMinimumSize(160, 150)
            p.setMaximumHeight(220)
            p.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
            p.setMouseEnabled(False, False)
            p.hideButtons()
            p.getPlotItem().setMenuEnabled(False)
            dl.addWidget(p)
        self.raw_text = _wrapping(RAW_EXPLANATION.format(data="Fashion-MNIST"), "color: #bbb;")
        dl.addWidget(self.raw_text)
        dl.addStretch(1)
        self.show_item(None)

    def _why_row(self) -> QWidget:
        """Where the model finds the image unlikely (heat map) and the nearest training images in latent space."""
        box = QWidget()
        grid = QGridLayout(box)
        grid.setContentsMargins(0, 0, 0, 0)
        self.heat = ImageLabel(scale=2, caption="heat map: bits the model spends on each pixel beyond what a local "
                                                "model of neighbouring pixels needs (black: no surprise; yellow: most)")
        grid.addWidget(QLabel("Unlikely where"), 0, 0)
        grid.addWidget(self.heat, 1, 0)
        self.why_title = QLabel("Nearest training images")
        grid.addWidget(self.why_title, 0, 1, 1, NEIGHBOURS_SHOWN)
        self.neighbour_images, self.neighbour_names = [], []
        for j in range(NEIGHBOURS_SHOWN):
            im = ImageLabel(scale=2, caption="a Fashion-MNIST training image near this one in latent space")
            name = QLabel("")
            name.setStyleSheet("color: #aaa; font-size: 10px;")
            name.setAlignment(Qt.AlignmentFlag.AlignHCenter)
            grid.addWidget(im, 1, 1 + j)
            grid.addWidget(name, 2, 1 + j)
            self.neighbour_images.append(im)
            self.neighbour_names.append(name)
        grid.setColumnStretch(1 + NEIGHBOURS_SHOWN, 1)
        return box

    def _show_why(self, item) -> None:
        from models.ood_explain import heat_rgb

        from .rendering import display_image

        heat = None if item is None else getattr(item, "heat", None)
        if heat is None:
            self.heat.clear_image("—")
            self.heat.setToolTip("no heat map: only a calibrated VAE gives each pixel's bits")
        else:
            self.heat.set_image(display_image(heat_rgb(heat)))
            self.heat.setToolTip(f"bits beyond a local model's, summed: {float(np.clip(heat, 0, None).sum()):.0f}; "
                                 f"hottest pixel {float(heat.max()):.1f} bits")
        near = [] if item is None else list(getattr(item, "neighbours", []) or [])
        for j, (im, name) in enumerate(zip(self.neighbour_images, self.neighbour_names)):
            if j < len(near):
                im.set_image(display_image(near[j].image))
                im.setToolTip(f"{near[j].class_name}: training image {near[j].train_index}, "
                              f"latent distance {near[j].distance:.2f}")
                name.setText(near[j].class_name)
            else:
                im.clear_image("")
                name.setText("")

    def set_model(self, model) -> None:
        self.model = model
        self.show_item(None)

    def _approximate(self) -> bool:
        """A GAN's verdict rests on an inversion, not a likelihood: the verdict line says so."""
        return self.model is not None and getattr(self.model, "family", "") == "gan"

    def show_item(self, item) -> None:
        """Show one scored image (a ``ScoredImage``), or nothing."""
        for p in (self.stat_plot, self.raw_plot):
            p.clear()
        self._show_why(item if item is not None and item.image is not None else None)
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
            gan = self._approximate()
            self.verdict_label.setText(sc.verdict.upper() + (" (approximation)" if gan else
                                                              " (approximation: no likelihood)" if sc.approximate else ""))
            self.verdict_label.setStyleSheet(f"font-weight: bold; font-size: 14px; color: {color.name()};")
            if sc.log_likelihood_nats is None:
                self.ll_label.setText("none (a GAN has no likelihood)" if gan else
                                      "none (a decoder alone defines no likelihood)")
            else:
                self.ll_label.setText(f"{sc.log_likelihood_nats:.1f} nats  ·  {sc.bits_per_dim:.3f} bits/dim")
            cal = self._calibration()
            thr = f"  (threshold {cal['threshold']:.2f})" if cal else ""
            self.stat_label.setText(f"{sc.ood_statistic:.2f}{thr}")
            fpr = f"  (OOD above {100 * (1 - cal['fpr']):.0f})" if cal and "fpr" in cal else ""
            self.pct_label.setText(f"{sc.percentile:.1f}{fpr}")
            self.pct_label.setToolTip(f"share of held-out {self._data_name()} images with a lower OOD statistic, in %")
            self.method_label.setText(f"Method: {sc.method}")
        self._draw_histograms(item)

    def _explain(self) -> None:
        gan = self.model is not None and getattr(self.model, "family", "") == "gan"
        decoder = bool((self._calibration() or {}).get("approximate"))   # a foreign decoder's record
        self.raw_text.setText(RAW_EXPLANATION_GAN if gan else RAW_EXPLANATION_DECODER if decoder
                              else RAW_EXPLANATION.format(data=self._data_name()))

    def _data_name(self) -> str:
        """What the open model was trained on, in words (its checkpoint's dataset name)."""
        ds = {} if self.model is None else self.model.metadata.get("dataset")
        name = str(ds.get("name") or "") if isinstance(ds, dict) else ""
        if name in ("", "fashion-mnist", "fmnist"):
            return "Fashion-MNIST" if name or self.model is None or tuple(self.model.image_shape) == (1, 28, 28) \
                else "its own data"
        return name.removeprefix("folder:") or "its own data"

    def _calibration(self) -> dict[str, Any] | None:
        cal = None if self.model is None else self.model.metadata.get("calibration")
        return cal if isinstance(cal, dict) and cal.get("quantiles") else None

    def _draw_histograms(self, item) -> None:
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
            unit = raw.get("unit") or ""
            _histogram(raw_plot, rq, rv, None, f"{unit}: less likely →" if unit else "less likely →")
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

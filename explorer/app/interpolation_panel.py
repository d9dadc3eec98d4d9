"""The interpolation panel: endpoints A and B, lerp or slerp, a strip of N frames, playback, export.

Endpoints come from the current z, a new prior sample, a bundled sample image, a dropped image or an
image file (images are taken in like a dropped image and encoded).  Every torch call (encoding,
decoding the frames) runs in the background; the panel only shows the results.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QHBoxLayout, QLabel,
                               QMenu, QPushButton, QScrollArea, QSizePolicy, QSlider, QSpinBox,
                               QToolButton, QVBoxLayout, QWidget)

from .pixmaps import ImageLabel, strip_pixmap
from .rendering import display_image


@dataclass
class Endpoint:
    label: str
    z: np.ndarray            # (D,) float32
    image: np.ndarray        # (H, W) or (H, W, 3) uint8: the decoded endpoint


def _endpoint_job(model, spec, label: str) -> Callable[[], Endpoint]:
    """An endpoint from a seed, a file or pixels (``models.interpolation.endpoint_latent``), decoded."""
    def job() -> Endpoint:
        from models.interpolation import endpoint_latent

        z = endpoint_latent(model, spec).detach().float().cpu().numpy()
        return Endpoint(label, z, _decode_u8(model, z)[0])
    return job


def _decode_u8(model, z) -> np.ndarray:
    """Latents (N, D) -> images as the views draw them: (N, H, W) grey or (N, H, W, 3) colour uint8."""
    import torch

    from models.imaging import to_uint8

    with torch.no_grad():
        imgs = to_uint8(model.decode(torch.as_tensor(z, dtype=torch.float32).reshape(-1, model.latent_dim)))
    return np.stack([display_image(a) for a in imgs])


class InterpolationPanel(QWidget):
    """Interpolate between two latents and play, scrub and export the path."""

    #: the user asked to make a frame's z the explorer's current z
    latentChosen = Signal(object)
    #: frames (re)computed: number of frames
    framesReady = Signal(int)
    #: a one-line message for the status bar
    message = Signal(str)

    def __init__(self, executor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("InterpolationPanel")
        self.executor = executor
        self.model = None
        self.endpoints: dict[str, Endpoint | None] = {"A": None, "B": None}
        self.frames: np.ndarray | None = None      # (N, H, W) or (N, H, W, 3) uint8
        self.zs: np.ndarray | None = None          # (N, D)
        self.current_z_provider: Callable[[], np.ndarray | None] | None = None
        self.dropped: dict[str, np.ndarray] = {}   # name -> uint8 images the user dropped (as seen)
        self._direction = 1
        self._seed_counter = 0
        self._build_ui()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._tick)
        self._update_enabled()

    # ------------------------------------------------------------------------------------ UI
    def _build_ui(self) -> None:
        # wide and short, for a dock under the canvas: the playing frame on the left, the rest beside it
        outer = QHBoxLayout(self)
        left = QVBoxLayout()
        self.preview = ImageLabel(scale=5, caption="current frame")
        left.addWidget(self.preview)
        self.frame_label = QLabel("frame —")
        left.addWidget(self.frame_label)
        left.addStretch(1)
        outer.addLayout(left)
        lay = QVBoxLayout()
        outer.addLayout(lay, 1)

        ends = QHBoxLayout()
        self.thumbs: dict[str, ImageLabel] = {}
        self.end_labels: dict[str, QLabel] = {}
        self.end_buttons: dict[str, QToolButton] = {}
        for key in ("A", "B"):
            thumb = ImageLabel(scale=2, caption=f"endpoint {key}")
            label = QLabel(f"{key}: —")
            label.setMinimumWidth(90)
            label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
            btn = QToolButton()
            btn.setText(f"Set {key} ▾")
            btn.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
            menu = QMenu(btn)
            menu.aboutToShow.connect(lambda k=key, m=menu: self._fill_menu(k, m))
            btn.setMenu(menu)
            self.thumbs[key], self.end_labels[key], self.end_buttons[key] = thumb, label, btn
            col = QVBoxLayout()
            col.addWidget(label)
            col.addWidget(btn)
            ends.addWidget(thumb)
            ends.addLayout(col, 1)
        self.method = QComboBox()
        self.method.addItem("slerp (spherical)", "slerp")
        self.method.addItem("lerp (linear)", "lerp")
        self.method.setToolTip("slerp follows the shell where a Gaussian prior's samples live; lerp cuts through "
                               "the low-norm middle the decoder rarely saw")
        self.steps = QSpinBox()
        self.steps.setRange(2, 200)
        self.steps.setValue(16)
        self.steps.setSuffix(" frames")
        self.method.setMaximumWidth(170)
        self.steps.setMaximumWidth(170)
        opts = QVBoxLayout()
        opts.addWidget(self.method)
        opts.addWidget(self.steps)
        ends.addLayout(opts)
        lay.addLayout(ends)
        self.method.currentIndexChanged.connect(self.recompute)
        self.steps.valueChanged.connect(self.recompute)

        self.strip = QLabel()
        self.strip.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.strip.setToolTip("click a frame to show it")
        self.strip.mousePressEvent = self._strip_clicked  # type: ignore[method-assign]
        scroll = QScrollArea()
        scroll.setWidget(self.strip)
        scroll.setWidgetResizable(True)
        scroll.setFixedHeight(28 * 2 + 24)
        lay.addWidget(scroll)

        transport = QHBoxLayout()
        self.play_button = QPushButton("Play")
        self.play_button.setCheckable(True)
        self.play_button.toggled.connect(self.set_playing)
        self.loop = QCheckBox("Loop")
        self.loop.setChecked(True)
        self.bounce = QCheckBox("Bounce")
        self.fps = QSpinBox()
        self.fps.setRange(1, 60)
        self.fps.setValue(12)
        self.fps.setSuffix(" fps")
        self.fps.valueChanged.connect(self._apply_speed)
        self.scrub = QSlider(Qt.Orientation.Horizontal)
        self.scrub.setRange(0, 0)
        self.scrub.valueChanged.connect(self._show_frame)
        transport.addWidget(self.play_button)
        transport.addWidget(self.scrub, 1)
        for w in (self.loop, self.bounce, self.fps):
            transport.addWidget(w)
        lay.addLayout(transport)
        actions = QHBoxLayout()
        self.use_button = QPushButton("Use frame")
        self.use_button.setToolTip("Make this frame's z the current z (sliders and canvas)")
        self.use_button.clicked.connect(self._use_frame)
        self.gif_button = QPushButton("Export GIF…")
        self.gif_button.clicked.connect(lambda: self._export_dialog("gif"))
        self.png_button = QPushButton("Export PNG strip…")
        self.png_button.clicked.connect(lambda: self._export_dialog("png"))
        for w in (self.use_button, self.gif_button, self.png_button):
            actions.addWidget(w)
        self.status = QLabel("Open a model to interpolate.")
        self.status.setStyleSheet("color: #888;")
        actions.addWidget(self.status, 1)
        lay.addLayout(actions)
        lay.addStretch(1)

        play_action = QAction("Play/pause interpolation", self)
        play_action.setShortcut(QKeySequence(Qt.Key.Key_Space))
        play_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        play_action.triggered.connect(self.play_button.toggle)
        self.addAction(play_action)

    def _fill_menu(self, key: str, menu: QMenu) -> None:
        menu.clear()
        a = menu.addAction("Current z", lambda: self.set_endpoint_current(key))
        a.setEnabled(self.current_z_provider is not None and self.model is not None)
        menu.addAction("New random sample", lambda: self.set_endpoint_sample(key))
        sub = menu.addMenu("Bundled sample image")
        from models.bundled_data import sample_paths

        for p in sample_paths():
            sub.addAction(p.stem, lambda p=p: self.set_endpoint_file(key, p))
        dropped = menu.addMenu("Dropped image")
        dropped.setEnabled(bool(self.dropped))
        for name in self.dropped:
            dropped.addAction(name, lambda n=name: self.set_endpoint_image(key, self.dropped[n], n))
        menu.addAction("Image file…", lambda: self._pick_file(key))

    def _pick_file(self, key: str) -> None:
        from models.intake import IMAGE_SUFFIXES

        patterns = " ".join(f"*{s}" for s in IMAGE_SUFFIXES)
        path, _ = QFileDialog.getOpenFileName(self, f"Image for endpoint {key}", "", f"Images ({patterns})")
        if path:
            self.set_endpoint_file(key, path)

    # ------------------------------------------------------------------------------------ model
    def set_model(self, model) -> None:
        """A new model: endpoints become two prior samples (seeds 0 and 1)."""
        self.set_playing(False)
        self.model = model
        self.endpoints = {"A": None, "B": None}
        self.frames = self.zs = None
        for key in ("interpolation:A", "interpolation:B", "interpolation"):
            self.executor.cancel(key)
        if model is None:
            self._update_enabled()
            return
        self.set_endpoint_sample("A", seed=0)
        self.set_endpoint_sample("B", seed=1)

    def add_dropped_image(self, name: str, uint8) -> None:
        """Offer an image the user dropped (as the model sees it) as an endpoint."""
        from .pixmaps import as_uint8

        self.dropped[name] = as_uint8(uint8)

    # ------------------------------------------------------------------------------------ endpoints
    def set_endpoint_z(self, key: str, z, label: str) -> None:
        model = self.model
        if model is None:
            return
        z = np.asarray(z, dtype=np.float32).reshape(-1)
        if z.shape[0] != model.latent_dim:
            self._fail(f"endpoint {key}: a latent of length {z.shape[0]} does not fit this model "
                       f"({model.latent_dim} latents)")
            return
        self._run_endpoint(key, lambda: Endpoint(label, z, _decode_u8(model, z)[0]))

    def set_endpoint_current(self, key: str) -> None:
        z = self.current_z_provider() if self.current_z_provider else None
        if z is not None:
            self.set_endpoint_z(key, z, "current z")

    def set_endpoint_sample(self, key: str, seed: int | None = None) -> None:
        model = self.model
        if model is None:
            return
        if seed is None:
            self._seed_counter += 1
            seed = int(np.random.default_rng().integers(0, 2**31 - 1))

        self._run_endpoint(key, _endpoint_job(model, int(seed), f"sample (seed {seed})"))

    def set_endpoint_image(self, key: str, uint8, name: str) -> None:
        if self.model is None:
            return
        from .pixmaps import as_uint8

        self._run_endpoint(key, _endpoint_job(self.model, as_uint8(uint8), name))

    def set_endpoint_file(self, key: str, path: str | Path) -> None:
        model = self.model
        if model is None:
            return
        path = Path(path)
        self._run_endpoint(key, _endpoint_job(model, path, path.name))

    def _run_endpoint(self, key: str, job: Callable[[], Endpoint]) -> None:
        self.status.setText(f"Setting endpoint {key}…")
        model = self.model

        def done(ep: Endpoint) -> None:
            if model is not self.model:
                return
            self.endpoints[key] = ep
            self.thumbs[key].set_image(ep.image)
            self.end_labels[key].setText(f"{key}: {ep.label}")
            self.recompute()
        self.executor.submit(f"interpolation:{key}", job, done, self._fail, owner=self)

    def _fail(self, msg: str) -> None:
        self.status.setText(f"⚠ {msg}")
        self.message.emit(msg)

    # ------------------------------------------------------------------------------------ frames
    def recompute(self) -> None:
        a, b, model = self.endpoints["A"], self.endpoints["B"], self.model
        if a is None or b is None or model is None:
            self._update_enabled()
            return
        steps, method = int(self.steps.value()), str(self.method.currentData())

        def job():
            import torch

            from models import interpolation
            from models.imaging import to_uint8

            zs = interpolation.path(torch.from_numpy(a.z), torch.from_numpy(b.z), steps, method)
            with torch.no_grad():
                frames = to_uint8(interpolation.frames(model, zs[0], zs[-1], steps, method))
            return zs.numpy(), np.stack([display_image(f) for f in frames])

        def done(res) -> None:
            if model is not self.model:
                return
            self.zs, self.frames = res
            n = len(self.frames)
            keep = min(self.scrub.value(), n - 1)
            self.scrub.blockSignals(True)
            self.scrub.setRange(0, n - 1)
            self.scrub.setValue(keep)
            self.scrub.blockSignals(False)
            self._show_frame(keep)
            self.status.setText(f"{n} frames, {method}: {a.label} → {b.label}")
            self._update_enabled()
            self.framesReady.emit(n)
        self.executor.submit("interpolation", job, done, self._fail, owner=self)

    def _show_frame(self, i: int) -> None:
        if self.frames is None or not len(self.frames):
            return
        i = int(np.clip(i, 0, len(self.frames) - 1))
        self.preview.set_image(self.frames[i])
        self.strip.setPixmap(strip_pixmap(self.frames, scale=2, highlight=i))
        self.frame_label.setText(f"frame {i + 1} / {len(self.frames)}   t = {i / max(1, len(self.frames) - 1):.2f}")

    def _strip_clicked(self, ev) -> None:
        if self.frames is None:
            return
        i = int(ev.position().x() - 2) // (28 * 2 + 2)
        self.scrub.setValue(int(np.clip(i, 0, len(self.frames) - 1)))

    def current_frame(self) -> int:
        return int(self.scrub.value())

    def _use_frame(self) -> None:
        if self.zs is not None:
            self.latentChosen.emit(self.zs[self.current_frame()].copy())

    # ------------------------------------------------------------------------------------ playback
    def set_playing(self, on: bool) -> None:
        on = bool(on) and self.frames is not None
        if self.play_button.isChecked() != on:
            self.play_button.blockSignals(True)
            self.play_button.setChecked(on)
            self.play_button.blockSignals(False)
        self.play_button.setText("Pause" if on else "Play")
        if on:
            if self.current_frame() >= len(self.frames) - 1 and not self.bounce.isChecked():
                self.scrub.setValue(0)
            self._apply_speed()
            self.timer.start()
        else:
            self.timer.stop()

    def is_playing(self) -> bool:
        return self.timer.isActive()

    def _apply_speed(self) -> None:
        self.timer.setInterval(int(round(1000 / max(1, self.fps.value()))))

    def _tick(self) -> None:
        if self.frames is None:
            self.set_playing(False)
            return
        n, i = len(self.frames), self.current_frame()
        nxt = i + self._direction
        if self.bounce.isChecked():
            if nxt >= n or nxt < 0:
                if not self.loop.isChecked() and nxt < 0:
                    self.set_playing(False)
                    return
                self._direction = -self._direction
                nxt = i + self._direction
        elif nxt >= n:
            if not self.loop.isChecked():
                self.set_playing(False)
                return
            nxt = 0
        self.scrub.setValue(int(np.clip(nxt, 0, n - 1)))

    # ------------------------------------------------------------------------------------ export
    def _export_dialog(self, kind: str) -> None:
        if self.frames is None:
            return
        filt = "GIF animation (*.gif)" if kind == "gif" else "PNG strip (*.png)"
        path, _ = QFileDialog.getSaveFileName(self, "Export interpolation", f"interpolation.{kind}", filt)
        if path:
            if not path.lower().endswith(f".{kind}"):
                path += f".{kind}"
            self.export(path)

    def export(self, path: str | Path) -> Path | None:
        """Write the frames as a GIF (``.gif``, at the panel's speed) or a PNG strip (``.png``),
        atomically.  Returns the path, or ``None`` after reporting the problem."""
        from models.imaging import save_gif, save_strip

        path = Path(path)
        if self.frames is None:
            self._fail("nothing to export yet: set both endpoints first")
            return None
        try:
            if path.suffix.lower() == ".gif":
                save_gif(list(self.frames), path, fps=float(self.fps.value()), scale=4,
                         boomerang=self.bounce.isChecked())
            else:
                from models.imaging import from_uint8

                chw = self.frames[:, None] if self.frames.ndim == 3 else self.frames.transpose(0, 3, 1, 2)
                save_strip(from_uint8(chw), path, scale=2)
        except OSError as exc:
            self._fail(f"could not write {path.name}: {exc.strerror or exc}")
            return None
        self.status.setText(f"Wrote {path} ({len(self.frames)} frames)")
        self.message.emit(f"Wrote {path}")
        return path

    def _update_enabled(self) -> None:
        ready = self.frames is not None
        for w in (self.play_button, self.use_button, self.gif_button, self.png_button, self.scrub):
            w.setEnabled(ready)
        for b in self.end_buttons.values():
            b.setEnabled(self.model is not None)

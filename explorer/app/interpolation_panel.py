"""The interpolation panel: endpoints A and B, lerp or slerp, a strip of N frames, playback, export.

Endpoints come from the current z, a new prior sample, a bundled sample image, a dropped image or an
image file (images are taken in like a dropped image and encoded).  Every torch call (encoding,
decoding the frames) runs in the background; the panel only shows the results.  A class-conditional
model shows a class selector among the path's options (:mod:`explorer.app.class_selector`, bound to the
window's state by :mod:`explorer.app.window_views`): the endpoints and frames are drawn again in it.
Its class blend (:mod:`explorer.app.class_blend`) instead holds z at A and moves the class from one to
another over the frames, the path ``latent-explorer interpolate --class-from --class-to`` draws.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget
from superqt.utils import signals_blocked

from .class_blend import ClassBlend
from .class_selector import ClassSelector
from .interpolation_export import Endpoint, decode_u8, endpoint_job, export_frames, frames_job
from .interpolation_ui import STRIP_PAD, STRIP_TILE_PX, build_ui
from .pixmaps import strip_pixmap


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
        #: endpoints record (or None) -> the explorer's state record stamped into exports
        self.state_record_provider: Callable[[dict | None], dict | None] | None = None
        #: exported frames are about this many pixels high (None: 4x GIF, 2x strip)
        self.export_size: int | None = None
        self.dropped: dict[str, np.ndarray] = {}   # name -> uint8 images the user dropped (as seen)
        self._direction = 1
        self._seed_counter = 0
        self._build_ui()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._tick)
        self._update_enabled()

    # ------------------------------------------------------------------------------------ UI
    def _build_ui(self) -> None:
        build_ui(self)
        self.class_selector = ClassSelector(self.executor)     # hidden until a conditional model opens
        self.class_selector.changed.connect(self._class_changed)
        self.class_blend = ClassBlend()                         # hidden until a conditional model opens
        self.class_blend.changed.connect(self._blend_changed)
        self.class_row.addWidget(self.class_selector)
        self.class_row.addSpacing(12)
        self.class_row.addWidget(self.class_blend)
        self.class_row.addStretch(1)

    def _blend_changed(self) -> None:
        """The class blend was turned on or off or changed its classes: the strip again (B waits while on)."""
        self._update_enabled()
        self.recompute()

    def _class_changed(self, _y) -> None:
        """The model draws another class: decode the endpoints and the path again (same z)."""
        model = self.model
        for key, ep in self.endpoints.items():
            if ep is not None and model is not None:
                self._run_endpoint(key, lambda ep=ep: Endpoint(ep.label, ep.z, decode_u8(model, ep.z)[0]))

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
        self.class_blend.set_model(model)
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
        self._run_endpoint(key, lambda: Endpoint(label, z, decode_u8(model, z)[0]))

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

        self._run_endpoint(key, endpoint_job(model, int(seed), f"sample (seed {seed})"))

    def set_endpoint_image(self, key: str, uint8, name: str) -> None:
        if self.model is None:
            return
        from .pixmaps import as_uint8

        self._run_endpoint(key, endpoint_job(self.model, as_uint8(uint8), name))

    def set_endpoint_file(self, key: str, path: str | Path) -> None:
        model = self.model
        if model is None:
            return
        path = Path(path)
        self._run_endpoint(key, endpoint_job(model, path, path.name))

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
        classes = self.class_blend.classes()
        path = f"z at {a.label}, {self.class_blend.describe(classes)}" if classes else f"{a.label} → {b.label}"

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
            self._show_frame(keep, follow=False)     # new endpoints: the strip stays where the user put it
            for key, (image, text) in self.class_blend.ends(self.endpoints, self.frames, classes).items():
                self.thumbs[key].set_image(image)        # a class blend: A's z in the first and last class
                self.end_labels[key].setText(text)
            self.status.setText(f"{n} frames, {method}: {path}")
            self._update_enabled()
            self.framesReady.emit(n)
        self.executor.submit("interpolation", frames_job(model, a, b, steps, method, classes), done, self._fail,
                             owner=self)

    def strip_scale(self) -> int:
        """Whole upscaling of the strip's tiles: about :data:`STRIP_TILE_PX` high for any image size."""
        h = self.frames.shape[1] if self.frames is not None else 28
        return max(1, STRIP_TILE_PX // h)

    def tile_width(self) -> int:
        w = self.frames.shape[2] if self.frames is not None else 28
        return w * self.strip_scale() + STRIP_PAD

    def _show_frame(self, i: int, follow: bool = True) -> None:
        if self.frames is None or not len(self.frames):
            return
        i = int(np.clip(i, 0, len(self.frames) - 1))
        self.preview.set_image(self.frames[i])
        bar = self.strip_scroll.horizontalScrollBar()
        kept = bar.value()
        self.strip.setPixmap(strip_pixmap(self.frames, scale=self.strip_scale(), pad=STRIP_PAD, highlight=i))
        self.strip.adjustSize()
        if follow:      # playing or scrubbing: the strip scrolls to keep the frame in view
            tw = self.tile_width()
            self.strip_scroll.ensureVisible(STRIP_PAD + i * tw + tw // 2, self.strip.height() // 2, tw, 0)
        else:
            bar.setValue(kept)
        n = len(self.frames)
        self.frame_label.setText(f"frame {i + 1} / {n}\nt = {i / max(1, n - 1):.2f}")

    def strip_visible_frames(self) -> range:
        """The frames (indices) wholly visible in the strip now."""
        if self.frames is None:
            return range(0)
        tw, x0 = self.tile_width(), self.strip_scroll.horizontalScrollBar().value()
        first = max(0, -(-(x0 - STRIP_PAD) // tw))
        last = min(len(self.frames), (x0 + self.strip_scroll.viewport().width() - STRIP_PAD) // tw)
        return range(first, max(first, last))

    def _strip_clicked(self, ev) -> None:
        if self.frames is None:
            return
        i = int(ev.position().x() - STRIP_PAD) // self.tile_width()
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

    def export(self, path: str | Path, size: int | None = None) -> Path | None:
        """Write the frames as a GIF (``.gif``, at the panel's speed) or a PNG strip (``.png``),
        atomically, each frame about ``size`` pixels high (default: :attr:`export_size`, else 4× for
        the GIF, 2× for the strip), carrying the explorer's state (:attr:`state_record_provider`).
        Returns the path, or ``None`` after reporting the problem."""
        path = Path(path)
        if self.frames is None:
            self._fail("nothing to export yet: set both endpoints first")
            return None
        try:
            export_frames(self.frames, path, fps=float(self.fps.value()), bounce=self.bounce.isChecked(),
                          size=size or self.export_size, record=self.state_record())
        except OSError as exc:
            self._fail(f"could not write {path.name}: {exc.strerror or exc}")
            return None
        self.status.setText(f"Wrote {path} ({len(self.frames)} frames)")
        self.message.emit(f"Wrote {path}")
        return path

    def endpoints_record(self) -> dict | None:
        """The path as an export records it (``{"a", "b", "method", "steps"}``), if both ends are set; a
        class blend adds ``class_from`` and ``class_to`` and its z stays at A (``b`` is ``a``)."""
        a, b = self.endpoints["A"], self.endpoints["B"]
        if a is None or b is None:
            return None
        classes = self.class_blend.classes()
        rec = {"a": a.z, "b": b.z if classes is None else a.z, "method": str(self.method.currentData()),
               "steps": int(self.steps.value())}
        if classes is not None:
            rec["class_from"], rec["class_to"] = classes
        return rec

    def state_record(self) -> dict | None:
        return self.state_record_provider(self.endpoints_record()) if self.state_record_provider else None

    def restore_endpoints(self, a, b, method: str = "slerp", steps: int = 16, class_from=None,
                          class_to=None) -> None:
        """Set both endpoints to saved latents (from a dropped export) and the path's method and length,
        and the class blend: on between two saved classes (indices, or a record's ``{"index", "name"}``),
        else off."""
        def index(c):
            return c.get("index") if isinstance(c, dict) else c
        self.class_blend.set_classes(index(class_from), index(class_to))
        self._update_enabled()
        idx = self.method.findData(method)
        with signals_blocked(self.method), signals_blocked(self.steps):
            if idx >= 0:
                self.method.setCurrentIndex(idx)
            self.steps.setValue(int(np.clip(steps, self.steps.minimum(), self.steps.maximum())))
        self.set_endpoint_z("A", a, "saved A")
        self.set_endpoint_z("B", b, "saved B")

    def _update_enabled(self) -> None:
        ready = self.frames is not None
        for w in (self.play_button, self.use_button, self.gif_button, self.png_button, self.scrub):
            w.setEnabled(ready)
        blending = self.class_blend.classes() is not None       # z stays at A: B has no part in the path
        for key, b in self.end_buttons.items():
            b.setEnabled(self.model is not None and not (blending and key == "B"))
        self.class_selector.setEnabled(not blending)            # the blend's classes draw the strip

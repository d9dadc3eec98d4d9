"""The main window: canvas in the middle, docks around it, menus, status bar.

How the parts talk (no view talks to another view)::

    sliders / sampling grid / issue-5 panels ──► ExplorerState ──values_changed──► RenderWorker
                                                     ▲                                  │ (own thread)
                                                     └──── post_frame ◄── Canvas ◄── frame_ready

Adding a dock (issue 5 and later) is local: write a ``QDockWidget`` that takes ``(state, worker)``,
then add one line to :meth:`MainWindow.create_docks` (``self.add_dock("key", Dock(...), area)``).
It appears in the View menu by itself.  Subscribe to ``state.model_changed`` / ``values_changed`` /
``frame_rendered``; run torch through ``worker.submit(key, fn, on_done, on_error)`` (serialised with
rendering, latest per key wins) or any other background runner — never on the GUI thread.

Drops are handled in one place, :meth:`MainWindow.handle_drop`: every dropped local file is offered to
the drop handlers registered with :meth:`register_drop_handler` (suffixes -> callable(path)).
Checkpoints (.safetensors, .pt, .pth, .ckpt) open a model; register image suffixes to score images.
"""
from __future__ import annotations

import os
import time
from collections import deque
from pathlib import Path
from typing import Callable, Iterable

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox, QWidget)

from ..memory import limit_malloc_arenas
from .canvas import Canvas
from .latent_dock import LatentDock
from .render_worker import RenderWorker
from .sampling_panel import SamplingPanel
from .state import ExplorerState, Frame, LoadedModel

CHECKPOINT_SUFFIXES = (".safetensors", ".pt", ".pth", ".ckpt")
MAX_RECENT = 8
SETTINGS_ENV = "LATENT_EXPLORER_SETTINGS"


def app_settings() -> QSettings:
    """The app's settings: an INI file named by ``$LATENT_EXPLORER_SETTINGS`` (tests, benchmarks),
    else the platform's usual place."""
    path = os.environ.get(SETTINGS_ENV)
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings("LatentExplorer", "latent-explorer")


class MainWindow(QMainWindow):
    #: emitted after a model load attempt: (ok, message)
    model_load_finished = Signal(bool, str)

    def __init__(self, state: ExplorerState | None = None, *, settings: QSettings | None = None,
                 device: str = "auto", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        limit_malloc_arenas()  # before the worker threads start: keeps a long session's memory flat
        self.state = state or ExplorerState(self)
        self.settings = settings or app_settings()
        self.requested_device = device
        self.worker = RenderWorker(self)
        # first job: import torch (via models) on the worker while this thread builds the window
        self.worker.submit("devices", _available_devices, self._set_devices)
        self.last_error = ""
        self.last_render_error = ""
        self.docks: dict[str, QDockWidget] = {}
        self._drop_handlers: list[tuple[tuple[str, ...], Callable[[Path], object], str]] = []
        self._frame_times: deque[float] = deque(maxlen=120)
        self._last_frame_ms = 0.0
        self._pending_frame: Frame | None = None
        self._loading: str | None = None
        self._devices = ["cpu"]

        self.setWindowTitle("Latent Explorer")
        self.resize(1100, 720)
        self.setAcceptDrops(True)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks)

        self.canvas = Canvas(self)
        self.setCentralWidget(self.canvas)
        self.create_actions()
        self.create_docks()
        self.create_menus()
        self.create_status_bar()
        self.register_drop_handler(CHECKPOINT_SUFFIXES, self.open_model, "open the checkpoint")

        self.state.values_changed.connect(self._request_frame)
        self.state.model_changed.connect(self._model_changed)
        self.state.device_changed.connect(self._device_changed)
        self.state.message.connect(self._say)
        self.worker.frame_ready.connect(self._frame_ready)
        self.worker.frame_failed.connect(self._frame_failed)
        self.worker.job_failed.connect(lambda key, msg: self._say(f"{key} failed: {msg}"))
        self.canvas.shown.connect(self._frame_shown)
        from .analysis_docks import install as install_analysis_docks
        install_analysis_docks(self)  # issue 5: score / latent map / interpolation docks, undo, image drops

    # ================================================================== docks
    def create_docks(self) -> None:
        """Every dock of the window.  Issue 5 and later: add one line per new dock here."""
        self.latent_dock = self.add_dock("latent", LatentDock(self.state, self), Qt.DockWidgetArea.LeftDockWidgetArea)
        self.sampling_panel = self.add_dock("sampling", SamplingPanel(self.state, self.worker, self),
                                            Qt.DockWidgetArea.RightDockWidgetArea)

    def add_dock(self, key: str, dock: QDockWidget, area: Qt.DockWidgetArea,
                 tabify_with: str | None = None) -> QDockWidget:
        """Add ``dock`` under ``key`` (listed in View → Panels; tabbed with another dock if asked)."""
        if not dock.objectName():
            dock.setObjectName(f"{key}-dock")
        self.addDockWidget(area, dock)
        if tabify_with and tabify_with in self.docks:
            self.tabifyDockWidget(self.docks[tabify_with], dock)
        self.docks[key] = dock
        if hasattr(self, "panels_menu"):
            self.panels_menu.addAction(dock.toggleViewAction())
        return dock

    # ================================================================== actions and menus
    def make_action(self, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        """A window-wide action (listed by Help → Keyboard Shortcuts); docks add theirs with this too."""
        a = QAction(text, self)
        if shortcut is not None:
            a.setShortcut(QKeySequence(shortcut))
        if tip:
            a.setStatusTip(tip)
            a.setToolTip(tip)
        a.triggered.connect(slot)
        self.addAction(a)  # shortcuts work while the menu bar is hidden, too
        return a

    def create_actions(self) -> None:
        act = self.make_action

        S = QKeySequence.StandardKey
        self.open_action = act("&Open Checkpoint…", self.open_dialog, S.Open, "Open a .safetensors checkpoint")
        self.save_image_action = act("&Save Image As…", self.save_image_dialog, S.Save,
                                     "Save the current image as PNG")
        self.quit_action = act("&Quit", self.close, S.Quit)
        self.reset_action = act("&Reset Sliders", self.state.reset, "R", "All sliders to zero (R)")
        self.randomize_action = act("Rando&mize", lambda: self.state.randomize(), "Ctrl+R",
                                    "A random point from the prior (Ctrl+R)")
        self.new_sample_action = act("&New Sample", lambda: self.sampling_panel.new_sample(), "N",
                                     "Next seed; its first sample becomes current (N)")
        self.show_all_action = act("Show &All Directions", lambda: self.latent_dock.toggle_all(), "A",
                                   "Show or hide the weaker directions (A)")
        self.reset_zoom_action = act("Reset &Zoom", self.canvas.reset_zoom, "Ctrl+0", "Fit the image (Ctrl+0)")
        self.shortcuts_action = act("&Keyboard Shortcuts", self.show_shortcuts, S.HelpContents)
        self.about_action = act("&About Latent Explorer", self.show_about)

    def create_menus(self) -> None:
        mb = self.menuBar()
        file_menu = mb.addMenu("&File")
        file_menu.addAction(self.open_action)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self._fill_recent_menu()
        file_menu.addAction(self.save_image_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)

        latent_menu = mb.addMenu("&Latent")
        for a in (self.reset_action, self.randomize_action, self.new_sample_action, self.show_all_action):
            latent_menu.addAction(a)

        self.device_menu = mb.addMenu("&Device")
        self.device_group = QActionGroup(self)
        self.device_group.setExclusive(True)
        self._fill_device_menu()

        view_menu = mb.addMenu("&View")
        view_menu.addAction(self.reset_zoom_action)
        self.panels_menu = view_menu.addMenu("&Panels")
        for dock in self.docks.values():
            self.panels_menu.addAction(dock.toggleViewAction())

        help_menu = mb.addMenu("&Help")
        help_menu.addAction(self.shortcuts_action)
        help_menu.addAction(self.about_action)

    def create_status_bar(self) -> None:
        sb = self.statusBar()
        self.model_label = QLabel("no model")
        self.device_label = QLabel("device: –")
        self.frame_label = QLabel("frame – ms · – fps")
        self.frame_label.setMinimumWidth(150)
        for w in (self.model_label, self.device_label, self.frame_label):
            sb.addPermanentWidget(w)
        self._stats_timer = QTimer(self)
        self._stats_timer.setInterval(250)
        self._stats_timer.timeout.connect(self._update_frame_label)
        self._stats_timer.start()

    # ================================================================== opening models
    def open_dialog(self) -> None:
        start = self.settings.value("last_dir", str(Path.home()))
        path, _ = QFileDialog.getOpenFileName(self, "Open checkpoint", str(start),
                                              "Checkpoints (*.safetensors *.pt *.pth *.ckpt);;All files (*)")
        if path:
            self.settings.setValue("last_dir", str(Path(path).parent))
            self.open_model(path)

    def open_model(self, path: str | os.PathLike) -> None:
        """Load a checkpoint on the worker; on success it becomes current, on failure the open model
        stays and the error is shown.  ``model_load_finished(ok, message)`` tells when it is done."""
        path = Path(path).expanduser()
        device = self.requested_device
        if self.state.loaded is not None:
            device = self.state.loaded.device  # keep the device the user chose
        self._loading = str(path)
        self._say(f"Opening {path.name}…")
        self.model_label.setText(f"opening {path.name}…")  # stays until the load ends (a GAN's
        # directions are computed on opening and can take a while on a slow CPU)
        if self.state.loaded is None:
            self.canvas.set_overlay(f"Opening {path.name}…")
        self.worker.submit("load", lambda: LoadedModel.load(path, device),
                           lambda loaded: self._loaded(loaded), lambda msg: self._load_failed(path, msg))

    def _loaded(self, loaded: LoadedModel) -> None:
        self._loading = None
        self.state.set_model(loaded)
        if loaded.path is not None:
            self._add_recent(loaded.path)
        self.model_load_finished.emit(True, f"Opened {loaded.title}")

    def _load_failed(self, path: Path, message: str) -> None:
        self._loading = None
        kept_model = self.state.loaded
        self.model_label.setText(f"{kept_model.family.upper()} · {kept_model.latent_dim}-d latent"
                                 if kept_model is not None else "no model")
        text = f"Could not open {path.name}: {message}"
        kept = self.state.loaded
        extra = f"\n\n{kept.name} stays open." if kept is not None else ""
        self.show_error("Could not open checkpoint", text + extra)
        if kept is None:
            self.canvas.set_overlay(text + "\n\n" + "Open another checkpoint with File → Open (Ctrl+O).",
                                    error=True)
        self.model_load_finished.emit(False, text)

    def _model_changed(self, loaded: LoadedModel) -> None:
        self.setWindowTitle(f"{loaded.title} — Latent Explorer")
        self.setWindowFilePath(str(loaded.path) if loaded.path else "")
        self.model_label.setText(f"{loaded.family.upper()} · {loaded.latent_dim}-d latent")
        self._set_devices(loaded.devices)
        self._device_changed(loaded.device)
        self._say(f"Opened {loaded.title}")

    # ================================================================== recent files
    def recent_files(self) -> list[str]:
        value = self.settings.value("recent_files", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def _add_recent(self, path: Path) -> None:
        p = str(Path(path).resolve())
        files = [p] + [f for f in self.recent_files() if f != p]
        self.settings.setValue("recent_files", files[:MAX_RECENT])
        self.settings.sync()
        self._fill_recent_menu()

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        files = self.recent_files()
        for i, f in enumerate(files):
            a = self.recent_menu.addAction(f"&{i + 1} {Path(f).name}")
            a.setToolTip(f)
            a.setStatusTip(f)
            a.triggered.connect(lambda _=False, f=f: self.open_model(f))
        if files:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear Recent", self._clear_recent)
        else:
            self.recent_menu.addAction("(none yet)").setEnabled(False)

    def _clear_recent(self) -> None:
        self.settings.setValue("recent_files", [])
        self._fill_recent_menu()

    # ================================================================== devices
    def _set_devices(self, devices: list[str]) -> None:
        if list(devices) != self._devices:
            self._devices = list(devices)
            self._fill_device_menu()

    def _fill_device_menu(self) -> None:
        for a in self.device_group.actions():
            self.device_group.removeAction(a)
        self.device_menu.clear()
        current = self.state.loaded.device if self.state.loaded is not None else None
        for name in self._devices:
            a = self.device_menu.addAction(name.upper() if name == "cpu" else name)
            a.setData(name)
            a.setCheckable(True)
            a.setChecked(_same_device(name, current))
            a.setStatusTip(f"Move the model to {name}")
            a.triggered.connect(lambda _=False, name=name: self.move_to_device(name))
            self.device_group.addAction(a)

    def device_actions(self) -> dict[str, QAction]:
        return {a.data(): a for a in self.device_group.actions()}

    def move_to_device(self, device: str) -> None:
        """Move the open model to ``device`` (on the worker: no frame is rendered mid-move)."""
        loaded = self.state.loaded
        if loaded is None:
            self.requested_device = device
            return

        def move() -> str:
            loaded.model.to(device)
            return str(loaded.model.device)

        self._say(f"Moving the model to {device}…")
        self.worker.submit("device", move, self._moved,
                           lambda msg: self.show_error("Could not change device", f"{device}: {msg}"))

    def _moved(self, device: str) -> None:
        self.requested_device = device
        self.state.set_device(device)
        self._say(f"Model on {device}")

    def _device_changed(self, device: str) -> None:
        self.device_label.setText(f"device: {device}")
        for a in self.device_group.actions():
            a.setChecked(_same_device(a.data(), device))

    # ================================================================== rendering
    def _request_frame(self, values) -> None:
        loaded = self.state.loaded
        if loaded is not None:
            self.worker.request_frame(loaded, values, self.state.token, self.state.requested_at)

    def _frame_ready(self, frame: Frame) -> None:
        if frame.model is not self.state.loaded:
            return  # rendered for a model that is no longer open
        self.canvas.set_overlay(None)
        self.canvas.set_image(frame.image, frame.token)
        frame.shown_at = time.perf_counter()
        self._pending_frame = frame
        self.state.post_frame(frame)
        if frame.note:  # e.g. the GPU ran out of memory and the worker moved the model to the CPU
            self._moved(frame.model.device)
            self.show_error("Rendering moved to the CPU", frame.note)

    def _frame_shown(self, token: int) -> None:
        f = self._pending_frame
        if f is not None and f.token == token:
            self._last_frame_ms = (self.canvas.painted_at - f.requested_at) * 1000.0
            self._frame_times.append(self.canvas.painted_at)

    def _frame_failed(self, message: str) -> None:
        self.last_render_error = message
        self.canvas.set_overlay(f"Rendering failed: {message}", error=True)
        self._say(f"Rendering failed: {message}")

    def fps(self) -> float:
        now = time.perf_counter()
        recent = [t for t in self._frame_times if now - t <= 1.0]
        return float(len(recent))

    def _update_frame_label(self) -> None:
        if self._frame_times:
            fps = self.fps()
            self.frame_label.setText(f"frame {self._last_frame_ms:.1f} ms" + (f" · {fps:.0f} fps" if fps else ""))

    # ================================================================== drag and drop
    def register_drop_handler(self, suffixes: Iterable[str], handler: Callable[[Path], object],
                              description: str = "") -> None:
        """Files ending in one of ``suffixes`` dropped on the window go to ``handler(path)``.
        Later registrations win over earlier ones for the same suffix."""
        self._drop_handlers.insert(0, (tuple(s.lower() for s in suffixes), handler, description))

    def drop_handler_for(self, path: Path) -> Callable[[Path], object] | None:
        name = path.name.lower()
        for suffixes, handler, _ in self._drop_handlers:
            if name.endswith(suffixes):
                return handler
        return None

    def handle_drop(self, paths: list[Path]) -> bool:
        """The one place drops are routed (override or register handlers).  Returns True if any
        path was taken."""
        taken = False
        for p in paths:
            handler = self.drop_handler_for(p)
            if handler is None:
                known = sorted({s for suffixes, _, _ in self._drop_handlers for s in suffixes})
                self.show_error("Cannot open this file",
                                f"{p.name}: not a file the explorer opens (it takes {', '.join(known)}).")
                continue
            handler(p)
            taken = True
        return taken

    @staticmethod
    def _paths_of(mime) -> list[Path]:
        return [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()] if mime.hasUrls() else []

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt override
        if self._paths_of(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt override
        paths = self._paths_of(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.handle_drop(paths)
        else:
            event.ignore()

    # ================================================================== messages and dialogs
    def _say(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    def show_error(self, title: str, text: str) -> None:
        """Status bar + a non-blocking message box; the app carries on."""
        self.last_error = text
        self._say(text.split("\n")[0])
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setObjectName("error-box")
        box.open()

    def save_image_dialog(self) -> None:
        img = self.canvas.image()
        if img is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save image", "latent.png", "PNG images (*.png)")
        if path:
            self.save_image(path)

    def save_image(self, path: str | os.PathLike, scale: int = 8) -> None:
        from .sampling_panel import thumbnail

        from PySide6.QtCore import QBuffer, QByteArray, QIODevice

        from models.checkpoint import atomic_write_bytes

        img = self.canvas.image()
        if img is None:
            raise ValueError("no image to save yet")
        data = QByteArray()
        buf = QBuffer(data)
        buf.open(QIODevice.OpenModeFlag.WriteOnly)
        try:
            if not thumbnail(img, scale).save(buf, "PNG"):
                raise OSError("the PNG could not be encoded")
            atomic_write_bytes(path, bytes(data.data()))  # the old file stays intact if this fails
        except OSError as exc:
            self.show_error("Could not save image", f"Could not write {path}: {exc.strerror or exc}")
        else:
            self._say(f"Saved {path}")

    def show_shortcuts(self) -> None:
        rows = [(a.text().replace("&", ""), a.shortcut().toString(QKeySequence.SequenceFormat.NativeText))
                for a in self.actions() if not a.shortcut().isEmpty()]
        html = "<table>" + "".join(f"<tr><td><b>{k}</b>&nbsp;&nbsp;</td><td>{t}</td></tr>" for t, k in rows)
        html += "<tr><td><b>Wheel / drag</b>&nbsp;&nbsp;</td><td>Zoom / pan the image</td></tr></table>"
        QMessageBox.information(self, "Keyboard shortcuts", html)

    def show_about(self) -> None:
        QMessageBox.about(self, "About Latent Explorer",
                          "Latent Explorer: drag through a VAE's or GAN's latent space and watch the "
                          "decoded image change live.")

    # ================================================================== closing
    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        self._stats_timer.stop()
        self.worker.stop()
        super().closeEvent(event)


def _available_devices() -> list[str]:
    import models

    return models.available_devices()


def _same_device(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return False
    norm = lambda d: d if ":" in d or d in ("cpu", "mps") else f"{d}:0"  # noqa: E731
    return norm(str(a)) == norm(str(b))

"""The main window, and the composition root of the app: it builds every part and wires them.

How the parts talk (no view talks to another view)::

    sliders / sampling grid / panels ──► ExplorerState ──values_changed──► ModelExecutor
                                              ▲                                  │ (own thread)
                                              └──── post_frame ◄── Canvas ◄── frame_ready

* one :class:`~explorer.app.model_executor.ModelExecutor` owns every call into the model (frames,
  panels, loading, device moves, the out-of-memory fallback);
* docks come from one table, :data:`DOCKS` (key, factory, area, tab partner), built the same way;
* actions are made once in :meth:`MainWindow.create_actions` and held as attributes; menus are built
  from those objects (never looked up by their text);
* files reach the window through one :class:`~explorer.app.drop_router.DropRouter` (drops, paste,
  dialogs); recent files, the device menu and the frame statistics are objects of their own.
"""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox, QWidget

from ..memory import keep_memory_flat
from . import window_files, window_menus, window_views
from .bookmarks import BookmarkDock
from .canvas import Canvas
from .compare_dock import CompareDock
from .desktop import LayoutKeeper
from .device_menu import DeviceMenu
from .docks import InterpolationDock, LatentMapDock, ScoreDock
from .drop_router import DropRouter, paths_of
from .frame_stats import FrameStats
from .latent_dock import LatentDock
from .latent_history import LatentHistory
from .model_executor import ModelExecutor
from .no_latent import NoLatentViews
from .sampling_panel import SamplingPanel
from .state import ExplorerState, Frame, LoadedModel
from .traversal_panel import TraversalDock

SETTINGS_ENV = "LATENT_EXPLORER_SETTINGS"
_LEFT, _RIGHT, _BOTTOM = (Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea,
                          Qt.DockWidgetArea.BottomDockWidgetArea)

#: every dock: (key, attribute on the window, factory(state, executor, window), area, tabbed with)
DOCKS = (
    ("latent", "latent_dock", lambda s, e, w: LatentDock(s, w), _LEFT, None),
    ("sampling", "sampling_panel", lambda s, e, w: SamplingPanel(s, e, w), _RIGHT, None),
    ("score", "score_dock", lambda s, e, w: ScoreDock(s, e, w), _RIGHT, "sampling"),
    ("latent-map", "map_dock", lambda s, e, w: LatentMapDock(s, e, w), _BOTTOM, None),
    ("interpolation", "interpolation_dock", lambda s, e, w: InterpolationDock(s, e, w), _BOTTOM, "latent-map"),
    ("traversal", "traversal_dock", lambda s, e, w: TraversalDock(s, e, w), _BOTTOM, "interpolation"),
    ("bookmarks", "bookmark_dock", lambda s, e, w: BookmarkDock(s, w.settings, w), _RIGHT, "score"),
    ("compare", "compare_dock", lambda s, e, w: CompareDock(s, e, w.score_dock.panel, w), _RIGHT, "bookmarks"),
)


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
        keep_memory_flat()  # before the executor thread starts and before torch runs a model
        self.state = state or ExplorerState(self)
        self.settings = settings or app_settings()
        self.requested_device = device
        self.executor = ModelExecutor(self)
        self.executor.oom_fallback = self._oom_fallback
        self.last_error = ""
        self.last_render_error = ""
        self.docks: dict[str, QDockWidget] = {}
        self.frame_stats = FrameStats()
        self._loading: str | None = None

        self.setWindowTitle("Latent Explorer")
        self.resize(1100, 720)
        self.setAcceptDrops(True)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks)
        self.canvas = Canvas(self)
        self.setCentralWidget(self.canvas)
        self.history = LatentHistory(self.state, self)
        self.router = DropRouter(self._refuse_file)
        self.create_docks()
        self.create_actions()
        self.create_menus()
        self.create_status_bar()
        self.devices = DeviceMenu(self.device_menu, self.move_to_device)
        self.executor.submit("devices", _available_devices, self.devices.set_devices)
        self._register_files()
        self._connect()
        window_views.connect_views(self)
        self.layout_keeper = LayoutKeeper(self, self.settings)
        self.layout_keeper.on_close.append(self._closing)
        if not self.layout_keeper.restore():
            QTimer.singleShot(0, self._default_sizes)

    # ================================================================== parts
    def create_docks(self) -> None:
        for key, attr, factory, area, tab_with in DOCKS:
            setattr(self, attr, self.add_dock(key, factory(self.state, self.executor, self), area, tab_with))
        self.score_dock.raise_()
        self.map_dock.raise_()
        # the right-hand docks (Score, Sampling) run the full height; map and interpolation sit below
        self.setCorner(Qt.Corner.BottomRightCorner, _RIGHT)
        self.setCorner(Qt.Corner.TopRightCorner, _RIGHT)

    def add_dock(self, key: str, dock: QDockWidget, area: Qt.DockWidgetArea,
                 tabify_with: str | None = None) -> QDockWidget:
        """Add ``dock`` under ``key`` (listed in View → Panels; tabbed with another dock if asked)."""
        if not dock.objectName():
            dock.setObjectName(f"{key}-dock")
        self.addDockWidget(area, dock)
        if tabify_with and tabify_with in self.docks:
            self.tabifyDockWidget(self.docks[tabify_with], dock)
        self.docks[key] = dock
        return dock

    def make_action(self, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        """A window-wide action (listed by Help → Keyboard Shortcuts)."""
        return window_menus.make_action(self, text, slot, shortcut, tip)

    def create_actions(self) -> None:
        window_menus.create_actions(self)

    def create_menus(self) -> None:
        window_menus.create_menus(self)

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

    def _register_files(self) -> None:
        from models.file_kinds import ARRAY_SUFFIXES, IMAGE_SUFFIXES, MODEL_SUFFIXES, is_model_folder


        self.router.register(IMAGE_SUFFIXES, self.score_file, "score the image")
        self.router.register(ARRAY_SUFFIXES, self.score_array, "score the images of an array")
        self.router.register(MODEL_SUFFIXES, self.open_model, "open the model")
        # a dropped folder: a model folder (Hugging Face config.json) opens, any other is scored
        self.router.register_folder(lambda p: self.open_model(p) if is_model_folder(p) else self.score_file(p))

    def _connect(self) -> None:
        st, ex = self.state, self.executor
        st.values_changed.connect(self._request_frame)
        st.model_changed.connect(self._model_changed)
        self.no_latent = NoLatentViews(self)   # a PixelCNN: latent views step aside
        st.device_changed.connect(self._device_changed)
        st.message.connect(self._say)
        ex.frame_ready.connect(self._frame_ready)
        ex.frame_failed.connect(self._frame_failed)
        ex.job_failed.connect(lambda key, msg: self._say(f"{key} failed: {msg}"))
        ex.fell_back.connect(self._fell_back)
        self.canvas.shown.connect(self._frame_shown)
        score, lmap, interp = self.score_dock.panel, self.map_dock.panel, self.interpolation_dock.panel

        def scored(item) -> None:      # scored images become map markers and interpolation endpoints
            if item.z is not None:
                lmap.add_marker(item.name, item.z, item.verdict)
            if item.image is not None:
                interp.add_dropped_image(item.name, item.image)
        score.imageScored.connect(scored)
        st.model_changed.connect(lambda _l: interp.dropped.clear())
        self.latent_dock.slider_released.connect(self.history.seal)   # a drag ends when its slider is released

    # ================================================================== opening models
    def open_dialog(self) -> None:
        start = self.settings.value("last_dir", str(Path.home()))
        from models.file_kinds import MODEL_SUFFIXES

        patterns = " ".join(f"*{s}" for s in MODEL_SUFFIXES)
        path, _ = QFileDialog.getOpenFileName(self, "Open checkpoint", str(start),
                                              f"Checkpoints ({patterns});;All files (*)")
        if path:
            self.settings.setValue("last_dir", str(Path(path).parent))
            self.open_model(path)

    def open_model(self, path: str | os.PathLike) -> None:
        """Load a checkpoint on the executor; on success it becomes current, on failure the open model
        stays and the error is shown.  ``model_load_finished(ok, message)`` tells when it is done."""
        path = Path(path).expanduser()
        device = self.state.loaded.device if self.state.loaded is not None else self.requested_device
        self._loading = str(path)
        self._say(f"Opening {path.name}…")
        self.model_label.setText(f"opening {path.name}…")  # stays until the load ends
        if self.state.loaded is None:
            self.canvas.set_overlay(f"Opening {path.name}…")
        self.executor.submit("load", lambda: LoadedModel.load(path, device),
                             self._loaded, lambda msg: self._load_failed(path, msg))

    def _loaded(self, loaded: LoadedModel) -> None:
        self._loading = None
        self.state.set_model(loaded)
        if loaded.path is not None:
            self.recent.add(loaded.path)
        self.model_load_finished.emit(True, f"Opened {loaded.title}")

    def _load_failed(self, path: Path, message: str) -> None:
        self._loading = None
        kept = self.state.loaded
        self.model_label.setText(kept.summary if kept is not None else "no model")
        # checkpoint errors name the file already; say it once
        text = f"Could not open {message}" if message.startswith(path.name) else \
            f"Could not open {path.name}: {message}"
        self.show_error("Could not open checkpoint", text + (f"\n\n{kept.name} stays open." if kept else ""))
        if kept is None:
            self.canvas.set_overlay(text + "\n\nOpen another checkpoint with File → Open (Ctrl+O).", error=True)
        self.model_load_finished.emit(False, text)

    def _model_changed(self, loaded: LoadedModel) -> None:
        self.setWindowTitle(f"{loaded.title} — Latent Explorer")
        self.setWindowFilePath(str(loaded.path) if loaded.path else "")
        self.model_label.setText(loaded.summary)
        self.devices.set_devices(loaded.devices)
        self._device_changed(loaded.device)
        self._say(f"Opened {loaded.title}")

    def recent_files(self) -> list[str]:
        return self.recent.files()

    # ================================================================== devices
    def move_to_device(self, device: str) -> None:
        """Move the open model to ``device``: a control job, so no other job runs mid-move."""
        loaded = self.state.loaded
        if loaded is None:
            self.requested_device = device
            return

        def move() -> str:
            loaded.model.to(device)
            return str(loaded.model.device)

        self._say(f"Moving the model to {device}…")
        self.executor.submit("device", move, self._moved,
                             lambda msg: self.show_error("Could not change device", f"{device}: {msg}"))

    def _oom_fallback(self) -> str | None:
        """On the executor thread, after a job ran out of GPU memory: move the model to the CPU."""
        from .rendering import free_gpu_memory

        loaded = self.state.loaded
        if loaded is None or loaded.device.startswith("cpu"):
            return None
        free_gpu_memory()
        loaded.model.to("cpu")
        return "The GPU ran out of memory; the model now runs on the CPU"

    def _fell_back(self, note: str) -> None:
        self._moved("cpu")
        self.show_error("Moved to the CPU", note)

    def _moved(self, device: str) -> None:
        self.requested_device = device
        self.state.set_device(device)
        self._say(f"Model on {device}")

    def _device_changed(self, device: str) -> None:
        self.device_label.setText(f"device: {device}")
        self.devices.check(device)

    def device_actions(self) -> dict[str, QAction]:
        return self.devices.actions()

    # ================================================================== rendering
    def _request_frame(self, values) -> None:
        loaded = self.state.loaded
        if loaded is not None and loaded.latent_dim:   # no latent (PixelCNN): nothing to decode (no_latent.py)
            self.executor.request_frame(loaded, values, self.state.token, self.state.requested_at)

    def _frame_ready(self, frame: Frame) -> None:
        if frame.model is not self.state.loaded:
            return  # rendered for a model that is no longer open
        self.canvas.set_overlay(None)
        self.frame_stats.expect(frame)     # before set_image: the canvas may paint inside it
        self.canvas.set_image(frame.image, frame.token)
        self.state.post_frame(frame)

    def _frame_shown(self, token: int) -> None:
        frame = self.frame_stats.shown(token, self.canvas.painted_at)
        if frame is not None:
            frame.shown_at = self.canvas.painted_at

    def _frame_failed(self, message: str) -> None:
        self.last_render_error = message
        self.canvas.set_overlay(f"Rendering failed: {message}", error=True)
        self._say(f"Rendering failed: {message}")

    def fps(self) -> float:
        return self.frame_stats.fps()

    def _update_frame_label(self) -> None:
        text = self.frame_stats.text()
        if text is not None:
            self.frame_label.setText(text)

    # ================================================================== files: drops, paste, scoring
    def handle_drop(self, paths: list[Path]) -> bool:
        """Route dropped or pasted files (checkpoints open, images and arrays are scored)."""
        return self.router.route(paths)

    def _refuse_file(self, path: Path, accepted: list[str]) -> None:
        self.show_error("Cannot open this file",
                        f"{path.name}: not a file the explorer opens (it takes {', '.join(accepted)}).")

    def score_file(self, path: Path) -> None:
        window_views.take_image(self, path)   # an export carrying a state restores it; others are scored

    def score_array(self, path: Path) -> None:
        window_files.score_array(self, path)

    def paste(self) -> None:
        window_files.paste(self)

    @staticmethod
    def _paths_of(mime) -> list[Path]:
        return paths_of(mime)

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt override
        if paths_of(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt override
        paths = paths_of(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.handle_drop(paths)
        else:
            event.ignore()

    # ================================================================== messages, dialogs, closing
    def _say(self, text: str) -> None:
        window_files.say(self, text)

    def show_error(self, title: str, text: str) -> None:
        """Status bar + a non-blocking message box; the app carries on."""
        self.last_error = text
        self._say(text.split("\n")[0])
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setObjectName("error-box")
        box.open()

    def show_shortcuts(self) -> None:
        window_menus.show_shortcuts(self)

    def show_about(self) -> None:
        window_menus.show_about(self)

    def _default_sizes(self) -> None:
        """First run: a canvas of a useful size, the score details readable, the map a strip below."""
        h, w = max(self.height(), 600), max(self.width(), 900)
        self.resizeDocks([self.map_dock], [int(h * 0.34)], Qt.Orientation.Vertical)
        self.resizeDocks([self.score_dock], [int(w * 0.40)], Qt.Orientation.Horizontal)

    def _closing(self) -> None:
        self.score_dock.panel.clear()        # cancel scoring; the running job ends at its next stage
        self.interpolation_dock.panel.set_playing(False)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        self._stats_timer.stop()
        self.executor.stop()
        super().closeEvent(event)


def _available_devices() -> list[str]:
    import models

    return models.available_devices()

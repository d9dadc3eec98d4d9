"""Issue 5 in the main window: the Score, Latent map and Interpolation docks, image drops and paste,
undo/redo of latent changes, copy image, latent-state files, and the window layout kept between runs.

:func:`install` is called once by :class:`~explorer.app.main_window.MainWindow` after its own docks,
menus and drop handlers exist.  The panels listen to the window's :class:`ExplorerState` and ask it
for changes (``state.set_z``); they never talk to each other directly -- the wiring between them
(scored images become map markers and interpolation endpoints) is here, in one place.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication, QKeySequence
from PySide6.QtWidgets import QDockWidget, QFileDialog, QFrame, QMenu, QScrollArea, QWidget

from .desktop import LatentStateError, LayoutKeeper, copy_image, read_latent_state, save_latent_state
from .interpolation_panel import InterpolationPanel
from .latent_history import LatentHistory
from .latent_map import LatentMapWidget
from .score_panel import ScorePanel

#: files dropped or pasted with these suffixes are scored (checkpoints keep opening models)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm",
                  ".ico", ".tga")
ARRAY_SUFFIXES = (".npy",)
#: most images taken from one dropped .npy array
MAX_ARRAY_IMAGES = 64


class _PanelDock(QDockWidget):
    def __init__(self, title: str, key: str, panel: QWidget, parent: QWidget | None = None,
                 scroll: bool = False) -> None:
        super().__init__(title, parent)
        self.setObjectName(f"{key}-dock")
        self.panel = panel
        if scroll:                   # a small window can still fit the dock; it scrolls instead
            area = QScrollArea()
            area.setWidget(panel)
            area.setWidgetResizable(True)
            area.setFrameShape(QFrame.Shape.NoFrame)
            self.setWidget(area)
        else:
            self.setWidget(panel)


class ScoreDock(_PanelDock):
    def __init__(self, state, parent: QWidget | None = None) -> None:
        super().__init__("Score", "score", ScorePanel(), parent)
        self.state = state
        state.model_changed.connect(lambda loaded: self.panel.set_model(loaded.model))
        self.panel.latentChosen.connect(self._go)
        self.panel.message.connect(state.say)
        if state.loaded is not None:
            self.panel.set_model(state.loaded.model)

    def _go(self, z) -> None:
        if self.state.loaded is not None and np.asarray(z).size == self.state.loaded.latent_dim:
            self.state.set_z(z)


class LatentMapDock(_PanelDock):
    def __init__(self, state, parent: QWidget | None = None) -> None:
        super().__init__("Latent map", "latent-map", LatentMapWidget(), parent)
        self.state = state
        self._pending = None
        state.model_changed.connect(self._model_changed)
        state.frame_rendered.connect(self._frame_rendered)
        # the map redraws its marker at most every 40 ms (and on the final value), not per slider event
        state.values_settled.connect(lambda _v: self.panel.set_current_z(self.state.z))
        self.panel.mapReady.connect(lambda _n: self.panel.set_current_z(self.state.z))
        self.panel.latentChosen.connect(state.set_z)
        self.panel.message.connect(state.say)
        if state.loaded is not None:
            self.panel.set_model(state.loaded.model)

    def _model_changed(self, loaded) -> None:
        # encoding the subset (about a second on two cores) waits for the model's first frame, so
        # it never delays what the user came to see
        self._pending = loaded
        self.panel.set_model(None)
        self.panel.status.setText("The map is made after the first frame…")

    def _frame_rendered(self, frame) -> None:
        if self._pending is not None and getattr(frame, "model", None) is self._pending:
            loaded, self._pending = self._pending, None
            self.panel.set_model(loaded.model)


class InterpolationDock(_PanelDock):
    def __init__(self, state, parent: QWidget | None = None) -> None:
        super().__init__("Interpolation", "interpolation", InterpolationPanel(), parent, scroll=True)
        self.state = state
        self.panel.current_z_provider = lambda: self.state.z if self.state.loaded is not None else None
        state.model_changed.connect(lambda loaded: self.panel.set_model(loaded.model))
        self.panel.latentChosen.connect(state.set_z)
        self.panel.message.connect(state.say)
        if state.loaded is not None:
            self.panel.set_model(state.loaded.model)


def install(window) -> None:
    """Add the issue-5 docks, actions, drop handlers and layout keeping to ``window``."""
    state = window.state
    right, bottom = Qt.DockWidgetArea.RightDockWidgetArea, Qt.DockWidgetArea.BottomDockWidgetArea
    window.score_dock = window.add_dock("score", ScoreDock(state, window), right,
                                        tabify_with="sampling")
    window.map_dock = window.add_dock("latent-map", LatentMapDock(state, window), bottom)
    window.interpolation_dock = window.add_dock("interpolation", InterpolationDock(state, window), bottom,
                                                tabify_with="latent-map")
    window.score_dock.raise_()
    window.map_dock.raise_()
    # the right-hand docks (Score, Sampling) run the full height; the map and interpolation sit
    # under the canvas
    window.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
    window.setCorner(Qt.Corner.TopRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
    score, lmap, interp = window.score_dock.panel, window.map_dock.panel, window.interpolation_dock.panel

    def scored(item) -> None:
        if item.z is not None:
            lmap.add_marker(item.name, item.z, item.verdict)
        if item.image is not None:
            interp.add_dropped_image(item.name, item.image)
    score.imageScored.connect(scored)
    state.model_changed.connect(lambda _l: interp.dropped.clear())

    # ------------------------------------------------------------------ drops and paste
    def score_file(path: Path) -> None:
        score.add_files([path])
        window.score_dock.show()
        window.score_dock.raise_()

    def score_array(path: Path) -> None:
        from models.intake import IntakeError, from_array

        try:
            a = np.load(path, allow_pickle=False)
            results = from_array(a, path.name)
        except (ValueError, OSError, IntakeError) as exc:
            window.show_error("Cannot score this array", f"{path.name}: {exc}")
            return
        if len(results) > MAX_ARRAY_IMAGES:
            state.say(f"{path.name}: scoring the first {MAX_ARRAY_IMAGES} of {len(results)} images")
        for i, r in enumerate(results[:MAX_ARRAY_IMAGES]):
            score.add_image(f"{path.name}[{i}]", r)
        window.score_dock.show()
        window.score_dock.raise_()

    window.register_drop_handler(IMAGE_SUFFIXES, score_file, "score the image")
    window.register_drop_handler(ARRAY_SUFFIXES, score_array, "score the images of an (N, 28, 28) array")

    def paste() -> None:
        md = QGuiApplication.clipboard().mimeData()
        paths = window._paths_of(md) if md is not None else []
        if paths:
            window.handle_drop(paths)            # image files are scored, checkpoints open
        elif md is not None and md.hasImage():
            score.paste()
            window.score_dock.show()
            window.score_dock.raise_()
        else:
            state.say("The clipboard holds no image or file")

    # ------------------------------------------------------------------ undo and desktop actions
    window.history = LatentHistory(state, window)

    def seal_on_release(_loaded) -> None:   # a drag ends when its slider is released
        for s in getattr(getattr(window, "latent_dock", None), "sliders", []):
            if hasattr(s, "sliderReleased"):
                s.sliderReleased.connect(window.history.seal)
    state.model_changed.connect(seal_on_release)
    stack = window.history.stack
    window.undo_action = stack.createUndoAction(window, "&Undo")
    window.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
    window.redo_action = stack.createRedoAction(window, "&Redo")
    window.redo_action.setShortcut(QKeySequence.StandardKey.Redo)
    for a in (window.undo_action, window.redo_action):
        window.addAction(a)

    act = window.make_action

    window.copy_image_action = act("&Copy Image", lambda: _copy(window), QKeySequence.StandardKey.Copy,
                                   "Copy the current image to the clipboard")
    window.paste_action = act("&Paste Image", paste, QKeySequence.StandardKey.Paste,
                              "Score an image (or open a checkpoint) from the clipboard")
    window.score_images_action = act("Score &Images…", score._open_dialog, "Ctrl+I",
                                     "Pick image files to encode and score")
    window.save_latent_action = act("Save &Latent State…", lambda: _save_latent_dialog(window), "Ctrl+Shift+S",
                                    "Save the current point (z and slider values) as JSON")
    window.load_latent_action = act("L&oad Latent State…", lambda: _load_latent_dialog(window), "Ctrl+Shift+O",
                                    "Go to a point saved as JSON")
    window.play_action = act("&Play/Pause Interpolation", lambda: interp.play_button.toggle(), "P",
                             "Play or pause the interpolation (P)")

    mb = window.menuBar()
    menus = {a.text().replace("&", ""): a for a in mb.actions()}
    edit = QMenu("&Edit", window)
    for a in (window.undo_action, window.redo_action):
        edit.addAction(a)
    edit.addSeparator()
    for a in (window.copy_image_action, window.paste_action):
        edit.addAction(a)
    if "Latent" in menus:
        mb.insertMenu(menus["Latent"], edit)
    else:
        mb.addMenu(edit)
    file_menu = menus.get("File").menu() if "File" in menus else None
    if file_menu is not None:
        before = getattr(window, "quit_action", None)
        for a in (window.score_images_action, window.save_latent_action, window.load_latent_action):
            file_menu.insertAction(before, a) if before is not None else file_menu.addAction(a)
        file_menu.insertSeparator(before) if before is not None else None
    latent_menu = menus.get("Latent").menu() if "Latent" in menus else None
    if latent_menu is not None:
        latent_menu.addSeparator()
        latent_menu.addAction(window.play_action)

    # ------------------------------------------------------------------ layout kept between runs
    window.layout_keeper = LayoutKeeper(window, window.settings)

    def closing() -> None:
        from .background import wait_idle

        score.clear()                        # cancel scoring; background jobs end within a stage
        interp.set_playing(False)
        wait_idle(1000)
    window.layout_keeper.on_close.append(closing)
    if not window.layout_keeper.restore():
        QTimer.singleShot(0, lambda: _default_sizes(window))


def _default_sizes(window) -> None:
    """First run: a canvas of a useful size, the score details readable, the map a strip below."""
    h, w = max(window.height(), 600), max(window.width(), 900)
    window.resizeDocks([window.map_dock], [int(h * 0.34)], Qt.Orientation.Vertical)
    window.resizeDocks([window.score_dock], [int(w * 0.40)], Qt.Orientation.Horizontal)


def _copy(window) -> None:
    img = window.canvas.image()
    if img is None:
        window.state.say("No image to copy yet")
        return
    copy_image(img)
    window.state.say("Copied the image to the clipboard")


def _save_latent_dialog(window) -> None:
    if window.state.loaded is None:
        return
    path, _ = QFileDialog.getSaveFileName(window, "Save latent state", "latent.json", "Latent state (*.json)")
    if path:
        save_latent(window, path)


def save_latent(window, path) -> Path | None:
    try:
        p = save_latent_state(path, window.state.loaded, window.state.values)
    except OSError as exc:
        window.show_error("Could not save the latent state", f"{Path(path).name}: {exc.strerror or exc}")
        return None
    window.state.say(f"Saved the latent state to {p}")
    return p


def _load_latent_dialog(window) -> None:
    if window.state.loaded is None:
        return
    path, _ = QFileDialog.getOpenFileName(window, "Load latent state", "", "Latent state (*.json);;All files (*)")
    if path:
        load_latent(window, path)


def load_latent(window, path) -> bool:
    loaded = window.state.loaded
    if loaded is None:
        return False
    try:
        z, _model = read_latent_state(path, loaded.latent_dim)
    except LatentStateError as exc:
        window.show_error("Could not load the latent state", str(exc))
        return False
    window.state.set_z(z)
    window.state.say(f"Loaded the latent state from {Path(path).name}")
    return True

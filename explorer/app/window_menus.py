"""The main window's actions and menus: every action made once and held as an attribute of the
window (``window.open_action``, ``window.undo_action``, ...); menus are built from those objects,
never looked up by their visible text.  Help → Keyboard Shortcuts lists every action with a shortcut.
"""
from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMessageBox

from . import window_files
from .recent_files import RecentFiles


def make_action(window, text: str, slot, shortcut=None, tip: str = "") -> QAction:
    """A window-wide action (listed by Help → Keyboard Shortcuts)."""
    a = QAction(text, window)
    if shortcut is not None:
        a.setShortcut(QKeySequence(shortcut))
    if tip:
        a.setStatusTip(tip)
        a.setToolTip(tip)
    a.triggered.connect(slot)
    window.addAction(a)  # shortcuts work while the menu bar is hidden, too
    return a


def create_actions(window) -> None:
    act, S = window.make_action, QKeySequence.StandardKey
    score, interp = window.score_dock.panel, window.interpolation_dock.panel
    window.open_action = act("&Open Checkpoint…", window.open_dialog, S.Open, "Open a .safetensors checkpoint")
    window.score_images_action = act("Score &Images…", score._open_dialog, "Ctrl+I",
                                   "Pick image files to encode and score")
    window.save_image_action = act("&Save Image As…", lambda: window_files.save_image_dialog(window), S.Save,
                                 "Save the current image as PNG")
    window.save_latent_action = act("Save &Latent State…", lambda: window_files.save_latent_dialog(window),
                                  "Ctrl+Shift+S", "Save the current point (z and slider values) as JSON")
    window.load_latent_action = act("L&oad Latent State…", lambda: window_files.load_latent_dialog(window),
                                  "Ctrl+Shift+O", "Go to a point saved as JSON")
    window.quit_action = act("&Quit", window.close, S.Quit)
    window.undo_action = window.history.stack.createUndoAction(window, "&Undo")
    window.undo_action.setShortcut(S.Undo)
    window.redo_action = window.history.stack.createRedoAction(window, "&Redo")
    # Ctrl+Shift+Z everywhere (the README's key), plus the platform's own (Ctrl+Y on some)
    redo_keys = [QKeySequence("Ctrl+Shift+Z")] + QKeySequence.keyBindings(S.Redo)
    window.redo_action.setShortcuts(list(dict.fromkeys(redo_keys, None)))
    for a in (window.undo_action, window.redo_action):
        window.addAction(a)
    window.copy_image_action = act("&Copy Image", lambda: window_files.copy_canvas(window), S.Copy,
                                 "Copy the current image to the clipboard")
    window.paste_action = act("&Paste Image", window.paste, S.Paste,
                            "Score an image (or open a checkpoint) from the clipboard")
    window.reset_action = act("&Reset Sliders", window.state.reset, "R", "All sliders to zero (R)")
    window.randomize_action = act("Rando&mize", lambda: (window.history.expect("Random point"),
                                                        window.state.randomize()), "Ctrl+R",
                                "A random point from the prior (Ctrl+R)")
    window.new_sample_action = act("&New Sample", lambda: window.sampling_panel.new_sample(), "N",
                                 "Next seed; its first sample becomes current (N)")
    window.show_all_action = act("Show &All Directions", lambda: window.latent_dock.toggle_all(), "A",
                               "Show or hide the weaker directions (A)")
    window.play_action = act("&Play/Pause Interpolation", lambda: interp.play_button.toggle(), "P",
                           "Play or pause the interpolation (P)")
    window.reset_zoom_action = act("Reset &Zoom", window.canvas.reset_zoom, "Ctrl+0", "Fit the image (Ctrl+0)")
    window.bookmark_action = act("Add &Bookmark", lambda: window.bookmark_dock.add(), "Ctrl+D",
                                 "Bookmark the current point (Bookmarks dock)")
    window.compare_action = act("Open &Second Model…", lambda: _show(window.compare_dock)._open_dialog(),
                                "Ctrl+Shift+M", "Open a second model beside the first (Compare dock)")
    window.traversal_action = act("&Traversal Sheet", lambda: _show(window.traversal_dock), "Ctrl+T",
                                  "Sweep every direction over ±3σ around the current point")
    window.shortcuts_action = act("&Keyboard Shortcuts", window.show_shortcuts, S.HelpContents)
    window.about_action = act("&About Latent Explorer", window.show_about)


def create_menus(window) -> None:
    mb = window.menuBar()
    window.file_menu = mb.addMenu("&File")
    window.file_menu.addAction(window.open_action)
    window.recent = RecentFiles(window.settings, window.file_menu.addMenu("Open &Recent"), window.open_model)
    window.examples_menu = window.file_menu.addMenu("&Examples")
    import models                 # lazy package: lists assets/ without importing torch

    for path in models.bundled_models():
        a = window.examples_menu.addAction(path.stem, lambda _=False, p=path: window.open_model(p))
        a.setStatusTip(f"Open the bundled {path.name}")
    if window.examples_menu.isEmpty():
        window.examples_menu.addAction("(no bundled models found)").setEnabled(False)
    window.recent_menu = window.recent.menu
    for a in (window.save_image_action, None, window.score_images_action, window.save_latent_action,
              window.load_latent_action, None, window.quit_action):
        window.file_menu.addSeparator() if a is None else window.file_menu.addAction(a)
    window.edit_menu = mb.addMenu("&Edit")
    for a in (window.undo_action, window.redo_action, None, window.copy_image_action, window.paste_action):
        window.edit_menu.addSeparator() if a is None else window.edit_menu.addAction(a)
    window.latent_menu = mb.addMenu("&Latent")
    for a in (window.reset_action, window.randomize_action, window.new_sample_action, window.show_all_action,
              None, window.play_action, window.traversal_action, None, window.bookmark_action,
              window.compare_action):
        window.latent_menu.addSeparator() if a is None else window.latent_menu.addAction(a)
    window.device_menu = mb.addMenu("&Device")
    window.view_menu = mb.addMenu("&View")
    window.view_menu.addAction(window.reset_zoom_action)
    window.panels_menu = window.view_menu.addMenu("&Panels")
    for dock in window.docks.values():
        window.panels_menu.addAction(dock.toggleViewAction())
    window.help_menu = mb.addMenu("&Help")
    window.help_menu.addAction(window.shortcuts_action)
    window.help_menu.addAction(window.about_action)


def _show(dock):
    dock.show()
    dock.raise_()
    return dock


def show_shortcuts(window) -> None:
    rows = [(a.text().replace("&", ""), a.shortcut().toString(QKeySequence.SequenceFormat.NativeText))
            for a in window.actions() if not a.shortcut().isEmpty()]
    html = "<table>" + "".join(f"<tr><td><b>{k}</b>&nbsp;&nbsp;</td><td>{t}</td></tr>" for t, k in rows)
    html += "<tr><td><b>Wheel / drag</b>&nbsp;&nbsp;</td><td>Zoom / pan the image</td></tr></table>"
    QMessageBox.information(window, "Keyboard shortcuts", html)


def show_about(window) -> None:
    QMessageBox.about(window, "About Latent Explorer",
                      "Latent Explorer: drag through a generative model's latent space and watch the "
                      "decoded image change live; drop an image to see its code, likelihood and verdict.")

"""The main window's views beyond the first five docks, wired in one place: undo messages, the
current sample's tile, exports that carry the state (and their size), dropping such an export back,
bookmarks, the traversal sheet and the compare dock.

Functions of the window, like :mod:`explorer.app.window_files`, so the composition root stays a list
of parts.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QActionGroup

from .sample_marker import SampleMarker

#: export sizes offered (pixels of an exported image's height; None = the defaults: canvas 8x,
#: GIF 4x, strips and sheets 2x)
EXPORT_SIZES = (None, 112, 224, 448, 896)
EXPORT_SIZE_KEY = "export/size"


def connect_views(window) -> None:
    window.history.message.connect(window._say)
    window.sample_marker = SampleMarker(window.state, window.sampling_panel, window)
    window.bookmark_dock.goRequested.connect(lambda rec, name: restore_state(window, rec, name))
    window.interpolation_dock.panel.class_selector.bind(window.state)   # conditional models only
    _export_size_menu(window)


def _export_size_menu(window) -> None:
    menu = window.file_menu.addMenu("Export Si&ze")
    window.export_size_menu = menu
    group = QActionGroup(window)
    saved = window.settings.value(EXPORT_SIZE_KEY, "")
    window.export_size_actions = {}
    for size in EXPORT_SIZES:
        a = menu.addAction("Default (8× image, 4× GIF, 2× strip)" if size is None else f"{size} px")
        a.setCheckable(True)
        a.setStatusTip("How large exported images, GIFs, strips and sheets are (each image's height)")
        group.addAction(a)
        a.triggered.connect(lambda _=False, s=size: set_export_size(window, s))
        window.export_size_actions[size] = a
    try:
        current = int(saved) if saved not in ("", None, "None") else None
    except (TypeError, ValueError):
        current = None
    set_export_size(window, current if current in EXPORT_SIZES else None)


def set_export_size(window, size: int | None) -> None:
    """Exports from the window (image, GIF, strip, traversal sheet) become about ``size`` px high."""
    window.export_size = size
    window.interpolation_dock.panel.export_size = size
    window.traversal_dock.export_size = size
    window.export_size_actions[size].setChecked(True)
    window.settings.setValue(EXPORT_SIZE_KEY, "" if size is None else str(size))


def take_image(window, path: Path) -> None:
    """A dropped or opened image: an export carrying a state restores it, any other image is scored."""
    from .state_stamp import StampError, read_state

    try:
        rec = read_state(path)
    except StampError as exc:
        window.show_error("Cannot restore this state", str(exc))
        return
    if rec is None:
        from . import window_files

        window_files.score_files(window, [path])
    else:
        restore_state(window, rec, Path(path).name)


def restore_state(window, rec: dict, source: str) -> str:
    from .bookmarks import restore

    return restore(window, rec, source)

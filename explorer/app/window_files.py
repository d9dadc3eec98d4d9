"""The main window's file and clipboard commands: score dropped files and arrays, paste, save the
image, save and load the latent state, copy the image, and status-bar messages that fit.

Functions of the window (not methods) so the composition root stays a list of parts; each reports
failure in the window (status bar and a non-blocking box) and never loses the user's current state.
"""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics, QGuiApplication
from PySide6.QtWidgets import QFileDialog

from .desktop import LatentStateError, copy_image, read_latent_state, save_latent_state

MESSAGE_MS = 8000
#: most images taken from one dropped .npy array
MAX_ARRAY_IMAGES = 64


def say(window, text: str) -> None:
    """A status-bar message, elided to the room left of the permanent labels (the full text is the
    bar's tooltip), so a long message never runs into the device and frame-time labels."""
    sb = window.statusBar()
    room = sb.width() - sum(w.width() + 12 for w in (window.model_label, window.device_label,
                                                     window.frame_label) if w.isVisible()) - 16
    shown = QFontMetrics(sb.font()).elidedText(text, Qt.TextElideMode.ElideRight, max(room, 80))
    sb.setToolTip(text if shown != text else "")
    sb.showMessage(shown, MESSAGE_MS)



def save_image_dialog(window) -> None:
    if window.canvas.image() is None:
        return
    path, _ = QFileDialog.getSaveFileName(window, "Save image", "latent.png", "PNG images (*.png)")
    if path:
        save_image(window, path)


def save_image(window, path: str | os.PathLike, scale: int | None = None) -> None:
    """The canvas image as PNG, upscaled ``scale`` times (default: to the window's export size, else
    8x), carrying the explorer's state (z, sliders, endpoints, selected class, model hash); written atomically."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice

    from models.atomic_io import atomic_write_bytes

    from .pixmaps import pixmap

    img = window.canvas.image()
    if img is None:
        window._say("No image to save yet")
        return
    from .interpolation_export import scale_for
    from .state_stamp import png_with_state
    from .bookmarks import current_record

    scale = scale or scale_for(img.shape[0], getattr(window, "export_size", None), 8)
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    try:
        if not pixmap(img, scale).save(buf, "PNG"):
            raise OSError("the PNG could not be encoded")
        rec = current_record(window)
        png = bytes(data.data())
        atomic_write_bytes(path, png_with_state(png, rec) if rec else png)  # the old file stays if this fails
    except OSError as exc:
        window.show_error("Could not save image", f"Could not write {path}: {exc.strerror or exc}")
    else:
        window._say(f"Saved {path}")


def copy_canvas(window) -> None:
    img = window.canvas.image()
    if img is None:
        window.state.say("No image to copy yet")
        return
    copy_image(img)
    window.state.say("Copied the image to the clipboard")


def save_latent_dialog(window) -> None:
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


def load_latent_dialog(window) -> None:
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


def _show_score_dock(window) -> None:
    window.score_dock.show()
    window.score_dock.raise_()


def score_files(window, paths) -> None:
    window.score_dock.panel.add_files(list(paths))
    _show_score_dock(window)


def score_array(window, path: Path) -> None:
    """Each image of an array file becomes a row (the file is read on the executor)."""
    loaded = window.state.loaded
    if loaded is None:
        window._say("Open a model before scoring images")
        return
    from models.intake import take_in

    shape = tuple(loaded.model.image_shape)

    def done(results) -> None:
        for i, r in enumerate(results):
            window.score_dock.panel.add_image(f"{path.name}[{i}]", r)
        _show_score_dock(window)
    window.executor.submit(f"intake:{path}", lambda: take_in(path, image_shape=shape, max_images=MAX_ARRAY_IMAGES),
                           done, lambda msg: window.show_error("Cannot score this array", msg))


def paste(window) -> None:
    """Files on the clipboard are routed like a drop; an image is scored."""
    from .drop_router import paths_of

    md = QGuiApplication.clipboard().mimeData()
    paths = paths_of(md)
    if paths:
        window.handle_drop(paths)            # image files are scored, checkpoints open
    elif md is not None and md.hasImage():
        window.score_dock.panel.paste()
        _show_score_dock(window)
    else:
        window._say("The clipboard holds no image or file")

"""The canvas: the decoded image, upscaled by the view (nearest neighbour), zoomable and pannable.

Frames reach the screen through a pyqtgraph ``ImageItem`` as (H, W) uint8 arrays with *levels left
unset* (``levels=(0, 255)`` would rebuild a 256-entry lookup table and draw an indexed image every
frame, about 1.8 ms); our item turns them into an RGB32 ``QImage``, the cheapest format to draw
(about 0.2 ms, against 0.4 ms for pyqtgraph's Grayscale8).  The 28×28 image is scaled by the view transform, never resampled by us.

Errors (a failed render, no model yet) are drawn over the canvas by a label, not raised.
"""
from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

PLACEHOLDER = "Open a checkpoint: File → Open (Ctrl+O), or drop a .safetensors file here"


class _ImageItem(pg.ImageItem):
    """An ImageItem that draws (H, W) grey or (H, W, 3) colour uint8 frames as RGB32 and tells the
    canvas when it has painted.

    pyqtgraph would hand a Grayscale8 ``QImage`` to the painter, which converts it to 32 bits on every
    paint before scaling it up (and for colour it goes through its levels/LUT path); an RGB32 image
    (grey replicated into B, G, R, or the three channels packed) is drawn directly, with no colour
    table.  The H×W×4-byte buffer is made per frame here (cheap); other images take pyqtgraph's path.
    """

    def __init__(self, on_painted) -> None:
        super().__init__(axisOrder="row-major")
        self._on_painted = on_painted
        self._rgb32: np.ndarray | None = None

    def render(self) -> None:
        img = self.image
        colour = img is not None and img.ndim == 3 and img.shape[2] == 3
        if (img is None or not (img.ndim == 2 or colour) or img.dtype != np.uint8 or self.levels is not None
                or self.lut is not None or self.autoDownsample):
            super().render()
            return
        c = img.astype(np.uint32)
        packed = (c[..., 0] << 16) | (c[..., 1] << 8) | c[..., 2] if colour else c * 0x010101
        self._rgb32 = np.ascontiguousarray(packed | 0xFF000000)
        h, w = img.shape[:2]
        self.qimage = QImage(self._rgb32.data, w, h, w * 4, QImage.Format.Format_RGB32)
        self._renderRequired = False
        self._unrenderable = False

    def paint(self, painter, *args) -> None:
        super().paint(painter, *args)
        self._on_painted()


#: the overlay's padding (its style sheet's ``padding``)
OVERLAY_PAD = 8


class Canvas(QWidget):
    """Shows frames; ``shown(token)`` fires after a new frame has been painted."""

    shown = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = pg.GraphicsView(background="#151515")
        self.view.setAcceptDrops(False)           # drops go to the main window's single handler
        self.view.viewport().setAcceptDrops(False)
        self.view.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.viewbox = pg.ViewBox(lockAspect=True, invertY=True, enableMenu=False, defaultPadding=0.02)
        self.view.setCentralItem(self.viewbox)
        self.image_item = _ImageItem(self._painted)
        self.image_item.setOpts(autoDownsample=False)
        self.viewbox.addItem(self.image_item)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.view)

        self.overlay = QLabel(self.view)
        self.overlay.setWordWrap(True)
        self.overlay.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.overlay.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self._set_overlay_style(error=False)
        self.set_overlay(PLACEHOLDER)

        self._image: np.ndarray | None = None
        self._token = -1            # token of the frame in the image item
        self._painted_token = -1    # token of the frame last painted
        self._set_at = 0.0
        self.painted_at = 0.0       # perf_counter() of the last paint with new pixels
        self.setMinimumSize(280, 280)

    # ------------------------------------------------------------------ frames
    def set_image(self, image: np.ndarray, token: int = 0, *, paint_now: bool = True) -> None:
        """Show an (H, W) grey or (H, W, 3) colour uint8 image (kept by reference: do not modify it afterwards).

        With ``paint_now`` the view is repainted at once (about 0.3 ms) instead of with the window's
        next update, where it would wait for every other dirty widget (plots in other docks) first."""
        first = self._image is None or self._image.shape != image.shape
        self._image = image
        self._token = int(token)
        self._set_at = time.perf_counter()
        self.image_item.setImage(image, autoLevels=False)
        if first:
            self.reset_zoom()
        elif paint_now and self.isVisible():
            self.view.viewport().repaint()

    def image(self) -> np.ndarray | None:
        """The pixels in the image item now ((H, W) uint8), or None."""
        return self._image

    @property
    def token(self) -> int:
        return self._token

    def clear_image(self) -> None:
        self._image = None
        self.image_item.clear()

    def reset_zoom(self) -> None:
        if self._image is not None:
            h, w = self._image.shape[:2]
            self.viewbox.setRange(xRange=(0, w), yRange=(0, h), padding=0.02)

    def _painted(self) -> None:
        if self._painted_token != self._token:
            self._painted_token = self._token
            self.painted_at = time.perf_counter()
            self.shown.emit(self._token)

    # ------------------------------------------------------------------ messages over the canvas
    def set_overlay(self, text: str | None, *, error: bool = False) -> None:
        """Show ``text`` over the canvas (``None`` hides it)."""
        if not text:
            self.overlay.hide()
            return
        self._set_overlay_style(error)
        self.overlay.setText(text)
        self._place_overlay()
        self.overlay.show()
        self.overlay.raise_()

    def overlay_text(self) -> str:
        return self.overlay.text() if self.overlay.isVisible() else ""

    def _set_overlay_style(self, error: bool) -> None:
        if error:
            self.overlay.setStyleSheet("QLabel { color: #ffd0d0; background: rgba(120, 20, 20, 200);"
                                       " padding: 8px; border-radius: 4px; }")
        else:
            self.overlay.setStyleSheet("QLabel { color: #cfcfcf; background: rgba(0, 0, 0, 140);"
                                       " padding: 8px; border-radius: 4px; }")

    def _place_overlay(self) -> None:
        """Centred near the top, as tall as its wrapped text needs inside the style's 8-px padding
        (a wrapped QLabel's own height-for-width ignores style-sheet padding and clipped long text)."""
        from PySide6.QtCore import QRect

        w = max(120, self.view.width() - 40)
        inner = QRect(0, 0, w - 2 * OVERLAY_PAD - 4, 10_000)
        text_h = self.overlay.fontMetrics().boundingRect(inner, int(Qt.TextFlag.TextWordWrap),
                                                         self.overlay.text()).height()
        self.overlay.setFixedSize(w, min(text_h + 2 * OVERLAY_PAD + 6, max(60, self.view.height() - 20)))
        self.overlay.move((self.view.width() - w) // 2, min(16, max(0, self.view.height() - self.overlay.height())))

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        if self.overlay.isVisible():
            self._place_overlay()

"""Small images ((H, W) grey or (H, W, 3) colour uint8) as Qt pixmaps and labels, nearest-neighbour
upscaled."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QLabel, QSizePolicy


def as_uint8(a) -> np.ndarray:
    """An image as an array or tensor -- (H, W), (H, W, 3), or (C, H, W) / (1, C, H, W) with C = 1 or 3,
    uint8 or float in [0, 1] -- as (H, W) grey or (H, W, 3) colour uint8, what the views draw."""
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    a = np.asarray(a)
    while a.ndim > 3 or (a.ndim == 3 and a.shape[0] == 1):
        a = a[0]
    if a.ndim == 3 and a.shape[0] == 3 and a.shape[2] != 3:
        a = a.transpose(1, 2, 0)
    if a.dtype != np.uint8:
        from models.imaging import to_uint8

        a = to_uint8(a)
    return np.ascontiguousarray(a)


def qimage(a) -> QImage:
    """An image (see :func:`as_uint8`) -> a Grayscale8 or RGB888 QImage that owns its pixels."""
    a = as_uint8(a)
    h, w = a.shape[:2]
    if a.ndim == 3:
        return QImage(a.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    return QImage(a.data, w, h, w, QImage.Format.Format_Grayscale8).copy()


def pixmap(a, scale: int = 4) -> QPixmap:
    """An image upscaled ``scale`` times, nearest-neighbour (pixels stay crisp)."""
    img = qimage(a)
    return QPixmap.fromImage(img.scaled(img.width() * scale, img.height() * scale,
                                        Qt.AspectRatioMode.IgnoreAspectRatio,
                                        Qt.TransformationMode.FastTransformation))


def strip_pixmap(frames, scale: int = 2, pad: int = 2, highlight: int | None = None) -> QPixmap:
    """Frames (N, ...) side by side; the ``highlight``-th framed in orange."""
    arrs = [as_uint8(f) for f in frames]
    if not arrs:
        return QPixmap()
    h, w = arrs[0].shape[:2]
    cw, ch = w * scale, h * scale
    pm = QPixmap(len(arrs) * (cw + pad) + pad, ch + 2 * pad)
    pm.fill(QColor(40, 40, 40))
    p = QPainter(pm)
    for i, a in enumerate(arrs):
        p.drawPixmap(pad + i * (cw + pad), pad, pixmap(a, scale))
    if highlight is not None and 0 <= highlight < len(arrs):
        p.setPen(QPen(QColor(255, 150, 0), 2))
        p.drawRect(pad + highlight * (cw + pad) - 1, pad - 1, cw + 1, ch + 1)
    p.end()
    return pm


class ImageLabel(QLabel):
    """A fixed-size label showing one small image, crisp (no smoothing).  Its box is what a 28×28
    image takes at ``scale``; a larger image is scaled by a whole factor that fits that box."""

    def __init__(self, scale: int = 4, caption: str = "", parent=None) -> None:
        super().__init__(parent)
        self._box = 28 * scale
        self._array: np.ndarray | None = None
        self.setFixedSize(QSize(self._box + 2, self._box + 2))
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setStyleSheet("QLabel { background: #202020; border: 1px solid #555; color: #aaa; }")
        if caption:
            self.setToolTip(caption)
        self.clear_image()

    def set_image(self, a) -> None:
        self._array = as_uint8(a)
        longest = max(self._array.shape[:2])
        if longest > self._box:   # larger than the box: scaled down smoothly to fit
            self.setPixmap(pixmap(self._array, 1).scaled(self._box, self._box, Qt.AspectRatioMode.KeepAspectRatio,
                                                         Qt.TransformationMode.SmoothTransformation))
            return
        self.setPixmap(pixmap(self._array, self._box // longest))

    def clear_image(self, text: str = "—") -> None:
        self._array = None
        self.clear()
        self.setText(text)

    def array(self) -> np.ndarray | None:
        return self._array

"""Small grayscale images (28x28 uint8) as Qt pixmaps and labels, nearest-neighbour upscaled."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QLabel, QSizePolicy


def as_uint8(a) -> np.ndarray:
    """A (H, W), (1, H, W) or (1, 1, H, W) array or tensor (uint8, or float in [0, 1]) -> (H, W) uint8."""
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    a = np.asarray(a)
    while a.ndim > 2:
        a = a[0]
    if a.dtype != np.uint8:
        a = np.round(np.clip(a.astype(np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)
    return np.ascontiguousarray(a)


def qimage_gray(a) -> QImage:
    """(H, W) uint8 -> a Grayscale8 QImage that owns its pixels."""
    a = as_uint8(a)
    h, w = a.shape
    return QImage(a.data, w, h, w, QImage.Format.Format_Grayscale8).copy()


def pixmap_gray(a, scale: int = 4) -> QPixmap:
    img = qimage_gray(a)
    return QPixmap.fromImage(img.scaled(img.width() * scale, img.height() * scale,
                                        Qt.AspectRatioMode.IgnoreAspectRatio,
                                        Qt.TransformationMode.FastTransformation))


def strip_pixmap(frames, scale: int = 2, pad: int = 2, highlight: int | None = None) -> QPixmap:
    """Frames (N, ...) side by side; the ``highlight``-th framed in orange."""
    arrs = [as_uint8(f) for f in frames]
    if not arrs:
        return QPixmap()
    h, w = arrs[0].shape
    cw, ch = w * scale, h * scale
    pm = QPixmap(len(arrs) * (cw + pad) + pad, ch + 2 * pad)
    pm.fill(QColor(40, 40, 40))
    p = QPainter(pm)
    for i, a in enumerate(arrs):
        p.drawPixmap(pad + i * (cw + pad), pad, pixmap_gray(a, scale))
    if highlight is not None and 0 <= highlight < len(arrs):
        p.setPen(QPen(QColor(255, 150, 0), 2))
        p.drawRect(pad + highlight * (cw + pad) - 1, pad - 1, cw + 1, ch + 1)
    p.end()
    return pm


class ImageLabel(QLabel):
    """A fixed-size label showing one small grayscale image, crisp (no smoothing)."""

    def __init__(self, scale: int = 4, caption: str = "", parent=None) -> None:
        super().__init__(parent)
        self._scale = scale
        self._array: np.ndarray | None = None
        self.setFixedSize(QSize(28 * scale + 2, 28 * scale + 2))
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setStyleSheet("QLabel { background: #202020; border: 1px solid #555; color: #aaa; }")
        if caption:
            self.setToolTip(caption)
        self.clear_image()

    def set_image(self, a) -> None:
        self._array = as_uint8(a)
        self.setPixmap(pixmap_gray(self._array, self._scale))

    def clear_image(self, text: str = "—") -> None:
        self._array = None
        self.clear()
        self.setText(text)

    def array(self) -> np.ndarray | None:
        return self._array

"""The map's points, drawn fast: rasterised into one image per paint, and a rectangle selector.

Measured with ``benchmarks/map_scale.py`` (60,000 points, xcb under Xvfb, 1200x800): pyqtgraph's
scatter with a brush per point takes about 10 s to build and first paint; one ``ScatterPlotItem``
per class (one brush each, ``pxMode``) builds in about 1 s but a pan or zoom still repaints in
about 50 ms (each item culls and draws its points through Python and ``drawPixmapFragments``), over
the 33 ms budget.  So :class:`RasterPoints` draws every point itself: at each paint it maps the
points through the painter's transform (a scale and an offset), stamps each as a
``POINT_SIZE`` square of its colour into a premultiplied ARGB image the size of the view (numpy,
in a fixed random order so no class hides the others), and draws that image once.  The cost is a
few numpy passes over N points plus one image blit, whatever the zoom, and every point is drawn
exactly where it is (a density image would blur them).

Colours are per point: a class's colour, or, for a continuous value (a direction's coordinate,
‖z‖), one of :data:`N_BINS` quantile bins of a ramp.  Highlights (search hits, the selection,
nearest neighbours) are rings (one ``ScatterPlotItem`` on top) up to :data:`RING_MAX` points; a
larger set (a whole class) is shown by fading every other point instead, as rings would bury it.  :class:`SelectViewBox`
draws a rectangle while the left button drags in select mode (or with Shift) and reports it in view
coordinates.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QGraphicsRectItem

from models.map_picture import PALETTE, UNLABELLED

#: bins of a continuous colouring
N_BINS = 8
#: a perceptually ordered ramp (viridis, sampled), low to high
RAMP = [(68, 1, 84), (70, 50, 126), (54, 92, 141), (39, 127, 142), (31, 161, 135), (74, 193, 109),
        (160, 218, 57), (253, 231, 37)]
POINT_SIZE = 4
#: alpha of points, and of points outside a large set of highlighted ones
FULL, FAINT = 230, 40
#: up to this many highlighted points are ringed; more are shown by fading all the others
RING_MAX = 500
#: above this many points each is drawn a pixel smaller (3x3): less overdraw, and a cheaper paint
DENSE = 20_000


def value_bins(values: np.ndarray, n: int = N_BINS) -> tuple[np.ndarray, np.ndarray]:
    """(bin of each value (N,) in 0..n-1, the n+1 edges): quantile bins, so each colour holds about
    as many points."""
    v = np.asarray(values, np.float64)
    edges = np.quantile(v, np.linspace(0, 1, n + 1)) if len(v) else np.zeros(n + 1)
    return np.clip(np.searchsorted(edges[1:-1], v, side="right"), 0, n - 1), edges


class RasterPoints(pg.GraphicsObject):
    """N points in view coordinates, each a ``size``-pixel square of its own colour (see the module
    docstring); drawn as one image per paint."""

    def __init__(self) -> None:
        super().__init__()
        self.xy = np.zeros((0, 2), np.float64)
        self.rgba = np.zeros((0,), np.uint32)
        self.size = POINT_SIZE
        self._bounds = QRectF()
        self.paints = 0           # paints so far (the benchmark counts them per frame)

    def set_points(self, xy: np.ndarray, colours: np.ndarray, size: int = POINT_SIZE) -> None:
        """``xy`` (N, 2) and ``colours`` (N, 3) uint8; drawn in a seeded random order."""
        self._order = np.random.default_rng(0).permutation(len(xy))
        self.xy = np.asarray(xy, np.float64)[self._order]
        self._colours = np.asarray(colours, np.uint32)[self._order]
        self.set_emphasis(None)
        self.size = int(size)
        self.prepareGeometryChange()
        if len(self.xy):
            lo, hi = self.xy.min(0), self.xy.max(0)
            self._bounds = QRectF(lo[0], lo[1], max(hi[0] - lo[0], 1e-9), max(hi[1] - lo[1], 1e-9))
        else:
            self._bounds = QRectF()
        self.informViewBoundsChanged()
        self.update()

    def set_emphasis(self, mask: np.ndarray | None) -> None:
        """Points where ``mask`` (N,) is False are drawn faint (:data:`FAINT` alpha); None: all full."""
        alpha = np.full(len(self.xy), FULL, np.uint32)
        if mask is not None:
            alpha[~np.asarray(mask, bool)[self._order]] = FAINT
        c = self._colours
        premul = (c * alpha[:, None] + 127) // 255
        self.rgba = (alpha << 24) | (premul[:, 0] << 16) | (premul[:, 1] << 8) | premul[:, 2]
        self.update()

    def __len__(self) -> int:
        return len(self.xy)

    def boundingRect(self) -> QRectF:
        return QRectF(self._bounds)

    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange=None):
        if not len(self.xy):
            return None
        return float(self.xy[:, ax].min()), float(self.xy[:, ax].max())

    def pixelPadding(self) -> float:
        return self.size

    def paint(self, p, *args) -> None:
        self.paints += 1
        if not len(self.xy):
            return
        # item -> the paint device's own pixels (combinedTransform, not deviceTransform: when a parent
        # widget is grabbed, Qt adds a redirection offset that it applies again to what is drawn)
        t = p.combinedTransform()
        dev = p.device()
        vb = self.getViewBox()
        area = t.mapRect(vb.viewRect() if vb is not None else self._bounds)   # the plot area, in device pixels
        dw, dh = int(dev.width()), int(dev.height())
        x0, y0 = max(int(area.left()), 0), max(int(area.top()), 0)
        w, h = min(int(area.right()) + 1, dw) - x0, min(int(area.bottom()) + 1, dh) - y0
        s = self.size
        if w <= s or h <= s:
            return
        px = (self.xy[:, 0] * t.m11() + (t.dx() - x0 - s / 2)).astype(np.int64)
        py = (self.xy[:, 1] * t.m22() + (t.dy() - y0 - s / 2)).astype(np.int64)
        keep = (px >= 0) & (px < w - s) & (py >= 0) & (py < h - s)
        flat = py[keep] * w + px[keep]
        colour = self.rgba[keep]
        img = np.zeros(h * w, np.uint32)
        for dy in range(s):
            for dx in range(s):
                img[flat + (dy * w + dx)] = colour
        self._image = QImage(img.data, w, h, 4 * w, QImage.Format.Format_ARGB32_Premultiplied)
        self._pixels = img            # the QImage borrows these bytes until the next paint
        p.save()
        p.resetTransform()
        p.drawImage(x0, y0, self._image)
        p.restore()


class GroupScatter:
    """The map's points (:class:`RasterPoints`) and the ring highlight on top of them."""

    def __init__(self, plot: pg.PlotWidget) -> None:
        self.plot = plot
        self.raster = RasterPoints()
        self.raster.setZValue(1)
        plot.addItem(self.raster)
        self.highlight = pg.ScatterPlotItem(size=POINT_SIZE + 5, pen=pg.mkPen(255, 255, 255, 230, width=1.3),
                                            brush=None, pxMode=True)
        self.highlight.setZValue(5)
        plot.addItem(self.highlight)
        self.ringed = 0

    def clear(self) -> None:
        self.raster.set_points(np.zeros((0, 2)), np.zeros((0, 3), np.uint8))
        self.highlight.clear()
        self.ringed = 0

    def set_groups(self, xy: np.ndarray, groups: np.ndarray, colours: list[tuple[int, int, int]],
                   size: int | None = None) -> None:
        """Draw point i in ``colours[groups[i]]`` (a group of -1: grey)."""
        size = size or (POINT_SIZE - 1 if len(xy) > DENSE else POINT_SIZE)
        lut = np.array(list(colours) + [UNLABELLED], np.uint8)
        groups = np.asarray(groups, np.int64)
        self.raster.set_points(xy, lut[np.where(groups >= 0, groups % max(len(colours), 1), len(colours))], size)

    def point_count(self) -> int:
        return len(self.raster)

    def set_highlight(self, indices: np.ndarray | None) -> None:
        """Ring the points ``indices`` (up to :data:`RING_MAX`), or fade all the others (more)."""
        n = 0 if indices is None else len(indices)
        self.ringed = n
        if n == 0 or n > RING_MAX:
            self.highlight.clear()
        else:
            order = np.argsort(self.raster._order)                       # back to the caller's order
            self.highlight.setData(pos=self.raster.xy[order][np.asarray(indices)].astype(np.float32))
        if n > RING_MAX:
            mask = np.zeros(len(self.raster), bool)
            mask[np.asarray(indices)] = True
            self.raster.set_emphasis(mask)
        else:
            self.raster.set_emphasis(None)

    def highlighted(self) -> int:
        """How many points are highlighted (ringed or, for many, the ones not faded)."""
        return self.ringed


def class_colours(n: int) -> list[tuple[int, int, int]]:
    return [PALETTE[i % len(PALETTE)] for i in range(n)]


class SelectViewBox(pg.ViewBox):
    """A view box that, in select mode or with Shift held, turns a left drag into a rectangle
    (``rectSelected(QRectF)`` in view coordinates) instead of a pan."""

    rectSelected = Signal(object)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.select_mode = False
        self._band = QGraphicsRectItem()
        self._band.setPen(pg.mkPen(255, 255, 255, 200, width=1, style=Qt.PenStyle.DashLine))
        self._band.setBrush(pg.mkBrush(255, 255, 255, 30))
        self._band.setZValue(1e9)
        self._band.hide()
        self.addItem(self._band, ignoreBounds=True)

    def mouseDragEvent(self, ev, axis=None) -> None:
        selecting = self.select_mode or bool(ev.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if not selecting or ev.button() != Qt.MouseButton.LeftButton:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        a, b = self.mapToView(ev.buttonDownPos()), self.mapToView(ev.pos())
        rect = QRectF(a, b).normalized()
        if ev.isFinish():
            self._band.hide()
            self.rectSelected.emit(rect)
        else:
            self._band.setRect(rect)
            self._band.show()

"""The latent map: encoded Fashion-MNIST test images in 2-D, coloured by class.

Hover a point to see its image; click one to make its z the current z.  The current z (a star) and
every scored image (a triangle, green in distribution, red out) are drawn in the same projection
(:mod:`models.latent_map`).  Encoding the subset runs in the background.

The hover preview lives only while the pointer is over the plot: it hides when the pointer leaves,
when a menu or dialog takes the pointer, and when the window loses focus.  Scored images' names are
drawn only where they do not overlap another name (greedy, in the order they were scored); every
marker's name and verdict show when the pointer rests on it.  The legend wraps between entries (never
inside one) and reserves the height the wrapped text needs, so it never clips at any dock width.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from .pixmaps import pixmap

#: ten distinguishable colours (Tableau 10), one per Fashion-MNIST class
PALETTE = [(78, 121, 167), (242, 142, 43), (225, 87, 89), (118, 183, 178), (89, 161, 79),
           (237, 201, 72), (176, 122, 161), (255, 157, 167), (156, 117, 95), (186, 176, 172)]
IN_MARKER = (60, 200, 90)
OUT_MARKER = (240, 60, 50)
#: how close (screen pixels) the pointer must be to a point to hover or pick it
PICK_RADIUS_PX = 10


class WrappedLegend(QLabel):
    """A rich-text label that wraps and keeps the height its wrapped text needs at its width (a plain
    wrapped QLabel in a dock reports one line's height and paints over what is below it)."""

    def __init__(self) -> None:
        super().__init__()
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)

    def setText(self, text: str) -> None:
        super().setText(text)
        self._fit()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        if self.width() < 40:          # not laid out yet
            return
        h = self.heightForWidth(self.width()) if self.text() else 0
        if h > 0 and h != self.height():
            self.setFixedHeight(h)


class LatentMapWidget(QWidget):
    """Scatter plot of the encoded test subset with markers for the current z and scored images."""

    #: the user clicked a point: its z (make it the current z)
    latentChosen = Signal(object)
    #: index of the clicked point in the subset
    pointChosen = Signal(int)
    #: the map was (re)built for a model: number of points
    mapReady = Signal(int)
    message = Signal(str)

    def __init__(self, executor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        import pyqtgraph as pg

        self.executor = executor
        self.setObjectName("LatentMap")
        self.model = None
        self.map = None                      # models.latent_map.LatentMap
        self._current_z: np.ndarray | None = None
        self.markers: list[tuple[str, np.ndarray, str | None]] = []
        self.hovered: int | None = None

        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        top = QHBoxLayout()
        self.projection = QComboBox()
        self.projection.addItem("PCA of the encoded images", "pca")
        self.projection.addItem("First two slider directions", "directions")
        self.projection.currentIndexChanged.connect(lambda _i: self.rebuild())
        self.status = QLabel("Open a model to map its latent space.")
        self.status.setWordWrap(True)
        self.status.setMinimumWidth(60)
        top.addWidget(self.projection)
        top.addWidget(self.status, 1)
        lay.addLayout(top)

        self.plot = pg.PlotWidget()
        self.plot.setMinimumSize(240, 200)
        self.plot.hideButtons()
        self.plot.getPlotItem().setMenuEnabled(False)
        self.plot.setAspectLocked(False)
        lay.addWidget(self.plot, 1)
        self.scatter = pg.ScatterPlotItem(size=5, pen=None)
        self.plot.addItem(self.scatter)
        self.marker_items = pg.ScatterPlotItem(size=14, symbol="t1", pen=pg.mkPen("k", width=1))
        self.plot.addItem(self.marker_items)
        self.current_item = pg.ScatterPlotItem(size=20, symbol="star", pen=pg.mkPen("k", width=1.5),
                                               brush=pg.mkBrush(255, 255, 255))
        self.plot.addItem(self.current_item)
        self.labels: list = []
        # the legend sits under the plot, where it never hides points or markers
        self.legend = WrappedLegend()
        self.legend_entries: list[str] = []
        lay.addWidget(self.legend)

        self.thumb = QLabel(self.plot)
        self.thumb.setStyleSheet("QLabel { background: #111; color: #ddd; border: 1px solid #888; padding: 2px; }")
        self.thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.thumb.hide()
        self.plot.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.plot.scene().sigMouseClicked.connect(self._on_mouse_clicked)
        self.hovered_marker: int | None = None
        # the preview never outlives the pointer: leaving the plot, a menu or dialog, losing focus
        for w in (self.plot, self.plot.viewport()):
            w.installEventFilter(self)
        app = QApplication.instance()
        if app is not None:
            app.focusWindowChanged.connect(self._focus_window_changed)   # a method: disconnected with self
        self.plot.getPlotItem().getViewBox().sigRangeChanged.connect(lambda *_: self._place_labels())
        self.plot.getPlotItem().getViewBox().sigResized.connect(lambda *_: self._place_labels())

    # ------------------------------------------------------------------------------------ model
    def set_model(self, model) -> None:
        self.model = model
        self.map = None
        self.clear_markers()
        self._current_z = None
        self.rebuild()

    def rebuild(self) -> None:
        """Encode the subset with the model and project it (in the background)."""
        self.executor.cancel("latent-map")
        self.scatter.clear()
        self.thumb.hide()
        model = self.model
        if model is None:
            self.status.setText("Open a model to map its latent space.")
            return
        method = str(self.projection.currentData())
        self.status.setText("Encoding images of the model's own kind for the map…")

        def job():
            from models.latent_map import build

            return build(model, method=method)

        def done(lm) -> None:
            if model is self.model:
                self._set_map(lm)
        self.executor.submit("latent-map", job, done, self._fail, owner=self)

    def _fail(self, msg: str) -> None:
        self.status.setText(f"⚠ {msg}")
        self.message.emit(msg)

    def _set_map(self, lm) -> None:
        import pyqtgraph as pg

        self.map = lm
        brushes = [pg.mkBrush(*PALETTE[int(c) % len(PALETTE)], 200) if c >= 0 else pg.mkBrush(200, 200, 200, 200)
                   for c in lm.labels]
        self.scatter.setData(pos=lm.xy, brush=brushes, data=np.arange(len(lm)))
        import html

        self.legend_entries = list(lm.classes)
        self.legend.setText("&nbsp;&nbsp; ".join(
            f'<span style="color: rgb{PALETTE[c % len(PALETTE)]}; font-size: 14px;">●</span>&nbsp;'
            + html.escape(name).replace(" ", "&nbsp;") for c, name in enumerate(lm.classes))
            + '<br><span style="font-size: 14px;">★</span>&nbsp;current&nbsp;z'
            + f'&nbsp;&nbsp; <span style="color: rgb{IN_MARKER};">▲</span>/<span style="color: rgb{OUT_MARKER};">▲'
              '</span>&nbsp;scored image (in&nbsp;/ out of&nbsp;distribution; rest on one for its name)')
        pi = self.plot.getPlotItem()
        pi.setLabel("bottom", lm.axis_labels[0])
        pi.setLabel("left", lm.axis_labels[1])
        self.plot.autoRange()
        self.status.setText(f"{lm.source}, {lm.method.upper() if lm.method == 'pca' else 'slider axes'}; "
                            f"click a point to go there")
        self._redraw_markers()
        self.mapReady.emit(len(lm))

    # ------------------------------------------------------------------------------------ markers
    def set_current_z(self, z) -> None:
        self._current_z = None if z is None else np.asarray(z, dtype=np.float32).reshape(-1)
        self._redraw_current()

    def add_marker(self, name: str, z, verdict: str | None = None) -> None:
        """A scored image's z: a triangle coloured by verdict, labelled with its name."""
        self.markers.append((name, np.asarray(z, dtype=np.float32).reshape(-1), verdict))
        self._redraw_markers()

    def clear_markers(self) -> None:
        self.markers = []
        self._redraw_markers()

    def marker_positions(self) -> np.ndarray:
        if self.map is None or not self.markers:
            return np.zeros((0, 2), np.float32)
        return self.map.project(np.stack([z for _, z, _ in self.markers]))

    def current_position(self) -> np.ndarray | None:
        if self.map is None or self._current_z is None or self._current_z.shape[0] != self.map.z.shape[1]:
            return None
        return self.map.project(self._current_z)[0]

    def _redraw_current(self) -> None:
        pos = self.current_position()
        if pos is None:
            self.current_item.clear()
        else:
            self.current_item.setData(pos=[pos])

    def _redraw_markers(self) -> None:
        import pyqtgraph as pg

        self.marker_items.clear()
        self._redraw_current()
        if self.map is None or not self.markers:
            self._place_labels()
            return
        pos = self.marker_positions()
        brushes = [pg.mkBrush(*(OUT_MARKER if v == "out-of-distribution" else IN_MARKER if v else (200, 200, 200)))
                   for _, _, v in self.markers]
        self.marker_items.setData(pos=pos, brush=brushes, data=np.arange(len(self.markers)))
        self._place_labels()

    def _place_labels(self) -> None:
        """Name the markers whose labels fit: greedy, first scored first, no label over another (the
        rest show their names on hover)."""
        import pyqtgraph as pg

        for t in self.labels:
            self.plot.removeItem(t)
        self.labels = []
        if self.map is None or not self.markers:
            return
        vb = self.plot.getPlotItem().getViewBox()
        view = vb.sceneBoundingRect()
        fm = self.fontMetrics()
        taken: list[QRectF] = []
        for (name, _, v), p in zip(self.markers, self.marker_positions()):
            at = vb.mapViewToScene(QPointF(float(p[0]), float(p[1])))
            box = QRectF(at.x(), at.y() - fm.height() - 4, fm.horizontalAdvance(name) + 10, fm.height() + 4)
            if not view.contains(box) or any(box.intersects(r) for r in taken):
                continue
            taken.append(box)
            t = pg.TextItem(name, color=OUT_MARKER if v == "out-of-distribution" else (230, 230, 230),
                            anchor=(0, 1))
            t.setPos(float(p[0]), float(p[1]))
            self.plot.addItem(t)
            self.labels.append(t)

    def labelled_markers(self) -> list[str]:
        """The names drawn beside their markers now."""
        return [t.textItem.toPlainText() for t in self.labels]

    # ------------------------------------------------------------------------------------ pointer
    def point_at(self, view_x: float, view_y: float) -> int | None:
        """The subset point within :data:`PICK_RADIUS_PX` screen pixels of a view position, if any."""
        if self.map is None:
            return None
        vb = self.plot.getPlotItem().getViewBox()
        pw, ph = vb.viewPixelSize()
        d = ((self.map.xy[:, 0] - view_x) / max(pw, 1e-12)) ** 2 + ((self.map.xy[:, 1] - view_y) / max(ph, 1e-12)) ** 2
        i = int(np.argmin(d))
        return i if d[i] <= PICK_RADIUS_PX ** 2 else None

    def widget_pos_of(self, index: int) -> QPoint:
        """Where subset point ``index`` is on the plot widget (for tests and the thumbnail)."""
        vb = self.plot.getPlotItem().getViewBox()
        scene = vb.mapViewToScene(QPointF(float(self.map.xy[index, 0]), float(self.map.xy[index, 1])))
        return self.plot.mapFromScene(scene)

    def _on_mouse_moved(self, scene_pos) -> None:
        if self.map is None:
            return
        vb = self.plot.getPlotItem().getViewBox()
        if not vb.sceneBoundingRect().contains(scene_pos):
            self._hide_thumb()
            return
        v = vb.mapSceneToView(scene_pos)
        m = self.marker_at(v.x(), v.y())
        if m is not None:
            self.show_marker_name(m, self.plot.mapFromScene(scene_pos))
            return
        i = self.point_at(v.x(), v.y())
        if i is None:
            self._hide_thumb()
        else:
            self.show_thumbnail(i, self.plot.mapFromScene(scene_pos))

    def marker_at(self, view_x: float, view_y: float) -> int | None:
        """The scored-image marker within :data:`PICK_RADIUS_PX` screen pixels, if any (the newest)."""
        if self.map is None or not self.markers:
            return None
        pw, ph = self.plot.getPlotItem().getViewBox().viewPixelSize()
        xy = self.marker_positions()
        d = ((xy[:, 0] - view_x) / max(pw, 1e-12)) ** 2 + ((xy[:, 1] - view_y) / max(ph, 1e-12)) ** 2
        near = np.flatnonzero(d <= PICK_RADIUS_PX ** 2)
        return int(near[-1]) if near.size else None

    def marker_widget_pos(self, index: int) -> QPoint:
        p = self.marker_positions()[index]
        vb = self.plot.getPlotItem().getViewBox()
        return self.plot.mapFromScene(vb.mapViewToScene(QPointF(float(p[0]), float(p[1]))))

    def show_marker_name(self, index: int, at: QPoint) -> None:
        """The hover box for a scored image: its name and verdict."""
        name, _, verdict = self.markers[index]
        self.hovered, self.hovered_marker = None, index
        self.thumb.setPixmap(QPixmap())
        self.thumb.setText(f"{name}\n{verdict or 'not scored'}")
        self._place_thumb(at)
        self.status.setText(f"{name}: {verdict or 'not scored'}")

    def show_thumbnail(self, index: int, at: QPoint | None = None) -> None:
        lm = self.map
        self.hovered = index
        cls = lm.classes[lm.labels[index]] if 0 <= lm.labels[index] < len(lm.classes) else "?"
        self.thumb.setPixmap(pixmap(lm.images[index], max(1, 84 // max(lm.images.shape[1:3]))))
        self.thumb.setToolTip(cls)
        self.thumb.setText("")
        self.hovered_marker = None
        self._place_thumb(at if at is not None else self.widget_pos_of(index))
        self.status.setText(f"#{index}: {cls}")

    def _place_thumb(self, at: QPoint) -> None:
        self.thumb.adjustSize()
        x = at.x() + 12 if at.x() + 12 + self.thumb.width() < self.plot.width() else at.x() - 12 - self.thumb.width()
        y = max(0, min(at.y() - self.thumb.height() // 2, self.plot.height() - self.thumb.height()))
        self.thumb.move(x, y)
        self.thumb.show()
        self.thumb.raise_()

    def _hide_thumb(self) -> None:
        self.hovered = self.hovered_marker = None
        if self.thumb.isVisible():
            self.thumb.hide()

    def _focus_window_changed(self, _window) -> None:
        self._hide_thumb()

    def eventFilter(self, obj, event) -> bool:
        if event.type() in (QEvent.Type.Leave, QEvent.Type.Hide, QEvent.Type.WindowDeactivate,
                            QEvent.Type.FocusOut):
            self._hide_thumb()
        return super().eventFilter(obj, event)

    def hideEvent(self, event) -> None:
        self._hide_thumb()
        super().hideEvent(event)

    def _on_mouse_clicked(self, ev) -> None:
        if self.map is None or ev.button() != Qt.MouseButton.LeftButton:
            return
        vb = self.plot.getPlotItem().getViewBox()
        v = vb.mapSceneToView(ev.scenePos())
        i = self.point_at(v.x(), v.y())
        if i is not None:
            ev.accept()
            self.choose(i)

    def choose(self, index: int) -> None:
        """Make subset point ``index`` the current z."""
        lm = self.map
        z = lm.z[index].copy()
        self.set_current_z(z)
        cls = lm.classes[lm.labels[index]] if 0 <= lm.labels[index] < len(lm.classes) else "?"
        self.message.emit(f"Went to test image #{int(index)} ({cls})")
        self.pointChosen.emit(int(index))
        self.latentChosen.emit(z)

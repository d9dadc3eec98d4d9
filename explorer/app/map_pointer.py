"""The latent map's markers and pointer: the current z, scored images, hover previews and clicks.

A mixin of :class:`explorer.app.latent_map.LatentMapWidget` (it uses the widget's plot, map, thumb and
status).  Clicking a point makes its code the current z; clicking elsewhere on a linear (PCA) map
decodes that very point (:meth:`models.latent_map.LatentMap.inverse`, exact), and on a UMAP/t-SNE map
goes to the nearest image's code, saying so.  Ctrl+click, or a click on a scored image's marker,
rings the :data:`NEIGHBOURS` images nearest in latent space; a newly scored image's neighbours are
ringed as it arrives.  Scored images' names are drawn only where they do not overlap another name
(greedy, in the order they were scored); every marker's name and verdict show on hover.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QPixmap

from .map_legend import IN_MARKER, OUT_MARKER
from .pixmaps import pixmap

#: how close (screen pixels) the pointer must be to a point to hover or pick it
PICK_RADIUS_PX = 10
#: nearest neighbours ringed for a dropped image or a Ctrl+click
NEIGHBOURS = 20


class MarkersAndPointer:
    # ------------------------------------------------------------------------------------ markers
    def set_current_z(self, z) -> None:
        self._current_z = None if z is None else np.asarray(z, dtype=np.float32).reshape(-1)
        self._redraw_current()

    def add_marker(self, name: str, z, verdict: str | None = None) -> None:
        """A scored image's z: a triangle coloured by verdict, labelled with its name."""
        self.markers.append((name, np.asarray(z, dtype=np.float32).reshape(-1), verdict))
        self._redraw_markers()
        self.show_neighbours(self.markers[-1][1], name)

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
        if not vb.sceneBoundingRect().contains(ev.scenePos()):
            return
        v = vb.mapSceneToView(ev.scenePos())
        m = self.marker_at(v.x(), v.y())
        if m is not None:
            ev.accept()
            self.show_neighbours(self.markers[m][1], self.markers[m][0])
            return
        i = self.point_at(v.x(), v.y())
        if ev.modifiers() & Qt.KeyboardModifier.ControlModifier:
            ev.accept()
            z, what = (self.map.z[i], self._name(i)) if i is not None else (self.map.inverse(v.x(), v.y())[0], "this spot")
            self.show_neighbours(z, what)
        elif i is not None:
            ev.accept()
            self.choose(i)
        else:
            ev.accept()
            self.choose_position(v.x(), v.y())

    def choose(self, index: int) -> None:
        """Make point ``index``'s code the current z."""
        z = self.map.z[index].copy()
        self.set_current_z(z)
        self.message.emit(f"Went to {self._name(index)}'s code")
        self.pointChosen.emit(int(index))
        self.latentChosen.emit(z)

    def choose_position(self, x: float, y: float) -> None:
        """Decode the map at (x, y): exactly on a linear map, else the nearest image's code."""
        z, note = self.map.inverse(x, y)
        self.set_current_z(z)
        text = (f"Decoded the map at ({x:.2f}, {y:.2f}): {note}" if self.map.linear else note)
        self.status.setText(text)
        self.message.emit(text)
        self.latentChosen.emit(z)

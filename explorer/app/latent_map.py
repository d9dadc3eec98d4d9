"""The latent map: a data set's codes in 2-D, coloured by class or by a value, at data-set scale.

Hover a point to see its image; click one to make its z the current z -- or click anywhere on a PCA
map to decode that very point (the projection inverts exactly: ``mean + x axis1 + y axis2``); on a
UMAP or t-SNE map a click uses the nearest encoded image's code and the status says so.  The current
z (a star) and every scored image (a triangle, green in distribution, red out) are drawn in the same
projection (:mod:`models.latent_map`); a scored (dropped) image's nearest neighbours in latent space
are ringed, as are Ctrl+click's.  The toolbar (:mod:`explorer.app.map_toolbar`) picks the images
(up to all 70,000 of Fashion-MNIST), the projection, the colouring, and searches by class or index.
A rectangle selects points (:mod:`explorer.app.map_selection` shows their images and
reconstructions).  Points are drawn in colour groups (:mod:`explorer.app.map_scatter`), so 60,000
of them pan and zoom smoothly (``benchmarks/map_scale.py``).

Building the map (encoding, embedding) runs on the executor as one job with checkpoints between
batches: frames still render, progress shows in the toolbar and the status, Cancel stops it, and a
newer request supersedes it.  UMAP and t-SNE run in a child process (:mod:`models.projections`).

The hover preview lives only while the pointer is over the plot: it hides when the pointer leaves,
when a menu or dialog takes the pointer, and when the window loses focus.  Scored images' names are
drawn only where they do not overlap another name (greedy, in the order they were scored).  The
legend (:mod:`explorer.app.map_legend`) wraps between entries and never clips.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtWidgets import QApplication, QLabel, QVBoxLayout, QWidget

from models.map_picture import PALETTE  # noqa: F401  (one palette for the app's map and the CLI's)

from .map_legend import WrappedLegend, class_legend, value_legend
from .map_pointer import NEIGHBOURS, MarkersAndPointer
from .map_scatter import RAMP, GroupScatter, SelectViewBox, class_colours, value_bins
from .map_selection import SelectionGrid
from .map_toolbar import MapToolbar
from .model_executor import Progress

#: slider directions offered as colourings
COLOUR_DIRECTIONS = 6


class LatentMapWidget(MarkersAndPointer, QWidget):
    """Scatter plot of a data set's codes with markers for the current z and scored images."""

    #: the user clicked a point: its z (make it the current z)
    latentChosen = Signal(object)
    #: index of the clicked point in the map
    pointChosen = Signal(int)
    #: the map was (re)built for a model: number of points
    mapReady = Signal(int)
    message = Signal(str)
    #: the selection's first and last codes and names: make them the interpolation's endpoints
    endpointsChosen = Signal(object, object, str, str)
    #: the selection's first code: the traversal's base
    traversalChosen = Signal(object)

    def __init__(self, executor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        import pyqtgraph as pg

        self.executor = executor
        self.setObjectName("LatentMap")
        self.model = None
        self.map = None                      # models.latent_map.LatentMap
        self.directions: tuple[list[str], np.ndarray] = ([], np.zeros((0, 0), np.float32))
        self._current_z: np.ndarray | None = None
        self.markers: list[tuple[str, np.ndarray, str | None]] = []
        self.hovered: int | None = None
        self.found = np.zeros(0, np.int64)       # ringed points: search hits, selection, neighbours
        self.selection = np.zeros(0, np.int64)
        self._job = None
        self._progress = Progress()
        self._progress.changed.connect(self._on_progress)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        self.toolbar = MapToolbar()
        self.projection = self.toolbar.projection
        self.toolbar.changed.connect(self.rebuild)
        self.toolbar.colourChanged.connect(self.recolour)
        self.toolbar.searched.connect(self.search)
        self.toolbar.cancelRequested.connect(self.cancel)
        lay.addWidget(self.toolbar)
        self.status = QLabel("Open a model to map its latent space.")
        self.status.setWordWrap(True)
        self.status.setMinimumWidth(60)
        lay.addWidget(self.status)

        self.viewbox = SelectViewBox()
        self.plot = pg.PlotWidget(viewBox=self.viewbox)
        self.plot.setMinimumSize(240, 200)
        self.plot.hideButtons()
        self.plot.getPlotItem().setMenuEnabled(False)
        self.plot.setAspectLocked(False)
        lay.addWidget(self.plot, 1)
        self.points = GroupScatter(self.plot)
        self.toolbar.selectToggled.connect(lambda on: setattr(self.viewbox, "select_mode", on))
        self.viewbox.rectSelected.connect(self.select_rect)
        self.marker_items = pg.ScatterPlotItem(size=14, symbol="t1", pen=pg.mkPen("k", width=1))
        self.marker_items.setZValue(10)
        self.plot.addItem(self.marker_items)
        self.current_item = pg.ScatterPlotItem(size=20, symbol="star", pen=pg.mkPen("k", width=1.5),
                                               brush=pg.mkBrush(255, 255, 255))
        self.current_item.setZValue(11)
        self.plot.addItem(self.current_item)
        self.labels: list = []
        # the legend sits under the plot, where it never hides points or markers
        self.legend = WrappedLegend()
        self.legend_entries: list[str] = []
        lay.addWidget(self.legend)
        self.selection_grid = SelectionGrid(self.plot)     # laid over the plot's bottom
        self.selection_grid.interpolateRequested.connect(self._interpolate_selection)
        self.selection_grid.traverseRequested.connect(self._traverse_selection)
        self.selection_grid.cleared.connect(self.clear_selection)

        self.thumb = QLabel(self.plot)
        self.thumb.setStyleSheet("QLabel { background: #111; color: #ddd; border: 1px solid #888; padding: 2px; }")
        self.thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        # a pointer moving onto the preview must still reach the plot (else the preview goes stale)
        self.thumb.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
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
        self.viewbox.sigRangeChanged.connect(lambda *_: self._place_labels())
        self.viewbox.sigResized.connect(lambda *_: self._place_labels())

    # ------------------------------------------------------------------------------------ model
    def set_model(self, model) -> None:
        self.model = model
        self.map = None
        self.clear_markers()
        self._current_z = None
        if model is not None:
            from models.map_data import is_fashion_mnist_model

            self.toolbar.set_model_kind(is_fashion_mnist_model(model))
        self.rebuild()

    def rebuild(self) -> None:
        """Encode the chosen images with the model and project them (on the executor, cancellable)."""
        self.cancel(quiet=True)
        self.points.clear()
        self.clear_selection()
        self.thumb.hide()
        model = self.model
        if model is None:
            self.status.setText("Open a model to map its latent space.")
            return
        method = self.toolbar.method()
        data, split = self.toolbar.data_choice()
        self.status.setText("Encoding images for the map…")
        self.toolbar.set_busy(True, 0.0)
        progress = self._progress

        def job(handle):
            from models.latent_map import build
            from models.projections import embed_in_child

            def say(fraction: float, text: str) -> None:
                progress.changed.emit(fraction, text)
                handle.checkpoint()

            def embed(z, m, progress=None):
                return embed_in_child(z, m, poll=handle.checkpoint, progress=progress)

            lm = build(model, method=method, data=data, split=split, progress=say, embed=embed)
            dirs = model.directions()[:COLOUR_DIRECTIONS] if model.latent_dim else []
            vectors = (np.stack([d.vector.float().cpu().numpy() for d in dirs]) if dirs
                       else np.zeros((0, lm.z.shape[1]), np.float32))
            return lm, ([f"{d.name} ({d.label})" if d.label else d.name for d in dirs], vectors)

        def done(result) -> None:
            self._job = None
            if model is self.model:
                self._set_map(*result)
        self._job = self.executor.submit("latent-map", job, done, self._fail, owner=self, pass_job=True,
                                         supersede=True)

    def cancel(self, quiet: bool = False) -> None:
        """Stop the encoding or embedding under way (the map keeps what it showed before)."""
        job, self._job = self._job, None
        self.toolbar.set_busy(False)
        if job is not None and not job.finished:
            job.cancel()
            if not quiet:
                self.status.setText("Cancelled: choose images or a projection to map again.")

    def _on_progress(self, fraction: float, text: str) -> None:
        if self._job is not None:
            self.toolbar.set_busy(True, fraction)
            self.status.setText(f"{text} ({100 * fraction:.0f}%) — the map is made in the background")

    def _fail(self, msg: str) -> None:
        self._job = None
        self.toolbar.set_busy(False)
        self.status.setText(f"⚠ {msg}")
        self.message.emit(msg)

    def _set_map(self, lm, directions=None) -> None:
        self.map = lm
        self.toolbar.set_busy(False)
        if directions is not None:
            self.directions = directions
            self.toolbar.set_colour_options(directions[0])
        self.legend_entries = list(lm.classes)
        self.recolour()
        pi = self.plot.getPlotItem()
        pi.setLabel("bottom", lm.axis_labels[0])
        pi.setLabel("left", lm.axis_labels[1])
        self.plot.autoRange()
        how = {"pca": "PCA", "directions": "slider axes", "umap": "UMAP", "tsne": "t-SNE"}[lm.method]
        click = ("click anywhere to decode that point" if lm.linear else
                 "click a point to go to its code")
        self.status.setText(f"{lm.source}, {how}{' (from the map cache)' if lm.cached else ''}; {click}")
        self._redraw_markers()
        self.mapReady.emit(len(lm))

    # ------------------------------------------------------------------------------------ colour
    def colour_values(self, key: str) -> np.ndarray | None:
        """The value each point is coloured by (None for classes)."""
        lm = self.map
        if key.startswith("direction:"):
            _names, vectors = self.directions
            i = int(key.split(":")[1])
            if i < len(vectors) and vectors.shape[1] == lm.z.shape[1]:
                return lm.z @ vectors[i]
        if key == "norm":
            return np.linalg.norm(lm.z, axis=1)
        return None

    def recolour(self) -> None:
        lm = self.map
        if lm is None:
            return
        key = self.toolbar.colour_key()
        values = self.colour_values(key)
        if values is None:
            colours = class_colours(max(len(lm.classes), 1))
            self.points.set_groups(lm.xy, lm.labels, colours)
            self.legend.setText(class_legend(lm.classes, colours))
        else:
            bins, edges = value_bins(values)
            self.points.set_groups(lm.xy, bins, RAMP)
            self.legend.setText(value_legend(self.toolbar.colour.currentText().replace("Colour: ", ""), edges, RAMP))
        self._ring(self.found)

    # ------------------------------------------------------------------------------------ find, select
    def _ring(self, indices: np.ndarray) -> None:
        self.found = np.asarray(indices, np.int64)
        self.points.set_highlight(self.found if self.map is not None and len(self.found) else None)

    def search(self, query: str) -> np.ndarray:
        """Ring the points matching ``query`` (a class name or image indices) and say how many."""
        if self.map is None:
            return np.zeros(0, np.int64)
        hits = self.map.search(query)
        self._ring(hits)
        q = query.strip()
        self.status.setText(f"{len(hits):,} points match “{q}”" if len(hits) else
                            f"Nothing matches “{q}”: type a class name ({', '.join(self.map.classes[:3])}, …) "
                            "or an image index")
        return hits

    def show_neighbours(self, z, what: str) -> np.ndarray:
        """Ring the :data:`NEIGHBOURS` images whose codes are nearest to ``z``."""
        if self.map is None or np.asarray(z).size != self.map.z.shape[1]:
            return np.zeros(0, np.int64)
        near = self.map.neighbours(z, NEIGHBOURS)
        self._ring(near)
        self.status.setText(f"Ringed: the {len(near)} images nearest to {what} in latent space")
        return near

    def select_rect(self, rect: QRectF) -> np.ndarray:
        """Select the points inside ``rect`` (view coordinates): ring them, show their grid."""
        if self.map is None:
            return np.zeros(0, np.int64)
        x, y = self.map.xy[:, 0], self.map.xy[:, 1]
        inside = np.flatnonzero((x >= rect.left()) & (x <= rect.right()) & (y >= rect.top()) & (y <= rect.bottom()))
        self.select(inside)
        return inside

    def select(self, indices) -> None:
        lm, model = self.map, self.model
        self.selection = np.asarray(indices, np.int64)
        self._ring(self.selection)
        if not len(self.selection):
            self.selection_grid.clear()
            self.status.setText("Nothing selected: drag a rectangle over points")
            return
        self.selection_grid.show_selection(self.selection, lm.images[self.selection], len(self.selection))
        self.status.setText(f"{len(self.selection):,} points selected")
        z = lm.z[self.selection_grid.indices]

        def job():
            from .interpolation_export import decode_u8

            return decode_u8(model, z)

        def done(recon) -> None:
            if model is self.model and lm is self.map:
                self.selection_grid.set_reconstructions(recon)
        self.executor.submit("map-selection", job, done, self._fail, owner=self)

    def clear_selection(self) -> None:
        self.selection = np.zeros(0, np.int64)
        self.selection_grid.clear()
        if self.map is not None:
            self._ring(np.zeros(0, np.int64))

    def _name(self, i: int) -> str:
        lm = self.map
        cls = lm.classes[lm.labels[i]] if 0 <= lm.labels[i] < len(lm.classes) else "image"
        return f"{cls} #{int(lm.index[i])}"

    def _interpolate_selection(self) -> None:
        if len(self.selection) >= 2:
            a, b = int(self.selection[0]), int(self.selection[-1])
            self.endpointsChosen.emit(self.map.z[a].copy(), self.map.z[b].copy(), self._name(a), self._name(b))

    def _traverse_selection(self) -> None:
        if len(self.selection):
            i = int(self.selection[0])
            self.set_current_z(self.map.z[i])
            self.traversalChosen.emit(self.map.z[i].copy())

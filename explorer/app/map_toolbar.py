"""The latent map's toolbar: which images, which projection, what the colours mean, search, select.

* **Images**: the quick set of the model's own kind (1,500 bundled test images for Fashion-MNIST
  models), every Fashion-MNIST image (train 60,000, test 10,000, both 70,000) for models of that
  kind, or any image folder ("Image folder…").  The choice is remembered in the window's settings
  (key ``map/data``; :attr:`MapToolbar.settings`, set by the dock).  Large sets are encoded once, in the background, and cached beside the model.
* **Projection**: PCA (instant), UMAP, t-SNE (background, seeded, cached), the first two sliders.
* **Colour**: class; a slider direction's value; ‖z‖.  The OOD statistic and the likelihood are
  *not* offered: both need a scoring pass per image (IWAE with K samples; about 0.6-50 ms an image
  here), minutes for 60,000 images -- score the images you care about in the Score dock instead.
* **Search**: a class name (prefix or part of one) or image indices (``123, 4567``); Enter.
* **Select**: while on, a left drag selects a rectangle (Shift + drag does it any time).
* **Cancel**: stops the encoding or embedding under way.
"""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QWidget,
)

BUNDLED = ("bundled", "train")
FASHION_CHOICES = [("All Fashion-MNIST train (60,000)", ("fashion-mnist", "train")),
                   ("All Fashion-MNIST test (10,000)", ("fashion-mnist", "test")),
                   ("All Fashion-MNIST (70,000)", ("fashion-mnist", "all"))]
PROJECTIONS = [("PCA", "pca"), ("UMAP", "umap"), ("t-SNE", "tsne"), ("Slider axes", "directions")]


class MapToolbar(QWidget):
    changed = Signal()           # images or projection changed: rebuild the map
    colourChanged = Signal()
    searched = Signal(str)
    selectToggled = Signal(bool)
    cancelRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        self.data = QComboBox()
        self.data.setToolTip("Which images the map holds (large sets are encoded once and cached)")
        self.projection = QComboBox()
        for text, key in PROJECTIONS:
            self.projection.addItem(text, key)
        self.projection.setToolTip("PCA inverts exactly; UMAP and t-SNE show clusters (a click uses the "
                                   "nearest image's code)")
        self.colour = QComboBox()
        self.colour.setToolTip("Colour points by class, a slider direction's value, or ‖z‖ (the OOD "
                               "statistic and likelihood need a scoring pass per image: not offered)")
        self.search = QLineEdit()
        self.search.setPlaceholderText("search: class or #index")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(50)
        self.select = QPushButton("Select")
        self.select.setCheckable(True)
        self.select.setToolTip("Drag a rectangle to select points (or Shift + drag at any time)")
        self.cancel = QPushButton("Cancel")
        self.cancel.hide()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(110)
        self.progress.setTextVisible(False)
        self.progress.hide()
        # combos shrink (eliding their text) rather than widen the window: each asks for a few
        # characters and takes a share of the spare width
        for w, chars, stretch in ((self.data, 8, 3), (self.projection, 4, 1), (self.colour, 6, 2)):
            w.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            w.setMinimumContentsLength(chars)
            lay.addWidget(w, stretch)
        lay.addWidget(self.search, 2)
        for w in (self.select, self.progress, self.cancel):
            lay.addWidget(w)
        self._folder: str | None = None
        self.settings = None     # the window's QSettings (the dock sets it): remembers the image set
        self.data.activated.connect(self._data_activated)
        self.projection.currentIndexChanged.connect(lambda _i: self.changed.emit())
        self.colour.currentIndexChanged.connect(lambda _i: self.colourChanged.emit())
        self.search.returnPressed.connect(lambda: self.searched.emit(self.search.text()))
        self.select.toggled.connect(self.selectToggled.emit)
        self.cancel.clicked.connect(self.cancelRequested.emit)

    # ------------------------------------------------------------------ images
    def set_model_kind(self, fashion_mnist: bool, quick_text: str = "Images of the model's kind") -> None:
        """Fill the image choices for a model (Fashion-MNIST's sets only for models of that kind) and
        pick the remembered one where it applies."""
        self.data.blockSignals(True)
        self.data.clear()
        self.data.addItem("1,500 bundled test images" if fashion_mnist else quick_text, BUNDLED)
        if fashion_mnist:
            for text, choice in FASHION_CHOICES:
                self.data.addItem(text, choice)
        if self._folder:
            self.data.addItem(f"Folder: {self._folder}", (self._folder, "train"))
        self.data.addItem("Image folder…", None)
        remembered = self.settings.value("map/data", "") if self.settings is not None else ""
        for i in range(self.data.count()):
            d = self.data.itemData(i)
            if d is not None and "/".join(d) == remembered:
                self.data.setCurrentIndex(i)
                break
        else:
            self.data.setCurrentIndex(0)
        self.data.blockSignals(False)

    def choose_data(self, data: str, split: str = "train") -> bool:
        """Select an image set programmatically (True when offered); emits ``changed``."""
        for i in range(self.data.count()):
            if self.data.itemData(i) == (data, split):
                self.data.setCurrentIndex(i)
                self._data_activated(i)
                return True
        return False

    def data_choice(self) -> tuple[str | None, str]:
        d = self.data.currentData()
        if not d or d[0] == "bundled":
            return None, "train"
        return d[0], d[1]

    def _data_activated(self, index: int) -> None:
        if self.data.itemData(index) is None:      # "Image folder…"
            folder = QFileDialog.getExistingDirectory(self, "Map the images of a folder")
            if not folder:
                self.data.setCurrentIndex(0)
                return
            self._folder = folder
            self.data.insertItem(self.data.count() - 1, f"Folder: {folder}", (folder, "train"))
            self.data.setCurrentIndex(self.data.count() - 2)
        d = self.data.currentData()
        if self.settings is not None:
            self.settings.setValue("map/data", "/".join(d) if d else "")
        self.changed.emit()

    # ------------------------------------------------------------------ projection, colour
    def method(self) -> str:
        return str(self.projection.currentData())

    def set_method(self, method: str) -> None:
        i = self.projection.findData(method)
        if i >= 0:
            self.projection.setCurrentIndex(i)

    def set_colour_options(self, directions: list[str]) -> None:
        """Class, each direction's value, ‖z‖ (keeps the current choice when still offered)."""
        current = self.colour.currentData()
        self.colour.blockSignals(True)
        self.colour.clear()
        self.colour.addItem("Colour: class", "class")
        for i, name in enumerate(directions):
            self.colour.addItem(f"Colour: {name}", f"direction:{i}")
        self.colour.addItem("Colour: ‖z‖", "norm")
        i = self.colour.findData(current)
        self.colour.setCurrentIndex(max(i, 0))
        self.colour.blockSignals(False)

    def colour_key(self) -> str:
        return str(self.colour.currentData() or "class")

    # ------------------------------------------------------------------ busy
    def set_busy(self, busy: bool, fraction: float = 0.0) -> None:
        self.cancel.setVisible(busy)
        self.progress.setVisible(busy)
        self.progress.setValue(int(1000 * max(0.0, min(1.0, fraction))))

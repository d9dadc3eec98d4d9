"""The class selector: which class a class-conditional model draws, shown only for such models.

A combo box ("Any class", then the model's classes).  Choosing a class sets it on the model as a
control job on the model executor (``model.set_default_class``: like a device move, no job sees the
model change under it), then tells the state (``ExplorerState.set_class``), which renders the frame
again and tells every selector and view (``class_changed``): the canvas, the sampling grid, the
interpolation, the traversal all draw the chosen class.  "Any class" is the model's trained
class-agnostic mode (:mod:`models.conditional`).  Several selectors (the sampling and interpolation
panels) follow the one state.
"""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget
from superqt.utils import signals_blocked

#: the combo's item data for "Any class" (Qt item data cannot be None)
ANY = -1


class ClassSelector(QWidget):
    """A labelled combo of the open model's classes; hidden unless the model is class-conditional."""

    #: the state's class changed (an index, or None for any class): views redraw what they show
    changed = Signal(object)

    def __init__(self, executor, state=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("class-selector")
        self.executor = executor
        self.state = None
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(QLabel("Class"))
        self.combo = QComboBox()
        self.combo.setToolTip("The class the conditional model draws (canvas, samples, interpolation, "
                              "traversal); 'Any class' draws from the whole data set")
        self.combo.activated.connect(lambda i: self.choose(self._index_at(i)))
        lay.addWidget(self.combo, 1)
        self.setVisible(False)
        if state is not None:
            self.bind(state)

    def bind(self, state) -> None:
        """Follow ``state``: its model (show or hide, list the classes) and its class."""
        self.state = state
        state.model_changed.connect(self._model_changed)
        state.class_changed.connect(self._follow)
        if state.loaded is not None:
            self._model_changed(state.loaded)

    def choose(self, index: int | None) -> None:
        """Make the open model draw class ``index`` (None: any class)."""
        state = self.state
        model = state.model if state is not None else None
        if model is None or not getattr(model, "conditional", False):
            return

        def done(_result) -> None:
            if state.model is model:
                state.set_class(index)
        self.executor.submit("class", lambda: model.set_default_class(index), done,
                             lambda msg: state.say(f"Could not change the class: {msg}"), lane="control")

    # ------------------------------------------------------------------ following the state
    def _model_changed(self, loaded) -> None:
        from models.conditional import names

        model = loaded.model
        conditional = bool(getattr(model, "conditional", False))
        with signals_blocked(self.combo):
            self.combo.clear()
            if conditional:
                self.combo.addItem("Any class", ANY)
                for i, name in enumerate(names(model)):
                    self.combo.addItem(name, i)
        self.setVisible(conditional)
        self._follow(self.state.class_index, emit=False)

    def _follow(self, index, emit: bool = True) -> None:
        i = self.combo.findData(ANY if index is None else int(index))
        if i >= 0:
            with signals_blocked(self.combo):
                self.combo.setCurrentIndex(i)
        if emit:
            self.changed.emit(index)

    def _index_at(self, i: int) -> int | None:
        data = self.combo.itemData(i)
        return None if data is None or int(data) == ANY else int(data)

"""The interpolation panel's class blend: "Blend class [from] → [to]", shown only for class-conditional
models.

Checked, the strip holds z at endpoint A and moves the class from one to the other over the frames --
the path ``latent-explorer interpolate --class-from A --class-to B`` draws
(:func:`models.conditional.class_blend_frames`, run by the panel's frames job on the model executor).
The widget only says which two classes; it calls no model.
"""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QWidget
from superqt.utils import signals_blocked


class ClassBlend(QWidget):
    """A check box and two class combos; hidden unless the model is class-conditional."""

    #: the blend was turned on or off, or one of its classes changed
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("class-blend")
        self.conditional = False
        self.names: list[str] = []
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.check = QCheckBox("Blend class")
        self.check.setToolTip("Hold z at endpoint A and move the class from the first to the second over "
                              "the frames (like `interpolate --class-from … --class-to …`)")
        self.from_combo, self.to_combo = QComboBox(), QComboBox()
        self.from_combo.setToolTip("The class of the first frame")
        self.to_combo.setToolTip("The class of the last frame")
        self.arrow = QLabel("→")
        for w in (self.check, self.from_combo, self.arrow, self.to_combo):
            lay.addWidget(w)
        self.check.toggled.connect(self._toggled)
        self.from_combo.activated.connect(lambda _i: self._edited())
        self.to_combo.activated.connect(lambda _i: self._edited())
        self._toggled(False)
        self.setVisible(False)

    def set_model(self, model) -> None:
        """List ``model``'s classes (first → second) and show the blend, unchecked; hide it for an
        unconditional model (or none)."""
        from models.conditional import names

        self.conditional = bool(getattr(model, "conditional", False)) and int(getattr(model, "n_classes", 0)) > 1
        self.names = names(model) if self.conditional else []
        with signals_blocked(self.check), signals_blocked(self.from_combo), signals_blocked(self.to_combo):
            self.check.setChecked(False)
            for combo in (self.from_combo, self.to_combo):
                combo.clear()
                if self.conditional:
                    for i, name in enumerate(self.names):
                        combo.addItem(name, i)
            if self.conditional:
                self.to_combo.setCurrentIndex(1)
        self._toggled(False, emit=False)
        self.setVisible(self.conditional)

    def classes(self) -> tuple[int, int] | None:
        """``(from, to)`` class indices while the blend is on, else None."""
        if not (self.conditional and self.check.isChecked()):
            return None
        return int(self.from_combo.currentData()), int(self.to_combo.currentData())

    def describe(self, classes: tuple[int, int]) -> str:
        """"class Sneaker → Bag"."""
        return f"class {self.names[classes[0]]} → {self.names[classes[1]]}"

    def ends(self, endpoints: dict, frames, classes: tuple[int, int] | None) -> dict[str, tuple]:
        """What the endpoint thumbnails show, ``{key: (image, label)}``: each endpoint as it was set, or, for
        frames drawn as a class blend (``classes``), the strip's ends -- A's z in the first and last class."""
        if classes is None or frames is None:
            return {k: (ep.image, f"{k}: {ep.label}") for k, ep in endpoints.items() if ep is not None}
        a = endpoints["A"].label if endpoints["A"] is not None else "A"
        return {"A": (frames[0], f"A: {a}, {self.names[classes[0]]}"),
                "B": (frames[-1], f"B: the same z, {self.names[classes[1]]}")}

    def set_classes(self, class_from: int | None, class_to: int | None) -> None:
        """Turn the blend on between two classes (off when either is None or not the model's), quietly:
        the caller draws the strip again."""
        i, j = self.from_combo.findData(class_from), self.to_combo.findData(class_to)
        on = self.conditional and class_from is not None and class_to is not None and i >= 0 and j >= 0
        with signals_blocked(self.check), signals_blocked(self.from_combo), signals_blocked(self.to_combo):
            if on:
                self.from_combo.setCurrentIndex(i)
                self.to_combo.setCurrentIndex(j)
            self.check.setChecked(on)
        self._toggled(on, emit=False)

    def _toggled(self, on: bool, emit: bool = True) -> None:
        for w in (self.from_combo, self.arrow, self.to_combo):
            w.setEnabled(bool(on))
        if emit:
            self.changed.emit()

    def _edited(self) -> None:
        if self.check.isChecked():
            self.changed.emit()

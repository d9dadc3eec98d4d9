"""Undo and redo of latent changes (a ``QUndoStack`` that listens to the explorer state).

Every change of the current point -- a slider, Reset, Randomize, a click on the latent map, a scored
image, a loaded JSON state -- becomes one undo step.  A slider *drag* is one step, not hundreds:
consecutive changes of the same single slider less than :data:`MERGE_WINDOW_S` apart are merged.
Opening another model clears the history (its latents have another meaning).

Each step is named for the Edit menu ("Undo Move slider 'z3'", "Undo Jump to scored image"): a
single slider's change names the slider; a change the caller announced with :meth:`LatentHistory.expect`
takes that name; any other is "Jump to another point".  Undo and redo say what they did
(:attr:`LatentHistory.message`, shown in the status bar).
"""
from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

#: changes of the same slider closer together than this (seconds) merge into one undo step, unless
#: the slider was released in between (:meth:`LatentHistory.seal`)
MERGE_WINDOW_S = 2.0
_MERGE_ID = 0x5E1


class LatentChange(QUndoCommand):
    def __init__(self, history: "LatentHistory", old: np.ndarray, new: np.ndarray, slider: int | None,
                 label: str | None = None) -> None:
        super().__init__(label or _describe(old, new, slider, history.names))
        self.history, self.old, self.new, self.slider = history, old, new, slider
        self.at = time.monotonic()
        self._first = True

    def id(self) -> int:  # noqa: A003 - Qt's name
        return _MERGE_ID if self.slider is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt override
        if not isinstance(other, LatentChange) or other.slider != self.slider or self.slider is None:
            return False
        if other.at - self.at > MERGE_WINDOW_S:
            return False
        self.new, self.at = other.new, other.at
        self.setText(_describe(self.old, self.new, self.slider, self.history.names))
        return True

    def redo(self) -> None:
        if self._first:          # the change already happened; pushing only records it
            self._first = False
            return
        self.history._apply(self.new)
        self.history.message.emit(f"Redid {self.text()}")

    def undo(self) -> None:
        self.history._apply(self.old)
        self.history.message.emit(f"Undid {self.text()}")


def _describe(old: np.ndarray, new: np.ndarray, slider: int | None, names: list[str]) -> str:
    if slider is not None:
        name = names[slider] if slider < len(names) else str(slider)
        return f"Move slider '{name}'"
    if not np.any(new):
        return "Reset sliders"
    return "Jump to another point"


class LatentHistory(QObject):
    """Records the state's latent changes on :attr:`stack`; undo/redo set the state back."""

    #: what an undo or redo did ("Undid Move slider 'z3'"), for the status bar
    message = Signal(str)

    def __init__(self, state, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._expected: str | None = None
        self.state = state
        self.stack = QUndoStack(self)
        self.stack.setUndoLimit(500)
        self.names: list[str] = []
        self._last: np.ndarray | None = None
        self._applying = False
        state.model_changed.connect(self._model_changed)
        state.values_changed.connect(self._values_changed)
        if state.loaded is not None:
            self._model_changed(state.loaded)
            self._last = state.values

    def _model_changed(self, loaded) -> None:
        self.stack.clear()
        self.names = list(getattr(loaded, "names", []))
        self._last = None

    def _values_changed(self, values) -> None:
        new = np.asarray(values, dtype=np.float32).copy()
        old, self._last = self._last, new
        if self._applying or old is None or old.shape != new.shape or np.array_equal(old, new):
            return
        changed = np.flatnonzero(old != new)
        slider = int(changed[0]) if changed.size == 1 and self._expected is None else None
        label, self._expected = self._expected, None
        self.stack.push(LatentChange(self, old, new, slider, label))

    def expect(self, label: str) -> None:
        """Name the next change (made right after this call, in the same turn of the event loop)."""
        self._expected = label
        QTimer.singleShot(0, self._forget)

    def _forget(self) -> None:
        self._expected = None

    def _apply(self, values: np.ndarray) -> None:
        if self.state.loaded is None or self.state.loaded.latent_dim != values.shape[0]:
            return
        self._applying = True
        try:
            self.state.set_values(values)
        finally:
            self._applying = False

    def seal(self) -> None:
        """End the current merge run (e.g. when a slider is released)."""
        cmd = self.stack.command(self.stack.count() - 1) if self.stack.count() else None
        if isinstance(cmd, LatentChange):
            cmd.at = -1e9

"""The Device menu: one checkable entry per device torch can use here; choosing one moves the model."""
from __future__ import annotations

from typing import Callable

from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu


def same_device(a: str | None, b: str | None) -> bool:
    """``"cuda"`` and ``"cuda:0"`` are the same device."""
    if a is None or b is None:
        return False
    norm = lambda d: d if ":" in d or d in ("cpu", "mps") else f"{d}:0"  # noqa: E731
    return norm(str(a)) == norm(str(b))


class DeviceMenu:
    def __init__(self, menu: QMenu, move_to: Callable[[str], None]) -> None:
        self.menu, self.move_to = menu, move_to
        self.group = QActionGroup(menu)
        self.group.setExclusive(True)
        self._devices: list[str] = []
        self._current: str | None = None
        self.set_devices(["cpu"])

    def set_devices(self, devices: list[str]) -> None:
        if list(devices) == self._devices:
            return
        self._devices = list(devices)
        for a in self.group.actions():
            self.group.removeAction(a)
        self.menu.clear()
        for name in self._devices:
            a = self.menu.addAction(name.upper() if name == "cpu" else name)
            a.setData(name)
            a.setCheckable(True)
            a.setChecked(same_device(name, self._current))
            a.setStatusTip(f"Move the model to {name}")
            a.triggered.connect(lambda _=False, name=name: self.move_to(name))
            self.group.addAction(a)

    def check(self, device: str) -> None:
        """Tick the entry of the device the model is on now."""
        self._current = device
        for a in self.group.actions():
            a.setChecked(same_device(a.data(), device))

    def actions(self) -> dict[str, QAction]:
        return {a.data(): a for a in self.group.actions()}

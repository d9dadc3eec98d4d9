"""File → Open Recent: the last few checkpoints opened, kept in the app's settings."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtWidgets import QMenu

MAX_RECENT = 8


class RecentFiles:
    """The list in ``settings`` under ``recent_files``, shown in ``menu`` (refilled when it opens)."""

    def __init__(self, settings, menu: QMenu, open_file: Callable[[str], None]) -> None:
        self.settings, self.menu, self.open_file = settings, menu, open_file
        menu.aboutToShow.connect(self.fill)
        self.fill()

    def files(self) -> list[str]:
        value = self.settings.value("recent_files", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def add(self, path: str | Path) -> None:
        p = str(Path(path).resolve())
        files = [p] + [f for f in self.files() if f != p]
        self.settings.setValue("recent_files", files[:MAX_RECENT])
        self.settings.sync()
        self.fill()

    def clear(self) -> None:
        self.settings.setValue("recent_files", [])
        self.fill()

    def fill(self) -> None:
        self.menu.clear()
        files = self.files()
        for i, f in enumerate(files):
            a = self.menu.addAction(f"&{i + 1} {Path(f).name}")
            a.setToolTip(f)
            a.setStatusTip(f)
            a.triggered.connect(lambda _=False, f=f: self.open_file(f))
        if files:
            self.menu.addSeparator()
            self.menu.addAction("Clear Recent", self.clear)
        else:
            self.menu.addAction("(none yet)").setEnabled(False)

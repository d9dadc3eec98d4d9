"""The one place where files reach the window: drops, paste and file dialogs are routed by suffix.

Handlers are registered with the suffixes they take (checkpoints open a model, images and ``.npy``
arrays are scored, the list of image suffixes comes from ``models.intake``); a file nobody takes gets
one message naming it and what the window does take.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable


class DropRouter:
    """Suffix -> handler.  ``on_refused(path, accepted_suffixes)`` is told about files nobody takes."""

    def __init__(self, on_refused: Callable[[Path, list[str]], None]) -> None:
        self._handlers: list[tuple[tuple[str, ...], Callable[[Path], object], str]] = []
        self._folder_handler: Callable[[Path], object] | None = None
        self._on_refused = on_refused

    def register(self, suffixes: Iterable[str], handler: Callable[[Path], object], description: str = "") -> None:
        """Files ending in one of ``suffixes`` go to ``handler(path)``; later registrations win."""
        self._handlers.insert(0, (tuple(s.lower() for s in suffixes), handler, description))

    def register_folder(self, handler: Callable[[Path], object]) -> None:
        """Folders whose name no suffix handler takes go to ``handler(path)``."""
        self._folder_handler = handler

    def handler_for(self, path: Path) -> Callable[[Path], object] | None:
        name = Path(path).name.lower()
        for suffixes, handler, _ in self._handlers:
            if name.endswith(suffixes):
                return handler
        if self._folder_handler is not None and Path(path).is_dir():
            return self._folder_handler
        return None

    def accepted(self) -> list[str]:
        return sorted({s for suffixes, _, _ in self._handlers for s in suffixes})

    def route(self, paths: Iterable[Path]) -> bool:
        """Hand each path to its handler; True if any was taken."""
        taken = False
        for p in paths:
            p = Path(p)
            handler = self.handler_for(p)
            if handler is None:
                self._on_refused(p, self.accepted())
                continue
            handler(p)
            taken = True
        return taken


def paths_of(mime) -> list[Path]:
    """The local files a drag, drop or clipboard ``QMimeData`` carries."""
    if mime is None or not mime.hasUrls():
        return []
    return [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]

"""The start-up probe's first half: with ``LATENT_EXPLORER_STARTUP_PROBE=1`` (:data:`explorer.app.STARTUP_PROBE_ENV`)
the app prints ``window-painted <unix time>`` when its main window is painted for the first time (the
window is on the screen, whether or not the model has finished loading), then ``first-frame <unix
time>`` when the canvas has painted the model's first frame, and quits.  ``latent-explorer bench``
times both from the moment it spawned the process (``time_to_window_ms``, ``startup_s``).
"""
from __future__ import annotations

import time


def report_window_painted(win) -> None:
    """Print ``window-painted <unix time>`` at ``win``'s first paint event (once)."""
    from PySide6.QtCore import QEvent, QObject

    class _FirstPaint(QObject):
        def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
            if event.type() == QEvent.Type.Paint:
                obj.removeEventFilter(self)
                print(f"window-painted {time.time():.6f}", flush=True)
            return False

    win.installEventFilter(_FirstPaint(win))

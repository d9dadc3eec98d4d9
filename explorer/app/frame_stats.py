"""The status bar's frame time and rate: request -> pixels on screen, measured per frame.

A frame is *pending* from the moment it is handed to the canvas until the canvas reports it painted
(``Canvas.shown(token)``).  The frame must be registered as pending **before** the canvas is given
its pixels: the canvas repaints at once and emits ``shown`` from inside ``set_image``, so a frame
registered afterwards would be compared with the previous one and dropped (the label then froze at
the first frame's time).
"""
from __future__ import annotations

import time
from collections import deque


class FrameStats:
    """Latency of the last shown frame and frames painted in the last second."""

    def __init__(self, window_s: float = 1.0) -> None:
        self.window_s = window_s
        self.last_ms = 0.0
        self._pending = None
        self._painted: deque[float] = deque(maxlen=240)

    def expect(self, frame) -> None:
        """``frame`` (with ``token`` and ``requested_at``) is about to reach the canvas."""
        self._pending = frame

    def shown(self, token: int, painted_at: float):
        """The canvas painted the frame with ``token``: that frame if it was the one expected, else None."""
        f = self._pending
        if f is None or f.token != token:
            return None
        self._pending = None
        self.last_ms = (painted_at - f.requested_at) * 1000.0
        self._painted.append(painted_at)
        return f

    def fps(self, now: float | None = None) -> float:
        now = time.perf_counter() if now is None else now
        return float(sum(1 for t in self._painted if now - t <= self.window_s))

    def text(self) -> str | None:
        """The label's text, or None before the first frame."""
        if not self._painted:
            return None
        fps = self.fps()
        return f"frame {self.last_ms:.1f} ms" + (f" · {fps:.0f} fps" if fps else "")

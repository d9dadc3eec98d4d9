"""The latent map's legend: a label that wraps between entries and never clips, and its contents.

A plain wrapped ``QLabel`` in a dock reports one line's height and paints over what is below it;
:class:`WrappedLegend` reserves the height its wrapped text needs at its width.  Entries keep their
words together (non-breaking spaces), so a line breaks between entries, never inside one.
"""
from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSizePolicy

IN_MARKER = (60, 200, 90)
OUT_MARKER = (240, 60, 50)


class WrappedLegend(QLabel):
    """A rich-text label that wraps and keeps the height its wrapped text needs at its width."""

    def __init__(self) -> None:
        super().__init__()
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)

    def setText(self, text: str) -> None:
        super().setText(text)
        self._fit()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        if self.width() < 40:          # not laid out yet
            return
        h = self.heightForWidth(self.width()) if self.text() else 0
        if h > 0 and h != self.height():
            self.setFixedHeight(h)


def _entry(colour, name: str) -> str:
    return (f'<span style="color: rgb{tuple(colour)}; font-size: 14px;">●</span>&nbsp;'
            + html.escape(name).replace(" ", "&nbsp;"))


MARKERS_LINE = ('<br><span style="font-size: 14px;">★</span>&nbsp;current&nbsp;z'
                f'&nbsp;&nbsp; <span style="color: rgb{IN_MARKER};">▲</span>/<span style="color: rgb{OUT_MARKER};">▲'
                '</span>&nbsp;scored image (in&nbsp;/ out of&nbsp;distribution; rest on one for its name)'
                '&nbsp;&nbsp; ○&nbsp;found, selected or nearest')


def class_legend(names: list[str], colours: list[tuple[int, int, int]]) -> str:
    return "&nbsp;&nbsp; ".join(_entry(c, n) for n, c in zip(names, colours)) + MARKERS_LINE


def value_legend(title: str, edges, colours: list[tuple[int, int, int]]) -> str:
    """A ramp: each colour with the range of values it stands for (quantile bins)."""
    parts = [_entry(c, f"{edges[i]:.2g}…{edges[i + 1]:.2g}") for i, c in enumerate(colours)]
    return html.escape(title).replace(" ", "&nbsp;") + ":&nbsp; " + "&nbsp; ".join(parts) + MARKERS_LINE

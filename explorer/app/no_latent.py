"""A model without a latent (``latent_dim == 0``, e.g. a PixelCNN): the latent views step aside.

Sliders, the latent map, interpolation and traversal all move through z, which such a model does not
have.  While one is open their docks are hidden (and shown again, as they were, when a model with a
latent opens), the canvas says why and what still works, and no frame is requested (there is nothing
to decode).  Sampling and scoring -- likelihood, verdict -- stay.
"""
from __future__ import annotations

from PySide6.QtCore import QObject

#: the window's docks that show or move through z
LATENT_DOCKS = ("latent_dock", "map_dock", "interpolation_dock", "traversal_dock")


def has_latent(loaded) -> bool:
    return loaded is not None and int(loaded.latent_dim) > 0


class NoLatentViews(QObject):
    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self._hidden: list[str] = []
        window.state.model_changed.connect(self._model_changed)

    def show_hidden(self) -> None:
        """Show again the docks this class hid (they were visible before a model without a latent)."""
        for attr in self._hidden:
            getattr(self.window, attr).show()
        self._hidden = []

    def _model_changed(self, loaded) -> None:
        w = self.window
        if has_latent(loaded):
            self.show_hidden()
            return
        # the docks hidden here are hidden for the model, not by the user: the saved layout keeps them
        keeper = getattr(w, "layout_keeper", None)
        if keeper is not None and self.show_hidden not in keeper.before_save:
            keeper.before_save.append(self.show_hidden)
        for attr in LATENT_DOCKS:
            dock = getattr(w, attr, None)
            if dock is not None and dock.isVisible():
                dock.hide()
                self._hidden.append(attr)
        family = getattr(loaded.model, "family", "")
        w.canvas.set_overlay(f"{loaded.title} has no latent code ({family} model), so there are no sliders, "
                             f"latent map or interpolation.\nDraw samples in Sampling; score images in Score "
                             f"(likelihood and verdict).")

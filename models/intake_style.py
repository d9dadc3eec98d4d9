"""What a model expects of a picture: its shape (C, H, W), the framing, the background for transparency.

:func:`style_for` reads it from the model's checkpoint metadata, so that :mod:`models.intake` makes
any picture into the model's input the way the model's own training data was made:

* ``dataset.name`` is Fashion-MNIST (or the model records no data set and is 1x28x28, that data
  set's shape): :data:`FASHION_MNIST` framing -- light objects on black, cropped to content, the
  longer side filling the frame, centred (:mod:`models.framing`);
* anything else: :data:`FIT` -- transparency composited on the recorded ``dataset.background``
  (training writes ``"white (transparent pixels composited on RGB 255, 255, 255)"``; an (r, g, b)
  list is accepted too; white when nothing is recorded, as :mod:`models.data` reads folders),
  centre-cropped to the aspect H:W and resized with Lanczos.

No I/O and no torch here: a small value type and the rule that fills it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import LatentExplorerError
from .framing import aspect

SIZE = 28
#: The largest side intake produces (models larger than this do not exist here).
MAX_SIDE = 4096
#: Framing pictures like Fashion-MNIST, or fitting them like a training folder (see the docstring).
FASHION_MNIST, FIT = "fashion-mnist", "fit"
#: Transparent pixels go onto this colour when the checkpoint records no background (as in models.data).
WHITE = (255, 255, 255)


class IntakeError(LatentExplorerError):
    """An image could not be taken in; the message says why and what to do."""


@dataclass(frozen=True)
class IntakeStyle:
    """How pictures become a model's input: its shape, the framing, the background for transparency."""

    shape: tuple[int, int, int] = (1, SIZE, SIZE)
    framing: str = FASHION_MNIST                       # FASHION_MNIST or FIT
    background: tuple[int, int, int] = WHITE
    background_name: str = "white"

    def describe(self) -> str:
        """One line for a user: what happens to a picture dropped on this model."""
        c, h, w = self.shape
        if self.framing == FASHION_MNIST:
            return f"pictures are framed like Fashion-MNIST ({w}x{h} grey, light on black, centred)"
        return (f"pictures are centre-cropped to {aspect(h, w)}, resized to {w}x{h} ({'colour' if c == 3 else 'grey'}), "
                f"transparency on {self.background_name}")


def _dataset_name(metadata: dict) -> str | None:
    ds = metadata.get("dataset")
    name = ds.get("name") if isinstance(ds, dict) else ds
    if not name:
        name = (metadata.get("training") or {}).get("data") if isinstance(metadata.get("training"), dict) else None
    return str(name).lower() if name else None


def _background(metadata: dict) -> tuple[tuple[int, int, int], str]:
    """The recorded training background: an (r, g, b) list, or text such as ``"white (... RGB 255,
    255, 255)"`` (what training writes); white when nothing usable is recorded."""
    ds = metadata.get("dataset")
    bg = ds.get("background") if isinstance(ds, dict) else None
    if isinstance(bg, (list, tuple)) and len(bg) == 3 and all(isinstance(v, (int, float)) for v in bg):
        rgb = tuple(int(min(max(v, 0), 255)) for v in bg)
        return rgb, "white" if rgb == WHITE else f"RGB {rgb[0]}, {rgb[1]}, {rgb[2]}"  # type: ignore[return-value]
    if isinstance(bg, str):
        m = re.search(r"(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})", bg)
        if m:
            rgb = tuple(min(int(v), 255) for v in m.groups())
            word = bg.split("(")[0].strip()
            return rgb, (word if word and len(word) <= 20 else f"RGB {rgb[0]}, {rgb[1]}, {rgb[2]}")  # type: ignore[return-value]
    return WHITE, "white"


def style_for(model=None, image_shape: tuple[int, int, int] | None = None) -> IntakeStyle:
    """The :class:`IntakeStyle` of ``model`` (from its shape and checkpoint metadata), or of a bare
    ``image_shape``: 1x28x28 framed like Fashion-MNIST, anything else fitted on white."""
    if model is not None:
        image_shape = tuple(model.image_shape)
    shape = tuple(int(v) for v in (image_shape or (1, SIZE, SIZE)))
    if len(shape) != 3 or shape[0] not in (1, 3) or not all(1 <= v <= MAX_SIDE for v in shape[1:]):
        raise IntakeError(f"images of shape {'x'.join(map(str, shape))} cannot be taken in: a model's images are "
                          f"C x H x W with C = 1 (grey) or 3 (colour) and H, W up to {MAX_SIDE}")
    metadata = dict(getattr(model, "metadata", None) or {})
    dataset = _dataset_name(metadata)
    if dataset is None:   # nothing recorded: the shape's convention
        fmnist = shape == (1, SIZE, SIZE)
    else:
        fmnist = dataset in ("fashion-mnist", "fmnist") and shape[0] == 1
    background, background_name = _background(metadata)
    return IntakeStyle(shape, FASHION_MNIST if fmnist else FIT, background, background_name)  # type: ignore[arg-type]

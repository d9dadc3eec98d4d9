"""Desktop habits: copy the image, save and load the latent state as JSON, keep the window layout.

* ``latent_state_json`` / ``read_latent_state``: the current point as a small JSON file (the model it
  belongs to, z, and the slider values), written atomically; loading checks the latent size and
  says what is wrong in one sentence.
* :class:`LayoutKeeper`: saves the window's geometry and dock layout (``saveGeometry``/``saveState``)
  when it closes and restores them when it opens, in the app's settings.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QByteArray, QEvent, QObject
from PySide6.QtGui import QGuiApplication

from models.errors import LatentExplorerError

FORMAT = "latent-explorer/latent-state"
VERSION = 1
LAYOUT_VERSION = 1
MAX_STATE_BYTES = 1 << 20


class LatentStateError(LatentExplorerError, ValueError):
    """A latent-state file cannot be used; the message says why."""


def latent_state_json(loaded, values: np.ndarray) -> str:
    """The JSON text of a latent state for ``loaded`` (a LoadedModel) at slider ``values``."""
    z = loaded.z_from_values(values)
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "model": {"name": loaded.name, "family": loaded.family, "latent_dim": int(loaded.latent_dim),
                  "file": str(loaded.path) if loaded.path else None},
        "z": [round(float(v), 7) for v in z],
        "slider_values": [round(float(v), 7) for v in values],
        "saved": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    return json.dumps(doc, indent=1)


def save_latent_state(path: str | Path, loaded, values: np.ndarray) -> Path:
    from models.atomic_io import atomic_write_bytes

    atomic_write_bytes(path, latent_state_json(loaded, values).encode("utf-8"))
    return Path(path)


def read_latent_state(path: str | Path, latent_dim: int) -> tuple[np.ndarray, dict[str, Any]]:
    """(z, the file's model record) from a latent-state file; :class:`LatentStateError` if unusable."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_STATE_BYTES:
            raise LatentStateError(f"{path.name}: too large for a latent-state file")
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LatentStateError(f"{path.name}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LatentStateError(f"{path.name}: not a JSON file ({exc})") from None
    except OSError as exc:
        raise LatentStateError(f"{path.name}: cannot be read ({exc.strerror or exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise LatentStateError(f"{path.name}: not a Latent Explorer latent-state file")
    z = doc.get("z")
    if not isinstance(z, list) or not all(isinstance(v, (int, float)) for v in z):
        raise LatentStateError(f"{path.name}: its \"z\" is not a list of numbers")
    if len(z) != latent_dim:
        model = doc.get("model") or {}
        raise LatentStateError(f"{path.name}: it holds a {len(z)}-d latent (saved for "
                               f"{model.get('name', 'another model')}); the open model has {latent_dim} latents")
    if not all(math.isfinite(v) for v in z):
        raise LatentStateError(f"{path.name}: its \"z\" contains NaN or infinite values")
    return np.asarray(z, dtype=np.float32), dict(doc.get("model") or {})


def copy_image(image: np.ndarray, scale: int = 8) -> bool:
    """Put the (H, W) uint8 image on the clipboard, upscaled crisp ``scale`` times."""
    from .pixmaps import pixmap

    if image is None:
        return False
    QGuiApplication.clipboard().setPixmap(pixmap(image, scale))
    return True


class LayoutKeeper(QObject):
    """Restores a main window's geometry and dock layout from settings; saves them when it closes."""

    def __init__(self, window, settings) -> None:
        super().__init__(window)
        self.window, self.settings = window, settings
        self.on_close: list = []          # callables run when the window closes (after saving)
        self.before_save: list = []       # callables that put the layout as the user chose it (before saving)
        window.installEventFilter(self)

    def restore(self) -> bool:
        geom, state = self.settings.value("window/geometry"), self.settings.value("window/state")
        ok = False
        if isinstance(geom, (QByteArray, bytes)) and len(geom):
            ok = bool(self.window.restoreGeometry(QByteArray(geom)))
        if isinstance(state, (QByteArray, bytes)) and len(state):
            ok = bool(self.window.restoreState(QByteArray(state), LAYOUT_VERSION)) or ok
        return ok

    def save(self) -> None:
        for fn in self.before_save:
            fn()
        self.settings.setValue("window/geometry", self.window.saveGeometry())
        self.settings.setValue("window/state", self.window.saveState(LAYOUT_VERSION))
        self.settings.sync()

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt override
        if obj is self.window and event.type() == QEvent.Type.Close:
            self.save()
            for fn in self.on_close:
                fn()
        return False

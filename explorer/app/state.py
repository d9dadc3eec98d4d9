"""The explorer's state: which model is open and where in its latent space we are.

One :class:`ExplorerState` per window.  Views (the latent dock, the sampling panel, the canvas, the
issue-5 panels) *listen* to it and *ask* it for changes; none of them talks to another view.  This is
napari's layering: a model of the state, views that subscribe to it.

The state never calls torch.  A model's directions are turned into a numpy basis once, when the
model is loaded on the worker thread (:meth:`LoadedModel.build`); from then on slider values and
latent codes are plain numpy arrays:

    values = basis.T @ z        z = basis @ values

Signals (all emitted on the GUI thread):

* ``model_changed(LoadedModel)`` — a new model is current (the dock rebuilds, panels reset);
* ``values_changed(ndarray)`` — the current point moved (a copy of the slider values), on every
  slider event: keep its listeners cheap;
* ``values_settled(ndarray)`` — the same, throttled (at most every 40 ms during a drag, plus once with
  the final values): for listeners that redraw plots;
* ``frame_rendered(Frame)`` — a new frame reached the canvas;
* ``device_changed(str)`` — the model now lives on another device;
* ``class_changed(int | None)`` — a conditional model draws another class (None: no class given);
  the frame is rendered again too (``values_changed`` with the same values);
* ``message(str)`` — a line for the status bar (errors included).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal


@dataclass
class LoadedModel:
    """A model plus what the GUI needs about it, computed once off the GUI thread."""

    model: Any                       # models.GenerativeModel (typed loosely: no torch import here)
    path: Path | None
    names: list[str]
    labels: list[str]
    strengths: list[float]
    sigmas: np.ndarray               # (D,) prior standard deviation along each direction
    basis: np.ndarray                # (D, D) float32; column j is direction j (unit vector in z)
    devices: list[str] = field(default_factory=lambda: ["cpu"])
    # u -> z through a learned latent prior (a CPU copy of the VAE's flow, models.latent_prior), or None
    prior_inverse: Any = None
    # the sliders' zero: the most typical code recorded when the learned prior was fitted
    # (models.prior_fit.typical_code), else the prior's centre f^-1(0); None: z = 0 under N(0, I)
    origin: np.ndarray | None = None
    # what the sliders' zero is, in words, for tooltips ("the most typical code", "the prior's centre", ...)
    zero_meaning: str = "the prior's mean"

    # ------------------------------------------------------------------ facts
    @property
    def name(self) -> str:
        return str(self.model.name)

    @property
    def family(self) -> str:
        return str(self.model.family)

    @property
    def latent_dim(self) -> int:
        return int(self.basis.shape[0])

    @property
    def device(self) -> str:
        return str(self.model.device)

    @property
    def summary(self) -> str:
        """What the status bar shows: the kind of model and its latent size ("β-VAE (β=4) · 16-d latent")."""
        kind = self.family.upper()
        beta = float(getattr(self.model, "config", {}).get("beta", 1.0) or 1.0) if self.family == "vae" else 1.0
        if beta != 1.0:
            kind = f"β-VAE (β={beta:g})"
        return f"{kind} · {self.latent_dim}-d latent"

    @property
    def title(self) -> str:
        """What the window title shows: the model's name and its file."""
        if self.path is None:
            return self.name
        return f"{self.name} — {self.path.name}"

    # ------------------------------------------------------------------ coordinates
    def z_from_values(self, values: np.ndarray) -> np.ndarray:
        """z = origin + basis @ values (slider values are coordinates around :attr:`origin`)."""
        z = self.basis @ np.asarray(values, dtype=np.float32)
        return (z if self.origin is None else z + self.origin).astype(np.float32, copy=False)

    def values_from_z(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, dtype=np.float32).reshape(-1)
        return (self.basis.T @ (z if self.origin is None else z - self.origin)).astype(np.float32, copy=False)

    # ------------------------------------------------------------------ construction (worker thread)
    @classmethod
    def build(cls, model: Any, path: str | Path | None = None) -> "LoadedModel":
        """Read ``model.directions()`` into numpy.  Calls torch: run it on a worker thread."""
        import models

        dirs = model.directions()
        basis = (np.stack([d.vector.detach().float().cpu().numpy() for d in dirs], axis=1) if dirs
                 else np.zeros((int(model.latent_dim), 0), dtype=np.float32))   # no latent (a PixelCNN)
        inverse = _prior_inverse(model)
        origin, meaning = _origin(model, inverse, basis.shape[0])
        return cls(model=model, path=Path(path) if path is not None else None,
                   names=[d.name for d in dirs], labels=[d.label for d in dirs],
                   strengths=[float(d.strength) for d in dirs],
                   sigmas=np.array([float(d.sigma) for d in dirs], dtype=np.float32),
                   basis=basis.astype(np.float32), devices=models.available_devices(),
                   prior_inverse=inverse, origin=origin, zero_meaning=meaning)

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> "LoadedModel":
        """``models.load`` + :meth:`build`.  Raises ``models.CheckpointError`` for a bad file."""
        import models

        return cls.build(models.load(path, device=device), path)


@dataclass
class Frame:
    """One rendered image and where it came from."""

    image: np.ndarray = field(repr=False)  # (H, W) or (H, W, 3) uint8, what the canvas shows
    values: np.ndarray               # slider values it was rendered for
    token: int                       # the state's request counter when it was asked for
    requested_at: float              # time.perf_counter() when the values changed
    rendered_at: float               # time.perf_counter() when the worker finished
    render_ms: float                 # decode + copy to host, on the worker
    model: Any = field(default=None, repr=False)  # the LoadedModel it was rendered with
    shown_at: float = 0.0            # time.perf_counter() when it reached the image item
    note: str = ""                   # something the user should know (e.g. fell back to the CPU)

    @property
    def latency_ms(self) -> float:
        """Request -> pixels in the image item (0 until shown)."""
        return (self.shown_at - self.requested_at) * 1000.0 if self.shown_at else 0.0


class ExplorerState(QObject):
    """The current model and latent point of one explorer window (see the module docstring)."""

    model_changed = Signal(object)
    values_changed = Signal(object)
    frame_rendered = Signal(object)
    device_changed = Signal(str)
    class_changed = Signal(object)
    message = Signal(str)
    #: like ``values_changed`` but at most every :attr:`SETTLE_MS` while values keep changing, and
    #: always once more with the final values: for listeners that redraw something costly (plots)
    values_settled = Signal(object)
    SETTLE_MS = 40

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._loaded: LoadedModel | None = None
        self._values = np.zeros(0, dtype=np.float32)
        self._token = 0
        self._requested_at = time.perf_counter()
        self._frame: Frame | None = None
        self._class: int | None = None
        self._rng = np.random.default_rng()
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(self.SETTLE_MS)
        self._settle.timeout.connect(lambda: self.values_settled.emit(self._values.copy()))

    # ------------------------------------------------------------------ reading
    @property
    def loaded(self) -> LoadedModel | None:
        return self._loaded

    @property
    def model(self) -> Any:
        """The current ``models.GenerativeModel`` or None."""
        return self._loaded.model if self._loaded is not None else None

    @property
    def values(self) -> np.ndarray:
        """A copy of the current slider values (one per direction, strongest first)."""
        return self._values.copy()

    @property
    def z(self) -> np.ndarray:
        """The current latent code (numpy, shape (latent_dim,))."""
        if self._loaded is None:
            return np.zeros(0, dtype=np.float32)
        return self._loaded.z_from_values(self._values)

    @property
    def token(self) -> int:
        """Counts every change of model or values; a frame carries the token it was asked for."""
        return self._token

    @property
    def requested_at(self) -> float:
        return self._requested_at

    @property
    def frame(self) -> Frame | None:
        """The frame on the canvas now."""
        return self._frame

    @property
    def class_index(self) -> int | None:
        """The class a conditional model draws (None: no class given, or an unconditional model)."""
        return self._class

    # ------------------------------------------------------------------ changing
    def set_model(self, loaded: LoadedModel, values: np.ndarray | None = None) -> None:
        self._loaded = loaded
        self._class = getattr(loaded.model, "default_class", None)
        d = loaded.latent_dim
        self._values = (np.zeros(d, dtype=np.float32) if values is None
                        else np.asarray(values, dtype=np.float32).reshape(d).copy())
        self._touch()
        self.model_changed.emit(loaded)
        self._emit_values()

    def set_value(self, index: int, value: float) -> None:
        """Move along one direction (what a slider does)."""
        if self._loaded is None or not 0 <= index < self._values.size:
            return
        value = float(value)
        if self._values[index] == np.float32(value):
            return
        self._values[index] = value
        self._touch()
        self._emit_values()

    def set_values(self, values: np.ndarray) -> None:
        if self._loaded is None:
            return
        values = np.asarray(values, dtype=np.float32).reshape(self._loaded.latent_dim)
        self._values = values.copy()
        self._touch()
        self._emit_values()

    def set_z(self, z: np.ndarray) -> None:
        """Jump to a latent code (e.g. an encoded image); sliders follow."""
        if self._loaded is not None:
            self.set_values(self._loaded.values_from_z(z))

    def reset(self) -> None:
        """All sliders to zero: :attr:`LoadedModel.origin` (the most typical code recorded with a learned
        prior, else its centre f^-1(0); the mean under N(0, I))."""
        if self._loaded is not None:
            self.set_values(np.zeros(self._loaded.latent_dim, dtype=np.float32))

    def randomize(self, seed: int | None = None, temperature: float = 1.0) -> None:
        """A random point from the prior: N(0, σ²) along each direction, or the VAE's learned prior."""
        if self._loaded is None:
            return
        rng = np.random.default_rng(seed) if seed is not None else self._rng
        v = rng.standard_normal(self._loaded.latent_dim).astype(np.float32)
        if self._loaded.prior_inverse is not None:      # a learned prior: z = f^-1(T * eps)
            self.set_values(self._loaded.values_from_z(self._loaded.prior_inverse(v * float(temperature))))
            return
        self.set_values(v * self._loaded.sigmas * float(temperature))

    def set_class(self, index: int | None) -> None:
        """The open conditional model now draws class ``index`` (the class selector set it on the model,
        through the executor, before calling this): tell the views and render the frame again."""
        if self._loaded is None:
            return
        self._class = None if index is None else int(index)
        self._touch()
        self.class_changed.emit(self._class)
        self._emit_values()

    def set_device(self, device: str) -> None:
        self.device_changed.emit(str(device))
        self._touch()  # re-render on the new device
        self._emit_values()

    def post_frame(self, frame: Frame) -> None:
        """Called by the window when a frame reached the canvas."""
        self._frame = frame
        self.frame_rendered.emit(frame)

    def say(self, text: str) -> None:
        self.message.emit(str(text))

    def _emit_values(self) -> None:
        self.values_changed.emit(self._values.copy())
        if not self._settle.isActive():
            self._settle.start()

    def _touch(self) -> None:
        self._token += 1
        self._requested_at = time.perf_counter()


def _origin(model: Any, inverse: Any, dim: int) -> tuple[np.ndarray | None, str]:
    """The sliders' zero and what it is: the most typical code the prior's fit recorded
    (``metadata["prior"]["typical"]["z"]``, when the model has that learned prior and the code fits its
    latent), else the learned prior's centre f^-1(0) (checkpoints fitted before the record), else None."""
    if inverse is None:
        return None, "the prior's mean"
    prior = (getattr(model, "metadata", None) or {}).get("prior")
    typical = prior.get("typical") if isinstance(prior, dict) else None
    z = typical.get("z") if isinstance(typical, dict) else None
    if isinstance(z, list) and len(z) == dim:
        code = np.asarray(z, dtype=np.float32)
        if np.isfinite(code).all():
            return code, "the most typical code"
    return inverse(np.zeros(dim, np.float32)), "the prior's centre"


def _prior_inverse(model: Any):
    """A function u (D,) -> z (D,) through the model's learned latent prior, on a CPU copy of the
    (tiny) flow so the GUI thread never touches the model the executor runs; None without one."""
    prior = getattr(getattr(model, "net", None), "prior", None)
    if prior is None:
        return None
    import copy

    import torch

    flow = copy.deepcopy(prior).cpu().eval()

    def inverse(u: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return flow.inverse(torch.as_tensor(np.asarray(u, np.float32))[None])[0].numpy()
    return inverse

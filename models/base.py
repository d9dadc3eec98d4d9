"""The one interface every model family implements.

The app, the CLI and notebooks only ever talk to a :class:`GenerativeModel`; they never reach into
a family's networks.  Everything here is plain torch: no Qt, no GUI assumptions.
"""
from __future__ import annotations

import dataclasses
import json
from abc import ABC, abstractmethod
from typing import Any, Sequence

import torch
from torch import nn

from .errors import LatentExplorerError
from .imaging import from_uint8
from .score import Score


class DeviceError(LatentExplorerError, ValueError):
    """A device was asked for that this machine does not have; the message lists what it has."""


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """Turn ``"auto"``/``None``/a name into a :class:`torch.device`.

    ``"auto"`` picks CUDA, then Apple's MPS, then the CPU.  Asking for a device that does not
    exist raises :class:`DeviceError` with a message naming what is available.
    """
    if device is None or device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise DeviceError(f"{str(device)!r} is not a device name; available: {', '.join(available_devices())}") \
            from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"device {str(device)!r} was asked for but CUDA is not available here; "
                          f"available: {', '.join(available_devices())}")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise DeviceError(f"device {str(device)!r} was asked for but this machine has "
                          f"{torch.cuda.device_count()} CUDA device(s); available: {', '.join(available_devices())}")
    if dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise DeviceError(f"device 'mps' was asked for but MPS is not available here; "
                              f"available: {', '.join(available_devices())}")
    return dev


def available_devices() -> list[str]:
    """Names of the devices a model can be moved to on this machine, CPU first."""
    names = ["cpu"]
    if torch.cuda.is_available():
        names += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        names.append("mps")
    return names


@dataclasses.dataclass(frozen=True)
class Direction:
    """A named direction in latent space, for one slider.

    ``vector`` is a unit vector of length ``latent_dim``.  The directions returned by
    :meth:`GenerativeModel.directions` form an orthonormal basis, so slider values are simply the
    coordinates ``V.T @ z`` and ``z = V @ values``.
    """

    name: str
    vector: torch.Tensor
    label: str  # what the slider shows beside the name, e.g. "KL 2.31 nats" or "12.4% var"
    strength: float  # the number the ranking is by (KL in nats, or explained-variance ratio)
    sigma: float = 1.0  # prior standard deviation along this direction


class GenerativeModel(ABC):
    """Base class for every family.  Subclasses wrap an ``nn.Module`` holding the networks."""

    family: str = ""

    def __init__(self, net: nn.Module, config: dict[str, Any], metadata: dict[str, Any] | None = None,
                 device: str | torch.device = "cpu") -> None:
        self.net = net.eval()
        self.config = dict(config)
        self.metadata: dict[str, Any] = dict(metadata or {})
        self._device = torch.device("cpu")
        self.to(device)

    # ----------------------------------------------------------------- basic facts
    @property
    def latent_dim(self) -> int:
        return int(self.config["latent_dim"])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.config.get("image_shape", (1, 28, 28)))  # type: ignore[return-value]

    @property
    def device(self) -> torch.device:
        return self._device

    @property
    def name(self) -> str:
        return str(self.metadata.get("name") or self.family.upper())

    @property
    def class_names(self) -> list[str]:
        return list(self.metadata.get("dataset", {}).get("classes", []))

    # ----------------------------------------------------------------- classes (models.conditional)
    #: the class ``decode(z)`` draws when no ``y`` is given (None: no class, the whole data set); the
    #: app's class selector sets it as a job on the model executor, like a device move
    default_class: int | None = None

    @property
    def n_classes(self) -> int:
        """Classes a conditional model draws on request (``decode(z, y)``); 0 for an unconditional one."""
        return int(self.config.get("n_classes", 0) or 0)

    @property
    def conditional(self) -> bool:
        return self.n_classes > 0

    def set_default_class(self, y: int | None) -> None:
        """The class ``decode(z)`` draws from now on (None: no class); ignored by unconditional models."""
        if y is not None and not 0 <= int(y) < self.n_classes:
            from .conditional import ClassError, listing

            raise ClassError(f"{self.name} has no class {y}; its classes are {listing(self) or 'none'}")
        self.default_class = None if y is None else int(y)

    def _class_of(self, y):
        """The ``y`` a conditional family decodes with: ``y``, else :attr:`default_class`."""
        return self.default_class if y is None else y

    def to(self, device: str | torch.device) -> "GenerativeModel":
        dev = resolve_device(device)
        self.net.to(dev)
        self._device = dev
        return self

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.net.parameters())

    # ----------------------------------------------------------------- the interface
    @abstractmethod
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(N, latent_dim) latents -> (N, C, H, W) images, float in [0, 1], on ``self.device``."""

    @abstractmethod
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) images in [0, 1] -> (N, latent_dim) codes."""

    @abstractmethod
    def directions(self) -> list[Direction]:
        """Named latent directions, strongest first, forming an orthonormal basis."""

    def score(self, x: torch.Tensor, k: int | None = None) -> list[Score]:
        """One :class:`~models.score.Score` per image; see :mod:`models.scoring` (imported here, not at
        module level: scoring builds on this interface, not the other way round)."""
        from . import scoring

        return scoring.score(self, x, k=k)

    def prior_z(self, n: int, *, temperature: float = 1.0, seed: int | None = None) -> torch.Tensor:
        """``n`` latents ``temperature * eps`` with ``eps ~ N(0, I)`` (the same ``eps`` for the same seed).

        For a VAE this is the sampling temperature: the prior's standard deviation, scaled.  For a GAN
        the app and ``sample --truncation`` call the same number the truncation psi, and it is the
        *pull toward the mean latent* form of the truncation trick, ``z = z_mean + psi * (eps - z_mean)``
        (Karras et al. 2019, there in W; a DCGAN has no mapping network, so here in z), with the mean
        latent ``z_mean = 0`` of the N(0, I) prior -- which is exactly ``psi * eps``.  It is *not*
        BigGAN's truncated normal (resampling every ``|eps_i|`` above a threshold): psi < 1 shrinks every
        coordinate, so samples move toward the image of the mean latent and vary less; psi = 0 gives
        that one image."""
        gen = torch.Generator(device="cpu")
        if seed is None:
            gen.seed()
        else:
            gen.manual_seed(int(seed))
        z = torch.randn(n, self.latent_dim, generator=gen) * float(temperature)
        return z.to(self.device)

    @torch.no_grad()
    def sample(self, n: int, *, temperature: float = 1.0, seed: int | None = None, y=None) -> torch.Tensor:
        """``n`` images (N, C, H, W) in [0, 1]; the same seed gives the same images (the same z for every
        class).  ``y``: the class of a conditional model (:mod:`models.conditional`); others ignore it."""
        z = self.prior_z(n, temperature=temperature, seed=seed)
        return self.decode(z, y=y) if self.conditional else self.decode(z)

    # ----------------------------------------------------------------- helpers for subclasses
    def _as_batch(self, x: torch.Tensor) -> torch.Tensor:
        """Check and move an image batch: float (N, C, H, W) in [0, 1] on our device."""
        if not isinstance(x, torch.Tensor):
            x = torch.as_tensor(x)
        if x.dim() == len(self.image_shape) - 1:
            x = x.unsqueeze(0) if self.image_shape[0] != 1 else x.unsqueeze(0).unsqueeze(0)
        if x.dim() == 3 and self.image_shape[0] == 1:
            x = x.unsqueeze(1)
        if tuple(x.shape[1:]) != tuple(self.image_shape):
            raise ValueError(f"expected images of shape (N, {', '.join(map(str, self.image_shape))}), "
                             f"got {tuple(x.shape)}")
        if x.dtype == torch.uint8:
            x = from_uint8(x)
        return x.to(self.device, torch.float32)

    def _as_latent(self, z: torch.Tensor) -> torch.Tensor:
        if not isinstance(z, torch.Tensor):
            z = torch.as_tensor(z)
        if z.dim() == 1:
            z = z.unsqueeze(0)
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"expected latents of shape (N, {self.latent_dim}), got {tuple(z.shape)}")
        return z.to(self.device, torch.float32)

    def describe(self) -> dict[str, Any]:
        """A JSON-able summary (what ``latent-explorer info --json`` prints)."""
        return {
            "name": self.name,
            "family": self.family,
            "latent_dim": self.latent_dim,
            "image_shape": list(self.image_shape),
            "parameters": self.num_parameters(),
            "device": str(self.device),
            "config": self.config,
            **{k: v for k, v in self.metadata.items() if k not in ("name",)},
        }

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {self.name!r} family={self.family} latent_dim={self.latent_dim} "
                f"device={self.device}>")


def json_dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def orthonormal_basis(vectors: Sequence[torch.Tensor] | torch.Tensor) -> torch.Tensor:
    """Gram-Schmidt (via QR) the given vectors (rows) into an orthonormal basis, keeping their order
    and sign."""
    m = torch.stack(list(vectors)) if not isinstance(vectors, torch.Tensor) else vectors
    q, r = torch.linalg.qr(m.T.double())
    signs = torch.sign(torch.diagonal(r))
    signs[signs == 0] = 1
    return (q * signs).T.float()

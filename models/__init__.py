"""Latent Explorer's science layer: generative models, checkpoints, scoring — no Qt.

>>> import models
>>> m = models.load("assets/vae-fmnist.safetensors")      # device="auto": CUDA, MPS, then CPU
>>> x = m.sample(8, seed=0)                                 # (8, 1, 28, 28) in [0, 1]
>>> z = m.encode(x); m.decode(z).shape
torch.Size([8, 1, 28, 28])
"""
from .base import Direction, GenerativeModel, available_devices, resolve_device
from .score import IN_DISTRIBUTION, OUT_OF_DISTRIBUTION, Score
from .checkpoint import CheckpointError, load, save

__all__ = [
    "load", "save", "CheckpointError", "GenerativeModel", "Score", "Direction",
    "available_devices", "resolve_device", "IN_DISTRIBUTION", "OUT_OF_DISTRIBUTION",
    "ASSETS", "bundled",
]

from pathlib import Path as _Path

#: The folder of bundled checkpoints and sample images.
ASSETS = _Path(__file__).resolve().parent.parent / "assets"


def bundled(name: str = "vae") -> _Path:
    """Path of a bundled checkpoint: ``"vae"``, ``"beta-vae"`` or ``"gan"``."""
    return ASSETS / f"{name}-fmnist.safetensors"

"""Latent Explorer's science layer: generative models, checkpoints, scoring — no Qt.

>>> import models
>>> m = models.load("assets/vae-fmnist.safetensors")      # device="auto": CUDA, MPS, then CPU
>>> x = m.sample(8, seed=0)                                 # (8, 1, 28, 28) in [0, 1]
>>> z = m.encode(x); m.decode(z).shape
torch.Size([8, 1, 28, 28])
"""
import importlib as _importlib

#: public name -> the module that defines it; imported on first use (PEP 562), so that
#: ``import models.file_kinds`` (the app's GUI thread) does not import torch
_LAZY = {
    "Direction": "base", "GenerativeModel": "base", "available_devices": "base", "resolve_device": "base",
    "IN_DISTRIBUTION": "score", "OUT_OF_DISTRIBUTION": "score", "Score": "score",
    "CheckpointError": "checkpoint", "load": "checkpoint", "save": "checkpoint",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'models' has no attribute {name!r}")
    value = getattr(_importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

__all__ = [
    "load", "save", "CheckpointError", "GenerativeModel", "Score", "Direction",
    "available_devices", "resolve_device", "IN_DISTRIBUTION", "OUT_OF_DISTRIBUTION",
    "ASSETS", "bundled", "bundled_models",
]

from pathlib import Path as _Path

#: The folder of bundled checkpoints and sample images.
ASSETS = _Path(__file__).resolve().parent.parent / "assets"


_SHORT_NAMES = {"vae": "vae-fmnist", "beta-vae": "beta-vae-fmnist", "gan": "gan-fmnist", "flow": "flow-fmnist",
                "pixelcnn": "pixelcnn-fmnist", "cvae": "cvae-fmnist", "cgan": "cgan-fmnist"}


def bundled(name: str = "vae") -> _Path:
    """Path of a bundled checkpoint by short name: ``"vae"``, ``"beta-vae"``, ``"gan"``, ``"flow"``, ``"pixelcnn"`` (Fashion-MNIST),
    or a full stem such as ``"vae-emoji"`` (see :func:`bundled_models`)."""
    return ASSETS / f"{_SHORT_NAMES.get(name, name)}.safetensors"


def bundled_models() -> list[_Path]:
    """Every checkpoint shipped in ``assets/`` (the app's Examples menu lists them), Fashion-MNIST first."""
    files = sorted(ASSETS.glob("*.safetensors"))
    return sorted(files, key=lambda p: (not p.stem.endswith("-fmnist"), p.stem))

"""Models made elsewhere: torch.export programs, ONNX graphs, Hugging Face autoencoders, plugins.

:func:`models.load` asks :func:`kind_of` what a path is and hands foreign ones to :func:`open_foreign`:

==============================  ================================================  ==================
path                            opened by                                         needs
==============================  ================================================  ==================
``NAME.pt2``                    :mod:`.export_program` (zip guard first)          torch only
``NAME.onnx``                   :mod:`.onnx_model` (onnxruntime)                  extra ``onnx``
a folder with ``config.json``   :mod:`.hf_autoencoder` (``AutoencoderKL``)        extra ``hf``
a path a plugin claims          the plugin (:mod:`.plugins`, installed code)      the plugin
==============================  ================================================  ==================

A decoder alone has no likelihood; ``latent-explorer calibrate MODEL --data FOLDER`` stores a labelled
approximate OOD verdict beside it, which :func:`open_foreign` reads back (:mod:`.calibration`).

Everything a dropped file holds is data: no Python in it runs (see each module).  Installed plugins
are code the user chose to install, and are trusted.  The manifest format is in :mod:`.manifest` and
docs/foreign-models.md.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from ..base import GenerativeModel
from ..file_kinds import FOREIGN_MODEL_SUFFIXES
from ..tensor_source import checkpoint_error as _err

#: Suffixes of foreign model files (for file dialogs and drop routing).
MODEL_SUFFIXES = FOREIGN_MODEL_SUFFIXES


def kind_of(path: str | os.PathLike) -> str | None:
    """"pt2", "onnx", "hf", "plugin:NAME", or None for a path that is not a foreign model."""
    p = Path(path)
    name = p.name.lower()
    try:
        if not (p.is_file() or p.is_dir()):
            return None          # missing, a pipe, ...: models.checkpoint says what it is
    except (OSError, ValueError):
        return None
    if name.endswith(".pt2"):
        return "pt2"
    if name.endswith(".onnx"):
        return "onnx"
    if p.is_dir() and (p / "config.json").is_file():
        return "hf"
    from .plugins import claiming_plugin

    plugin = claiming_plugin(p)
    return f"plugin:{plugin}" if plugin else None


def missing_extra(p: Path, module: str, extra: str) -> Exception:
    """The error for a format whose optional dependency is not installed."""
    return _err(p, f"opening this needs the Python package {module!r}, which is not installed. Install the "
                   f"extra: pip install 'latent-explorer[{extra}]'")


def open_foreign(path: str | os.PathLike, kind: str, device: str | torch.device = "cpu") -> GenerativeModel:
    """Open a foreign model of ``kind`` (from :func:`kind_of`) on the CPU, validated by a probe decode,
    with its stored approximate OOD calibration when there is one (:mod:`.calibration`)."""
    from .calibration import adopt_plugin_model, attach

    p = Path(path)
    if kind == "pt2":
        from .export_program import open_pt2

        model = open_pt2(p)
    elif kind == "onnx":
        from .onnx_model import open_onnx

        model = open_onnx(p, device)
    elif kind == "hf":
        from .hf_autoencoder import open_folder

        model = open_folder(p)
    elif kind.startswith("plugin:"):
        from .plugins import open_with_plugin

        model = open_with_plugin(kind.split(":", 1)[1], p, device)
        model.metadata.setdefault("path", str(p))
        adopt_plugin_model(model)
    else:
        raise ValueError(f"unknown foreign model kind {kind!r}")
    if getattr(model, "no_likelihood_message", None) is not None:   # a decoder alone: no likelihood
        attach(model, p)
    return model

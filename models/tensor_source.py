"""What every checkpoint container reader hands back, and the one error they all raise.

A reader (:mod:`models.safetensors_reader`, the pickle path in :mod:`models.checkpoint`) turns a file
into a :class:`TensorSource`: the string metadata, one :class:`TensorSpec` per tensor (name, shape,
dtype -- read from the header, no tensor bytes yet) and a ``load(keys)`` callable that reads only the
tensors asked for.  Why lazy: :func:`models.checkpoint.load` compares the specs with the architecture
the metadata describes *before* reading any weights, so a hostile file that claims a billion-unit
layer is refused at the cost of reading its header.

:class:`CheckpointError` messages start with the file's name and are one printable line
(:func:`models.errors.one_line`), because names and texts from a file may hold newlines or terminal
escapes.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from .errors import LatentExplorerError, printable_name


class CheckpointError(LatentExplorerError):
    """A checkpoint could not be loaded.  The message says what is wrong and what to do."""


@dataclass
class TensorSpec:
    shape: tuple[int, ...]
    dtype: str        # torch-style name: "float32", "int64", "bool", ...
    is_float: bool


@dataclass
class TensorSource:
    meta: dict[str, str]
    specs: dict[str, TensorSpec]
    load: Callable[[list[str]], dict[str, torch.Tensor]]


def checkpoint_error(p: Path, text: str, full: bool = False) -> CheckpointError:
    """``CheckpointError("<file name>: <text>")``; ``full`` names the whole path (e.g. "no such file")."""
    return CheckpointError(f"{printable_name(str(p) if full else (p.name or str(p)), 120)}: {text}")

"""What kind of file a path is, by name alone: the one list of each kind of suffix.  No torch.

The app's drop router and file dialogs, the CLI's folder scans, training folders and ``models.intake``
all read these tuples, so a file one of them accepts is accepted by all.  This module imports nothing
heavy: the app reads it on the GUI thread while torch is still being imported on the executor's.
"""
from __future__ import annotations

import os
from pathlib import Path

#: images Pillow reads
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm",
                  ".ico", ".tga")
#: arrays of images (numpy, read with allow_pickle=False)
ARRAY_SUFFIXES = (".npy",)
#: our own checkpoints and the pickle-based files we inspect safely
CHECKPOINT_SUFFIXES = (".safetensors", ".pt", ".pth", ".ckpt")
#: models made elsewhere: a torch.export program, an ONNX graph (a Hugging Face folder has no suffix)
FOREIGN_MODEL_SUFFIXES = (".pt2", ".onnx")
#: everything the app opens as a model
MODEL_SUFFIXES = CHECKPOINT_SUFFIXES + FOREIGN_MODEL_SUFFIXES


def has_suffix(path: str | os.PathLike, suffixes: tuple[str, ...]) -> bool:
    return Path(path).name.lower().endswith(suffixes)


def is_model_folder(path: str | os.PathLike) -> bool:
    """A folder that holds a model (a Hugging Face ``config.json``), not a folder of images."""
    p = Path(path)
    try:
        return p.is_dir() and (p / "config.json").is_file()
    except OSError:
        return False

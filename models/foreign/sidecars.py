"""Where a foreign model's companion files go: beside the model (``NAME.<suffix>`` next to
``NAME.pt2`` / ``NAME.onnx``), or, when the model's own folder is read-only, under the user cache
folder (``platformdirs``), in one sub-folder per kind (directions, calibration)."""
from __future__ import annotations

from pathlib import Path


def beside(model_path: Path, suffix: str) -> Path:
    """``NAME<suffix>`` next to ``NAME.EXT`` (only the last extension is replaced)."""
    return model_path.with_name(model_path.name.rsplit(".", 1)[0] + suffix)


def cache_path(kind: str, name: str) -> Path:
    """``name`` in the user cache folder's ``kind`` folder."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("latent-explorer", appauthor=False)) / kind / name

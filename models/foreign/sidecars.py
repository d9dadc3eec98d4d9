"""Where a foreign model's companion files go and what they are keyed by: beside the model
(``NAME.<suffix>`` next to ``NAME.pt2`` / ``NAME.onnx``), or, when the model's own folder is read-only,
under the user cache folder (``platformdirs``), in one sub-folder per kind (directions, calibration);
each tied to the model by :func:`fingerprint`."""
from __future__ import annotations

import hashlib
from pathlib import Path


def fingerprint(*paths: Path, extra: str = "") -> str:
    """sha256 over ``extra`` and then the files' bytes: what a sidecar is keyed by."""
    h = hashlib.sha256(extra.encode())
    for p in paths:
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def beside(model_path: Path, suffix: str) -> Path:
    """``NAME<suffix>`` next to ``NAME.EXT`` (only the last extension is replaced)."""
    return model_path.with_name(model_path.name.rsplit(".", 1)[0] + suffix)


def cache_path(kind: str, name: str) -> Path:
    """``name`` in the user cache folder's ``kind`` folder."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("latent-explorer", appauthor=False)) / kind / name

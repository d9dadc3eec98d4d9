"""A labelled, approximate OOD verdict for a model made elsewhere, calibrated on a folder the user names.

A decoder alone (``.pt2``, ``.onnx``, a diffusers ``AutoencoderKL``, a plugin's decoder) defines no
likelihood, so no nats or bits/dim are ever shown for it.  What can be said honestly is how *unusual*
an image looks next to images the user says are in distribution, by the same kind of statistic the
bundled GAN uses (:mod:`models.ood_statistic`), labelled as an approximation everywhere:

* per image (:func:`features`): its code z (the encoder's when there is one, else the bounded,
  seeded inversion of :mod:`.inversion`), the log reconstruction residual log mean((D(z) − x)²), the
  code's mean square ‖z‖²/d (how far from the prior's shell it had to go), and the image's own
  complexity, its lossless-WebP length in bits/dim (Serrà et al. 2020);
* the statistic is the Mahalanobis distance² of (log residual, WebP length, code norm) under a
  Gaussian fitted on half of the user's folder; its quantiles are taken on the *other* half, and the
  verdict threshold is their (1 − fpr) empirical quantile (default fpr 5 %).

The record (``models.ood_statistic.fit_calibration``'s JSON plus ``approximate: true`` and the model's
fingerprint) is stored beside the model as ``NAME.calibration.json`` (inside a Hugging Face folder as
:data:`FOLDER_FILE`; in the user cache folder when the model's folder is read-only), written
atomically, and read back when the model opens (:func:`attach`).  It is data we wrote, but a user may
copy a stale or damaged one: a record whose fingerprint, version or fields do not match is ignored
with a note (``info`` shows it) and the model stays uncalibrated.
"""
from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data import DataError
from ..errors import first_line, printable_name
from ..ood_statistic import CALIBRATION_VERSION, DEFAULT_FPR, LEVELS, fit_calibration
from .sidecars import beside, fingerprint

SIDECAR_SUFFIX = ".calibration.json"
#: The record's name inside a model that is a folder (a Hugging Face autoencoder).
FOLDER_FILE = "latent-explorer-calibration.json"
#: Images the calibration needs: half fit the statistic, half set the threshold (20 each at least).
MIN_IMAGES = 40
MAX_RECORD_BYTES = 1 << 20
#: The statistic of a foreign decoder (the ``spec`` of :func:`models.ood_statistic.fit_calibration`).
SPEC: dict[str, Any] = {
    "name": "gaussian(reconstruction residual, webp length, code norm)",
    "components": [["log_residual", "webp_bpd", "z_norm2"]],
    "combine": "max", "extras": [],
    "method_ood": "reconstruction residual (encoder, or bounded inversion) + WebP length + code norm, "
                  "Mahalanobis, calibrated on held-in images (an approximation, not a likelihood)",
}
RAW = {"feature": "log_residual", "label": "raw reconstruction residual, log mean squared error",
       "unit": "log MSE", "higher_is": "less like the held-in images"}
#: Features a stored record may name (what :func:`features` computes).
FEATURES = ("log_residual", "webp_bpd", "z_norm2")


# ------------------------------------------------------------------------------------------ features
def code(model, x01: torch.Tensor, cancel: Callable[[], bool] | None = None) -> torch.Tensor:
    """z of images ``x01`` (N, C, H, W) in [0, 1]: the model's encoder, or inversion through its decoder."""
    import inspect

    from .inversion import invert

    if "cancel" in inspect.signature(model.encode).parameters:     # ours (models.foreign.decoder_model)
        return model.encode(x01, cancel=cancel)
    try:
        return model.encode(x01)
    except NotImplementedError:          # a plugin decoder without an encoder
        return invert(model, x01, cancel=cancel)


def features(model, x01: torch.Tensor) -> dict[str, np.ndarray]:
    """The per-image features of the module docstring (deterministic; each image on its own)."""
    from ..ood_features import pillow_arrays, webp_bits_per_dim

    x01 = model._as_batch(x01)
    z = code(model, x01).detach().float()
    with torch.no_grad():
        res = ((model.decode(z).float().to(x01.device) - x01) ** 2).flatten(1).mean(1)
    return {"latent": z.double().cpu().numpy(),
            "log_residual": torch.log(res + 1e-6).double().cpu().numpy(),
            "z_norm2": (z ** 2).mean(1).double().cpu().numpy(),
            "webp_bpd": webp_bits_per_dim(pillow_arrays(x01))}


def no_likelihood_message(model) -> str:
    path = model.metadata.get("path", "MODEL")
    return (f"{model.name}: no likelihood for this model (a {model.family} decoder alone defines none), so no "
            f"score is given; run `latent-explorer calibrate {path} --data FOLDER` for a labelled approximation.")


def adopt_plugin_model(model) -> None:
    """A plugin's model that brings no likelihood of its own (it does not override ``score``) and no
    ``ood_features`` gets this module's, so it can be calibrated and scored like the other formats."""
    from ..base import GenerativeModel

    if type(model).score is not GenerativeModel.score or not model.latent_dim:
        return
    if getattr(model, "ood_features", None) is None:
        model.ood_features = functools.partial(features, model)
    if getattr(model, "no_likelihood_message", None) is None:
        model.no_likelihood_message = functools.partial(no_likelihood_message, model)
    model.metadata.setdefault("likelihood", "none: a decoder alone defines no likelihood")


# ------------------------------------------------------------------------------------------ where it lives
def key_of(model, path: Path) -> str:
    """What a record is tied to: the foreign model's fingerprint, else (a plugin's file) its bytes."""
    key = getattr(model, "key", "")
    if isinstance(key, str) and key:
        return key
    shape = f"{model.family}|{model.latent_dim}|{list(model.image_shape)}"
    if path.is_file():
        return fingerprint(path, extra=shape)
    h = hashlib.sha256(shape.encode())
    if path.is_dir():
        for f in sorted(path.rglob("*")):
            if f.is_file() and f.name != FOLDER_FILE:
                h.update(f"{f.relative_to(path).as_posix()}:{f.stat().st_size}".encode())
    return h.hexdigest()


def sidecar_path(path: Path) -> Path:
    """``NAME.calibration.json`` beside ``NAME.EXT``; :data:`FOLDER_FILE` inside a model folder."""
    if path.is_dir():
        return path / FOLDER_FILE
    return beside(path, SIDECAR_SUFFIX)


def _cache_path(key: str) -> Path:
    from .sidecars import cache_path

    return cache_path("calibration", f"{key}.json")


# ------------------------------------------------------------------------------------------ reading
def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _problem(cal: Any, model, key: str) -> str | None:
    """Why a stored record cannot be used for ``model`` (None when it can)."""
    if not isinstance(cal, dict):
        return "it is not a JSON object"
    if cal.get("version") != CALIBRATION_VERSION or cal.get("family") != model.family:
        return "it was written by another version of Latent Explorer or for another kind of model"
    if cal.get("fingerprint") != key:
        return "it was made for another version of the model file"
    comps = cal.get("components")
    if cal.get("statistic") != SPEC["name"] or cal.get("combine") not in ("max", "fisher") \
            or cal.get("extras") != [] or not isinstance(comps, list) \
            or not 1 <= len(comps) <= len(FEATURES):
        return "its statistic is not one this version computes"
    for c in comps:
        names = c.get("features") if isinstance(c, dict) else None
        if isinstance(c, dict) and isinstance(c.get("feature"), str):
            names = [c["feature"]]
        if not (isinstance(names, list) and names and all(n in FEATURES for n in names)
                and _finite(c.get("mean")) and _finite(c.get("std")) and c["std"] > 0):
            return "a component of its statistic is damaged"
        if "features" in c:
            k = len(names)
            center, prec = c.get("center"), c.get("precision")
            if not (isinstance(center, list) and len(center) == k and all(map(_finite, center))
                    and isinstance(prec, list) and len(prec) == k
                    and all(isinstance(r, list) and len(r) == k and all(map(_finite, r)) for r in prec)):
                return "a component of its statistic is damaged"
    q, levels = cal.get("quantiles"), cal.get("levels")
    if not (isinstance(q, list) and isinstance(levels, list) and len(q) == len(levels) == len(LEVELS)
            and all(map(_finite, q)) and all(map(_finite, levels)) and all(a <= b for a, b in pairwise(q))):
        return "its quantiles are damaged"
    if not (_finite(cal.get("threshold")) and _finite(cal.get("fpr")) and 0 < cal["fpr"] < 0.5):
        return "its threshold is damaged"
    return None


def attach(model, path: Path) -> None:
    """Read the model's stored calibration (beside it, else in the user cache) into
    ``model.metadata["calibration"]``; a record that does not fit is ignored with a note."""
    model.metadata.pop("calibration", None)
    key = key_of(model, path)
    for place in (sidecar_path(path), _cache_path(key)):
        try:
            if not place.is_file():
                continue
            if place.stat().st_size > MAX_RECORD_BYTES:
                why = "it is larger than a calibration record can be"
            else:
                cal = json.loads(place.read_bytes())
                why = _problem(cal, model, key)
        except (OSError, ValueError, RecursionError) as exc:
            why = f"it cannot be read ({first_line(exc, 80)})"
        if why is None:
            # the texts that get printed are ours, or escaped: a copied record cannot drive the terminal
            cal.update(method_ood=SPEC["method_ood"], source=printable_name(cal.get("source", ""), 200),
                       approximate=True)
            model.metadata["calibration"] = cal
            model.metadata["calibration_file"] = str(place)
            return
        model.metadata.setdefault("notes", []).append(
            f"{place.name} ignored: {why}; run `latent-explorer calibrate {path} --data FOLDER` again")


# ------------------------------------------------------------------------------------------ writing
def calibrate(model, path: Path, images: torch.Tensor, *, source: str, fpr: float = DEFAULT_FPR,
              log: Callable[[str], None] | None = None) -> tuple[dict[str, Any], Path]:
    """Fit the approximate statistic on ``images`` (uint8 (N, C, H, W), in distribution: even-numbered
    images fit it, odd-numbered ones set its quantiles), store it and attach it to ``model``.
    Returns (record, where it was written)."""
    from ..atomic_io import atomic_write_bytes

    if len(images) < MIN_IMAGES:
        raise DataError(f"{source}: only {len(images)} usable images at the model's "
                        f"{'x'.join(map(str, model.image_shape))}; calibrating needs at least {MIN_IMAGES} "
                        f"(half fit the statistic, half set the threshold)")
    if not 0.0 < fpr < 0.5:
        raise DataError(f"--fpr must be between 0 and 0.5 (got {fpr:g})")
    cal = fit_calibration(model, images[0::2], images[1::2], fpr=fpr, source=source, raw=RAW, spec=SPEC)
    key = key_of(model, path)
    cal.update({"approximate": True, "method_ood": SPEC["method_ood"], "fingerprint": key,
                "model_file": path.name, "likelihood": "none: a decoder alone defines no likelihood"})
    data = json.dumps(cal).encode()
    errors = []
    for place in (sidecar_path(path), _cache_path(key)):
        try:
            place.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(place, data)
        except OSError as exc:
            errors.append(f"{place} ({first_line(exc, 80)})")
            continue
        model.metadata["calibration"] = cal
        model.metadata["calibration_file"] = str(place)
        if log:
            log(f"calibrated {model.name} (approximation: no likelihood): threshold {cal['threshold']:.3f} at "
                f"{100 * fpr:g}% false positives ({cal['n_fit']} + {cal['n']} images, {cal['seconds']:.0f} s)")
        return cal, place
    raise DataError(f"{path.name}: could not write its calibration: {'; '.join(errors)}")

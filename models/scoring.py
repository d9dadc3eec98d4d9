"""Scores: log-likelihood (nats, bits/dim) and an OOD verdict calibrated on held-out data.

Two questions, answered separately because they cost very different amounts:

* **How likely is this image?**  For a VAE, the importance-weighted estimate (Burda et al. 2016)

      log p(x) ≈ logsumexp_k [log p(x|z_k) + log p(z_k) − log q(z_k|x)] − log K,   z_k ~ q(z|x),

  computed in batches (all K decoder passes of several images at once).  The same K standard-normal
  draws are reused for every image (common random numbers, seed 0), so an image always gets the same
  number whatever else is in its batch.  ``DEFAULT_K`` was chosen by measurement; see docs/scoring.md.
  A GAN has no likelihood: ``log_likelihood_nats`` and ``bits_per_dim`` are ``None``.

* **Is it out of distribution?**  Raw likelihood is a bad answer (Fashion-MNIST models give MNIST
  digits a *higher* likelihood than their own test set).  The verdict uses a statistic built from a
  few cheap, deterministic per-image features (:mod:`models.ood_features`) by a rule fitted on
  held-out in-distribution images only:

      statistic(x) = −2 Σ_j log Φ̄((c_j(x) − m_j) / s_j)        (Fisher's method, models.ood_statistic)

  over components c_j, each oriented so that larger is more unusual, standardised by its mean and
  standard deviation on the fitting half of the held-out split.  For a likelihood model (VAE, flow,
  PixelCNN) the components are the input-complexity-corrected likelihood of Serrà et al. (2020),
  S(x) = −log₂ p(x) − L(x) in bits per dimension with L the image's lossless-WebP and, second, LZMA code
  length; the negative log-likelihood itself (its upper tail: noise, inverted images); the likelihood
  ratio to the same image upside down (garments have an orientation); and, for a VAE with a learned
  prior, how unlikely the image's code is under that prior.  For a GAN they are the residual after
  inverting the generator (encoder + a bounded number of Adam steps), the image's code length and the
  discriminator's logit, combined as the Mahalanobis distance under a Gaussian fitted on held-out images; they
  approximate a likelihood and are labelled so.  The verdict is the fast path: :func:`ood` costs about
  one encoder and one decoder pass per image (VAE), never the K-sample likelihood.

The calibration (``model.metadata["calibration"]``, JSON in the checkpoint) holds the components'
parameters, the quantiles of the statistic on the *other* half of the held-out split (so the stated
false-positive rate is not flattered by the fit), and the verdict threshold: the (1 − fpr) quantile.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from . import likelihood
from .errors import Cancelled, LatentExplorerError
from .imaging import to_uint8
from .iwae import IWAE_SEED, iwae_log_likelihood
from .ood_statistic import (  # noqa: F401 (re-exported)
    CALIBRATION_VERSION,
    DEFAULT_FPR,
    FEATURE_BATCH,
    LEVELS,
    READABLE_VERSIONS,
    STATISTICS,
    statistic_spec,
    features,
    percentile_of,
    statistic_from_features,
)
from .ood_statistic import fit_calibration as _fit_calibration
from .score import IN_DISTRIBUTION, OUT_OF_DISTRIBUTION, Score

#: Importance samples of the displayed VAE likelihood (see docs/scoring.md for the measurement).
DEFAULT_K = 32

#: The raw (uncorrected) feature whose held-out quantiles the calibration also stores, per family.
RAW_FEATURES: dict[str, dict[str, str]] = {
    "vae": {"feature": "nll_bpd", "label": "raw negative log-likelihood, bits/dim (−ELBO at the posterior mean)",
            "unit": "bits/dim", "higher_is": "less likely"},
    "gan": {"feature": "log_residual", "label": "raw inversion residual, log mean squared error",
            "unit": "log MSE", "higher_is": "less likely"},
    "flow": {"feature": "nll_bpd", "label": "raw negative log-likelihood, bits/dim (dequantized bound)",
             "unit": "bits/dim", "higher_is": "less likely"},
    "autoregressive": {"feature": "nll_bpd", "label": "raw negative log-likelihood, bits/dim (exact)",
                       "unit": "bits/dim", "higher_is": "less likely"},
}


class UncalibratedError(LatentExplorerError, ValueError):
    """The checkpoint carries no (usable) OOD calibration."""


@dataclass(frozen=True)
class OODResult:
    """The fast half of a :class:`~models.score.Score`: statistic, percentile and verdict."""

    ood_statistic: float
    percentile: float
    verdict: str
    method: str


# ------------------------------------------------------------------------------------------ likelihood
def log_likelihood(model, x: torch.Tensor, k: int | None = None, *,
                   feats: dict[str, np.ndarray] | None = None,
                   cancel: Callable[[], bool] | None = None) -> torch.Tensor | None:
    """log p(x) in nats per image (VAE: :func:`models.iwae.iwae_log_likelihood` with ``k`` samples and
    seed :data:`~models.iwae.IWAE_SEED`), or ``None`` for a GAN.  ``feats``: this batch's
    :func:`features`, whose posterior is reused (the encoder does not run again)."""
    if model.family in ("flow", "autoregressive"):   # their own: dequantized bound (K draws) / exact
        return model.log_likelihood(model._as_batch(x), int(k or DEFAULT_K), cancel=cancel)
    if model.family != "vae":
        return None
    x = model._as_batch(x)
    posterior = None
    if feats is not None and "latent" in feats and "logvar" in feats:
        posterior = (torch.as_tensor(feats["latent"], dtype=torch.float32, device=model.device),
                     torch.as_tensor(feats["logvar"], dtype=torch.float32, device=model.device))
    return iwae_log_likelihood(model, x, int(k or DEFAULT_K), seed=IWAE_SEED, posterior=posterior,
                               cancel=cancel)


def calibration_of(model) -> dict[str, Any]:
    """The model's calibration record, or :class:`UncalibratedError` saying how to make one."""
    cal = model.metadata.get("calibration")
    path = model.metadata.get("path", "FILE")
    if not isinstance(cal, dict) or not cal.get("quantiles"):
        if hasattr(model, "no_likelihood_message"):   # a foreign decoder (models.foreign) says why and what to do
            raise UncalibratedError(model.no_likelihood_message())
        raise UncalibratedError(f"{model.name}: this checkpoint has no OOD calibration, so no verdict can be "
                                f"given; run `latent-explorer calibrate {path}`")
    if cal.get("version") not in READABLE_VERSIONS or cal.get("family") != model.family:
        raise UncalibratedError(f"{model.name}: its OOD calibration is from another version of Latent "
                                f"Explorer; run `latent-explorer calibrate {path}` to redo it")
    return cal


def _method_ood(model, cal: dict[str, Any] | None) -> str:
    """How the stored calibration's statistic is computed (an older record names its own)."""
    spec = (statistic_spec(model) if model.family in STATISTICS else None) or {   # a foreign decoder's record names its own (models.foreign.calibration)
        "name": (cal or {}).get("statistic"), "method_ood": (cal or {}).get("method_ood", "")}
    if cal and cal.get("statistic") not in (None, spec["name"]):
        return f"{cal['statistic']} (an older calibration; recalibrate for the current statistic)"
    return spec["method_ood"]


def method_name(model, k: int | None = None) -> str:
    spec = {"method_ood": _method_ood(model, model.metadata.get("calibration"))}
    if model.family == "vae":
        return f"IWAE K={int(k or DEFAULT_K)}; OOD: {spec['method_ood']}"
    if model.family == "flow":
        return f"flow, dequantized bound K={int(k or DEFAULT_K)}; OOD: {spec['method_ood']}"
    if model.family == "autoregressive":
        return f"PixelCNN, exact likelihood; OOD: {spec['method_ood']}"
    return f"no likelihood ({'GAN' if model.family == 'gan' else 'a decoder alone defines none'}); OOD: {spec['method_ood']}"


def ood(model, x: torch.Tensor) -> list[OODResult]:
    """The fast verdict: statistic, percentile and verdict per image (no K-sample likelihood).

    About 1-2 ms an image on a 2-core CPU for the VAE (one encoder and one decoder pass, plus a PNG
    encode); the GAN's inversion costs more (see docs/scoring.md).
    """
    cal = calibration_of(model)
    return verdicts_from_features(model, features(model, x), cal)


def verdicts_from_features(model, feats: dict[str, np.ndarray], cal: dict[str, Any]) -> list[OODResult]:
    """Statistic, percentile and verdict of each image from its already computed features."""
    stat = statistic_from_features(feats, cal)
    pct = percentile_of(stat, cal)
    thr = float(cal["threshold"])
    method = f"OOD: {_method_ood(model, cal)}"
    return [OODResult(float(s), float(p), OUT_OF_DISTRIBUTION if s > thr else IN_DISTRIBUTION, method)
            for s, p in zip(stat, pct)]


def score_from_features(model, feats: dict[str, np.ndarray], ll: torch.Tensor | None,
                        k: int | None = None) -> list[Score]:
    """One :class:`~models.score.Score` per image from features and log-likelihoods already computed
    (raises :class:`UncalibratedError` when the model has no calibration)."""
    verdicts = verdicts_from_features(model, feats, calibration_of(model))
    dims = math.prod(model.image_shape)
    method = method_name(model, k)
    out = []
    for i, v in enumerate(verdicts):
        lp = None if ll is None else float(ll[i])
        out.append(Score(log_likelihood_nats=lp,
                         bits_per_dim=None if lp is None else float(likelihood.bits_per_dim(lp, dims)),
                         ood_statistic=v.ood_statistic, percentile=v.percentile, verdict=v.verdict,
                         method=method, approximate=ll is None))
    return out


def score(model, x: torch.Tensor, k: int | None = None) -> list[Score]:
    """One :class:`~models.score.Score` per image: the verdict first, then the likelihood (the
    features, and the VAE's posterior inside them, are computed once and shared)."""
    calibration_of(model)  # fail before any work when there is no calibration
    x = model._as_batch(x)
    feats = features(model, x)
    return score_from_features(model, feats, log_likelihood(model, x, k, feats=feats), k)


# ------------------------------------------------------------------------------------------ one analysis
@dataclass
class Explanation:
    """Everything the app shows for one image, each part computed once (:func:`explain`)."""

    z: np.ndarray                       # float32 (D,): VAE posterior mean, GAN inverted code
    reconstruction: np.ndarray          # uint8 (C, H, W): the decoded z
    score: Score | None                 # None when the model has no calibration (see ``note``)
    raw: float | None                   # RAW_FEATURES[family]["feature"] of this image
    features: dict[str, float] = field(default_factory=dict)   # every scalar OOD feature
    note: str = ""
    heat: np.ndarray | None = None      # float32 (H, W) bits: model minus local model (models.ood_explain)
    neighbours: list = field(default_factory=list)   # models.ood_explain.Neighbour, nearest first


def explain(model, x_uint8: torch.Tensor, *, k: int | None = None, cancel: Callable[[], bool] | None = None,
            progress: Callable[[str], None] | None = None) -> list[Explanation]:
    """Code, reconstruction, score and raw features of each image of ``x_uint8`` (N, C, H, W) uint8.

    Each stage runs once: the features (which encode the VAE or invert the GAN, and hold z), one decode
    of z for the reconstruction, then the verdict from those same features and (VAE) the K-sample
    likelihood from the posterior already computed.  ``progress(stage)`` is told "encoding" or
    "inverting the generator", "reconstructing", "likelihood and verdict"; ``cancel()`` is checked
    between stages and batches and stops the work with :class:`~models.errors.Cancelled`.  An
    uncalibrated model gives ``score=None`` and a ``note`` (the reason, and the log-likelihood if any).
    ``heat`` and ``neighbours`` say why (:mod:`models.ood_explain`): per-pixel model bits minus a local
    model's (VAE with a calibrated background model), and the five nearest bundled training images.
    """
    def stage(text: str) -> None:
        if cancel is not None and cancel():
            raise Cancelled()
        if progress is not None:
            progress(text)

    x = model._as_batch(x_uint8)
    stage("inverting the generator" if model.family == "gan" else "encoding")
    feats = features(model, x, cancel=cancel)
    z = (torch.as_tensor(feats["latent"], dtype=torch.float32, device=model.device) if "latent" in feats
         else model.encode(x) if model.latent_dim else torch.zeros(x.shape[0], 0, device=model.device))
    stage("reconstructing")
    with torch.no_grad():   # a model without a latent (PixelCNN) has nothing to reconstruct: the image itself
        recon = to_uint8(model.decode(z)) if model.latent_dim else to_uint8(x)
    stage("likelihood and verdict")
    ll = log_likelihood(model, x, k, feats=feats, cancel=cancel)
    try:
        scores: list[Score | None] = list(score_from_features(model, feats, ll, k))
        note = ""
    except UncalibratedError as exc:
        scores, note = [None] * x.shape[0], str(exc)
    if cancel is not None and cancel():
        raise Cancelled()
    from . import ood_explain

    heat = ood_explain.heat_map(model, x, mu=z)   # None without a per-pixel likelihood or a background model
    near = ood_explain.nearest_training(model, z.detach().float().cpu().numpy()) if model.latent_dim \
        else [[] for _ in range(x.shape[0])]
    raw_name = (RAW_FEATURES.get(model.family) or (model.metadata.get("calibration") or {}).get("raw") or {}).get("feature")
    scalars = {name: v for name, v in feats.items() if v.ndim == 1}
    out = []
    for i in range(x.shape[0]):
        extra = f" (log-likelihood {float(ll[i]):.1f} nats)" if scores[i] is None and ll is not None else ""
        out.append(Explanation(
            z=z[i].detach().float().cpu().numpy(), reconstruction=recon[i], score=scores[i],
            raw=float(feats[raw_name][i]) if raw_name in feats else None,
            features={name: float(v[i]) for name, v in scalars.items()}, note=note + extra,
            heat=None if heat is None else heat[i], neighbours=near[i]))
    return out


# ------------------------------------------------------------------------------------------ calibration
def fit_calibration(model, x_fit: torch.Tensor, x_quantiles: torch.Tensor, *, fpr: float = DEFAULT_FPR,
                    source: str = "") -> dict[str, Any]:
    """Fit the statistic on ``x_fit`` and its quantiles/threshold on ``x_quantiles`` (both in-distribution,
    disjoint): :func:`models.ood_statistic.fit_calibration` with the family's raw feature beside it.
    Returns the calibration record (JSON-able); does not modify the model."""
    return _fit_calibration(model, x_fit, x_quantiles, fpr=fpr, source=source, raw=RAW_FEATURES[model.family])


def heldout_images(model, data: str | None = None) -> tuple[torch.Tensor, str]:
    """The held-out in-distribution images for calibrating ``model`` and their name.

    ``data``: "fashion-mnist" or a folder; by default what the model was trained on.  Never the test set.
    """
    from . import data as data_mod

    data = data or model.metadata.get("training", {}).get("data") or "fashion-mnist"
    c, h, w = model.image_shape   # the folder is read at the shape the model was built for
    _, held = data_mod.load_training_data(data, size=(h, w), channels=c)
    return held.images, held.name


def calibrate(model, data: str | None = None, *, fpr: float = DEFAULT_FPR,
              images: torch.Tensor | None = None, source: str | None = None,
              log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Calibrate ``model`` on its held-out split (first half fits, second half gives the quantiles),
    store the record in ``model.metadata["calibration"]`` and return it.  Save with ``models.save``."""
    if images is None:
        images, source = heldout_images(model, data)
    half = len(images) // 2
    cal = fit_calibration(model, images[:half], images[half:], fpr=fpr, source=source or "")
    model.metadata["calibration"] = cal
    if log:
        log(f"calibrated {model.name}: {cal['statistic']} threshold {cal['threshold']:.3f} at "
            f"{100 * fpr:.0f}% false positives ({cal['n_fit']} + {cal['n']} held-out images, "
            f"{cal['seconds']:.0f} s)")
    return cal

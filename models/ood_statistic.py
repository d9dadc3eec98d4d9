"""The OOD statistic: per-image features -> one calibrated number, fitted on in-distribution images only.

A statistic is a list of *components* c_j, each oriented so that larger is more unusual and
standardised on the fitting half of the held-out split, z_j = (c_j − m_j) / s_j, and a *combination*:

* ``"max"``     statistic = max_j z_j  (calibration version 1, still read);
* ``"fisher"``  Fisher's method on one-sided p-values, statistic = −2 Σ_j log Φ̄(z_j), with Φ̄ the
  standard normal upper tail -- every component contributes evidence, none has to win alone, and a
  component far in its tail counts as much as its p-value says (not capped like an empirical rank).

A component is one feature or the Mahalanobis distance² of several under a Gaussian fitted on the same
half.  Some features need more than the model's own pass (``extras`` of the record):

* ``"background"`` -- a small local autoregressive model (:mod:`models.ood_background`), fitted on the
  fitting half and stored in the record (the heat map of :mod:`models.ood_explain` uses it); with
  ``"local"`` also the features ``local_bpd`` and the likelihood ratio ``lr_local = nll_bpd − local_bpd``
  (Schirrmeister et al. 2020; Ren et al. 2019), measured as candidates (docs/scoring.md);
* ``"lzma"`` -- the image's raw bytes as an LZMA2 stream (preset 9, 64 KiB dictionary) in bits/dim, a
  second universal compressor beside lossless WebP: ``complexity_lzma = nll_bpd − lzma_bpd``
  (Serrà et al. 2020 with another compressor; each sees structure the other misses);
* ``"flip"`` -- the model's NLL of the image upside down, ``orientation = nll_bpd − nll_flip_bpd``: a
  likelihood ratio against the same image with identical pixel statistics and complexity, positive when
  the model prefers the image the other way up (garments have an orientation; docs/scoring.md).

The quantiles of the statistic are taken on the *other* half, so the stated false-positive rate is not
flattered by the fit; the threshold is the (1 − fpr) quantile.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from .errors import Cancelled

#: Version written by :func:`fit_calibration`; :data:`READABLE_VERSIONS` are still used as stored.
CALIBRATION_VERSION = 2
READABLE_VERSIONS = (1, 2)
DEFAULT_FPR = 0.05
LEVELS = np.round(np.linspace(0.0, 100.0, 1001), 1)
FEATURE_BATCH = 256
LN2 = math.log(2.0)

_LIKELIHOOD = {"name": "fisher(webp-complexity, lzma-complexity, nll, orientation-LR)",
               "components": ["complexity", "complexity_lzma", "nll_bpd", "orientation"],
               "combine": "fisher", "extras": ["background", "flip", "lzma"],
               "method_ood": "Fisher's method over the complexity-corrected likelihood (lossless WebP and "
                             "LZMA), the NLL and the likelihood ratio to the image upside down"}

#: A VAE with a learned prior (models.latent_prior) adds latent typicality: -log p_lambda(mu(x)), the
#: code's density under the flow fitted to the training codes -- an image whose code lands where no
#: garment's does is unusual even when its pixels are as compressible as a garment's (docs/scoring.md:
#: grey emoji 0.982 -> 0.990 AUROC, no non-garment family lower).  Without a learned prior this term is
#: just |mu|^2 under N(0, I), which measured weaker than leaving it out, so it is not used then.
_LIKELIHOOD_LATENT = {**_LIKELIHOOD,
                      "name": "fisher(webp-complexity, lzma-complexity, nll, orientation-LR, latent-prior NLL)",
                      "components": [*_LIKELIHOOD["components"], "latent_nll"],
                      "method_ood": _LIKELIHOOD["method_ood"] + ", and how unusual the image's code is under "
                                                                "the learned latent prior"}

#: A GAN has no likelihood; its "bits" are the Gaussian code length of the inversion residual.  Fisher's
#: method over that residual, its ratio to the local autoregressive model's bits (the GAN's analogue of
#: the complexity correction), the discriminator's verdict, the orientation ratio (the residual of the
#: image against that of the image upside down: a second inversion) and how typical the image's
#: complexity is (a Gaussian over its lossless WebP and LZMA lengths, two-sided: blank images are as
#: foreign as noise).  Chosen on the tuning families only (worst 0.987 AUROC, against 0.951 without the
#: complexity term); measured against the version-1 rule, a Gaussian over (residual, WebP length,
#: discriminator), on all families in docs/scoring.md.  The second inversion doubles the verdict's cost.
_GAN = {"name": "fisher(inversion residual, residual-to-local-model ratio, discriminator, orientation, "
                "complexity typicality)",
        "components": ["log_residual", "lr_local", "neg_disc_logit", "orientation", ["webp_bpd", "lzma_bpd"]],
        "combine": "fisher", "extras": ["background", "local", "flip", "lzma"],
        "method_ood": "Fisher's method over the inversion residual, its ratio to a local pixel model, the "
                      "discriminator, the residual of the image upside down and how typical its compressed "
                      "size is (an approximation, not a likelihood)"}

#: The statistic each family ships (:func:`statistic_spec` picks the VAE's by its prior).
STATISTICS: dict[str, dict[str, Any]] = {
    "vae": _LIKELIHOOD,
    "flow": _LIKELIHOOD,
    "autoregressive": _LIKELIHOOD,
    "gan": _GAN,
}


def statistic_spec(model) -> dict[str, Any]:
    """The statistic ``model`` is calibrated with: its family's, with latent typicality for a VAE that
    has a learned prior."""
    if model.family == "vae" and getattr(getattr(model, "net", None), "prior", None) is not None:
        return _LIKELIHOOD_LATENT
    return STATISTICS[model.family]


# ------------------------------------------------------------------------------------------ features
def _derived(feats: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    if "log_residual" in feats and "residual_complexity" not in feats:
        # a GAN's "code length" of x: Gaussian residual coding, ~ log-residual per pixel in bits,
        # corrected by the WebP code length like Serrà's S(x)
        feats["residual_complexity"] = 0.5 * feats["log_residual"] / LN2 - feats["webp_bpd"]
    if "disc_logit" in feats:
        feats["neg_disc_logit"] = -feats["disc_logit"]     # higher = less like the training data to D
    return feats


def _own_nll(feats: dict[str, np.ndarray]) -> np.ndarray:
    """The family's 'bits' of an image: NLL in bits/dim, or a GAN's Gaussian residual code length."""
    return feats["nll_bpd"] if "nll_bpd" in feats else 0.5 * feats["log_residual"] / LN2


@torch.no_grad()
def _nll_only(model, x01: torch.Tensor) -> np.ndarray:
    """The family's own bits of images (no compressors): for a VAE −ELBO at the posterior mean in
    bits/dim, computed exactly as :func:`models.ood_features.vae_features` does."""
    from . import likelihood, ood_features

    if model.family != "vae" or getattr(model, "ood_features", None) is not None:
        return _own_nll(ood_features.features(model, x01))
    x01 = x01.to(model.device, torch.float32)
    mu, logvar = model.net.posterior(x01)
    rec = likelihood.log_prob(x01, model.net.decoder_params(mu), model.net.n_mix)
    kl = 0.5 * (mu ** 2 + logvar.exp() - 1.0 - logvar).sum(1)
    return ((kl - rec) / (math.prod(x01.shape[1:]) * LN2)).double().cpu().numpy()


def lzma_bits_per_dim(x_u8: torch.Tensor) -> np.ndarray:
    """Length of each image's raw bytes (N, C, H, W) as an LZMA2 stream, bits per dimension (~1 ms)."""
    import lzma

    filters = [{"id": lzma.FILTER_LZMA2, "preset": 9, "dict_size": 1 << 16}]
    a = x_u8.to(torch.uint8).cpu().numpy()
    return np.array([len(lzma.compress(im.tobytes(), format=lzma.FORMAT_RAW, filters=filters)) * 8.0 / im.size
                     for im in a])


def _extras(model, x: torch.Tensor, feats: dict[str, np.ndarray], cal: dict[str, Any]) -> None:
    from . import ood_background

    if "lzma" in cal.get("extras", ()):
        feats["lzma_bpd"] = lzma_bits_per_dim(x)
        feats["complexity_lzma"] = _own_nll(feats) - feats["lzma_bpd"]
    if "background" in cal and "local" in cal.get("extras", ()):
        with torch.no_grad():
            bg = ood_background.from_json(cal["background"])
            feats["local_bpd"] = ood_background.nll_bpd(bg, x.float().cpu() / 255.0).double().numpy()
        feats["lr_local"] = _own_nll(feats) - feats["local_bpd"]
    if "flip" in cal.get("extras", ()):
        feats["nll_flip_bpd"] = _nll_only(model, torch.flip(x, dims=[-2]).float() / 255.0)
        feats["orientation"] = _own_nll(feats) - feats["nll_flip_bpd"]


def stored_calibration(model) -> dict[str, Any] | None:
    cal = model.metadata.get("calibration")
    return cal if isinstance(cal, dict) and cal.get("family") == model.family else None


def features(model, x: torch.Tensor, batch: int = FEATURE_BATCH, cancel: Callable[[], bool] | None = None,
             cal: dict[str, Any] | None = None) -> dict[str, np.ndarray]:
    """All per-image OOD features of ``x`` (uint8 or [0, 1]; see :mod:`models.ood_features`), in batches,
    with the extras the calibration ``cal`` (default: the model's own) asks for.

    ``cancel`` is checked before each batch; it raises :class:`~models.errors.Cancelled`."""
    from . import ood_features

    cal = cal if cal is not None else (stored_calibration(model) or {})
    x = model._as_batch(x)
    x_u8 = torch.round(x.clamp(0, 1) * 255.0)
    parts: dict[str, list[np.ndarray]] = {}
    for i in range(0, x.shape[0], batch):
        if cancel is not None and cancel():
            raise Cancelled()
        f = ood_features.features(model, x[i:i + batch])
        _extras(model, x_u8[i:i + batch], f, cal)
        for key, value in f.items():
            parts.setdefault(key, []).append(value)
    return _derived({key: np.concatenate(v) for key, v in parts.items()})


# ------------------------------------------------------------------------------------------ statistic
def _component_value(feats: dict[str, np.ndarray], c: dict[str, Any]) -> np.ndarray:
    """One component, before standardisation: a feature, or a Mahalanobis distance² of several."""
    if "features" in c:
        v = np.stack([feats[n] for n in c["features"]], 1) - np.asarray(c["center"])
        return np.einsum("ni,ij,nj->n", v, np.asarray(c["precision"]), v)
    return feats[c["feature"]]


def _fit_component(feats: dict[str, np.ndarray], spec: str | list[str]) -> dict[str, Any]:
    """A component's parameters, fitted on in-distribution features only."""
    if isinstance(spec, str):
        c: dict[str, Any] = {"feature": spec}
    else:
        x = np.stack([feats[n] for n in spec], 1)
        cov = np.cov(x.T) + 1e-6 * np.eye(x.shape[1])
        c = {"features": list(spec), "center": x.mean(0).tolist(), "precision": np.linalg.inv(cov).tolist()}
    v = _component_value(feats, c)
    c.update({"mean": float(v.mean()), "std": float(max(v.std(), 1e-9))})
    return c


def component_z(feats: dict[str, np.ndarray], cal: dict[str, Any]) -> np.ndarray:
    """(components, N) standardised component values."""
    return np.stack([(_component_value(feats, c) - c["mean"]) / c["std"] for c in cal["components"]], 0)


def statistic_from_features(feats: dict[str, np.ndarray], cal: dict[str, Any]) -> np.ndarray:
    """The calibrated statistic (higher = more unusual), by the record's combination rule."""
    zs = component_z(feats, cal)
    if cal.get("combine", "max") == "fisher":
        log_p = torch.special.log_ndtr(-torch.as_tensor(zs, dtype=torch.float64)).numpy()
        return -2.0 * log_p.sum(0)
    return np.max(zs, axis=0)


def percentile_of(stat: np.ndarray, cal: dict[str, Any]) -> np.ndarray:
    """Percentile (0-100) of each statistic among the held-out in-distribution images."""
    q = np.asarray(cal["quantiles"], dtype=np.float64)
    levels = np.asarray(cal.get("levels", LEVELS), dtype=np.float64)
    # np.interp needs increasing x; quantiles can repeat, so take the highest level of a tie run
    qu, idx = np.unique(q[::-1], return_index=True)
    lv = levels[::-1][idx]
    return np.clip(np.interp(stat, qu, lv, left=0.0, right=100.0), 0.0, 100.0)


# ------------------------------------------------------------------------------------------ calibration
def fit_calibration(model, x_fit: torch.Tensor, x_quantiles: torch.Tensor, *, fpr: float = DEFAULT_FPR,
                    source: str = "", raw: dict[str, str] | None = None,
                    spec: dict[str, Any] | None = None) -> dict[str, Any]:
    """Fit the statistic on ``x_fit`` and its quantiles/threshold on ``x_quantiles`` (both in-distribution,
    uint8, disjoint).  Returns the calibration record (JSON-able); does not modify the model.
    ``spec`` (default :data:`STATISTICS` of the family) says which components, combination and extras."""
    from . import ood_background

    if not 0.0 < fpr < 0.5:
        raise ValueError(f"false-positive rate must be between 0 and 0.5 (got {fpr})")
    if len(x_fit) < 20 or len(x_quantiles) < 20:
        raise ValueError(f"calibration needs at least 20 in-distribution images in each half "
                         f"(got {len(x_fit)} and {len(x_quantiles)})")
    t0 = time.perf_counter()
    spec = spec or statistic_spec(model)
    cal: dict[str, Any] = {"version": CALIBRATION_VERSION, "family": model.family, "statistic": spec["name"],
                           "combine": spec.get("combine", "max"), "extras": list(spec.get("extras", []))}
    if "background" in cal["extras"]:
        fit_u8 = torch.round(model._as_batch(x_fit).float().cpu().clamp(0, 1) * 255.0).to(torch.uint8)
        cal["background"] = ood_background.to_json(ood_background.fit(fit_u8))
    f_fit = features(model, x_fit, cal=cal)
    cal["components"] = [_fit_component(f_fit, c) for c in spec["components"]]
    f_q = features(model, x_quantiles, cal=cal)
    stat = statistic_from_features(f_q, cal)
    cal.update({
        "fpr": float(fpr),
        "threshold": float(np.quantile(stat, 1.0 - fpr)),
        "levels": [float(v) for v in LEVELS],
        "quantiles": [float(v) for v in np.quantile(stat, LEVELS / 100.0)],
        "n_fit": len(x_fit),
        "n": len(x_quantiles),
        "source": source,
        "higher_is_more_ood": True,
        "seconds": round(time.perf_counter() - t0, 2),
    })
    # the raw feature beside the statistic (same held-out images), so the app can show why raw
    # likelihood alone misleads: MNIST digits land in its *likely* tail
    if raw is not None:
        cal["raw"] = {**raw, "quantiles": [float(v) for v in np.quantile(f_q[raw["feature"]], LEVELS / 100.0)]}
    return cal

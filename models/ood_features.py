"""Cheap per-image statistics that the OOD verdict is built from (deterministic, batch-independent).

Every function here takes images ``x01`` (N, C, H, W) float in [0, 1] (C = 1 grey or 3 colour) and
returns a dict of
float64 numpy arrays of length N (plus ``"latent"``, an (N, D) array).  "Deterministic" matters: the
same image always gets the same statistic, whatever else is in its batch, so a percentile computed
today matches the calibration stored in the checkpoint.

* :func:`webp_bits_per_dim`, :func:`png_bits_per_dim` — the input-complexity term of Serrà et al.
  (ICLR 2020): the length of the image as a lossless WebP (shipped) or PNG file, grey or RGB, in bits
  per dimension L(x) = 8 * bytes / (C * H * W) -- the same dimensions the likelihood's bits/dim
  divide by, so S(x) = -log2 p(x) / (C H W) - L(x) compares like with like for colour images.
* :func:`vae_features` — the likelihood terms at the posterior mean: reconstruction log-likelihood
  log p(x | z=μ(x)), KL(q(z|x) ‖ p(z)), their sum as bits/dim, the posterior's log-variance, μ(x).
* :func:`likelihood_features` — a flow or PixelCNN: its own log-likelihood as bits/dim (the flow's
  dequantized bound with one seeded noise draw shared by every image, the PixelCNN's exact value) and
  the complexity-corrected S(x) = nll_bpd − webp_bpd; the flow's exact code z as ``latent``.
* :func:`gan_features` — a GAN has no likelihood: the encoder's z is refined by a bounded number of
  Adam steps on ‖G(z) − x‖² + λ‖z‖²/2, and the residual, ‖z‖², the encoder-only residual and the
  discriminator's logit are reported.
"""
from __future__ import annotations

import io
import math

import numpy as np
import torch

from .imaging import hwc, to_uint8

#: Adam steps of the GAN inversion (bounded: the verdict must stay cheap) and its settings.
GAN_INVERSION_STEPS = 20
GAN_INVERSION_LR = 0.05
GAN_PRIOR_WEIGHT = 1e-3
LN2 = math.log(2.0)


def pillow_arrays(x01: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) floats in [0, 1] -> uint8 in Pillow's layout, rounded like the likelihood's pixel
    levels: (N, H, W) for C = 1, (N, H, W, 3) for C = 3."""
    return hwc(to_uint8(x01))  # the one float->uint8 rounding (models.imaging)


def _mode(a: np.ndarray) -> str:
    return "L" if a.ndim == 2 else "RGB"


def webp_bits_per_dim(images_u8: np.ndarray) -> np.ndarray:
    """Length of each (H, W) grey or (H, W, 3) RGB uint8 image as a lossless WebP file (method 4), in bits
    per dimension (per pixel and channel).

    About 0.25 ms an image; a better image compressor than PNG (Fashion-MNIST: 4.6 vs 5.1 bits/dim),
    which makes the complexity correction sharper (docs/scoring.md has the comparison).
    """
    from PIL import Image, features as pil_features

    if not pil_features.check("webp"):
        raise ValueError("this Pillow was built without WebP support, which the OOD statistic needs; "
                           "install Pillow from its wheels (pip install --force-reinstall pillow)")
    out = np.empty(len(images_u8), dtype=np.float64)
    for i, a in enumerate(images_u8):
        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(a), _mode(a)).save(buf, format="WEBP", lossless=True, quality=100,
                                                           method=4)
        out[i] = buf.tell() * 8.0 / a.size
    return out


def png_bits_per_dim(images_u8: np.ndarray) -> np.ndarray:
    """Length of each (H, W) grey or (H, W, 3) RGB uint8 image as a PNG file (compress level 9), in bits
    per dimension.

    About 0.1 ms an image.  The constant header bytes are included; they shift every image equally.
    """
    from PIL import Image

    out = np.empty(len(images_u8), dtype=np.float64)
    for i, a in enumerate(images_u8):
        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(a), _mode(a)).save(buf, format="PNG", compress_level=9)
        out[i] = buf.tell() * 8.0 / a.size
    return out


@torch.no_grad()
def vae_features(model, x01: torch.Tensor) -> dict[str, np.ndarray]:
    """Likelihood terms of a VAE at the posterior mean (one encoder and one decoder pass)."""
    from . import likelihood

    x01 = x01.to(model.device, torch.float32)
    dims = math.prod(x01.shape[1:])
    mu, logvar = model.net.posterior(x01)
    rec = likelihood.log_prob(x01, model.net.decoder_params(mu), model.net.n_mix)   # log p(x | mu), nats
    kl = 0.5 * (mu ** 2 + logvar.exp() - 1.0 - logvar).sum(1)
    u8 = pillow_arrays(x01)
    png, webp = png_bits_per_dim(u8), webp_bits_per_dim(u8)
    nll_bpd = ((kl - rec) / (dims * LN2)).double().cpu().numpy()
    return {
        "nll_bpd": nll_bpd,                                            # -(log p(x|mu) - KL) in bits/dim
        "rec_bpd": (-rec / (dims * LN2)).double().cpu().numpy(),
        "kl_nats": kl.double().cpu().numpy(),
        "logvar_mean": logvar.mean(1).double().cpu().numpy(),
        "png_bpd": png,
        "webp_bpd": webp,
        "complexity_png": nll_bpd - png,                               # Serrà et al.'s S(x), PNG
        "complexity": nll_bpd - webp,                                  # the same with lossless WebP
        "latent": mu.double().cpu().numpy(),
        "logvar": logvar.double().cpu().numpy(),                       # q(z|x), reused by models.iwae
        # latent typicality: -log p(mu(x)) under the model's prior (its learned one when fitted)
        "latent_nll": (-model.log_prior(mu)).double().cpu().numpy(),
    }


def gan_invert(model, x01: torch.Tensor, steps: int = GAN_INVERSION_STEPS,
               lr: float = GAN_INVERSION_LR) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Encoder's z, then ``steps`` Adam steps on each image's own loss.

    Returns (z0, z, per-image mean squared residual of G(z) on the [-1, 1] scale).  Each image's
    z is updated only from its own loss (Adam is element-wise), so results do not depend on the batch.
    """
    net = model.net
    target = x01.to(model.device, torch.float32) * 2.0 - 1.0
    with torch.no_grad():
        z0 = net.encoder(target)
    z = z0.clone().requires_grad_(True)
    m = torch.zeros_like(z)
    v = torch.zeros_like(z)
    b1, b2, eps = 0.9, 0.999, 1e-8
    with torch.enable_grad():
        for t in range(1, int(steps) + 1):
            res = ((net.generator(z) - target) ** 2).flatten(1).sum(1)
            loss = (res + 0.5 * GAN_PRIOR_WEIGHT * (z ** 2).sum(1)).sum()
            (g,) = torch.autograd.grad(loss, z)
            with torch.no_grad():
                m.mul_(b1).add_(g, alpha=1 - b1)
                v.mul_(b2).addcmul_(g, g, value=1 - b2)
                step = lr * (m / (1 - b1 ** t)) / ((v / (1 - b2 ** t)).sqrt() + eps)
                z.sub_(step)
    z = z.detach()
    with torch.no_grad():
        res = ((net.generator(z) - target) ** 2).flatten(1).mean(1)
    return z0, z, res


def gan_features(model, x01: torch.Tensor, steps: int = GAN_INVERSION_STEPS) -> dict[str, np.ndarray]:
    """Inversion residuals, latent norm and discriminator logit of a GAN (no likelihood exists)."""
    net = model.net
    was_training = net.training
    net.eval()
    try:
        x01 = x01.to(model.device, torch.float32)
        z0, z, res = gan_invert(model, x01, steps)
        with torch.no_grad():
            target = x01 * 2.0 - 1.0
            res0 = ((net.generator(z0) - target) ** 2).flatten(1).mean(1)
            d = net.discriminator(target).squeeze(1)
    finally:
        net.train(was_training)
    u8 = pillow_arrays(x01)
    png, webp = png_bits_per_dim(u8), webp_bits_per_dim(u8)
    return {
        "log_residual": torch.log(res + 1e-6).double().cpu().numpy(),
        "log_residual_encoder": torch.log(res0 + 1e-6).double().cpu().numpy(),
        "z_norm2": (z ** 2).mean(1).double().cpu().numpy(),
        "disc_logit": d.double().cpu().numpy(),
        "png_bpd": png,
        "webp_bpd": webp,
        "latent": z.double().cpu().numpy(),
    }


@torch.no_grad()
def likelihood_features(model, x01: torch.Tensor) -> dict[str, np.ndarray]:
    """NLL in bits/dim and its complexity correction for a model with its own ``log_likelihood``."""
    x01 = x01.to(model.device, torch.float32)
    dims = math.prod(x01.shape[1:])
    nll_bpd = (-model.log_likelihood(x01, 1) / (dims * LN2)).double().cpu().numpy()
    u8 = pillow_arrays(x01)
    png, webp = png_bits_per_dim(u8), webp_bits_per_dim(u8)
    out = {"nll_bpd": nll_bpd, "png_bpd": png, "webp_bpd": webp, "complexity_png": nll_bpd - png,
           "complexity": nll_bpd - webp}
    if model.latent_dim:
        out["latent"] = model.encode(x01).double().cpu().numpy()
    return out


def features(model, x01: torch.Tensor) -> dict[str, np.ndarray]:
    """The family's feature dict (see the module docstring); a model may bring its own
    (``model.ood_features``, e.g. a foreign decoder: code, residual, WebP length -- no likelihood)."""
    own = getattr(model, "ood_features", None)
    if own is not None:
        return own(x01)
    if model.family == "vae":
        return vae_features(model, x01)
    if model.family == "gan":
        return gan_features(model, x01)
    if model.family in ("flow", "autoregressive"):
        return likelihood_features(model, x01)
    raise ValueError(f"no OOD features for model family {model.family!r}")

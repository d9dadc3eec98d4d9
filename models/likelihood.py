"""Decoder likelihoods that are proper distributions over 8-bit pixel values.

A discretized mixture of logistics (Salimans et al., PixelCNN++, 2017) for every channel of every
pixel, independently given the decoder's parameters: the probabilities of the 256 values of each
8-bit sample sum to one, so

    log p(x) = sum_{c,h,w} log sum_k pi_{k,c,h,w} P(x_{c,h,w} | mu_{k,c,h,w}, s_{k,c,h,w})

is in nats of the actual 8-bit image (grey or colour) and bits per dimension, -log p(x) / (C H W ln 2),
compare with published figures.  Parameter layout: (N, 3 * n_mix * C, H, W) read as
(N, 3, n_mix, C, H, W) -- logits, means, log-scales -- which for C = 1 is the original
(logits, means, log-scales) split of the Fashion-MNIST models.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

BINS = 256
HALF_BIN = 1.0 / (BINS - 1)  # on the [-1, 1] scale a bin is 2/255 wide
LOG_SCALE_MIN = -7.0


def to_signed(x01: torch.Tensor) -> torch.Tensor:
    """[0, 1] images -> values on the [-1, 1] grid of the 256 pixel levels (rounded to a level)."""
    levels = torch.round(x01.clamp(0, 1) * (BINS - 1))
    return levels / (BINS - 1) * 2.0 - 1.0


def split_params(params: torch.Tensor, n_mix: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(N, 3*n_mix*C, H, W) raw decoder output -> logit_probs, means, log_scales, each (N, n_mix, C, H, W)."""
    n, k, h, w = params.shape
    if k % (3 * n_mix):
        raise ValueError(f"decoder output has {k} maps, not a multiple of 3 * n_mix = {3 * n_mix}")
    logits, means, log_scales = params.reshape(n, 3, n_mix, k // (3 * n_mix), h, w).unbind(1)
    return logits, torch.tanh(means), log_scales.clamp(min=LOG_SCALE_MIN)


def log_prob(x01: torch.Tensor, params: torch.Tensor, n_mix: int) -> torch.Tensor:
    """Per-image log-probability (nats) of 8-bit images ``x01`` (N, C, H, W) in [0, 1]."""
    x = to_signed(x01).unsqueeze(1)  # (N, 1, C, H, W), broadcasts over mixture components
    logits, means, log_scales = split_params(params, n_mix)
    centered = x - means
    inv_s = torch.exp(-log_scales)
    plus_in = inv_s * (centered + HALF_BIN)
    min_in = inv_s * (centered - HALF_BIN)
    cdf_delta = torch.sigmoid(plus_in) - torch.sigmoid(min_in)
    log_cdf_plus = plus_in - F.softplus(plus_in)          # the bin at 0 extends to -inf
    log_one_minus_cdf_min = -F.softplus(min_in)           # the bin at 255 extends to +inf
    mid_in = inv_s * centered
    log_pdf_mid = mid_in - log_scales - 2.0 * F.softplus(mid_in)
    log_bin = torch.where(cdf_delta > 1e-5, torch.log(cdf_delta.clamp(min=1e-12)),
                          log_pdf_mid - math.log((BINS - 1) / 2.0))
    lp = torch.where(x < -0.999, log_cdf_plus, torch.where(x > 0.999, log_one_minus_cdf_min, log_bin))
    lp = torch.logsumexp(lp + F.log_softmax(logits, dim=1), dim=1)  # (N, C, H, W)
    return lp.flatten(1).sum(1)


def mean_image(params: torch.Tensor, n_mix: int) -> torch.Tensor:
    """The mixture mean as an image in [0, 1] (what the app shows for a latent)."""
    logits, means, _ = split_params(params, n_mix)
    m = (F.softmax(logits, dim=1) * means).sum(1)  # (N, C, H, W)
    return ((m.clamp(-1, 1) + 1.0) * 0.5)


def bits_per_dim(log_p_nats: torch.Tensor | float, dims: int) -> torch.Tensor | float:
    """Negative log-likelihood in bits per dimension."""
    return -log_p_nats / (dims * math.log(2.0))


def level_log_probs(params: torch.Tensor, n_mix: int) -> torch.Tensor:
    """log P(level | params) of all 256 levels of every sample: (N, C, H, W, 256), each row
    log-sum-exps to 0 (the end bins take the tails, so the 256 probabilities sum to one).

    Used for per-pixel conditionals and for sampling an autoregressive model exactly."""
    logits, means, log_scales = split_params(params, n_mix)
    edges = torch.linspace(-1.0, 1.0, BINS, device=params.device, dtype=params.dtype)
    lower = torch.cat([edges.new_full((1,), -math.inf), edges[1:] - HALF_BIN])     # (256,)
    upper = torch.cat([edges[:-1] + HALF_BIN, edges.new_full((1,), math.inf)])
    inv_s = torch.exp(-log_scales).unsqueeze(-1)                                     # (N, K, C, H, W, 1)
    m = means.unsqueeze(-1)
    cdf_up = torch.sigmoid(inv_s * (upper - m))
    cdf_lo = torch.sigmoid(inv_s * (lower - m))
    probs = (F.softmax(logits, dim=1).unsqueeze(-1) * (cdf_up - cdf_lo)).sum(1)     # (N, C, H, W, 256)
    probs = probs.clamp(min=1e-12)
    return torch.log(probs / probs.sum(-1, keepdim=True))

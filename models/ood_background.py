"""A small local autoregressive "background" model: how many bits each pixel costs given its neighbours.

Schirrmeister et al. (NeurIPS 2020) and Ren et al. (NeurIPS 2019) explain why a deep generative model's
likelihood is a poor OOD test: it is dominated by local pixel statistics (smoothness, flat background)
that any image domain shares.  A model that sees *only* a small causal neighbourhood captures exactly
those statistics, so the log-likelihood ratio

    LR(x) = [−log₂ p_model(x) − (−log₂ p_local(x))] / (C H W)           (bits per dimension)

removes them and keeps what the full model knows about garments.  The same difference pixel by pixel,
``model bits − local bits``, is the heat map of :mod:`models.ood_explain`.

The local model is a PixelCNN with one masked 5x5 convolution (type A: the 12 pixels above and to the
left, never the pixel itself or later ones), two 1x1 layers of 32 units, and a mixture of two
discretized logistics per pixel (:mod:`models.likelihood`, the same 8-bit likelihood as the VAE's
decoder).  Channels are modelled independently (each one as a grey image); outside the image is black.
About 1,800 parameters, fitted in a few hundred Adam steps on in-distribution images only (the
calibration's fitting half), deterministic (seed 0, fixed order), and stored as JSON inside the
checkpoint's calibration record -- so a checkpoint stays one file and nothing is trained on OOD data.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from . import likelihood

KERNEL = 5
HIDDEN = 32
N_MIX = 2
STEPS = 400
BATCH = 64
LR = 3e-3
LN2 = math.log(2.0)


def _mask() -> torch.Tensor:
    m = torch.zeros(KERNEL, KERNEL)
    c = KERNEL // 2
    m[:c, :] = 1.0
    m[c, :c] = 1.0
    return m


def init_params(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)

    def w(*shape, fan_in):
        return torch.randn(*shape, generator=g) / math.sqrt(fan_in)

    return {"w1": w(HIDDEN, 1, KERNEL, KERNEL, fan_in=12), "b1": torch.zeros(HIDDEN),
            "w2": w(HIDDEN, HIDDEN, fan_in=HIDDEN), "b2": torch.zeros(HIDDEN),
            "w3": w(3 * N_MIX, HIDDEN, fan_in=HIDDEN) * 0.1, "b3": torch.zeros(3 * N_MIX)}


def params_maps(p: dict[str, torch.Tensor], x01: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) images in [0, 1] -> (N*C, 3*N_MIX, H, W) mixture parameters, one grey image per channel."""
    n, c, h, w = x01.shape
    x = likelihood.to_signed(x01).reshape(n * c, 1, h, w)
    pad = KERNEL // 2
    x = F.pad(x, (pad, pad, pad, pad), value=-1.0)
    hdn = F.silu(F.conv2d(x, p["w1"] * _mask().to(x), p["b1"]))
    hdn = F.silu(torch.einsum("oi,nihw->nohw", p["w2"], hdn) + p["b2"][:, None, None])
    return torch.einsum("oi,nihw->nohw", p["w3"], hdn) + p["b3"][:, None, None]


def pixel_bits(p: dict[str, torch.Tensor], x01: torch.Tensor) -> torch.Tensor:
    """−log₂ p_local of every pixel value: (N, C, H, W) bits."""
    n, c, h, w = x01.shape
    lp = likelihood.level_log_probs(params_maps(p, x01), N_MIX)[:, 0]        # (N*C, H, W, 256)
    levels = torch.round(x01.clamp(0, 1) * 255).long().reshape(n * c, h, w, 1)
    return (-lp.gather(-1, levels)[..., 0] / LN2).reshape(n, c, h, w)


def nll_bpd(p: dict[str, torch.Tensor], x01: torch.Tensor) -> torch.Tensor:
    """−log₂ p_local(x) / (C H W) per image (the fast path: no per-level table)."""
    n, c, h, w = x01.shape
    lp = likelihood.log_prob(x01.reshape(n * c, 1, h, w), params_maps(p, x01), N_MIX).reshape(n, c).sum(1)
    return -lp / (c * h * w * LN2)


def fit(x_u8: torch.Tensor, steps: int = STEPS, seed: int = 0) -> dict[str, torch.Tensor]:
    """Fit on in-distribution images (N, C, H, W) uint8 by Adam on their bits/dim; deterministic."""
    p = {k: v.requires_grad_(True) for k, v in init_params(seed).items()}
    opt = torch.optim.Adam(list(p.values()), lr=LR)
    g = torch.Generator().manual_seed(seed)
    x = x_u8.float() / 255.0
    with torch.enable_grad():
        for step in range(steps):
            idx = torch.randint(0, x.shape[0], (BATCH,), generator=g)
            loss = nll_bpd(p, x[idx]).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step == steps // 2:
                for group in opt.param_groups:
                    group["lr"] = LR / 3
    return {k: v.detach() for k, v in p.items()}


def to_json(p: dict[str, torch.Tensor]) -> dict[str, Any]:
    return {"kind": "masked-conv local model", "kernel": KERNEL, "hidden": HIDDEN, "n_mix": N_MIX,
            "tensors": {k: np.round(v.numpy().astype(np.float64), 6).tolist() for k, v in p.items()}}


def from_json(d: dict[str, Any]) -> dict[str, torch.Tensor]:
    if d.get("kernel") != KERNEL or d.get("hidden") != HIDDEN or d.get("n_mix") != N_MIX:
        raise ValueError("the calibration's local background model has another shape; recalibrate")
    return {k: torch.tensor(v, dtype=torch.float32) for k, v in d["tensors"].items()}

"""A learned prior over a VAE's latent space: a small RealNVP flow fitted to the aggregate posterior.

A VAE trained against p(z) = N(0, I) leaves its codes where the encoder put them: the aggregate
posterior q(z) = (1/N) sum_n q(z | x_n) fills the prior's ball unevenly (the 64x64 emoji VAE's codes
spread with a standard deviation of about 2.2 per unit), so decoding z ~ N(0, I) lands in "holes" no
image was ever encoded to, and samples come out as blurs or colour blobs while reconstructions are
sharp.  The two-stage fix (Dai & Wipf 2019; a flow prior as in Chen et al. 2017) keeps the decoder
and fits a second density p_lambda(z) to samples of q(z):

    maximise  E_{x ~ data} E_{z ~ q(z|x)} [ log p_lambda(z) ]

with p_lambda a RealNVP flow z -> u (Dinh et al. 2017): a data-initialised affine standardisation,
then L affine couplings y = m * x + (1 - m) * (x * exp(s(m x)) + t(m x)) with fixed random binary
masks m, and u ~ N(0, I):

    log p_lambda(z) = log N(f(z); 0, I) + sum_l log |det df_l/dz|

Sampling draws u = T * eps (temperature T, eps ~ N(0, I)) and returns z = f^{-1}(u), so a seed gives
the same eps as before and T = 0 gives f^{-1}(0), the prior's central point.  The model stays a proper
latent-variable model p(x) = integral p(x|z) p_lambda(z) dz, so the importance-weighted bound in
:mod:`models.iwae` (with log p_lambda in place of log N(0, I)) still bounds the log-likelihood of the
model the app samples from: fitting maximises E_q[log p_lambda], which is exactly the ELBO's rate term,
so the bound can only tighten.  The fit itself is :mod:`models.prior_fit`.
"""
from __future__ import annotations

import math

import torch
from torch import nn

LOG_2PI = math.log(2.0 * math.pi)


def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) in nats over the last dimension: the prior of a VAE without a learned one."""
    return -0.5 * (LOG_2PI + z ** 2).sum(-1)


def _masks(dim: int, layers: int, seed: int = 0) -> torch.Tensor:
    """(layers, dim) binary masks: a random half of the units per layer, each mask followed by its
    complement, so every unit is transformed in every pair of layers."""
    gen = torch.Generator().manual_seed(int(seed))
    out = []
    for i in range(layers):
        if i % 2 == 0:
            m = torch.zeros(dim, device="cpu")
            m[torch.randperm(dim, generator=gen, device="cpu")[:max(1, dim // 2)]] = 1.0
        else:
            m = 1.0 - out[-1]
        out.append(m)
    return torch.stack(out)


class _Coupling(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                                 nn.Linear(hidden, 2 * dim))
        nn.init.zeros_(self.net[-1].weight)     # starts as the identity
        nn.init.zeros_(self.net[-1].bias)

    def shift_scale(self, kept: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s, t = self.net(kept).chunk(2, dim=-1)
        s = 2.0 * torch.tanh(0.5 * s)            # soft clamp: |log scale| < 2 per layer keeps the fit stable
        return s * (1.0 - mask), t * (1.0 - mask)


class FlowPrior(nn.Module):
    """p_lambda(z) on R^dim (see the module docstring).  ``forward`` is not defined: use
    :meth:`log_prob` (z -> nats) and :meth:`inverse` (u -> z)."""

    def __init__(self, dim: int, layers: int = 8, hidden: int = 128, seed: int = 0) -> None:
        super().__init__()
        self.dim = int(dim)
        self.register_buffer("masks", _masks(self.dim, int(layers), seed))
        self.loc = nn.Parameter(torch.zeros(self.dim))
        self.log_scale = nn.Parameter(torch.zeros(self.dim))
        self.couplings = nn.ModuleList(_Coupling(self.dim, int(hidden)) for _ in range(int(layers)))

    @torch.no_grad()
    def initialise(self, z: torch.Tensor) -> None:
        """Set the standardisation from codes ``z`` (N, dim): f starts as (z - mean) / std."""
        self.loc.copy_(z.mean(0))
        self.log_scale.copy_(-torch.log(z.std(0).clamp_min(1e-3)))

    def to_base(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """u = f(z) and log |det df/dz| (shape z.shape[:-1])."""
        x = (z - self.loc) * torch.exp(self.log_scale)
        logdet = self.log_scale.sum().expand(z.shape[:-1]).clone()
        for mask, layer in zip(self.masks, self.couplings):
            s, t = layer.shift_scale(x * mask, mask)
            x = x * torch.exp(s) + t
            logdet = logdet + s.sum(-1)
        return x, logdet

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log p_lambda(z) in nats over the last dimension."""
        u, logdet = self.to_base(z)
        return standard_normal_log_prob(u) + logdet

    def inverse(self, u: torch.Tensor) -> torch.Tensor:
        """z = f^{-1}(u)."""
        x = u
        for mask, layer in zip(reversed(self.masks), reversed(self.couplings)):
            s, t = layer.shift_scale(x * mask, mask)     # the kept half is unchanged by the layer
            x = (x - t) * torch.exp(-s)
        return x * torch.exp(-self.log_scale) + self.loc



def build(dim: int, spec: dict | None) -> FlowPrior | None:
    """The prior a VAE config asks for: ``None`` (or ``{"kind": "normal"}``) is N(0, I);
    ``{"kind": "flow", "layers": L, "hidden": H}`` a :class:`FlowPrior`."""
    if not spec or spec.get("kind", "normal") == "normal":
        return None
    if spec.get("kind") != "flow":
        raise ValueError(f"unknown latent prior {spec.get('kind')!r} (known: normal, flow)")
    return FlowPrior(dim, int(spec.get("layers", 8)), int(spec.get("hidden", 128)), int(spec.get("seed", 0)))

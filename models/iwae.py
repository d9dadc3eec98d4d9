"""The importance-weighted log-likelihood estimate: the one estimator behind every likelihood figure.

For a model with a diagonal-Gaussian posterior q(z|x) = N(mu(x), diag sigma(x)^2), a prior p(z)
(standard normal, or the learned prior of :mod:`models.latent_prior` via ``model.log_prior``) and a
decoder likelihood p(x|z) (Burda, Grosse & Salakhutdinov 2016):

    log p(x) ≈ logsumexp_k [log p(x|z_k) + log p(z_k) − log q(z_k|x)] − log K,
    z_k = mu(x) + sigma(x) · eps_k,  eps_k ~ N(0, I),  k = 1..K

a lower bound in expectation that tightens as K grows (K = 1 is the ELBO).  The same K draws eps_k
(seeded, :data:`IWAE_SEED`) are reused for every image -- common random numbers -- so an image gets
the same number whatever else is in its batch, and the app, the CLI and the benchmarks
(``benchmarks/model_quality.py``, ``benchmarks/ood.py``) report the *same* figure for the same images,
K and seed.  That is why there is one estimator: two would disagree in the last digits and people would
compare them.  pythae's ``get_nll`` is the reference it agrees with.
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from .errors import Cancelled
from .imaging import from_uint8
from .latent_prior import standard_normal_log_prob

#: Seed of the importance samples shared by every image.
IWAE_SEED = 0


def importance_samples(k: int, d: int, seed: int = IWAE_SEED) -> torch.Tensor:
    """The K standard-normal draws (K, d) shared by every image."""
    gen = torch.Generator().manual_seed(int(seed))
    return torch.randn(int(k), int(d), generator=gen)


@torch.no_grad()
def iwae_log_likelihood(model, x: torch.Tensor, k: int, *, seed: int = IWAE_SEED, max_passes: int = 256,
                        posterior: tuple[torch.Tensor, torch.Tensor] | None = None,
                        cancel: Callable[[], bool] | None = None) -> torch.Tensor:
    """log p(x) in nats, one float64 per image of ``x`` (N, ...) in [0, 1] (or uint8).

    ``model`` needs ``posterior(x) -> (mu, logvar)`` and ``log_px_given_z(x, z) -> (N,)``.  At most
    ``max_passes`` decoder passes run at once; K larger than that is split and recombined exactly with
    log-sum-exp.  ``posterior``: (mu, logvar) already computed for ``x`` (the encoder then does not
    run again).  ``cancel``: checked between batches; raises :class:`~models.errors.Cancelled`.
    """
    k = int(k)
    if k < 1:
        raise ValueError(f"k must be at least 1 (got {k})")
    if x.dtype == torch.uint8:
        x = from_uint8(x)
    mu, logvar = posterior if posterior is not None else model.posterior(x)
    log_p_z = getattr(model, "log_prior", None) or standard_normal_log_prob
    x = x.to(mu.device, torch.float32)
    n, d = mu.shape
    eps = importance_samples(k, d, seed).to(mu.device, mu.dtype)
    log_q_eps = standard_normal_log_prob(eps)                                # (K,) log N(eps; 0, I)
    std = torch.exp(0.5 * logvar)
    out = torch.empty(n, device=mu.device, dtype=torch.float64)
    kc = min(k, max_passes)                    # samples per pass
    per = max(1, max_passes // kc)             # images per pass
    for i in range(0, n, per):
        if cancel is not None and cancel():
            raise Cancelled()
        sl = slice(i, min(n, i + per))
        m, lv, s, xb = mu[sl], logvar[sl], std[sl], x[sl]
        b = xb.shape[0]
        parts = []
        for j in range(0, k, kc):
            e = eps[j:j + kc]
            z = m[:, None] + s[:, None] * e[None]                              # (b, kc, d)
            # log q(z|x) = log N(eps; 0, I) - sum log sigma   (z = mu + sigma * eps)
            log_q = log_q_eps[j:j + kc][None] - 0.5 * lv.sum(-1, keepdim=True)
            log_prior = log_p_z(z)
            xr = xb[:, None].expand(b, e.shape[0], *xb.shape[1:]).reshape(b * e.shape[0], *xb.shape[1:])
            log_lik = model.log_px_given_z(xr, z.reshape(b * e.shape[0], d)).view(b, e.shape[0])
            parts.append((log_lik + log_prior - log_q).double())
        out[sl] = torch.logsumexp(torch.cat(parts, 1), dim=1) - math.log(k)
    return out


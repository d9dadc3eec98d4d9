"""The importance-weighted likelihood is correct: a closed-form check, IWAE >= ELBO, tightening with K."""
from __future__ import annotations

import math

import pytest
import torch

import models
from models import iwae, scoring


class LinearGaussianVAE:
    """p(z) = N(0, I_d), p(x|z) = N(Wz + b, s² I_D): log p(x) = log N(x; b, W Wᵀ + s² I) exactly.

    W has orthogonal columns, so the true posterior N(A(x - b), Σ) has a diagonal Σ and can be used as
    q(z|x) (then every importance weight equals p(x): IWAE is exact for any K).  ``shift``/``inflate``
    make a deliberately wrong encoder, for which the estimate is a strict lower bound that tightens.
    """

    family = "vae"
    device = torch.device("cpu")

    def __init__(self, d=2, D=6, s=0.5, shift=0.0, inflate=1.0, seed=0):
        g = torch.Generator().manual_seed(seed)
        q, _ = torch.linalg.qr(torch.randn(D, d, generator=g, dtype=torch.float64))
        self.W = q * torch.tensor([2.0, 0.7, 1.3, 0.4][:d], dtype=torch.float64)   # orthogonal columns
        self.b = torch.randn(D, generator=g, dtype=torch.float64) * 0.3
        self.s, self.d, self.D = s, d, D
        self.shift, self.inflate = shift, inflate
        self.latent_dim = d

    def log_px_closed_form(self, x):
        cov = self.W @ self.W.T + self.s ** 2 * torch.eye(self.D, dtype=torch.float64)
        return torch.distributions.MultivariateNormal(self.b, covariance_matrix=cov).log_prob(x)

    def posterior(self, x):
        x = x.double()
        wtw = torch.diagonal(self.W.T @ self.W)                       # diagonal because columns are orthogonal
        var = 1.0 / (1.0 + wtw / self.s ** 2)                          # Σ = (I + WᵀW/s²)⁻¹
        mu = ((x - self.b) @ self.W) / self.s ** 2 * var
        return mu + self.shift, torch.log(var * self.inflate).expand_as(mu)

    def log_px_given_z(self, x, z):
        mean = z.double() @ self.W.T + self.b
        return (-0.5 * (math.log(2 * math.pi * self.s ** 2) + (x.double() - mean) ** 2 / self.s ** 2)).sum(-1)


def _data(m, n=50, seed=1):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, m.d, generator=g, dtype=torch.float64)
    return z @ m.W.T + m.b + m.s * torch.randn(n, m.D, generator=g, dtype=torch.float64)


def test_iwae_is_exact_with_the_true_posterior():
    m = LinearGaussianVAE()
    x = _data(m)
    exact = m.log_px_closed_form(x)
    for k in (1, 7, 100):
        est = iwae.iwae_log_likelihood(m, x, k)
        assert torch.allclose(est, exact, atol=1e-6), (k, (est - exact).abs().max())


def test_iwae_converges_to_closed_form_and_tightens_with_a_wrong_encoder():
    m = LinearGaussianVAE(shift=0.4, inflate=2.5)
    x = _data(m)
    exact = m.log_px_closed_form(x)
    gaps = {k: float((exact - iwae.iwae_log_likelihood(m, x, k)).mean()) for k in (1, 10, 100, 5000)}
    assert gaps[1] > 0.05                               # the ELBO is a strict lower bound here
    assert gaps[1] > gaps[10] > gaps[100] > -0.02       # tightens as K grows, stays a bound on average
    assert abs(gaps[5000]) < 0.02                       # and converges to the closed form


def test_iwae_splits_large_k_exactly_and_is_batch_independent():
    m = LinearGaussianVAE(shift=0.3, inflate=1.7)
    x = _data(m, n=9)
    whole = iwae.iwae_log_likelihood(m, x, 300, max_passes=4096)
    split = iwae.iwae_log_likelihood(m, x, 300, max_passes=64)      # K split into chunks of 64
    alone = torch.stack([iwae.iwae_log_likelihood(m, x[i:i + 1], 300)[0] for i in range(len(x))])
    assert torch.allclose(whole, split, atol=1e-9)
    assert torch.allclose(whole, alone, atol=1e-9)
    with pytest.raises(ValueError):
        iwae.iwae_log_likelihood(m, x, 0)


def test_real_vae_iwae_is_above_elbo_and_tightens_with_k(bundled_vae, fmnist_test):
    x = fmnist_test[:48]
    torch.manual_seed(0)
    elbo = float(bundled_vae.elbo(x).mean())
    est = {k: float(iwae.iwae_log_likelihood(bundled_vae, x, k).mean()) for k in (1, 8, 64)}
    assert est[64] >= elbo
    assert est[1] < est[8] < est[64]
    assert abs(est[1] - elbo) < 0.05 * abs(elbo)       # K=1 is an ELBO estimate
    ll = scoring.log_likelihood(bundled_vae, x[:4], k=8)
    assert ll.shape == (4,) and bool((ll < 0).all())
    assert torch.allclose(ll, iwae.iwae_log_likelihood(bundled_vae, x[:4], 8))   # deterministic


@pytest.fixture(scope="module")
def bundled_vae():
    path = models.bundled("vae")
    assert path.exists(), f"{path} is missing; see assets/README.md"
    return models.load(path, device="cpu")


@pytest.fixture(scope="module")
def fmnist_test():
    from models.data import fashion_mnist

    return fashion_mnist("test").images[:64]

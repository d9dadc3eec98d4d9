"""Convolutional VAE (and β-VAE) with a discretized-logistic-mixture decoder, for any image shape.

The decoder models every 8-bit channel of every pixel with its own mixture of ``n_mix`` discretized
logistics (Salimans et al. 2017), independent given z, so

    log p(x | z) = sum over c, h, w of log sum_k pi_k(z) [sigma((x + 1/255 - mu_k) / s_k) - sigma((x - 1/255 - mu_k) / s_k)]

is the log-probability of the real 8-bit image (:mod:`models.likelihood`) and bits/dim divide by
C * H * W.  The stage plan for a (C, H, W) shape is in :mod:`models.conv_geometry`.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from . import conv_geometry, latent_prior, likelihood
from .base import Direction, GenerativeModel
from .conditional import ClassPrior
from .latent_prior import standard_normal_log_prob

DEFAULT_CONFIG: dict[str, Any] = {
    "latent_dim": 16,
    "image_shape": [1, 28, 28],
    "channels": 32,
    "n_mix": 3,
    "beta": 1.0,
    "res_blocks": 0,
}

LOG_2PI = math.log(2.0 * math.pi)


class ResBlock(nn.Module):
    """x + conv3x3(SiLU(conv3x3(SiLU(x)))), the second convolution starting at zero so that a new block
    is the identity (pre-activation residual block; a deep stack trains from the first step)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.SiLU(), nn.Conv2d(width, width, 3, 1, 1), nn.SiLU(),
                                  nn.Conv2d(width, width, 3, 1, 1))
        nn.init.zeros_(self.body[-1].weight)
        nn.init.zeros_(self.body[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ConvVAENet(nn.Module):
    """Encoder q(z|x) = N(mu, diag sigma^2) and decoder p(x|z) = discretized logistic mixture.

    Built for any image shape the stage plan accepts (:mod:`models.conv_geometry`): ``n`` 4x4 stride-2
    convolutions down to a grid of at most 7x7, a linear map to (mu, log sigma^2), and the mirror image
    up to ``C * 3 * n_mix`` parameter maps (mixture logits, means and log-scales of every channel).
    At 1x28x28 the layers, their names and their shapes are those of the original Fashion-MNIST VAE.
    """

    def __init__(self, latent_dim: int = 16, image_shape=(1, 28, 28), channels: int = 32, n_mix: int = 3,
                 beta: float = 1.0, prior: dict | None = None, n_classes: int = 0, res_blocks: int = 0) -> None:
        super().__init__()
        self.plan = conv_geometry.plan(image_shape)
        c = self.plan.image_shape[0]
        widths = self.plan.widths(channels)
        bh, bw = self.plan.base
        self.latent_dim, self.n_mix, self.image_channels = int(latent_dim), int(n_mix), c
        # a conditional model (models.conditional) has a prior per class, p(w | y) = N(m_y, L_y L_y^T), fitted
        # to the codes of each class's images; its decoder and encoder are the unconditional ones
        self.class_prior = ClassPrior(int(n_classes), self.latent_dim) if n_classes else None
        # ``res_blocks`` residual blocks after every resolution change (0: the original plain stack)
        r = int(res_blocks)
        down: list[nn.Module] = []
        for w_in, w_out in zip([c, *widths[:-1]], widths):
            down += [nn.Conv2d(w_in, w_out, 4, 2, 1), nn.SiLU(), *(ResBlock(w_out) for _ in range(r))]
        self.encoder = nn.Sequential(*down, nn.Flatten(), nn.Linear(widths[-1] * bh * bw, 2 * self.latent_dim))
        up: list[nn.Module] = []
        for w_in, w_out in zip(widths[::-1], [*widths[-2::-1], widths[0]]):
            up += [nn.ConvTranspose2d(w_in, w_out, 4, 2, 1), nn.SiLU(), *(ResBlock(w_out) for _ in range(r))]
        self.decoder = nn.Sequential(
            nn.Linear(self.latent_dim, widths[-1] * bh * bw), nn.SiLU(),
            nn.Unflatten(1, (widths[-1], bh, bw)),
            *(ResBlock(widths[-1]) for _ in range(r)),
            *up,
            nn.Conv2d(widths[0], c * 3 * self.n_mix, 3, 1, 1),
        )
        # A learned prior over z (models.latent_prior), when one was fitted; None is N(0, I).
        self.prior = latent_prior.build(self.latent_dim, prior)

    def posterior(self, x01: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """mu, logvar of q(z|x) for images in [0, 1]."""
        mu, logvar = self.encoder(self.plan.pad_input(x01 * 2.0 - 1.0)).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 8.0)

    def decoder_params(self, z: torch.Tensor, y=None) -> torch.Tensor:
        """(N, C * 3 * n_mix, H, W) mixture parameters (layout: :func:`models.likelihood.split_params`);
        ``y`` (a conditional model): ``z`` is a point of class y's prior, m_y + L_y z (None: z itself)."""
        if self.class_prior is not None and y is not None:
            z = self.class_prior.to_code(z, y)
        return self.plan.crop_output(self.decoder(z))


def gaussian_log_prob(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, exp(logvar)) summed over the last dimension."""
    return -0.5 * (LOG_2PI + logvar + (z - mu) ** 2 * torch.exp(-logvar)).sum(-1)


class VAEModel(GenerativeModel):
    family = "vae"

    # ----------------------------------------------------------------- construction
    @classmethod
    def build(cls, config: dict[str, Any] | None = None, metadata: dict[str, Any] | None = None,
              device: str | torch.device = "cpu") -> "VAEModel":
        cfg = {**DEFAULT_CONFIG, **(config or {})}
        net = ConvVAENet(cfg["latent_dim"], tuple(cfg["image_shape"]), cfg["channels"], cfg["n_mix"], cfg["beta"],
                         prior=cfg.get("prior"), n_classes=cfg.get("n_classes", 0),
                         res_blocks=cfg.get("res_blocks", 0))
        return cls(net, cfg, metadata, device)

    @property
    def beta(self) -> float:
        return float(self.config.get("beta", 1.0))

    # ----------------------------------------------------------------- interface
    @torch.no_grad()
    def decode(self, z: torch.Tensor, y=None) -> torch.Tensor:
        """Images of latents ``z`` (of class ``y`` for a conditional model; None: :attr:`default_class`)."""
        z = self._as_latent(z)
        return likelihood.mean_image(self.net.decoder_params(z, self._class_of(y)), self.net.n_mix)

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        mu, _ = self.net.posterior(self._as_batch(x))
        return mu

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net.posterior(self._as_batch(x))

    def log_prior(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z) in nats over the last dimension: the learned prior when one was fitted, else N(0, I)."""
        if self.net.prior is None:
            return standard_normal_log_prob(z)
        return self.net.prior.log_prob(z)

    def prior_z(self, n: int, *, temperature: float = 1.0, seed: int | None = None) -> torch.Tensor:
        """``temperature * eps`` (:meth:`GenerativeModel.prior_z`), carried through the learned prior's
        inverse flow when the model has one (the same eps for the same seed either way)."""
        u = super().prior_z(n, temperature=temperature, seed=seed)
        if self.net.prior is None:
            return u
        with torch.no_grad():
            return self.net.prior.inverse(u)

    def log_px_given_z(self, x01: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return likelihood.log_prob(x01, self.net.decoder_params(z), self.net.n_mix)

    def elbo_terms(self, x: torch.Tensor, *, sample: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """(reconstruction log-likelihood, KL) per image, in nats (differentiable)."""
        x = self._as_batch(x)
        mu, logvar = self.net.posterior(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if sample else mu
        rec = self.log_px_given_z(x, z)
        kl = 0.5 * (mu ** 2 + logvar.exp() - 1.0 - logvar).sum(1)
        return rec, kl

    @torch.no_grad()
    def elbo(self, x: torch.Tensor) -> torch.Tensor:
        """The evidence lower bound (β = 1) per image, nats.  Under a learned prior the KL has no closed
        form: the bound is then the one-sample importance-weighted estimate (K = 1, :mod:`models.iwae`)."""
        if self.net.prior is not None:
            from .iwae import iwae_log_likelihood

            return iwae_log_likelihood(self, self._as_batch(x), 1).float()
        rec, kl = self.elbo_terms(x)
        return rec - kl

    def iwae_log_likelihood(self, x: torch.Tensor, k: int = 100) -> torch.Tensor:
        """Importance-weighted log p(x) in nats, per image: :func:`models.iwae.iwae_log_likelihood`,
        the one estimator the app, the CLI and the benchmarks share (seeded common random numbers)."""
        from .iwae import iwae_log_likelihood

        return iwae_log_likelihood(self, self._as_batch(x), k)

    def directions(self) -> list[Direction]:
        """Latent units ranked by their average KL (nats) on the Fashion-MNIST test set; each slider's
        sigma is the unit's spread under the learned prior when there is one (else 1).

        The KLs are measured when the model is trained (``metadata['directions']['kl']``); a model
        without them ranks units by index.
        """
        kl = self.metadata.get("directions", {}).get("kl")
        if not kl or len(kl) != self.latent_dim:
            kl = [0.0] * self.latent_dim
        order = sorted(range(self.latent_dim), key=lambda i: -kl[i])
        eye = torch.eye(self.latent_dim)
        # With a learned prior the codes' own spread (models.prior_fit), else N(0, 1)'s.
        sigma = self.metadata.get("directions", {}).get("sigma")
        if not sigma or len(sigma) != self.latent_dim or self.net.prior is None:
            sigma = [1.0] * self.latent_dim
        return [Direction(name=f"z{i}", vector=eye[i], label=f"KL {kl[i]:.2f} nats", strength=float(kl[i]),
                          sigma=float(sigma[i])) for i in order]

    @torch.no_grad()
    def unit_kl(self, x: torch.Tensor, batch: int = 500) -> list[float]:
        """Average KL(q(z_i|x) || p(z_i)) of each latent unit over images ``x``, nats."""
        total = torch.zeros(self.latent_dim, device=self.device)
        for i in range(0, x.shape[0], batch):
            mu, logvar = self.posterior(x[i:i + batch])
            total += 0.5 * (mu ** 2 + logvar.exp() - 1.0 - logvar).sum(0)
        return (total / x.shape[0]).tolist()

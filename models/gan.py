"""DCGAN at 28x28 with a discriminator and an encoder that maps images to z (seeds inversion)."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .base import Direction, GenerativeModel, orthonormal_basis

DEFAULT_CONFIG: dict[str, Any] = {
    "latent_dim": 32,
    "image_shape": [1, 28, 28],
    "channels": 32,
}

#: Latents sampled to find GANSpace-style principal directions (fixed seed: deterministic).
DIRECTION_SAMPLES = 8192
DIRECTION_SEED = 1234


class Generator(nn.Module):
    def __init__(self, latent_dim: int, ch: int) -> None:
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(latent_dim, 2 * ch * 7 * 7), nn.BatchNorm1d(2 * ch * 7 * 7), nn.ReLU())
        self.body = nn.Sequential(
            nn.Unflatten(1, (2 * ch, 7, 7)),
            nn.ConvTranspose2d(2 * ch, ch, 4, 2, 1), nn.BatchNorm2d(ch), nn.ReLU(),  # 14x14
            nn.ConvTranspose2d(ch, 1, 4, 2, 1), nn.Tanh(),                           # 28x28
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Images on the [-1, 1] scale."""
        return self.body(self.fc(z))


def _conv_trunk(ch: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, ch, 4, 2, 1), nn.LeakyReLU(0.2),                              # 14x14
        nn.Conv2d(ch, 2 * ch, 4, 2, 1), nn.BatchNorm2d(2 * ch), nn.LeakyReLU(0.2),  # 7x7
        nn.Flatten(),
    )


class DCGANNet(nn.Module):
    def __init__(self, latent_dim: int = 32, image_shape=(1, 28, 28), channels: int = 64) -> None:
        super().__init__()
        if tuple(image_shape) != (1, 28, 28):
            raise ValueError(f"DCGANNet supports 1x28x28 images, got {tuple(image_shape)}")
        self.latent_dim = int(latent_dim)
        ch = int(channels)
        self.generator = Generator(self.latent_dim, ch)
        self.discriminator = nn.Sequential(_conv_trunk(ch), nn.Linear(2 * ch * 7 * 7, 1))
        self.encoder = nn.Sequential(_conv_trunk(ch), nn.Linear(2 * ch * 7 * 7, self.latent_dim))


class GANModel(GenerativeModel):
    family = "gan"

    @classmethod
    def build(cls, config: dict[str, Any] | None = None, metadata: dict[str, Any] | None = None,
              device: str | torch.device = "cpu") -> "GANModel":
        cfg = {**DEFAULT_CONFIG, **(config or {})}
        net = DCGANNet(cfg["latent_dim"], tuple(cfg["image_shape"]), cfg["channels"])
        return cls(net, cfg, metadata, device)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._directions: list[Direction] | None = None

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        z = self._as_latent(z)
        return (self.net.generator(z) + 1.0) * 0.5

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The encoder network's guess of z (fast; :mod:`models.scoring` refines it by optimisation)."""
        return self.net.encoder(self._as_batch(x) * 2.0 - 1.0)

    @torch.no_grad()
    def discriminate(self, x: torch.Tensor) -> torch.Tensor:
        """Discriminator logits (higher = looks more like training data to D)."""
        return self.net.discriminator(self._as_batch(x) * 2.0 - 1.0).squeeze(1)

    @torch.no_grad()
    def directions(self) -> list[Direction]:
        """GANSpace-style principal directions (Härkönen et al. 2020).

        PCA of the generator's first-layer activations over sampled latents; each component is
        carried back to z by least squares, and the results are orthonormalised in order, so the
        sliders span z exactly.  Labels give the share of activation variance each explains.
        """
        if self._directions is not None:
            return self._directions
        gen = torch.Generator().manual_seed(DIRECTION_SEED)
        z = torch.randn(DIRECTION_SAMPLES, self.latent_dim, generator=gen)
        fc = self.net.generator.fc
        dev = next(fc.parameters()).device
        act = fc(z.to(dev)).float().cpu()
        act = act - act.mean(0)
        k = self.latent_dim
        # only the top k components are needed: a randomised low-rank SVD (seeded, so deterministic)
        # costs a fraction of a second where a full SVD of the 8192 x F matrix takes a minute
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(DIRECTION_SEED)
            _, s, v = torch.svd_lowrank(act, q=min(k + 16, *act.shape), niter=6)
        coords = (act @ v[:, :k]).double()                        # (S, k) PCA coordinates
        # z ≈ coords @ B  ->  the direction in z of component j is B[j]
        basis = torch.linalg.lstsq(coords, z.double()).solution  # (k, d)
        q = orthonormal_basis(basis.float())
        ratio = ((s[:k].double() ** 2) / (act.double() ** 2).sum()).tolist()
        self._directions = [Direction(name=f"PC{j}", vector=q[j], label=f"{100 * ratio[j]:.1f}% var",
                                      strength=float(ratio[j])) for j in range(k)]
        return self._directions

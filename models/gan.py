"""DCGAN for any image shape, with a discriminator and an encoder that maps images to z.

Generator G(z) -> x on the [-1, 1] scale, discriminator D(x) -> logit, encoder E(x) -> z (it seeds the
inversion in :mod:`models.ood_features`).  All three follow the stride-2 stage plan of
:mod:`models.conv_geometry`: ``n`` stages with ``max(H, W) <= 7 * 2**n``, BatchNorm in every inner stage
(Radford et al. 2016).  At 1x28x28 this is exactly the original Fashion-MNIST network.

A conditional DCGAN (config ``n_classes`` > 0, :mod:`models.conditional`) gives the generator a class
embedding concatenated to z, and the discriminator a projection (Miyato & Koyama 2018):
D(x, y) = w·φ(x) + e_y·φ(x) with e_y the class's embedding in φ's feature space.  The encoder
stays unconditional (z is the style; the class is given apart).  ``n_classes`` = 0 builds exactly the
unconditional networks (same tensors, same outputs).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from . import conv_geometry
from .base import Direction, GenerativeModel, orthonormal_basis
from .conditional import CLASS_DIM, ClassEmbedding, make_embedding

DEFAULT_CONFIG: dict[str, Any] = {
    "latent_dim": 32,
    "image_shape": [1, 28, 28],
    "channels": 32,
}

#: Latents sampled to find GANSpace-style principal directions (fixed seed: deterministic).
DIRECTION_SAMPLES = 8192
DIRECTION_SEED = 1234


class Generator(nn.Module):
    """z -> a linear map onto the coarsest grid, then ``n`` stride-2 transposed convolutions up to
    (C, H, W) on the [-1, 1] scale (centre-cropped when H, W are not a multiple of 2**n)."""

    def __init__(self, latent_dim: int, ch: int, plan: conv_geometry.StagePlan | None = None,
                 n_classes: int = 0, class_dim: int = CLASS_DIM) -> None:
        super().__init__()
        plan = plan or conv_geometry.plan((1, 28, 28))
        self.plan = plan
        widths = plan.widths(ch)
        (bh, bw), c = plan.base, plan.image_shape[0]
        cells = widths[-1] * bh * bw
        self.class_embed, class_dim = make_embedding({"n_classes": n_classes, "class_dim": class_dim})
        self.fc = nn.Sequential(nn.Linear(latent_dim + class_dim, cells), nn.BatchNorm1d(cells), nn.ReLU())
        up: list[nn.Module] = []
        for w_in, w_out in zip(widths[:0:-1], widths[-2::-1]):
            up += [nn.ConvTranspose2d(w_in, w_out, 4, 2, 1), nn.BatchNorm2d(w_out), nn.ReLU()]
        self.body = nn.Sequential(nn.Unflatten(1, (widths[-1], bh, bw)), *up,
                                  nn.ConvTranspose2d(widths[0], c, 4, 2, 1), nn.Tanh())

    def head(self, z: torch.Tensor, y=None) -> torch.Tensor:
        """The first layer's activations (of class ``y`` when conditional; None: no class)."""
        if self.class_embed is not None:
            z = torch.cat([z, self.class_embed(y, z.shape[0], z.device)], 1)
        return self.fc(z)

    def forward(self, z: torch.Tensor, y=None) -> torch.Tensor:
        """Images on the [-1, 1] scale."""
        return self.plan.crop_output(self.body(self.head(z, y)))


class ConvTrunk(nn.Sequential):
    """Image (C, H, W) on the [-1, 1] scale -> flat features of the coarsest grid (padded first
    when H, W are not a multiple of 2**n)."""

    def __init__(self, ch: int, plan: conv_geometry.StagePlan) -> None:
        widths = plan.widths(ch)
        layers: list[nn.Module] = [nn.Conv2d(plan.image_shape[0], widths[0], 4, 2, 1), nn.LeakyReLU(0.2)]
        for w_in, w_out in zip(widths, widths[1:]):
            layers += [nn.Conv2d(w_in, w_out, 4, 2, 1), nn.BatchNorm2d(w_out), nn.LeakyReLU(0.2)]
        super().__init__(*layers, nn.Flatten())
        self.plan = plan
        self.features = widths[-1] * plan.base[0] * plan.base[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(self.plan.pad_input(x))


class ProjectionDiscriminator(nn.Module):
    """D(x, y) = w·φ(x) + b + e_y·φ(x); y=None projects on the "no class" row (trained on unlabelled
    and label-dropped images), so a label-free call is the class-agnostic verdict."""

    def __init__(self, trunk: ConvTrunk, n_classes: int) -> None:
        super().__init__()
        self.trunk = trunk
        self.head = nn.Linear(trunk.features, 1)
        self.class_embed = ClassEmbedding(n_classes, trunk.features)
        nn.init.normal_(self.class_embed.table.weight, std=0.02)

    def forward(self, x: torch.Tensor, y=None) -> torch.Tensor:
        h = self.trunk(x)
        return self.head(h) + (self.class_embed(y, h.shape[0], h.device) * h).sum(1, keepdim=True)


class DCGANNet(nn.Module):
    """Generator, discriminator and encoder for any image shape of :mod:`models.conv_geometry`; at
    1x28x28 the layers, names and shapes are those of the original Fashion-MNIST DCGAN."""

    def __init__(self, latent_dim: int = 32, image_shape=(1, 28, 28), channels: int = 64, n_classes: int = 0,
                 class_dim: int = CLASS_DIM) -> None:
        super().__init__()
        plan = conv_geometry.plan(image_shape)
        self.latent_dim, self.n_classes = int(latent_dim), int(n_classes)
        ch = int(channels)
        self.generator = Generator(self.latent_dim, ch, plan, self.n_classes, class_dim)
        trunk = ConvTrunk(ch, plan)
        self.discriminator = (ProjectionDiscriminator(trunk, self.n_classes) if self.n_classes
                              else nn.Sequential(trunk, nn.Linear(trunk.features, 1)))
        trunk = ConvTrunk(ch, plan)
        self.encoder = nn.Sequential(trunk, nn.Linear(trunk.features, self.latent_dim))


class GANModel(GenerativeModel):
    family = "gan"

    @classmethod
    def build(cls, config: dict[str, Any] | None = None, metadata: dict[str, Any] | None = None,
              device: str | torch.device = "cpu") -> "GANModel":
        cfg = {**DEFAULT_CONFIG, **(config or {})}
        net = DCGANNet(cfg["latent_dim"], tuple(cfg["image_shape"]), cfg["channels"], cfg.get("n_classes", 0),
                       cfg.get("class_dim", CLASS_DIM))
        return cls(net, cfg, metadata, device)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._directions: list[Direction] | None = None

    @torch.no_grad()
    def decode(self, z: torch.Tensor, y=None) -> torch.Tensor:
        """G(z[, y]) in [0, 1] (a conditional model without ``y``: :attr:`default_class`)."""
        z = self._as_latent(z)
        if not self.conditional:
            return (self.net.generator(z) + 1.0) * 0.5
        return (self.net.generator(z, self._class_of(y)) + 1.0) * 0.5

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The encoder network's guess of z (fast; :mod:`models.scoring` refines it by optimisation)."""
        return self.net.encoder(self._as_batch(x) * 2.0 - 1.0)

    @torch.no_grad()
    def discriminate(self, x: torch.Tensor, y=None) -> torch.Tensor:
        """Discriminator logits (higher = looks more like training data to D; of class ``y`` when
        conditional, None: any class)."""
        x = self._as_batch(x) * 2.0 - 1.0
        return (self.net.discriminator(x, y) if self.conditional else self.net.discriminator(x)).squeeze(1)

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
        act = self.net.generator.head(z.to(dev)).float().cpu()   # a conditional model: the no-class mode
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

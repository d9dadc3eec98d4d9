"""A multi-scale normalizing flow (RealNVP / Glow style) with an exact, invertible code.

The data.  An 8-bit image x in {0, ..., 255}^D (D = C·H·W) is dequantized with uniform noise,
y = (x + u) / 256 with u ~ U[0, 1)^D, squashed into logit space and mapped by the flow f to
z = f(y) ~ N(0, I) (z has the image's size: ``latent_dim = C·H·W``).  The density of y is

    log p(y) = log N(f(y); 0, I) + log |det ∂f/∂y|

and because each 8-bit value's bin has volume 1/256 on the y scale, Jensen's inequality gives a lower
bound on the log-probability of the 8-bit image itself (Theis et al. 2016; Ho et al. 2019):

    log P(x) ≥ E_u[log p((x + u) / 256)] − D·log 256,
    bits/dim = (−log p((x + u) / 256) + D·log 256) / (D·ln 2)

which is comparable with the VAE's bits/dim (same 8-bit pixels, same D).  With K seeded draws u_k
the importance-weighted version log P(x) ≥ logsumexp_k log p(y_k) − log K − D·log 256 is tighter;
the same draws serve every image (common random numbers, like :mod:`models.iwae`).

The flow.  y → α + (1 − 2α)·y → logit (α = 0.05) and then, per scale: ``steps`` checkerboard affine
couplings (each after an actnorm), a squeeze (2×2 space-to-depth), ``steps`` Glow steps (actnorm,
invertible 1×1 convolution, channel-wise affine coupling), and half of the channels factored out
into z.  The last scale keeps all its channels.  Coupling scales are sigmoid(raw + 2) as in Glow.

The code.  ``encode`` uses the bin's midpoint (u = 1/2), so ``decode(encode(x)) == x`` up to float
rounding; ``decode`` maps z back through f⁻¹ and returns (256·y − 1/2) / 255 clamped to [0, 1].
``directions()`` is a PCA of encoded training images (stored as buffers at training time) completed
to an orthonormal basis of z-space; the prior is N(0, I), so ``sample(temperature=T)`` draws z ~ N(0, T²I).
"""
from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .base import Direction, GenerativeModel, orthonormal_basis

DEFAULT_CONFIG: dict[str, Any] = {"image_shape": [1, 28, 28], "scales": 3, "steps": 2, "hidden": 64,
                                  "pca_k": 32}
ALPHA = 0.05
LOG_2PI = math.log(2.0 * math.pi)
#: Seed of the dequantization noise shared by every image when scoring.
DEQUANT_SEED = 0


def squeeze(x: torch.Tensor) -> torch.Tensor:
    n, c, h, w = x.shape
    x = x.view(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)
    return x.reshape(n, c * 4, h // 2, w // 2)


def unsqueeze(x: torch.Tensor) -> torch.Tensor:
    n, c, h, w = x.shape
    x = x.view(n, c // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)
    return x.reshape(n, c // 4, h * 2, w * 2)



#: |value| bound of every step of the inverse flow (see :meth:`FlowNet.inverse`)
INVERSE_LIMIT = 1e3

class ActNorm(nn.Module):
    """y = (x + loc)·exp(log_scale) per channel, initialised from the first batch (zero mean, unit var)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.loc = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.log_scale = nn.Parameter(torch.zeros(1, c, 1, 1))
        self.register_buffer("initialized", torch.zeros(()))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.training and not bool(self.initialized):
            with torch.no_grad():
                self.loc.copy_(-x.mean((0, 2, 3), keepdim=True))
                self.log_scale.copy_(-torch.log(x.std((0, 2, 3), keepdim=True) + 1e-6))
                self.initialized.fill_(1.0)
        return (x + self.loc) * torch.exp(self.log_scale), self.log_scale.sum() * x.shape[2] * x.shape[3]

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return y * torch.exp(-self.log_scale) - self.loc


class InvConv1x1(nn.Module):
    """An invertible 1×1 convolution (Glow), initialised to a random rotation."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.linalg.qr(torch.randn(c, c))[0])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        c = self.weight.shape[0]
        logdet = torch.linalg.slogdet(self.weight.double())[1].float() * x.shape[2] * x.shape[3]
        return F.conv2d(x, self.weight.view(c, c, 1, 1)), logdet

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        c = self.weight.shape[0]
        inv = torch.linalg.inv(self.weight.double()).float()
        return F.conv2d(y, inv.view(c, c, 1, 1))


class Coupling(nn.Module):
    """Affine coupling: the masked part passes through and sets the shift and scale of the rest.

    ``mask="checker"``: a checkerboard over pixels (``parity`` picks which squares are kept);
    ``mask="channel"``: the first half of the channels is kept.
    """

    def __init__(self, c: int, hidden: int, mask: str, parity: int = 0) -> None:
        super().__init__()
        self.mask, self.parity = mask, int(parity)
        c_in, c_out = (c + 1, c) if mask == "checker" else (c // 2, c - c // 2)
        last = nn.Conv2d(hidden, 2 * c_out, 3, padding=1)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.net = nn.Sequential(nn.Conv2d(c_in, hidden, 3, padding=1), nn.ReLU(),
                                 nn.Conv2d(hidden, hidden, 1), nn.ReLU(), last)

    def _checker(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[2], x.shape[3]
        ii = torch.arange(h, device=x.device)[:, None] + torch.arange(w, device=x.device)[None, :]
        return ((ii + self.parity) % 2).to(x.dtype).view(1, 1, h, w)

    def _shift_log_scale(self, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shift, raw = self.net(cond).chunk(2, 1)
        return shift, F.logsigmoid(raw + 2.0)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.mask == "checker":
            m = self._checker(x)
            xa = x * m
            shift, log_s = self._shift_log_scale(torch.cat([xa, m.expand(x.shape[0], 1, -1, -1)], 1))
            y = xa + (1 - m) * (x * torch.exp(log_s) + shift)
            return y, ((1 - m) * log_s).flatten(1).sum(1)
        ca = x.shape[1] // 2
        xa, xb = x[:, :ca], x[:, ca:]
        shift, log_s = self._shift_log_scale(xa)
        return torch.cat([xa, xb * torch.exp(log_s) + shift], 1), log_s.flatten(1).sum(1)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        if self.mask == "checker":
            m = self._checker(y)
            ya = y * m
            shift, log_s = self._shift_log_scale(torch.cat([ya, m.expand(y.shape[0], 1, -1, -1)], 1))
            # clamped before the mask: an overflow (inf) times the mask's 0 would be NaN
            return ya + (1 - m) * ((y - shift) * torch.exp(-log_s)).clamp(-INVERSE_LIMIT, INVERSE_LIMIT)
        ca = y.shape[1] // 2
        ya, yb = y[:, :ca], y[:, ca:]
        shift, log_s = self._shift_log_scale(ya)
        return torch.cat([ya, ((yb - shift) * torch.exp(-log_s)).clamp(-INVERSE_LIMIT, INVERSE_LIMIT)], 1)


class _Scale(nn.Module):
    def __init__(self, c: int, hidden: int, steps: int, squeeze_after: bool, split: bool) -> None:
        super().__init__()
        self.squeeze_after, self.split = squeeze_after, split
        self.checker = nn.ModuleList()
        for i in range(steps):
            self.checker.append(ActNorm(c))
            self.checker.append(Coupling(c, hidden, "checker", parity=i % 2))
        c2 = c * 4 if squeeze_after else c
        self.channel = nn.ModuleList()
        if c2 > 1:
            for _ in range(steps):
                self.channel.extend([ActNorm(c2), InvConv1x1(c2), Coupling(c2, hidden, "channel")])


class FlowNet(nn.Module):
    """The flow f: logit-space y -> (z pieces); see the module docstring for the layout."""

    def __init__(self, image_shape=(1, 28, 28), scales: int = 3, steps: int = 2, hidden: int = 64,
                 pca_k: int = 32) -> None:
        super().__init__()
        c, h, w = (int(v) for v in image_shape)
        self.image_shape = (c, h, w)
        self.scales = nn.ModuleList()
        self.z_shapes: list[tuple[int, int, int]] = []
        for s in range(int(scales)):
            sq = h % 2 == 0 and w % 2 == 0
            last = s == int(scales) - 1 or not sq
            self.scales.append(_Scale(c, hidden, steps, sq, split=not last))
            if sq:
                c, h, w = c * 4, h // 2, w // 2
            if last:
                break
            self.z_shapes.append((c - c // 2, h, w))
            c = c // 2
        self.z_shapes.append((c, h, w))
        d = sum(math.prod(shape) for shape in self.z_shapes)
        assert d == math.prod(image_shape), (d, image_shape)
        self.dims = d
        k = max(1, min(int(pca_k), d))
        self.register_buffer("pca_mean", torch.zeros(d))
        self.register_buffer("pca_components", torch.zeros(k, d))
        self.register_buffer("pca_variance", torch.zeros(k))

    def forward(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """y in (0, 1) (N, C, H, W) -> z (N, D) and log|det ∂z/∂y| per image."""
        y = ALPHA + (1 - 2 * ALPHA) * y
        x = torch.log(y) - torch.log1p(-y)
        logdet = (math.log(1 - 2 * ALPHA) - torch.log(y) - torch.log1p(-y)).flatten(1).sum(1)
        zs = []
        for scale in self.scales:
            for layer in scale.checker:
                x, ld = layer(x)
                logdet = logdet + ld
            if scale.squeeze_after:
                x = squeeze(x)
            for layer in scale.channel:
                x, ld = layer(x)
                logdet = logdet + ld
            if scale.split:
                c = x.shape[1] // 2
                zs.append(x[:, c:].flatten(1))
                x = x[:, :c]
        zs.append(x.flatten(1))
        return torch.cat(zs, 1), logdet

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        """z (N, D) -> y in (0, 1) (N, C, H, W).  Far outside the codes the model has seen (about 2% of
        draws at temperature 1), undoing a coupling divides by sigmoid scales near 0 and the values overflow
        to inf and then NaN; each step is clamped to ±:data:`INVERSE_LIMIT`, which leaves every image the
        flow actually encodes exactly invertible (their values stay within ±10) and turns the overflowed
        ones into saturated pixels instead of NaN."""
        sizes = [math.prod(s) for s in self.z_shapes]
        pieces = list(torch.split(z, sizes, dim=1))
        x = pieces[-1].reshape(-1, *self.z_shapes[-1])
        for i in range(len(self.scales) - 1, -1, -1):
            scale = self.scales[i]
            if scale.split:
                x = torch.cat([x, pieces[i].reshape(-1, *self.z_shapes[i])], 1)
            for layer in reversed(scale.channel):
                x = layer.inverse(x).clamp(-INVERSE_LIMIT, INVERSE_LIMIT)
            if scale.squeeze_after:
                x = unsqueeze(x)
            for layer in reversed(scale.checker):
                x = layer.inverse(x).clamp(-INVERSE_LIMIT, INVERSE_LIMIT)
        y = torch.sigmoid(x)
        return ((y - ALPHA) / (1 - 2 * ALPHA)).clamp(0.0, 1.0)

    def log_prob_y(self, y: torch.Tensor) -> torch.Tensor:
        """log p(y) in nats per image, y the dequantized image on the [0, 1] scale."""
        z, logdet = self(y)
        return -0.5 * (LOG_2PI + z ** 2).sum(1) + logdet


def dequantization_noise(k: int, shape, seed: int = DEQUANT_SEED) -> torch.Tensor:
    """The K uniform draws (K, C, H, W) shared by every image."""
    return torch.rand(int(k), *shape, generator=torch.Generator().manual_seed(int(seed)))


def dequantize(x01: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """8-bit images on [0, 1] plus noise u in [0, 1) -> y = (x·255 + u) / 256."""
    return (torch.round(x01.clamp(0, 1) * 255.0) + u) / 256.0


class FlowModel(GenerativeModel):
    family = "flow"

    @classmethod
    def build(cls, config: dict[str, Any] | None = None, metadata: dict[str, Any] | None = None,
              device: str | torch.device = "cpu") -> "FlowModel":
        cfg = {**DEFAULT_CONFIG, **(config or {})}
        net = FlowNet(tuple(cfg["image_shape"]), cfg["scales"], cfg["steps"], cfg["hidden"], cfg["pca_k"])
        cfg["latent_dim"] = net.dims
        return cls(net, cfg, metadata, device)

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The exact code of each image at its bins' midpoints (u = 1/2)."""
        x = self._as_batch(x)
        return self.net((x * 255.0 + 0.5) / 256.0)[0]

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        y = self.net.inverse(self._as_latent(z))
        return ((y * 256.0 - 0.5) / 255.0).clamp(0.0, 1.0)

    def log_prob_nats(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """The dequantized bound log p((x + u)/256) − D·log 256 per image (differentiable)."""
        dims = math.prod(self.image_shape)
        return self.net.log_prob_y(dequantize(x, u)) - dims * math.log(256.0)

    @torch.no_grad()
    def log_likelihood(self, x: torch.Tensor, k: int | None = None, cancel=None) -> torch.Tensor:
        """log P(x) lower bound in nats (float64 per image) from K seeded dequantization draws."""
        from .errors import Cancelled

        x = self._as_batch(x)
        k = max(1, int(k or 1))
        us = dequantization_noise(k, self.image_shape).to(self.device)
        parts = []
        for j in range(k):
            if cancel is not None and cancel():
                raise Cancelled()
            parts.append(self.log_prob_nats(x, us[j].expand_as(x)).double())
        return torch.logsumexp(torch.stack(parts, 1), 1) - math.log(k)

    @torch.no_grad()
    def fit_directions(self, x: torch.Tensor, batch: int = 500) -> None:
        """PCA of the codes of images ``x`` (stored in the checkpoint as ``pca_*`` buffers)."""
        z = torch.cat([self.encode(x[i:i + batch]) for i in range(0, len(x), batch)]).double()
        mean = z.mean(0)
        _, s, vh = torch.linalg.svd(z - mean, full_matrices=False)
        k = self.net.pca_components.shape[0]
        var = s[:k] ** 2 / max(1, len(z) - 1)
        self.net.pca_mean.copy_(mean.float())
        self.net.pca_components.copy_(vh[:k].float())
        self.net.pca_variance.copy_(var.float())
        self.metadata.setdefault("directions", {})["total_variance"] = float((s ** 2).sum() / max(1, len(z) - 1))

    def directions(self) -> list[Direction]:
        """Principal directions of encoded training images, then the rest of an orthonormal basis.

        The slider's sigma is the data's standard deviation along the direction (the prior's, 1, for
        the completion); the label says the share of the codes' variance it explains."""
        d = self.latent_dim
        comps = self.net.pca_components.detach().float().cpu()
        var = self.net.pca_variance.detach().float().cpu()
        total = float(self.metadata.get("directions", {}).get("total_variance") or 0.0) or float(d)
        keep = [i for i in range(comps.shape[0]) if float(comps[i].norm()) > 0.5]
        basis = orthonormal_basis(torch.cat([comps[keep], torch.eye(d)], 0)[:d]) if keep else torch.eye(d)
        out = []
        for i in range(d):
            if i < len(keep):
                v = float(var[keep[i]])
                out.append(Direction(name=f"pc{i + 1}", vector=basis[i], label=f"{100 * v / total:.1f}% var",
                                     strength=v / total, sigma=math.sqrt(max(v, 1e-6))))
            else:
                out.append(Direction(name=f"r{i + 1}", vector=basis[i], label="rest", strength=0.0, sigma=1.0))
        return out

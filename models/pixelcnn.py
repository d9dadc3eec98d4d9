"""A gated PixelCNN (van den Oord et al. 2016) with a discretized logistic mixture output.

An autoregressive model factorises the 8-bit image exactly, pixel by pixel in raster order:

    log p(x) = sum_{i,j} log p(x_{ij} | x_{<ij}),     bits/dim = −log p(x) / (C·H·W · ln 2)

where each conditional is a mixture of ``n_mix`` discretized logistics over the 256 levels
(:mod:`models.likelihood`; the end bins take the tails, so the 256 probabilities sum to one).  For
colour images the C channels of a pixel are independent given the pixels before it (a valid, slightly
weaker factorisation than PixelCNN++'s channel coupling).  The likelihood is exact -- no bound,
no dequantization -- so it is the family where "raw likelihood fails as an OOD test" is sharpest.

The network: a vertical stack (a (k//2+1)×k convolution that sees the rows above, shifted down one
row before it feeds the horizontal stack) and a horizontal stack (a 1×(k//2+1) convolution of the
pixels to the left; the first layer shifted right one pixel so a pixel never sees itself), joined by
gated units tanh(a)·σ(b) with residual connections in the horizontal stack, so there is no blind spot.

There is no latent (``latent_dim == 0``): ``encode``/``decode`` raise a clear
:class:`~models.errors.LatentExplorerError`; ``sample`` draws pixel by pixel (H·W network passes)
with a ``progress(done, total)`` callback and a ``cancel()`` check (:class:`~models.errors.Cancelled`);
``pixel_bits`` returns −log₂ p(x_ij | x_<ij) per pixel, the "why" heat map of a score.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from . import likelihood
from .base import Direction, GenerativeModel
from .errors import Cancelled, LatentExplorerError

DEFAULT_CONFIG: dict[str, Any] = {"image_shape": [1, 28, 28], "hidden": 32, "layers": 6, "n_mix": 5,
                                  "first_kernel": 7}


class NoLatentError(LatentExplorerError, ValueError):
    """The model has no latent code (an autoregressive model)."""


class GatedLayer(nn.Module):
    def __init__(self, ch: int, k: int, first: bool, c_in: int | None = None) -> None:
        super().__init__()
        c_in = c_in or ch
        self.first, self.k = first, k
        self.v_conv = nn.Conv2d(c_in, 2 * ch, (k // 2 + 1, k))
        self.h_conv = nn.Conv2d(c_in, 2 * ch, (1, k // 2 + 1))
        self.v_to_h = nn.Conv2d(2 * ch, 2 * ch, 1)
        self.h_out = nn.Conv2d(ch, ch, 1)

    @staticmethod
    def _gate(a: torch.Tensor) -> torch.Tensor:
        t, s = a.chunk(2, 1)
        return torch.tanh(t) * torch.sigmoid(s)

    def forward(self, v: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        k = self.k
        v_pre = self.v_conv(F.pad(v, (k // 2, k // 2, k // 2, 0)))          # rows <= i
        v_down = F.pad(v_pre, (0, 0, 1, 0))[:, :, :-1]                        # rows < i
        h_in = F.pad(h, (1, 0))[:, :, :, :-1] if self.first else h            # first layer: cols < j
        h_pre = self.h_conv(F.pad(h_in, (k // 2, 0))) + self.v_to_h(v_down)
        h_new = self.h_out(self._gate(h_pre))
        return self._gate(v_pre), (h_new if self.first else h + h_new)


class PixelCNNNet(nn.Module):
    def __init__(self, image_shape=(1, 28, 28), hidden: int = 32, layers: int = 6, n_mix: int = 5,
                 first_kernel: int = 7) -> None:
        super().__init__()
        c = int(image_shape[0])
        self.image_shape = tuple(int(v) for v in image_shape)
        self.n_mix = int(n_mix)
        self.layers = nn.ModuleList([GatedLayer(hidden, int(first_kernel), True, c_in=c)]
                                    + [GatedLayer(hidden, 3, False) for _ in range(int(layers) - 1)])
        self.out = nn.Sequential(nn.ReLU(), nn.Conv2d(hidden, hidden, 1), nn.ReLU(),
                                 nn.Conv2d(hidden, c * 3 * self.n_mix, 1))

    def forward(self, x01: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) images in [0, 1] -> mixture parameters of every pixel's conditional."""
        x = likelihood.to_signed(x01)
        v = h = x
        for layer in self.layers:
            v, h = layer(v, h)
        return self.out(h)


class PixelCNNModel(GenerativeModel):
    family = "autoregressive"

    @classmethod
    def build(cls, config: dict[str, Any] | None = None, metadata: dict[str, Any] | None = None,
              device: str | torch.device = "cpu") -> "PixelCNNModel":
        cfg = {**DEFAULT_CONFIG, **(config or {})}
        cfg["latent_dim"] = 0
        net = PixelCNNNet(tuple(cfg["image_shape"]), cfg["hidden"], cfg["layers"], cfg["n_mix"], cfg["first_kernel"])
        return cls(net, cfg, metadata, device)

    # ----------------------------------------------------------------- no latent
    def _no_latent(self, what: str) -> NoLatentError:
        return NoLatentError(f"{self.name} is an autoregressive model (PixelCNN): it has no latent code, so it "
                             f"cannot {what}; use sample and score instead")

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        raise self._no_latent("encode an image")

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        raise self._no_latent("decode a latent")

    def directions(self) -> list[Direction]:
        return []

    def prior_z(self, n: int, *, temperature: float = 1.0, seed: int | None = None) -> torch.Tensor:
        raise self._no_latent("draw latents")

    # ----------------------------------------------------------------- likelihood
    def log_prob_nats(self, x01: torch.Tensor) -> torch.Tensor:
        """Exact log p(x) per image in nats (differentiable)."""
        return likelihood.log_prob(x01, self.net(x01), self.net.n_mix)

    @torch.no_grad()
    def log_likelihood(self, x: torch.Tensor, k: int | None = None, cancel=None, batch: int = 256) -> torch.Tensor:
        """Exact log p(x) in nats, float64 per image (``k`` is ignored: nothing is estimated)."""
        x = self._as_batch(x)
        out = []
        for i in range(0, len(x), batch):
            if cancel is not None and cancel():
                raise Cancelled()
            out.append(self.log_prob_nats(x[i:i + batch]).double())
        return torch.cat(out) if out else torch.zeros(0, dtype=torch.float64, device=self.device)

    @torch.no_grad()
    def level_log_probs(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x_ij = level | x_<ij) for all 256 levels: (N, C, H, W, 256)."""
        x = self._as_batch(x)
        return likelihood.level_log_probs(self.net(x), self.net.n_mix)

    @torch.no_grad()
    def pixel_bits(self, x: torch.Tensor) -> torch.Tensor:
        """−log₂ p(x_ij | x_<ij) of every pixel (N, H, W), summed over channels: where the model is
        surprised (the "why" heat map).  Sums to −log₂ p(x) per image."""
        x = self._as_batch(x)
        lp = likelihood.level_log_probs(self.net(x), self.net.n_mix)
        levels = torch.round(x * 255).long().unsqueeze(-1)
        return -(lp.gather(-1, levels).squeeze(-1).sum(1)) / math.log(2.0)

    # ----------------------------------------------------------------- sampling
    @torch.no_grad()
    def sample(self, n: int, *, temperature: float = 1.0, seed: int | None = None,
               progress: Callable[[int, int], None] | None = None,
               cancel: Callable[[], bool] | None = None) -> torch.Tensor:
        """``n`` images drawn pixel by pixel (H·W passes); ``temperature`` divides the conditionals'
        log-probabilities (T < 1 sharper).  ``progress(done, total)`` after every row; ``cancel()``
        checked before every pixel raises :class:`~models.errors.Cancelled`."""
        c, h, w = self.image_shape
        gen = torch.Generator(device="cpu")
        gen.manual_seed(int(seed)) if seed is not None else gen.seed()
        x = torch.zeros(n, c, h, w, device=self.device)
        t = max(float(temperature), 1e-3)
        was = self.net.training
        self.net.eval()
        try:
            for i in range(h):
                for j in range(w):
                    if cancel is not None and cancel():
                        raise Cancelled()
                    # the rows below i never influence rows <= i, so only rows <= i are computed
                    params = self.net(x[:, :, :i + 1])[:, :, i, j][..., None, None]
                    lp = likelihood.level_log_probs(params, self.net.n_mix)[:, :, 0, 0] / t   # (n, C, 256)
                    probs = torch.softmax(lp, -1).reshape(n * c, 256).cpu()
                    levels = torch.multinomial(probs, 1, generator=gen).view(n, c).to(self.device)
                    x[:, :, i, j] = levels.float() / 255.0
                if progress is not None:
                    progress((i + 1) * w, h * w)
        finally:
            self.net.train(was)
        return x

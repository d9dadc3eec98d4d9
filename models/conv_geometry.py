"""The shape rule and the stride-2 stage plan shared by the convolutional VAE and DCGAN.

A model's image shape is (C, H, W) with C in {1, 3} and 16 <= H, W <= 256 (square or not).

Every network here halves (encoder, discriminator) or doubles (decoder, generator) the image ``n``
times with 4x4 stride-2 convolutions, where ``n`` is the smallest n >= 1 with

    max(H, W) <= 7 * 2**n

so the coarsest grid is at most 7 cells on its longer side (28x28 -> 7x7 in n = 2 stages, exactly the
original Fashion-MNIST networks; 32 -> 4, 64 -> 4, 256 -> 4).  The coarsest grid is
(ceil(H / 2**n), ceil(W / 2**n)); when H or W is not a multiple of 2**n the encoder pads its input
(edge pixels repeated) up to the multiple and the decoder centre-crops its output back to (H, W).
Stage i (0 = finest) has ``width * 2**min(i, 3)`` feature channels, so a 28x28 model has
``width`` and ``2 * width`` channels as before and parameter names and shapes are unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .errors import LatentExplorerError

MIN_SIDE, MAX_SIDE = 16, 256
CHANNELS = (1, 3)
#: The coarsest grid's longer side is at most this many cells.
MAX_BASE = 7
#: Feature channels stop doubling after this many stages.
MAX_DOUBLINGS = 3


class ImageShapeError(LatentExplorerError, ValueError):
    """An image shape outside what the networks support; the message states the rule."""


def check_image_shape(shape) -> tuple[int, int, int]:
    """``shape`` as a (C, H, W) tuple of ints, or :class:`ImageShapeError` stating the rule."""
    rule = (f"an image shape must be (C, H, W) with C = 1 (grey) or 3 (colour) and H, W from "
            f"{MIN_SIDE} to {MAX_SIDE} pixels")
    try:
        items = list(shape)
    except TypeError:
        raise ImageShapeError(f"{rule}; got {shape!r}") from None
    if len(items) != 3 or not all(isinstance(v, int) and not isinstance(v, bool) for v in items):
        raise ImageShapeError(f"{rule}; got {str(shape)[:60]}")
    c, h, w = items
    if c not in CHANNELS or not (MIN_SIDE <= h <= MAX_SIDE and MIN_SIDE <= w <= MAX_SIDE):
        raise ImageShapeError(f"{rule}; got {c}x{h}x{w}")
    return c, h, w


@dataclass(frozen=True)
class StagePlan:
    """How a (C, H, W) image maps onto ``stages`` stride-2 stages."""

    image_shape: tuple[int, int, int]
    stages: int
    base: tuple[int, int]       # the coarsest grid (h, w)

    @property
    def padded(self) -> tuple[int, int]:
        """The size the encoder works at: the base grid times 2**stages (>= H, W)."""
        return self.base[0] << self.stages, self.base[1] << self.stages

    def widths(self, width: int) -> list[int]:
        """Feature channels of each stage, finest first."""
        return [int(width) * 2 ** min(i, MAX_DOUBLINGS) for i in range(self.stages)]

    def pad_input(self, x: torch.Tensor) -> torch.Tensor:
        """Pad (N, C, H, W) up to :attr:`padded` by repeating edge pixels (a no-op when it fits)."""
        (_, h, w), (ph, pw) = self.image_shape, self.padded
        if (ph, pw) == (h, w):
            return x
        top, left = (ph - h) // 2, (pw - w) // 2
        return F.pad(x, (left, pw - w - left, top, ph - h - top), mode="replicate")

    def crop_output(self, y: torch.Tensor) -> torch.Tensor:
        """Centre-crop a decoder's (N, K, ph, pw) output to (N, K, H, W) (a no-op when it fits)."""
        (_, h, w), (ph, pw) = self.image_shape, self.padded
        if (ph, pw) == (h, w):
            return y
        top, left = (ph - h) // 2, (pw - w) // 2
        return y[..., top:top + h, left:left + w]


def plan(image_shape) -> StagePlan:
    """The stage plan of a valid image shape (see the module docstring for the rule)."""
    c, h, w = check_image_shape(image_shape)
    n = 1
    while max(h, w) > MAX_BASE * 2 ** n:
        n += 1
    return StagePlan((c, h, w), n, (-(-h // 2 ** n), -(-w // 2 ** n)))

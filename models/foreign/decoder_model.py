"""A decoder made elsewhere (a torch.export program, an ONNX graph, a diffusers autoencoder) behind
the one :class:`~models.base.GenerativeModel` interface.

A format module (:mod:`.export_program`, :mod:`.onnx_model`, :mod:`.hf_autoencoder`) supplies two
plain functions, ``decode_raw(z) -> images in the manifest's output_range`` and optionally
``encode_raw(images in that range) -> z``; this class does the rest the same way for all of them:

* the output is mapped to [0, 1] by x' = (x - lo) / (hi - lo) and clipped;
* one **probe decode** of two prior latents when the model is opened checks what the manifest claims
  (shape (N, C, H, W), finite values, values inside the declared range give or take 5 %), so a lying
  manifest or a decoder that returns NaN is refused with one line instead of drawing garbage;
* ``encode`` runs the encoder when there is one, else inverts the decoder by optimisation
  (:mod:`.inversion`: bounded, cancellable);
* ``directions`` are principal directions of decoded samples carried back to z (:mod:`.directions`),
  cached in a sidecar so the next open is instant;
* no likelihood, ever: a decoder alone defines none, so no nats or bits/dim are made up.  ``score``
  refuses, saying so, until ``latent-explorer calibrate MODEL --data FOLDER`` has stored a labelled
  approximate verdict beside the model (:mod:`.calibration`, read back when the model opens); from
  then on scores carry that verdict, marked ``approximate``, and still no likelihood.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from ..base import Direction, GenerativeModel
from ..errors import LatentExplorerError, first_line
from ..tensor_source import checkpoint_error as _err
from .manifest import Manifest

#: Tolerance on the declared output range, as a fraction of its width (interpolating decoders overshoot).
RANGE_SLACK = 0.05


class ForeignModelError(LatentExplorerError):
    """A foreign decoder misbehaved at run time (NaN, wrong shape): the message names the file."""


class Programs(nn.ModuleDict):
    """The foreign networks (decoder, maybe encoder) as one module that moves between devices but
    never switches them to training mode (exported programs refuse ``train()``; they are inference
    graphs)."""

    def train(self, mode: bool = True) -> "Programs":
        self.training = mode
        return self


class DecoderModel(GenerativeModel):
    """A decoder (and maybe an encoder) from another tool; see the module docstring."""

    family = "decoder"
    #: True when ``decode_raw`` is differentiable torch code (inversion by gradient steps).
    differentiable = True
    #: False for decoders that are unbounded by design (diffusers VAEs overshoot; they are clipped).
    checks_range = True

    def __init__(self, path: Path, manifest: Manifest, decode_raw: Callable[[torch.Tensor], torch.Tensor],
                 encode_raw: Callable[[torch.Tensor], torch.Tensor] | None = None, *,
                 net: nn.Module | None = None, fmt: str = "", key: str = "",
                 metadata: dict[str, Any] | None = None, device: str | torch.device = "cpu") -> None:
        self.path = Path(path)
        self.manifest = manifest
        self._decode_raw = decode_raw
        self._encode_raw = encode_raw
        self.key = key
        self._directions: list[Direction] | None = None
        config = {"latent_dim": manifest.latent_dim, "image_shape": list(manifest.image_shape),
                  "output_range": list(manifest.output_range), "format": fmt or self.family,
                  "encoder": encode_raw is not None}
        meta = {"name": manifest.name or self.path.stem, "path": str(self.path),
                "dataset": {"classes": list(manifest.class_names)},
                "likelihood": "none: a decoder alone defines no likelihood",
                **({"manifest": manifest.source} if manifest.source else {}),
                **({"notes": list(manifest.notes)} if manifest.notes else {}), **(metadata or {})}
        super().__init__(net if net is not None else nn.Module(), config, meta, device)

    # ----------------------------------------------------------------- checks
    def probe(self) -> "DecoderModel":
        """Decode two prior latents and check shape, finiteness and range against the manifest."""
        p, m = self.path, self.manifest
        z = self.prior_z(2, seed=0)
        try:
            with torch.no_grad():
                out = self._decode_raw(z)
        except LatentExplorerError:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever the runtime raises, said in one line
            raise _err(p, f"the decoder failed on a (2, {m.latent_dim}) latent batch ({first_line(exc, 140)}); "
                          f"check latent_dim in its manifest.") from None
        if not isinstance(out, torch.Tensor):
            raise _err(p, f"the decoder returned {type(out).__name__}, not an image tensor.")
        want = (2, *m.image_shape)
        if tuple(out.shape) != want:
            raise _err(p, f"the decoder returned shape {tuple(out.shape)} but its manifest says image_shape "
                          f"{list(m.image_shape)} (expected {want}); fix image_shape in the manifest.")
        if not bool(torch.isfinite(out).all()):
            raise _err(p, "the decoder returned NaN or infinite values for a latent from the prior; the model "
                          "is broken or expects other inputs.")
        lo, hi = m.output_range
        slack = RANGE_SLACK * (hi - lo)
        a, b = float(out.min()), float(out.max())
        if self.checks_range and (a < lo - slack or b > hi + slack):
            raise _err(p, f"the decoder returned values from {a:.3g} to {b:.3g}, outside its manifest's "
                          f"output_range [{lo:g}, {hi:g}]; fix output_range in the manifest.")
        return self

    # ----------------------------------------------------------------- interface
    def _to_unit(self, out: torch.Tensor, n: int) -> torch.Tensor:
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (n, *self.image_shape):
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ForeignModelError(f"{self.path.name}: the decoder returned {shape}, not "
                                    f"{(n, *self.image_shape)}; the model does not match its manifest.")
        lo, hi = self.manifest.output_range
        x = (out.float() - lo) / (hi - lo)
        if not bool(torch.isfinite(x).all()):
            raise ForeignModelError(f"{self.path.name}: the decoder returned NaN or infinite values for this "
                                    f"latent; try another point.")
        return x.clamp(0.0, 1.0)

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        z = self._as_latent(z)
        return self._to_unit(self._decode_raw(z), z.shape[0]).to(self.device)

    def decode_differentiable(self, z: torch.Tensor) -> torch.Tensor:
        """``decode`` with gradients (torch decoders only), for :mod:`.inversion`."""
        lo, hi = self.manifest.output_range
        return ((self._decode_raw(z).float() - lo) / (hi - lo)).clamp(0.0, 1.0)

    @property
    def has_encoder(self) -> bool:
        return self._encode_raw is not None

    def encode(self, x: torch.Tensor, cancel: Callable[[], bool] | None = None) -> torch.Tensor:
        """The encoder's code when there is one; otherwise inversion through the decoder."""
        x = self._as_batch(x)
        if self._encode_raw is None:
            from .inversion import invert

            return invert(self, x, cancel=cancel)
        lo, hi = self.manifest.output_range
        with torch.no_grad():
            z = self._encode_raw(x * (hi - lo) + lo)
        if not isinstance(z, torch.Tensor) or tuple(z.shape) != (x.shape[0], self.latent_dim):
            shape = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise ForeignModelError(f"{self.path.name}: its encoder returned {shape}, not "
                                    f"{(x.shape[0], self.latent_dim)}; the encoder does not match the manifest.")
        if not bool(torch.isfinite(z).all()):
            raise ForeignModelError(f"{self.path.name}: its encoder returned NaN or infinite values.")
        return z.float().to(self.device)

    def directions(self) -> list[Direction]:
        if self._directions is None:
            from .directions import cached_directions

            self._directions = cached_directions(self)
        return self._directions

    def no_likelihood_message(self) -> str:
        """What ``score`` says while there is no calibration (:func:`models.scoring.calibration_of`)."""
        from .calibration import no_likelihood_message

        return no_likelihood_message(self)

    def ood_features(self, x01: torch.Tensor) -> dict[str, np.ndarray]:
        """Per-image features for :mod:`models.scoring` (no likelihood): the code (encoder or inversion),
        the log reconstruction error, the code's norm and the lossless-WebP length (:mod:`.calibration`)."""
        from .calibration import features

        return features(self, x01)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.net.parameters()) + sum(b.numel() for b in self.net.buffers())

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info["encoder"] = "yes" if self.has_encoder else "none (encode inverts the decoder by optimisation)"
        return info


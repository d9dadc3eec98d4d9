"""torch.export programs (``.pt2``): open a decoder made elsewhere, and write our own models as one.

Opening ``NAME.pt2`` (decoder, z (N, latent_dim) -> images (N, C, H, W)) with ``NAME.encoder.pt2``
beside it when there is one (images in the decoder's output range -> z):

1. the file is read once and checked as a zip by :func:`.pt2_guard.check_archive` (pickles, shape
   expressions, operator targets, guard code -- everything in it that torch would execute);
2. only then does ``torch.export.load`` see the same bytes (from memory, so the file cannot be swapped
   between the check and the load), with the manifest's ``extra_files`` entry;
3. the program must take one input; ``ExportedProgram.module()`` runs it (with gradients, so a
   decoder without encoder is inverted by gradient steps).

Writing: :func:`export` wraps ``model.decode`` / ``model.encode`` of one of our checkpoints into
modules, exports them with a dynamic batch dimension (1..4096) and saves the manifest inside.
"""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import first_line
from ..tensor_source import checkpoint_error as _err
from . import manifest as mf
from .decoder_model import DecoderModel, Programs
from .sidecars import fingerprint
from .pt2_guard import check_archive

SUFFIX = ".pt2"
ENCODER_SUFFIX = ".encoder.pt2"
MAX_BATCH = 4096


class ProgramModel(DecoderModel):
    family = "torch.export"


def encoder_path(p: Path, suffix: str) -> Path:
    """``NAME.encoder.SUFFIX`` beside ``NAME.SUFFIX``."""
    return p.with_name(p.name[: -len(suffix)] + ".encoder" + suffix)


def _load_program(p: Path, data: bytes, want_manifest: bool) -> tuple[nn.Module, str | None]:
    check_archive(p, data)
    extra = {mf.PT2_ENTRY: ""} if want_manifest else {}
    try:
        ep = torch.export.load(io.BytesIO(data), extra_files=extra)
        module = ep.module()
    except Exception as exc:  # noqa: BLE001 - torch raises many types for programs it cannot rebuild
        raise _err(p, f"torch.export could not load the program ({first_line(exc, 140)}); it may need a newer "
                      f"PyTorch than {torch.__version__.split('+')[0]}.") from None
    if len(ep.graph_signature.user_inputs) != 1:
        raise _err(p, f"the program takes {len(ep.graph_signature.user_inputs)} inputs; a decoder takes one "
                      f"(z of shape (N, latent_dim)) and an encoder one (images).")
    return module, (extra.get(mf.PT2_ENTRY) or None)


def _read(p: Path) -> bytes:
    size = os.stat(p).st_size
    if size > 2 * 2**30:
        raise _err(p, "larger than 2 GiB; refused.")
    with open(p, "rb") as fh:
        return fh.read()


def _first(out: Any) -> Any:
    return out[0] if isinstance(out, (tuple, list)) and len(out) == 1 else out


def open_pt2(p: Path, device: str | torch.device = "cpu") -> ProgramModel:
    """The model of decoder program ``p`` (and its encoder beside it), probed; see the module docstring."""
    if p.name.endswith(ENCODER_SUFFIX):
        raise _err(p, f"an encoder program; open its decoder {p.name[:-len(ENCODER_SUFFIX)]}{SUFFIX} instead.")
    data = _read(p)
    decoder, embedded = _load_program(p, data, True)
    man = mf.find(p, embedded, f"inside the file (extra_files entry {mf.PT2_ENTRY})")
    enc_p = encoder_path(p, SUFFIX)
    encoder = None
    if enc_p.is_file():
        encoder, _ = _load_program(enc_p, _read(enc_p), False)
    side = mf.sidecar_path(p)
    key = fingerprint(*[x for x in (p, enc_p, side) if x.is_file()])
    net = Programs({"decoder": decoder, **({"encoder": encoder} if encoder is not None else {})})
    model = ProgramModel(p, man, lambda z: _first(net["decoder"](z)),
                         (lambda x: _first(net["encoder"](x))) if encoder is not None else None,
                         net=net, fmt="torch.export (.pt2)", key=key,
                         metadata={"encoder_file": enc_p.name if encoder is not None else None}, device="cpu")
    model.probe()
    return model


# ------------------------------------------------------------------------------------------ writing
class _Decode(nn.Module):
    def __init__(self, model) -> None:
        super().__init__()
        self.net, self._model = model.net, model

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self._model.decode(z)


class _Encode(_Decode):
    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return self._model.encode(x)


def modules_of(model) -> tuple[nn.Module, nn.Module, tuple[torch.Tensor, torch.Tensor]]:
    """Our model's decoder and encoder as modules (on the CPU, eval mode) and example inputs."""
    model.to("cpu")
    gen = torch.Generator().manual_seed(0)
    return (_Decode(model).eval(), _Encode(model).eval(),
            (torch.randn(2, model.latent_dim, generator=gen), torch.rand(2, *model.image_shape, generator=gen)))


def manifest_of(model) -> mf.Manifest:
    return mf.Manifest(latent_dim=model.latent_dim, image_shape=tuple(model.image_shape), output_range=(0.0, 1.0),
                       name=model.name, class_names=list(model.class_names))


def export(model, out: str | os.PathLike) -> list[Path]:
    """Write ``model`` (one of ours) as ``out`` (.pt2 decoder) and ``NAME.encoder.pt2``; returns both paths."""
    out = Path(out)
    if not out.name.endswith(SUFFIX):
        raise ValueError(f"a torch.export program is saved as NAME{SUFFIX}, not {out.name}")
    dec, enc, (z, x) = modules_of(model)
    batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    from ..atomic_io import atomic_write_bytes

    written = []
    with torch.no_grad():
        for module, example, name, target in ((dec, z, "z", out), (enc, x, "x", encoder_path(out, SUFFIX))):
            ep = torch.export.export(module, (example,), dynamic_shapes={name: {0: batch}})
            buf = io.BytesIO()
            torch.export.save(ep, buf, extra_files={mf.PT2_ENTRY: manifest_of(model).to_json()})
            atomic_write_bytes(target, buf.getvalue())
            written.append(target)
    return written

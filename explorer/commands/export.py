"""latent-explorer export MODEL --format pt2|onnx --out FILE [--check]

Writes one of our checkpoints as a decoder made for other tools: ``FILE`` (the decoder, z -> images in
[0, 1]) and ``NAME.encoder.pt2`` / ``NAME.encoder.onnx`` beside it (images -> z), each with the
manifest inside (docs/foreign-models.md).  ``--format`` defaults to what ``--out``'s suffix says.
With ``--check`` (the default) the written files are opened again with ``models.load`` and the
largest pixel difference against the original decoder, over 16 prior samples, is printed.
"""
from __future__ import annotations

import argparse

FORMATS = {"pt2": ".pt2", "onnx": ".onnx"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="a Latent Explorer .safetensors checkpoint")
    p.add_argument("--format", choices=sorted(FORMATS), default=None,
                   help="pt2 (torch.export) or onnx (needs the 'onnx' extra); default: from --out's suffix")
    p.add_argument("--out", required=True, help="the decoder file to write (NAME.pt2 or NAME.onnx)")
    p.add_argument("--no-check", dest="check", action="store_false",
                   help="do not reopen the written files to compare pixels")


def run(args: argparse.Namespace) -> int:
    import logging
    from pathlib import Path

    from explorer.errors import UserError

    out = Path(args.out)
    fmt = args.format or next((k for k, s in FORMATS.items() if out.name.lower().endswith(s)), None)
    if fmt is None:
        raise UserError(f"{out.name}: say --format pt2 or --format onnx, or end --out in .pt2 or .onnx")
    if not out.name.lower().endswith(FORMATS[fmt]):
        raise UserError(f"{out.name}: a {fmt} export is written as NAME{FORMATS[fmt]}; change --out")
    import models
    from models.foreign.decoder_model import DecoderModel

    model = models.load(args.checkpoint, device="cpu")
    if isinstance(model, DecoderModel) or not hasattr(model, "net"):
        raise UserError(f"{Path(args.checkpoint).name}: only Latent Explorer checkpoints (.safetensors) can be "
                        f"exported; this one is already a {model.family} model")
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    if fmt == "pt2":
        from models.foreign.export_program import export
    else:
        try:
            import onnx  # noqa: F401
            import onnxscript  # noqa: F401
        except ImportError:
            raise UserError("exporting to ONNX needs the 'onnx' extra: pip install 'latent-explorer[onnx]'") from None
        from models.foreign.onnx_model import export
    written = export(model, out)
    print("wrote " + " and ".join(str(p) for p in written))
    if args.check:
        again = models.load(out, device="cpu")
        z = model.prior_z(16, seed=0)
        diff = float((again.decode(z) - model.decode(z)).abs().max())
        print(f"checked: reopened {out.name}; largest pixel difference over 16 samples {diff:.2e} "
              f"({diff * 255:.3f} of 255)")
        if not diff < 1e-3:
            raise UserError(f"{out.name}: the exported decoder differs from the checkpoint by {diff:.3g}; "
                            f"please report this")
    return 0

"""latent-explorer calibrate FILE [--data fashion-mnist|FOLDER] [--fpr 0.05]

Recomputes a checkpoint's OOD calibration on held-out in-distribution images (for Fashion-MNIST the
last 5,000 training images; never the test set) and rewrites FILE atomically with it.

``--data FOLDER`` works for any model, grey or colour, at any size: the folder is read at the model's
own shape the way training reads folders (:func:`models.data.image_folder`).  The folder the model was
trained on contributes only its held-out images (the hashed 10%: a model's training images would look
more typical than new ones); any other folder is taken as held-out images, all of them.

A model made elsewhere (``.pt2``, ``.onnx``, a Hugging Face autoencoder folder, a plugin's file) has no
likelihood and no held-out data of its own: ``--data FOLDER`` (images the user calls in distribution)
is required, and what is fitted is a labelled approximation (:mod:`models.foreign.calibration`),
stored beside the model as ``NAME.calibration.json`` -- the model file itself is never rewritten.
"""
from __future__ import annotations

import argparse
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="checkpoint (.safetensors) to calibrate in place, or a model made elsewhere "
                                "(.pt2, .onnx, Hugging Face folder, plugin file) to calibrate beside it")
    p.add_argument("--data", default=None,
                   help="'fashion-mnist' or the folder the model was trained on (default: from its metadata); "
                        "for a model made elsewhere, a folder of in-distribution images (required)")
    p.add_argument("--fpr", type=float, default=None,
                   help="false-positive rate of the verdict on in-distribution images (default 0.05)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--out", default=None, help="write here instead of rewriting FILE")
    p.add_argument("--max-images", type=int, default=None, metavar="N",
                   help="use only the first N held-out images (quicker, coarser; default: all)")


def run(args: argparse.Namespace) -> int:
    import models
    from models import scoring
    from models.foreign import kind_of

    from ..errors import UserError

    model = models.load(args.file, device=args.device)
    fpr = scoring.DEFAULT_FPR if args.fpr is None else float(args.fpr)
    if kind_of(args.file) and getattr(model, "no_likelihood_message", None) is not None:
        return _foreign(model, args, fpr)
    images, source = heldout(model, args.data)
    if args.max_images is not None:
        if args.max_images < 40:
            raise UserError("--max-images must be at least 40 (half fits the statistic, half sets the threshold)")
        images = images[:args.max_images]
    cal = scoring.calibrate(model, images=images, source=source, fpr=fpr,
                            log=lambda s: print(s, file=sys.stderr))
    out = args.out or args.file
    models.save(model, out)          # (the load-time "path" entry is never written)
    print(f"wrote {out}: {cal['statistic']}, threshold {cal['threshold']:.4f} "
          f"(verdict 'out-of-distribution' above the {100 * (1 - fpr):g}th percentile of "
          f"{cal['n']} held-out images)")
    return 0


def heldout(model, data: str | None):
    """(uint8 (N, C, H, W) images, their name) to calibrate ``model`` on (see the module docstring)."""
    from pathlib import Path

    from models import scoring

    trained_on = (model.metadata.get("training") or {}).get("data")
    if data is None or data in ("fashion-mnist", "fmnist") or not Path(data).is_dir():
        return scoring.heldout_images(model, data)
    if trained_on and Path(str(trained_on)).is_dir() and Path(str(trained_on)).resolve() == Path(data).resolve():
        return scoring.heldout_images(model, data)
    import torch

    from models.data import image_folder

    c, h, w = model.image_shape
    train, held = image_folder(data, size=(h, w), channels=c)
    return torch.cat([train.images, held.images]), f"folder:{Path(data).name} (all images)"


def _foreign(model, args: argparse.Namespace, fpr: float) -> int:
    """Calibrate a model made elsewhere on ``--data``; the record goes beside it (see the module docstring)."""
    from pathlib import Path

    from explorer.errors import UserError
    from models.foreign.calibration import MIN_IMAGES, SPEC, calibrate

    if args.out is not None:
        raise UserError(f"--out does not apply to {Path(args.file).name}: a model made elsewhere is never "
                        f"rewritten; its calibration is stored beside it")
    if args.data is None:
        raise UserError(f"{Path(args.file).name} was made elsewhere and carries no held-out images: pass --data "
                        f"FOLDER, a folder of images you call in distribution (at least {MIN_IMAGES})")
    images, source = _foreign_images(model, args.data)
    if args.max_images is not None:
        if args.max_images < MIN_IMAGES:
            raise UserError(f"--max-images must be at least {MIN_IMAGES} (half fit the statistic, half set the "
                            f"threshold)")
        images = images[:args.max_images]
    cal, place = calibrate(model, Path(args.file), images, source=source, fpr=fpr,
                           log=lambda s: print(s, file=sys.stderr))
    print(f"wrote {place}: an approximate OOD verdict (approximation: no likelihood; {SPEC['name']}), threshold "
          f"{cal['threshold']:.4f} (verdict 'out-of-distribution' above the {100 * (1 - fpr):g}th percentile of "
          f"{cal['n']} held-in images from {source}); `latent-explorer score --model {args.file} IMAGES` uses it")
    return 0


def _foreign_images(model, data: str):
    """(uint8 images at the model's shape, their name) from ``data`` ("fashion-mnist" or a folder)."""
    from pathlib import Path

    import torch

    from models import scoring
    from models.data import DataError, image_folder
    from models.foreign.calibration import MIN_IMAGES

    if data in ("fashion-mnist", "fmnist"):
        return scoring.heldout_images(model, data)
    folder = Path(data)
    if not folder.is_dir():
        raise DataError(f"{data}: not a folder of images (--data takes a folder of in-distribution images, or "
                        f"fashion-mnist)")
    c, h, w = model.image_shape
    train, held = image_folder(folder, size=(h, w), channels=c)
    images = torch.cat([train.images, held.images])
    if len(images) < MIN_IMAGES:
        raise DataError(f"{data}: only {len(images)} of its images could be read at the model's {c}x{h}x{w}; "
                        f"calibrating needs at least {MIN_IMAGES} in-distribution images (half fit the "
                        f"statistic, half set the threshold)")
    return images, f"folder:{folder.name} ({len(images)} images)"

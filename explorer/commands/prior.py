"""latent-explorer prior FILE [--data fashion-mnist|FOLDER] [--epochs 30] [--out F]

Fits a learned prior (a small RealNVP flow, :mod:`models.latent_prior`) to a VAE's codes of its
training images and rewrites FILE atomically with it: prior samples then come from where the encoder
actually puts images instead of from N(0, I)'s holes, the sliders span the codes' own spread, and the
likelihood (IWAE) is that of the model the app samples from.  The decoder, the encoder and the OOD
calibration are unchanged, but the verdict's statistic includes the code's density under the prior,
so recalibrate afterwards (``latent-explorer calibrate FILE``).  The report gives the gain in nats and
bits/dim on held-out codes (:mod:`models.prior_fit`) and which held-out image's code is the most
typical one (the app's sliders' zero).
"""
from __future__ import annotations

import argparse
import shlex
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="VAE checkpoint (.safetensors) to fit a prior for, in place")
    p.add_argument("--data", default=None,
                   help="'fashion-mnist' or the folder the model was trained on (default: from its metadata)")
    p.add_argument("--epochs", type=int, default=30, help="passes over the training codes (default 30)")
    p.add_argument("--layers", type=int, default=8, help="coupling layers of the flow (default 8)")
    p.add_argument("--hidden", type=int, default=128, help="hidden units per coupling (default 128)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-images", type=int, default=None, metavar="N", help="use only the first N training images")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--out", default=None, help="write here instead of rewriting FILE")
    p.add_argument("--quiet", action="store_true", help="no per-epoch lines")


def run(args: argparse.Namespace) -> int:
    import models
    from models import prior_fit
    from models.data import load_training_data

    from explorer.errors import UserError

    if args.epochs < 1:
        raise UserError("--epochs must be at least 1")
    model = models.load(args.file, device=args.device)
    if model.family != "vae":
        raise UserError(f"{args.file}: a learned prior is fitted to a VAE's codes; this model is a "
                         f"{model.family} (its sampling already follows its own prior)")
    data = args.data or (model.metadata.get("training") or {}).get("data") or "fashion-mnist"
    c, h, w = model.image_shape
    train, held = load_training_data(data, size=(h, w), channels=c, max_images=args.max_images)

    def progress(epoch: int, epochs: int, nll: float) -> None:
        if not args.quiet:
            print(f"epoch {epoch}/{epochs}: -log p(z) {nll:.3f} nats", file=sys.stderr, flush=True)

    report = prior_fit.fit_prior(model, train.images, held.images, epochs=args.epochs, layers=args.layers,
                                 hidden=args.hidden, seed=args.seed, progress=progress)
    report["command"] = shlex.join(["latent-explorer", "prior", *sys.argv[2:]]) if sys.argv[1:2] == ["prior"] \
        else f"latent-explorer prior {args.file} --data {data} --epochs {args.epochs}"
    report["data"] = str(data)
    typical = report["typical"]
    label = int(held.labels[typical["heldout_index"]]) if len(held.labels) else -1
    if 0 <= label < len(held.classes):
        typical["class"] = held.classes[label]
    model.metadata["prior"] = report
    out = args.out or args.file
    models.save(model, out)          # (the load-time "path" entry is never written)
    print(f"wrote {out}: learned prior ({report['layers']}-layer flow, {report['epochs']} epochs, "
          f"{report['seconds']:.0f} s); held-out codes gain {report['heldout_gain_nats']:.2f} nats "
          f"({report['heldout_gain_bpd']:.4f} bits/dim) over N(0, I); sliders' zero: {typical_text(typical)}")
    return 0


def typical_text(typical: dict) -> str:
    """What the sliders' zero is: "the most typical code, held-out image #17's (faces, log p = -41.2 nats)"."""
    notes = [str(typical["class"])] if typical.get("class") else []
    if "log_prior_nats" in typical:
        notes.append(f"log p = {float(typical['log_prior_nats']):.1f} nats")
    return (f"the most typical code, held-out image #{typical.get('heldout_index', '?')}'s"
            + (f" ({', '.join(notes)})" if notes else ""))

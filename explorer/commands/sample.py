"""latent-explorer sample FILE -n 64 [--seed S] [--temperature T | --truncation T] --out grid.png

Samples from the prior z ~ N(0, I) scaled by T, decoded into one grid.  For a VAE the scale is a
*temperature* (the prior's standard deviation); for a GAN the app calls it *truncation*, and here it is
named honestly as what it does: it scales z (it is not the truncation trick that resamples outliers).
Either option name is accepted for either family.  The grid's format follows ``--out``'s suffix
(:mod:`explorer.commands.image_files`).

A class-conditional model (``train --conditional``) takes ``--class NAME|INDEX`` (every sample of that
class), ``--class all`` (one row per latent, one column per class: the same z drawn as every class) or
no ``--class`` (no class given: samples of the whole data set).
"""
from __future__ import annotations

import argparse
import math

#: how this command names the prior's scale for a family, in messages
SCALE_WORDS = {"gan": "truncation (scales z)"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint")
    p.add_argument("-n", type=int, default=64, help="number of samples (default 64)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--temperature", type=float, default=None, metavar="T",
                   help="VAE: the prior's standard deviation (default 1); a positive number")
    p.add_argument("--truncation", type=float, default=None, metavar="T",
                   help="GAN: truncation, which here scales z (default 1; lower is more typical, less "
                        "varied); a positive number")
    p.add_argument("--out", required=True, help="image to write: .png, .jpg, .webp or .gif (by its suffix)")
    p.add_argument("--scale", type=int, default=2, help="pixel upscaling of the grid (default 2)")
    p.add_argument("--device", default="auto")
    p.add_argument("--class", dest="class_", default=None, metavar="NAME|INDEX",
                   help="conditional models: the class to draw (a name or an index), or 'all' for one column "
                        "per class")


def class_argument(model, text: str | None, allow_all: bool = False, option: str = "--class"):
    """``option`` (``--class``) for ``model``: None (not given), "all" (when allowed) or a class index; a
    :class:`~explorer.errors.UserError` naming the valid classes otherwise."""
    from explorer.errors import UserError
    from models.conditional import ClassError, class_index

    if text is None:
        return None
    if allow_all and text.strip().casefold() == "all" and model.conditional:
        return "all"
    try:
        return class_index(model, text)
    except ClassError as exc:
        raise UserError(f"{exc}; leave out {option}" if not model.conditional else str(exc)) from None


def scale_word(family: str) -> str:
    return SCALE_WORDS.get(family, "temperature")


def prior_scale(args: argparse.Namespace) -> float:
    """The value of --temperature or --truncation (1.0 when neither is given), checked: a positive,
    finite number; a :class:`~explorer.errors.UserError` otherwise."""
    from explorer.errors import UserError

    given = [(name, v) for name, v in (("--temperature", args.temperature), ("--truncation", args.truncation))
             if v is not None]
    if len(given) == 2:
        raise UserError("give --temperature or --truncation, not both (they are the same scale of z)")
    if not given:
        return 1.0
    name, value = given[0]
    if not math.isfinite(value) or value <= 0:
        raise UserError(f"{name} must be a positive number (it scales the prior's z; 1 is the prior itself), "
                        f"got {value:g}")
    return float(value)


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def run(args: argparse.Namespace) -> int:
    import models
    from explorer.errors import UserError
    from models.imaging import grid

    from .image_files import check_out_path, write_image

    if args.n < 1 or args.n > 10000:
        raise UserError(f"-n must be between 1 and 10000, got {args.n}")
    if not 1 <= args.scale <= 64:
        raise UserError(f"--scale must be between 1 and 64, got {args.scale}")
    scale = prior_scale(args)
    out = check_out_path(args.out)
    model = models.load(args.checkpoint, device=args.device)
    y = class_argument(model, args.class_, allow_all=True)
    nrow, what = None, ""
    if y == "all":      # each latent drawn as every class: a row per z, a column per class
        import torch

        k = model.n_classes
        z = model.prior_z(-(-args.n // k), temperature=scale, seed=args.seed).repeat_interleave(k, 0)
        images = model.decode(z, y=torch.arange(len(z)) % k)[:args.n]
        nrow, what = k, ", one column per class"
    else:
        images = model.sample(args.n, temperature=scale, seed=args.seed, y=y)
        if model.conditional:
            from models.conditional import names

            what = f", class {names(model)[y]}" if y is not None else ", no class given (any class)"
    write_image(grid(images, nrow=nrow, scale=args.scale), out)
    print(f"wrote {out} ({plural(args.n, 'sample')}, seed {args.seed}, {scale_word(model.family)} {scale:g}{what})")
    return 0

"""latent-explorer traverse FILE [--direction I|all] [--steps 9] [--range 3] [--seed S | --image FILE]
                             --out sheet.png [--scale N] [--labels]

A traversal sheet (:mod:`models.traversal`): each chosen direction of the model's sliders (strongest
first, as the app lists them) is swept over ±RANGE σ in STEPS columns around a base code, one row per
direction.  The base is zeros (the prior's mode), a seed's prior sample (``--seed``) or an image's
code (``--image``, taken in like a dropped image).  With an odd number of steps the middle column is the
base decode.  ``--labels`` writes each row's direction name at its left.  The format follows ``--out``'s
suffix (:mod:`explorer.commands.image_files`).
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="model checkpoint")
    p.add_argument("--direction", default="all", metavar="I[,J...]|all",
                   help="direction(s) to sweep by index (0 = the strongest, as the app's sliders), several "
                        "(0,3,5), or all (default)")
    p.add_argument("--steps", type=int, default=9, help="columns, from -RANGE to +RANGE σ (default 9)")
    p.add_argument("--range", dest="extent", type=float, default=3.0, metavar="RANGE",
                   help="sweep ±RANGE prior standard deviations (default 3)")
    base = p.add_mutually_exclusive_group()
    base.add_argument("--seed", type=int, default=None, help="base code: this seed's prior sample")
    base.add_argument("--image", default=None, metavar="FILE", help="base code: this image's encoding")
    p.add_argument("--out", required=True, help="sheet to write: .png, .jpg, .webp or .gif (by its suffix)")
    p.add_argument("--scale", type=int, default=2, help="pixel upscaling (default 2)")
    p.add_argument("--labels", action="store_true", help="write each direction's name left of its row")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true", help="print a JSON summary instead of a sentence")


def run(args: argparse.Namespace) -> int:
    import models
    from explorer.errors import UserError
    from models import traversal
    from models.imaging import grid
    from models.interpolation import endpoint_latent

    from .image_files import check_out_path, write_image

    out = check_out_path(args.out)
    if not 1 <= args.scale <= 64:
        raise UserError(f"--scale must be between 1 and 64, got {args.scale}")
    if not 2 <= args.steps <= traversal.MAX_STEPS:
        raise UserError(f"--steps must be between 2 and {traversal.MAX_STEPS}, got {args.steps}")
    if not (math.isfinite(args.extent) and 0 < args.extent <= traversal.MAX_EXTENT):
        raise UserError(f"--range must be a positive number of σ up to {traversal.MAX_EXTENT:g}, got {args.extent:g}")
    if args.image is not None and not Path(args.image).is_file():
        raise UserError(f"--image {args.image}: no such file")
    model = models.load(args.checkpoint, device=args.device)
    if args.image is not None:
        base = endpoint_latent(model, Path(args.image))
    else:
        base = traversal.base_code(model, seed=args.seed)
    try:
        sheet = traversal.traverse(model, base, args.direction, steps=args.steps, extent=args.extent)
    except traversal.TraversalError as exc:  # a direction out of range, or a model without a latent
        raise UserError(f"--direction {args.direction}: {exc}" if "direction" in str(exc) else str(exc)) from None
    pixels = grid(sheet.flat(), nrow=args.steps, scale=args.scale)
    if args.labels:
        pixels = with_row_labels(pixels, [d.name for d in sheet.directions], sheet.images.shape[-2], args.scale)
    write_image(pixels, out)
    base_text = (f"image {args.image}" if args.image is not None else
                 f"seed {args.seed}" if args.seed is not None else "zeros")
    rows = len(sheet.directions)
    summary = {"out": str(out), "model": model.name, "rows": rows, "steps": args.steps, "range": args.extent,
               "directions": [d.name for d in sheet.directions], "base": base_text,
               "size": [int(pixels.shape[1]), int(pixels.shape[0])]}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"wrote {out} ({rows} {'direction' if rows == 1 else 'directions'} × {args.steps} steps over "
              f"±{args.extent:g}σ around {base_text})")
    return 0


def with_row_labels(pixels, names: list[str], image_height: int, scale: int, pad: int = 2):
    """The sheet with a margin at its left holding each row's name, vertically centred on the row."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    row_h = (image_height + pad) * scale
    size = max(10, min(row_h * 2 // 5, 28))
    try:
        font = ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # an old Pillow or one without FreeType: the bitmap font
        font = ImageFont.load_default()
    draw = ImageDraw.Draw(Image.new("L", (1, 1)))
    width = max(math.ceil(draw.textlength(n, font=font)) for n in names) + 2 * size // 2
    colour = pixels.ndim == 3
    margin = Image.new("RGB" if colour else "L", (width, pixels.shape[0]), 0)
    draw = ImageDraw.Draw(margin)
    for r, name in enumerate(names):
        y = pad * scale + r * row_h + (row_h - pad * scale) // 2
        draw.text((width - size // 2, y), name, fill=(255, 255, 255) if colour else 255, font=font, anchor="rm")
    return np.concatenate([np.asarray(margin), pixels], axis=1)

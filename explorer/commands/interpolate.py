"""latent-explorer interpolate FILE --from A --to B --steps N --out path.gif|.png|.jpg|.webp

A and B are image files (taken in like a dropped image, then encoded) or integer seeds (a sample
from the prior).  ``.gif`` writes an animation; ``.png``, ``.jpg``, ``.webp`` a strip of all frames
side by side, in the format the suffix names (:mod:`explorer.commands.image_files`).
"""
from __future__ import annotations

import argparse
import json
import math


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="model checkpoint (.safetensors)")
    p.add_argument("--from", dest="start", required=True, metavar="A",
                   help="start: an image file (encoded by the model) or an integer seed (a prior sample)")
    p.add_argument("--to", dest="end", required=True, metavar="B", help="end: an image file or an integer seed")
    p.add_argument("--steps", type=int, default=16, help="frames including both ends (default 16)")
    p.add_argument("--method", choices=("lerp", "slerp"), default="slerp",
                   help="linear or spherical interpolation (default slerp)")
    p.add_argument("--out", required=True,
                   help="output .gif (animation), or a strip of all frames as .png, .jpg or .webp")
    p.add_argument("--fps", type=float, default=12.0, help="GIF frames per second (default 12)")
    p.add_argument("--scale", type=int, default=4, help="pixel upscaling (default 4)")
    p.add_argument("--boomerang", action="store_true", help="GIF plays forward then backward")
    p.add_argument("--temperature", type=float, default=1.0, help="prior scale for seed endpoints")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true", help="print a JSON summary instead of a sentence")


def run(args: argparse.Namespace) -> int:
    import models
    from explorer.errors import UserError
    from models import interpolation
    from models.interpolation import endpoint_latent, parse_endpoint
    from models.imaging import grid, save_gif

    from .image_files import check_out_path, write_image

    out = check_out_path(args.out, extra={".gif": "animation"})
    suffix = out.suffix.lower()
    if not 1 <= args.scale <= 64:
        raise UserError(f"--scale must be between 1 and 64, got {args.scale}")
    if not 0.1 <= args.fps <= 100:
        raise UserError(f"--fps must be between 0.1 and 100, got {args.fps}")
    if not 2 <= args.steps <= 1000:
        raise UserError(f"--steps must be between 2 and 1000 (frames including both ends), got {args.steps}")
    if not (math.isfinite(args.temperature) and args.temperature > 0):
        raise UserError(f"--temperature must be a positive number (it scales the prior's z), got {args.temperature:g}")
    start, end = parse_endpoint(args.start), parse_endpoint(args.end)
    model = models.load(args.checkpoint, device=args.device)
    a = endpoint_latent(model, start, args.temperature)
    b = endpoint_latent(model, end, args.temperature)
    frames = interpolation.frames(model, a, b, args.steps, args.method)
    if suffix == ".gif":
        save_gif(frames, out, fps=args.fps, scale=args.scale, boomerang=args.boomerang)
    else:
        write_image(grid(frames, nrow=frames.shape[0], scale=args.scale), out)
    summary = {"out": str(out), "frames": int(frames.shape[0]), "method": args.method,
               "from": str(start), "to": str(end), "model": model.name,
               "kind": "gif" if suffix == ".gif" else "strip"}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"wrote {out} ({summary['frames']} frames, {args.method}, {start} -> {end})")
    return 0

"""latent-explorer interpolate FILE --from A --to B --steps N --out path.gif|.png|.jpg|.webp

A and B are image files (taken in like a dropped image, then encoded) or integer seeds (a sample
from the prior).  ``.gif`` writes an animation; ``.png``, ``.jpg``, ``.webp`` a strip of all frames
side by side, in the format the suffix names (:mod:`explorer.commands.image_files`).

A class-conditional model (``train --conditional``) also takes ``--class C`` (every frame of class C),
or ``--class-from A --class-to B``: the class embedding moves linearly from A's to B's over the frames,
at a fixed z (``--from``, a seed or an image; seed 0 when left out) or along ``--from`` -> ``--to``.
"""
from __future__ import annotations

import argparse
import json
import math


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="model checkpoint (.safetensors)")
    p.add_argument("--from", dest="start", default=None, metavar="A",
                   help="start: an image file (encoded by the model) or an integer seed (a prior sample)")
    p.add_argument("--to", dest="end", default=None, metavar="B",
                   help="end: an image file or an integer seed (left out with --class-from/--class-to: z stays "
                        "at --from)")
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
    p.add_argument("--class", dest="class_", default=None, metavar="C",
                   help="conditional models: draw every frame as class C (a name or an index)")
    p.add_argument("--class-from", default=None, metavar="A",
                   help="conditional models: blend the class from A (with --class-to) across the frames")
    p.add_argument("--class-to", default=None, metavar="B", help="conditional models: ... to class B")


def _class_options(args) -> None:
    """The combinations of --from/--to/--class/--class-from/--class-to that make a path."""
    from explorer.errors import UserError

    blend = args.class_from is not None or args.class_to is not None
    if blend and (args.class_from is None or args.class_to is None):
        raise UserError("give both --class-from and --class-to (the classes the frames blend between)")
    if blend and args.class_ is not None:
        raise UserError("give --class (one class for every frame) or --class-from/--class-to, not both")
    if not blend and (args.start is None or args.end is None):
        raise UserError("give --from and --to (the path's ends), or --class-from and --class-to for a path "
                        "between classes")


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
    _class_options(args)
    start = parse_endpoint(args.start if args.start is not None else "0")
    end = parse_endpoint(args.end) if args.end is not None else start
    model = models.load(args.checkpoint, device=args.device)
    from models import conditional

    from .sample import class_argument

    y = class_argument(model, args.class_)
    y_from = class_argument(model, args.class_from, option="--class-from and --class-to")
    y_to = class_argument(model, args.class_to, option="--class-from and --class-to")
    a = endpoint_latent(model, start, args.temperature)
    b = a if args.end is None else endpoint_latent(model, end, args.temperature)
    if y_from is not None:      # the class moves from A to B (the app's class blend draws the same path)
        _, frames = conditional.class_blend_frames(model, a, b, args.steps, args.method, y_from, y_to)
    elif y is None:
        frames = interpolation.frames(model, a, b, args.steps, args.method)
    else:
        frames = conditional.decode_path(model, interpolation.path(a, b, args.steps, args.method), y)
    if suffix == ".gif":
        save_gif(frames, out, fps=args.fps, scale=args.scale, boomerang=args.boomerang)
    else:
        write_image(grid(frames, nrow=frames.shape[0], scale=args.scale), out)
    summary = {"out": str(out), "frames": int(frames.shape[0]), "method": args.method,
               "from": str(start), "to": str(end), "model": model.name,
               "kind": "gif" if suffix == ".gif" else "strip"}
    path = f"{start} -> {end}" if args.end is not None else f"z fixed at {start}"
    if y_from is not None:
        summary.update(class_from=conditional.names(model)[y_from], class_to=conditional.names(model)[y_to])
        path += f", class {summary['class_from']} -> {summary['class_to']}"
    elif args.class_ is not None:
        summary["class"] = conditional.names(model)[y]
        path += f", class {summary['class']}"
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"wrote {out} ({summary['frames']} frames, {args.method}, {path})")
    return 0

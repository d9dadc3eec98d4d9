"""latent-explorer interpolate FILE --from A --to B --steps N --out path.gif|.png

A and B are image files (taken in like a dropped image, then encoded) or integer seeds (a sample
from the prior).  ``.gif`` writes an animation, ``.png`` a strip of all frames side by side.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="model checkpoint (.safetensors)")
    p.add_argument("--from", dest="start", required=True, metavar="A",
                   help="start: an image file (encoded by the model) or an integer seed (a prior sample)")
    p.add_argument("--to", dest="end", required=True, metavar="B", help="end: an image file or an integer seed")
    p.add_argument("--steps", type=int, default=16, help="frames including both ends (default 16)")
    p.add_argument("--method", choices=("lerp", "slerp"), default="slerp",
                   help="linear or spherical interpolation (default slerp)")
    p.add_argument("--out", required=True, help="output .gif (animation) or .png (strip of frames)")
    p.add_argument("--fps", type=float, default=12.0, help="GIF frames per second (default 12)")
    p.add_argument("--scale", type=int, default=4, help="pixel upscaling (default 4)")
    p.add_argument("--boomerang", action="store_true", help="GIF plays forward then backward")
    p.add_argument("--temperature", type=float, default=1.0, help="prior scale for seed endpoints")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true", help="print a JSON summary instead of a sentence")


def parse_endpoint(text: str) -> int | Path:
    """An integer seed, unless a file of that name exists; otherwise a path."""
    p = Path(text)
    if p.exists():
        return p
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{text}: not an image file that exists, nor an integer seed") from None


def endpoint_latent(model, spec: int | Path, temperature: float = 1.0):
    """The latent code (D,) of an endpoint: a seed's prior sample or an image file's encoding."""
    if isinstance(spec, int):
        return model.prior_z(1, temperature=temperature, seed=spec)[0]
    from models.intake import load_image

    img = load_image(spec)
    return model.encode(img.float01.unsqueeze(0))[0]


def run(args: argparse.Namespace) -> int:
    import models
    from models import interpolation
    from models.imaging import save_gif, save_strip

    out = Path(args.out)
    suffix = out.suffix.lower()
    if suffix not in (".gif", ".png"):
        raise ValueError(f"--out must end in .gif (animation) or .png (strip), got {out.name!r}")
    if not 1 <= args.scale <= 64:
        raise ValueError(f"--scale must be between 1 and 64, got {args.scale}")
    if not 0.1 <= args.fps <= 100:
        raise ValueError(f"--fps must be between 0.1 and 100, got {args.fps}")
    if not out.parent.exists():
        raise ValueError(f"{out.parent}: folder does not exist")
    start, end = parse_endpoint(args.start), parse_endpoint(args.end)
    model = models.load(args.checkpoint, device=args.device)
    a = endpoint_latent(model, start, args.temperature)
    b = endpoint_latent(model, end, args.temperature)
    frames = interpolation.frames(model, a, b, args.steps, args.method)
    if suffix == ".gif":
        save_gif(frames, out, fps=args.fps, scale=args.scale, boomerang=args.boomerang)
    else:
        save_strip(frames, out, scale=args.scale)
    summary = {"out": str(out), "frames": int(frames.shape[0]), "method": args.method,
               "from": str(start), "to": str(end), "model": model.name,
               "kind": "gif" if suffix == ".gif" else "strip"}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"wrote {out} ({summary['frames']} frames, {args.method}, {start} -> {end})")
    return 0

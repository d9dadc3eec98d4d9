"""latent-explorer sample FILE -n 64 [--seed S] [--temperature T] --out grid.png"""
from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint")
    p.add_argument("-n", type=int, default=64, help="number of samples (default 64)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--temperature", type=float, default=1.0,
                   help="scale of the prior's standard deviation (truncation for GANs)")
    p.add_argument("--out", required=True, help="PNG file to write")
    p.add_argument("--scale", type=int, default=2, help="pixel upscaling of the grid (default 2)")
    p.add_argument("--device", default="auto")


def run(args: argparse.Namespace) -> int:
    import models
    from models.imaging import save_grid

    if args.n < 1 or args.n > 10000:
        raise ValueError(f"-n must be between 1 and 10000, got {args.n}")
    model = models.load(args.checkpoint, device=args.device)
    images = model.sample(args.n, temperature=args.temperature, seed=args.seed)
    save_grid(images, args.out, scale=args.scale)
    print(f"wrote {args.out} ({args.n} samples, seed {args.seed}, temperature {args.temperature})")
    return 0

"""latent-explorer train {vae,gan} --data fashion-mnist|FOLDER --epochs N --out FILE"""
from __future__ import annotations

import argparse
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("family", choices=["vae", "gan"])
    p.add_argument("--data", default="fashion-mnist",
                   help="'fashion-mnist' (Debian package dataset-fashion-mnist) or a folder of images")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--out", required=True, help="checkpoint to write (.safetensors), after every epoch")
    p.add_argument("--beta", type=float, default=1.0, help="KL weight of a β-VAE (VAE only; default 1)")
    p.add_argument("--latent-dim", type=int, default=None, help="latent size (default: VAE 16, GAN 32)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--limit", type=int, default=None, help="train on the first N images only (quick runs)")
    p.add_argument("--name", default=None, help="display name stored in the checkpoint")
    p.add_argument("--resume", action="store_true", help="continue from --out and its .train-state.pt")
    p.add_argument("--no-calibrate", action="store_true", help="skip the OOD calibration at the end")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from models.training import TrainConfig, TrainingError, train

    if args.family == "gan" and args.beta != 1.0:
        print("latent-explorer: error: --beta applies to VAEs only", file=sys.stderr)
        return 2
    cfg = TrainConfig(family=args.family, data=args.data, epochs=args.epochs, out=args.out, beta=args.beta,
                      latent_dim=args.latent_dim, seed=args.seed, device=args.device, batch_size=args.batch_size,
                      lr=args.lr, limit=args.limit, resume=args.resume, name=args.name,
                      calibrate=not args.no_calibrate)
    try:
        train(cfg, progress=not args.quiet)
    except TrainingError as exc:
        print(f"latent-explorer: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nlatent-explorer: interrupted; {args.out} holds the last finished epoch. "
              f"Continue with the same command plus --resume.", file=sys.stderr)
        return 130
    print(f"wrote {args.out}")
    return 0

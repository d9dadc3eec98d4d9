"""latent-explorer train {vae,gan,flow,pixelcnn} --data fashion-mnist|FOLDER [--image-size S] [--channels 1|3] [--conditional] --epochs N --out FILE"""
from __future__ import annotations

import argparse
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("family", choices=["vae", "gan", "flow", "pixelcnn"])
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
    p.add_argument("--image-size", type=int, default=None, metavar="S",
                   help="folders: resize every image to S x S, 16-256 (centre crop to square first; "
                        "default: the folder's most common size)")
    p.add_argument("--channels", type=int, choices=[1, 3], default=None,
                   help="folders: 1 (grey) or 3 (colour); default 1 if every image is grey, else 3")
    p.add_argument("--max-images", type=int, default=None, metavar="N",
                   help="folders: read only N images (a seeded random subset; quick runs and trials)")
    p.add_argument("--width", type=int, default=None,
                   help="VAE/GAN: feature channels of the finest stage, doubling per stage up to 8x (default 32); "
                        "flow/PixelCNN: hidden channels of every layer (default 64 / 32)")
    p.add_argument("--res-blocks", type=int, default=None, metavar="R",
                   help="VAE: residual blocks after every resolution change (default 0; deeper, slower)")
    p.add_argument("--lr-decay", choices=["none", "cosine"], default="none",
                   help="learning-rate schedule: constant (none) or cosine decay to 0 over --epochs")
    p.add_argument("--conditional", action="store_true",
                   help="VAE/GAN: class-conditional (labels: the Fashion-MNIST classes, or a folder's sub-folder "
                        "names); sample and interpolate then take --class")
    p.add_argument("--name", default=None, help="display name stored in the checkpoint")
    p.add_argument("--resume", action="store_true", help="continue from --out and its .train-state.pt")
    p.add_argument("--no-calibrate", action="store_true", help="skip the OOD calibration at the end")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


#: Options in the order the recorded command lists them: (attribute, flag); flags without a value last.
_OPTIONS = [("data", "--data"), ("image_size", "--image-size"), ("channels", "--channels"),
            ("max_images", "--max-images"), ("epochs", "--epochs"), ("beta", "--beta"), ("latent_dim", "--latent-dim"),
            ("width", "--width"), ("res_blocks", "--res-blocks"), ("batch_size", "--batch-size"), ("lr", "--lr"), ("lr_decay", "--lr-decay"), ("limit", "--limit"),
            ("seed", "--seed"), ("device", "--device"), ("out", "--out"), ("name", "--name")]
_SWITCHES = [("conditional", "--conditional"), ("resume", "--resume"), ("no_calibrate", "--no-calibrate"), ("quiet", "--quiet")]


def command_line(args: argparse.Namespace) -> str:
    """The command that reproduces this run, from the parsed options (recorded in the checkpoint)."""
    import shlex

    words = ["latent-explorer", "train", args.family]
    for attr, flag in _OPTIONS:
        value = getattr(args, attr, None)
        if value is not None and not (attr == "beta" and value == 1.0) and not (attr == "device" and value == "auto") \
                and not (attr == "lr_decay" and value == "none"):
            words += [flag, str(value)]
    words += [flag for attr, flag in _SWITCHES if getattr(args, attr, False)]
    return shlex.join(words)


def run(args: argparse.Namespace) -> int:
    from models.training import TrainConfig, TrainingError, train

    if args.family != "vae" and args.beta != 1.0:
        print("latent-explorer: error: --beta applies to VAEs only", file=sys.stderr)
        return 2
    if args.conditional and args.family not in ("vae", "gan"):
        print(f"latent-explorer: error: --conditional applies to the VAE and the GAN, not the {args.family}",
              file=sys.stderr)
        return 2
    cfg = TrainConfig(family=args.family, data=args.data, epochs=args.epochs, out=args.out, beta=args.beta,
                      latent_dim=args.latent_dim, seed=args.seed, device=args.device, batch_size=args.batch_size,
                      lr=args.lr, limit=args.limit, resume=args.resume, name=args.name,
                      calibrate=not args.no_calibrate, image_size=args.image_size, channels=args.channels,
                      max_images=args.max_images, width=args.width,
                      res_blocks=args.res_blocks, lr_decay=args.lr_decay, conditional=args.conditional,
                      command=command_line(args))
    try:
        train(cfg, progress=not args.quiet)
    except TrainingError as exc:
        print(f"latent-explorer: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nlatent-explorer: interrupted; {args.out} holds the last finished epoch. "
              f"Continue with the same command plus --resume.", file=sys.stderr)
        return 130
    import os

    if int(os.environ.get("RANK", "0")) == 0:   # under torchrun, rank 0 wrote the file and says so
        print(f"wrote {args.out}")
    return 0

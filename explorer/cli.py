"""``latent-explorer``: the app, and headless subcommands that import no Qt.

    latent-explorer [FILE]                      open the app (on the bundled VAE by default)
    latent-explorer train {vae,gan} ...         train a model
    latent-explorer info FILE [--json]          show a checkpoint's metadata
    latent-explorer sample FILE -n 64 --out grid.png
    latent-explorer score [--model FILE] PATH...
    latent-explorer calibrate FILE
    latent-explorer interpolate FILE --from A --to B --steps N --out path.gif
    latent-explorer bench [--model FILE] [--json]

Each subcommand lives in its own module under ``explorer.commands`` and is imported only when used,
so ``latent-explorer info`` starts without loading Qt.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

#: subcommand -> module in explorer.commands providing ``add_arguments(parser)`` and ``run(args) -> int``
COMMANDS = {
    "train": "Train a VAE or GAN on Fashion-MNIST or a folder of images.",
    "info": "Show what a checkpoint holds.",
    "sample": "Write a grid of samples as PNG.",
    "interpolate": "Interpolate between two images or seeds; write a GIF or a PNG strip.",
    "score": "Likelihood (nats, bits/dim) and an OOD verdict for images, folders or .npy arrays.",
    "calibrate": "Recompute a checkpoint's OOD calibration on held-out in-distribution data.",
    "bench": "Measure live rendering offscreen: decode, frame latency, bursts, startup, memory.",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="latent-explorer",
        description="Look inside generative models: latent sliders, interpolation, likelihood and OOD scores.",
        epilog="Run without a subcommand to open the app: latent-explorer [CHECKPOINT]")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        _command_module(name).add_arguments(sp)
    return parser


def _command_module(name: str):
    return importlib.import_module(f"explorer.commands.{name}")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in COMMANDS and argv[0] not in ("-h", "--help")):
        return _launch_app(argv)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(_command_module(args.command).run(args) or 0)
    except KeyboardInterrupt:
        print("latent-explorer: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - the one place that turns errors into one line
        return report_error(exc)


def report_error(exc: BaseException) -> int:
    """Print one clear line for an error the user can act on (exit 2); anything else is a bug: a
    short line, the traceback in the error log (or on stderr with ``LATENT_EXPLORER_DEBUG=1``), exit 1."""
    from .errors import is_user_error, log_exception, one_line

    if is_user_error(exc):
        print(f"latent-explorer: error: {one_line(exc)}", file=sys.stderr)
        return 2
    if os.environ.get("LATENT_EXPLORER_DEBUG"):
        raise exc
    print(f"latent-explorer: {log_exception(exc)} (set LATENT_EXPLORER_DEBUG=1 for a traceback)",
          file=sys.stderr)
    return 1


def _launch_app(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="latent-explorer", add_help=False)
    parser.add_argument("checkpoint", nargs="?")
    parser.add_argument("--device", default="auto")
    args, _ = parser.parse_known_args(argv)
    try:
        app_main = importlib.import_module("explorer.app").main
    except ModuleNotFoundError as exc:
        print(f"latent-explorer: the app cannot start: {exc}", file=sys.stderr)
        return 1
    return int(app_main(args.checkpoint, device=args.device) or 0)


if __name__ == "__main__":
    sys.exit(main())

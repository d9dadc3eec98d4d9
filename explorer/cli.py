"""``latent-explorer``: the app, and headless subcommands that import no Qt.

    latent-explorer [FILE]                      open the app (on the bundled VAE by default)
    latent-explorer train {vae,gan} ...         train a model
    latent-explorer info FILE [--json]          show a checkpoint's metadata
    latent-explorer sample FILE -n 64 --out grid.png
    latent-explorer score [--model FILE] PATH...
    latent-explorer calibrate FILE
    latent-explorer prior FILE [--data fashion-mnist|FOLDER] [--epochs 30]
    latent-explorer interpolate FILE --from A --to B --steps N --out path.gif
    latent-explorer traverse FILE [--direction I|all] [--steps 9] --out sheet.png
    latent-explorer bench [--model FILE] [--json]
    latent-explorer map FILE [--data fashion-mnist|FOLDER] [--method pca|umap|tsne] --out map.png [--csv coords.csv]

Each subcommand lives in its own module under ``explorer.commands`` and is imported only when used,
so ``latent-explorer info`` starts without loading Qt.

The launcher does not guess: an argument that is neither a subcommand nor an existing file is an
error ("no such command or file"), and on a Linux machine without a display it says in one line what
to do instead of letting Qt abort (:func:`missing_display`).
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
    "sample": "Write a grid of samples (PNG, JPEG, WebP or GIF by --out's suffix).",
    "interpolate": "Interpolate between two images or seeds; write a GIF or a strip of frames.",
    "traverse": "Sweep latent directions over ±3σ around a base code; write the traversal sheet.",
    "score": "Likelihood (nats, bits/dim) and an OOD verdict for images, folders or .npy arrays.",
    "calibrate": "Recompute a checkpoint's OOD calibration on held-out in-distribution data.",
    "prior": "Fit a learned prior to a VAE's codes (samples from where images are); rewrites FILE.",
    "bench": "Measure live rendering offscreen: decode, frame latency, bursts, startup, memory.",
    "export": "Write a checkpoint as a torch.export (.pt2) or ONNX decoder + encoder with a manifest.",
    "map": "Map a data set's codes in 2-D (PCA, UMAP or t-SNE): a picture and a CSV of coordinates.",
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


#: Qt platform plugins that need no window system (QT_QPA_PLATFORM); with one of these no display is needed
HEADLESS_QPA = {"offscreen", "minimal", "minimalegl", "vnc", "eglfs", "linuxfb", "vkkhrdisplay", "directfb",
                "webgl"}


def missing_display(environ=os.environ, platform: str = sys.platform) -> bool:
    """True when the app could not open a window: on Linux and other X11/Wayland systems, neither
    ``DISPLAY`` nor ``WAYLAND_DISPLAY`` is set and ``QT_QPA_PLATFORM`` names no plugin that works
    without one (offscreen, minimal, vnc, eglfs, ...).  Windows and macOS always have a display."""
    if platform.startswith(("win", "darwin", "cygwin")):
        return False
    if environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"):
        return False
    plugins = {p.split(":")[0].strip().lower() for p in environ.get("QT_QPA_PLATFORM", "").split(";")}
    return not (plugins & HEADLESS_QPA)


def _commands_hint() -> str:
    return ", ".join(COMMANDS)


def _launcher_error(message: str) -> int:
    from .errors import one_line

    print(f"latent-explorer: error: {one_line(message)}", file=sys.stderr)
    return 2


def _launch_app(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="latent-explorer", usage="latent-explorer [CHECKPOINT] [--device DEV] | latent-explorer COMMAND ...",
        description="Open the app (on the bundled VAE when no checkpoint is given).")
    parser.add_argument("checkpoint", nargs="?")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    if args.checkpoint is not None and not os.path.exists(args.checkpoint):
        import difflib

        from .errors import one_line

        close = difflib.get_close_matches(args.checkpoint, COMMANDS, n=1)
        print(f"latent-explorer: error: no such command or file: {one_line(args.checkpoint)}", file=sys.stderr)
        print(("did you mean " + repr(close[0]) + "? " if close else "")
              + f"commands: {_commands_hint()} (latent-explorer --help); or give a checkpoint file to "
              "open it in the app", file=sys.stderr)
        return 2
    if missing_display():
        return _launcher_error(
            "no display to open the app on (DISPLAY and WAYLAND_DISPLAY are not set): run it on a desktop, "
            "under a virtual display (xvfb-run latent-explorer), or use a headless command: "
            f"{_commands_hint()}")
    try:
        app_main = importlib.import_module("explorer.app").main
    except ModuleNotFoundError as exc:
        print(f"latent-explorer: the app cannot start: {exc}", file=sys.stderr)
        return 1
    return int(app_main(args.checkpoint, device=args.device) or 0)


if __name__ == "__main__":
    sys.exit(main())

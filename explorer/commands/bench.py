"""latent-explorer bench [--model FILE] [--device DEV] [--json]

Measures the app's live rendering offscreen (see :mod:`explorer.app.bench` for each field).  This
module imports no Qt at import time: the app is imported inside :func:`run`.
"""
from __future__ import annotations

import argparse
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", metavar="FILE", help="checkpoint to measure (default: the bundled VAE)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N, mps or auto (default)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object: decode_ms_p50, frame_ms_p50, frame_ms_p95, burst_events, "
                        "burst_frames_rendered, burst_last_frame_ms, import_torch_s, time_to_window_ms, startup_s, "
                        "rss_growth_mb_10k, device, model")
    p.add_argument("--quick", action="store_true", help=argparse.SUPPRESS)  # small counts, for tests


def run(args: argparse.Namespace) -> int:
    from explorer.app import bench

    counts = dict(frames=30, burst=200, rss_events=1000) if args.quick else {}
    progress = None if args.json else (lambda m: print(f"  … {m}", file=sys.stderr, flush=True))
    result = bench.run_bench(args.model, args.device, progress=progress, **counts)
    print(bench.main_json(result) if args.json else bench.report(result))
    return 0

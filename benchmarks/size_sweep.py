"""What image size costs the live view: untrained VAE decoders at 28, 64, 128 and 256 px, grey and RGB.

    python benchmarks/size_sweep.py [--frames 60] [--sizes 28 64 128 256] [--json out.json]

For each shape (C, S, S) a VAE with untrained weights (the cost of a decode does not depend on the
weights) is saved to a temporary checkpoint and opened in the real window, offscreen, exactly as
``latent-explorer bench`` does (:mod:`explorer.app.bench`), and measured:

* ``decode_ms``: batch-1 ``model.decode`` + copy to host, median;
* ``paint_ms``: the canvas's ``set_image`` + a repaint of its view, median (the paint path: RGB32 for
  grey and colour alike, scaled by the view);
* ``frame_p95`` / ``frame_p50``: a latent slider set -> the new pixels painted, with every dock open
  (what a user with the default layout gets; ``--docks-frames`` moves, fewer: slow at large sizes);
* ``canvas_p95``: the same with the other docks hidden, so only the render path remains;
* ``budget``: 2 x (decode + paint), the issue's target for ``frame_p95``.

Ratios within one run are what to compare (the machine's load moves absolute numbers); the header
prints the hardware (``platform.processor()``, CPU count, torch threads).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SIZES = (28, 64, 128, 256)


def _open(win, drv, path: Path) -> None:
    loaded_ok: list[tuple[bool, str]] = []
    win.model_load_finished.connect(lambda ok, msg: loaded_ok.append((ok, msg)))
    win.open_model(path)
    drv.spin_until(lambda: bool(loaded_ok), 600, "the model to load")
    win.model_load_finished.disconnect()
    if not loaded_ok[0][0]:
        raise RuntimeError(loaded_ok[0][1])
    drv.wait_painted()


def _frames(win, drv, n: int) -> list[float]:
    from explorer.app.bench import _values

    sliders = win.latent_dock.sliders[:8]
    lat = []
    for i, v in enumerate(_values(n + 10)):
        t0 = time.perf_counter()
        sliders[i % len(sliders)].setValue(v)
        lat.append((drv.wait_painted(timeout_s=600) - t0) * 1000.0)
    return lat[10:]


def measure(win, drv, shape: tuple[int, int, int], frames: int, tmp: Path, docks_frames: int) -> dict:
    import numpy as np
    import torch

    import models
    from explorer.app.bench import _percentile, _settle
    from models.vae import VAEModel

    torch.manual_seed(0)
    path = tmp / f"vae-{'x'.join(map(str, shape))}.safetensors"
    models.save(VAEModel.build({"image_shape": list(shape), "latent_dim": 16},
                               metadata={"name": f"untrained VAE {shape}"}), path)
    _open(win, drv, path)
    _settle(drv, lambda _m: None, timeout_s=900)   # the latent map of a large model takes a while
    m = win.state.loaded.model
    zs = torch.randn(frames + 10, m.latent_dim, generator=torch.Generator().manual_seed(0))
    dec = []
    with torch.no_grad():
        for i in range(len(zs)):
            t0 = time.perf_counter()
            m.decode(zs[i:i + 1]).cpu()
            dec.append((time.perf_counter() - t0) * 1000.0)
    img = win.canvas.image().copy()
    paint = []
    for i in range(60):
        frame = (img + i).astype(np.uint8)
        t0 = time.perf_counter()
        win.canvas.image_item.setImage(frame, autoLevels=False)
        win.canvas.view.viewport().repaint()
        paint.append((time.perf_counter() - t0) * 1000.0)
    win.canvas.image_item.setImage(win.canvas.image(), autoLevels=False)
    all_docks = _frames(win, drv, docks_frames)
    from PySide6.QtWidgets import QDockWidget

    others = [d for d in win.findChildren(QDockWidget) if d is not win.latent_dock and d.isVisible()]
    for d in others:
        d.hide()
    _settle(drv, lambda _m: None)
    canvas_only = _frames(win, drv, frames)
    for d in others:
        d.show()
    decode_ms, paint_ms = statistics.median(dec[10:]), statistics.median(paint[10:])
    return {"shape": "x".join(map(str, shape)), "decode_ms": decode_ms, "paint_ms": paint_ms,
            "frame_p50": _percentile(all_docks, 50), "frame_p95": _percentile(all_docks, 95),
            "canvas_p95": _percentile(canvas_only, 95), "budget": 2 * (decode_ms + paint_ms)}


def hardware() -> str:
    import torch

    return (f"{platform.processor() or platform.machine()} ({os.cpu_count()} CPUs), torch {torch.__version__} "
            f"with {torch.get_num_threads()} threads, Python {platform.python_version()}, Qt offscreen")


def table(rows: list[dict]) -> str:
    base = rows[0]
    lines = [f"{'shape':>10}  {'decode ms':>9}  {'paint ms':>8}  {'frame p50':>9}  {'frame p95':>9}  "
             f"{'canvas p95':>10}  {'2x(dec+paint)':>13}  {'decode x':>8}  {'paint x':>7}"]
    for r in rows:
        lines.append(f"{r['shape']:>10}  {r['decode_ms']:9.2f}  {r['paint_ms']:8.2f}  {r['frame_p50']:9.2f}  "
                     f"{r['frame_p95']:9.2f}  {r['canvas_p95']:10.2f}  {r['budget']:13.2f}  "
                     f"{r['decode_ms'] / base['decode_ms']:8.1f}  {r['paint_ms'] / base['paint_ms']:7.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    p.add_argument("--channels", type=int, nargs="+", default=[1, 3])
    p.add_argument("--frames", type=int, default=60, help="slider moves measured per shape and mode")
    p.add_argument("--docks-frames", type=int, default=10,
                   help="slider moves measured with every dock open (slow at large sizes; default 10)")
    p.add_argument("--json", default=None, help="also write the rows as JSON here")
    args = p.parse_args(argv)
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from explorer.app.bench import _Driver, _quiet_offscreen_warnings
    from explorer.app.main_window import MainWindow

    app = QApplication.instance() or QApplication([sys.argv[0]])
    _quiet_offscreen_warnings()
    print(hardware(), flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        win = MainWindow(settings=QSettings(str(Path(tmp) / "s.ini"), QSettings.Format.IniFormat), device="cpu")
        win.resize(1100, 720)
        win.show()
        drv = _Driver(win, app)
        try:
            for c in args.channels:
                for s in args.sizes:
                    rows.append(measure(win, drv, (c, s, s), args.frames, Path(tmp), args.docks_frames))
                    print(f"  measured {rows[-1]['shape']}", file=sys.stderr, flush=True)
        finally:
            drv.stop()
            win.close()
            win.executor.stop()
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps({"hardware": hardware(), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

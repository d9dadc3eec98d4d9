"""The latent map at data-set scale: how long the headless map takes, and pan/zoom frame times in a window.

    xvfb-run -s "-screen 0 1400x900x24" .venv/bin/python benchmarks/map_scale.py [--model FILE] [--points 60000]
             [--frames 300] [--per-class-items] [--per-point-brushes] [--json] [--screenshot docs/map-umap.png [--shot-method umap]]

1. **Codes**: the Fashion-MNIST training images (the first ``--points``) are encoded by the model,
   or read from its map cache (:mod:`models.map_cache`; ``--no-cache`` encodes afresh), and projected
   with PCA; the time of each step is printed.
2. **Frames**: the app's map widget (:class:`explorer.app.latent_map.LatentMapWidget`, coloured by
   class: one scatter item per class) shows them in a 1200x800 top-level window -- a real X window
   when ``DISPLAY`` is set (the xcb platform, e.g. under ``xvfb-run``), else offscreen.  Then
   ``--frames`` view changes, alternating pans (2% of the range) and zooms (x0.97 / x1.03): each
   frame is timed from the range change through ``processEvents`` and a synchronous
   ``viewport().repaint()`` (what the user waits for), and p50 / p95 / max are printed with the
   platform, the CPU and the load average.  ``--per-class-items`` and ``--per-point-brushes`` also
   time the alternatives (one scatter item per class with one brush each; the old way, one item
   with a brush per point) for comparison; ``--app`` times the same in the whole app window (the map
   dock of a 1400x880 main window, the bundled VAE open, all 60,000 training images).

3. ``--screenshot FILE``: the same widget, now showing the ``--shot-method`` (UMAP) map of the same
   images coloured by class (the embedding from the map cache, computed first when absent: minutes
   for 60,000 points), grabbed from the window into FILE -- the README's picture.

Figures go to stdout (``--json`` for one JSON object).  Measured numbers belong in the README with
the command that made them.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
if not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
else:
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")

import numpy as np


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def build_map(model_path: str, points: int, cache: bool) -> tuple[object, dict]:
    import models
    from models.latent_map import build

    t0 = time.perf_counter()
    model = models.load(model_path, device="cpu")
    t1 = time.perf_counter()
    lm = build(model, method="pca", data="fashion-mnist", split="train",
               max_images=points if points < 60_000 else None, cache=cache)
    t2 = time.perf_counter()
    return lm, {"load_s": round(t1 - t0, 3), "codes_and_pca_s": round(t2 - t1, 3), "points": len(lm),
                "codes_from_cache": bool(lm.cached)}


def time_frames(app, widget, frames: int, counted: list | None = None) -> np.ndarray:
    """Each frame: a pan or zoom, then the event loop until the view has painted it once."""
    vb = widget.viewbox
    times = []
    counted = [] if counted is None else counted
    raster = widget.points.raster
    for k in range(frames):
        (x0, x1), (y0, y1) = vb.viewRange()
        t = time.perf_counter()
        if k % 2 == 0:
            sign = 1 if (k // 2) % 20 < 10 else -1
            vb.translateBy(x=sign * 0.02 * (x1 - x0), y=sign * 0.01 * (y1 - y0))
        else:
            f = 0.97 if (k // 2) % 20 < 10 else 1 / 0.97
            vb.scaleBy((f, f))
        before = raster.paints
        app.processEvents()                       # the queued update: layout, one paint, flush
        if raster.paints == before:                   # (not painted yet: paint now, synchronously)
            widget.plot.viewport().repaint()
        times.append(time.perf_counter() - t)
        counted.append(raster.paints - before)
    return np.array(times) * 1000.0


def per_point_brushes(app, widget, lm, frames: int) -> dict:
    """The old drawing: one scatter item with a brush per point."""
    import pyqtgraph as pg

    from models.map_picture import class_colour

    widget.points.clear()
    t = time.perf_counter()
    item = pg.ScatterPlotItem(size=4, pen=None)
    brushes = [pg.mkBrush(*class_colour(int(c)), 210) for c in lm.labels]
    item.setData(pos=lm.xy, brush=brushes)
    widget.plot.addItem(item)
    app.processEvents()
    widget.plot.viewport().repaint()
    first = time.perf_counter() - t
    ms = time_frames(app, widget, frames)
    widget.plot.removeItem(item)
    return {"first_paint_s": round(first, 3), **stats(ms)}


def per_class_items(app, widget, lm, frames: int) -> dict:
    """The first try: one scatter item per class, each with a single brush (pxMode, no pen)."""
    import pyqtgraph as pg

    from models.map_picture import class_colour

    widget.points.clear()
    t = time.perf_counter()
    items = []
    for c in np.unique(lm.labels):
        it = pg.ScatterPlotItem(pos=lm.xy[lm.labels == c], size=4, pen=None,
                                brush=pg.mkBrush(*class_colour(int(c)), 210), pxMode=True)
        widget.plot.addItem(it)
        items.append(it)
    app.processEvents()
    widget.plot.viewport().repaint()
    first = time.perf_counter() - t
    ms = time_frames(app, widget, frames)
    for it in items:
        widget.plot.removeItem(it)
    return {"first_paint_s": round(first, 3), **stats(ms)}


def stats(ms: np.ndarray) -> dict:
    return {"frames": len(ms), "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p95_ms": round(float(np.percentile(ms, 95)), 2), "max_ms": round(float(ms.max()), 2)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=str(ROOT / "assets" / "vae-fmnist.safetensors"))
    p.add_argument("--points", type=int, default=60_000)
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--no-cache", action="store_true")
    p.add_argument("--per-point-brushes", action="store_true")
    p.add_argument("--per-class-items", action="store_true")
    p.add_argument("--app", action="store_true",
                   help="also time the map inside the whole app window (1400x880, the map dock raised)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--screenshot", default=None, metavar="FILE")
    p.add_argument("--shot-method", default="umap", choices=("pca", "umap", "tsne"))
    args = p.parse_args(argv)

    lm, out = build_map(args.model, args.points, not args.no_cache)
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from explorer.app.latent_map import LatentMapWidget

    class _NoExecutor:
        def cancel(self, key): pass

    widget = LatentMapWidget(_NoExecutor())
    widget.resize(1200, 800)
    widget.show()
    app.processEvents()
    t = time.perf_counter()
    widget._set_map(lm, ([], np.zeros((0, lm.z.shape[1]), np.float32)))
    app.processEvents()
    widget.plot.viewport().repaint()
    out["first_paint_s"] = round(time.perf_counter() - t, 3)
    for _ in range(10):                 # warm caches (symbol atlas, fonts)
        time_frames(app, widget, 2)
    counted: list = []
    out["grouped"] = stats(time_frames(app, widget, args.frames, counted))
    out["grouped"]["paints_per_frame"] = round(float(np.mean(counted)), 2)
    if args.per_class_items:
        out["per_class_items"] = per_class_items(app, widget, lm, args.frames)
    if args.per_point_brushes:
        out["per_point_brushes"] = per_point_brushes(app, widget, lm, args.frames)
    out.update(platform=app.platformName(), screen=f"{app.primaryScreen().size().width()}x"
               f"{app.primaryScreen().size().height()}", window="1200x800", cpu=cpu_name(),
               cores=os.cpu_count(), load_avg=[round(v, 2) for v in os.getloadavg()])
    if args.json:
        print(json.dumps(out))
    else:
        g = out["grouped"]
        print(f"{out['points']:,} points (codes {'from the map cache' if out['codes_from_cache'] else 'encoded'}"
              f" + PCA in {out['codes_and_pca_s']} s; model load {out['load_s']} s)")
        print(f"platform {out['platform']} ({out['screen']} screen, {out['window']} window), {out['cpu']}, "
              f"{out['cores']} cores, load average {out['load_avg']}")
        print(f"first paint (colour the points + paint): {out['first_paint_s']} s")
        print(f"pan/zoom, points rasterised per paint: p50 {g['p50_ms']} ms, p95 {g['p95_ms']} ms, "
              f"max {g['max_ms']} ms over {g['frames']} frames ({g['paints_per_frame']} paints a frame)")
        if "per_class_items" in out:
            b = out["per_class_items"]
            print(f"pan/zoom, one scatter item per class: first paint {b['first_paint_s']} s, "
                  f"p50 {b['p50_ms']} ms, p95 {b['p95_ms']} ms, max {b['max_ms']} ms")
        if "per_point_brushes" in out:
            b = out["per_point_brushes"]
            print(f"pan/zoom, one brush per point (the old way): first paint {b['first_paint_s']} s, "
                  f"p50 {b['p50_ms']} ms, p95 {b['p95_ms']} ms, max {b['max_ms']} ms")
    if args.app:
        out["in_app"] = in_app(app, args)
        a = out["in_app"]
        if not args.json:
            print(f"in the app window ({a['map_area']} map area): p50 {a['p50_ms']} ms, p95 {a['p95_ms']} ms, "
                  f"max {a['max_ms']} ms over {a['frames']} frames ({a['paints_per_frame']} paints a frame)")
    if args.screenshot:
        screenshot(app, widget, args, out)
    widget.close()
    return 0


def in_app(app, args) -> dict:
    """The same pans and zooms on the map dock of the whole app (the bundled-size window), with the
    map of all the training images (the window's remembered image set, from the map cache)."""
    import tempfile

    from PySide6.QtCore import QSettings

    from explorer.app.main_window import MainWindow

    ini = Path(tempfile.mkdtemp()) / "settings.ini"
    ini.write_text("[map]\ndata=fashion-mnist/train\n")
    win = MainWindow(settings=QSettings(str(ini), QSettings.Format.IniFormat), device="cpu")
    win.resize(1400, 880)
    win.show()
    win.open_model(args.model)
    win.map_dock.raise_()
    panel = win.map_dock.panel
    start = time.perf_counter()
    while (panel.map is None or len(panel.map) < 60_000) and time.perf_counter() - start < 600:
        app.processEvents()
        time.sleep(0.02)
    for _ in range(10):
        time_frames(app, panel, 2)
    counted: list = []
    res = stats(time_frames(app, panel, args.frames, counted))
    res.update(paints_per_frame=round(float(np.mean(counted)), 2), points=len(panel.map),
               map_area=f"{panel.plot.width()}x{panel.plot.height()}")
    win.close()
    return res


def screenshot(app, widget, args, out: dict) -> None:
    """The map of the same images by ``--shot-method``, coloured by class, saved from the window."""
    import models
    from models.latent_map import build

    model = models.load(args.model, device="cpu")
    t = time.perf_counter()
    lm = build(model, method=args.shot_method, data="fashion-mnist", split="train",
               max_images=args.points if args.points < 60_000 else None)
    out["screenshot_map_s"] = round(time.perf_counter() - t, 2)
    bar = widget.toolbar
    for combo in (bar.projection, bar.data):
        combo.blockSignals(True)
    bar.set_model_kind(True)
    bar.data.setCurrentIndex(next(i for i in range(bar.data.count())
                                  if bar.data.itemData(i) == ("fashion-mnist", "train")))
    bar.set_method(args.shot_method)
    for combo in (bar.projection, bar.data):
        combo.blockSignals(False)
    dirs = model.directions()[:6]
    widget._set_map(lm, ([f"{d.name} ({d.label})" for d in dirs],
                         np.stack([d.vector.float().numpy() for d in dirs])))
    widget.set_current_z(lm.z[int(np.flatnonzero(lm.labels == 1)[0])])   # the star: on a trouser
    for _ in range(5):
        app.processEvents()
        time.sleep(0.05)
    widget.grab().save(args.screenshot)
    print(f"wrote {args.screenshot} ({len(lm):,} points, {args.shot_method}; map made in "
          f"{out['screenshot_map_s']} s{' from the cache' if lm.cached else ''})")


if __name__ == "__main__":
    sys.exit(main())

"""``latent-explorer bench``: how fast the real window follows its sliders, measured offscreen.

Everything is measured through the app itself: a :class:`MainWindow` (with every dock it installs)
is shown on Qt's offscreen platform, its latent dock's sliders are moved with ``setValue`` exactly as
a drag would, and a frame counts as shown when the image item has *painted* the new pixels.

Fields (``--json`` prints exactly these, plus ``device`` and ``model``):

=======================  ======================================================================
decode_ms_p50            raw batch-1 ``model.decode`` + copy to host, median of 200
frame_ms_p50 / _p95      slider value set -> new pixels painted by the image item, 200 moves
burst_events             slider events fired by a 1 ms timer (about 1 kHz)
burst_frames_rendered    frames the worker rendered for them (the rest were stale and dropped)
burst_last_frame_ms      from the burst's last event to its frame painted
import_torch_s           ``import torch`` alone, in a fresh interpreter
time_to_window_ms        ``latent-explorer MODEL`` process start -> its main window first painted
startup_s                ``latent-explorer MODEL`` process start -> first frame painted
rss_growth_mb_10k        resident memory growth over 10,000 slider events (after 500 to warm up)
=======================  ======================================================================

``import_torch_s``, ``time_to_window_ms`` and ``startup_s`` are measured in subprocesses, each twice, best
taken; the last two in the same runs of ``latent-explorer MODEL`` (the console script when it is installed
beside this Python, else ``python -m explorer``) with its start-up probe
(:mod:`explorer.app.startup_probe`) on Qt's offscreen platform.
"""
from __future__ import annotations

import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

FIELDS = ("decode_ms_p50", "frame_ms_p50", "frame_ms_p95", "burst_events", "burst_frames_rendered",
          "burst_last_frame_ms", "import_torch_s", "time_to_window_ms", "startup_s", "rss_growth_mb_10k")


def _percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * q / 100.0
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def rss_bytes() -> int:
    """Resident set size of this process now (Linux /proc; elsewhere the peak from getrusage)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


# ---------------------------------------------------------------------------------------------- subprocesses
def measure_import_torch_s(repeats: int = 2) -> float:
    code = "import time; t = time.perf_counter(); import torch; print(time.perf_counter() - t)"
    times = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                             check=True)
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return min(times)


def _app_command(model: Path, device: str) -> list[str]:
    """``latent-explorer MODEL --device DEV`` as a user starts it."""
    script = Path(sys.executable).with_name("latent-explorer")
    launcher = [str(script)] if script.exists() else [sys.executable, "-m", "explorer"]
    return [*launcher, str(model), "--device", device]


def measure_startup(model: Path, device: str, repeats: int = 2) -> dict[str, float]:
    """Wall times from spawning ``latent-explorer MODEL`` (offscreen) to its main window first painted
    (``time_to_window_ms``) and to its first frame painted (``startup_s``), each the best of ``repeats``."""
    from . import STARTUP_PROBE_ENV

    window, frame = [], []
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", **{STARTUP_PROBE_ENV: "1"},
                   LATENT_EXPLORER_SETTINGS=str(Path(tmp) / "settings.ini"))
        for _ in range(repeats):
            t0 = time.time()
            out = subprocess.run(_app_command(model, device), capture_output=True, text=True, timeout=300,
                                 env=env)
            seen = {ln.split()[0]: float(ln.split()[1]) for ln in out.stdout.splitlines()
                    if ln.startswith(("window-painted ", "first-frame "))}
            if "first-frame" not in seen or "window-painted" not in seen:
                raise RuntimeError(f"the app did not show a first frame (exit {out.returncode}): "
                                   f"{(out.stderr or out.stdout).strip()[-500:]}")
            window.append((seen["window-painted"] - t0) * 1000.0)
            frame.append(seen["first-frame"] - t0)
    return {"time_to_window_ms": min(window), "startup_s": min(frame)}


# ---------------------------------------------------------------------------------------------- in process
class _Driver:
    """Drives a shown MainWindow and waits on its canvas."""

    def __init__(self, win, app) -> None:
        from PySide6.QtCore import QTimer

        self.win, self.app = win, app
        self._heartbeat = QTimer()          # guarantees WaitForMoreEvents wakes up
        self._heartbeat.setInterval(20)
        self._heartbeat.start()

    def spin_until(self, pred: Callable[[], bool], timeout_s: float = 60.0, what: str = "") -> None:
        from PySide6.QtCore import QEventLoop

        deadline = time.perf_counter() + timeout_s
        while not pred():
            if time.perf_counter() > deadline:
                raise TimeoutError(f"bench: timed out waiting for {what or 'the app'}")
            self.app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)

    def painted_current(self) -> bool:
        c = self.win.canvas
        return c._painted_token == self.win.state.token

    def wait_painted(self, timeout_s: float = 60.0) -> float:
        self.spin_until(self.painted_current, timeout_s, "a frame to be painted")
        return self.win.canvas.painted_at

    def stop(self) -> None:
        self._heartbeat.stop()


def _quiet_offscreen_warnings() -> None:
    """The offscreen platform warns that it "does not support propagateSizeHints()" on every window;
    drop that one line, pass everything else on."""
    from PySide6.QtCore import qInstallMessageHandler

    previous = None

    def handler(mode, context, message):
        if "propagateSizeHints" in message:
            return
        if previous is not None:
            previous(mode, context, message)
        else:
            sys.stderr.write(message + "\n")

    previous = qInstallMessageHandler(handler)


def _settle(drv: _Driver, say: Callable[[str], None], timeout_s: float = 120.0) -> None:
    """Wait until the panels' one-off background work after a model load (e.g. the latent map
    encoding its images) is done, so that what follows measures dragging, not loading."""
    say("waiting for the panels' background work to finish …")
    t0 = time.perf_counter()
    drv.spin_until(lambda: drv.win.executor.is_idle() or time.perf_counter() - t0 > timeout_s,
                   timeout_s + 10, "background work")
    t1 = time.perf_counter()
    drv.spin_until(lambda: time.perf_counter() - t1 > 0.5, 5, "the window to settle")


def _values(n: int, lo: float = -2.9, hi: float = 2.9):
    """``n`` slider values, each different from the one before (the slider shows 2 decimals)."""
    span = int(round((hi - lo) * 100))
    for i in range(n):
        yield lo + ((i * 37) % span) / 100.0 + (0.01 if i % 2 else 0.0)


def run_bench(model: str | os.PathLike | None = None, device: str = "auto", *, frames: int = 200,
              burst: int = 1000, rss_events: int = 10_000, startup: bool = True,
              progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    say = progress or (lambda _m: None)
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    tmp = tempfile.TemporaryDirectory()
    os.environ.setdefault("LATENT_EXPLORER_SETTINGS", str(Path(tmp.name) / "settings.ini"))
    if model is None:
        from . import default_checkpoint

        model = default_checkpoint()
        if model is None:
            raise ValueError("no bundled model in assets/ yet: pass --model FILE")
    model = Path(model)
    if not model.exists():
        raise FileNotFoundError(f"{model}: no such file")

    result: dict[str, Any] = {}
    if startup:
        say("import torch, in a fresh interpreter …")
        result["import_torch_s"] = measure_import_torch_s()
        say("startup: process start -> window painted, first frame painted …")
        result.update(measure_startup(model, device))

    import torch
    from PySide6.QtCore import QSettings, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow

    app = QApplication.instance() or QApplication([sys.argv[0]])
    _quiet_offscreen_warnings()
    settings = QSettings(str(Path(tmp.name) / "bench.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings=settings, device=device)
    win.resize(1100, 720)
    win.show()
    drv = _Driver(win, app)
    try:
        loaded_ok: list[tuple[bool, str]] = []
        win.model_load_finished.connect(lambda ok, msg: loaded_ok.append((ok, msg)))
        say(f"opening {model} …")
        win.open_model(model)
        drv.spin_until(lambda: bool(loaded_ok), 600, "the model to load")
        if not loaded_ok[0][0]:
            raise ValueError(loaded_ok[0][1])
        drv.wait_painted()
        _settle(drv, say)
        loaded = win.state.loaded
        m = loaded.model
        sliders = [s for s in win.latent_dock.sliders[:8]]
        result["device"] = str(m.device)
        result["model"] = f"{loaded.name} ({model.name})"

        # ---- raw decode (the worker is idle; nothing else decodes now)
        say("decode …")
        drv.spin_until(win.executor.is_idle, 60, "the worker to be idle")
        gen = torch.Generator().manual_seed(0)
        zs = torch.randn(frames + 20, m.latent_dim, generator=gen).to(m.device)
        dec = []
        for i in range(frames + 20):
            t0 = time.perf_counter()
            m.decode(zs[i:i + 1]).cpu()
            dec.append((time.perf_counter() - t0) * 1000.0)
        result["decode_ms_p50"] = statistics.median(dec[20:])

        # ---- setImage + repaint of the canvas, for the target (not a --json field)
        img = win.canvas.image().copy()
        paint = []
        for i in range(120):
            frame = (img + i).astype(img.dtype)
            t0 = time.perf_counter()
            win.canvas.image_item.setImage(frame, autoLevels=False)
            win.canvas.view.viewport().repaint()
            paint.append((time.perf_counter() - t0) * 1000.0)
        win.canvas.image_item.setImage(win.canvas.image(), autoLevels=False)
        result["_paint_ms_p50"] = statistics.median(paint[20:])

        # ---- frame latency: one slider move at a time
        say("frame latency …")
        lat = []
        for i, v in enumerate(_values(frames + 20)):
            s = sliders[i % len(sliders)]
            t0 = time.perf_counter()
            s.setValue(v)
            lat.append((drv.wait_painted() - t0) * 1000.0)
        lat = lat[20:]
        result["frame_ms_p50"] = _percentile(lat, 50)
        result["frame_ms_p95"] = _percentile(lat, 95)

        # ---- burst: 1000 events from a 1 ms timer
        say("burst …")
        s = sliders[0]
        vals = list(_values(burst))
        state = {"i": 0, "t_last": 0.0, "token_last": 0}
        rendered0 = win.executor.frames_rendered
        timer = QTimer()
        timer.setTimerType(Qt.TimerType.PreciseTimer)
        timer.setInterval(1)

        def tick() -> None:
            i = state["i"]
            if i >= burst:
                timer.stop()
                return
            s.setValue(vals[i])
            state["i"] = i + 1
            state["t_last"] = time.perf_counter()
            state["token_last"] = win.state.token

        timer.timeout.connect(tick)
        t_start = time.perf_counter()
        timer.start()
        drv.spin_until(lambda: state["i"] >= burst, 120, "the burst")
        t_end = state["t_last"]
        drv.spin_until(lambda: win.canvas._painted_token >= state["token_last"], 60, "the burst's last frame")
        result["burst_events"] = state["i"]
        result["burst_frames_rendered"] = win.executor.frames_rendered - rendered0
        result["burst_last_frame_ms"] = (win.canvas.painted_at - t_end) * 1000.0
        result["_burst_rate_hz"] = burst / max(1e-9, t_end - t_start)
        assert win.state.values[0] == float(vals[-1]) or abs(win.state.values[0] - vals[-1]) < 0.011

        # ---- memory over 10k slider events
        say(f"memory over {rss_events} events …")
        s = sliders[1 % len(sliders)]
        for v in _values(500):
            s.setValue(v)
            app.processEvents()
        drv.wait_painted()
        gc.collect()
        rss0 = rss_bytes()
        for i, v in enumerate(_values(rss_events)):
            s.setValue(v)
            app.processEvents()
        drv.wait_painted()
        gc.collect()
        app.processEvents()
        result["rss_growth_mb_10k"] = (rss_bytes() - rss0) / 2**20
        result["_rss_mb"] = rss_bytes() / 2**20
    finally:
        drv.stop()
        win.close()
        win.executor.stop()
        tmp.cleanup()
    return result


def public_fields(result: dict[str, Any]) -> dict[str, Any]:
    """Exactly the documented fields, plus device and model (what ``--json`` prints)."""
    out = {k: result.get(k) for k in FIELDS}
    out["device"] = result.get("device")
    out["model"] = result.get("model")
    for k, v in out.items():
        if isinstance(v, float):
            out[k] = round(v, 4)
    return out


def report(result: dict[str, Any]) -> str:
    """The human-readable table, with the issue's targets checked."""
    r = result
    paint = r.get("_paint_ms_p50", float("nan"))
    budget = 2 * (r["decode_ms_p50"] + paint)

    def ok(flag: bool) -> str:
        return "ok" if flag else "MISSED"

    lines = [f"model {r['model']}  device {r['device']}  (offscreen)",
             f"  decode_ms_p50           {r['decode_ms_p50']:8.2f}",
             f"  paint_ms_p50            {paint:8.2f}   setImage + repaint of the view (not a --json field)",
             f"  frame_ms_p50            {r['frame_ms_p50']:8.2f}",
             f"  frame_ms_p95            {r['frame_ms_p95']:8.2f}   target <= 2 x (decode + paint) = {budget:.2f}"
             f"   {ok(r['frame_ms_p95'] <= budget)}",
             f"  burst_events            {r['burst_events']:8d}   at {r.get('_burst_rate_hz', 0):.0f} Hz",
             f"  burst_frames_rendered   {r['burst_frames_rendered']:8d}",
             f"  burst_last_frame_ms     {r['burst_last_frame_ms']:8.2f}   target <= 50"
             f"   {ok(r['burst_last_frame_ms'] <= 50)}"]
    if "startup_s" in r:
        lines += [f"  import_torch_s          {r['import_torch_s']:8.2f}"]
        if "time_to_window_ms" in r:
            lines.append(f"  time_to_window_ms       {r['time_to_window_ms']:8.0f}   "
                         f"= {r['time_to_window_ms'] / 1000 / r['import_torch_s']:.2f} x import_torch_s; "
                         f"{r['time_to_window_ms'] / 1000 / r['startup_s']:.2f} x startup_s")
        lines.append(f"  startup_s               {r['startup_s']:8.2f}   target <= 1.5 x import_torch_s = "
                     f"{1.5 * r['import_torch_s']:.2f}   {ok(r['startup_s'] <= 1.5 * r['import_torch_s'])}")
    lines.append(f"  rss_growth_mb_10k       {r['rss_growth_mb_10k']:8.2f}   target < 20"
                 f"   {ok(r['rss_growth_mb_10k'] < 20)}")
    return "\n".join(lines)


def main_json(result: dict[str, Any]) -> str:
    return json.dumps(public_fields(result), indent=2)

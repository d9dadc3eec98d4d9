"""The model executor: one thread owns every call into the model; device moves are jobs like any other."""
from __future__ import annotations

import threading
import time

import numpy as np

from app_helpers import expected_pixels, wait_for_frame
from models.bundled_data import SAMPLES_DIR
from panel_helpers import slow_scoring


def test_a_device_move_asked_for_during_a_long_scoring_job_waits_for_it_and_the_next_frame_is_right(
        make_window, tiny_vae_path, qtbot, monkeypatch):
    from explorer.app import score_panel as sp

    win = make_window(tiny_vae_path)
    model = win.state.model
    events: list[str] = []
    slow_scoring(monkeypatch, ticks=60)                   # about 0.6 s of checkpoints
    slow = sp.analyse

    def recorded(m, item, job, report):
        events.append("score start")
        try:
            return slow(m, item, job, report)
        finally:
            events.append("score end")
    monkeypatch.setattr(sp, "analyse", recorded)
    real_to = model.to

    def to(device):
        from PySide6.QtCore import QThread

        events.append(f"move {device} on {QThread.currentThread().objectName()}")
        return real_to(device)
    monkeypatch.setattr(model, "to", to)

    [item] = win.score_dock.panel.add_files([SAMPLES_DIR / "bag.png"])
    qtbot.waitUntil(lambda: "score start" in events, timeout=30_000)
    win.move_to_device("cpu")
    win.latent_dock.sliders[0].setValue(2.0)
    qtbot.waitUntil(lambda: item.status in ("done", "failed") and any(e.startswith("move") for e in events),
                    timeout=60_000)
    assert item.status == "done", item.error
    assert events[:3] == ["score start", "score end", "move cpu on model-executor"], events
    wait_for_frame(win, qtbot)              # (the scored image became the current point meanwhile)
    assert np.array_equal(win.canvas.image(), expected_pixels(win))


def test_frames_keep_coming_while_a_long_scoring_job_runs(make_window, tiny_vae_path, qtbot, monkeypatch):
    """The scoring job yields to a waiting frame at each checkpoint: the slider stays live."""
    win = make_window(tiny_vae_path)
    slow_scoring(monkeypatch, ticks=300)                  # about 3 s of checkpoints
    [item] = win.score_dock.panel.add_files([SAMPLES_DIR / "bag.png"])
    qtbot.waitUntil(lambda: item.status == "running", timeout=30_000)
    for v in (0.5, 1.0, 1.5):
        win.latent_dock.sliders[0].setValue(v)
        wait_for_frame(win, qtbot)
        assert np.array_equal(win.canvas.image(), expected_pixels(win))
    assert item.status == "running"                       # the frames did not wait for the job
    win.score_dock.panel.cancel()
    qtbot.waitUntil(win.executor.is_idle, timeout=30_000)
    assert item.status == "cancelled"


def test_newest_request_per_key_wins_and_lanes_are_served_by_priority(qtbot):
    from explorer.app.model_executor import ModelExecutor

    ex = ModelExecutor()
    gate, order = threading.Event(), []
    try:
        ex.submit("block", gate.wait)
        qtbot.waitUntil(lambda: not ex.pending_keys(), timeout=5_000)   # the blocker is running
        ex.submit("score:1", lambda: order.append("score 1"), lane="queue")
        ex.submit("map", lambda: order.append("map old"))
        ex.submit("map", lambda: order.append("map new"))               # replaces "map old"
        ex.submit("device", lambda: order.append("device"))
        gate.set()
        qtbot.waitUntil(lambda: ex.is_idle() and len(order) == 3, timeout=10_000)
        assert order == ["device", "map new", "score 1"]
    finally:
        ex.stop()


def _long_job(steps_total: int):
    """A job of ``steps_total`` 5 ms steps with a checkpoint before each: (fn, started, steps done)."""
    started, steps = threading.Event(), []

    def long(job):
        started.set()
        for i in range(steps_total):
            job.checkpoint()
            steps.append(i)
            time.sleep(0.005)
        return "finished"
    return long, started, steps


def test_a_cancelled_job_stops_at_its_next_checkpoint_and_never_reports(qtbot):
    from explorer.app.model_executor import ModelExecutor

    ex = ModelExecutor()
    long, started, steps = _long_job(500)
    results = []
    try:
        job = ex.submit("long", long, results.append, results.append, lane="queue", pass_job=True)
        assert started.wait(10)
        job.cancel()
        qtbot.waitUntil(ex.is_idle, timeout=10_000)
        qtbot.wait(50)
        assert results == [] and len(steps) < 500
    finally:
        ex.stop()


def test_stopping_the_executor_stops_a_long_running_job_at_its_next_checkpoint(qtbot):
    """Closing the window must not wait for a long job (a map of thousands of images) to finish."""
    from explorer.app.model_executor import ModelExecutor

    ex = ModelExecutor()
    long, started, steps = _long_job(2000)                 # 10 s if it ran to the end
    results = []
    ex.submit("long", long, results.append, results.append, lane="queue", pass_job=True)
    assert started.wait(10)
    assert ex.stop(timeout_ms=60_000) and ex.stopped_cleanly
    assert len(steps) < 2000 and results == []


def test_a_newer_request_with_supersede_stops_the_running_one_and_only_the_newest_reports(qtbot):
    from explorer.app.model_executor import ModelExecutor

    ex = ModelExecutor()
    started, results = threading.Event(), []

    def sheet(label):
        def job(handle):
            started.set()
            for _ in range(400):
                handle.checkpoint()
                time.sleep(0.005)
            return label
        return job

    try:
        ex.submit("sheet", sheet("old"), results.append, pass_job=True, supersede=True)
        assert started.wait(10)
        ex.submit("sheet", lambda handle: "new", results.append, pass_job=True, supersede=True)
        qtbot.waitUntil(lambda: ex.is_idle() and bool(results), timeout=10_000)
        qtbot.wait(50)
        assert results == ["new"]
    finally:
        ex.stop()


def test_no_callback_outlives_its_job_when_a_running_job_is_superseded_or_cancelled(qtbot):
    """A superseded or cancelled job's callbacks (and the model they capture) are let go of: a leak
    of one model per superseded traversal sheet was found this way."""
    from explorer.app.model_executor import ModelExecutor

    ex = ModelExecutor()

    def long(handle):
        for _ in range(200):
            handle.checkpoint()
            time.sleep(0.002)
        return "done"

    try:
        for i in range(5):
            ex.submit("sheet", long, lambda r: None, pass_job=True, supersede=True)
            qtbot.wait(20)
        qtbot.waitUntil(ex.is_idle, timeout=20_000)
        qtbot.wait(100)
        assert ex._callbacks == {}
        job = ex.submit("other", long, lambda r: None, pass_job=True)
        qtbot.waitUntil(lambda: not ex.pending_keys(), timeout=10_000)
        job.cancel()
        qtbot.waitUntil(ex.is_idle, timeout=20_000)
        qtbot.wait(100)
        assert ex._callbacks == {}
    finally:
        ex.stop()


def test_garbage_cycles_are_only_collected_on_the_gui_thread(qtbot):
    """Automatic collection is off once an executor exists (a collection on the executor thread that
    frees a Qt object can deadlock with the GUI thread); a GUI-thread timer collects instead."""
    import gc

    from explorer.app.model_executor import ModelExecutor

    ex = ModelExecutor()
    try:
        assert not gc.isenabled()

        class Cycle:
            pass

        before = len([o for o in gc.get_objects() if isinstance(o, Cycle)])
        for _ in range(2000):
            a, b = Cycle(), Cycle()
            a.other, b.other = b, a
        del a, b
        qtbot.waitUntil(lambda: len([o for o in gc.get_objects() if isinstance(o, Cycle)]) <= before,
                        timeout=10_000)
    finally:
        ex.stop()

"""The hostile corpus dropped on the app: every case shows a message, the open model and the current
point stay, nothing crashes and no pickle payload runs.  Also: injected out-of-memory faults during
rendering and scoring fall back to the CPU with a message; the app's own file writes are atomic.

Offscreen Qt (tests/conftest.py), the ``make_window`` factory and a tiny untrained VAE.
"""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from PySide6.QtWidgets import QMessageBox

import hostile_corpus as hc
from app_helpers import expected_pixels, wait_for_frame

CORPUS, CASES = hc.shared_corpus()


def _close_error_boxes(win) -> int:
    boxes = win.findChildren(QMessageBox)
    for box in boxes:
        box.close()
    return len(boxes)


@pytest.fixture
def deny_unreadable(monkeypatch):
    """Root reads mode-000 files; make the corpus's unreadable files unreadable for this test too."""
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if "unreadable" in str(p) else real(p, mode, **kw))


def test_every_corpus_case_dropped_on_the_app_gives_a_message_and_keeps_the_state(
        make_window, tiny_vae_path, qtbot, deny_unreadable):
    win = make_window(tiny_vae_path)
    win.latent_dock.sliders[0].setValue(1.5)
    wait_for_frame(win, qtbot)
    loaded, values, pixels, title = win.state.loaded, win.state.values, win.canvas.image().copy(), win.windowTitle()
    score = win.score_dock.panel
    seen = {"refused checkpoint": 0, "refused image": 0, "accepted image": 0, "not routed": 0}
    for case in CASES:
        path = CORPUS / case.name
        if win.router.handler_for(path) is None:
            # e.g. .bin, .svg, .pdf: the window says which files it takes
            win.handle_drop([path])
            assert "not a file the explorer opens" in win.last_error, (case.name, win.last_error)
            seen["not routed"] += 1
        elif case.kind == "checkpoint":
            with qtbot.waitSignal(win.model_load_finished, timeout=60_000) as blocker:
                win.handle_drop([path])
            ok, text = blocker.args
            assert not ok, case.name
            assert case.expect.lower() in text.lower(), (case.name, text)
            assert "stays open" in win.last_error, win.last_error
            seen["refused checkpoint"] += 1
        else:
            n = len(score.items)
            win.handle_drop([path])
            assert len(score.items) == n + 1, case.name
            item = score.items[-1]
            qtbot.waitUntil(lambda: item.status in ("done", "failed"), timeout=60_000)
            if case.accepted:
                assert item.status == "done", (case.name, item.error)
                assert case.expect in "; ".join(item.steps), (case.name, item.steps)
                seen["accepted image"] += 1
                # a scored image becomes the current point (by design); go back for the next case
                win.state.set_values(values)
            else:
                assert item.status == "failed", case.name
                assert case.expect.lower() in item.error.lower(), (case.name, item.error)
                seen["refused image"] += 1
        _close_error_boxes(win)
        assert win.state.loaded is loaded, f"{case.name} replaced the open model"
        assert np.array_equal(win.state.values, values), case.name
        assert win.windowTitle() == title
        assert hc.markers(CORPUS) == [], f"{case.name}: a pickle payload ran!"
    assert all(seen.values()), seen
    # and the app goes on working with the model it had
    wait_for_frame(win, qtbot)
    assert np.array_equal(win.canvas.image(), pixels)
    win.latent_dock.sliders[1].setValue(-1.0)
    wait_for_frame(win, qtbot)
    assert np.array_equal(win.canvas.image(), expected_pixels(win))


def test_a_refused_checkpoint_on_an_empty_window_says_how_to_go_on(make_window, qtbot):
    win = make_window()
    with qtbot.waitSignal(win.model_load_finished, timeout=60_000) as blocker:
        win.open_model(CORPUS / "evil_exec_zip.pt")
    assert blocker.args[0] is False and "would run builtins.exec" in blocker.args[1]
    assert win.state.loaded is None
    assert "File → Open" in win.canvas.overlay_text()
    _close_error_boxes(win)
    assert hc.markers(CORPUS) == []


def test_with_the_disk_full_every_file_the_app_writes_leaves_the_old_file_and_says_so(
        make_window, tiny_vae_path, qtbot, tmp_path, monkeypatch):
    """Behaviour, not a source scan: each of the app's exports (canvas image, latent state, interpolation
    GIF and strip, traversal sheet, score results as CSV and JSON) is made with the disk filling up half
    way.  The user's old file must be exactly as it was, no temporary file may be left, and the window
    must say it could not write (no space left).  A writer that bypassed the atomic path would not fail
    and would overwrite the old file.  With the disk working again, each export replaces the file."""
    import errno

    from explorer.app import window_files
    from panel_helpers import wait_background
    from write_faults import fail_writes_half_way

    win = make_window(tiny_vae_path)
    panel, sheet = win.interpolation_dock.panel, win.traversal_dock
    qtbot.waitUntil(lambda: panel.frames is not None, timeout=60_000)
    with qtbot.waitSignal(sheet.sheetReady, timeout=60_000):
        win.traversal_action.trigger()
    win.handle_drop([CORPUS / "rgba.png"])
    item = win.score_dock.panel.items[-1]
    qtbot.waitUntil(lambda: item.status == "done", timeout=60_000)
    wait_background(qtbot)
    said = []
    win.state.message.connect(said.append)
    panel.message.connect(said.append)
    writers = {
        "image.png": lambda p: window_files.save_image(win, p),
        "latent.json": lambda p: window_files.save_latent(win, p),
        "walk.gif": panel.export,
        "walk.png": panel.export,
        "sheet.png": sheet.export,
        "scores.csv": win.score_dock.export_results,
        "scores.json": win.score_dock.export_results,
    }
    out = tmp_path / "exports"
    out.mkdir()
    for name in writers:
        (out / name).write_bytes(b"the user's old file")
    for name, write in writers.items():
        said.clear()
        win.last_error = ""
        with monkeypatch.context() as m:
            fail_writes_half_way(m, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
            write(out / name)
        assert (out / name).read_bytes() == b"the user's old file", f"{name}: the old file was overwritten"
        assert sorted(p.name for p in out.iterdir()) == sorted(writers), f"{name}: a temporary file was left"
        told = " ".join(said + [win.last_error, win.statusBar().currentMessage()])
        assert os.strerror(errno.ENOSPC) in told and name in told, f"{name}: the user was not told ({told!r})"
        _close_error_boxes(win)
    for name, write in writers.items():        # and with room on the disk, each export writes its file
        write(out / name)
        assert (out / name).read_bytes() != b"the user's old file", name
    assert sorted(p.name for p in out.iterdir()) == sorted(writers)


# ------------------------------------------------------------------ out of memory on the GPU
class _FakeCudaOOM(RuntimeError):
    """Stands in for torch.cuda.OutOfMemoryError (a RuntimeError subclass) on machines without CUDA."""


_FakeCudaOOM.__name__ = "OutOfMemoryError"


def _oom() -> BaseException:
    cls = getattr(torch.cuda, "OutOfMemoryError", _FakeCudaOOM)
    return cls("CUDA out of memory. Tried to allocate 20.00 GiB (injected by a test)")


def _pretend_on_gpu(model) -> None:
    """Make the model report a CUDA device (this machine may have none); ``model.to("cpu")`` undoes it."""
    model._device = torch.device("cuda", 0)


def test_out_of_memory_while_rendering_falls_back_to_the_cpu(make_window, tiny_vae_path, qtbot, monkeypatch):
    win = make_window(tiny_vae_path)
    model = win.state.model
    real_decode = model.decode
    calls = []

    def decode(z):
        calls.append(str(model.device))
        if model.device.type == "cuda":
            raise _oom()
        return real_decode(z)

    monkeypatch.setattr(model, "decode", decode)
    # the map and interpolation finish their own jobs first: only frames meet the "GPU"
    qtbot.waitUntil(lambda: win.map_dock.panel.map is not None and win.executor.is_idle(), timeout=60_000)
    calls.clear()
    _pretend_on_gpu(model)
    win.latent_dock.sliders[0].setValue(1.25)
    qtbot.waitUntil(lambda: "ran out of memory" in win.last_error, timeout=30_000)
    assert "CPU" in win.last_error
    assert calls[:2] == ["cuda:0", "cpu"], calls
    assert str(model.device) == "cpu" and "cpu" in win.device_label.text()
    wait_for_frame(win, qtbot)
    assert np.array_equal(win.canvas.image(), expected_pixels(win))
    assert win.canvas.overlay_text() == ""
    _close_error_boxes(win)
    win.latent_dock.sliders[0].setValue(-0.5)  # and it goes on rendering on the CPU
    wait_for_frame(win, qtbot)
    assert np.array_equal(win.canvas.image(), expected_pixels(win))


def test_out_of_memory_while_scoring_moves_the_model_to_the_cpu_and_scores_there(
        make_window, tiny_vae_path, qtbot, monkeypatch):
    """The executor runs the fallback (a device move) between jobs and scores the image again; the
    open model is the same object, now on the CPU, and the frame after it is right."""
    import models.scoring as scoring

    win = make_window(tiny_vae_path)
    model = win.state.model
    real_explain = scoring.explain
    seen = []

    def explain(m, x, **k):
        seen.append(str(m.device))
        if m.device.type == "cuda":
            raise _oom()
        return real_explain(m, x, **k)

    monkeypatch.setattr(scoring, "explain", explain)
    said = []
    win.state.message.connect(said.append)
    # the map and interpolation finish their own jobs first: only the scoring job meets the "GPU"
    qtbot.waitUntil(lambda: win.map_dock.panel.map is not None and win.executor.is_idle(), timeout=60_000)
    _pretend_on_gpu(model)
    try:
        score = win.score_dock.panel
        win.handle_drop([CORPUS / "rgba.png"])
        item = score.items[-1]
        qtbot.waitUntil(lambda: item.status in ("done", "failed"), timeout=60_000)
    finally:
        model._device = torch.device("cpu")
    assert item.status == "done", item.error
    assert seen == ["cuda:0", "cpu"], seen
    assert win.state.model is model and "cpu" in win.device_label.text()
    assert "ran out of memory" in win.last_error and "CPU" in win.last_error
    win.latent_dock.sliders[0].setValue(-0.5)
    wait_for_frame(win, qtbot)
    assert np.array_equal(win.canvas.image(), expected_pixels(win))


def test_an_unexpected_worker_error_is_logged_with_its_traceback_and_the_app_goes_on(
        make_window, tiny_vae_path, qtbot, monkeypatch, tmp_path):
    monkeypatch.setenv("LATENT_EXPLORER_LOG_DIR", str(tmp_path / "logs"))
    win = make_window(tiny_vae_path)
    model = win.state.model

    def broken(z):
        raise KeyError("simulated bug in the decoder")

    monkeypatch.setattr(model, "decode", broken)
    win.latent_dock.sliders[0].setValue(0.75)
    qtbot.waitUntil(lambda: "simulated bug" in win.last_render_error, timeout=20_000)
    log = tmp_path / "logs" / "errors.log"
    assert str(log) in win.last_render_error
    text = log.read_text()
    assert "Traceback" in text and "KeyError" in text and "broken" in text
    monkeypatch.undo()
    win.latent_dock.sliders[0].setValue(0.25)
    wait_for_frame(win, qtbot)
    assert np.array_equal(win.canvas.image(), expected_pixels(win))

"""The render worker: one thread that owns every call into the open model.

Everything that touches the model of a window — rendering a frame, loading a checkpoint, moving the
model to another device, sampling the grid — runs here, in order, on one ``QThread``.  The GUI thread
never calls torch and never waits for this thread.

Jobs are *keyed*: each key holds at most one pending job, and submitting a new job under a key
replaces the pending one (the replaced job's callbacks are never called).  Frames use the key
``"frame"``, so a fast drag never builds a backlog: the worker renders the newest request when it is
free and the stale ones are dropped (StyleGAN3 visualizer's "newest arguments win").  Different keys run
in the order they were first submitted, so a stream of frames cannot starve a load.

Results and errors come back as queued signals and are delivered to callbacks on the GUI thread.
A failure in a job never kills the thread or the app; it reaches ``on_error`` (or
:attr:`RenderWorker.job_failed`) as a one-line message.
"""
from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal

from ..errors import is_out_of_memory, log_exception
from .state import Frame, LoadedModel


def error_text(exc: BaseException) -> str:
    """A one-line message for a failure: the message alone for expected errors."""
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = type(exc).__name__
    if name in ("CheckpointError", "IntakeError", "ValueError", "FileNotFoundError", "PermissionError"):
        return msg or name
    return f"{name}: {msg}" if msg else name


def render_frame(loaded: LoadedModel, values: np.ndarray, token: int, requested_at: float) -> Frame:
    """Decode one latent to a uint8 image.  A pure function of its arguments; runs on the worker.

    If the GPU runs out of memory, the model is moved to the CPU and the frame rendered there; the
    frame's ``note`` says so (the window shows it and updates the device)."""
    import torch

    t0 = time.perf_counter()
    z = torch.from_numpy(loaded.z_from_values(values).reshape(1, -1))
    note = ""
    try:
        img = loaded.model.decode(z)[0, 0]
    except Exception as exc:  # noqa: BLE001 - only out-of-memory on a GPU is handled here
        if not is_out_of_memory(exc) or str(loaded.model.device).startswith("cpu"):
            raise
        free_gpu_memory()
        loaded.model.to("cpu")
        img = loaded.model.decode(z)[0, 0]
        note = (f"The GPU ran out of memory while rendering ({type(exc).__name__}); "
                f"the model now runs on the CPU.")
    pixels = img.clamp(0, 1).mul(255).round().to(torch.uint8).cpu().numpy()
    t1 = time.perf_counter()
    return Frame(image=pixels, values=np.asarray(values, dtype=np.float32).copy(), token=token,
                 requested_at=requested_at, rendered_at=t1, render_ms=(t1 - t0) * 1000.0, model=loaded,
                 note=note)


def free_gpu_memory() -> None:
    """Release cached GPU memory after an out-of-memory error (best effort)."""
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception:  # noqa: BLE001 - best effort
        pass


class _Thread(QThread):
    """The loop: wait for a pending job, run it, report; until stopped."""

    finished_job = Signal(int, object, object)  # ticket, result, error message or None

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("render-worker")
        self.cond = threading.Condition()
        self.pending: "OrderedDict[str, tuple[int, Callable[[], Any]]]" = OrderedDict()
        self.stopping = False
        self.busy = False

    def run(self) -> None:  # on the worker thread
        while True:
            with self.cond:
                while not self.pending and not self.stopping:
                    self.cond.wait()
                if self.stopping:
                    return
                _, (ticket, fn) = self.pending.popitem(last=False)
                self.busy = True
            try:
                result, err = fn(), None
            except BaseException as exc:  # noqa: BLE001 - reported, never kills the thread
                if not isinstance(exc, Exception):
                    raise
                result, err = None, error_text(exc)
                if type(exc).__name__ not in ("CheckpointError", "IntakeError", "ValueError",
                                              "FileNotFoundError", "PermissionError"):
                    err = log_exception(exc)  # traceback to the log file; one line back
            finally:
                with self.cond:
                    self.busy = False
            self.finished_job.emit(ticket, result, err)


class RenderWorker(QObject):
    """GUI-side handle of the worker thread.  Create it on the GUI thread; call :meth:`stop` at exit."""

    frame_ready = Signal(object)   # Frame
    frame_failed = Signal(str)
    job_failed = Signal(str, str)  # key, message (for jobs submitted without on_error)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tickets = itertools.count(1)
        self._callbacks: dict[int, tuple[str, Callable | None, Callable | None]] = {}
        self._thread = _Thread()
        self._thread.finished_job.connect(self._on_finished)
        self._thread.start()
        self.frames_rendered = 0
        self.frames_requested = 0

    # ------------------------------------------------------------------ submitting
    def submit(self, key: str, fn: Callable[[], Any], on_done: Callable[[Any], None] | None = None,
               on_error: Callable[[str], None] | None = None) -> int:
        """Run ``fn()`` on the worker; then ``on_done(result)`` or ``on_error(message)`` on the GUI
        thread.  A job still pending under the same ``key`` is dropped.  Returns a ticket number."""
        ticket = next(self._tickets)
        self._callbacks[ticket] = (key, on_done, on_error)
        with self._thread.cond:
            old = self._thread.pending.get(key)
            if old is not None:
                self._callbacks.pop(old[0], None)  # stale: never reported
            self._thread.pending[key] = (ticket, fn)
            self._thread.cond.notify()
        return ticket

    def request_frame(self, loaded: LoadedModel, values: np.ndarray, token: int, requested_at: float) -> None:
        """Ask for a frame; only the newest request is rendered."""
        self.frames_requested += 1
        values = np.array(values, dtype=np.float32)
        self.submit("frame", lambda: render_frame(loaded, values, token, requested_at),
                    self._frame_done, self._frame_error)

    def _frame_done(self, frame: Frame) -> None:
        self.frames_rendered += 1
        self.frame_ready.emit(frame)

    def _frame_error(self, message: str) -> None:
        self.frame_failed.emit(message)

    def _on_finished(self, ticket: int, result: Any, err: str | None) -> None:  # GUI thread
        key, on_done, on_error = self._callbacks.pop(ticket, ("", None, None))
        if err is not None:
            if on_error is not None:
                on_error(err)
            elif key:
                self.job_failed.emit(key, err)
        elif on_done is not None:
            on_done(result)

    # ------------------------------------------------------------------ state
    def is_idle(self) -> bool:
        """True when nothing is pending or running (results may still be on their way)."""
        with self._thread.cond:
            return not self._thread.pending and not self._thread.busy

    def pending_keys(self) -> list[str]:
        with self._thread.cond:
            return list(self._thread.pending)

    def stop(self, timeout_ms: int = 5000) -> bool:
        """Drop pending jobs, let the running one finish, end the thread.  Returns False when a job
        was still running after ``timeout_ms`` (then the process must not destroy the thread: Qt
        aborts on a running ``QThread`` being destroyed; :func:`explorer.app.main` exits hard)."""
        with self._thread.cond:
            self._thread.pending.clear()
            self._thread.stopping = True
            self._thread.cond.notify_all()
        finished = self._thread.wait(timeout_ms)
        self._callbacks.clear()
        self.stopped_cleanly = bool(finished)
        return self.stopped_cleanly

    stopped_cleanly = True

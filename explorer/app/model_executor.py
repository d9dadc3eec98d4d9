"""The model executor: one thread that owns every call into the open model.

Everything that touches a window's model — rendering a frame, loading a checkpoint, moving the model
to another device, the sampling grid, the latent map, interpolation, scoring — runs here, one job at a
time, on one ``QThread``.  The GUI thread never calls torch and never waits for this thread, and no
job ever sees the model change under it (a device move is a job like any other).

**Keys and lanes.**  Every job has a *key*; a key holds at most one pending job, and submitting under
a pending key replaces that job (its callbacks are never called): newest wins, so a fast drag never
builds a backlog (StyleGAN3 visualizer's "newest arguments win"; napari's slicer drops stale
requests the same way).  Jobs wait in *lanes*, served by priority, first come first served within a
lane::

    control      loading a model, moving it to another device, the out-of-memory fallback
    frame        the canvas's frame (key "frame")
    interactive  the sampling grid, the latent map, interpolation frames and endpoints
    queue        scoring: one job per image (unique keys), cancellable, in order

**Cooperative cancel and yielding.**  A job submitted with ``pass_job=True`` receives its
:class:`Job`; long work calls ``job.checkpoint()`` between batches or stages.  That raises
:class:`models.errors.Cancelled` once the job was cancelled, and otherwise first renders any frame
that is waiting, on this same thread — so dragging a slider stays live while a long scoring job runs,
and still only one call into the model happens at a time.  A cancelled job's callbacks are not called.

**Out of memory.**  A job submitted with ``retry_on_oom=True`` that runs out of GPU memory is tried
once more, after the executor has run its :attr:`ModelExecutor.oom_fallback` (set by the window: move
the model to the CPU) right away on this thread, before any other job; the
:attr:`ModelExecutor.fell_back` signal tells the GUI what happened.

Results and errors come back as queued signals and reach the callbacks on the GUI thread.  A failure
never kills the thread: ``on_error`` (or :attr:`ModelExecutor.job_failed`) gets one line, made by
:func:`explorer.errors.log_exception` (logged with its traceback unless it is a user-facing error).
"""
from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from typing import Any, Callable

import numpy as np
import shiboken6
from PySide6.QtCore import QObject, QThread, Signal

from models.errors import Cancelled

from ..errors import is_out_of_memory, log_exception
from .gui_gc import collect_on_gui_thread

LANES = ("control", "frame", "interactive", "queue")
_DEFAULT_LANES = {"frame": "frame", "load": "control", "device": "control", "devices": "control"}


class Job:
    """One submitted call.  ``cancel()`` from any thread: a pending job never runs, a running one
    stops at its next :meth:`checkpoint`, and neither reports back."""

    def __init__(self, executor: "ModelExecutor", key: str, lane: str, fn: Callable, pass_job: bool,
                 retry_on_oom: bool, owner: QObject | None) -> None:
        self.executor, self.key, self.lane = executor, key, lane
        self.fn, self.pass_job, self.retry_on_oom, self.owner = fn, pass_job, retry_on_oom, owner
        self.ticket = 0
        self.finished = False
        self.retried = False
        self._cancel = threading.Event()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()
        self.executor._forget(self)

    def checkpoint(self) -> None:
        """Call between stages of long work (on the executor thread): raises ``Cancelled`` once the job
        was cancelled; otherwise renders a waiting frame first."""
        if self._cancel.is_set():
            raise Cancelled()
        self.executor._thread.run_waiting_frame()
        if self._cancel.is_set():
            raise Cancelled()

    def __call__(self) -> Any:
        return self.fn(self) if self.pass_job else self.fn()


class Progress(QObject):
    """How far long work has got: emitted on the executor thread, received (queued) on the GUI thread."""

    changed = Signal(float, str)     # fraction done (0..1), what is being done


class _Thread(QThread):
    """The loop: take the first job of the highest lane, run it, report; until stopped."""

    finished_job = Signal(object, object, object)  # Job, result, error message or None

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("model-executor")
        self.cond = threading.Condition()
        self.pending: dict[str, "OrderedDict[str, Job]"] = {lane: OrderedDict() for lane in LANES}
        self.stopping = False
        self.busy = False
        self.running: Job | None = None
        self.oom_fallback: Callable[[], str | None] | None = None
        self.fell_back: Callable[[str], None] = lambda note: None

    def next_job(self, lanes=LANES) -> Job | None:  # with self.cond held
        for lane in lanes:
            if self.pending[lane]:
                return self.pending[lane].popitem(last=False)[1]
        return None

    def has_pending(self) -> bool:
        return any(self.pending[lane] for lane in LANES)

    def run(self) -> None:  # on the executor thread
        while True:
            with self.cond:
                while not self.has_pending() and not self.stopping:
                    self.cond.wait()
                if self.stopping:
                    return
                job = self.next_job()
                self.busy = True
            try:
                self.execute(job)
            finally:
                with self.cond:
                    self.busy = False

    def run_waiting_frame(self) -> None:
        """Inside a running job: render the pending frame, if any (frames never change the model)."""
        with self.cond:
            job = self.next_job(("frame",))
        if job is not None:
            self.execute(job)

    def execute(self, job: Job) -> None:
        if job.cancelled:
            self.finished_job.emit(job, None, None)   # reported as cancelled: the GUI side lets go of it
            return
        outer, self.running = self.running, job
        try:
            result, err = job(), None
        except Cancelled:
            self.finished_job.emit(job, None, None)
            return
        except Exception as exc:  # noqa: BLE001 - reported, never kills the thread
            if job.retry_on_oom and not job.retried and is_out_of_memory(exc) and self._fall_back(exc):
                job.retried = True
                with self.cond:
                    self.pending[job.lane].setdefault(job.key, job)  # unless a newer one is waiting
                return
            result, err = None, log_exception(exc)
        finally:
            self.running = outer
        self.finished_job.emit(job, result, err)

    def _fall_back(self, exc: BaseException) -> bool:
        """Run the out-of-memory fallback now (it is the next control job); True if it moved the model."""
        if self.oom_fallback is None:
            return False
        try:
            note = self.oom_fallback()
        except Exception as fallback_exc:  # noqa: BLE001 - the original error is reported instead
            log_exception(fallback_exc, "moving the model after running out of memory")
            return False
        if not note:
            return False
        self.fell_back(f"{note} ({type(exc).__name__})")
        return True


class ModelExecutor(QObject):
    """GUI-side handle of the executor thread.  Create it on the GUI thread; call :meth:`stop` at exit."""

    frame_ready = Signal(object)   # Frame
    frame_failed = Signal(str)
    job_failed = Signal(str, str)  # key, message (for jobs submitted without on_error)
    #: the out-of-memory fallback moved the model (a note for the user): update the device shown
    fell_back = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        collect_on_gui_thread()   # before a second thread exists: cycles are only ever freed here
        self._tickets = itertools.count(1)
        self._callbacks: dict[int, tuple[Callable | None, Callable | None]] = {}
        self._thread = _Thread()
        self._thread.finished_job.connect(self._on_finished)
        self._thread.fell_back = self.fell_back.emit
        self._thread.start()
        self.frames_rendered = 0
        self.frames_requested = 0
        self.stopped_cleanly = True

    # ------------------------------------------------------------------ configuration
    @property
    def oom_fallback(self) -> Callable[[], str | None] | None:
        """Run on the executor thread when a ``retry_on_oom`` job runs out of memory: move the model
        somewhere roomier and return a note for the user, or None when there is nowhere to go."""
        return self._thread.oom_fallback

    @oom_fallback.setter
    def oom_fallback(self, fn: Callable[[], str | None] | None) -> None:
        self._thread.oom_fallback = fn

    # ------------------------------------------------------------------ submitting
    def submit(self, key: str, fn: Callable[..., Any], on_done: Callable[[Any], None] | None = None,
               on_error: Callable[[str], None] | None = None, *, lane: str | None = None,
               pass_job: bool = False, retry_on_oom: bool = False, owner: QObject | None = None,
               supersede: bool = False) -> Job:
        """Run ``fn()`` (``fn(job)`` with ``pass_job``) on the executor; then ``on_done(result)`` or
        ``on_error(message)`` on the GUI thread -- unless the job was replaced by a newer one under
        the same ``key``, cancelled, or ``owner`` (the widget the callbacks update) was deleted.

        With ``supersede`` a job of the same key that is *running* is cancelled too (it stops at its
        next checkpoint): for long jobs whose result is worthless once newer arguments exist."""
        lane = lane or _DEFAULT_LANES.get(key, "interactive")
        if lane not in LANES:
            raise ValueError(f"unknown lane {lane!r}; one of {', '.join(LANES)}")
        job = Job(self, key, lane, fn, pass_job, retry_on_oom, owner)
        job.ticket = next(self._tickets)
        self._callbacks[job.ticket] = (on_done, on_error)
        with self._thread.cond:
            old = self._thread.pending[lane].pop(key, None)
            if old is not None:
                self._callbacks.pop(old.ticket, None)  # stale: never reported
            self._thread.pending[lane][key] = job
            running = self._thread.running
            if supersede and running is not None and running.key == key:
                running._cancel.set()
            self._thread.cond.notify()
        return job

    def request_frame(self, loaded, values: np.ndarray, token: int, requested_at: float) -> None:
        """Ask for a frame; only the newest request is rendered."""
        from .rendering import render_frame

        self.frames_requested += 1
        values = np.array(values, dtype=np.float32)
        self.submit("frame", lambda: render_frame(loaded, values, token, requested_at),
                    self._frame_done, self.frame_failed.emit, retry_on_oom=True)

    def cancel(self, key: str) -> None:
        """Drop the job pending under ``key`` (in any lane)."""
        with self._thread.cond:
            for lane in LANES:
                old = self._thread.pending[lane].pop(key, None)
                if old is not None:
                    old._cancel.set()
                    self._callbacks.pop(old.ticket, None)

    def _forget(self, job: Job) -> None:
        with self._thread.cond:
            if self._thread.pending[job.lane].get(job.key) is job:
                del self._thread.pending[job.lane][job.key]
        self._callbacks.pop(job.ticket, None)

    def _frame_done(self, frame) -> None:
        self.frames_rendered += 1
        self.frame_ready.emit(frame)

    def _on_finished(self, job: Job, result: Any, err: str | None) -> None:  # GUI thread
        job.finished = True
        # every job ends here, cancelled ones too, so no callback (and what it captured) outlives its job
        on_done, on_error = self._callbacks.pop(job.ticket, (None, None))
        if job.cancelled or (job.owner is not None and not shiboken6.isValid(job.owner)):
            return
        if err is not None:
            if on_error is not None:
                on_error(err)
            else:
                self.job_failed.emit(job.key, err)
        elif on_done is not None:
            on_done(result)

    # ------------------------------------------------------------------ state
    def is_idle(self) -> bool:
        """True when nothing is pending or running (results may still be on their way)."""
        with self._thread.cond:
            return not self._thread.has_pending() and not self._thread.busy

    def pending_keys(self) -> list[str]:
        with self._thread.cond:
            return [key for lane in LANES for key in self._thread.pending[lane]]

    def stop(self, timeout_ms: int = 5000) -> bool:
        """Drop pending jobs, cancel the running one (it stops at its next checkpoint; one without
        checkpoints finishes), end the thread.  Returns False when a job was still running after
        ``timeout_ms`` (then the process must not destroy the thread: Qt aborts on a running
        ``QThread`` being destroyed; :func:`explorer.app.main` exits hard)."""
        with self._thread.cond:
            for lane in LANES:
                for job in self._thread.pending[lane].values():
                    job._cancel.set()
                self._thread.pending[lane].clear()
            if self._thread.running is not None:       # closing the window does not wait for a long job
                self._thread.running._cancel.set()
            self._thread.stopping = True
            self._thread.cond.notify_all()
        finished = self._thread.wait(timeout_ms)
        self._callbacks.clear()
        self.stopped_cleanly = bool(finished)
        return self.stopped_cleanly

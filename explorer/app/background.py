"""Run a function off the GUI thread and get its result back on the GUI thread.

The panels of issue 5 (interpolation, scoring, the latent map) all call torch; none of it may run on
the GUI thread.  :func:`run_in_background` hands a function to a shared ``QThreadPool`` and calls
``on_done(result)`` or ``on_error(message)`` on the GUI thread when it ends.  A :class:`Ticket`
lets the caller ignore a result that has gone stale (the model changed, a newer request was made).
"""
from __future__ import annotations

from typing import Any, Callable

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

_POOL: QThreadPool | None = None


def pool() -> QThreadPool:
    """The pool of issue-5 background jobs: two threads (the machine may have two cores)."""
    global _POOL
    if _POOL is None:
        _POOL = QThreadPool()
        _POOL.setMaxThreadCount(2)
    return _POOL


class _Relay(QObject):
    done = Signal(object)
    failed = Signal(str)


class Ticket:
    """A handle on one background call: ``cancel()`` makes its result be dropped."""

    def __init__(self) -> None:
        self.cancelled = False
        self.finished = False

    def cancel(self) -> None:
        self.cancelled = True


class _Job(QRunnable):
    def __init__(self, fn: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self.fn, self.relay = fn, relay
        self.setAutoDelete(True)

    def run(self) -> None:  # runs on a pool thread
        # PySide keeps this Python object referenced after the pool ran it: let go of the function
        # (and what it captured, e.g. a model) and the relay, or every job leaks them
        fn, relay, self.fn, self.relay = self.fn, self.relay, None, None
        try:
            result = fn()
        except Exception as exc:  # noqa: BLE001 - reported to the GUI, never kills the app
            msg = str(exc) or type(exc).__name__
            expected = isinstance(exc, (ValueError, OSError)) or getattr(exc, "quiet", False) or \
                type(exc).__module__.startswith("models.")      # IntakeError, CheckpointError, ...
            if not expected:
                from ..errors import log_exception

                msg = log_exception(exc)  # traceback to the log file; one line back
            relay.failed.emit(msg)
        else:
            relay.done.emit(result)


_LIVE: set[_Relay] = set()


def run_in_background(fn: Callable[[], Any], on_done: Callable[[Any], None],
                      on_error: Callable[[str], None] | None = None, owner: QObject | None = None) -> Ticket:
    """Call ``fn()`` on a pool thread; then ``on_done(result)`` or ``on_error(msg)`` on the GUI thread
    -- unless the returned ticket was cancelled first, or ``owner`` (the widget the callbacks
    update) has been deleted meanwhile (a window closed while its job ran)."""
    ticket = Ticket()
    relay = _Relay()
    _LIVE.add(relay)  # keep the relay alive until it has delivered

    def alive() -> bool:
        return not ticket.cancelled and (owner is None or shiboken6.isValid(owner))

    def release() -> None:
        # The connections below hold done/failed, whose closures hold the relay: a cycle through C++
        # that Python's gc cannot see.  Cut it, or every call leaks what its callbacks capture (a
        # model, images) -- about 1 MB per model switch in the fuzz test.
        _LIVE.discard(relay)
        ticket.finished = True
        for signal in (relay.done, relay.failed):
            try:
                signal.disconnect()
            except (RuntimeError, TypeError):
                pass

    def done(result: Any) -> None:
        release()
        if alive():
            on_done(result)

    def failed(msg: str) -> None:
        release()
        if alive() and on_error is not None:
            on_error(msg)

    relay.done.connect(done)
    relay.failed.connect(failed)
    pool().start(_Job(fn, relay))
    return ticket


def wait_idle(msecs: int = 10000) -> bool:
    """Block until every background job has finished (for tests and shutdown)."""
    return pool().waitForDone(msecs)

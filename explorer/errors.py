"""Unexpected errors: logged with their traceback to a file, shown to the user as one line.  No Qt.

    from explorer.errors import log_exception
    try:
        ...
    except Exception as exc:
        status_bar.showMessage(log_exception(exc, "rendering"))

Errors the user can act on (a broken checkpoint, an unreadable image, a bad argument) are not bugs:
:func:`log_exception` returns their own message and writes nothing.  Anything else is appended, with
its traceback, to ``errors.log`` in the user's log directory (``platformdirs.user_log_dir``; the
environment variable ``LATENT_EXPLORER_LOG_DIR`` overrides it), and the returned line says where.

Logging never raises: if the log cannot be written the message says so and the app goes on.  Each
entry is one ``write`` to a file opened with ``O_APPEND``, so entries from several threads or processes
do not interleave; the file is rotated to ``errors.log.1`` when it passes :data:`MAX_LOG_BYTES`.
"""
from __future__ import annotations

import datetime as _dt
import os
import sys
import threading
import traceback
from pathlib import Path
from typing import Callable

from models.errors import MAX_MESSAGE_CHARS, LatentExplorerError, first_line, one_line

APP_NAME = "latent-explorer"
LOG_NAME = "errors.log"
MAX_LOG_BYTES = 1 * 2**20

__all__ = ["UserError", "LatentExplorerError", "one_line", "first_line", "is_user_error", "is_out_of_memory",
           "user_message", "log_exception", "install_hooks", "log_dir", "log_path"]


class UserError(LatentExplorerError):
    """A bad argument or request in the app or the CLI: shown as one line, without a traceback."""


_lock = threading.Lock()


def log_dir() -> Path:
    """Where the error log lives (created on first write)."""
    override = os.environ.get("LATENT_EXPLORER_LOG_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def log_path() -> Path:
    return log_dir() / LOG_NAME


def is_user_error(exc: BaseException) -> bool:
    """True for errors whose message is meant for the user (bad files, bad input), not bugs: every
    :class:`~models.errors.LatentExplorerError` (checkpoint, intake, data, calibration, training,
    :class:`UserError`) and the operating system's file errors."""
    return isinstance(exc, (LatentExplorerError, FileNotFoundError, PermissionError, IsADirectoryError,
                            NotADirectoryError))


def is_out_of_memory(exc: BaseException) -> bool:
    """A CUDA/MPS/CPU out-of-memory error.  Torch's own type is looked up only when torch is already
    imported (this module must stay light for the CLI's fast paths)."""
    torch = sys.modules.get("torch")
    torch_oom = getattr(torch, "OutOfMemoryError", None) if torch is not None else None
    if torch_oom is not None and isinstance(exc, torch_oom):
        return True
    return isinstance(exc, MemoryError) or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower())


def user_message(exc: BaseException, context: str = "") -> str:
    """The line to show for ``exc`` (without logging it)."""
    prefix = f"{context}: " if context else ""
    if is_user_error(exc):
        return one_line(prefix + (str(exc) or type(exc).__name__))
    if is_out_of_memory(exc):
        return one_line(f"{prefix}out of memory ({type(exc).__name__}); try a smaller batch or the CPU")
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return one_line(f"{prefix}unexpected error: {type(exc).__name__}" + (f": {first}" if first else ""))


def log_exception(exc: BaseException, context: str = "", *, always: bool = False) -> str:
    """Log ``exc`` with its traceback (unless it is a user error and not ``always``); return one line.

    ``context`` says what was being done ("rendering", "scoring drop.png") and starts the message.
    Safe to call from any thread; never raises.
    """
    message = user_message(exc, context)
    if is_user_error(exc) and not always:
        return message
    try:
        path = _append(_entry(exc, context))
    except Exception as log_exc:  # noqa: BLE001 - logging must never take the app down
        return one_line(f"{message} (and the error log could not be written: {log_exc})")
    return one_line(f"{message} (details in {path})", MAX_MESSAGE_CHARS + 200)


def _entry(exc: BaseException, context: str) -> str:
    stamp = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    head = f"=== {stamp} pid {os.getpid()} thread {threading.current_thread().name}"
    return f"{head}{' — ' + one_line(context) if context else ''}\n{tb.rstrip()}\n\n"


def _append(text: str) -> Path:
    path = log_path()
    data = text.encode("utf-8", errors="replace")
    with _lock:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            if path.stat().st_size + len(data) > MAX_LOG_BYTES:
                os.replace(path, path.with_name(LOG_NAME + ".1"))
        except FileNotFoundError:
            pass
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, data)  # one write per entry: appends from other threads/processes don't interleave
        finally:
            os.close(fd)
    return path


def install_hooks(show: Callable[[str], None] | None = None) -> None:
    """Route uncaught exceptions (main thread and ``threading`` threads) to the log, and to ``show``
    (e.g. a status-bar or dialog callback; called from the failing thread) instead of killing the app.
    KeyboardInterrupt keeps its usual behaviour."""

    def handle(exc_type, exc, tb, thread_name: str = "") -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        if exc is None:
            exc = exc_type()
        if exc.__traceback__ is None:
            exc = exc.with_traceback(tb)
        line = log_exception(exc, thread_name, always=True)
        if show is not None:
            try:
                show(line)
            except Exception:  # noqa: BLE001 - the hook must not raise
                pass
        else:
            print(f"latent-explorer: {line}", file=sys.stderr)

    sys.excepthook = lambda t, e, tb: handle(t, e, tb)
    threading.excepthook = lambda args: handle(args.exc_type, args.exc_value, args.exc_traceback,
                                               getattr(args.thread, "name", ""))

"""Keep a long session's memory flat (no Qt, no torch).

glibc gives every thread that allocates its own malloc arena (up to 8 per core).  The app allocates
tensors on its render thread and two background threads; with an arena each, freed memory is cached
per thread and resident memory creeps up by tens of MB over a long session although nothing leaks
(measured: +38 MB over 600 model switches in tests/test_fuzz_app.py; +24 MB with two arenas,
+3 MB with one).  The app's threads spend their time in torch kernels rather than in malloc, so one
shared arena should cost little speed (not benchmarked here).
:func:`limit_malloc_arenas` caps the number of arenas, as ``MALLOC_ARENA_MAX`` would, but from inside
the process; call it before the worker threads start.  Elsewhere (macOS, Windows, musl) it does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_ARENA_MAX = -8  # glibc <malloc.h>
_done = False


def limit_malloc_arenas(n: int = 1) -> bool:
    """Cap glibc's malloc arenas at ``n`` (once per process).  Returns True if it took effect."""
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    _done = bool(mallopt(M_ARENA_MAX, int(n)))
    return _done


def release_free_memory() -> bool:
    """Hand memory that is freed but still cached by glibc's malloc back to the system
    (``malloc_trim(0)``).  Resident size then counts what is really held.  No-op off glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.malloc_trim(0))
    except (OSError, AttributeError):
        return False

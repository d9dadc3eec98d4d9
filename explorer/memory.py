"""Keep a long session's memory flat (no Qt, no torch).

glibc gives every thread that allocates its own malloc arena (up to 8 per core).  The app allocates
tensors on its render thread and two background threads; with an arena each, freed memory is cached
per thread and resident memory creeps up by tens of MB over a long session although nothing leaks
(measured: +38 MB over 600 model switches in tests/test_fuzz_app.py; +24 MB with two arenas,
+3 MB with one).  The app's threads spend their time in torch kernels rather than in malloc, so one
shared arena should cost little speed (not benchmarked here).
:func:`limit_malloc_arenas` caps the number of arenas, as ``MALLOC_ARENA_MAX`` would, but from inside
the process; call it before the worker threads start.  Elsewhere (macOS, Windows, musl) it does nothing.

oneDNN, which runs torch's CPU convolutions, keeps every compiled primitive (one per layer, batch size
and model seen) in a cache of up to 1,024 by default.  An explorer opens many models and draws frames,
grids, strips and maps at many batch sizes, so that cache alone grew resident memory by 8-21 MB (median 17, seven runs) over
the fuzz test's 10,000 events (tests/test_fuzz_app.py; 1-9 MB with a capacity of 8).
:func:`keep_memory_flat` caps it at :data:`ONEDNN_CACHE` (the open model's layers at the few batch
sizes in use) through ``ONEDNN_PRIMITIVE_CACHE_CAPACITY``, which oneDNN reads when torch first runs a
convolution: call it before any model runs.  A user's own setting of that variable wins.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys


M_ARENA_MAX = -8  # glibc <malloc.h>
#: oneDNN primitives kept (its default: 1,024)
ONEDNN_CACHE = 32
_done = False


def keep_memory_flat() -> None:
    """One malloc arena (:func:`limit_malloc_arenas`) and a small oneDNN primitive cache; call before
    the worker threads start and before torch runs a model."""
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", str(ONEDNN_CACHE))
    limit_malloc_arenas()


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

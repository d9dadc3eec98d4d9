"""A file write that dies half way, like a full disk or a kill: for tests of atomic writes.

:func:`fail_writes_half_way` patches the one place every atomic write opens its temporary file
(``models.atomic_io``): the next writes put ``after_bytes`` bytes down, then raise ``error``.  A writer
that bypassed the atomic path would not fail at all, and would overwrite the user's old file.
"""
from __future__ import annotations

import os


def fail_writes_half_way(monkeypatch, error: BaseException, after_bytes: int = 10) -> None:
    from models import atomic_io

    real_fdopen = os.fdopen

    def fdopen(fd, *a, **k):
        fh = real_fdopen(fd, *a, **k)

        class Half:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                fh.close()
                return False

            def write(self, data):
                fh.write(data[:after_bytes])
                fh.flush()
                raise error

            def __getattr__(self, name):
                return getattr(fh, name)

        return Half()

    monkeypatch.setattr(atomic_io.os, "fdopen", fdopen)

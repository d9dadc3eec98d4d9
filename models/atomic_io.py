"""Atomic file writes: a reader sees the old file or the new one, never half of either.

Every module that writes a file (checkpoints, images, GIFs, bundled data, the app's exports) goes
through :func:`atomic_write_bytes`.  The recipe is the POSIX one: write a temporary file in the *same*
folder (so the rename cannot cross file systems), ``fsync`` it, ``os.replace`` it over the target
(one atomic step), then ``fsync`` the folder so the rename itself survives a power cut.  Why not
write in place: Ctrl-C, a full disk or a crash half way would leave a truncated checkpoint that no
longer loads, and the old one would be gone.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def current_umask() -> int:
    """The process umask, read without changing it (``os.umask`` to read it races other threads)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def fsync_dir(directory: Path) -> None:
    """Make a rename durable (POSIX); a no-op where directories cannot be opened (Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half.

    The bytes go to a temporary file in the same folder, are flushed to disk, and the temporary file
    is renamed over ``path`` in one step.  If anything fails on the way (disk full, Ctrl-C), the old
    file is untouched and the temporary file is removed.  Missing parent folders are created.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:100]}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            # mkstemp makes 0600; a saved file gets the usual permissions
            os.fchmod(fh.fileno(), 0o666 & ~current_umask())
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_dir(path.parent)

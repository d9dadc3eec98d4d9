"""Start Xvfb for the real-window tests (test_xvfb.py, test_xvfb_drop.py)."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest


def start_xvfb(screen: str = "1280x800x24") -> tuple[subprocess.Popen, str]:
    """Xvfb on a free display, which it picks itself and reports through ``-displayfd`` (no race with another
    test or test worker choosing the same number).  Returns (the process, ``":N"``); a missing or silent Xvfb
    fails the test."""
    if shutil.which("Xvfb") is None:
        pytest.fail("Xvfb is not installed: `bash scripts/setup.sh` installs it (apt-get install xvfb)")
    r, w = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(w), "-screen", "0", screen, "-nolisten", "tcp"],
                            pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(w)
    buf = b""
    while not buf.endswith(b"\n"):          # Xvfb writes the number once it listens; EOF if it died
        chunk = os.read(r, 16)
        if not chunk:
            break
        buf += chunk
    os.close(r)
    if not buf.strip():
        proc.kill()
        pytest.fail("Xvfb did not report a display")
    return proc, f":{buf.decode().strip()}"


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()

"""``latent-explorer [FILE]``, run as a user runs it: a typo is an error, a missing display is one line
that says what to do, and a real file opens the app.

Every case is a subprocess of the real entry point with its environment controlled.  Where an old
launcher would have opened a window instead of refusing, ``QT_QPA_PLATFORM=offscreen`` keeps it from
needing a screen and the timeout turns the window that never closes into a failure.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import models
from explorer.cli import COMMANDS, missing_display

ROOT = Path(__file__).resolve().parent.parent
DISPLAY_VARS = ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")


def _run(*args, env_extra=None, drop=DISPLAY_VARS, timeout=60, cwd=None):
    env = {k: v for k, v in os.environ.items() if k not in drop and k != "LATENT_EXPLORER_DEBUG"}
    env.update({"OMP_WAIT_POLICY": "PASSIVE", "PYTHONPATH": str(ROOT)}, **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "explorer.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=cwd)


OFFSCREEN = {"QT_QPA_PLATFORM": "offscreen"}


@pytest.mark.parametrize("word", ["nonsense", "missing-model.safetensors"])
def test_an_argument_that_is_neither_a_command_nor_a_file_is_an_error(tmp_path, word):
    proc = _run(word, env_extra=OFFSCREEN, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    first, hint = proc.stderr.splitlines()
    assert first == f"latent-explorer: error: no such command or file: {word}"
    assert all(name in hint for name in COMMANDS) and "--help" in hint
    assert proc.stdout == ""


def test_a_typo_of_a_command_gets_a_suggestion(tmp_path):
    proc = _run("smaple", env_extra=OFFSCREEN, cwd=tmp_path)
    assert proc.returncode == 2
    assert "did you mean 'sample'?" in proc.stderr.splitlines()[1]


@pytest.mark.parametrize("args", [[], [models.bundled("vae")]], ids=["default-model", "file"])
def test_without_a_display_the_app_says_what_to_do_in_one_line(args):
    proc = _run(*args)
    assert proc.returncode == 2, proc.stderr     # not 134 (abort) from Qt's missing xcb plugin
    [line] = proc.stderr.splitlines()
    assert line.startswith("latent-explorer: error: no display to open the app on")
    assert "xvfb-run latent-explorer" in line and "on a desktop" in line
    assert all(name in line for name in ("sample", "score", "traverse", "info"))
    assert "qt.qpa" not in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("env, platform, missing", [
    ({}, "linux", True),
    ({"QT_QPA_PLATFORM": "xcb"}, "linux", True),
    ({"DISPLAY": ":0"}, "linux", False),
    ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", False),
    ({"QT_QPA_PLATFORM": "offscreen"}, "linux", False),
    ({"QT_QPA_PLATFORM": "vnc:size=800x600"}, "linux", False),
    ({"QT_QPA_PLATFORM": "xcb;minimal"}, "linux", False),
    ({}, "freebsd14", True),
    ({}, "darwin", False),
    ({}, "win32", False),
])
def test_missing_display_knows_which_platforms_need_one(env, platform, missing):
    assert missing_display(env, platform) is missing


def test_a_file_really_opens_the_app_and_shows_a_frame(tmp_path):
    """The startup probe (explorer.app.STARTUP_PROBE_ENV) prints when the first frame is on the
    canvas and closes the window."""
    from explorer.app import STARTUP_PROBE_ENV

    proc = _run(models.bundled("vae"), "--device", "cpu", timeout=300,
                env_extra={**OFFSCREEN, STARTUP_PROBE_ENV: "1",
                           "LATENT_EXPLORER_SETTINGS": str(tmp_path / "settings.ini")})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert any(ln.startswith("first-frame ") for ln in proc.stdout.splitlines()), proc.stdout

"""explorer.errors: unexpected errors go to a log file with their traceback; the user gets one line."""
from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from explorer import errors
from models.checkpoint import CheckpointError


@pytest.fixture(autouse=True)
def log_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENT_EXPLORER_LOG_DIR", str(tmp_path / "logs"))
    return tmp_path / "logs" / "errors.log"          # the name the README gives


def _raise(exc):
    try:
        raise exc
    except BaseException as caught:  # noqa: BLE001
        return caught


@pytest.mark.skipif(sys.platform != "linux", reason="the README names the Linux path")
def test_default_log_dir_is_where_the_readme_says_on_linux(monkeypatch, tmp_path):
    """README: errors.log in ~/.local/state/latent-explorer/log/ on Linux (platformdirs' user log dir)."""
    monkeypatch.delenv("LATENT_EXPLORER_LOG_DIR")
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert errors.log_dir() == tmp_path / ".local" / "state" / "latent-explorer" / "log"
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert errors.log_dir() == tmp_path / "state" / "latent-explorer" / "log"


_CRASHING_INFO = ("import sys, explorer.cli, explorer.commands.info as info\n"
                  "def boom(args):\n    raise ZeroDivisionError('simulated bug in info')\n"
                  "info.run = boom\n"
                  "sys.exit(explorer.cli.main(['info', 'whatever.safetensors']))\n")


def _cli_crash(tmp_path, **env_extra):
    env = {k: v for k, v in os.environ.items() if k != "LATENT_EXPLORER_DEBUG"}
    env.update(LATENT_EXPLORER_LOG_DIR=str(tmp_path / "cli-logs"), OMP_WAIT_POLICY="PASSIVE", **env_extra)
    return subprocess.run([sys.executable, "-c", _CRASHING_INFO], capture_output=True, text=True, env=env,
                          timeout=300)


def test_an_unexpected_cli_error_is_one_line_exit_1_and_logged_with_its_traceback(tmp_path):
    proc = _cli_crash(tmp_path)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "unexpected error: ZeroDivisionError: simulated bug in info" in lines[0]
    assert "LATENT_EXPLORER_DEBUG=1" in lines[0] and str(tmp_path / "cli-logs" / "errors.log") in lines[0]
    logged = (tmp_path / "cli-logs" / "errors.log").read_text()
    assert "Traceback (most recent call last)" in logged and "in boom" in logged


def test_latent_explorer_debug_shows_the_traceback(tmp_path):
    proc = _cli_crash(tmp_path, LATENT_EXPLORER_DEBUG="1")
    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr and "in boom" in proc.stderr
    assert proc.stderr.strip().endswith("ZeroDivisionError: simulated bug in info")


def test_a_user_error_on_the_cli_is_exit_2_naming_the_file(tmp_path):
    """(In this process; the console script's own exit status 2 is checked in test_hostile_cli.py.)"""
    from cli_helpers import run_cli

    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"\x00" * 3)
    proc = run_cli("info", bad)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith(f"latent-explorer: error: {bad.name}: ") and "damaged" in line, line


def test_unexpected_error_is_logged_with_traceback_and_summarised(log_in_tmp):
    exc = _raise(ZeroDivisionError("division by zero\nsecond line"))
    line = errors.log_exception(exc, "rendering")
    assert line.startswith("rendering: unexpected error: ZeroDivisionError: division by zero")
    assert "\n" not in line and str(log_in_tmp) in line
    text = log_in_tmp.read_text()
    assert "Traceback (most recent call last)" in text and "ZeroDivisionError" in text and "rendering" in text
    assert "_raise" in text  # the frame where it happened


def test_user_errors_are_shown_not_logged(log_in_tmp):
    line = errors.log_exception(CheckpointError("x.pt: refused: loading this pickle would run os.system"))
    assert line == "x.pt: refused: loading this pickle would run os.system"
    assert not log_in_tmp.exists()


def test_out_of_memory_gets_a_plain_message(log_in_tmp):
    class OutOfMemoryError(RuntimeError):  # stands in for torch.cuda.OutOfMemoryError
        pass

    line = errors.log_exception(_raise(OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")), "scoring")
    assert line.startswith("scoring: out of memory") and log_in_tmp.exists()


def test_an_unwritable_log_never_raises(tmp_path, monkeypatch):
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    monkeypatch.setenv("LATENT_EXPLORER_LOG_DIR", str(blocker / "logs"))
    line = errors.log_exception(_raise(KeyError("k")), "saving")
    assert "unexpected error: KeyError" in line and "could not be written" in line and "\n" not in line


def test_log_rotates_and_entries_from_threads_stay_whole(log_in_tmp, monkeypatch):
    monkeypatch.setattr(errors, "MAX_LOG_BYTES", 20_000)

    def work(i):
        for j in range(20):
            errors.log_exception(_raise(ValueError(f"thread {i} error {j} " + "x" * 200)), f"worker {i}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rotated = log_in_tmp.with_name(errors.LOG_NAME + ".1")
    assert rotated.exists() and log_in_tmp.stat().st_size <= 20_000
    for entry in log_in_tmp.read_text().split("=== ")[1:]:
        assert entry.rstrip().endswith("x" * 200), entry[-300:]  # each entry ends with its own message


def test_install_hooks_routes_thread_crashes_to_the_log(log_in_tmp, monkeypatch):
    import sys

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    shown = []
    errors.install_hooks(shown.append)
    t = threading.Thread(target=lambda: 1 / 0, name="render-worker")
    t.start()
    t.join()
    assert shown and shown[0].startswith("render-worker: unexpected error: ZeroDivisionError")
    assert "ZeroDivisionError" in log_in_tmp.read_text()

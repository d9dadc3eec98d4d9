"""``latent-explorer ARGS`` run through ``explorer.cli.main`` in the test's own process.

The headless subcommands import no Qt and keep no state between runs (tests/test_layering.py checks the
first), so running ``main`` here is the command as a user runs it minus starting a fresh interpreter
and importing torch (2-3 s a run).  What only a fresh process shows -- the console script, exit statuses
set by the interpreter, tracebacks with LATENT_EXPLORER_DEBUG=1, the app launcher -- is run as a real
subprocess in test_hostile_cli.py, test_errors.py and test_cli_launcher.py.
"""
from __future__ import annotations

import contextlib
import io
import os
import subprocess


def run_cli(*args, check: bool = False) -> subprocess.CompletedProcess:
    """Exit status, stdout and stderr of ``latent-explorer ARGS`` (``check``: assert it exits 0)."""
    from explorer.cli import main

    argv = [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    debug = os.environ.pop("LATENT_EXPLORER_DEBUG", None)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = main(argv)
            except SystemExit as exc:            # argparse's usage errors, --help
                rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        if debug is not None:
            os.environ["LATENT_EXPLORER_DEBUG"] = debug
    proc = subprocess.CompletedProcess(["latent-explorer", *argv], rc, out.getvalue(), err.getvalue())
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc

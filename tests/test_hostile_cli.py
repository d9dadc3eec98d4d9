"""Every case of the hostile corpus through the command line, each in its own process.

Checkpoints go through ``latent-explorer info FILE``; images through ``latent-explorer score --model
assets/vae-fmnist.safetensors IMAGE`` (the bundled VAE, calibrated: missing or uncalibrated fails, never
skips).  A refused input must exit non-zero with exactly one line on stderr that starts by naming that
very file (a message about another file does not pass) and says what is wrong, and no traceback; no
pickle payload may run.  An accepted image is scored: one row naming it, with a verdict.

Starting a fresh Python for each of ~85 cases would cost ~3 s each (``import torch``), so one driver
process imports the CLI once and forks a child per case (three at a time): every case still runs
``explorer.cli.main`` in its own process with its own exit status, stdout and stderr.  A few cases also run through the
real ``latent-explorer`` console script, start to finish.  Timeouts only catch hangs (minutes), never
measure speed.

Unreadable files: a file of mode 000 is unreadable to its owner unless the process may override file
modes, as root may.  Run as root, the child of such a case keeps its user (so it can still import the
checkout and its venv, wherever they live -- even in a folder only root can read, as ``mktemp -d``
makes) and gives up only that override (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH).  Run as anyone else,
the mode alone makes the file unreadable.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import hostile_corpus as hc

ROOT = Path(__file__).resolve().parent.parent
CORPUS, CASES = hc.shared_corpus()
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


#: a case that runs this long is hung (each takes about a second); the bound catches hangs, not slowness
HANG_SECONDS = 300
#: score's summary after its per-file lines; with one input it repeats the failure (reported upstream)
SCORE_SUMMARY = "latent-explorer: error: no image could be scored"


DRIVER = r'''
import ctypes, io, json, os, sys, time, traceback
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

sys.path.insert(0, os.environ["LE_TESTS_DIR"])
from drop_privileges import drop_read_override
import explorer.cli as cli
import models, models.intake, models.checkpoint, safetensors.torch
from PIL import Image
Image.init()
for name in cli.COMMANDS:          # import every subcommand before forking
    cli._command_module(name)

def start(job):
    sys.stdout.flush(); sys.stderr.flush()
    out = os.open(job["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    err = os.open(job["err"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    pid = os.fork()
    if pid == 0:                                   # the child: one CLI run, like a fresh process
        os.dup2(out, 1); os.dup2(err, 2)
        try:
            if job["drop_read_override"]:
                drop_read_override()
            rc = cli.main(job["argv"])
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            traceback.print_exc()
            rc = 1
        sys.stdout.flush(); sys.stderr.flush()
        os._exit(rc if isinstance(rc, int) else 1)
    os.close(out); os.close(err)
    return pid

HANG_SECONDS = float(os.environ["LE_HANG_SECONDS"])
jobs = json.loads(sys.stdin.read())
results = [None] * len(jobs)
running = {}                                      # pid -> (job index, start time)
todo = list(range(len(jobs)))
while todo or running:
    while todo and len(running) < 3:
        i = todo.pop(0)
        running[start(jobs[i])] = (i, time.time())
    time.sleep(0.002)
    for pid, (i, t0) in list(running.items()):
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            results[i] = {"rc": os.waitstatus_to_exitcode(st)}
            del running[pid]
        elif time.time() - t0 > HANG_SECONDS:        # hung: a failure, never a measure of speed
            os.kill(pid, 9); os.waitpid(pid, 0)
            results[i] = {"rc": "hung"}
            del running[pid]
print(json.dumps(results))
'''


def _argv(case: hc.Case, model: Path) -> list[str]:
    path = str(CORPUS / case.name)
    if case.kind == "checkpoint":
        return ["info", path]
    return ["score", "--model", str(model), "--quiet", path]


@pytest.fixture(scope="module")
def cli_runs():
    """Run every case once; returns {case name: (rc, stdout, stderr)}."""
    from panel_helpers import bundled_calibrated

    model = bundled_calibrated("vae")   # a failure, not a skip, if missing or uncalibrated
    work = Path(tempfile.mkdtemp(prefix="latent-explorer-cli-"))
    os.chmod(work, 0o755)
    jobs = []
    for i, case in enumerate(CASES):
        jobs.append({"argv": _argv(case, model), "out": str(work / f"{i}.out"), "err": str(work / f"{i}.err"),
                     "drop_read_override": bool(case.unreadable and IS_ROOT)})
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "PYTHONPATH": str(ROOT), "LE_TESTS_DIR": str(ROOT / "tests"),
           "LE_HANG_SECONDS": str(HANG_SECONDS)}
    env.pop("LATENT_EXPLORER_DEBUG", None)
    proc = subprocess.run([sys.executable, "-c", DRIVER], input=json.dumps(jobs), capture_output=True,
                          text=True, timeout=HANG_SECONDS * len(jobs), cwd=str(ROOT), env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    runs = {}
    for case, job, res in zip(CASES, jobs, results):
        runs[case.name] = (res["rc"], Path(job["out"]).read_text(errors="replace"),
                           Path(job["err"]).read_text(errors="replace"))
    yield runs
    shutil.rmtree(work, ignore_errors=True)
    assert hc.markers(CORPUS) == [], "a pickle payload ran!"


def _id(case: hc.Case) -> str:
    return ascii(case.name).strip("'")


#: how a file name with a control character must be shown: escaped, never raw (it could fake a second line
#: or recolour the terminal); written out here rather than taken from the code under test
ESCAPED = {"\n": "\\n", "\x1b": "\\x1b"}


def _shown(text: str) -> str:
    for raw, escaped in ESCAPED.items():
        text = text.replace(raw, escaped)
    assert text.isprintable(), f"extend ESCAPED for {text!r}"
    return text


def _assert_refused(case: hc.Case, rc, out: str, err: str, expect: str | None = None, *,
                    via_score: bool = False) -> None:
    """Exit status non-zero, no traceback, and one stderr line that begins with this file's name (or path)
    and says ``expect``.  ``score`` adds its summary as a last line after the file's line, nothing else."""
    assert rc != "hung", f"{case.name!r} hung"
    assert rc != 0, (rc, err)
    assert "Traceback" not in err and "Traceback" not in out, err
    lines = err.splitlines()
    if via_score:
        assert lines[-1:] == [SCORE_SUMMARY], f"score's summary should close stderr: {err!r}"
        lines = lines[:-1]
    assert len(lines) == 1, f"expected exactly one line on stderr naming the file, got {len(lines)}: {err!r}"
    line = lines[0]
    prefix = "latent-explorer: error: "
    assert line.startswith(prefix), line
    named = [shown for shown in (_shown(case.name), _shown(str(CORPUS / case.name)))
             if line[len(prefix):].startswith(shown + ": ")]
    assert named, f"the line should start with the file's name {_shown(case.name)!r}: {line!r}"
    assert (expect or case.expect).lower() in line[len(prefix) + len(named[0]):].lower(), line
    assert line.isprintable(), repr(line)   # no raw newlines or terminal escapes from file names


def test_the_refusal_check_rejects_a_message_about_another_file():
    """The check above can fail: a correct message that names a different file does not pass."""
    case = next(c for c in CASES if c.name == "truncated_data.safetensors")
    other = "latent-explorer: error: truncated_header.safetensors: the file is truncated: ...\n"
    with pytest.raises(AssertionError, match="should start with the file's name"):
        _assert_refused(case, 2, "", other)
    with pytest.raises(AssertionError, match="exactly one line"):
        _assert_refused(case, 2, "", "latent-explorer: error: truncated_data.safetensors: the file is truncated\n" * 2)


@pytest.mark.parametrize("case", [c for c in CASES if c.kind == "checkpoint"], ids=_id)
def test_info_refuses_every_bad_checkpoint_in_one_line(case, cli_runs):
    rc, out, err = cli_runs[case.name]
    _assert_refused(case, rc, out, err)
    assert out == ""


@pytest.mark.parametrize("case", [c for c in CASES if c.kind == "image"], ids=_id)
def test_every_image_case_through_the_cli(case, cli_runs):
    rc, out, err = cli_runs[case.name]
    if case.accepted:
        assert rc == 0, err
        assert err == "", err
        rows = [ln for ln in out.splitlines() if ln.rstrip().endswith("-distribution")]
        assert len(rows) == 1 and rows[0].split()[0].endswith(case.name), out   # one row, naming the image
        assert out.splitlines()[-1].startswith("1 image, "), out
    else:
        # `score` takes folders of images too, so for it a folder with no images is the message
        expect = "no image files" if case.name.startswith("folder") else None
        _assert_refused(case, rc, out, err, expect, via_score=True)


def test_no_case_hangs(cli_runs):
    hung = [name for name, (rc, _, _) in cli_runs.items() if rc == "hung"]
    assert not hung, f"killed after {HANG_SECONDS} s: {hung}"


def test_no_marker_file_after_the_cli_runs(cli_runs):
    assert hc.markers(CORPUS) == []
    assert not list(ROOT.glob(hc.MARKER_PREFIX + "*"))


# ------------------------------------------------------------------ the real console script, end to end
def _console() -> list[str]:
    script = Path(sys.executable).with_name("latent-explorer")
    return [str(script)] if script.exists() else [sys.executable, "-m", "explorer.cli"]


@pytest.mark.parametrize("name", ["evil_exec_zip.pt", "truncated_data.safetensors", "newline\nin name.safetensors"],
                         ids=["pickle", "truncated", "newline-name"])
def test_console_script_end_to_end(name):
    case = next(c for c in CASES if c.name == name)
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    env.pop("LATENT_EXPLORER_DEBUG", None)
    proc = subprocess.run([*_console(), "info", str(CORPUS / name)], capture_output=True, text=True,
                          timeout=HANG_SECONDS, env=env, cwd=str(CORPUS))
    assert proc.returncode == 2, proc.stderr          # a user error: exit status 2, from the real process
    _assert_refused(case, proc.returncode, proc.stdout, proc.stderr)
    assert hc.markers(CORPUS) == []

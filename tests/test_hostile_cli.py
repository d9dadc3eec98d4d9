"""Every case of the hostile corpus through the command line, each in its own process.

Checkpoints go through ``latent-explorer info FILE``; images through ``latent-explorer score --model
assets/vae-fmnist.safetensors IMAGE`` when that subcommand exists (until then through a stand-in that
runs the same intake and the CLI's own error reporting).  A refused input must exit non-zero with
exactly one line on stderr that says what is wrong, and no traceback; no pickle payload may run.

Starting a fresh Python for each of ~85 cases would cost ~3 s each (``import torch``), so one driver
process imports the CLI once and forks a child per case (three at a time): every case still runs
``explorer.cli.main`` in its own process with its own exit status, stdout and stderr.  A few cases also run through the
real ``latent-explorer`` console script, start to finish.

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
import models

ROOT = Path(__file__).resolve().parent.parent
CORPUS, CASES = hc.shared_corpus()
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _score_modes() -> tuple[bool, bool]:
    """(score exists for refused images, score can also score accepted images: the VAE is calibrated)."""
    from explorer.cli import COMMANDS

    if "score" not in COMMANDS or not models.bundled("vae").exists():
        return False, False
    try:
        calibrated = bool(models.load(models.bundled("vae"), device="cpu").metadata.get("calibration"))
    except models.CheckpointError:  # the bundled file is being rewritten by a training run
        return False, False
    return True, calibrated


SCORE, SCORE_ACCEPTED = _score_modes()
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

def intake_stand_in(path):
    try:
        print(models.intake.load_image(path).describe())
        return 0
    except Exception as exc:
        return cli.report_error(exc)

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
            argv = job["argv"]
            rc = intake_stand_in(argv[1]) if argv[0] == "__intake__" else cli.main(argv)
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            traceback.print_exc()
            rc = 1
        sys.stdout.flush(); sys.stderr.flush()
        os._exit(rc if isinstance(rc, int) else 1)
    os.close(out); os.close(err)
    return pid

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
            results[i] = {"rc": os.waitstatus_to_exitcode(st), "seconds": round(time.time() - t0, 3)}
            del running[pid]
        elif time.time() - t0 > 60:
            os.kill(pid, 9); os.waitpid(pid, 0)
            results[i] = {"rc": "timeout", "seconds": round(time.time() - t0, 3)}
            del running[pid]
print(json.dumps(results))
'''


def _argv(case: hc.Case) -> list[str]:
    path = str(CORPUS / case.name)
    if case.kind == "checkpoint":
        return ["info", path]
    if SCORE and (SCORE_ACCEPTED or not case.accepted):
        return ["score", "--model", str(models.bundled("vae")), "--quiet", path]
    return ["__intake__", path]


@pytest.fixture(scope="module")
def cli_runs():
    """Run every case once; returns {case name: (rc, stdout, stderr, seconds)}."""
    work = Path(tempfile.mkdtemp(prefix="latent-explorer-cli-"))
    os.chmod(work, 0o755)
    jobs = []
    for i, case in enumerate(CASES):
        jobs.append({"argv": _argv(case), "out": str(work / f"{i}.out"), "err": str(work / f"{i}.err"),
                     "drop_read_override": bool(case.unreadable and IS_ROOT)})
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "PYTHONPATH": str(ROOT), "LE_TESTS_DIR": str(ROOT / "tests")}
    env.pop("LATENT_EXPLORER_DEBUG", None)
    proc = subprocess.run([sys.executable, "-c", DRIVER], input=json.dumps(jobs), capture_output=True,
                          text=True, timeout=600, cwd=str(ROOT), env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    runs = {}
    for case, job, res in zip(CASES, jobs, results):
        runs[case.name] = (res["rc"], Path(job["out"]).read_text(errors="replace"),
                           Path(job["err"]).read_text(errors="replace"), res["seconds"])
    yield runs
    shutil.rmtree(work, ignore_errors=True)
    assert hc.markers(CORPUS) == [], "a pickle payload ran!"


def _id(case: hc.Case) -> str:
    return ascii(case.name).strip("'")


def _assert_refused(case: hc.Case, rc, out: str, err: str, expect: str | None = None) -> None:
    assert rc != 0 and rc != "timeout", (rc, err)
    assert "Traceback" not in err and "Traceback" not in out, err
    lines = [ln for ln in err.splitlines() if ln != SCORE_SUMMARY]
    assert len(lines) == 1, f"expected exactly one line on stderr, got {len(lines)}: {err!r}"
    line = lines[0]
    assert line.startswith("latent-explorer: error: "), line
    assert (expect or case.expect).lower() in line.lower(), line
    assert line.isprintable(), repr(line)   # no raw newlines or terminal escapes from file names


@pytest.mark.parametrize("case", [c for c in CASES if c.kind == "checkpoint"], ids=_id)
def test_info_refuses_every_bad_checkpoint_in_one_line(case, cli_runs):
    rc, out, err, _ = cli_runs[case.name]
    _assert_refused(case, rc, out, err)
    assert out == ""


@pytest.mark.parametrize("case", [c for c in CASES if c.kind == "image"], ids=_id)
def test_every_image_case_through_the_cli(case, cli_runs):
    rc, out, err, _ = cli_runs[case.name]
    via_score = _argv(case)[0] == "score"
    if case.accepted:
        assert rc == 0, err
        assert "Traceback" not in err and "error" not in err.lower(), err
        if not via_score:
            assert case.expect in out, out
    else:
        # `score` takes folders of images too, so for it a folder with no images is the message
        expect = "no image files" if via_score and case.name.startswith("folder") else None
        _assert_refused(case, rc, out, err, expect)


def test_no_case_hangs_or_crawls(cli_runs):
    slow = {name: s for name, (rc, _, _, s) in cli_runs.items() if rc == "timeout" or s > 20}
    assert not slow, slow


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
                          timeout=120, env=env, cwd=str(CORPUS))
    _assert_refused(case, proc.returncode, proc.stdout, proc.stderr)
    assert hc.markers(CORPUS) == []

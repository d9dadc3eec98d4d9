"""Mutation check: do the app tests see what a user sees?

Makes a temporary copy of the repository, breaks it on purpose, runs the app tests in the copy and
reports which of them fail.  A test that passes on broken code could not notice the failure it is
named after.  Mutations:

``decoder-ignores-z``
    every model family's ``decode(self, z, ...)`` in ``models/`` multiplies ``z`` by zero first, so each
    image is the decode of the prior mean whatever the sliders, samples, map or interpolation say.
    The slider, undo, sampling, interpolation, map and score tests must fail.
``canvas-frozen``
    the canvas keeps drawing its first frame: later frames update its bookkeeping (token, timing) but
    never reach the screen or ``Canvas.image()``.  The frame tests must fail.
``screen-frozen``
    subtler: ``Canvas.image()`` follows every frame but the image item on screen keeps the first one;
    only tests that read the painted pixels back catch it.  The frame tests must fail.

Each mutation is a text edit checked to apply (the script stops when the code it edits has moved),
run in a fresh copy.  Usage::

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/mutation_check.py            # all mutations
    .venv/bin/python benchmarks/mutation_check.py --mutation canvas-frozen --baseline  # one, plus unmutated
    .venv/bin/python benchmarks/mutation_check.py --json                               # machine-readable

Exit status 0 when every test named in ``MUST_FAIL`` failed under its mutation (and, with
``--baseline``, every app test passed unmutated); 1 otherwise.
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: the app tests: they drive the window or its panels
APP_TESTS = ["tests/test_app.py", "tests/test_app_models.py", "tests/test_analysis_window.py",
             "tests/test_score_panel.py", "tests/test_interpolation_panel.py", "tests/test_latent_map_widget.py"]

#: what must fail under each mutation: (test file, a substring of the test's name) per concern
_FRAME_TESTS = [
    ("test_app.py", "test_moving_a_slider_changes_the_image"),
    ("test_app.py", "test_after_a_burst_the_last_value_is_shown"),
    ("test_app.py", "test_reset_and_randomize"),
    ("test_app.py", "test_a_render_failure_is_shown_and_the_app_survives"),
    ("test_app_models.py", "test_every_bundled_model_opens_and_rebuilds_the_dock"),
    ("test_app_models.py", "test_switching_family_rebuilds_the_dock"),
    ("test_app_models.py", "test_device_menu_lists_devices_and_moves_the_model"),
    ("test_app_models.py", "test_clicking_a_sample_makes_it_current"),
    ("test_analysis_window.py", "test_undo_restores_the_previous_z"),
    ("test_analysis_window.py", "test_clicking_a_map_point_updates_sliders_and_canvas"),
    ("test_analysis_window.py", "test_copy_image_latent_state_json"),
]
MUST_FAIL = {
    "decoder-ignores-z": [
        ("test_app.py", "test_moving_a_slider_changes_the_image"),                          # slider
        ("test_app.py", "test_the_worker_renders_only_the_newest_request"),
        ("test_analysis_window.py", "test_undo_restores_the_previous_z"),                   # undo
        ("test_app_models.py", "test_clicking_a_sample_makes_it_current"),                  # sampling
        ("test_app_models.py", "test_new_sample_takes_the_next_seed"),
        ("test_interpolation_panel.py", "test_new_model_gives_a_strip_whose_ends_are_a_and_b"),  # interpolation
        ("test_interpolation_panel.py", "test_export_gif_has_n_frames"),
        ("test_analysis_window.py", "test_interpolation_gif_export_from_the_window"),
        ("test_analysis_window.py", "test_clicking_a_map_point_updates_sliders_and_canvas"),  # map
        ("test_score_panel.py", "test_dropped_files_are_queued_scored_and_listed"),          # score
        ("test_analysis_window.py", "test_dropping_a_garment_and_a_digit"),
    ],
    "canvas-frozen": _FRAME_TESTS,
    "screen-frozen": _FRAME_TESTS,
}


# ------------------------------------------------------------------------------------------- mutations
def _zero_latent_in_decoders(root: Path) -> list[str]:
    """Insert ``z = z * 0`` as the first statement of every concrete ``decode(self, z, ...)`` in models/."""
    changed = []
    for py in sorted((root / "models").rglob("*.py")):
        text = py.read_text(encoding="utf-8")
        if "def decode" not in text:
            continue
        tree = ast.parse(text)
        lines = text.splitlines(keepends=True)
        inserts = []
        for node in ast.walk(tree):
            if not (isinstance(node, ast.FunctionDef) and node.name == "decode"):
                continue
            args = [a.arg for a in node.args.args]
            if len(args) < 2 or args[0] != "self":
                continue
            body = node.body
            first = body[0]
            is_doc = isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant) \
                and isinstance(first.value.value, str)
            if is_doc and len(body) == 1:
                continue                                  # abstract: only a docstring
            anchor = body[1] if is_doc else first
            indent = " " * anchor.col_offset
            z = args[1]
            stmt = (f"{indent}{z} = (__import__('torch').as_tensor({z}) * 0)  # MUTATION: the decoder ignores "
                    f"its latent\n")
            inserts.append((anchor.lineno - 1, stmt))
        for lineno, stmt in sorted(inserts, reverse=True):
            lines.insert(lineno, stmt)
        if inserts:
            py.write_text("".join(lines), encoding="utf-8")
            changed.append(f"{py.relative_to(root)} ({len(inserts)} decode)")
    if not changed:
        raise SystemExit("decoder-ignores-z: no concrete decode(self, z) found in models/; update the mutation")
    return changed


def _edit(path: Path, pattern: str, replacement: str, what: str) -> str:
    text = path.read_text(encoding="utf-8")
    new, n = re.subn(pattern, replacement, text, count=1, flags=re.MULTILINE)
    if n != 1:
        raise SystemExit(f"{what}: the code it edits in {path.name} has moved (pattern {pattern!r}); update the "
                         f"mutation in benchmarks/mutation_check.py")
    path.write_text(new, encoding="utf-8")
    return str(path.relative_to(path.parents[2]))


def _freeze_canvas(root: Path) -> list[str]:
    """``Canvas.set_image`` keeps the first frame's pixels (token and timing still advance)."""
    return [_edit(root / "explorer/app/canvas.py",
                  r"^(\s*)(first = self\._image is None[^\n]*\n)",
                  r"\1\2\1if not first:  # MUTATION: the canvas freezes after its first frame\n"
                  r"\1    image = self._image\n",
                  "canvas-frozen")]


def _freeze_screen(root: Path) -> list[str]:
    """The image item on screen keeps the first frame; ``Canvas.image()`` follows every frame."""
    return [_edit(root / "explorer/app/canvas.py",
                  r"^(\s*)self\.image_item\.setImage\(image, autoLevels=False\)\n",
                  r"\1if first:  # MUTATION: the screen freezes after the first frame\n"
                  r"\1    self.image_item.setImage(image, autoLevels=False)\n",
                  "screen-frozen")]


MUTATIONS = {"decoder-ignores-z": _zero_latent_in_decoders, "canvas-frozen": _freeze_canvas,
             "screen-frozen": _freeze_screen}


# ------------------------------------------------------------------------------------------- running
_IGNORE = shutil.ignore_patterns(".git", ".venv", "runs", "__pycache__", "*.egg-info", "*.train-state.pt",
                                 ".pytest_cache", ".mypy_cache", ".import_linter_cache")


def copy_repo(dest: Path) -> Path:
    shutil.copytree(ROOT, dest, ignore=_IGNORE, symlinks=True)
    return dest


def run_tests(root: Path, tests: list[str], timeout: float) -> dict:
    """Run each test file in ``root`` in its own pytest process with this interpreter (a crash in one
    cannot hide the others' results); {nodeid: "passed" | "failed" | "skipped"}."""
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_WAIT_POLICY": "PASSIVE", "QT_QPA_PLATFORM": "offscreen"}
    results: dict[str, str] = {}
    problems = []
    t0 = time.perf_counter()
    for test in tests:
        report = root / f"junit-{Path(test).stem}.xml"
        # --tb=line: only pass/fail matters here, and formatting long tracebacks can crash pytest itself
        # ("AST constructor recursion depth mismatch" on Python 3.11), losing the file's results
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--tb=line", f"--junitxml={report}",
               "-o", "addopts=", test]
        try:
            proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
            if proc.returncode not in (0, 1):       # 1: some tests failed; anything else: a crash or an error
                problems.append(f"{test}: pytest exited {proc.returncode}\n{(proc.stdout + proc.stderr)[-1500:]}")
        except subprocess.TimeoutExpired:
            problems.append(f"{test}: timed out after {timeout:.0f} s")
        if not report.exists():
            results[f"{Path(test).name}::(no report)"] = "failed"
            continue
        for case in ET.parse(report).getroot().iter("testcase"):
            module = next((part for part in case.get("classname", "").split(".") if part.startswith("test_")), None)
            node = f"{module or Path(test).stem}.py::{case.get('name')}"
            outcome = "passed"
            for child in case:
                if child.tag in ("failure", "error"):
                    outcome = "failed"
                elif child.tag == "skipped":
                    outcome = "skipped"
            results[node] = outcome
    return {"results": results, "seconds": round(time.perf_counter() - t0, 1), "tail": "\n".join(problems)}


def _imports_from(root: Path) -> str:
    proc = subprocess.run([sys.executable, "-c", "import models, explorer; print(models.__file__)"], cwd=root,
                          env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, text=True, timeout=120)
    return proc.stdout.strip()


def check(name: str, tests: list[str], timeout: float, keep: bool) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix=f"mutation-{name}-"))
    try:
        root = copy_repo(tmp / "repo")
        where = _imports_from(root)
        if not where.startswith(str(root)):
            raise SystemExit(f"the copy imports models from {where!r}, not from the copy: cannot test a mutation")
        edited = MUTATIONS[name](root) if name != "baseline" else []
        run = run_tests(root, tests, timeout)
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    results = run["results"]
    failed = sorted(k for k, v in results.items() if v == "failed")
    passed = sorted(k for k, v in results.items() if v == "passed")
    missed = []
    for file, fragment in MUST_FAIL.get(name, []):
        hits = [k for k in results if k.startswith(file + "::") and fragment in k]
        if not hits or any(results[k] != "failed" for k in hits):
            missed.append(f"{file}::{fragment}" + ("" if hits else " (not run)"))
    ok = (not failed and bool(passed)) if name == "baseline" else not missed
    return {"mutation": name, "edited": edited, "seconds": run["seconds"], "tests": len(results),
            "failed": failed, "passed": passed, "must_fail_but_passed": missed, "ok": ok,
            "pytest_tail": run["tail"]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mutation", action="append", choices=sorted(MUTATIONS),
                   help="run only this mutation (repeatable); default: all")
    p.add_argument("--baseline", action="store_true", help="also run the unmutated copy (every test must pass)")
    p.add_argument("--tests", nargs="+", default=APP_TESTS, help="test files to run (default: the app tests)")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per test file's run (a hang fails)")
    p.add_argument("--keep", action="store_true", help="keep the temporary copies")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    names = (["baseline"] if args.baseline else []) + (args.mutation or list(MUTATIONS))
    reports = []
    for name in names:
        print(f"== {name}: copying the repository and running {len(args.tests)} test files ...", file=sys.stderr,
              flush=True)
        r = check(name, args.tests, args.timeout, args.keep)
        reports.append(r)
        if not args.json:
            print(f"\n== {name}: {len(r['failed'])} of {r['tests']} app tests fail ({r['seconds']} s)"
                  + (f"; edited {', '.join(r['edited'])}" if r["edited"] else ""))
            for node in r["failed"]:
                print(f"   FAIL  {node}")
            for node in r["passed"] if name != "baseline" else []:
                print(f"   pass  {node}")
            if r["must_fail_but_passed"]:
                print("   NOT CAUGHT (these must fail under this mutation):")
                for node in r["must_fail_but_passed"]:
                    print(f"      {node}")
            if r["pytest_tail"]:
                print(r["pytest_tail"])
            print(f"   -> {'OK' if r['ok'] else 'PROBLEM'}", flush=True)
    if args.json:
        print(json.dumps(reports, indent=2))
    return 0 if all(r["ok"] for r in reports) else 1


if __name__ == "__main__":
    raise SystemExit(main())

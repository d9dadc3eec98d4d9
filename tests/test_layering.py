"""models/ (and the headless CLI) never import Qt: checked at run time and by import-linter."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
QT_PREFIXES = ("PySide6", "shiboken6", "PyQt5", "PyQt6", "pyqtgraph", "superqt", "qtpy")

#: Imports every module of models/ (and the CLI with its subcommands, errors), then lists Qt modules loaded.
_CHECK = r"""
import importlib, json, pkgutil, sys
PRELUDE
import models
names = ["models"] + [f"models.{m.name}" for m in pkgutil.iter_modules(models.__path__)]
for name in names:
    importlib.import_module(name)
import explorer.cli, explorer.errors
for name in explorer.cli.COMMANDS:
    explorer.cli._command_module(name)
qt = sorted(m for m in sys.modules if m.split(".")[0] in QT)
print(json.dumps({"imported": names, "qt": qt}))
"""


def _qt_modules_after_import(prelude: str = "") -> dict:
    code = _CHECK.replace("PRELUDE", prelude).replace("QT", repr(QT_PREFIXES))
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180, cwd=str(ROOT),
                          env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_importing_models_and_the_headless_cli_loads_no_qt():
    result = _qt_modules_after_import()
    assert len(result["imported"]) > 5
    assert result["qt"] == [], f"models/ or a headless subcommand imported Qt: {result['qt']}"


def test_the_check_would_catch_qt():
    """The guard is not vacuous: a Qt import anywhere in that process is reported."""
    pytest.importorskip("PySide6.QtCore")
    result = _qt_modules_after_import("import PySide6.QtCore")
    assert any(m.startswith("PySide6") for m in result["qt"])


def test_import_linter_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    if not lint.exists():
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    proc = subprocess.run([str(lint), "--no-cache"], capture_output=True, text=True, timeout=300, cwd=str(ROOT),
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "broken" in proc.stdout and ", 0 broken" in proc.stdout, proc.stdout[-2000:]
    # the layers inside explorer/ are checked too (app and commands never import each other)
    assert "explorer/ layers" in proc.stdout and "KEPT" in proc.stdout, proc.stdout[-2000:]


def test_the_architecture_doc_names_every_module():
    """docs/architecture.md's module maps list every module of models/ and explorer/ (new rooms get a row)."""
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = [str(p.relative_to(ROOT)) for pkg in ("models", "explorer") for p in sorted((ROOT / pkg).rglob("*.py"))
               if p.name != "__init__.py" and p.name not in doc]
    assert not missing, "add a row to docs/architecture.md for: " + ", ".join(missing)

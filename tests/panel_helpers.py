"""Shared helpers for the issue-5 panel tests (interpolation, scoring, latent map, undo)."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import contextlib  # noqa: E402
import functools  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

import models  # noqa: E402


def bundled_calibrated(name: str) -> Path:
    """The bundled checkpoint ``name`` ("vae", "beta-vae", "gan"), trained and calibrated.  Missing or
    uncalibrated is a failure, never a skip: the repository ships them (assets/README.md rebuilds them)."""
    path = models.bundled(name)
    assert path.exists(), f"{path} is missing: the repository ships it (assets/README.md says how to rebuild it)"
    model = models.load(path, device="cpu")
    cal = model.metadata.get("calibration")
    assert isinstance(cal, dict) and cal.get("quantiles"), f"{path} carries no OOD calibration: run " \
                                                           f"`latent-explorer calibrate {path}`"
    return path


@functools.lru_cache(maxsize=None)
def tiny_vae():
    """An untrained VAE (it decodes to flat grey: not for tests that look at pixels; see ``trained_vae``)."""
    from models.vae import VAEModel

    torch.manual_seed(0)
    return VAEModel.build(metadata={"name": "tiny VAE"})


@functools.lru_cache(maxsize=None)
def calibrated_vae():
    """The bundled VAE, trained and calibrated; missing or uncalibrated fails the test (CI has it)."""
    return models.load(bundled_calibrated("vae"), device="cpu")


def trained_vae():
    """The bundled trained VAE (one shared instance): for tests that look at pixels."""
    return calibrated_vae()


#: Adam steps of the calibration's local background model (models.ood_background.fit, 400 in the
#: product) in tests of the calibration's plumbing: the record, its fields, the file rewritten in place.
#: The background model feeds only the heat map (and the "local" candidate features, off in the shipped
#: statistic); at 400 steps each calibration spends 10-30 s on it, which those tests do not look at.
QUICK_BACKGROUND_STEPS = 25


@contextlib.contextmanager
def quick_background_fit(steps: int = QUICK_BACKGROUND_STEPS):
    """Within the block, calibrations fit their local background model in ``steps`` Adam steps (the same
    code, fewer steps).  Not for tests that judge the heat map of a model calibrated inside the test."""
    import pytest

    from models import ood_background

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ood_background, "fit", functools.partial(ood_background.fit, steps=steps))
        yield


_EXECUTORS: list = []


def executor():
    """A model executor for a panel made outside a window (stopped after the test by conftest)."""
    from explorer.app.model_executor import ModelExecutor

    ex = ModelExecutor()
    _EXECUTORS.append(ex)
    return ex


def stop_executors() -> int:
    """Stop every executor made by :func:`executor`; returns how many there were."""
    n = len(_EXECUTORS)
    while _EXECUTORS:
        _EXECUTORS.pop().stop()
    return n


def wait_background(qtbot, timeout: int = 20000) -> None:
    """Until every executor made by :func:`executor` is idle and its results are delivered."""
    qtbot.waitUntil(lambda: all(ex.is_idle() for ex in _EXECUTORS), timeout=timeout)
    qtbot.wait(20)


def slow_scoring(monkeypatch, ticks: int):
    """Make each score job wait ``ticks`` × 10 ms first, honouring Cancel (``job.checkpoint()``), so a
    test can cancel it.  Returns the real ``analyse``, to put back for full-speed scoring again."""
    import time

    from explorer.app import score_panel as sp

    orig = sp.analyse

    def slow(model, item, job, report):
        for _ in range(ticks):
            job.checkpoint()
            time.sleep(0.01)
        return orig(model, item, job, report)

    monkeypatch.setattr(sp, "analyse", slow)
    return orig

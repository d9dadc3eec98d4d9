"""Shared helpers for the issue-5 panel tests (interpolation, scoring, latent map, undo)."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import functools  # noqa: E402

import torch  # noqa: E402

import models  # noqa: E402


@functools.lru_cache(maxsize=None)
def tiny_vae():
    """An untrained VAE (fast to build; the bundled ones may still be training)."""
    from models.vae import VAEModel

    torch.manual_seed(0)
    return VAEModel.build(metadata={"name": "tiny VAE"})


@functools.lru_cache(maxsize=None)
def calibrated_vae():
    """The bundled VAE if it is trained and calibrated, else None (tests that need a trained model skip)."""
    path = models.bundled("vae")
    if not path.exists():
        return None
    try:
        m = models.load(path, device="cpu")
    except models.CheckpointError:
        return None
    cal = m.metadata.get("calibration")
    if not isinstance(cal, dict) or not cal.get("quantiles"):
        return None
    return m


@functools.lru_cache(maxsize=None)
def calibrated_tiny_vae():
    """The tiny VAE with a quick calibration on 200 held-out images (or, without the dataset, the
    bundled test subset's first images)."""
    from models import scoring

    m = tiny_vae()
    try:
        from models.data import fashion_mnist

        imgs = fashion_mnist("heldout").images[:200]
    except Exception:  # noqa: BLE001
        from models.bundled_data import load_subset

        imgs = torch.from_numpy(load_subset()[0][:200]).unsqueeze(1)
    scoring.calibrate(m, images=imgs, source="test")
    return m


_EXECUTORS: list = []


def executor():
    """A model executor for a panel made outside a window (stopped after the test by conftest)."""
    from explorer.app.model_executor import ModelExecutor

    ex = ModelExecutor()
    _EXECUTORS.append(ex)
    return ex


def stop_executors() -> None:
    while _EXECUTORS:
        _EXECUTORS.pop().stop()


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

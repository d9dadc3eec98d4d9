"""Shared test set-up: Qt without a screen, settings kept out of the user's home, and a window factory.

``make_window`` (a pytest-qt based factory, like napari's ``make_napari_viewer``) gives a shown
:class:`explorer.app.main_window.MainWindow` with its own QSettings file in ``tmp_path``, optionally with
a model opened and its first frame on the canvas; every window it made is closed (and its render
thread stopped) at the end of the test::

    def test_something(make_window, tiny_vae_path, frame_waiter):
        win = make_window(tiny_vae_path)
        win.latent_dock.sliders[0].setValue(1.0)
        frame_waiter(win)            # or app_helpers.wait_for_frame(win, qtbot)
"""
from __future__ import annotations

import os

# before anything imports Qt or torch
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# under pytest-xdist (pyproject's addopts) the workers share the cores: one torch thread each (read when torch
# is imported, after this), and the subprocesses that tests start inherit it
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
# unexpected errors are logged (explorer/errors.py): keep tests' entries out of the user's log directory, and
# give each xdist worker its own (a test fails on entries made while it ran: another worker's must not count)
os.environ.setdefault("LATENT_EXPLORER_LOG_DIR", __import__("tempfile").mkdtemp(prefix="latent-explorer-test-log-"))
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["LATENT_EXPLORER_LOG_DIR"] = os.path.join(os.environ["LATENT_EXPLORER_LOG_DIR"],
                                                         os.environ["PYTEST_XDIST_WORKER"])
# as the app does at start (explorer/memory.py): one malloc arena and a small oneDNN cache, so long-session
# memory stays flat
__import__("explorer.memory").memory.keep_memory_flat()

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from app_helpers import wait_for_frame  # noqa: E402  (tests/ is on sys.path)

#: where this session's unexpected errors are logged (explorer/errors.py)
_SESSION_LOG = Path(os.environ["LATENT_EXPLORER_LOG_DIR"]) / "errors.log"


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "logs_unexpected_errors: the test makes the app log an unexpected error on "
                                       "purpose (the window and panel fixtures otherwise fail on any new entry)")


def _log_size() -> int:
    return _SESSION_LOG.stat().st_size if _SESSION_LOG.exists() else 0


def _assert_no_new_log_entries(request, size_before: int) -> None:
    """Unexpected errors (a worker job that raised, a slot that crashed) are logged, not raised: a test
    that drove the app fails when its run added any, unless it is marked ``logs_unexpected_errors``."""
    if request.node.get_closest_marker("logs_unexpected_errors") or not _SESSION_LOG.exists():
        return
    text = _SESSION_LOG.read_text(errors="replace")
    new = text[size_before:] if len(text) >= size_before else text
    assert not new.strip(), f"the app logged an unexpected error during this test:\n{new[-3000:]}"


@pytest.fixture(scope="session", autouse=True)
def _isolated_app_settings(tmp_path_factory):
    """No test (or app subprocess started by a test) reads or writes the user's real settings."""
    path = tmp_path_factory.mktemp("settings") / "latent-explorer.ini"
    old = os.environ.get("LATENT_EXPLORER_SETTINGS")
    os.environ["LATENT_EXPLORER_SETTINGS"] = str(path)
    yield path
    if old is None:
        os.environ.pop("LATENT_EXPLORER_SETTINGS", None)
    else:
        os.environ["LATENT_EXPLORER_SETTINGS"] = old


@pytest.fixture(scope="session")
def trained_vae_path() -> Path:
    """The bundled VAE: trained (its decodes differ by 70+ grey levels between latents, so a stale or
    wrong frame shows) and calibrated; loads in about 15 ms.  Use it wherever a test looks at pixels."""
    from panel_helpers import bundled_calibrated

    return bundled_calibrated("vae")


@pytest.fixture(scope="session")
def trained_gan_path() -> Path:
    """The bundled GAN, trained and calibrated (pair it with a fast-directions fixture)."""
    from panel_helpers import bundled_calibrated

    return bundled_calibrated("gan")


@pytest.fixture(scope="session")
def tiny_vae_path(tmp_path_factory) -> Path:
    """An untrained VAE saved as a checkpoint: it decodes to flat grey, so it is for tests that do not
    look at pixels (refusals, routing, settings); pixel tests use ``trained_vae_path``."""
    import torch

    import models
    from models.vae import VAEModel

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("models") / "tiny-vae.safetensors"
    models.save(VAEModel.build(metadata={"name": "tiny VAE"}), path)
    return path


@pytest.fixture(scope="session")
def tiny_gan_path(tmp_path_factory) -> Path:
    """An untrained GAN saved as a checkpoint."""
    import torch

    import models
    from models.gan import GANModel

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("models") / "tiny-gan.safetensors"
    models.save(GANModel.build(metadata={"name": "tiny GAN"}), path)
    return path


@pytest.fixture
def make_window(qtbot, tmp_path, request):
    """Factory: ``make_window(checkpoint=None, *, wait=True, show=True)`` -> MainWindow.

    With a checkpoint and ``wait``, returns once the model is open and its first frame is on the
    canvas.  Settings go to ``tmp_path / "settings.ini"``.
    """
    from PySide6.QtCore import QSettings

    from explorer.app.main_window import MainWindow

    made = []
    log_before = _log_size()

    def factory(checkpoint=None, *, wait: bool = True, show: bool = True, device: str = "cpu"):
        settings = QSettings(str(tmp_path / f"settings-{len(made)}.ini"), QSettings.Format.IniFormat)
        win = MainWindow(settings=settings, device=device)
        qtbot.addWidget(win)
        made.append(win)
        if show:
            win.show()
        if checkpoint is not None:
            if wait:
                with qtbot.waitSignal(win.model_load_finished, timeout=120_000) as blocker:
                    win.open_model(checkpoint)
                assert blocker.args[0], blocker.args[1]
                wait_for_frame(win, qtbot)
            else:
                win.open_model(checkpoint)
        return win

    yield factory
    for win in made:
        win.executor.stop()
    _assert_no_new_log_entries(request, log_before)


@pytest.fixture(autouse=True)
def _stop_panel_executors(request):
    """Executors that panel tests made outside a window are stopped after each test (and, if there were
    any, the test fails on unexpected errors they logged)."""
    log_before = _log_size()
    yield
    import sys

    helpers = sys.modules.get("panel_helpers")
    if helpers is not None and helpers.stop_executors():
        _assert_no_new_log_entries(request, log_before)


@pytest.fixture
def quick_background_fit():
    """Calibrations in this test fit their local background model in a few steps
    (:func:`panel_helpers.quick_background_fit`): for tests of the calibration's plumbing, not its heat map."""
    from panel_helpers import quick_background_fit

    with quick_background_fit():
        yield


@pytest.fixture
def frame_waiter(qtbot):
    """``frame_waiter(win)``: :func:`wait_for_frame` bound to this test's qtbot."""
    return lambda win, timeout=30_000: wait_for_frame(win, qtbot, timeout)

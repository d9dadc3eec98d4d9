"""The Latent Explorer desktop app (PySide6, pyqtgraph, superqt).

``latent-explorer [FILE] [--device DEV]`` calls :func:`main`.  Importing this package is cheap: Qt,
pyqtgraph and torch are imported when a window is made (:func:`main` imports torch before Qt, see there).

The module map is in ``docs/architecture.md``: ``main_window`` is the composition root, the
``model_executor`` the one thread that calls the model, ``state`` the Qt-free-of-torch model of what
is open and where in its latent space the user is.
"""
from __future__ import annotations

import os
import sys
import time

#: set to "1" to print "first-frame <unix time>" when the first frame is painted, then quit
STARTUP_PROBE_ENV = "LATENT_EXPLORER_STARTUP_PROBE"


def create_window(checkpoint: str | os.PathLike | None = None, device: str = "auto", *, settings=None):
    """Make (but do not show) a main window, loading ``checkpoint`` or the bundled VAE."""
    from .main_window import MainWindow

    win = MainWindow(settings=settings, device=device)
    path = checkpoint if checkpoint is not None else default_checkpoint()
    if path is not None:
        win.open_model(path)
    return win


def default_checkpoint():
    """The bundled Fashion-MNIST VAE, if it is there (``import models`` is lazy: no torch here)."""
    import models

    p = models.bundled("vae")
    return p if p.exists() else None


def main(checkpoint: str | os.PathLike | None = None, device: str = "auto") -> int:
    # torch before Qt: once PySide6 is imported, its import hook (shibokensupport's feature_imported)
    # reads the source of every module imported after it, about 880 of torch's; the window needs torch
    # anyway, so importing it first costs nothing and saves that scan (benchmarks/startup_order.py)
    import torch  # noqa: F401
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("LatentExplorer")
    app.setApplicationName("latent-explorer")
    app.setApplicationDisplayName("Latent Explorer")
    win = create_window(checkpoint, device)
    if os.environ.get(STARTUP_PROBE_ENV) == "1":
        from .startup_probe import report_window_painted

        report_window_painted(win)
    win.show()
    if os.environ.get(STARTUP_PROBE_ENV) == "1":
        def first(_token: int) -> None:
            print(f"first-frame {time.time():.6f}", flush=True)
            QTimer.singleShot(0, win.close)
        win.canvas.shown.connect(first)
        win.model_load_finished.connect(lambda ok, msg: None if ok else (print(msg, file=sys.stderr),
                                                                          app.exit(2)))
    rc = app.exec()
    win.executor.stop(2000)
    if not win.executor.stopped_cleanly:
        # a long job (e.g. a model still loading) is running on the worker; destroying its QThread
        # would abort the process, so leave without tearing anything down
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(rc)
    return rc

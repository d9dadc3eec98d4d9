"""Run the real app in an X server (Xvfb), drop image files on it, wait for their scores, screenshot.

Used by tests/test_xvfb_drop.py (and to make docs/screenshot-scored.png)::

    Xvfb :97 -screen 0 1600x1000x24 &
    DISPLAY=:97 python tests/xvfb_drop_driver.py --out shot.png [--checkpoint FILE] IMAGE...

Prints one JSON line: the verdicts, the window geometry and how the screenshot was taken.
The drop is a synthetic QDropEvent carrying file URLs, sent to the window as Qt delivers a real one.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("images", nargs="+")
    p.add_argument("--out", required=True)
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--size", default="1500x940")
    p.add_argument("--timeout", type=float, default=90.0)
    args = p.parse_args()
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    settings_dir = tempfile.mkdtemp(prefix="le-xvfb-")
    os.environ["LATENT_EXPLORER_SETTINGS"] = str(Path(settings_dir) / "settings.ini")

    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    from explorer.app import create_window

    deadline = time.monotonic() + args.timeout

    def pump_until(cond, what: str) -> None:
        while not cond():
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out waiting for {what}")
            app.processEvents()
            time.sleep(0.01)

    win = create_window(args.checkpoint)
    w, h = (int(v) for v in args.size.split("x"))
    win.resize(w, h)
    win.move(0, 0)
    win.show()
    pump_until(lambda: win.state.loaded is not None, "the model to load")
    pump_until(lambda: win.canvas.image() is not None, "the first frame")
    pump_until(lambda: win.map_dock.panel.map is not None, "the latent map")

    md = QMimeData()
    md.setUrls([QUrl.fromLocalFile(str(Path(f).resolve())) for f in args.images])
    ev = QDropEvent(QPointF(win.width() / 2, win.height() / 2), Qt.DropAction.CopyAction, md,
                    Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    win.dragEnterEvent(ev)
    accepted = ev.isAccepted()
    win.dropEvent(ev)
    panel = win.score_dock.panel
    pump_until(lambda: panel.items and not panel.is_busy()
               and not any(i.status == "queued" for i in panel.items), "scoring")
    panel.select(panel.items[0])
    end = time.monotonic() + 1.0          # let the canvas, map and plots repaint
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)

    out = Path(args.out)
    how = "qt"
    if shutil.which("import"):
        r = subprocess.run(["import", "-window", "root", "-crop", f"{win.width()}x{win.height()}+0+0", str(out)],
                           capture_output=True, timeout=30)
        how = "imagemagick import" if r.returncode == 0 and out.exists() else how
    if how == "qt":
        win.screen().grabWindow(0).save(str(out), "PNG")
    result = {
        "accepted_drag": accepted,
        "items": [{"name": i.name, "status": i.status, "verdict": i.verdict,
                   "percentile": None if i.score is None else round(i.score.percentile, 1)} for i in panel.items],
        "markers": [m[0] for m in win.map_dock.panel.markers],
        "window": [win.width(), win.height()],
        "platform": app.platformName(),
        "screenshot": str(out),
        "how": how,
    }
    print(json.dumps(result), flush=True)
    win.close()
    win.executor.stop()
    shutil.rmtree(settings_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

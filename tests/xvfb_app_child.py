"""Run by tests/test_xvfb.py inside Xvfb (QT_QPA_PLATFORM=xcb): the real app in a real X window.

    python tests/xvfb_app_child.py CHECKPOINT OUT_DIR

1. opens the window on CHECKPOINT, waits for the first frame, and writes OUT_DIR/ready.json with the
   window's id and the screen position of slider 0's handle and of the canvas;
2. waits for OUT_DIR/go (the test drags the slider with xdotool meanwhile), waits for the frame of
   the state it ends in, saves OUT_DIR/window.png (QWidget.grab) and writes OUT_DIR/result.json (with
   the share of pixels that changed by >= 30 grey levels since the first frame);
3. waits for OUT_DIR/quit (the test takes a screenshot of the whole X screen meanwhile) and exits.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main() -> int:
    checkpoint, out = sys.argv[1], Path(sys.argv[2])
    from PySide6.QtCore import QPoint, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication([sys.argv[0]])
    from explorer.app import create_window

    win = create_window(checkpoint, "cpu")
    win.resize(1280, 800)
    win.move(0, 0)
    win.show()
    win.raise_()
    win.activateWindow()
    t0 = time.time()
    phase = {"ready": False, "done": False, "first": None}

    def center(widget) -> list[int]:
        p = widget.mapToGlobal(QPoint(widget.width() // 2, widget.height() // 2))
        return [p.x(), p.y()]

    def poll() -> None:
        if time.time() - t0 > 300:
            print("child: timed out", file=sys.stderr)
            app.exit(3)
            return
        have_frame = win.canvas.image() is not None and win.canvas.token == win.state.token
        if phase["done"]:
            if (out / "quit").exists():
                app.quit()
            return
        if not phase["ready"]:
            if have_frame and win.latent_dock.sliders:
                phase["first"] = win.canvas.image().copy()
                s = win.latent_dock.sliders[0]
                bar = s._slider  # the QSlider inside the labelled slider
                lo, hi = bar.minimum(), bar.maximum()
                # x of the handle at value 0 (the middle of the groove) and at the right end
                left = bar.mapToGlobal(QPoint(8, bar.height() // 2))
                right = bar.mapToGlobal(QPoint(bar.width() - 8, bar.height() // 2))
                (out / "ready.json").write_text(json.dumps({
                    "window_id": int(win.winId()), "slider_left": [left.x(), left.y()],
                    "slider_right": [right.x(), right.y()], "slider_center": center(bar),
                    "canvas_center": center(win.canvas), "range": [lo, hi],
                    "value": s.value(), "title": win.windowTitle()}))
                phase["ready"] = True
            return
        if (out / "go").exists() and have_frame and win.executor.is_idle():
            import numpy as np
            import torch

            from models.imaging import to_uint8

            loaded = win.state.loaded
            values = np.array([s.value() for s in win.latent_dock.sliders], dtype=np.float32)
            expected = to_uint8(loaded.model.decode(torch.from_numpy(loaded.z_from_values(values))[None]))[0, 0]
            shown = win.canvas.image()
            win.grab().save(str(out / "window.png"))
            (out / "result.json").write_text(json.dumps({
                "value": win.latent_dock.sliders[0].value(),
                "values": values.tolist(),
                "matches_decode": bool(np.array_equal(shown, expected)),
                "canvas_size": [win.canvas.width(), win.canvas.height()],
                "window_size": [win.width(), win.height()],
                "platform": QApplication.platformName(),
                "frame_label": win.frame_label.text(),
                "device_label": win.device_label.text(),
                "changed_share": float((np.abs(shown.astype(int) - phase["first"].astype(int)) >= 30).mean())}))
            phase["done"] = True

    timer = QTimer()
    timer.timeout.connect(poll)
    timer.start(50)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())

"""The real app in a real X window under Xvfb: a mouse drag (xdotool) moves a slider, the image is
``model.decode`` of the new values, and screenshots are saved.

Xvfb, xdotool and ImageMagick's ``import`` are part of the set-up (scripts/setup.sh): a missing one fails
the test (it would otherwise pass without the real drag it is named after).  Screenshots go to the test's
tmp_path, and also to ``$LATENT_EXPLORER_SCREENSHOTS`` when that is set (to look at them).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from xvfb_helpers import start_xvfb, stop

pytestmark = pytest.mark.xvfb

HERE = Path(__file__).resolve().parent


def _wait_file(path: Path, proc: subprocess.Popen, timeout: float = 300) -> dict:
    """The JSON the child writes to ``path``, once it is there and whole (a generous timeout catches hangs)."""
    deadline = time.time() + timeout
    while True:
        if path.exists():
            try:
                return json.loads(path.read_text())
            except json.JSONDecodeError:
                pass                     # still being written
        if proc.poll() is not None and not path.exists():
            out, err = proc.communicate()
            pytest.fail(f"the app exited ({proc.returncode}) before writing {path.name}:\n{err[-3000:]}")
        if time.time() > deadline:
            proc.kill()
            pytest.fail(f"timed out waiting for {path.name}")
        time.sleep(0.05)


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is not installed: `bash scripts/setup.sh` installs it (apt: xvfb xdotool imagemagick)")
    return path


def test_the_app_in_a_real_x_window(tmp_path, trained_vae_path):
    checkpoint = trained_vae_path
    _need("Xvfb")
    xdotool, imagemagick = _need("xdotool"), _need("import")
    xvfb, display = start_xvfb()
    env = dict(os.environ, DISPLAY=display, QT_QPA_PLATFORM="xcb",
               LATENT_EXPLORER_SETTINGS=str(tmp_path / "settings.ini"))
    env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent), env.get("PYTHONPATH", "")])
    child = subprocess.Popen([sys.executable, str(HERE / "xvfb_app_child.py"), str(checkpoint), str(tmp_path)],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready = _wait_file(tmp_path / "ready.json", child)
        assert ready["value"] == 0.0
        assert "Latent Explorer" in ready["title"]
        (x0, y), (x1, _) = ready["slider_center"], ready["slider_right"]
        # a real drag of slider 0's handle (it starts in the middle) three quarters to the right
        target = x0 + int(0.75 * (x1 - x0))
        cmds = [["mousemove", "--sync", str(x0), str(y)], ["mousedown", "1"]]
        cmds += [["mousemove", "--sync", str(x0 + (target - x0) * k // 8), str(y)] for k in range(1, 9)]
        cmds += [["mouseup", "1"]]
        for c in cmds:
            subprocess.run([xdotool, *c], env=env, check=True, timeout=30)
        (tmp_path / "go").write_text("go")
        result = _wait_file(tmp_path / "result.json", child)    # the child saw the drag's last frame
        # ImageMagick: the whole X screen, as a user would see it
        subprocess.run([imagemagick, "-window", "root", str(tmp_path / "screen.png")], env=env, timeout=60,
                       check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        (tmp_path / "quit").write_text("quit")
        child.wait(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
        stop(xvfb)

    keep = os.environ.get("LATENT_EXPLORER_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for name in ("window.png", "screen.png"):
            if (tmp_path / name).exists():
                shutil.copy(tmp_path / name, Path(keep) / name)

    assert result["platform"] == "xcb"
    assert result["matches_decode"], result
    assert result["value"] > 0.2, f"the mouse drag did not move the slider: {result}"
    assert result["changed_share"] >= 0.05, f"the drag did not change the picture visibly: {result}"
    canvas_w, canvas_h = result["canvas_size"]
    assert canvas_w >= 280 and canvas_h >= 280, result  # the image is big, not a thumbnail
    shot = tmp_path / "window.png"
    assert shot.exists() and shot.stat().st_size > 10_000

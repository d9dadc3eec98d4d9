"""One real window under Xvfb: drop image files on the app, wait for the verdicts, take a screenshot.

Always with the bundled trained, calibrated VAE; Xvfb is part of the set-up (scripts/setup.sh), so a
missing one fails.  Set LATENT_EXPLORER_SCREENSHOT=path to keep the screenshot (that is how
docs/screenshot-scored.png is made).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from models.bundled_data import SAMPLES_DIR
from xvfb_helpers import start_xvfb, stop

pytestmark = pytest.mark.xvfb
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def xvfb_display():
    proc, display = start_xvfb("1600x1000x24")
    yield display
    stop(proc)


def test_dropping_files_on_a_real_window_scores_them(xvfb_display, tmp_path, trained_vae_path):
    out = Path(os.environ.get("LATENT_EXPLORER_SCREENSHOT") or tmp_path / "scored.png")
    cmd = [sys.executable, str(ROOT / "tests" / "xvfb_drop_driver.py"), "--checkpoint", str(trained_vae_path),
           "--timeout", "300", "--out", str(out),
           str(SAMPLES_DIR / "foreign-digit-3.png"), str(SAMPLES_DIR / "sneaker.png")]
    env = {**os.environ, "DISPLAY": xvfb_display, "QT_QPA_PLATFORM": "xcb"}
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result["platform"] == "xcb" and result["accepted_drag"]
    assert [i["status"] for i in result["items"]] == ["done", "done"]
    assert result["markers"] == ["foreign-digit-3.png", "sneaker.png"]
    assert [i["verdict"] for i in result["items"]] == ["out-of-distribution", "in-distribution"]
    from PIL import Image

    with Image.open(out) as im:
        assert im.size == tuple(result["window"])
        a = np.asarray(im.convert("RGB"))
    assert a.std() > 20                         # a drawn window, not a blank screen
    # the verdict's red shows somewhere (the list row and the OUT-OF-DISTRIBUTION label)
    red = (a[..., 0] > 180) & (a[..., 1] < 110) & (a[..., 2] < 110)
    assert red.sum() > 200

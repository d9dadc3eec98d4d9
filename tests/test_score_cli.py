"""`latent-explorer score` and `calibrate` as a user runs them: files, folders, .npy arrays, bad files
(through ``explorer.cli.main`` in this process, tests/cli_helpers.py)."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image

import models
from models import ood_sets
from models.data import fashion_mnist

FIELDS = ["source", "index", "log_likelihood_nats", "bits_per_dim", "ood_statistic", "percentile", "verdict",
          "method", "approximate"]


def _cli(*args, check=True):
    from cli_helpers import run_cli

    return run_cli(*args, check=check)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("score")
    garments = fashion_mnist("test").images[:6, 0].numpy()
    digits = ood_sets.digits(4)[:, 0].numpy()
    folder = d / "pictures"
    (folder / "sub").mkdir(parents=True)
    Image.fromarray(garments[0]).save(folder / "garment.png")
    Image.fromarray(255 - np.asarray(Image.fromarray(digits[1]).resize((120, 90)))).convert("RGB").save(
        folder / "sub" / "digit.jpg")
    (folder / "notes.txt").write_text("not an image, ignored")
    np.save(d / "three.npy", garments[:3])                       # (N, 28, 28)
    np.save(d / "digits4d.npy", digits[:, None])                  # (N, 1, 28, 28)
    (d / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    np.save(d / "wrong_shape.npy", np.zeros((2, 30, 30), np.uint8))
    return d


def _check_rows(rows):
    assert isinstance(rows, list) and rows
    for r in rows:
        assert list(r) == FIELDS
        assert r["verdict"] in (models.IN_DISTRIBUTION, models.OUT_OF_DISTRIBUTION)
        assert 0.0 <= r["percentile"] <= 100.0 and isinstance(r["ood_statistic"], float)


def test_score_json_on_a_file_a_folder_and_npy_arrays(inputs):
    d = inputs
    proc = _cli("score", "--json", "--k", "4", str(d / "pictures" / "garment.png"), str(d / "pictures"),
                str(d / "three.npy"), str(d / "digits4d.npy"))
    rows = json.loads(proc.stdout)
    _check_rows(rows)
    sources = [(os.path.basename(r["source"]), r["index"]) for r in rows]
    assert sources == [("garment.png", 0), ("garment.png", 0), ("digit.jpg", 0),
                       ("three.npy", 0), ("three.npy", 1), ("three.npy", 2),
                       ("digits4d.npy", 0), ("digits4d.npy", 1), ("digits4d.npy", 2), ("digits4d.npy", 3)]
    assert all(r["log_likelihood_nats"] < 0 and r["bits_per_dim"] > 0 for r in rows)
    assert all("IWAE K=4" in r["method"] for r in rows)
    assert all(r["approximate"] is False for r in rows)        # a VAE's verdict rests on its likelihood
    by = {(os.path.basename(r["source"]), r["index"]): r for r in rows}
    digit_pct = np.mean([by[("digits4d.npy", i)]["percentile"] for i in range(4)])
    garment_pct = np.mean([by[("three.npy", i)]["percentile"] for i in range(3)])
    assert digit_pct > garment_pct
    # the same image as a PNG file and inside an .npy gets the same numbers
    assert by[("garment.png", 0)]["ood_statistic"] == pytest.approx(by[("three.npy", 0)]["ood_statistic"])


def test_bad_files_get_one_line_each_and_the_rest_are_scored(inputs):
    d = inputs
    proc = _cli("score", "--json", "--k", "2", str(d / "broken.png"), str(d / "three.npy"),
                str(d / "wrong_shape.npy"), str(d / "missing.png"), check=False)
    assert proc.returncode == 1
    rows = json.loads(proc.stdout)
    # the failed files are rows too, in input order, with an error field and no numbers
    assert [(os.path.basename(r["source"]), r["index"]) for r in rows] == [
        ("broken.png", None), ("three.npy", 0), ("three.npy", 1), ("three.npy", 2), ("wrong_shape.npy", None),
        ("missing.png", None)]
    failed = [r for r in rows if r["index"] is None]
    assert all(list(r) == [*FIELDS, "error"] and r["verdict"] is None and r["ood_statistic"] is None
               and os.path.basename(r["source"]) in r["error"] for r in failed)
    _check_rows([r for r in rows if r["index"] is not None])
    errors = [ln for ln in proc.stderr.splitlines() if "error" in ln]
    assert len(errors) == 3 and "Traceback" not in proc.stderr
    assert any("broken.png" in ln for ln in errors) and any("wrong_shape.npy" in ln for ln in errors)
    assert any("missing.png" in ln for ln in errors)


def test_score_json_lists_the_failures_even_when_nothing_could_be_scored(inputs):
    d = inputs
    proc = _cli("score", "--json", str(d / "broken.png"), check=False)
    assert proc.returncode == 2
    [row] = json.loads(proc.stdout)
    assert row["source"].endswith("broken.png") and "broken.png" in row["error"] and row["index"] is None


def test_score_gan_has_no_likelihood_and_table_output(inputs):
    d = inputs
    rows = json.loads(_cli("score", "--json", "--model", str(models.bundled("gan")), str(d / "three.npy")).stdout)
    _check_rows(rows)
    assert all(r["log_likelihood_nats"] is None and r["bits_per_dim"] is None for r in rows)
    assert all("approximation" in r["method"] for r in rows)
    assert all(r["approximate"] is True for r in rows)         # marked in the JSON, not only in prose
    gan_text = _cli("score", "--model", str(models.bundled("gan")), str(d / "three.npy")).stdout
    assert gan_text.count("(approximation: no likelihood)") == 3, gan_text
    text = _cli("score", "--k", "2", "--model", str(models.bundled("beta-vae")), str(d / "pictures")).stdout
    assert "garment.png" in text and "digit.jpg" in text and "bits/dim" in text and "distribution" in text


def test_calibrate_command_writes_a_calibration(tmp_path, quick_background_fit):
    out = tmp_path / "vae-recal.safetensors"
    proc = _cli("calibrate", str(models.bundled("vae")), "--fpr", "0.1", "--out", str(out), "--max-images", "400")
    assert "threshold" in proc.stdout
    m = models.load(out, device="cpu")
    cal = m.metadata["calibration"]
    assert cal["fpr"] == 0.1 and cal["source"] == "fashion-mnist/heldout" and cal["n"] == 200
    assert "path" not in m.metadata["calibration"]
    proc = _cli("calibrate", str(tmp_path / "nothing.safetensors"), check=False)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1

"""`latent-explorer calibrate MODEL --data FOLDER` on models made elsewhere: a labelled approximation of
an OOD verdict (reconstruction residual, WebP length and code norm; no likelihood), stored beside the
model and used by `score` and the app from then on.

The held-in folder is the decoder's own samples (as PNGs): by construction in distribution for it.
"""
from __future__ import annotations

import json
from pathlib import Path

import foreign_builders as fb
import numpy as np
import pytest
import torch
from PIL import Image

import models
from explorer.cli import main as cli
from models.imaging import to_uint8

HELD_IN = 80
installed_plugin = fb.installed_plugin


def _write_pngs(folder: Path, images: torch.Tensor, stem: str = "s") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, a in enumerate(np.asarray(images)):
        Image.fromarray(a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)).save(folder / f"{stem}{i:03d}.png")
    return folder


def _samples(path: Path, n: int, seed: int) -> torch.Tensor:
    return torch.from_numpy(to_uint8(models.load(path, device="cpu").sample(n, seed=seed)))


def _noise(folder: Path, n: int, shape) -> list[Path]:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        a = rng.integers(0, 256, (shape[1], shape[2]) if shape[0] == 1 else (shape[1], shape[2], 3), dtype=np.uint8)
        Image.fromarray(a).save(folder / f"noise{i}.png")
        out.append(folder / f"noise{i}.png")
    return out


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """A .pt2 decoder without encoder, calibrated through the CLI on a folder of its own samples."""
    d = tmp_path_factory.mktemp("calibrated")
    model = fb.write_pt2(d / "model")
    held = _write_pngs(d / "held-in", _samples(model, HELD_IN, seed=100))
    assert cli(["calibrate", str(model), "--data", str(held)]) == 0
    return d, model


def _score(capsys, model: Path, *paths) -> list[dict]:
    capsys.readouterr()
    code = cli(["score", "--model", str(model), "--json", "--quiet", *map(str, paths)])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


def test_calibrating_a_foreign_decoder_stores_the_approximation_beside_it(calibrated):
    d, model = calibrated
    side = model.with_name("small.calibration.json")
    cal = json.loads(side.read_text())
    assert cal["approximate"] is True and cal["n_fit"] + cal["n"] == HELD_IN
    assert "no likelihood" in cal["likelihood"]
    assert models.load(model, device="cpu").metadata["calibration"]["threshold"] == cal["threshold"]
    assert model.read_bytes() == (d / "model" / "small.pt2").read_bytes()   # the model file is never rewritten


def test_after_calibrating_score_gives_approximate_verdicts_flags_noise_and_passes_held_in_like_images(
        calibrated, tmp_path, capsys):
    _, model = calibrated
    new = _write_pngs(tmp_path / "new", _samples(model, 16, seed=7))      # like the held-in images, not them
    noise = _noise(tmp_path / "noise", 3, fb.SHAPE)
    rows = _score(capsys, model, new, *noise)
    assert len(rows) == 19
    assert all(r["approximate"] is True and r["log_likelihood_nats"] is None and r["bits_per_dim"] is None
               for r in rows)
    assert all("no likelihood" in r["method"] and "approximation" in r["method"] for r in rows)
    held_in_like = [r["verdict"] for r in rows if "/new/" in r["source"].replace("\\", "/")]
    assert held_in_like.count("in-distribution") >= 13, held_in_like
    assert [r["verdict"] for r in rows if "noise" in r["source"]] == ["out-of-distribution"] * 3


def test_the_score_table_marks_the_verdict_as_an_approximation_without_a_likelihood(calibrated, tmp_path, capsys):
    _, model = calibrated
    noise = _noise(tmp_path, 1, fb.SHAPE)
    capsys.readouterr()
    assert cli(["score", "--model", str(model), "--quiet", str(noise[0])]) == 0
    out = capsys.readouterr().out
    assert "out-of-distribution (approximation: no likelihood)" in out
    assert "no likelihood (a decoder alone defines none)" in out


def test_info_names_the_approximate_calibration_and_still_no_likelihood(calibrated, capsys):
    _, model = calibrated
    capsys.readouterr()
    assert cli(["info", str(model)]) == 0
    out = capsys.readouterr().out
    assert "approximation (no likelihood)" in out and "small.calibration.json" in out
    assert "none (a decoder alone defines no likelihood)" in out


def test_a_verdict_does_not_depend_on_what_else_is_scored_with_it(calibrated):
    from models import scoring

    _, model = calibrated
    m = models.load(model, device="cpu")
    x = _samples(model, 4, seed=21)
    together = scoring.score(m, x)
    alone = scoring.score(m, x[2:3])
    assert alone[0].verdict == together[2].verdict
    assert abs(alone[0].ood_statistic - together[2].ood_statistic) < 1e-3


@pytest.mark.parametrize("kind", ["onnx", "hf"])
def test_onnx_and_hugging_face_models_calibrate_and_flag_noise(kind, tmp_path, capsys):
    pytest.importorskip("onnxruntime" if kind == "onnx" else "diffusers")
    model = fb.write_onnx(tmp_path / "m", sidecar=True) if kind == "onnx" else fb.write_hf(tmp_path / "vae")
    shape = models.load(model, device="cpu").image_shape
    held = _write_pngs(tmp_path / "held-in", _samples(model, 60, seed=100))
    assert cli(["calibrate", str(model), "--data", str(held)]) == 0
    rows = _score(capsys, model, *_noise(tmp_path / "noise", 2, shape))
    assert [(r["verdict"], r["approximate"]) for r in rows] == [("out-of-distribution", True)] * 2


def test_a_plugin_decoder_calibrates_like_the_formats(installed_plugin, tmp_path, capsys):
    toy = tmp_path / "toy.lineartoy"
    toy.write_text(json.dumps({"latent_dim": 3, "seed": 1}))
    held = _write_pngs(tmp_path / "held-in", _samples(toy, 60, seed=100))
    assert cli(["calibrate", str(toy), "--data", str(held)]) == 0
    assert (tmp_path / "toy.calibration.json").is_file()
    rows = _score(capsys, toy, *_noise(tmp_path / "noise", 2, (1, 16, 16)))
    assert [(r["verdict"], r["approximate"]) for r in rows] == [("out-of-distribution", True)] * 2


def test_calibrating_on_a_folder_of_odd_images_says_so_in_one_line(tmp_path, capsys):
    model = fb.write_pt2(tmp_path / "m")
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "not-a-picture.png").write_bytes(b"this is text, not a PNG")
    Image.fromarray(np.zeros((3, 500), np.uint8)).save(odd / "strip.png")            # a 3x500 sliver
    Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(odd / "tiny.png")             # 2x2 colour
    np.save(odd / "array.npy", np.zeros((5, 9, 9)))                                    # not an image file
    capsys.readouterr()
    assert cli(["calibrate", str(model), "--data", str(odd)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(odd) in err and "at least 40" in err, err
    assert not (tmp_path / "m" / "small.calibration.json").exists()
    broken = tmp_path / "broken"
    broken.mkdir()
    for i in range(3):
        (broken / f"b{i}.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    assert cli(["calibrate", str(model), "--data", str(broken)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(broken) in err and "could be read" in err, err


def test_calibrating_a_foreign_model_needs_a_folder_and_never_rewrites_it(tmp_path, capsys):
    model = fb.write_pt2(tmp_path)
    capsys.readouterr()
    assert cli(["calibrate", str(model)]) == 2
    err = capsys.readouterr().err
    assert "--data FOLDER" in err and err.count("\n") == 1
    assert cli(["calibrate", str(model), "--data", str(tmp_path), "--out", str(tmp_path / "x.pt2")]) == 2
    assert "never rewritten" in capsys.readouterr().err


def test_a_stale_or_damaged_calibration_is_ignored_with_a_note(calibrated, tmp_path):
    import shutil

    _, model = calibrated
    cal = json.loads(model.with_name("small.calibration.json").read_text())
    copy = tmp_path / "small.pt2"
    shutil.copy(model, copy)
    side = tmp_path / "small.calibration.json"
    side.write_text(json.dumps({**cal, "quantiles": cal["quantiles"][::-1]}))
    m = models.load(copy, device="cpu")
    assert "calibration" not in m.metadata and any("quantiles are damaged" in n for n in m.metadata["notes"])
    side.write_text(json.dumps(cal))
    assert models.load(copy, device="cpu").metadata["calibration"]["threshold"] == cal["threshold"]
    side.write_text(json.dumps({**cal, "source": "held\x1b[2Jin", "method_ood": "\x1b]0;owned\x07"}))
    shown = models.load(copy, device="cpu").metadata["calibration"]      # printed texts are escaped or ours
    assert "\x1b" not in shown["source"] and shown["method_ood"] == cal["method_ood"]
    other = fb.write_pt2(tmp_path / "other", latent=5)                 # another model under the same name
    other.with_name("small.calibration.json").write_text(json.dumps(cal))
    m = models.load(other, device="cpu")
    assert "calibration" not in m.metadata
    assert any("another version of the model file" in n for n in m.metadata["notes"])


def test_the_apps_score_dock_shows_the_approximate_verdict_and_no_likelihood(calibrated, qtbot):
    from explorer.app.score_details import ScoreDetails
    from explorer.app.score_panel import ScoredImage
    from models import scoring

    _, model = calibrated
    m = models.load(model, device="cpu")
    noise = torch.from_numpy(np.random.default_rng(1).integers(0, 256, (1, *fb.SHAPE), dtype=np.uint8))
    ex = scoring.explain(m, noise)[0]
    assert ex.score is not None and ex.score.approximate and ex.score.verdict == "out-of-distribution"
    details = ScoreDetails()
    qtbot.addWidget(details)
    details.set_model(m)
    details.show_item(ScoredImage(id=1, name="noise", source=None, status="done", image=noise[0, 0].numpy(),
                                  reconstruction=ex.reconstruction[0], score=ex.score, raw=ex.raw))
    assert details.verdict_label.text() == "OUT-OF-DISTRIBUTION (approximation: no likelihood)"
    assert "no likelihood" in details.ll_label.text() and "nats" not in details.ll_label.text()
    assert "approximation" in details.raw_text.text()

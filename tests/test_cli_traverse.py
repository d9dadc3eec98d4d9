"""Traversal sheets: ``models.traversal`` and ``latent-explorer traverse`` on the bundled VAE.

What a user checks on a sheet: each row changes from left to right (the direction does something), the
middle column is the base image itself, the sheet has one row per direction asked for, and a bad
argument is one clear line, not a traceback.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import models
from models import traversal
from models.imaging import to_uint8

VAE = models.bundled("vae")
pytestmark = pytest.mark.skipif(not VAE.exists(), reason="bundled VAE missing")
PAD = 2  # the grid's padding (models.imaging.grid's default)


@pytest.fixture(scope="module")
def vae():
    return models.load(VAE, device="cpu")


def _cli(*argv) -> int:
    from explorer.cli import main

    return main([str(a) for a in argv])


def _cells(path, rows: int, cols: int, h: int = 28, w: int = 28) -> np.ndarray:
    """The sheet at scale 1 cut back into its (rows, cols, h, w) grey cells."""
    with Image.open(path) as im:
        a = np.asarray(im.convert("L"), dtype=np.int16)
    assert a.shape == (rows * (h + PAD) + PAD, cols * (w + PAD) + PAD)
    def cell(r: int, c: int) -> np.ndarray:
        y, x = PAD + r * (h + PAD), PAD + c * (w + PAD)
        return a[y:y + h, x:x + w]

    return np.array([[cell(r, c) for c in range(cols)] for r in range(rows)])


def test_the_middle_column_is_the_base_decode_and_the_ends_differ_visibly(vae):
    base = vae.prior_z(1, seed=5)[0]
    sheet = traversal.traverse(vae, base, 0, steps=9)
    assert sheet.images.shape == (1, 9, 1, 28, 28)
    assert sheet.offsets.tolist() == pytest.approx([-3, -2.25, -1.5, -0.75, 0, 0.75, 1.5, 2.25, 3])
    middle = to_uint8(sheet.images[0, 4]).astype(int)
    assert np.abs(middle - to_uint8(vae.decode(base[None])[0]).astype(int)).max() <= 1
    first, last = (to_uint8(sheet.images[0, i]).astype(float) for i in (0, -1))
    assert np.abs(first - last).mean() > 10      # grey levels: the strongest unit changes the image


def test_every_direction_is_a_row_in_the_models_slider_order(vae):
    sheet = traversal.traverse(vae, steps=3)
    assert sheet.images.shape[:2] == (vae.latent_dim, 3)
    assert [d.name for d in sheet.directions] == [d.name for d in vae.directions()]
    assert torch.equal(sheet.base, torch.zeros(vae.latent_dim))


@pytest.mark.parametrize("direction, message", [
    (99, "between 0 and 63"), ("x", "an index from 0 to 63"), ([], "none")])
def test_the_library_refuses_a_direction_the_model_does_not_have(vae, direction, message):
    with pytest.raises(traversal.TraversalError, match=message):
        traversal.traverse(vae, direction=direction)


def test_cli_sheet_of_one_direction_around_a_seed(tmp_path, vae, capsys):
    out = tmp_path / "sheet.png"
    assert _cli("traverse", VAE, "--direction", 0, "--steps", 7, "--seed", 3, "--scale", 1, "--out", out,
                "--device", "cpu") == 0
    assert "1 direction × 7 steps over ±3σ around seed 3" in capsys.readouterr().out
    cells = _cells(out, 1, 7)
    base = to_uint8(vae.decode(vae.prior_z(1, seed=3))[0, 0]).astype(int)
    assert np.abs(cells[0, 3] - base).max() <= 1
    assert np.abs(cells[0, 0] - cells[0, -1]).mean() > 10
    # neighbouring columns change gradually: no step jumps more than the whole sweep
    steps = [np.abs(cells[0, i + 1] - cells[0, i]).mean() for i in range(6)]
    assert max(steps) < np.abs(cells[0, 0] - cells[0, -1]).mean()


def test_cli_sheet_of_every_direction_around_an_image_with_labels_as_jpeg(tmp_path, vae, capsys):
    from models.bundled_data import SAMPLES_DIR

    plain, labelled = tmp_path / "plain.png", tmp_path / "labelled.jpg"
    assert _cli("traverse", VAE, "--image", SAMPLES_DIR / "bag.png", "--steps", 5, "--scale", 1, "--out", plain,
                "--device", "cpu") == 0
    cells = _cells(plain, vae.latent_dim, 5)
    assert all(np.abs(cells[r, 2] - cells[0, 2]).max() == 0 for r in range(vae.latent_dim))  # one base
    assert _cli("traverse", VAE, "--image", SAMPLES_DIR / "bag.png", "--steps", 5, "--scale", 1, "--labels",
                "--out", labelled, "--device", "cpu") == 0
    with Image.open(labelled) as im, Image.open(plain) as ref:
        assert im.format == "JPEG"
        assert im.height == ref.height and im.width > ref.width       # a label margin at the left
        margin = np.asarray(im.convert("L"))[:, :im.width - ref.width]
        assert margin.max() > 128                                      # with text in it


@pytest.mark.parametrize("args, message", [
    (["--direction", "99"], "--direction 99: direction must be between 0 and 63"),
    (["--direction", "two"], "--direction two: direction must be an index from 0 to 63"),
    (["--steps", "1"], "--steps must be between 2 and 101, got 1"),
    (["--range", "0"], "--range must be a positive number of σ up to 10, got 0"),
    (["--range", "nan"], "--range must be a positive number of σ up to 10, got nan"),
    (["--scale", "0"], "--scale must be between 1 and 64, got 0"),
    (["--image", "missing.png"], "--image missing.png: no such file"),
    (["--out", "sheet.bmp"], "--out sheet.bmp ends in '.bmp'; the image format is chosen by the suffix: .png, .jpg"),
], ids=["direction-range", "direction-word", "steps", "range-zero", "range-nan", "scale", "image", "suffix"])
def test_cli_bad_arguments_are_one_line_naming_the_option(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    argv = ["traverse", VAE, "--out", "sheet.png", *args]
    assert _cli(*argv) == 2
    captured = capsys.readouterr()
    [line] = captured.err.splitlines()
    assert line.startswith("latent-explorer: error: ") and message in line, line
    assert captured.out == "" and not list(tmp_path.iterdir())

"""Images the command line writes: the bytes are the format ``--out``'s suffix names, or the suffix is
refused before any work; and ``sample``'s prior scale is checked and named as the app names it."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import models

VAE, GAN = models.bundled("vae"), models.bundled("gan")
pytestmark = pytest.mark.skipif(not (VAE.exists() and GAN.exists()), reason="bundled models missing")


def _cli(*argv) -> int:
    from explorer.cli import main

    return main([str(a) for a in argv])


def _one_error_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("latent-explorer: error: "), captured.err
    assert "Traceback" not in captured.err
    return lines[0]


@pytest.mark.parametrize("suffix, fmt", [(".jpg", "JPEG"), (".jpeg", "JPEG"), (".JPG", "JPEG"), (".webp", "WEBP"),
                                         (".gif", "GIF"), (".png", "PNG")])
def test_sample_writes_the_format_its_suffix_names(tmp_path, suffix, fmt):
    out = tmp_path / f"grid{suffix}"
    assert _cli("sample", VAE, "-n", 4, "--scale", 1, "--out", out, "--device", "cpu") == 0
    with Image.open(out) as im:
        assert im.format == fmt
        assert im.size == (2 * 28 + 3 * 2, 2 * 28 + 3 * 2)
    if fmt != "JPEG":   # the lossless formats hold exactly the PNG's pixels
        ref = tmp_path / "ref.png"
        _cli("sample", VAE, "-n", 4, "--scale", 1, "--out", ref, "--device", "cpu")
        with Image.open(out) as im, Image.open(ref) as r:
            assert np.array_equal(np.asarray(im.convert("L")), np.asarray(r.convert("L")))


@pytest.mark.parametrize("command", [["sample", VAE, "-n", 1], ["interpolate", VAE, "--from", 0, "--to", 1],
                                     ["traverse", VAE, "--direction", 0]], ids=["sample", "interpolate", "traverse"])
def test_an_unknown_suffix_is_refused_with_the_supported_ones_and_nothing_is_written(tmp_path, capsys, command):
    out = tmp_path / "picture.bmp"
    assert _cli(*command, "--out", out) == 2
    line = _one_error_line(capsys)
    assert "picture.bmp ends in '.bmp'" in line
    assert all(s in line for s in (".png", ".jpg", ".webp", ".gif")), line
    assert not out.exists()


def test_interpolate_writes_a_jpeg_strip_and_a_gif_animation(tmp_path):
    strip, gif = tmp_path / "strip.jpg", tmp_path / "walk.gif"
    assert _cli("interpolate", VAE, "--from", 0, "--to", 1, "--steps", 4, "--scale", 1, "--out", strip) == 0
    assert _cli("interpolate", VAE, "--from", 0, "--to", 1, "--steps", 4, "--scale", 1, "--out", gif) == 0
    with Image.open(strip) as im:
        assert im.format == "JPEG" and im.size == (4 * 28 + 5 * 2, 28 + 2 * 2)
    with Image.open(gif) as im:
        assert im.format == "GIF" and im.n_frames == 4


@pytest.mark.parametrize("value", ["-1", "0", "nan", "inf"])
@pytest.mark.parametrize("option", ["--temperature", "--truncation"])
def test_sample_refuses_a_scale_that_is_not_a_positive_number(tmp_path, capsys, option, value):
    out = tmp_path / "grid.png"
    assert _cli("sample", VAE, "-n", 1, option, value, "--out", out) == 2
    line = _one_error_line(capsys)
    assert f"{option} must be a positive number" in line and f"got {float(value):g}" in line
    assert not out.exists()


def test_gan_sample_says_truncation_and_a_vae_says_temperature(tmp_path, capsys):
    assert _cli("sample", GAN, "-n", 1, "--truncation", 0.7, "--out", tmp_path / "g.png", "--device", "cpu") == 0
    gan_line = capsys.readouterr().out
    assert "(1 sample, seed 0, truncation (scales z) 0.7)" in gan_line and "temperature" not in gan_line
    assert _cli("sample", VAE, "-n", 2, "--temperature", 0.5, "--out", tmp_path / "v.png", "--device", "cpu") == 0
    assert "(2 samples, seed 0, temperature 0.5)" in capsys.readouterr().out


def test_truncation_and_temperature_are_the_same_scale_of_z(tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    assert _cli("sample", GAN, "-n", 4, "--truncation", 0.5, "--out", a, "--device", "cpu") == 0
    assert _cli("sample", GAN, "-n", 4, "--temperature", 0.5, "--out", b, "--device", "cpu") == 0
    assert a.read_bytes() == b.read_bytes()


def test_sample_help_names_truncation_for_gans(capsys):
    with pytest.raises(SystemExit):
        _cli("sample", "--help")
    text = " ".join(capsys.readouterr().out.split())
    assert "--truncation T GAN: truncation, which here scales z" in text

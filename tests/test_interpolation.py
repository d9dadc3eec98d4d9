"""Interpolation: endpoints reproduce A and B, slerp keeps norms, GIFs and strips from the CLI."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

import models
from models import interpolation as interp
from models.vae import VAEModel


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """A small untrained VAE saved like a real checkpoint (fast; the bundled ones may still be training)."""
    torch.manual_seed(0)
    m = VAEModel.build()
    path = tmp_path_factory.mktemp("ckpt") / "tiny-vae.safetensors"
    models.save(m, path, name="tiny VAE")
    return path


@pytest.fixture(scope="module")
def model(model_path):
    return models.load(model_path, device="cpu")


@pytest.mark.parametrize("method", ["lerp", "slerp"])
def test_path_endpoints_reproduce_a_and_b(method):
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(16, generator=g), torch.randn(16, generator=g) * 3
    zs = interp.path(a, b, 9, method)
    assert zs.shape == (9, 16)
    assert torch.allclose(zs[0], a, atol=1e-6) and torch.allclose(zs[-1], b, atol=1e-6)


def test_decoded_endpoints_are_the_images_of_a_and_b(model):
    a, b = model.prior_z(1, seed=1)[0], model.prior_z(1, seed=2)[0]
    frames = interp.frames(model, a, b, 5, "slerp")
    assert torch.allclose(frames[0], model.decode(a[None])[0], atol=1e-5)
    assert torch.allclose(frames[-1], model.decode(b[None])[0], atol=1e-5)


def test_slerp_keeps_equal_norms_and_blends_unequal_ones_linearly():
    g = torch.Generator().manual_seed(1)
    a = torch.randn(32, generator=g)
    b = torch.randn(32, generator=g)
    b = b / b.norm() * a.norm()
    norms = interp.path(a, b, 11, "slerp").norm(dim=1)
    assert torch.allclose(norms, torch.full_like(norms, float(a.norm())), rtol=1e-5)
    # lerp cuts through the inside of the shell: its midpoint is shorter
    assert float(interp.path(a, b, 11, "lerp").norm(dim=1)[5]) < 0.9 * float(a.norm())
    c = 3.0 * b
    norms = interp.path(a, c, 5, "slerp").norm(dim=1).double()
    expected = torch.linspace(float(a.norm()), float(c.norm()), 5, dtype=torch.float64)
    assert torch.allclose(norms, expected, rtol=1e-5)


def test_slerp_moves_along_the_great_circle_at_constant_angular_speed():
    a = torch.tensor([1.0, 0.0, 0.0])
    b = torch.tensor([0.0, 2.0, 0.0])
    zs = interp.path(a, b, 3, "slerp")
    mid = zs[1] / zs[1].norm()
    assert torch.allclose(mid, torch.tensor([math.sqrt(0.5), math.sqrt(0.5), 0.0]), atol=1e-6)
    assert math.isclose(float(zs[1].norm()), 1.5, rel_tol=1e-6)


def test_slerp_degenerate_endpoints_do_not_produce_nan():
    a = torch.tensor([1.0, 2.0, 3.0])
    for b in (a.clone(), 2 * a, -a, torch.zeros(3)):
        zs = interp.path(a, b, 7, "slerp")
        assert torch.isfinite(zs).all()
        assert torch.allclose(zs[0], a) and torch.allclose(zs[-1], b, atol=1e-6)
    norms = interp.path(a, -a, 7, "slerp").norm(dim=1)   # opposite: still on the sphere
    assert torch.allclose(norms, torch.full_like(norms, float(a.norm())), rtol=1e-5)


def test_bad_arguments_raise_clear_errors():
    a = torch.zeros(4)
    with pytest.raises(ValueError, match="steps"):
        interp.path(a, a, 1)
    with pytest.raises(ValueError, match="method"):
        interp.path(a, a, 4, "cubic")
    with pytest.raises(ValueError, match="same length"):
        interp.path(a, torch.zeros(5), 4)
    with pytest.raises(ValueError, match="NaN"):
        interp.path(a, torch.full((4,), float("nan")), 4)


def _cli(*argv):
    from explorer.cli import main

    return main([str(a) for a in argv])


def test_cli_gif_from_seeds_has_n_frames_of_the_right_size(model_path, tmp_path, capsys):
    out = tmp_path / "walk.gif"
    assert _cli("interpolate", model_path, "--from", 3, "--to", 4, "--steps", 7, "--scale", 3,
                "--out", out, "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["frames"] == 7 and summary["kind"] == "gif"
    with Image.open(out) as im:
        assert im.n_frames == 7 and im.size == (84, 84)
        im.seek(0)
        first = np.asarray(im.convert("L"))
    m = models.load(model_path, device="cpu")
    expected = models.imaging.to_uint8(m.decode(m.prior_z(1, seed=3)))[0, 0].repeat(3, 0).repeat(3, 1)
    assert np.abs(first.astype(int) - expected.astype(int)).max() <= 1


def test_cli_png_strip_from_image_paths(model_path, tmp_path, capsys):
    from models.bundled_data import SAMPLES_DIR

    a, b = SAMPLES_DIR / "sneaker.png", SAMPLES_DIR / "trouser.png"
    out = tmp_path / "strip.png"
    assert _cli("interpolate", model_path, "--from", a, "--to", b, "--steps", 5, "--method", "lerp",
                "--scale", 1, "--out", out) == 0
    assert "5 frames" in capsys.readouterr().out
    with Image.open(out) as im:
        assert im.size == (5 * 28 + 6 * 2, 28 + 2 * 2)


def test_cli_mixes_an_image_and_a_seed_and_reports_bad_endpoints(model_path, tmp_path, capsys):
    from models.bundled_data import SAMPLES_DIR

    out = tmp_path / "mixed.gif"
    assert _cli("interpolate", model_path, "--from", SAMPLES_DIR / "bag.png", "--to", 0, "--steps", 3,
                "--out", out) == 0
    assert out.exists()
    assert _cli("interpolate", model_path, "--from", tmp_path / "nope.png", "--to", 0, "--out", out) == 2
    assert "nor an integer seed" in capsys.readouterr().err
    assert _cli("interpolate", model_path, "--from", 0, "--to", 1, "--out", tmp_path / "x.bmp") == 2
    assert ".gif (animation), .png, .jpg" in capsys.readouterr().err


def test_endpoints_are_seeds_or_images_for_the_cli_and_the_app_alike(model, tmp_path):
    from models.bundled_data import SAMPLES_DIR
    from models.intake import IntakeError, take_in

    assert interp.parse_endpoint("7") == 7
    assert interp.parse_endpoint(str(SAMPLES_DIR / "bag.png")) == SAMPLES_DIR / "bag.png"
    with pytest.raises(IntakeError, match="nor an integer seed"):
        interp.parse_endpoint(str(tmp_path / "missing.png"))
    assert torch.equal(interp.endpoint_latent(model, 7, temperature=0.5), model.prior_z(1, temperature=0.5, seed=7)[0])
    taken = take_in(SAMPLES_DIR / "bag.png")[0]
    from_path = interp.endpoint_latent(model, SAMPLES_DIR / "bag.png")
    assert from_path.shape == (model.latent_dim,)
    assert torch.equal(interp.endpoint_latent(model, taken), from_path)
    assert torch.equal(interp.endpoint_latent(model, taken.uint8.numpy()), from_path)

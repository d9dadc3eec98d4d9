"""Every bundled model loads, decodes the right shapes and ranges, and works from the CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

import models

BUNDLED = ["vae", "beta-vae", "gan"]


@pytest.fixture(scope="module", params=BUNDLED)
def bundled_model(request):
    path = models.bundled(request.param)
    assert path.exists(), f"bundled checkpoint {path} is missing; see assets/README.md to rebuild it"
    return models.load(path, device="cpu")


def test_bundled_model_decodes_images_in_range(bundled_model):
    m = bundled_model
    assert m.family in ("vae", "gan")
    assert m.image_shape == (1, 28, 28)
    z = m.prior_z(5, seed=3)
    x = m.decode(z)
    assert x.shape == (5, 1, 28, 28) and x.dtype == torch.float32
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    # a trained model draws garments, not a flat field: samples differ from each other and have contrast
    assert float(x.std(dim=0).mean()) > 0.02
    assert float(x.amax(dim=(1, 2, 3)).min()) > 0.3


def test_bundled_model_metadata_is_complete(bundled_model):
    meta = bundled_model.metadata
    assert meta["dataset"]["name"] == "fashion-mnist"
    assert len(meta["dataset"]["classes"]) == 10
    training = meta["training"]
    assert training["epochs"] >= 1 and training["command"].startswith("latent-explorer train")
    assert "metrics" in training


def test_directions_are_an_orthonormal_basis_ranked_strongest_first(bundled_model):
    dirs = bundled_model.directions()
    assert len(dirs) == bundled_model.latent_dim
    v = torch.stack([d.vector for d in dirs])
    assert torch.allclose(v @ v.T, torch.eye(len(dirs)), atol=1e-4)
    strengths = [d.strength for d in dirs]
    assert strengths == sorted(strengths, reverse=True)
    assert strengths[0] > strengths[-1]
    assert all(d.label for d in dirs)


def test_same_seed_same_images_other_seed_other_images(bundled_model):
    a = bundled_model.sample(4, seed=11)
    b = bundled_model.sample(4, seed=11)
    c = bundled_model.sample(4, seed=12)
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)


def test_encode_then_decode_resembles_the_input(bundled_model):
    from models.data import fashion_mnist

    x = fashion_mnist("test").float01()[:64]
    rec = bundled_model.decode(bundled_model.encode(x))
    err = float(((rec - x) ** 2).mean())
    baseline = float(((x - x.mean(0, keepdim=True)) ** 2).mean())  # "the average garment"
    assert err < baseline, (err, baseline)


def _in_process(*args) -> str:
    """``latent-explorer ARGS`` through ``explorer.cli.main`` in this process; its stdout (exit status 0)."""
    from cli_helpers import run_cli

    return run_cli(*args, check=True).stdout


@pytest.mark.parametrize("name", BUNDLED)
def test_cli_info_and_sample_work_on_every_bundled_model(name, tmp_path):
    path = str(models.bundled(name))
    text = _in_process("info", path)        # the subcommands import no Qt: run in this process (fast);
    info = json.loads(_in_process("info", path, "--json"))   # the console script: test_hostile_cli.py
    assert info["family"] in ("vae", "gan") and info["image_shape"] == [1, 28, 28]
    # every field the README names: family, architecture, data, training command and metrics, calibration
    m = models.load(path, device="cpu")
    assert {"name", "family", "latent_dim", "image_shape", "parameters", "config", "dataset", "training",
            "calibration"} <= set(info), sorted(info)
    assert info["family"] == m.family and info["latent_dim"] == m.latent_dim
    assert info["parameters"] == m.num_parameters() > 0
    assert info["config"] == json.loads(json.dumps(m.config))
    assert info["dataset"]["name"] == "fashion-mnist" and len(info["dataset"]["classes"]) == 10
    assert info["training"]["command"].startswith("latent-explorer train") and info["training"]["metrics"]
    assert info["calibration"]["fpr"] == 0.05 and info["calibration"]["source"] == "fashion-mnist/heldout"
    for word in ("family", "latent dim", "fashion-mnist", "latent-explorer train", "ood calibration"):
        assert word in text.lower(), (word, text)
    out = tmp_path / "grid.png"
    _in_process("sample", path, "-n", "16", "--seed", "1", "--out", str(out), "--device", "cpu")
    img = np.asarray(Image.open(out))
    assert img.ndim == 2 and img.shape[0] > 100 and img.std() > 10


def test_cli_bad_checkpoint_gives_one_line_and_no_traceback(tmp_path):
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"\x00" * 3)
    from cli_helpers import run_cli

    proc = run_cli("info", bad)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "broken.safetensors" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_temperature_and_truncation_pull_samples_toward_the_mean_latents_image(bundled_model):
    """VAE temperature and GAN truncation psi: z = psi * eps for the same eps (the seed), so lower values
    give samples nearer the mean latent's image and less varied; 0 gives that one image
    (models/base.py ``prior_z``: the pull-toward-the-mean truncation, not BigGAN's resampling).  A VAE
    with a learned prior scales the flow's base point instead: z = f^-1(T * eps), centre f^-1(0)."""
    from models.base import GenerativeModel

    m = bundled_model
    eps = GenerativeModel.prior_z(m, 64, seed=4)
    flow = getattr(m.net, "prior", None)
    for t in (0.0, 0.5, 1.5):
        expected = t * eps if flow is None else flow.inverse(t * eps).detach()
        assert torch.allclose(m.prior_z(64, temperature=t, seed=4), expected, atol=1e-5)
    mean_image = m.decode(m.prior_z(1, temperature=0.0))
    at = {t: m.sample(64, temperature=t, seed=4) for t in (0.0, 0.4, 1.0)}
    assert torch.allclose(at[0.0], mean_image.expand_as(at[0.0]), atol=1e-6)
    to_mean = {t: float((x - mean_image).abs().mean()) for t, x in at.items()}
    spread = {t: float(x.std(dim=0).mean()) for t, x in at.items()}
    assert to_mean[0.4] < 0.8 * to_mean[1.0], to_mean
    assert spread[0.4] < 0.8 * spread[1.0], spread
    # per sample too: 0.4 is nearer the mean image than 1.0 for most of the 64
    per = lambda x: (x - mean_image).abs().mean(dim=(1, 2, 3))  # noqa: E731
    assert int((per(at[0.4]) < per(at[1.0])).sum()) >= 56


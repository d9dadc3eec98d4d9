"""Every bundled model loads, decodes the right shapes and ranges, and works from the CLI."""
from __future__ import annotations

import json
import subprocess
import sys

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


def _cli(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "explorer.cli", *args], capture_output=True, text=True,
                          timeout=120)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.parametrize("name", BUNDLED)
def test_cli_info_and_sample_work_on_every_bundled_model(name, tmp_path):
    path = str(models.bundled(name))
    text = _cli("info", path).stdout
    assert "family" in text and "latent dim" in text
    info = json.loads(_cli("info", path, "--json").stdout)
    assert info["family"] in ("vae", "gan") and info["image_shape"] == [1, 28, 28]
    out = tmp_path / "grid.png"
    _cli("sample", path, "-n", "16", "--seed", "1", "--out", str(out), "--device", "cpu")
    img = np.asarray(Image.open(out))
    assert img.ndim == 2 and img.shape[0] > 100 and img.std() > 10


def test_cli_bad_checkpoint_gives_one_line_and_no_traceback(tmp_path):
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"\x00" * 3)
    proc = _cli("info", str(bad), check=False)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "broken.safetensors" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1

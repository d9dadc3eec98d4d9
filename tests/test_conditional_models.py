"""Class-conditional VAE and GAN: they draw the class asked for, keep it through a checkpoint, resume,
and ``sample``/``interpolate`` take ``--class`` (and say clearly when they cannot); unconditional
models are exactly what they were.

The models are tiny and trained for seconds on two obvious classes (tests/conditional_helpers.py):
light on the left, light on the right.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import models
from conditional_helpers import CLASSES, left_share, make_folder, trained  # noqa: I001 (tests/ is on sys.path)


def _cli(*args, cwd=None) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("latent-explorer")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "explorer.cli"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=300, cwd=cwd)


@pytest.mark.parametrize("family", ["vae", "gan"])
def test_a_conditional_model_draws_the_class_it_is_asked_for(family):
    m = models.load(trained(family), device="cpu")
    assert m.conditional and m.n_classes == 2 and m.class_names == list(CLASSES)
    left = left_share(m.sample(16, seed=0, y=0))
    right = left_share(m.sample(16, seed=0, y=1))
    # the same 16 latents: drawn as "left" the light is on the left, as "right" on the right
    assert np.median(left) > 0.75 and np.median(right) < 0.25, (left, right)
    assert (left > right).mean() >= 0.9


@pytest.mark.parametrize("family", ["vae", "gan"])
def test_a_conditional_checkpoint_round_trips_with_its_classes(family, tmp_path):
    path = trained(family)
    m = models.load(path, device="cpu")
    z = m.prior_z(4, seed=1)
    again = tmp_path / "again.safetensors"
    models.save(m, again)
    m2 = models.load(again, device="cpu")
    assert m2.config["n_classes"] == 2 and m2.class_names == list(CLASSES)
    assert m2.metadata["training"]["conditional"] is True
    if family == "vae":     # its prior per class was fitted to the training images' codes
        assert all(n > 50 for n in m2.metadata["training"]["class_prior"]["images_per_class"])
        assert torch.equal(m2.net.class_prior.mean, m.net.class_prior.mean)
    for y in (0, 1, None):
        assert torch.equal(m.decode(z, y=y), m2.decode(z, y=y))


def test_blending_the_class_embedding_moves_the_image_between_the_classes():
    from models.conditional import blend, decode_path

    m = models.load(trained("vae"), device="cpu")
    zs = m.prior_z(1, seed=2).repeat(5, 1)
    shares = left_share(decode_path(m, zs, blend(0, 1, 5, m.n_classes)))
    assert shares[0] > 0.75 and shares[-1] < 0.25, shares
    assert shares[0] > shares[2] > shares[-1], shares


def test_the_default_class_is_what_decode_draws_without_a_class():
    m = models.load(trained("vae"), device="cpu")
    z = m.prior_z(4, seed=3)
    m.set_default_class(1)
    assert torch.equal(m.decode(z), m.decode(z, y=1))
    m.set_default_class(None)
    assert not torch.equal(m.decode(z), m.decode(z, y=1))
    from models.errors import LatentExplorerError

    with pytest.raises(LatentExplorerError, match="no class 5; its classes are 0 left, 1 right"):
        m.set_default_class(5)


@pytest.mark.parametrize("family", ["vae", "gan"])
def test_unconditional_models_have_no_class_tensors_and_ignore_a_class(family):
    from models.gan import GANModel
    from models.vae import VAEModel

    torch.manual_seed(0)
    m = (VAEModel if family == "vae" else GANModel).build({})
    assert not m.conditional and m.n_classes == 0 and "n_classes" not in m.config
    assert not [k for k in m.net.state_dict() if "class" in k]
    assert torch.equal(m.sample(3, seed=0, y=4), m.sample(3, seed=0))


def test_bundled_unconditional_checkpoints_load_with_exactly_their_tensors():
    from models.checkpoint import read_checkpoint

    for name in ("vae-fmnist", "gan-fmnist"):
        path = Path(models.__file__).resolve().parent.parent / "assets" / f"{name}.safetensors"
        tensors, _ = read_checkpoint(path)
        m = models.load(path, device="cpu")
        assert not m.conditional
        assert sorted(m.net.state_dict()) == sorted(tensors)
        assert all(torch.equal(v, tensors[k]) for k, v in m.net.state_dict().items())


def test_a_conditional_run_resumes_and_refuses_a_change_of_kind(tmp_path):
    from models.training import TrainConfig, TrainingError, train

    folder = make_folder(tmp_path / "data", n=64)
    out = tmp_path / "c.safetensors"
    base = dict(family="vae", data=str(folder), out=str(out), seed=0, batch_size=32, calibrate=False, width=16)
    train(TrainConfig(epochs=1, conditional=True, **base), progress=False, log=lambda s: None)
    log: list[str] = []
    m = train(TrainConfig(epochs=2, conditional=True, resume=True, **base), progress=False, log=log.append)
    assert any("resuming" in line for line in log)
    assert m.metadata["training"]["epochs"] == 2 and m.n_classes == 2
    with pytest.raises(TrainingError, match="was trained with --conditional"):
        train(TrainConfig(epochs=3, resume=True, **base), progress=False, log=lambda s: None)


def test_conditional_training_needs_classes(tmp_path):
    from PIL import Image

    from models.training import TrainConfig, TrainingError, train

    for i in range(8):
        Image.fromarray(np.full((28, 28), i * 20, np.uint8), "L").save(tmp_path / f"{i}.png")
    cfg = TrainConfig(family="vae", data=str(tmp_path), epochs=1, out=str(tmp_path / "m.safetensors"),
                      conditional=True, calibrate=False)
    with pytest.raises(TrainingError, match="one sub-folder per class"):
        train(cfg, progress=False, log=lambda s: None)


# ------------------------------------------------------------------------------------------ CLI
def test_sample_draws_the_class_named_or_indexed(tmp_path):
    from PIL import Image

    path = trained("vae")
    for spec, left_side in (("left", True), ("1", False), ("RIGHT", False)):
        out = tmp_path / f"{spec}.png"
        r = _cli("sample", str(path), "-n", "9", "--class", spec, "--scale", "1", "--out", str(out))
        assert r.returncode == 0, r.stderr
        assert "class " + ("left" if left_side else "right") in r.stdout
        a = np.asarray(Image.open(out).convert("L")).astype(float)
        half = a.shape[1] // 2
        assert (a[:, :half].sum() > a[:, half:].sum()) == left_side


def test_sample_class_all_draws_one_column_per_class(tmp_path):
    from PIL import Image

    out = tmp_path / "all.png"
    r = _cli("sample", str(trained("vae")), "-n", "8", "--class", "all", "--scale", "1", "--out", str(out))
    assert r.returncode == 0, r.stderr
    a = np.asarray(Image.open(out).convert("L")).astype(float)
    assert a.shape == (4 * 30 + 2, 2 * 30 + 2)          # 4 rows (latents) x 2 columns (classes)
    rows = [2 + r * 30 for r in range(4)]
    first = torch.from_numpy(np.stack([a[r:r + 28, 2:30] for r in rows]) / 255)     # class "left"
    second = torch.from_numpy(np.stack([a[r:r + 28, 32:60] for r in rows]) / 255)   # class "right"
    assert (left_share(first) > left_share(second)).all()
    assert np.median(left_share(first)) > 0.75 and np.median(left_share(second)) < 0.25


def test_a_wrong_class_is_one_line_naming_the_valid_classes(tmp_path):
    r = _cli("sample", str(trained("vae")), "--class", "middle", "--out", str(tmp_path / "x.png"))
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "Traceback" not in r.stderr
    assert "has no class 'middle'; its classes are 0 left, 1 right" in r.stderr
    r = _cli("interpolate", str(trained("vae")), "--class-from", "left", "--class-to", "7",
             "--out", str(tmp_path / "x.png"))
    assert r.returncode == 2 and "has no class '7'; its classes are 0 left, 1 right" in r.stderr


def test_a_class_for_an_unconditional_model_says_it_takes_none(tmp_path, tiny_vae_path):
    r = _cli("sample", str(tiny_vae_path), "--class", "0", "--out", str(tmp_path / "x.png"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "is not class-conditional" in r.stderr and "leave out --class" in r.stderr
    assert not (tmp_path / "x.png").exists()
    r = _cli("interpolate", str(tiny_vae_path), "--class-from", "0", "--class-to", "1",
             "--out", str(tmp_path / "x.png"))
    assert r.returncode == 2 and "leave out --class-from and --class-to" in r.stderr


def test_interpolate_between_classes_at_a_fixed_z(tmp_path):
    import json

    from PIL import Image

    out = tmp_path / "path.png"
    r = _cli("interpolate", str(trained("vae")), "--class-from", "left", "--class-to", "right", "--from", "5",
             "--steps", "5", "--scale", "1", "--out", str(out), "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["class_from"] == "left" and summary["class_to"] == "right" and summary["frames"] == 5
    a = np.asarray(Image.open(out).convert("L")).astype(float) / 255
    frames = torch.from_numpy(np.stack([a[2:30, 2 + i * 30:30 + i * 30] for i in range(5)]))
    shares = left_share(frames)
    assert shares[0] > 0.75 and shares[-1] < 0.25, shares


def test_interpolate_class_options_must_make_a_path(tmp_path):
    path = str(trained("vae"))
    r = _cli("interpolate", path, "--class-from", "left", "--out", str(tmp_path / "x.png"))
    assert r.returncode == 2 and "give both --class-from and --class-to" in r.stderr
    r = _cli("interpolate", path, "--from", "1", "--out", str(tmp_path / "x.png"))
    assert r.returncode == 2 and "give --from and --to" in r.stderr
    r = _cli("interpolate", path, "--class", "left", "--class-from", "left", "--class-to", "right",
             "--out", str(tmp_path / "x.png"))
    assert r.returncode == 2 and "not both" in r.stderr


def test_train_conditional_is_refused_for_families_without_classes(tmp_path):
    r = _cli("train", "flow", "--conditional", "--out", str(tmp_path / "f.safetensors"))
    assert r.returncode == 2 and "--conditional applies to the VAE and the GAN" in r.stderr


@pytest.mark.parametrize("name", ["cvae", "cgan"])
def test_the_bundled_conditional_models_draw_each_class_differently_from_the_same_latents(name):
    from models.data import FASHION_MNIST_CLASSES

    path = models.bundled(name)
    assert path.exists(), f"bundled checkpoint {path} is missing; see assets/README.md to rebuild it"
    m = models.load(path, device="cpu")
    assert m.conditional and m.class_names == FASHION_MNIST_CLASSES
    assert "calibration" in m.metadata
    trouser, bag = (m.sample(8, seed=0, y=m.class_names.index(c)) for c in ("Trouser", "Bag"))
    # the same 8 latents: trousers are tall and narrow, bags wide; their mean images differ clearly
    width = lambda x: (x.mean(0)[0] > 0.2).float().sum(0).gt(0).sum()   # noqa: E731 - columns with light
    assert int(width(bag)) > int(width(trouser)) + 4

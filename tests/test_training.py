"""Training: a short run lowers the loss; Ctrl-C leaves the last finished epoch loadable; resume goes on.

Runs on a small folder of Fashion-MNIST images (``--data FOLDER``), so each epoch takes a second or two.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import models
from models.training import TrainConfig, state_path, train

ROOT = Path(__file__).resolve().parent.parent
N_IMAGES = 384


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    """384 Fashion-MNIST test images as PNGs in one sub-folder per class."""
    from PIL import Image

    from models.data import DataError, fashion_mnist

    try:
        split = fashion_mnist("test")
    except DataError as exc:
        pytest.skip(f"Fashion-MNIST is not installed: {exc}")
    root = tmp_path_factory.mktemp("fmnist-folder")
    for i in range(N_IMAGES):
        label = split.classes[int(split.labels[i])].replace("/", "-")
        (root / label).mkdir(exist_ok=True)
        Image.fromarray(np.asarray(split.images[i, 0]), "L").save(root / label / f"{i:04d}.png")
    return root


def _heldout_elbo_bpd(model, folder) -> float:
    from models.data import image_folder

    _, held = image_folder(folder)
    x = held.images.float() / 255.0
    torch.manual_seed(123)
    return float(-model.elbo(x).mean() / (784 * np.log(2)))


def test_a_short_training_run_lowers_the_loss(image_folder, tmp_path):
    from models.vae import VAEModel

    torch.manual_seed(0)
    before = _heldout_elbo_bpd(VAEModel.build({}), image_folder)
    log: list[str] = []
    out = tmp_path / "vae.safetensors"
    cfg = TrainConfig(family="vae", data=str(image_folder), epochs=2, out=str(out), seed=0, batch_size=32,
                      calibrate=False, command="latent-explorer train vae (test)")
    model = train(cfg, progress=False, log=log.append)
    history = model.metadata["training"]["history"]
    assert [h["epoch"] for h in history] == [1, 2]
    assert history[1]["loss_bpd"] < history[0]["loss_bpd"]
    after = _heldout_elbo_bpd(models.load(out, device="cpu"), image_folder)
    assert after < before - 0.1, (before, after)
    assert any("epoch 2/2" in line for line in log)
    assert state_path(out).exists()


def test_a_short_gan_run_writes_a_loadable_checkpoint(image_folder, tmp_path):
    out = tmp_path / "gan.safetensors"
    cfg = TrainConfig(family="gan", data=str(image_folder), epochs=1, out=str(out), seed=0, batch_size=64,
                      calibrate=False, command="latent-explorer train gan (test)")
    train(cfg, progress=False, log=lambda s: None)
    m = models.load(out, device="cpu")
    metrics = m.metadata["training"]["metrics"]
    assert all(np.isfinite(v) for k, v in metrics.items() if isinstance(v, float))
    x = m.sample(4, seed=0)
    assert x.shape == (4, 1, 28, 28) and float(x.min()) >= 0 and float(x.max()) <= 1


def _cli(*args) -> list[str]:
    script = Path(sys.executable).with_name("latent-explorer")
    return [str(script) if script.exists() else sys.executable, *([] if script.exists() else ["-m", "explorer.cli"]),
            *args]


def _epochs_in(path: Path) -> int | None:
    try:
        return int(models.load(path, device="cpu").metadata["training"]["epochs"])
    except (models.CheckpointError, KeyError):
        return None


@pytest.mark.slow
def test_ctrl_c_leaves_the_last_epoch_loadable_and_resume_continues(image_folder, tmp_path):
    out = tmp_path / "run.safetensors"
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "PYTHONUNBUFFERED": "1"}
    args = ["train", "vae", "--data", str(image_folder), "--out", str(out), "--batch-size", "32",
            "--no-calibrate", "--quiet"]
    proc = subprocess.Popen(_cli(*args, "--epochs", "500"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=str(tmp_path),
                            # a shell that starts jobs in the background (as CI may) makes them ignore
                            # SIGINT; give the child the default disposition, as a terminal would
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.time() + 600          # only catches a hang
        while not out.exists() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert out.exists(), "no checkpoint after the first epoch"
        # at once: wherever it lands (epoch 2, or the deferred-interrupt section that writes both files
        # of epoch 1), the last finished epoch must stay loadable and resumable
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr, stderr
    assert "interrupted" in stderr and "--resume" in stderr, stderr
    done = _epochs_in(out)
    assert done is not None and done >= 1, "the checkpoint left by Ctrl-C must load"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert not leftovers, leftovers

    resumed = subprocess.run(_cli(*args, "--epochs", str(done + 1), "--resume"), capture_output=True, text=True,
                             env=env, cwd=str(tmp_path), timeout=180)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming {out} after epoch {done}" in resumed.stderr
    assert _epochs_in(out) == done + 1
    history = models.load(out, device="cpu").metadata["training"]["history"]
    assert [h["epoch"] for h in history] == list(range(1, done + 2))


def test_resume_without_state_says_what_to_do(image_folder, tmp_path):
    from models.training import TrainingError

    cfg = TrainConfig(family="vae", data=str(image_folder), epochs=1, out=str(tmp_path / "none.safetensors"),
                      resume=True, calibrate=False)
    with pytest.raises(TrainingError, match="cannot resume.*start without --resume"):
        train(cfg, progress=False, log=lambda s: None)


# ------------------------------------------------------------------------------------ colour folders
def _colour_folder(root: Path, n: int, size: int) -> Path:
    """``n`` coloured squares on white, ``size`` x ``size`` PNGs, in two class sub-folders."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(n):
        sub = root / ("warm" if i % 2 else "cool")
        sub.mkdir(parents=True, exist_ok=True)
        a = np.full((size, size, 3), 255, np.uint8)
        y, x = rng.integers(0, size // 2, 2)
        a[y:y + size // 2, x:x + size // 2] = rng.integers(0, 256, 3)
        Image.fromarray(a).save(sub / f"{i:03d}.png")
    return root


def _run_cli(*args: str) -> int:
    from explorer.cli import main

    return main(list(args))


@pytest.mark.parametrize("family", ["vae", "gan"])
def test_a_colour_32px_model_trains_for_one_epoch_from_the_cli_and_samples_encodes_scores_and_reopens(
        family, tmp_path, quick_background_fit):
    from models import scoring

    folder = _colour_folder(tmp_path / "pngs", 64, 40)          # resized to 32 x 32 on the way in
    out = tmp_path / f"{family}.safetensors"
    rc = _run_cli("train", family, "--data", str(folder), "--image-size", "32", "--channels", "3", "--epochs", "1",
                  "--out", str(out), "--batch-size", "16", "--width", "8", "--latent-dim", "8", "--quiet")
    assert rc == 0
    m = models.load(out, device="cpu")
    assert m.image_shape == (3, 32, 32) and m.latent_dim == 8
    assert m.class_names == ["cool", "warm"]
    x = m.sample(5, seed=0)
    assert x.shape == (5, 3, 32, 32) and float(x.min()) >= 0 and float(x.max()) <= 1
    assert m.encode(x).shape == (5, 8)
    training = m.metadata["training"]
    assert training["epochs"] == 1 and "--image-size 32" in training["command"] and training["wall_seconds"] > 0
    # 64 images leave too few held out for a calibration; calibrate on training images to see scores work
    from models.data import image_folder

    train_split, _ = image_folder(folder, size=32, channels=3)
    scoring.calibrate(m, images=train_split.images[:48])
    scores = m.score(train_split.images[:3])
    assert len(scores) == 3 and all(np.isfinite(s.ood_statistic) for s in scores)
    if family == "vae":
        assert all(0 < s.bits_per_dim < 16 for s in scores)   # per colour dimension: C * H * W


def test_calibrate_reads_a_colour_folder_at_the_models_shape(tmp_path, quick_background_fit):
    folder = _colour_folder(tmp_path / "pngs", 480, 16)
    out = tmp_path / "vae16.safetensors"
    assert _run_cli("train", "vae", "--data", str(folder), "--epochs", "1", "--out", str(out), "--width", "4",
                    "--latent-dim", "4", "--no-calibrate", "--quiet") == 0
    assert models.load(out, device="cpu").image_shape == (3, 16, 16)      # the folder's own size and colour
    assert "calibration" not in models.load(out, device="cpu").metadata
    assert _run_cli("calibrate", str(out), "--data", str(folder)) == 0
    cal = models.load(out, device="cpu").metadata["calibration"]
    assert cal["n"] >= 20 and "heldout" in cal["source"]


def test_a_vae_with_residual_blocks_reopens_with_its_depth_and_decodes_the_same_images(image_folder, tmp_path):
    from models.vae import VAEModel

    out = tmp_path / "deep.safetensors"
    cfg = TrainConfig(family="vae", data=str(image_folder), epochs=1, out=str(out), seed=0, batch_size=64,
                      width=8, res_blocks=2, calibrate=False, command="latent-explorer train vae (test)")
    trained = train(cfg, progress=False, log=lambda _: None)
    reopened = models.load(out, device="cpu")
    plain = VAEModel.build({"channels": 8})
    assert reopened.config["res_blocks"] == 2
    assert sum(p.numel() for p in reopened.net.parameters()) > sum(p.numel() for p in plain.net.parameters())
    z = torch.randn(4, reopened.latent_dim, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(reopened.decode(z), trained.decode(z), atol=1e-6)


@pytest.mark.parametrize("family", ["vae", "gan"])
def test_cosine_decay_ends_training_near_a_zero_learning_rate_and_is_recorded(family, image_folder, tmp_path):
    out = tmp_path / "cosine.safetensors"
    cfg = TrainConfig(family=family, data=str(image_folder), epochs=2, out=str(out), seed=0, batch_size=64,
                      width=8, lr=1e-3, lr_decay="cosine", calibrate=False, command=f"latent-explorer train {family} (test)")
    model = train(cfg, progress=False, log=lambda _: None)
    assert model.metadata["training"]["lr_decay"] == "cosine"
    state = torch.load(state_path(out), map_location="cpu", weights_only=True)
    for opt in state["optimizers"]:           # every optimizer (the GAN's three) followed the schedule
        last_lr = opt["param_groups"][0]["lr"]
        start = opt["param_groups"][0]["initial_lr"]
        assert 0.0 < last_lr < 0.05 * start, (last_lr, start)

"""``train`` runs unchanged under torchrun (``--standalone``: a free local port): two CPU processes (gloo, DDP, DistributedSampler shards)
train one short epoch, rank 0 writes one checkpoint that loads, and --resume continues it."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import models

ROOT = Path(__file__).resolve().parent.parent


def _torchrun(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("torchrun")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "torch.distributed.run"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    return subprocess.run([*cmd, "--standalone", "--nproc_per_node=2", "-m", "explorer", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def fmnist():
    from models.data import DataError, fashion_mnist

    try:
        fashion_mnist("test")
    except DataError as exc:
        pytest.skip(f"Fashion-MNIST is not installed: {exc}")


@pytest.mark.slow
def test_two_processes_train_one_checkpoint_that_loads_and_resumes(fmnist, tmp_path):
    if shutil.which("torchrun") is None and not Path(sys.executable).with_name("torchrun").exists():
        pytest.skip("torchrun is not installed")
    out = tmp_path / "vae.safetensors"
    run = _torchrun("train", "vae", "--max-images", "256", "--epochs", "1", "--out", str(out), "--quiet",
                    "--no-calibrate")
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.count(f"wrote {out}") == 1          # rank 0 writes and says so, once
    model = models.load(out, device="cpu")
    training = model.metadata["training"]
    assert training["world_size"] == 2 and training["epochs"] == 1
    assert model.decode(model.prior_z(2, seed=0)).shape == (2, 1, 28, 28)
    again = _torchrun("train", "vae", "--max-images", "256", "--epochs", "2", "--out", str(out), "--quiet",
                      "--no-calibrate", "--resume")
    assert again.returncode == 0, again.stderr[-2000:]
    assert models.load(out, device="cpu").metadata["training"]["epochs"] == 2

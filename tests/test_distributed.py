"""``train`` runs unchanged under torchrun (``--standalone``: a free local port): two CPU processes (gloo, DDP, DistributedSampler shards)
train one short epoch, rank 0 writes one checkpoint that loads, and --resume continues it.  ``score`` under
torchrun deals its batches to two ranks and rank 0 prints the JSON one process prints, byte for byte."""
from __future__ import annotations

import json
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


def _needs_torchrun() -> None:
    if shutil.which("torchrun") is None and not Path(sys.executable).with_name("torchrun").exists():
        pytest.skip("torchrun is not installed")


@pytest.fixture(scope="module")
def fmnist():
    from models.data import DataError, fashion_mnist

    try:
        fashion_mnist("test")
    except DataError as exc:
        pytest.skip(f"Fashion-MNIST is not installed: {exc}")


@pytest.mark.slow
def test_two_processes_train_one_checkpoint_that_loads_and_resumes(fmnist, tmp_path):
    _needs_torchrun()
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


@pytest.mark.slow
def test_two_ranks_score_a_folder_into_the_same_json_as_one_process(fmnist, tmp_path):
    """Nine images (two PNG files, an unreadable one, a .npy of seven) in batches of two: five batches,
    dealt to two ranks; rank 0 alone prints, in input order, exactly what one process prints."""
    import numpy as np
    from PIL import Image

    from models.data import fashion_mnist

    _needs_torchrun()
    garments = fashion_mnist("test").images[:9, 0].numpy()
    folder = tmp_path / "pictures"
    folder.mkdir()
    Image.fromarray(garments[0]).save(folder / "a.png")
    (folder / "b-broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    np.save(folder / "c.npy", garments[1:8])
    Image.fromarray(garments[8]).save(folder / "d.png")
    args = ("score", "--model", str(models.bundled("vae")), "--k", "4", "--batch-size", "2", "--json",
            "--quiet", str(folder))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    one = subprocess.run([sys.executable, "-m", "explorer", *args], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=600)
    two = _torchrun(*args)
    rows = json.loads(one.stdout)
    assert [(Path(r["source"]).name, r["index"]) for r in rows] == [
        ("a.png", 0), ("b-broken.png", None), *[("c.npy", i) for i in range(7)], ("d.png", 0)]
    assert "error" in rows[1] and rows[2]["bits_per_dim"] > 0
    assert two.stdout == one.stdout                           # one JSON, same order, same numbers
    assert one.returncode == 1 and two.returncode != 0        # some input could not be read
    assert two.stderr.count("b-broken.png: not an image file") == 1   # said once, by rank 0

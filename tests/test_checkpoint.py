"""The checkpoint format: round trips are exact, seeds reproduce, bad files are refused, writes are atomic."""
from __future__ import annotations

import os
import pickle
import re
import stat
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save as st_save

import models
from models import atomic_io, checkpoint, imaging
from models.gan import GANModel
from models.vae import VAEModel



def _small(family: str, seed: int = 0):
    torch.manual_seed(seed)
    if family == "vae":
        return VAEModel.build({"latent_dim": 6, "channels": 8, "n_mix": 2, "beta": 2.0})
    return GANModel.build({"latent_dim": 8, "channels": 8})


def _perturb_batchnorm(model) -> None:
    """Give BatchNorm running stats non-default values, so a round trip that dropped buffers would show."""
    for m in model.net.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)


def _meta(path) -> dict:
    with safe_open(str(path), framework="pt") as f:
        return dict(f.metadata())


def _rewrite(src: Path, dst: Path, *, meta=None, tensors=None) -> Path:
    """Copy a checkpoint with some metadata or tensors replaced."""
    with safe_open(str(src), framework="pt") as f:
        t = {k: f.get_tensor(k) for k in f.keys()}
        m = dict(f.metadata())
    if tensors:
        t.update(tensors)
    if meta:
        m.update(meta)
    dst.write_bytes(st_save(t, metadata=m))
    return dst


# ------------------------------------------------------------------ round trips
@pytest.mark.parametrize("family", ["vae", "gan"])
def test_round_trip_gives_bit_identical_outputs(family, tmp_path):
    m = _small(family)
    _perturb_batchnorm(m)
    path = models.save(m, tmp_path / f"{family}.safetensors", name="round trip", training={"epochs": 3, "seed": 7},
                       dataset={"name": "fashion-mnist", "classes": [f"c{i}" for i in range(10)]})
    back = models.load(path, device="cpu")
    assert (back.family, back.latent_dim, back.image_shape, back.name) == (family, m.latent_dim, (1, 28, 28),
                                                                           "round trip")
    assert back.config == m.config
    assert back.metadata["training"] == {"epochs": 3, "seed": 7}
    assert back.class_names == [f"c{i}" for i in range(10)]
    for k, v in m.net.state_dict().items():
        assert torch.equal(v, back.net.state_dict()[k]), k
    z = m.prior_z(5, seed=1)
    x = torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    assert torch.equal(m.decode(z), back.decode(z))
    assert torch.equal(m.encode(x), back.encode(x))
    if family == "gan":
        assert torch.equal(m.discriminate(x), back.discriminate(x))
    else:
        assert back.beta == 2.0


@pytest.mark.parametrize("family", ["vae", "gan"])
def test_load_then_save_keeps_tensors_and_metadata(family, tmp_path):
    """(Not the bytes: safetensors writes its metadata map in no fixed order.)"""
    from safetensors.torch import load_file

    m = _small(family)
    a = models.save(m, tmp_path / "a.safetensors", name="same")
    b = models.save(models.load(a, device="cpu"), tmp_path / "b.safetensors")
    assert _meta(a) == _meta(b)
    ta, tb = load_file(str(a)), load_file(str(b))
    assert ta.keys() == tb.keys()
    assert all(torch.equal(ta[k], tb[k]) and ta[k].dtype == tb[k].dtype for k in ta)


@pytest.mark.parametrize("family", ["vae", "gan"])
def test_seeds_reproduce_across_a_reload(family, tmp_path):
    m = _small(family)
    back = models.load(models.save(m, tmp_path / "m.safetensors"), device="cpu")
    assert torch.equal(m.sample(4, seed=5), m.sample(4, seed=5))
    assert torch.equal(m.sample(4, seed=5), back.sample(4, seed=5))
    assert torch.equal(m.sample(3, seed=5, temperature=0.5), back.sample(3, seed=5, temperature=0.5))
    assert not torch.equal(m.sample(4, seed=5), m.sample(4, seed=6))


def test_our_own_pickle_layout_loads_safely(tmp_path):
    """The one .pt layout we read: {"format": TAG, "state_dict": tensors, "metadata": {...}}."""
    m = _small("vae")
    meta = _meta(models.save(m, tmp_path / "m.safetensors"))
    torch.save({"format": checkpoint.FORMAT_TAG, "state_dict": m.net.state_dict(), "metadata": meta},
               tmp_path / "m.pt")
    back = models.load(tmp_path / "m.pt", device="cpu")
    z = m.prior_z(2, seed=0)
    assert torch.equal(back.decode(z), m.decode(z))


def test_half_precision_weights_are_accepted(tmp_path):
    m = _small("vae")
    src = models.save(m, tmp_path / "m.safetensors")
    half = {k: v.half() for k, v in m.net.state_dict().items() if v.is_floating_point()}
    back = models.load(_rewrite(src, tmp_path / "half.safetensors", tensors=half), device="cpu")
    z = m.prior_z(2, seed=0)
    assert torch.allclose(back.decode(z), m.decode(z), atol=2e-2)


# ------------------------------------------------------------------ refusals (the corpus has many more)
class _Marker:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (exec, (f"open({self.path!r}, 'w').write('ran')",))


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".ckpt"])
def test_malicious_pickle_is_refused_without_running(suffix, tmp_path):
    marker = tmp_path / "MARKER"
    path = tmp_path / f"evil{suffix}"
    torch.save({"state_dict": _Marker(marker)}, path)
    with pytest.raises(models.CheckpointError) as info:
        models.load(path, device="cpu")
    assert "refused" in str(info.value) and "builtins.exec" in str(info.value)
    assert "nothing in it was run" in str(info.value)
    assert not marker.exists()
    # and the same bytes unpickled unsafely *would* have run (the test is meaningful)
    import zipfile

    with zipfile.ZipFile(path) as zf:
        data = zf.read(next(n for n in zf.namelist() if n.endswith("data.pkl")))
    assert b"exec" in data
    raw = tmp_path / "raw.pkl"
    raw.write_bytes(pickle.dumps(_Marker(marker)))
    pickle.loads(raw.read_bytes())
    assert marker.exists()


def test_future_version_asks_for_an_upgrade(tmp_path):
    src = models.save(_small("vae"), tmp_path / "m.safetensors")
    path = _rewrite(src, tmp_path / "future.safetensors", meta={"format_version": "2"})
    with pytest.raises(models.CheckpointError, match="newer version of Latent Explorer.*Upgrade"):
        models.load(path, device="cpu")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_weights_are_refused(value, tmp_path):
    m = _small("gan")
    src = models.save(m, tmp_path / "m.safetensors")
    key = "generator.fc.0.weight"
    bad = m.net.state_dict()[key].clone()
    bad[0, 0] = value
    with pytest.raises(models.CheckpointError, match=f"tensor {re.escape(key)} contains NaN or infinite"):
        models.load(_rewrite(src, tmp_path / "bad.safetensors", tensors={key: bad}), device="cpu")


def test_foreign_state_dicts_are_refused(tmp_path):
    foreign = {"conv1.weight": torch.zeros(4, 3, 3, 3), "fc.weight": torch.zeros(10, 4)}
    torch.save(foreign, tmp_path / "resnet.pth")
    with pytest.raises(models.CheckpointError, match="plain PyTorch state dict"):
        models.load(tmp_path / "resnet.pth", device="cpu")
    (tmp_path / "resnet.safetensors").write_bytes(st_save(foreign))
    with pytest.raises(models.CheckpointError, match="without Latent Explorer metadata"):
        models.load(tmp_path / "resnet.safetensors", device="cpu")


def test_missing_file_names_the_full_path(tmp_path):
    with pytest.raises(models.CheckpointError, match=re.escape(str(tmp_path / "nope.safetensors"))):
        models.load(tmp_path / "nope.safetensors")


def test_metadata_that_would_break_the_app_later_is_refused_now(tmp_path):
    src = models.save(_small("vae"), tmp_path / "m.safetensors")
    for meta, fragment in [({"directions": '{"kl": [1, 2]}'}, "directions"),
                           ({"calibration": "[1, 2]"}, "should be a JSON object"),
                           ({"dataset": '{"classes": "shirt"}'}, "class names")]:
        with pytest.raises(models.CheckpointError, match=fragment):
            models.load(_rewrite(src, tmp_path / "bad.safetensors", meta=meta), device="cpu")


def test_a_name_with_control_characters_is_cleaned(tmp_path):
    src = models.save(_small("vae"), tmp_path / "m.safetensors")
    m = models.load(_rewrite(src, tmp_path / "n.safetensors", meta={"name": "evil\x1b[2J\nname"}), device="cpu")
    assert m.name.isprintable() and "\n" not in m.name and "\x1b" not in m.name


_PEAK_OF_LOAD = """
import json, resource, sys
import models
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    models.load(sys.argv[1], device="cpu")
    message = None
except models.CheckpointError as exc:
    message = str(exc)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"peak_growth_mb": (after - before) / 1024, "message": message}))
"""


@pytest.mark.skipif(__import__("sys").platform != "linux", reason="ru_maxrss is in kB on Linux")
def test_an_absurd_architecture_costs_no_memory(tmp_path):
    """latent_dim = 10**9 would allocate ~12 TB if built for real; it is refused via the meta device, and the
    refusing process's peak memory grows by less than 100 MB (measured, in a fresh process)."""
    import json
    import subprocess
    import sys

    src = models.save(_small("vae"), tmp_path / "m.safetensors")
    config = json.loads(_meta(src)["config"])
    config["latent_dim"] = 10 ** 9
    big = _rewrite(src, tmp_path / "big.safetensors", meta={"config": json.dumps(config)})
    proc = subprocess.run([sys.executable, "-c", _PEAK_OF_LOAD, str(big)], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["message"] and "needs" in out["message"] and "big.safetensors" in out["message"], out
    assert out["peak_growth_mb"] < 100, out


# ------------------------------------------------------------------ devices
@pytest.mark.parametrize("cuda, mps, expected", [(True, True, "cuda"), (True, False, "cuda"), (False, True, "mps"),
                                                 (False, False, "cpu")])
def test_device_auto_picks_cuda_then_mps_then_cpu(cuda, mps, expected, monkeypatch, tmp_path):
    """README: ``models.load(path)`` with device="auto" (the default) picks CUDA, then MPS, then the CPU."""
    import inspect

    from models import base

    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert base.resolve_device("auto") == torch.device(expected)
    assert base.resolve_device(None) == torch.device(expected)
    assert inspect.signature(models.load).parameters["device"].default == "auto"
    if expected == "cpu":       # the one case this machine can really load into
        m = models.load(models.save(_small("vae"), tmp_path / "m.safetensors"))
        assert m.device == torch.device("cpu")


def test_asking_for_a_missing_device_names_the_available_ones(monkeypatch):
    from models import base

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA is not available here; available: cpu"):
        base.resolve_device("cuda:0")
    with pytest.raises(ValueError, match="MPS is not available here; available: cpu"):
        base.resolve_device("mps")


# ------------------------------------------------------------------ train options (README's table)
def _grey_folder(root: Path, n: int = 48, size: int = 16) -> Path:
    from PIL import Image

    gen = torch.Generator().manual_seed(0)
    for i in range(n):
        sub = root / ("a" if i % 2 else "b")
        sub.mkdir(parents=True, exist_ok=True)
        a = (torch.rand(size, size, generator=gen) * 80).to(torch.uint8)
        y, x = (int(v) for v in torch.randint(0, size // 2, (2,), generator=gen))
        a[y:y + size // 2, x:x + size // 2] = 220
        Image.fromarray(a.numpy(), "L").save(sub / f"{i:03d}.png")
    return root


def test_train_options_beta_latent_dim_and_seed_reproduce(tmp_path):
    """`train vae --beta B --latent-dim D --seed S`: the checkpoint records B and D, and the same seed gives
    bit-identical weights while another seed does not."""
    from safetensors.torch import load_file

    from explorer.cli import main

    folder = _grey_folder(tmp_path / "pngs")
    common = ["train", "vae", "--data", str(folder), "--epochs", "1", "--width", "4", "--batch-size", "16",
              "--no-calibrate", "--quiet", "--device", "cpu"]
    outs = {}
    for tag, beta, dim, seed in (("a", "2.5", "3", "7"), ("b", "2.5", "3", "7"), ("c", "2.5", "3", "8")):
        outs[tag] = tmp_path / f"{tag}.safetensors"
        assert main([*common, "--beta", beta, "--latent-dim", dim, "--seed", seed, "--out", str(outs[tag])]) == 0
    m = models.load(outs["a"], device="cpu")
    assert m.beta == 2.5 and m.latent_dim == 3 and m.metadata["training"]["seed"] == 7
    assert "--beta 2.5" in m.metadata["training"]["command"] and "--latent-dim 3" in m.metadata["training"]["command"]
    a, b, c = (load_file(str(outs[k])) for k in "abc")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), "same seed, other weights"
    assert any(not torch.equal(a[k], c[k]) for k in a if a[k].is_floating_point()), "another seed, same weights"


# ------------------------------------------------------------------ atomic writes
class _Boom(Exception):
    pass


def _fail_on_write(monkeypatch, after_bytes: int = 10):
    """Make the next file write die after ``after_bytes`` bytes, like a full disk or a kill."""
    from write_faults import fail_writes_half_way

    fail_writes_half_way(monkeypatch, _Boom("disk full"), after_bytes)


def test_a_failed_save_leaves_the_old_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    old = _small("vae", seed=0)
    models.save(old, path)
    before = path.read_bytes()
    _fail_on_write(monkeypatch)
    with pytest.raises(_Boom):
        models.save(_small("vae", seed=1), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"], "temporary file left behind"
    models.load(path, device="cpu")


def test_a_failed_image_write_leaves_the_old_image_intact(tmp_path, monkeypatch):
    path = tmp_path / "grid.png"
    imaging.save_grid(torch.zeros(4, 1, 28, 28), path)
    before = path.read_bytes()
    _fail_on_write(monkeypatch)
    with pytest.raises(_Boom):
        imaging.save_grid(torch.ones(4, 1, 28, 28), path)
    with pytest.raises(_Boom):
        imaging.save_gif(torch.ones(3, 1, 28, 28), tmp_path / "new.gif")
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.png"]


def test_atomic_write_replaces_in_one_step_with_usual_permissions(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")
    old_umask = os.umask(0o022)
    try:
        atomic_io.atomic_write_bytes(path, b"new contents")
        assert os.umask(0o022) == 0o022, "atomic_write_bytes must not change the process umask"
    finally:
        os.umask(old_umask)
    assert path.read_bytes() == b"new contents"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    atomic_io.atomic_write_bytes(tmp_path / "new" / "deeper" / "g.bin", b"x")  # creates folders
    assert (tmp_path / "new" / "deeper" / "g.bin").read_bytes() == b"x"


def test_save_and_imaging_write_through_atomic_write_bytes(tmp_path, monkeypatch):
    written = []
    real = atomic_io.atomic_write_bytes

    def spy(path, data):
        written.append(Path(path).name)
        real(path, data)

    monkeypatch.setattr(checkpoint, "atomic_write_bytes", spy)
    monkeypatch.setattr(imaging, "atomic_write_bytes", spy)
    models.save(_small("gan"), tmp_path / "g.safetensors")
    imaging.save_grid(torch.zeros(2, 1, 28, 28), tmp_path / "g.png")
    imaging.save_strip(torch.zeros(2, 1, 28, 28), tmp_path / "s.png")
    imaging.save_gif(torch.zeros(2, 1, 28, 28), tmp_path / "a.gif")
    assert written == ["g.safetensors", "g.png", "s.png", "a.gif"]


@pytest.mark.parametrize("command, out_name", [
    (["sample", "{model}", "-n", "4", "--device", "cpu"], "grid.png"),
    (["sample", "{model}", "-n", "4", "--device", "cpu"], "grid.gif"),
    (["interpolate", "{model}", "--from", "0", "--to", "1", "--steps", "3", "--device", "cpu"], "walk.gif"),
    (["interpolate", "{model}", "--from", "0", "--to", "1", "--steps", "3", "--device", "cpu"], "walk.png"),
    (["traverse", "{model}", "--steps", "3", "--device", "cpu"], "sheet.webp"),
])
def test_every_cli_output_is_written_atomically(command, out_name, tmp_path, monkeypatch):
    """Behaviour, not a source scan: with the write failing half way (a full disk), each command that writes
    a file leaves the old file as it was and no temporary file behind.  A writer that bypassed the atomic
    path would not fail, and would overwrite the old file."""
    from explorer.cli import main

    model = models.save(_small("vae"), tmp_path / "m.safetensors")
    out = tmp_path / "out" / out_name
    out.parent.mkdir()
    out.write_bytes(b"the user's old file")
    monkeypatch.setenv("LATENT_EXPLORER_LOG_DIR", str(tmp_path / "logs"))
    _fail_on_write(monkeypatch)
    argv = [a.replace("{model}", str(model)) for a in command] + ["--out", str(out)]
    assert main(argv) != 0, "the write was made to fail, yet the command reports success"
    monkeypatch.undo()
    assert out.read_bytes() == b"the user's old file"
    assert sorted(p.name for p in out.parent.iterdir()) == [out_name], "temporary file left behind"


def test_calibrate_in_place_is_atomic_too(tmp_path, monkeypatch, quick_background_fit):
    from explorer.cli import main

    path = tmp_path / "vae.safetensors"
    import shutil

    shutil.copy(models.bundled("vae"), path)
    before = path.read_bytes()
    monkeypatch.setenv("LATENT_EXPLORER_LOG_DIR", str(tmp_path / "logs"))
    _fail_on_write(monkeypatch)
    assert main(["calibrate", str(path), "--max-images", "200", "--device", "cpu"]) != 0
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "logs") == ["vae.safetensors"]


@pytest.mark.parametrize("low_bytes", [0x0280, 0x0580])
def test_a_checkpoint_whose_header_length_starts_like_a_pickle_still_opens(low_bytes, tmp_path):
    """A safetensors header of 0x0280-0x0580 bytes (mod 65536) begins 0x80 0x02-0x05, a pickle's
    protocol header: the bundled VAE's hostile variant hit this and was refused as "not plain tensors"."""
    import struct

    torch.manual_seed(0)
    model = VAEModel.build({"channels": 8})
    path = tmp_path / "unlucky.safetensors"
    def header_length(pad: int) -> int:
        models.save(model, path, note="x" * pad)
        return struct.unpack("<Q", path.read_bytes()[:8])[0]

    n0 = header_length(0)
    target = low_bytes + 65536 * ((n0 - low_bytes) // 65536 + 1)   # the next length with those low bytes
    start = target - n0 - 16
    next(pad for pad in range(start, start + 32) if header_length(pad) == target)
    assert path.read_bytes()[:2] == bytes([0x80, low_bytes >> 8])
    reopened = models.load(path, device="cpu")
    z = torch.zeros(1, model.latent_dim)
    assert torch.equal(reopened.decode(z), model.decode(z))

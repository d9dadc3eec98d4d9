"""Every case of the hostile corpus through the library: refused with the message the user must see,
or (images) taken in with the step notes the user must see; no pickle payload ever runs."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

import hostile_corpus as hc
import models
from models.intake import IntakeError, IntakeResult, load_image

CORPUS, CASES = hc.shared_corpus()
CHECKPOINTS = [c for c in CASES if c.kind == "checkpoint"]
IMAGES = [c for c in CASES if c.kind == "image"]
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _id(case: hc.Case) -> str:
    return ascii(case.name).strip("'")


def _shown_name(case: hc.Case) -> str:
    """How a file name appears in a message: control characters escaped, one printable line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in case.name)


def _assert_one_clean_line(msg: str, case: hc.Case) -> None:
    assert "\n" not in msg and "\r" not in msg and "\x1b" not in msg, repr(msg)
    assert msg.isprintable(), repr(msg)
    assert msg.startswith(_shown_name(case) + ":"), f"message should start with the file name: {msg!r}"
    assert "Traceback" not in msg and len(msg) < 400, msg


@pytest.fixture(autouse=True)
def _no_marker_files():
    yield
    assert hc.markers(CORPUS) == [], "a pickle payload ran!"


def test_corpus_is_big_and_covers_both_kinds():
    assert len(CASES) >= 40
    assert len(CHECKPOINTS) >= 20 and len(IMAGES) >= 20
    assert sum(c.name.endswith((".pt", ".pth", ".ckpt")) and "evil" in c.name for c in CASES) >= 3
    assert all(c.expect for c in CASES)


def test_controls_load():
    """The valid files the variants were made from do load: the variants fail for their stated reason."""
    vae = models.load(CORPUS / "valid_vae.safetensors", device="cpu")
    gan = models.load(CORPUS / "valid_gan.safetensors", device="cpu")
    assert (vae.family, vae.latent_dim, gan.family) == ("vae", 4, "gan")
    assert vae.decode(vae.prior_z(2, seed=0)).shape == (2, 1, 28, 28)


@pytest.mark.parametrize("case", [c for c in CHECKPOINTS if not c.unreadable], ids=_id)
def test_checkpoint_case_is_refused_with_its_message(case):
    """(How fast a refusal is belongs to benchmarks, not here: no wall-clock bound.)"""
    with pytest.raises(models.CheckpointError) as info:
        models.load(CORPUS / case.name, device="cpu")
    msg = str(info.value)
    assert case.expect.lower() in msg.lower(), msg
    _assert_one_clean_line(msg, case)


@pytest.mark.parametrize("case", [c for c in IMAGES if not c.unreadable], ids=_id)
def test_image_case_gives_its_message_or_notes(case):
    if case.accepted:
        result = load_image(CORPUS / case.name)
        assert isinstance(result, IntakeResult)
        assert result.uint8.shape == (1, 28, 28) and str(result.uint8.dtype) == "torch.uint8"
        notes = result.describe()
        assert case.expect in notes, notes
        assert "\n" not in notes
        x = result.float01
        assert bool(((x >= 0) & (x <= 1)).all())
    else:
        with pytest.raises(IntakeError) as info:
            load_image(CORPUS / case.name)
        msg = str(info.value)
        assert case.expect.lower() in msg.lower(), msg
        _assert_one_clean_line(msg, case)


@pytest.mark.parametrize("case", [c for c in IMAGES if not c.special and not c.unreadable], ids=_id)
def test_image_bytes_behave_like_the_file(case):
    """Drops can arrive as bytes (e.g. from a browser): same verdict, named "image"."""
    data = (CORPUS / case.name).read_bytes()
    if case.accepted:
        assert case.expect in load_image(data).describe()
    else:
        with pytest.raises(IntakeError) as info:
            load_image(data)
        assert case.expect.lower() in str(info.value).lower()


# ------------------------------------------------------------------ files without read permission
def test_unreadable_files_are_refused_when_access_is_denied(monkeypatch):
    """Root can read a mode-000 file, so simulate the denial here; the next test sees the real one."""
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if "unreadable" in str(p)
                        else real_access(p, mode, **kw))
    for case in (c for c in CASES if c.unreadable):
        exc_type = models.CheckpointError if case.kind == "checkpoint" else IntakeError
        loader = (lambda p: models.load(p, device="cpu")) if case.kind == "checkpoint" else load_image
        with pytest.raises(exc_type, match="permission denied"):
            loader(CORPUS / case.name)


def test_open_failing_with_permission_error_is_reported(monkeypatch, tmp_path):
    """Even when os.access says yes (ACLs, network drives), a PermissionError from open() is a message."""
    import builtins

    import models.checkpoint as ckpt
    import models.intake as intake

    def deny(*a, **k):
        raise PermissionError(13, "Permission denied")

    good = CORPUS / "valid_vae.safetensors"
    monkeypatch.setattr(ckpt, "open", deny, raising=False)
    with pytest.raises(models.CheckpointError, match="permission denied"):
        models.load(good, device="cpu")
    png = tmp_path / "ok.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n")
    monkeypatch.setattr(intake, "open", deny, raising=False)
    with pytest.raises(IntakeError, match="permission denied"):
        load_image(png)
    assert builtins.open is not deny


_AS_NOBODY = textwrap.dedent("""
    import json, os, sys
    import models, models.intake
    sys.path.insert(0, os.environ["LE_TESTS_DIR"])
    from drop_privileges import drop_read_override
    drop_read_override()      # still root (the checkout stays readable wherever it is), but modes apply now
    out = {}
    for kind, path in json.loads(sys.argv[1]):
        try:
            models.load(path, device="cpu") if kind == "checkpoint" else models.intake.load_image(path)
            out[path] = "LOADED"
        except (models.CheckpointError, models.intake.IntakeError) as exc:
            out[path] = str(exc)
    print(json.dumps(out))
""")


@pytest.mark.skipif(not IS_ROOT, reason="only root can drop to another user; as non-root see the next test")
def test_unreadable_files_as_an_unprivileged_user():
    """The real thing: a process without root's read override opening mode-000 files from the corpus
    (in a checkout inside a folder only root may enter, as CI's ``mktemp -d`` makes, too)."""
    import json

    jobs = [(c.kind, str(CORPUS / c.name)) for c in CASES if c.unreadable]
    assert jobs
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "LE_TESTS_DIR": os.path.dirname(os.path.abspath(__file__))}
    proc = subprocess.run([sys.executable, "-c", _AS_NOBODY, json.dumps(jobs)], capture_output=True, text=True,
                          timeout=120, env=env, cwd=str(CORPUS))
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    for _, path in jobs:
        assert "permission denied" in out[path], out[path]


@pytest.mark.skipif(IS_ROOT, reason="root reads mode-000 files; covered by the unprivileged-user test")
def test_unreadable_files_directly():
    for case in (c for c in CASES if c.unreadable):
        exc_type = models.CheckpointError if case.kind == "checkpoint" else IntakeError
        loader = (lambda p: models.load(p, device="cpu")) if case.kind == "checkpoint" else load_image
        with pytest.raises(exc_type, match="permission denied"):
            loader(CORPUS / case.name)


# ------------------------------------------------------------------ pickles never run
def test_no_pickle_payload_runs_even_with_torch_told_to_unpickle_everything(monkeypatch):
    """TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 makes torch.load unpickle anything unless the caller insists;
    we insist, and refuse code-carrying pickles before torch.load is even called."""
    import torch

    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    calls = []
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: calls.append(k) or real_load(*a, **k))
    for case in (c for c in CHECKPOINTS if c.name.startswith("evil")):
        with pytest.raises(models.CheckpointError, match="nothing in it was run"):
            models.load(CORPUS / case.name, device="cpu")
    assert calls == [], "code-carrying pickles must be refused by the opcode scan, before torch.load"
    assert hc.markers(CORPUS) == []


def test_a_code_pickle_that_hides_its_global_is_still_refused_by_torch(tmp_path):
    """A payload whose function name the opcode scan cannot see (memoised strings) is still refused
    by torch.load(weights_only=True), and nothing runs."""

    marker = tmp_path / (hc.MARKER_PREFIX + "hidden")
    cmd = f"touch {marker}".encode()
    # protocol 4: module and name are memoised, decoys pushed and popped, then fetched back (BINGET)
    # for STACK_GLOBAL, so a scan of literal strings sees "torch.nn" instead of "posix.system"
    body = (b"\x80\x04" + b"\x8c\x05posix\x94" + b"\x8c\x06system\x94" + b"00"
            + b"\x8c\x05torch" + b"\x8c\x02nn" + b"00"
            + b"h\x00h\x01\x93" + b"\x8c" + bytes([len(cmd)]) + cmd + b"\x85R.")
    path = tmp_path / "hidden.pt"
    path.write_bytes(body)
    from models.pickle_guard import unsafe_globals
    assert unsafe_globals(body) == [], "the decoy fools the scan, so torch.load must catch it"
    with pytest.raises(models.CheckpointError, match="refused") as info:
        models.load(path, device="cpu")
    assert "posix.system" in str(info.value) or "not plain tensors" in str(info.value)
    assert not marker.exists()


# ------------------------------------------------------------------ very large pictures
_PEAK_OF_INTAKE = textwrap.dedent("""
    import json, resource, sys
    import models.intake
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = models.intake.load_image(sys.argv[1])
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"peak_growth_mb": (after - before) / 1024, "shape": list(result.uint8.shape),
                      "notes": result.describe()}))
""")


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in kB on Linux (bytes on macOS)")
@pytest.mark.parametrize("mode, limit_mb", [("L", 250), ("RGB", 700)])
def test_a_10000_by_10000_picture_is_reduced_before_any_float_work(mode, limit_mb, tmp_path):
    """README: very large images are reduced before any float work, so a 10000x10000 picture takes about a
    second, not gigabytes.  Decoding it costs one uint8 copy (95 MB grey, 286 MB RGB); one float32 copy at
    full size would add 400 MB (grey) or 1.2 GB (RGB), so the peak growth of a fresh process stays below
    ``limit_mb``."""
    import json

    import numpy as np
    from PIL import Image

    shape = (10_000, 10_000) if mode == "L" else (10_000, 10_000, 3)
    a = np.zeros(shape, np.uint8)
    a[2000:8000, 3000:7000] = 200
    path = tmp_path / f"huge-{mode}.png"
    Image.fromarray(a).save(path, compress_level=1)      # the fastest deflate: the decoder sees the same pixels
    del a
    proc = subprocess.run([sys.executable, "-c", _PEAK_OF_INTAKE, str(path)], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["shape"] == [1, 28, 28]
    assert "reduced" in out["notes"], out["notes"]
    assert out["peak_growth_mb"] < limit_mb, out

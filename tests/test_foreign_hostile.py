"""Hostile models made elsewhere: nothing in a dropped file runs Python, and every refusal is one line
naming the file -- from models.load, from `latent-explorer info` (exit 2) and from the app's loader
(``LoadedModel.load`` raises a LatentExplorerError, which the app shows while keeping the open model).

Payloads would create a ``MARKER-*`` file in the test's folder if anything ran them.
"""
from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from pathlib import Path

import pytest
import torch

import models
from explorer.cli import main as cli
from models.errors import LatentExplorerError

import foreign_builders as fb
from hostile_corpus import _Payload, markers  # noqa: I001


def _rezip(src: Path, dst: Path, replace: dict[str, bytes]) -> Path:
    """A copy of zip ``src`` with the entries whose names end in a key of ``replace`` swapped."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            for tail, new in replace.items():
                if info.filename.endswith(tail):
                    data = new(data) if callable(new) else new
            zout.writestr(info, data)
    return dst


def _torch_zip(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _json_edit(edit):
    def apply(data: bytes) -> bytes:
        j = json.loads(data)
        edit(j)
        return json.dumps(j).encode()
    return apply


def _first_expr(j) -> dict:
    for value in j["graph_module"]["graph"]["tensor_values"].values():
        for size in value.get("sizes", []):
            if "as_expr" in size:
                return size["as_expr"]
    raise AssertionError("no symbolic size")


def _cases(d: Path) -> dict[str, tuple[Path, str]]:
    """name -> (path, fragment of the message)."""
    good = fb.write_pt2(d / "good")
    marker = d / "MARKER-pt2"
    code = f"open({str(marker)!r}, 'w').write('ran')"
    cases: dict[str, tuple[Path, str]] = {}
    cases["pt2 sample inputs pickle runs os.system"] = (_rezip(good, d / "payload.pt2", {
        "sample_inputs/model.pt": pickle.dumps(_Payload(os.system, f"touch {marker}"))}),
        "would run posix.system")
    cases["pt2 sample inputs torch zip runs exec"] = (_rezip(good, d / "payload-zip.pt2", {
        "sample_inputs/model.pt": _torch_zip(_Payload(exec, code))}), "would run builtins.exec")
    cases["pt2 shape expression is code"] = (_rezip(good, d / "sympy.pt2", {"models/model.json": _json_edit(
        lambda j: _first_expr(j).update(expr_str="exec(" + "+".join(f"chr({ord(c)})" for c in code) + ")"))}),
        "not plain arithmetic")
    cases["pt2 operator is os.system"] = (_rezip(good, d / "target.pt2", {"models/model.json": _json_edit(
        lambda j: j["graph_module"]["graph"]["nodes"][0].update(target="torch.os.system"))}),
        "calls torch.os.system")
    cases["pt2 guard code"] = (_rezip(good, d / "guards.pt2", {"models/model.json": _json_edit(
        lambda j: j.update(guards_code=[code]))}), "Python guard code")
    cases["pt2 compiled library inside"] = (_rezip(good, d / "aoti.pt2", {}), "")
    with zipfile.ZipFile(cases["pt2 compiled library inside"][0], "a") as z:
        z.writestr("small/data/aotinductor/model/model.so", b"\x7fELF")
    cases["pt2 compiled library inside"] = (cases["pt2 compiled library inside"][0], "not part of a plain")
    cases["manifest lies about the image shape"] = (
        fb.write_pt2(d / "shape", manifest_text=fb.manifest(shape=(3, 28, 28))), "fix image_shape")
    cases["manifest lies about the range"] = (
        fb.write_pt2(d / "range", decoder=fb.SmallDecoder(out="tanh")), "fix output_range")
    cases["manifest lies about the latent size"] = (
        fb.write_pt2(d / "latent", manifest_text=fb.manifest(latent=9)), "check latent_dim")
    cases["no manifest"] = (fb.write_pt2(d / "none", manifest_text=""), "no manifest")
    cases["decoder returns NaN"] = (fb.write_pt2(d / "nan", decoder=fb.SmallDecoder(broken="nan")), "NaN")
    cases["decoder returns the wrong shape"] = (
        fb.write_pt2(d / "wrong", decoder=fb.SmallDecoder(broken="shape")), "returned shape")
    pytest.importorskip("onnx")
    import onnx
    from onnx import TensorProto, helper

    proto = onnx.load_from_string(fb.onnx_bytes(fb.SmallDecoder(), torch.randn(2, fb.LATENT), "z", fb.manifest()))
    init = proto.graph.initializer[0]
    init.ClearField("raw_data")
    init.data_location = TensorProto.EXTERNAL
    for k, v in (("location", "../../etc/passwd"), ("offset", "0"), ("length", "64")):
        e = init.external_data.add()
        e.key, e.value = k, v
    (d / "ext").mkdir()
    (d / "ext" / "escape.onnx").write_bytes(proto.SerializeToString())
    cases["onnx external data outside the folder"] = (d / "ext" / "escape.onnx", "outside the model's folder")
    proto = onnx.load_from_string(fb.onnx_bytes(fb.SmallDecoder(), torch.randn(2, fb.LATENT), "z", fb.manifest()))
    out = proto.graph.output[0].name
    proto.graph.node.append(helper.make_node("Boom", [out], ["boomed"], domain="evil.custom"))
    proto.graph.output[0].name = "boomed"
    (d / "custom.onnx").write_bytes(proto.SerializeToString())
    cases["onnx unknown custom op"] = (d / "custom.onnx", "custom operator evil.custom::Boom")
    pytest.importorskip("diffusers")
    hf = fb.write_hf(d / "bin-only", samples=False)
    (hf / "diffusion_pytorch_model.safetensors").unlink()
    (hf / "diffusion_pytorch_model.bin").write_bytes(pickle.dumps(_Payload(os.system, f"touch {marker}")))
    cases["diffusers folder with only a .bin pickle"] = (hf, "diffusion_pytorch_model.bin, a pickle")
    return cases


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    d = tmp_path_factory.mktemp("foreign-hostile")
    return d, _cases(d)


CASE_NAMES = [
    "pt2 sample inputs pickle runs os.system", "pt2 sample inputs torch zip runs exec", "pt2 shape expression is code",
    "pt2 operator is os.system", "pt2 guard code", "pt2 compiled library inside",
    "manifest lies about the image shape", "manifest lies about the range", "manifest lies about the latent size",
    "no manifest", "decoder returns NaN", "decoder returns the wrong shape", "onnx external data outside the folder",
    "onnx unknown custom op", "diffusers folder with only a .bin pickle",
]


@pytest.mark.parametrize("case", CASE_NAMES)
def test_a_hostile_foreign_model_is_refused_in_one_line_naming_the_file_and_nothing_runs(hostile, case, capsys):
    d, cases = hostile
    path, expect = cases[case]
    with pytest.raises(LatentExplorerError) as e:
        models.load(path, device="cpu")
    text = str(e.value)
    assert text.startswith(path.name + ":"), text
    assert expect in text and "\n" not in text, text
    assert cli(["info", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and path.name in err and expect in err, err
    assert markers(d) == []


@pytest.mark.parametrize("case", ["pt2 sample inputs pickle runs os.system", "onnx unknown custom op",
                                  "decoder returns NaN", "diffusers folder with only a .bin pickle"])
def test_the_apps_loader_raises_the_same_one_line_message(hostile, case):
    from explorer.app.state import LoadedModel

    d, cases = hostile
    path, expect = cases[case]
    with pytest.raises(LatentExplorerError, match=expect.replace(".", r"\.").replace("(", r"\(")):
        LoadedModel.load(path, device="cpu")
    assert markers(d) == []


def test_dropping_a_hostile_pt2_on_the_app_keeps_the_open_model(hostile, make_window, tiny_vae_path, qtbot):
    d, cases = hostile
    win = make_window(tiny_vae_path)
    loaded = win.state.loaded
    path, expect = cases["pt2 sample inputs pickle runs os.system"]
    with qtbot.waitSignal(win.model_load_finished, timeout=60_000) as blocker:
        win.open_model(path)
    ok, text = blocker.args
    assert not ok and expect in text and path.name in text
    assert win.state.loaded is loaded
    assert markers(d) == []


def test_an_intact_export_still_opens_so_the_guard_is_not_a_blanket_refusal(hostile):
    d, _ = hostile
    assert models.load(d / "good" / "small.pt2", device="cpu").latent_dim == fb.LATENT


# ------------------------------------------------------------------------------------------ a slow decoder
installed_plugin = fb.installed_plugin


@pytest.fixture
def slow_decoder(installed_plugin, tmp_path):
    """A plugin decoder that takes seconds per frame (``seconds`` is a hang bound here: the test holds
    each decode until it lets go, through ``RELEASE``), and the plugin's module."""
    from le_test_plugin import slow

    slow.RELEASE.set()
    slow.started.clear()
    yield fb.write_slow(tmp_path / "slow", seconds=120.0), slow
    slow.RELEASE.set()


def test_a_slow_decoder_opens_from_the_command_line_without_decoding(slow_decoder, capsys):
    path, slow = slow_decoder
    slow.RELEASE.clear()
    assert cli(["info", str(path)]) == 0
    assert "slow-toy" in capsys.readouterr().out and slow.started == []


def test_while_a_decoder_takes_seconds_per_frame_the_app_stays_responsive_and_the_newest_frame_wins(
        slow_decoder, make_window, qtbot):
    import numpy as np
    from app_helpers import expected_pixels, wait_for_frame
    from PySide6.QtCore import QTimer

    path, slow = slow_decoder
    win = make_window(path)
    qtbot.waitUntil(win.executor.is_idle, timeout=60_000)
    sliders, state = win.latent_dock.sliders, win.state
    painted: list[int] = []
    win.canvas.shown.connect(painted.append)
    slow.RELEASE.clear()                       # from now on each decode takes seconds, until released
    slow.started.clear()
    before = state.token                       # frames up to this one were asked for before the moves

    sliders[0].setValue(1.0)                   # a frame starts decoding ...
    qtbot.waitUntil(lambda: len(slow.started) == 1, timeout=60_000)
    first_token = state.token
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(10)
    qtbot.waitUntil(lambda: len(ticks) >= 5, timeout=60_000)     # ... and the event loop keeps running
    timer.stop()
    moves = [(-1.5, 0.5), (2.0, -1.0), (-0.5, 1.5), (1.25, -2.0)]
    for a, b in moves:                                             # several moves while it decodes
        sliders[0].setValue(a)
        sliders[1].setValue(b)
        qtbot.waitUntil(lambda a=a, b=b: tuple(state.values[:2]) == (np.float32(a), np.float32(b)), timeout=60_000)
    assert len(slow.started) == 1, "the first decode should still be running (it waits to be released)"
    assert win.executor.pending_keys().count("frame") == 1          # one frame waits: the newest
    last_token = state.token

    slow.RELEASE.set()
    wait_for_frame(win, qtbot, timeout=60_000)
    qtbot.waitUntil(lambda: last_token in painted, timeout=60_000)

    loaded = state.loaded
    decoded = np.concatenate([z.numpy() for z in slow.started])

    def z_of(a, b):
        v = np.zeros(loaded.latent_dim, np.float32)
        v[:2] = a, b
        return loaded.z_from_values(v)

    def was_decoded(z) -> bool:
        return bool(np.any(np.all(np.abs(decoded - z) < 1e-5, axis=1)))

    assert was_decoded(z_of(*moves[-1]))                                    # the newest frame was rendered
    assert not any(was_decoded(z_of(a, b)) for a, b in moves[:-1])          # the ones in between never were
    after = [t for t in painted if t > before]
    assert set(after) <= {first_token, last_token} and after[-1] == last_token, (painted, first_token)
    assert win.canvas.token == state.token
    assert np.array_equal(win.canvas.image(), expected_pixels(win))

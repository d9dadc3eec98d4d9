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

"""Models made elsewhere: a decoder of the test's own as .pt2 and .onnx with manifests, a tiny random
diffusers AutoencoderKL folder, and a family from an installed plugin -- each opens with models.load,
decodes, samples, interpolates, shows in the app with sliders, and `latent-explorer info` describes it.
`latent-explorer export` round-trips the bundled models.  Offscreen Qt (tests/conftest.py).
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import models
import models.interpolation as interp
from explorer.cli import main as cli
from models.errors import Cancelled
from models.scoring import UncalibratedError

import foreign_builders as fb
from app_helpers import expected_pixels, wait_for_frame  # noqa: I001

@pytest.fixture(scope="module")
def foreign(tmp_path_factory):
    """name -> path of each foreign model (built once for the module)."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("diffusers")
    d = tmp_path_factory.mktemp("foreign")
    return {
        "pt2": fb.write_pt2(d / "pt2", encoder=True),
        "pt2-no-encoder": fb.write_pt2(d / "pt2-plain"),
        "onnx": fb.write_onnx(d / "onnx", sidecar=True),
        "hf": fb.write_hf(d / "hf-vae"),
    }


@pytest.mark.parametrize("kind", ["pt2", "pt2-no-encoder", "onnx", "hf"])
def test_a_foreign_model_opens_decodes_samples_and_interpolates(foreign, kind):
    m = models.load(foreign[kind], device="cpu")
    c, h, w = m.image_shape
    z = m.prior_z(3, seed=1)
    x = m.decode(z)
    assert x.shape == (3, c, h, w) and float(x.min()) >= 0 and float(x.max()) <= 1
    assert torch.equal(m.sample(2, seed=5), m.sample(2, seed=5))
    assert float((m.sample(1, seed=1) - m.sample(1, seed=2)).abs().max()) > 2 / 255  # a person sees it
    frames = interp.frames(m, z[0], z[1], 5)
    assert frames.shape == (5, c, h, w)
    assert torch.allclose(frames[0], x[0], atol=1e-5) and torch.allclose(frames[-1], x[1], atol=1e-5)
    basis = torch.stack([d.vector for d in m.directions()])
    assert basis.shape == (m.latent_dim, m.latent_dim)
    assert torch.allclose(basis @ basis.T, torch.eye(m.latent_dim), atol=1e-4)


def test_the_manifest_inside_and_beside_the_file_give_the_latent_shape_and_name(foreign):
    assert models.load(foreign["pt2"], device="cpu").name == "small decoder"       # extra_files
    onnx = models.load(foreign["onnx"], device="cpu")                              # NAME.latent-explorer.json
    assert (onnx.latent_dim, onnx.image_shape) == (fb.LATENT, fb.SHAPE)


def test_unknown_manifest_keys_are_ignored_with_a_note(tmp_path):
    text = json.dumps({**json.loads(fb.manifest()), "made_by": "a newer tool"})
    m = models.load(fb.write_pt2(tmp_path, manifest_text=text), device="cpu")
    assert any("made_by" in n for n in m.metadata["notes"])


def test_directions_are_cached_beside_the_model_and_reused(tmp_path):
    p = fb.write_pt2(tmp_path)
    first = models.load(p, device="cpu").directions()
    side = tmp_path / "small.latent-explorer-directions.safetensors"
    assert side.is_file()
    again = models.load(p, device="cpu").directions()
    assert [d.label for d in again] == [d.label for d in first]
    assert torch.allclose(torch.stack([d.vector for d in again]), torch.stack([d.vector for d in first]))


def test_an_encoder_beside_the_decoder_is_used_and_without_one_the_decoder_is_inverted(foreign):
    with_enc = models.load(foreign["pt2"], device="cpu")
    x = with_enc.sample(2, seed=3)
    assert torch.allclose(with_enc.encode(x), fb.SmallEncoder()(x), atol=1e-5)
    plain = models.load(foreign["pt2-no-encoder"], device="cpu")
    target = plain.sample(2, seed=7)
    z = plain.encode(target)
    err = float(((plain.decode(z) - target) ** 2).mean())
    start = float(((plain.decode(plain.prior_z(2, seed=8)) - target) ** 2).mean())
    assert err < start / 4, (err, start)


def test_inversion_stops_when_cancelled(foreign):
    m = models.load(foreign["pt2-no-encoder"], device="cpu")
    calls = []
    with pytest.raises(Cancelled):
        m.encode(m.sample(1, seed=1), cancel=lambda: calls.append(1) or len(calls) > 3)


def test_onnx_without_encoder_is_inverted_by_search(foreign):
    m = models.load(foreign["onnx"], device="cpu")
    target = m.sample(1, seed=11)
    err = float(((m.decode(m.encode(target)) - target) ** 2).mean())
    start = float(((m.decode(m.prior_z(1, seed=12)) - target) ** 2).mean())
    assert err < start, (err, start)


def test_a_decoder_alone_gives_no_likelihood_and_says_how_to_get_an_approximation(foreign):
    m = models.load(foreign["pt2"], device="cpu")
    with pytest.raises(UncalibratedError) as e:
        m.score(m.sample(1, seed=0))
    assert "no likelihood for this model" in str(e.value)
    assert f"calibrate {foreign['pt2']} --data FOLDER" in str(e.value)


@pytest.mark.parametrize("kind", ["pt2", "onnx", "hf"])
def test_info_describes_a_foreign_model(foreign, kind, capsys):
    assert cli(["info", str(foreign[kind]), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    m = models.load(foreign[kind], device="cpu")
    assert info["family"] == m.family and info["latent_dim"] == m.latent_dim
    assert info["image_shape"] == list(m.image_shape)
    assert "no" in info["likelihood"]


@pytest.mark.parametrize("kind,manifest", [("pt2", "inside the file (extra_files entry latent-explorer.json)"),
                                           ("onnx", "beside it: small.latent-explorer.json"),
                                           ("hf", "config.json")])
def test_info_in_plain_text_says_what_a_foreign_model_does_not_record_and_where_its_manifest_is(
        foreign, kind, manifest, capsys):
    assert cli(["info", str(foreign[kind])]) == 0
    rows = dict(line.split(None, 1) if " " in line else (line, "")
                for line in capsys.readouterr().out.replace("OOD verdict", "OOD-verdict").splitlines())
    assert "?" not in "".join(rows.values())
    assert rows["training"].strip() == "not recorded (made elsewhere)"
    assert manifest in rows["manifest"]
    assert rows["likelihood"].startswith("none")
    assert f"calibrate {foreign[kind]} --data FOLDER" in rows["OOD-verdict"]


def test_info_of_a_plugin_file_names_the_plugin_instead_of_a_manifest(installed_plugin, tmp_path, capsys):
    toy = tmp_path / "toy.lineartoy"
    toy.write_text(json.dumps({"latent_dim": 3}))
    assert cli(["info", str(toy)]) == 0
    out = capsys.readouterr().out
    assert "the plugin 'linear-toy' describes its model" in out and "not recorded (made elsewhere)" in out
    assert "?" not in out


@pytest.mark.parametrize("name,fmt", [("vae", "pt2"), ("gan", "pt2"), ("vae", "onnx"), ("gan", "onnx")])
def test_export_round_trips_the_bundled_models(name, fmt, tmp_path, capsys):
    if fmt == "onnx":
        pytest.importorskip("onnxscript")
    out = tmp_path / f"{name}.{fmt}"
    assert cli(["export", str(models.bundled(name)), "--format", fmt, "--out", str(out)]) == 0
    assert (tmp_path / f"{name}.encoder.{fmt}").is_file()
    ours, theirs = models.load(models.bundled(name), device="cpu"), models.load(out, device="cpu")
    z = ours.prior_z(8, seed=0)
    assert float((ours.decode(z) - theirs.decode(z)).abs().max()) < 1e-4
    x = ours.sample(4, seed=1)
    assert float((ours.encode(x) - theirs.encode(x)).abs().max()) < 1e-3
    assert (theirs.latent_dim, theirs.image_shape, theirs.class_names) == (
        ours.latent_dim, ours.image_shape, ours.class_names)


def test_export_refuses_an_out_name_of_another_format(tmp_path, capsys):
    assert cli(["export", str(models.bundled("vae")), "--format", "pt2", "--out", str(tmp_path / "x.onnx")]) == 2
    assert "x.onnx" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ plugins
installed_plugin = fb.installed_plugin


def test_a_plugin_family_opens_its_own_files_and_our_checkpoints_of_it(installed_plugin, tmp_path):
    import le_test_plugin

    toy = tmp_path / "toy.lineartoy"
    toy.write_text(json.dumps({"latent_dim": 3, "seed": 1}))
    m = models.load(toy, device="cpu")
    assert (m.family, m.latent_dim, m.image_shape) == ("linear-toy", 3, (1, 16, 16))
    saved = models.save(m, tmp_path / "toy.safetensors")
    again = models.load(saved, device="cpu")
    assert isinstance(again, le_test_plugin.LinearToy)
    z = m.prior_z(2, seed=0)
    assert torch.allclose(again.decode(z), m.decode(z))


def test_without_the_plugin_its_checkpoint_is_refused_naming_the_family(installed_plugin, tmp_path, monkeypatch):
    toy = tmp_path / "toy.lineartoy"
    toy.write_text(json.dumps({"latent_dim": 3}))
    saved = models.save(models.load(toy, device="cpu"), tmp_path / "toy.safetensors")
    monkeypatch.setattr("models.foreign.plugins.GROUP", "latent_explorer.nothing")
    with pytest.raises(models.CheckpointError, match="unknown model family 'linear-toy'"):
        models.load(saved, device="cpu")


# ------------------------------------------------------------------------------------------ the app
@pytest.mark.parametrize("kind", ["pt2", "onnx", "hf"])
def test_a_foreign_model_appears_in_the_app_with_sliders_that_move_the_picture(foreign, kind, make_window, qtbot):
    win = make_window(foreign[kind])
    loaded = win.state.loaded
    assert len(win.latent_dock.sliders) == loaded.latent_dim == models.load(foreign[kind], device="cpu").latent_dim
    before = win.canvas.image().copy()
    win.latent_dock.sliders[0].setValue(2.5)
    wait_for_frame(win, qtbot)
    after = win.canvas.image()
    assert np.array_equal(after, expected_pixels(win))
    assert np.abs(after.astype(int) - before.astype(int)).max() > 5   # the picture visibly changed


@pytest.mark.parametrize("kind", ["pt2", "pt2-no-encoder"])
def test_the_apps_analysis_of_a_dropped_image_gives_a_code_and_says_there_is_no_likelihood(foreign, kind):
    from models.imaging import to_uint8
    from models.scoring import explain

    m = models.load(foreign[kind], device="cpu")
    ex = explain(m, to_uint8(m.sample(1, seed=4)))[0]
    assert ex.z.shape == (m.latent_dim,) and ex.reconstruction.shape == (1, 28, 28)
    assert ex.score is None and "no likelihood for this model" in ex.note

"""One analysis call: ``models.scoring.explain`` computes each part once, and the likelihood the app
shows is the very figure the benchmark reports."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from models import ood_features, scoring
from models.bundled_data import load_subset
from models.errors import Cancelled
from models.gan import GANModel
from models.vae import VAEModel

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.from_numpy(load_subset()[0][:60]).unsqueeze(1)      # (60, 1, 28, 28) uint8


def _calibrated(build, images):
    """An untrained model calibrated on 60 images (what each part of explain computes is counted here,
    not how good the heat map is, so the background model gets a few steps)."""
    from panel_helpers import quick_background_fit

    torch.manual_seed(0)
    model = build(metadata={"name": "tiny"})
    with quick_background_fit():
        scoring.calibrate(model, images=images, source="test")
    return model


@pytest.fixture(scope="module")
def vae(images):
    return _calibrated(VAEModel.build, images)


@pytest.fixture(scope="module")
def gan(images):
    return _calibrated(GANModel.build, images)


class _Counter:
    def __init__(self) -> None:
        self.rows = 0
        self.calls = 0

    def add(self, n: int) -> None:
        self.calls += 1
        self.rows += int(n)


def _count_method(monkeypatch, obj, name: str) -> _Counter:
    counter, real = _Counter(), getattr(obj, name)

    def wrapped(x, *a, **k):
        counter.add(x.shape[0])
        return real(x, *a, **k)
    monkeypatch.setattr(obj, name, wrapped)
    return counter


def test_explaining_vae_images_encodes_and_decodes_each_image_once(vae, images, monkeypatch):
    x = images[:3]
    from models import ood_explain
    ood_explain.nearest_training(vae, np.zeros((1, vae.latent_dim), np.float32))  # the index: once per model
    encoder = _Counter()
    hook = vae.net.encoder.register_forward_hook(lambda _m, inp, _o: encoder.add(inp[0].shape[0]))
    decode = _count_method(monkeypatch, vae, "decode")
    encode = _count_method(monkeypatch, vae, "encode")
    try:
        out = scoring.explain(vae, x, k=4)
    finally:
        hook.remove()
    # once per image, and once more per image upside down when the statistic compares orientations
    per_image = 2 if "flip" in vae.metadata["calibration"].get("extras", ()) else 1
    assert encoder.rows == 3 * per_image, "the encoder ran more than once per image (features, then the likelihood?)"
    assert decode.rows == 3 and encode.rows == 0
    assert len(out) == 3 and all(e.score is not None for e in out)
    e = out[0]
    assert e.z.dtype == np.float32 and e.z.shape == (vae.latent_dim,)
    assert e.reconstruction.dtype == np.uint8 and e.reconstruction.shape == (1, 28, 28)
    assert e.raw == pytest.approx(e.features["nll_bpd"]) and "complexity" in e.features
    assert e.score.log_likelihood_nats is not None and e.note == ""


def test_explaining_gan_images_inverts_each_image_once_and_its_upside_down_copy_once(gan, images, monkeypatch):
    inversion = _Counter()
    real = ood_features.gan_invert

    def counted(model, x01, *a, **k):
        inversion.add(x01.shape[0])
        return real(model, x01, *a, **k)
    monkeypatch.setattr(ood_features, "gan_invert", counted)
    decode = _count_method(monkeypatch, gan, "decode")
    out = scoring.explain(gan, images[:2])
    # the verdict's orientation term inverts the flipped images too: two inversions of two images; the
    # reconstruction reuses the first inversion's code (one decode per image)
    assert inversion.calls == 2 and inversion.rows == 4
    assert decode.rows == 2
    assert all(e.score is not None and e.score.log_likelihood_nats is None for e in out)
    assert out[0].raw == pytest.approx(out[0].features["log_residual"])


def test_explain_agrees_with_score_and_features(vae, images):
    x = images[:4]
    out = scoring.explain(vae, x, k=8)
    assert [e.score for e in out] == vae.score(x, k=8)
    z = scoring.features(vae, x)["latent"]
    assert np.allclose(np.stack([e.z for e in out]), z, atol=1e-6)


def test_explain_reports_stages_and_stops_when_cancelled(vae, images):
    stages: list[str] = []
    scoring.explain(vae, images[:1], k=2, progress=stages.append)
    assert stages == ["encoding", "reconstructing", "likelihood and verdict"]
    seen: list[str] = []
    with pytest.raises(Cancelled):
        scoring.explain(vae, images[:1], progress=seen.append, cancel=lambda: bool(seen))
    assert seen == ["encoding"]


def test_an_uncalibrated_model_is_explained_with_a_note_and_its_likelihood(images):
    torch.manual_seed(0)
    model = VAEModel.build(metadata={"name": "raw"})
    (e,) = scoring.explain(model, images[:1], k=2)
    assert e.score is None and "latent-explorer calibrate" in e.note and "nats" in e.note


def test_the_benchmark_and_the_app_report_the_same_likelihood(vae, images):
    spec = importlib.util.spec_from_file_location("model_quality", ROOT / "benchmarks" / "model_quality.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    x = images[:6]
    figure = bench.iwae_log_likelihoods(vae, x, 16, batch=len(x))
    app = [e.score.log_likelihood_nats for e in scoring.explain(vae, x, k=16)]
    assert figure.tolist() == app
    assert torch.allclose(bench.iwae_log_likelihoods(vae, x, 16, batch=2), figure, rtol=0, atol=1e-3)

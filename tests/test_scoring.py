"""Scores a user would rely on: a digit looks more OOD than a garment, calibration survives a save, the
verdict's false-positive rate is what the checkpoint says, odd images are scored, GANs give no likelihood."""
from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from PIL import Image

import models
from models import ood_sets, scoring
from models.data import fashion_mnist
from models.intake import load_image

BUNDLED = ["vae", "beta-vae", "gan"]


@pytest.fixture(scope="module")
def test_images():
    return fashion_mnist("test").images


@pytest.fixture(scope="module")
def digits():
    return ood_sets.digits(40)


@pytest.fixture(scope="module", params=BUNDLED)
def bundled(request):
    path = models.bundled(request.param)
    assert path.exists(), f"{path} is missing; see assets/README.md"
    return models.load(path, device="cpu")


@pytest.fixture(scope="module")
def vae():
    return models.load(models.bundled("vae"), device="cpu")


def test_digits_score_more_ood_than_garments(bundled, test_images, digits):
    garments = test_images[:40]
    s_g = bundled.score(garments, k=4)
    s_d = bundled.score(digits, k=4)
    pct_g = np.array([s.percentile for s in s_g])
    pct_d = np.array([s.percentile for s in s_d])
    assert np.median(pct_d) > np.median(pct_g) + 30
    assert sum(s.verdict == models.OUT_OF_DISTRIBUTION for s in s_d) >= 0.8 * len(s_d)
    assert sum(s.verdict == models.IN_DISTRIBUTION for s in s_g) >= 0.8 * len(s_g)
    assert all(0.0 <= s.percentile <= 100.0 for s in s_g + s_d)
    # the verdict is the percentile read against the stated false-positive rate
    cal = bundled.metadata["calibration"]
    for s in s_g + s_d:
        assert (s.verdict == models.OUT_OF_DISTRIBUTION) == (s.ood_statistic > cal["threshold"])


def test_raw_likelihood_prefers_digits_which_is_why_the_verdict_does_not_use_it(vae, test_images, digits):
    ll_g = scoring.log_likelihood(vae, test_images[:40], k=4)
    ll_d = scoring.log_likelihood(vae, digits, k=4)
    # the well-known failure: digits get a *higher* likelihood than the model's own garments
    assert float(ll_d.median()) > float(ll_g.median())


def test_score_fields_and_the_fast_verdict_agree(bundled, test_images):
    x = test_images[:6]
    scores = bundled.score(x, k=3)
    fast = scoring.ood(bundled, x)
    assert len(scores) == len(fast) == 6
    for s, f in zip(scores, fast):
        assert set(s.to_dict()) == {"log_likelihood_nats", "bits_per_dim", "ood_statistic", "percentile",
                                    "verdict", "method"}
        assert s.verdict in (models.IN_DISTRIBUTION, models.OUT_OF_DISTRIBUTION)
        assert (s.ood_statistic, s.percentile, s.verdict) == (f.ood_statistic, f.percentile, f.verdict)
        if bundled.family == "vae":
            assert s.log_likelihood_nats < 0 and s.bits_per_dim > 0
            assert s.bits_per_dim == pytest.approx(-s.log_likelihood_nats / (784 * math.log(2)))
            assert "IWAE K=3" in s.method
        else:
            assert s.log_likelihood_nats is None and s.bits_per_dim is None
            assert "approximation" in s.method and "no likelihood" in s.method


def test_scores_do_not_depend_on_the_batch(vae, test_images):
    x = test_images[:5]
    together = vae.score(x, k=8)
    alone = [vae.score(x[i:i + 1], k=8)[0] for i in range(5)]
    for a, b in zip(together, alone):
        assert a.log_likelihood_nats == pytest.approx(b.log_likelihood_nats, abs=1e-3)
        assert a.ood_statistic == pytest.approx(b.ood_statistic, abs=1e-4)
    # uint8 and [0, 1] floats are the same image
    f = vae.score(x.float() / 255.0, k=8)
    assert [s.verdict for s in f] == [s.verdict for s in together]


def test_calibration_round_trip(tmp_path, test_images):
    m = models.load(models.bundled("vae"), device="cpu")
    held = fashion_mnist("heldout").images[:600]
    cal = scoring.calibrate(m, images=held, source="test subset", fpr=0.1)
    assert cal["fpr"] == 0.1 and cal["n_fit"] == 300 and cal["n"] == 300
    assert cal["statistic"] and len(cal["quantiles"]) == len(cal["levels"])
    assert cal["quantiles"] == sorted(cal["quantiles"])
    x = test_images[:8]
    before = m.score(x, k=2)
    path = tmp_path / "recal.safetensors"
    m.metadata.pop("path", None)
    models.save(m, path)
    again = models.load(path, device="cpu")
    assert again.metadata["calibration"] == cal          # JSON in the file, exactly
    after = again.score(x, k=2)
    assert [(s.ood_statistic, s.percentile, s.verdict) for s in after] == \
           [(s.ood_statistic, s.percentile, s.verdict) for s in before]
    # the threshold is the stated quantile of the images it was computed on
    stat = scoring.statistic_from_features(scoring.features(again, held[300:]), again.metadata["calibration"])
    assert float(np.mean(stat > cal["threshold"])) == pytest.approx(0.1, abs=0.01)


def test_stated_false_positive_rate_holds_on_unseen_in_distribution_images(vae, test_images):
    """The bundled calibration was fitted on held-out training images; the test set was never used."""
    cal = vae.metadata["calibration"]
    res = scoring.ood(vae, test_images[:2000])
    fpr = np.mean([r.verdict == models.OUT_OF_DISTRIBUTION for r in res])
    assert abs(fpr - cal["fpr"]) <= 0.02, (fpr, cal["fpr"])


def test_uncalibrated_model_says_how_to_fix_it(test_images):
    m = models.vae.VAEModel.build()
    with pytest.raises(scoring.UncalibratedError, match="latent-explorer calibrate"):
        m.score(test_images[:2])
    assert scoring.log_likelihood(m, test_images[:2], k=2).shape == (2,)   # the likelihood still works


def _png(arr, mode):
    buf = io.BytesIO()
    Image.fromarray(arr).convert(mode).save(buf, format="PNG")
    return buf.getvalue()


def test_odd_images_are_taken_in_and_scored(vae, digits):
    digit = digits[3, 0].numpy()
    big = np.asarray(Image.fromarray(digit).resize((300, 300)))
    odd = {
        "light background RGB": _png(255 - big, "RGB"),
        "RGBA with transparency": _png(np.dstack([big] * 3 + [big]).astype(np.uint8), "RGBA"),
        "palette": _png(big, "P"),
        "wide 1x200 strip": _png(np.tile(np.linspace(0, 255, 200, dtype=np.uint8)[None], (3, 1)), "L"),
        "16-bit": None,
    }
    buf = io.BytesIO()
    Image.fromarray((big.astype(np.uint16) * 257)).save(buf, format="PNG")
    odd["16-bit"] = buf.getvalue()
    imgs = [load_image(data) for data in odd.values()]
    assert all(tuple(r.uint8.shape) == (1, 28, 28) and r.uint8.dtype == torch.uint8 for r in imgs)
    scores = vae.score(torch.stack([r.uint8 for r in imgs]), k=2)
    assert all(math.isfinite(s.ood_statistic) and math.isfinite(s.log_likelihood_nats) for s in scores)
    # a digit drawn dark-on-light is framed like a garment (inverted, centred) and still called OOD
    assert scores[0].verdict == models.OUT_OF_DISTRIBUTION

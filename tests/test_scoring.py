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
    ll_g = scoring.log_likelihood(vae, test_images[:200], k=4)
    ll_d = scoring.log_likelihood(vae, ood_sets.digits(200), k=4)
    # the well-known failure: the typical digit gets a *higher* likelihood than the typical garment, and
    # as a detector the raw likelihood is no better than a coin (200 of each; with the 64-latent VAE the
    # medians differ by about 26 nats and a digit is likelier than a garment in 52% of the pairs)
    assert float(ll_d.median()) > float(ll_g.median())
    assert float((ll_d[:, None] > ll_g[None, :]).double().mean()) > 0.45


def test_score_fields_and_the_fast_verdict_agree(bundled, test_images):
    x = test_images[:6]
    scores = bundled.score(x, k=3)
    fast = scoring.ood(bundled, x)
    assert len(scores) == len(fast) == 6
    for s, f in zip(scores, fast):
        assert set(s.to_dict()) == {"log_likelihood_nats", "bits_per_dim", "ood_statistic", "percentile",
                                    "verdict", "method", "approximate"}
        assert s.approximate == (bundled.family == "gan")
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


def test_calibration_round_trip(tmp_path, test_images, quick_background_fit):
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
    # the threshold holds its stated rate on held-out garments it was *not* fitted to (2,000 others of the
    # split; 300 calibration images put the true rate within about +-0.04 of 0.1 at 2.5 standard errors)
    stat = scoring.statistic_from_features(scoring.features(again, fashion_mnist("heldout").images[1000:3000]),
                                           again.metadata["calibration"])
    assert float(np.mean(stat > cal["threshold"])) == pytest.approx(0.1, abs=0.045)


def test_stated_false_positive_rate_holds_on_unseen_in_distribution_images(bundled, test_images):
    """Every bundled model (VAE, beta-VAE, GAN): the calibration was fitted on held-out training images,
    the test set was never used; on 1,000 test garments the rate of OOD verdicts is the stated 5%
    (README: 5.4%, 5.0%, 6.0%; one binomial standard error at n = 1,000 is 0.7 points)."""
    cal = bundled.metadata["calibration"]
    assert cal["fpr"] == 0.05                                  # the README's stated rate
    res = scoring.ood(bundled, test_images[:1000])
    fpr = np.mean([r.verdict == models.OUT_OF_DISTRIBUTION for r in res])
    assert abs(fpr - cal["fpr"]) <= 0.025, (bundled.name, fpr, cal["fpr"])


def test_calibration_is_5000_held_out_training_images_disjoint_from_the_test_set(bundled):
    """README: calibrated on 5,000 held-out training images (never the test set).  The held-out split is
    the last 5,000 of the training file (models.data), left out of training, and shares no image with
    the test file."""
    import hashlib

    from models.data import HELDOUT

    cal = bundled.metadata["calibration"]
    assert cal["source"] == "fashion-mnist/heldout"
    assert HELDOUT == 5000 and cal["n_fit"] + cal["n"] == 5000, (cal["n_fit"], cal["n"])
    full = fashion_mnist("train-full").images
    held, train = fashion_mnist("heldout").images, fashion_mnist("train").images
    assert torch.equal(held, full[-5000:]) and torch.equal(train, full[:-5000])   # training never saw them
    digest = lambda imgs: {hashlib.sha1(a.numpy().tobytes()).hexdigest() for a in imgs}  # noqa: E731
    assert not digest(held) & digest(fashion_mnist("test").images)
    # and what `info` tells a user says so
    import contextlib
    import io

    from explorer.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["info", str(bundled.metadata["path"])]) == 0
    line = next(ln for ln in out.getvalue().splitlines() if ln.startswith("OOD calibration"))
    assert "5% false-positive rate" in line and "5000 held-out images" in line, line


#: share of each generated foreign family (models.ood_sets.families) called OOD at the stated 5% FPR: a
#: floor with margin below what every bundled model reaches on 30 images (the lowest of VAE, beta-VAE and GAN
#: is 0.93 for the non-garment families but grey emoji, 0.50-0.80 there).  Transformed garments are
#: partly garments (flips, small shifts and gamma stay hard: 0.1-0.3), so only the inverted ones have a floor.
_FOREIGN_FLOOR = 0.85
_FLOORS = {"emoji (grey)": 0.35, "garments: inverted": 0.9}


def test_every_generated_foreign_family_gets_its_verdict(bundled, test_images):
    sets = ood_sets.families(test_images[5000:5600], n=30)
    called = {name: float(np.mean([r.verdict == models.OUT_OF_DISTRIBUTION for r in scoring.ood(bundled, x)]))
              for name, x in sets.items()}
    floors = {name: _FLOORS.get(name, 0.0 if ood_sets.is_garment_family(name) else _FOREIGN_FLOOR)
              for name in sets}
    assert sum(not ood_sets.is_garment_family(n) for n in sets) >= 17
    short = {n: (v, floors[n]) for n, v in called.items() if v < floors[n]}
    assert not short, (bundled.name, short, called)


def test_the_nll_tail_flags_what_the_complexity_correction_alone_would_pass(vae, test_images):
    """The VAE's verdict is max(z(complexity), z(NLL)): an image as unlikely as noise but as hard to
    compress (so the complexity-corrected score is a garment's) is OOD through the NLL's upper tail."""
    cal = vae.metadata["calibration"]
    assert "nll_bpd" in [c["feature"] for c in cal["components"]]
    feats = scoring.features(vae, test_images[:200])
    stat = scoring.statistic_from_features(feats, cal)
    garments = np.flatnonzero(stat < cal["threshold"])[:50]
    assert len(garments) >= 40
    nll = next(c for c in cal["components"] if c["feature"] == "nll_bpd")
    shift = nll["mean"] + 6 * nll["std"] - feats["nll_bpd"][garments]      # NLL 6 sigma up ...
    moved = {k: v[garments].copy() for k, v in feats.items()}
    for key in ("nll_bpd", "webp_bpd", "lzma_bpd", "nll_flip_bpd"):       # ... and every code length as much:
        if key in moved:                                                   # same complexity, same orientation
            moved[key] = moved[key] + shift
    moved["complexity"] = moved["nll_bpd"] - moved["webp_bpd"]
    if "lzma_bpd" in moved:
        moved["complexity_lzma"] = moved["nll_bpd"] - moved["lzma_bpd"]
    assert np.allclose(moved["complexity"], feats["complexity"][garments], atol=1e-4)
    assert (scoring.statistic_from_features(moved, cal) > cal["threshold"]).all()
    # with the NLL component left out, the same images would pass as garments
    no_nll = {**cal, "components": [c for c in cal["components"] if c.get("feature") != "nll_bpd"]}
    assert (scoring.statistic_from_features(moved, no_nll) < cal["threshold"]).mean() > 0.9


def test_calibrate_rewrites_the_checkpoint_in_place(tmp_path, quick_background_fit):
    """`latent-explorer calibrate FILE` replaces FILE's calibration and keeps its weights."""
    import json
    import shutil

    from safetensors import safe_open

    from explorer.cli import main

    path = tmp_path / "vae.safetensors"
    shutil.copy(models.bundled("vae"), path)
    with safe_open(str(path), framework="pt") as f:
        before = {k: f.get_tensor(k) for k in f.keys()}
        old = json.loads(f.metadata()["calibration"])
    assert main(["calibrate", str(path), "--fpr", "0.1", "--max-images", "600", "--device", "cpu"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vae.safetensors"]      # in place, no temp left
    with safe_open(str(path), framework="pt") as f:
        after = {k: f.get_tensor(k) for k in f.keys()}
        new = json.loads(f.metadata()["calibration"])
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert new["fpr"] == 0.1 and old["fpr"] == 0.05 and new["threshold"] < old["threshold"]
    assert new["n_fit"] + new["n"] <= 600 and new["source"] == "fashion-mnist/heldout"


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

"""The foreign families the verdict is judged on: many kinds, reproducible, made here, each its own look;
and the shipped VAE calls most of every non-garment family out of distribution."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import models
from models import ood_glyphs, ood_sets, scoring
from models.data import fashion_mnist


@pytest.fixture(scope="module")
def garments():
    return fashion_mnist("test").images[5000:5100]


@pytest.fixture(scope="module")
def fams(garments):
    return ood_sets.families(garments, n=24)


def test_there_are_at_least_ten_foreign_families_besides_the_garment_transforms(fams):
    foreign = [k for k in fams if not ood_sets.is_garment_family(k)]
    assert len(foreign) >= 10
    assert {"garments: flipped vertically", "garments: inverted", "garments: blurred (σ 1.5)"} <= set(fams)
    assert set(ood_sets.TUNING_FAMILIES) < set(foreign)
    for k, x in fams.items():
        assert x.shape == (24, 1, 28, 28) and x.dtype == torch.uint8, k


def test_families_are_the_same_on_every_run(garments, fams):
    again = ood_sets.families(garments, n=24)
    assert all(torch.equal(fams[k], again[k]) for k in fams)


def test_each_family_looks_different_from_the_others(fams):
    means = {k: x.float().mean(0).flatten() for k, x in fams.items() if not ood_sets.is_garment_family(k)}
    names = list(means)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not torch.allclose(means[a], means[b], atol=2.0), (a, b)
    # and images within a family differ (not one picture repeated)
    for k, x in fams.items():
        if k != "constant":
            assert len({bytes(im.numpy()) for im in x}) >= 20, k


def test_printed_glyphs_come_from_every_installed_font_kind():
    paths = ood_glyphs.fonts()
    assert len(paths) >= 5 and not any("Emoji" in p for p in paths)
    letters = ood_glyphs.printed(ood_glyphs.LETTERS, 30, seed=1)
    ink = (letters > 128) | (letters < 60)
    assert (ink.reshape(30, -1).mean(1) > 0.02).all()    # every image shows a glyph, none is blank


def test_the_shipped_vae_flags_most_of_every_non_garment_family(fams):
    vae = models.load(models.bundled("vae"), device="cpu")
    flagged = {k: float(np.mean([r.verdict == models.OUT_OF_DISTRIBUTION for r in scoring.ood(vae, x)]))
               for k, x in fams.items() if not ood_sets.is_garment_family(k)}
    assert min(flagged.values()) >= 0.6, flagged
    assert np.mean(list(flagged.values())) >= 0.85, flagged

"""The latent map: the bundled subset, its projection, and new codes landing in the same plane."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import models
from models import bundled_data
from models.latent_map import build, pca_axes
from models.vae import VAEModel


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return VAEModel.build()


def test_bundled_subset_is_small_stratified_and_valid():
    assert bundled_data.SUBSET_FILE.stat().st_size < 800_000
    images, labels, classes = bundled_data.load_subset()
    assert images.dtype == np.uint8 and images.shape[1:] == (28, 28)
    assert len(classes) == 10 and classes[0] == "T-shirt/top"
    counts = np.bincount(labels, minlength=10)
    assert (counts == counts[0]).all() and counts[0] >= 100
    assert images.max() > 200          # real garments, not blanks


def test_bundled_samples_exist_with_garments_and_foreign_images():
    paths = bundled_data.sample_paths()
    stems = [p.stem for p in paths]
    assert len([s for s in stems if not s.startswith("foreign")]) >= 10
    assert {"foreign-digit-3", "foreign-noise", "foreign-shape"} <= set(stems)
    from models.intake import load_image

    for p in paths:
        assert load_image(p).uint8.shape == (1, 28, 28)


def test_pca_map_projects_new_codes_into_the_same_plane(model):
    lm = build(model)
    n = len(lm)
    assert lm.xy.shape == (n, 2) and lm.z.shape == (n, model.latent_dim)
    assert np.allclose(lm.project(lm.z), lm.xy, atol=1e-4)
    assert np.allclose(lm.axes @ lm.axes.T, np.eye(2), atol=1e-5)
    assert lm.explained[0] >= lm.explained[1] > 0
    # a subset image encoded again lands on its own point
    z = model.encode(torch.from_numpy(lm.images[:3]).unsqueeze(1))
    assert np.allclose(lm.project(z), lm.xy[:3], atol=1e-4)
    assert lm.nearest(*lm.xy[7]) == 7
    assert lm.project(z[0]).shape == (1, 2)
    with pytest.raises(ValueError):
        lm.project(np.zeros((1, 3)))


def test_pca_axes_recover_the_dominant_direction():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(500, 5)) * np.array([5.0, 2.0, 0.1, 0.1, 0.1])
    mean, axes, explained = pca_axes(z)
    assert abs(abs(axes[0, 0]) - 1) < 0.01 and abs(abs(axes[1, 1]) - 1) < 0.01
    assert explained[0] > 0.8


def test_directions_projection_uses_the_first_two_sliders(model):
    lm = build(model, method="directions")
    v = torch.stack([d.vector for d in model.directions()[:2]]).numpy()
    assert np.allclose(lm.axes, v, atol=1e-6)
    with pytest.raises(ValueError, match="projection"):
        build(model, method="isomap")


def test_trained_model_separates_classes_on_the_map(trained_vae_path):
    lm = build(models.load(trained_vae_path, device="cpu"))
    centres = np.stack([lm.xy[lm.labels == c].mean(0) for c in range(10)])
    spread = np.mean([lm.xy[lm.labels == c].std(0).mean() for c in range(10)])
    # trousers and sandals, say, sit far apart compared with the typical within-class spread
    d = np.linalg.norm(centres[1] - centres[5])
    assert d > spread

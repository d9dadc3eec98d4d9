"""The gated PixelCNN: per-pixel conditionals are distributions over the 256 levels, the likelihood is
their product, a pixel never sees itself or later pixels, sampling reports progress and can be
cancelled, and asking for a latent says clearly that there is none."""
from __future__ import annotations

import math

import pytest
import torch

import models
from models.errors import Cancelled, LatentExplorerError
from models.pixelcnn import PixelCNNModel


@pytest.fixture(scope="module")
def pixelcnn() -> PixelCNNModel:
    torch.manual_seed(0)
    m = PixelCNNModel.build({"hidden": 8, "layers": 3, "n_mix": 3, "first_kernel": 5})
    for p in m.net.parameters():     # non-trivial conditionals without training
        p.data.normal_(0, 0.3)
    return m.to("cpu")


def _images(n=2, seed=0):
    return torch.randint(0, 256, (n, 1, 28, 28), generator=torch.Generator().manual_seed(seed)).float() / 255


def test_every_pixels_probabilities_over_the_256_levels_sum_to_one(pixelcnn):
    lp = pixelcnn.level_log_probs(_images())
    assert lp.shape == (2, 1, 28, 28, 256)
    total = lp.exp().sum(-1)
    assert torch.allclose(total, torch.ones_like(total), atol=1e-4)


def test_the_images_likelihood_is_the_sum_of_its_pixels_conditionals(pixelcnn):
    x = _images(3, seed=1)
    bits = pixelcnn.pixel_bits(x)
    assert bits.shape == (3, 28, 28) and (bits >= 0).all()
    ll = pixelcnn.log_likelihood(x)
    assert torch.allclose(bits.sum((1, 2)).double(), -ll / math.log(2), rtol=1e-3)


def test_a_pixel_never_depends_on_itself_or_later_pixels(pixelcnn):
    x = _images(1, seed=2)
    before = pixelcnn.level_log_probs(x)[0, 0]
    y = x.clone()
    y[0, 0, 14, 10:] = 1 - y[0, 0, 14, 10:]     # change pixel (14, 10) and everything after it on its row
    y[0, 0, 15:] = 1 - y[0, 0, 15:]
    after = pixelcnn.level_log_probs(y)[0, 0]
    flat_b, flat_a = before.reshape(784, 256), after.reshape(784, 256)
    first_changed = 14 * 28 + 10
    assert torch.equal(flat_b[:first_changed + 1], flat_a[:first_changed + 1])
    assert not torch.equal(flat_b[first_changed + 1:], flat_a[first_changed + 1:])


def test_sampling_draws_pixel_by_pixel_with_progress_and_is_seeded(pixelcnn):
    m = PixelCNNModel.build({"image_shape": [1, 16, 16], "hidden": 4, "layers": 2, "n_mix": 2})
    seen = []
    a = m.sample(2, seed=3, progress=lambda done, total: seen.append((done, total)))
    assert a.shape == (2, 1, 16, 16) and a.min() >= 0 and a.max() <= 1
    assert seen[0] == (16, 256) and seen[-1] == (256, 256)
    assert torch.equal(a, m.sample(2, seed=3))
    assert torch.equal(torch.round(a * 255), a * 255)     # 8-bit levels


def test_sampling_stops_when_cancelled():
    m = PixelCNNModel.build({"image_shape": [1, 16, 16], "hidden": 4, "layers": 2, "n_mix": 2})
    calls = []
    with pytest.raises(Cancelled):
        m.sample(1, seed=0, cancel=lambda: len(calls) > 5 or calls.append(1))


def test_asking_for_a_latent_says_there_is_none(pixelcnn):
    assert pixelcnn.latent_dim == 0 and pixelcnn.directions() == []
    for call in (lambda: pixelcnn.encode(_images(1)), lambda: pixelcnn.decode(torch.zeros(1, 0))):
        with pytest.raises(LatentExplorerError, match="no latent code.*use sample and score instead"):
            call()


def test_a_saved_pixelcnn_loads_with_the_same_likelihood(pixelcnn, tmp_path):
    path = models.save(pixelcnn, tmp_path / "pcnn.safetensors", name="tiny PixelCNN")
    back = models.load(path, device="cpu")
    assert back.family == "autoregressive" and back.latent_dim == 0
    x = _images(2, seed=4)
    assert torch.allclose(back.log_likelihood(x), pixelcnn.log_likelihood(x))

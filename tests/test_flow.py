"""The normalizing flow: its code is exact (decode(encode(x)) is x), its likelihood is a finite bound
in bits/dim on the 8-bit image, and it loads, samples and offers orthonormal slider directions."""
from __future__ import annotations

import math

import pytest
import torch

import models
from models.flow import FlowModel


def _images(n: int = 16, seed: int = 0) -> torch.Tensor:
    """8-bit-like garment-ish images: smooth blobs with sharp edges, on the 256-level grid."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 28), torch.linspace(-1, 1, 28), indexing="ij")
    r = torch.rand(n, 1, 1, 1, generator=g) * 0.5 + 0.3
    blob = ((xx ** 2 + yy ** 2) < r ** 2).float() * torch.rand(n, 1, 1, 1, generator=g)
    noise = torch.rand(n, 1, 28, 28, generator=g) * 0.1
    return torch.round((blob + noise).clamp(0, 1) * 255) / 255


@pytest.fixture(scope="module")
def flow() -> FlowModel:
    """A tiny flow after 30 Adam steps, so its couplings are far from the identity."""
    torch.manual_seed(0)
    m = FlowModel.build({"hidden": 16, "steps": 1, "pca_k": 4})
    x = _images(64)
    m.net.train()
    m.net.log_prob_y((x * 255 + torch.rand_like(x)) / 256)   # actnorm's data-dependent init
    opt = torch.optim.Adam(m.net.parameters(), 3e-3)
    for _ in range(30):
        loss = -m.log_prob_nats(x, torch.rand_like(x)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    m.net.eval()
    m.fit_directions(x)
    return m


def test_encoding_then_decoding_returns_the_image(flow):
    x = _images(8, seed=1)
    z = flow.encode(x)
    assert z.shape == (8, 28 * 28) == (8, flow.latent_dim)
    assert (flow.decode(z) - x).abs().max().item() < 1e-4


def test_the_code_changed_by_training_still_inverts_random_latents(flow):
    z = torch.randn(4, flow.latent_dim, generator=torch.Generator().manual_seed(3))
    x = flow.decode(z)
    assert x.min() >= 0 and x.max() <= 1
    # decode ∘ encode is the identity on images the decoder produces, up to the 8-bit grid's midpoints
    assert (flow.decode(flow.encode(x)) - x).abs().max().item() < 1e-3


def test_log_likelihood_is_a_finite_bound_in_a_sensible_bits_per_dim_range(flow):
    x = _images(8, seed=2)
    ll = flow.log_likelihood(x, k=4)
    bpd = -ll / (784 * math.log(2))
    assert torch.isfinite(ll).all()
    assert ((bpd > 0.0) & (bpd < 9.0)).all(), bpd
    # more dequantization draws can only tighten the bound on average (Jensen), never by much here
    assert (flow.log_likelihood(x, k=1) <= ll + 1.0).all()


def test_the_same_image_gets_the_same_likelihood_whatever_else_is_in_its_batch(flow):
    x = _images(6, seed=4)
    assert torch.allclose(flow.log_likelihood(x, 2)[:1], flow.log_likelihood(x[:1], 2), atol=1e-3)


def test_directions_are_an_orthonormal_basis_led_by_principal_components(flow):
    dirs = flow.directions()
    assert len(dirs) == flow.latent_dim
    v = torch.stack([d.vector for d in dirs[:10]])
    assert torch.allclose(v @ v.T, torch.eye(10), atol=1e-4)
    assert dirs[0].name == "pc1" and dirs[0].strength >= dirs[1].strength > 0
    assert "% var" in dirs[0].label


def test_sampling_is_seeded_and_temperature_zero_gives_the_decoded_origin(flow):
    a, b = flow.sample(3, seed=5), flow.sample(3, seed=5)
    assert torch.equal(a, b)
    cold = flow.sample(2, temperature=0.0, seed=1)
    assert torch.allclose(cold, flow.decode(torch.zeros(2, flow.latent_dim)))


def test_a_saved_flow_loads_with_the_same_code_and_directions(flow, tmp_path):
    path = models.save(flow, tmp_path / "flow.safetensors", name="tiny flow")
    back = models.load(path, device="cpu")
    assert back.family == "flow" and back.latent_dim == 784
    x = _images(4, seed=6)
    assert torch.allclose(back.encode(x), flow.encode(x), atol=1e-5)
    assert torch.allclose(back.directions()[0].vector, flow.directions()[0].vector, atol=1e-5)


def test_colour_images_of_other_sizes_invert_too():
    torch.manual_seed(0)
    m = FlowModel.build({"image_shape": [3, 32, 24], "hidden": 8, "steps": 1, "pca_k": 2})
    x = torch.rand(2, 3, 32, 24)
    assert m.latent_dim == 3 * 32 * 24
    assert (m.decode(m.encode(x)) - x).abs().max().item() < 1e-4


def test_every_sample_of_the_bundled_flow_at_temperature_one_is_a_real_image():
    """About 2% of N(0, I) draws lie where undoing a coupling overflowed (inf, then NaN pixels on the
    canvas); the inverse is clamped so they come out as saturated pixels instead."""
    m = models.load(models.bundled("flow"), device="cpu")
    x = torch.cat([m.sample(500, seed=s) for s in range(4)])
    assert bool(torch.isfinite(x).all())
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0

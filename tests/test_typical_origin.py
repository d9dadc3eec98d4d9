"""The sliders' zero is the most typical code recorded when a learned prior is fitted (models.prior_fit),
not the prior's centre f^-1(0), which need not decode to an image; older checkpoints keep f^-1(0)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import models
from explorer import cli
from explorer.app.rendering import render_frame
from explorer.app.state import ExplorerState, LoadedModel
from models import prior_fit
from models.imaging import to_uint8
from models.vae import VAEModel


def _images(n: int, seed: int) -> torch.Tensor:
    """(n, 1, 28, 28) uint8 pictures that differ in brightness and placement (so their codes differ)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, 1, 28, 28)
    for i in range(n):
        r, c = torch.randint(0, 18, (2,), generator=g).tolist()
        x[i, 0, r:r + 10, c:c + 10] = float(torch.rand(1, generator=g)) * 255
    return (x + torch.rand(x.shape, generator=g) * 30).clamp(0, 255).to(torch.uint8)


@pytest.fixture(scope="module")
def tiny_fitted(tmp_path_factory):
    """A tiny VAE with a (quickly) fitted learned prior, saved and opened again as the app opens it."""
    torch.manual_seed(0)
    model = VAEModel.build({"latent_dim": 4, "channels": 8}, {})
    held = _images(40, 1)
    prior_fit.fit_prior(model, _images(200, 0), held, epochs=2, layers=2, hidden=16, seed=0)
    path = models.save(model, tmp_path_factory.mktemp("typical") / "tiny-vae.safetensors")
    return path, held


def _pixels(loaded: LoadedModel, values: np.ndarray) -> np.ndarray:
    return render_frame(loaded, values, 0, 0.0).image


def _decoded(model, z) -> np.ndarray:
    with torch.no_grad():
        img = model.decode(torch.as_tensor(np.asarray(z, np.float32)).reshape(1, -1))
    return to_uint8(img)[0][0]


def test_a_vae_with_a_recorded_typical_code_opens_with_sliders_at_zero_showing_exactly_that_code(tiny_fitted, qapp):
    path, held = tiny_fitted
    loaded = LoadedModel.load(path, device="cpu")
    typical = loaded.model.metadata["prior"]["typical"]
    state = ExplorerState()
    state.set_model(loaded)
    assert np.all(state.values == 0)
    assert np.array_equal(state.z, np.asarray(typical["z"], np.float32))
    assert np.array_equal(_pixels(loaded, state.values), _decoded(loaded.model, typical["z"]))
    # the record is what it says: the held-out image whose posterior mean is likeliest under the prior
    mu, _ = prior_fit.posterior_codes(loaded.model, held)
    with torch.no_grad():
        log_p = loaded.model.log_prior(mu)
    assert typical["heldout_index"] == int(torch.argmax(log_p))
    assert torch.allclose(mu[typical["heldout_index"]], torch.tensor(typical["z"]), atol=1e-5)


def test_reset_returns_to_the_typical_code_after_moving_a_slider(tiny_fitted, qapp):
    path, _ = tiny_fitted
    loaded = LoadedModel.load(path, device="cpu")
    state = ExplorerState()
    state.set_model(loaded)
    at_zero = _pixels(loaded, state.values)
    state.set_value(0, 2.5 * float(loaded.sigmas[0]))
    assert not np.array_equal(state.z, loaded.origin)
    state.reset()
    assert np.all(state.values == 0)
    assert np.array_equal(state.z, np.asarray(loaded.model.metadata["prior"]["typical"]["z"], np.float32))
    assert np.array_equal(_pixels(loaded, state.values), at_zero)


def test_the_reset_button_says_zero_is_the_most_typical_code(tiny_fitted, qapp):
    from explorer.app.latent_dock import LatentDock

    state = ExplorerState()
    dock = LatentDock(state)
    state.set_model(LoadedModel.load(tiny_fitted[0], device="cpu"))
    assert "the most typical code" in dock.reset_button.toolTip()
    assert "prior's mean" not in dock.reset_button.toolTip()
    assert "the most typical code" in dock.summary.text()


def test_a_checkpoint_without_the_record_still_puts_zero_at_the_priors_centre(tiny_fitted, tmp_path, qapp):
    model = models.load(tiny_fitted[0], device="cpu")
    del model.metadata["prior"]["typical"]                 # as fitted before the record existed
    old = LoadedModel.load(models.save(model, tmp_path / "old.safetensors"), device="cpu")
    centre = old.model.prior_z(1, temperature=0.0)[0].numpy()
    assert np.allclose(old.origin, centre, atol=1e-6)
    assert old.zero_meaning == "the prior's centre"
    state = ExplorerState()
    state.set_model(old)
    state.set_value(1, 1.0)
    state.reset()
    assert np.allclose(state.z, centre, atol=1e-6)


def test_slider_values_and_codes_round_trip_and_random_points_still_come_from_the_prior(tiny_fitted, qapp):
    loaded = LoadedModel.load(tiny_fitted[0], device="cpu")
    values = np.array([0.5, -1.0, 2.0, 0.25], np.float32)
    assert np.allclose(loaded.values_from_z(loaded.z_from_values(values)), values, atol=1e-5)
    state = ExplorerState()
    state.set_model(loaded)
    state.randomize(seed=7)
    eps = np.random.default_rng(7).standard_normal(4).astype(np.float32)
    assert np.allclose(state.z, loaded.prior_inverse(eps), atol=1e-5)      # f^-1(eps), not origin + eps


def test_info_names_the_held_out_image_whose_code_is_the_sliders_zero(tiny_fitted, capsys):
    path, _ = tiny_fitted
    index = models.load(path, device="cpu").metadata["prior"]["typical"]["heldout_index"]
    assert cli.main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"sliders' zero    the most typical code, held-out image #{index}'s" in out

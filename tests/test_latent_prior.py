"""The learned latent prior (models.latent_prior, models.prior_fit, ``latent-explorer prior``)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import models
from explorer import cli
from models import prior_fit
from models.data import fashion_mnist
from models.iwae import iwae_log_likelihood
from models.latent_prior import FlowPrior
from models.vae import VAEModel

ASSETS = models.bundled("vae").parent


@pytest.fixture(scope="module")
def fmnist_slices():
    train = fashion_mnist("train").images
    return train[:3000], fashion_mnist("heldout").images[:500], fashion_mnist("test").images[:200]


@pytest.fixture(scope="module")
def fitted(fmnist_slices):
    """The bundled VAE's decoder with a prior fitted for a few epochs on 3,000 training images."""
    train, held, _ = fmnist_slices
    model = models.load(ASSETS / "vae-fmnist.safetensors", device="cpu")
    model.net.prior = None                      # the bundled one's own learned prior, if any, set aside
    model.config.pop("prior", None)
    normal = model.sample(16, seed=3)
    report = prior_fit.fit_prior(model, train, held, epochs=4, seed=0)
    return model, report, normal


def test_the_flow_prior_maps_a_code_to_its_base_point_and_back():
    flow = FlowPrior(12, layers=6, hidden=32).double()
    for p in flow.parameters():                       # a non-identity flow
        torch.nn.init.normal_(p, std=0.3)
    z = torch.randn(50, 12, dtype=torch.float64) * 2 + 1
    u, _ = flow.to_base(z)
    assert not torch.allclose(u, z, atol=0.1)
    assert torch.allclose(flow.inverse(u), z, atol=1e-8)


def test_the_flow_prior_is_a_normalised_density():
    """Its log-density integrates to one: a Monte-Carlo check by importance sampling from a wide Gaussian."""
    torch.manual_seed(0)
    flow = FlowPrior(2, layers=4, hidden=16)
    for p in flow.parameters():
        torch.nn.init.normal_(p, std=0.2)
    z = torch.randn(200_000, 2) * 3
    log_q = -0.5 * (np.log(2 * np.pi * 9) * 2 + (z ** 2).sum(1) / 9)
    mass = torch.exp(flow.log_prob(z).detach() - log_q).mean()
    assert abs(float(mass) - 1.0) < 0.05


def test_a_fitted_prior_makes_held_out_codes_likelier_and_tightens_the_likelihood(fitted, fmnist_slices):
    model, report, _ = fitted
    assert report["heldout_gain_nats"] > 1.0
    assert report["heldout_log_prior_nats"] > report["heldout_log_normal_nats"]
    test = fmnist_slices[2]
    with_prior = iwae_log_likelihood(model, test, 20).mean()
    prior = model.net.prior
    model.net.prior = None
    try:
        without = iwae_log_likelihood(model, test, 20).mean()
    finally:
        model.net.prior = prior
    assert with_prior > without        # nats per image: the bound on the same images goes up


def test_samples_come_from_the_learned_prior_and_survive_a_save(fitted, tmp_path):
    model, _, normal = fitted
    learned = model.sample(16, seed=3)
    assert (learned - normal).abs().mean() > 0.02           # not the N(0, I) samples any more
    path = models.save(model, tmp_path / "vae-prior.safetensors")
    again = models.load(path, device="cpu")
    assert again.config["prior"]["kind"] == "flow"
    assert torch.allclose(again.sample(16, seed=3), learned, atol=1e-5)


def test_sliders_span_the_codes_own_spread_under_a_learned_prior(fitted):
    model, report, _ = fitted
    sigmas = {d.name: d.sigma for d in model.directions()}
    assert len(set(round(s, 3) for s in sigmas.values())) > 1       # no longer all 1
    assert all(0.0 < s < 10.0 for s in sigmas.values())


def test_a_vae_without_a_learned_prior_samples_from_the_standard_normal():
    model = VAEModel.build({"latent_dim": 4, "channels": 8}, {})
    assert model.net.prior is None
    eps = torch.randn(3, 4, generator=torch.Generator().manual_seed(5))
    assert torch.allclose(model.prior_z(3, seed=5), eps)
    assert all(d.sigma == 1.0 for d in model.directions())


def test_the_prior_command_rewrites_a_vae_and_reports_the_gain(tmp_path, capsys):
    out = tmp_path / "v.safetensors"
    rc = cli.main(["prior", str(ASSETS / "vae-fmnist.safetensors"), "--epochs", "1", "--max-images", "1000",
                   "--out", str(out), "--quiet"])
    assert rc == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"wrote {out}: learned prior") and "nats" in line
    meta = json.loads(cli_info_json(out, capsys))
    assert meta["prior"]["n_train"] == 1000 and meta["prior"]["command"].startswith("latent-explorer prior")


def test_the_prior_command_refuses_a_gan_in_one_line(capsys):
    rc = cli.main(["prior", str(ASSETS / "gan-fmnist.safetensors"), "--epochs", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and len(err) == 1
    assert "gan-fmnist.safetensors" in err[0] and "VAE" in err[0]


def cli_info_json(path, capsys) -> str:
    assert cli.main(["info", str(path), "--json"]) == 0
    return capsys.readouterr().out


def test_a_vae_with_a_learned_prior_also_judges_how_unusual_an_images_code_is(fitted, fmnist_slices):
    from models import ood_glyphs, scoring
    from models.ood_statistic import features

    model = fitted[0]
    _, held, test = fmnist_slices
    cal = scoring.calibrate(model, images=held[:400], source="test")
    assert "latent-prior NLL" in cal["statistic"]
    assert [c["feature"] for c in cal["components"]][-1] == "latent_nll"
    emoji = torch.from_numpy(ood_glyphs.emoji_grey(60, 0)).unsqueeze(1)
    garments, foreign = features(model, test[:60])["latent_nll"], features(model, emoji)["latent_nll"]
    assert np.median(foreign) > np.quantile(garments, 0.75)     # grey emoji encode where garments rarely do


def test_the_apps_random_point_lands_where_the_learned_prior_puts_codes(fitted, qapp):
    """Random (Ctrl+R) draws through the flow: its points are as likely under the learned prior as the
    prior's own samples, far likelier than a unit-by-unit Gaussian with the same spread (the prior's holes)."""
    from explorer.app.state import ExplorerState, LoadedModel

    model = fitted[0]
    state = ExplorerState()
    state.set_model(LoadedModel.build(model))
    zs = []
    for seed in range(300):
        state.randomize(seed=seed)
        zs.append(state.z.copy())
    zs = torch.as_tensor(np.array(zs))
    sigma = torch.as_tensor(model.metadata["directions"]["sigma"])
    diag = torch.randn(300, len(sigma), generator=torch.Generator().manual_seed(0)) * sigma \
        + zs.mean(0)
    with torch.no_grad():
        own, app, gauss = (model.log_prior(z).mean().item() for z in (model.prior_z(300, seed=0), zs, diag))
    assert abs(app - own) < 3.0
    assert app > gauss + 3.0


def test_the_sliders_zero_is_the_most_typical_held_out_code_so_reset_shows_a_typical_image(fitted, qapp):
    """Under a learned prior z = 0 can sit in a hole between the codes, and so can its centre f^-1(0);
    Reset goes to the most typical held-out code the fit recorded instead (tests/test_typical_origin.py)."""
    from explorer.app.state import ExplorerState, LoadedModel

    model = fitted[0]
    loaded = LoadedModel.build(model)
    state = ExplorerState()
    state.set_model(loaded)
    state.reset()
    typical = np.asarray(model.metadata["prior"]["typical"]["z"], np.float32)
    assert np.allclose(state.z, typical, atol=1e-5)
    assert np.abs(typical).max() > 0.05                  # not the origin
    values = np.arange(float(loaded.latent_dim))
    assert np.allclose(loaded.values_from_z(loaded.z_from_values(values)), values, atol=1e-4)


def test_the_prior_command_refuses_a_class_conditional_vae_in_one_line(capsys):
    rc = cli.main(["prior", str(ASSETS / "cvae-fmnist.safetensors"), "--epochs", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and len(err) == 1
    assert "class-conditional" in err[0] and "unexpected" not in err[0]


def test_info_says_which_models_have_a_learned_prior_and_which_draw_classes(capsys):
    assert cli.main(["info", str(ASSETS / "vae-fmnist.safetensors")]) == 0
    out = capsys.readouterr().out
    assert "latent prior     learned 8-layer flow" in out and "latent-explorer prior" in out
    assert "class-conditional" not in out
    assert cli.main(["info", str(ASSETS / "cvae-fmnist.safetensors")]) == 0
    out = capsys.readouterr().out
    assert "class-conditional: T-shirt/top, Trouser" in out and "latent prior" not in out

"""Fit a VAE's learned prior (:mod:`models.latent_prior`) to its aggregate posterior: the second stage.

The decoder and encoder stay as trained.  The training images are encoded once to (mu, log sigma^2);
every step draws fresh codes z = mu + sigma * eps for a batch of them and takes an Adam step on
-log p_lambda(z), with a cosine-decayed learning rate.  This maximises E_q[log p_lambda(z)], the
only term of the ELBO that involves the prior, so the fit can only raise the ELBO (and, in practice,
the importance-weighted bound).

The flow is kept at the epoch where held-out codes (never trained on; one seeded draw per image) are
likeliest: on a small data set (the 1,945 training emoji) it otherwise learns the training codes'
positions and held-out codes fall between them.  The report says what the fit bought on those codes:

    gain = mean over held-out x of  E_{z ~ q(z|x)} [ log p_lambda(z) - log N(z; 0, I) ]   (nats)

which is exactly the ELBO's improvement, also given in bits/dim (gain / (C H W ln 2)).  It also stores
each unit's standard deviation under the aggregate posterior, so the app's sliders span the range
the codes actually use instead of N(0, 1)'s, and the *most typical code* (``prior.typical``): the
posterior mean mu(x) of the held-out image whose mean is likeliest under the fitted prior.  The app puts
its sliders' zero there: the prior's centre f^-1(0) need not decode to an image at all (the emoji VAE's
codes lie on a shell about 12 units from it, and its centre decodes to a black-and-white pattern).
"""
from __future__ import annotations

import copy
import math
import time
from typing import Any, Callable

import torch

from .errors import Cancelled, LatentExplorerError
from .imaging import from_uint8
from .latent_prior import FlowPrior, standard_normal_log_prob

LN2 = math.log(2.0)


class PriorError(LatentExplorerError, ValueError):
    """A learned prior cannot be fitted to this model or with these images (one line, no traceback)."""


@torch.no_grad()
def posterior_codes(model, images: torch.Tensor, batch: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
    """(mu, logvar) of q(z|x) for uint8 or [0, 1] images, on the CPU."""
    mus, lvs = [], []
    for i in range(0, len(images), batch):
        x = images[i:i + batch]
        x = from_uint8(x) if x.dtype == torch.uint8 else x
        mu, lv = model.posterior(x)
        mus.append(mu.float().cpu())
        lvs.append(lv.float().cpu())
    return torch.cat(mus), torch.cat(lvs)


def _draw(mu: torch.Tensor, logvar: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    return mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=gen)


def fit_prior(model, train: torch.Tensor, heldout: torch.Tensor, *, epochs: int = 30, batch_size: int = 256,
              layers: int = 8, hidden: int = 128, lr: float = 1e-3, seed: int = 0,
              progress: Callable[[int, int, float], None] | None = None,
              cancel: Callable[[], bool] | None = None) -> dict[str, Any]:
    """Fit a :class:`FlowPrior` to ``model``'s codes of ``train`` images, keeping the epoch whose
    codes of the ``heldout`` images are likeliest (early stopping: with a few thousand images a flow
    learns the training codes' exact positions), attach it to the model
    (config ``prior``, metadata ``prior`` and ``directions.sigma``) and return the report.

    ``progress(epoch, epochs, mean_nll)`` after every epoch; ``cancel()`` checked every step (raises
    :class:`~models.errors.Cancelled`, leaving the model as it was).  Save with ``models.save``."""
    if getattr(model, "family", "") != "vae":
        raise PriorError(f"a learned prior is fitted to a VAE's codes; this model is a {model.family}")
    if int(model.config.get("n_classes", 0) or 0) > 0:
        raise PriorError(f"{model.name}: this VAE is class-conditional: each class already has its own fitted prior "
                         "(models.conditional), so no learned flow prior is fitted on top")
    if len(train) < 2 or len(heldout) < 1:
        raise PriorError("fitting a prior needs at least 2 training images and 1 held-out image")
    t0 = time.perf_counter()
    torch.manual_seed(int(seed))
    gen = torch.Generator().manual_seed(int(seed))
    mu, logvar = posterior_codes(model, train)
    hmu, hlv = posterior_codes(model, heldout)
    z_held = _draw(hmu, hlv, torch.Generator().manual_seed(1))      # one fixed draw per held-out image
    flow = FlowPrior(mu.shape[1], layers, hidden, seed)
    flow.initialise(_draw(mu, logvar, gen))
    best = (_mean_log_prob(flow, z_held), 0, copy.deepcopy(flow.state_dict()))
    opt = torch.optim.Adam(flow.parameters(), lr=lr)
    steps_per_epoch = max(1, len(mu) // batch_size)
    total = epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, total)
    history = []
    for epoch in range(epochs):
        perm = torch.randperm(len(mu), generator=gen)
        running = 0.0
        for s in range(steps_per_epoch):
            if cancel is not None and cancel():
                raise Cancelled()
            idx = perm[s * batch_size:(s + 1) * batch_size]
            loss = -flow.log_prob(_draw(mu[idx], logvar[idx], gen)).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(flow.parameters(), 10.0)
            opt.step()
            sched.step()
            running += float(loss.detach())
        history.append(round(running / steps_per_epoch, 4))
        held = _mean_log_prob(flow, z_held)
        if held > best[0]:
            best = (held, epoch + 1, copy.deepcopy(flow.state_dict()))
        if progress is not None:
            progress(epoch + 1, epochs, history[-1])
    flow.load_state_dict(best[2])       # early stopping: the epoch whose held-out codes were likeliest
    flow.eval()
    report = _report(flow, mu, logvar, z_held, gen)
    report["best_epoch"] = best[1]
    report["typical"] = typical_code(flow, hmu)
    dims = math.prod(model.image_shape)
    report.update({"kind": "flow", "layers": int(layers), "hidden": int(hidden), "epochs": int(epochs),
                   "batch_size": int(batch_size), "lr": lr, "seed": int(seed), "n_train": int(len(train)),
                   "n_heldout": int(len(heldout)), "nll_per_epoch": history,
                   "heldout_gain_bpd": round(report["heldout_gain_nats"] / (dims * LN2), 5),
                   "seconds": round(time.perf_counter() - t0, 1)})
    model.net.prior = flow.to(model.device)
    model.config["prior"] = {"kind": "flow", "layers": int(layers), "hidden": int(hidden), "seed": int(seed)}
    model.metadata["prior"] = report
    directions = dict(model.metadata.get("directions") or {})
    directions["sigma"] = report.pop("sigma")
    model.metadata["directions"] = directions
    return report


@torch.no_grad()
def typical_code(flow: FlowPrior, heldout_mu: torch.Tensor) -> dict[str, Any]:
    """The most typical code: among the held-out images' posterior means mu(x), the one likeliest
    under ``flow`` -- ``{"z": [...], "heldout_index": i, "log_prior_nats": log p(z)}`` (z exact, float32
    values as JSON floats, so the app's origin decodes to exactly this code)."""
    log_p = flow.log_prob(heldout_mu.float())
    i = int(torch.argmax(log_p))
    return {"z": [float(v) for v in heldout_mu[i].float()], "heldout_index": i,
            "log_prior_nats": round(float(log_p[i]), 4)}


@torch.no_grad()
def _mean_log_prob(flow: FlowPrior, z: torch.Tensor) -> float:
    return float(flow.log_prob(z).mean())


@torch.no_grad()
def _report(flow: FlowPrior, mu: torch.Tensor, logvar: torch.Tensor, z_held: torch.Tensor,
            gen: torch.Generator) -> dict[str, Any]:
    normal = standard_normal_log_prob(z_held)
    learned = flow.log_prob(z_held)
    return {"heldout_gain_nats": round(float((learned - normal).mean()), 4),
            "heldout_log_prior_nats": round(float(learned.mean()), 4),
            "heldout_log_normal_nats": round(float(normal.mean()), 4),
            "sigma": [round(float(s), 4) for s in _draw(mu, logvar, gen).std(0)]}

"""One training loop per family: the objective of each step, the held-out metric and what the
checkpoint records at the end of an epoch.  :mod:`models.training` runs them (epochs, checkpoints,
resume, torchrun).

Objectives, all minimised per image and reported in bits/dim where they are likelihoods:

* VAE: −(log p(x|z) − β·KL(q(z|x) ‖ p(z))), z ~ q(z|x) (one reparameterised sample);
* GAN: the non-saturating DCGAN losses, plus the encoder's ‖E(G(z)) − z‖² + ‖G(E(x)) − x‖²;
* flow: −log p((x + u)/256) + D·log 256 with fresh uniform dequantization noise u every step
  (:mod:`models.flow`), a bound on the 8-bit image's −log P(x);
* PixelCNN: the exact −log p(x) (:mod:`models.pixelcnn`).

A conditional GAN (:mod:`models.conditional`) gets each batch's labels ``y`` (-1: none); a share
:data:`~models.conditional.LABEL_DROPOUT` of them is replaced by "no class" every step, which trains the
class-agnostic mode that label-free calls (scoring, ``y=None``) use.  A conditional VAE trains as an
unconditional one and fits its prior per class to the codes of the training images after every epoch
(``finish``), before the held-out metrics, which then include the bound on -log p(x | y).

Under torchrun every loop trains the network through :class:`torch.nn.parallel.DistributedDataParallel`
(:mod:`models.distributed`): the module called in each step is the DDP wrapper, so gradients are
averaged across ranks during ``backward``.
"""
from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from . import data as data_mod
from . import distributed
from .conditional import drop_labels

#: Training images (at most) whose codes a conditional VAE's class prior is fitted to, after every epoch.
CLASS_PRIOR_IMAGES = 20000


class _Objective(nn.Module):
    """The per-step forward of a family as a module, so DDP can wrap it: ``forward(x) -> terms``."""

    def __init__(self, net: nn.Module, fn) -> None:
        super().__init__()
        self.net = net
        self._fn = fn

    def forward(self, *args):
        return self._fn(*args)


class _Optimized:
    """What the training loop asks of every family's optimizers: their states for the checkpoint and
    one learning-rate scale (a schedule's step).  A family lists them in :meth:`optimizers`."""

    def optimizers(self) -> list[torch.optim.Optimizer]:
        raise NotImplementedError

    def optimizer_states(self) -> list:
        return [opt.state_dict() for opt in self.optimizers()]

    def set_lr_scale(self, scale: float) -> None:
        """Every optimizer's learning rate to ``scale`` times its starting one (a schedule's step)."""
        for opt in self.optimizers():
            for group in opt.param_groups:
                group["lr"] = group.setdefault("initial_lr", group["lr"]) * scale


class _Loop(_Optimized):
    batch_default, lr_default = 128, 1e-3

    def __init__(self, model, cfg, opt_state, x_first: torch.Tensor | None = None) -> None:
        self.model = model
        self.batch_size = cfg.batch_size or self.batch_default
        self.lr = cfg.lr or self.lr_default
        self.dims = math.prod(model.image_shape)
        self.opt = torch.optim.Adam(model.net.parameters(), lr=self.lr)
        if opt_state:
            self.opt.load_state_dict(opt_state[0])

    def _train_step(self, loss: torch.Tensor) -> None:
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.net.parameters(), 100.0)
        self.opt.step()

    def finish(self, heldout: data_mod.Split, cfg, train: data_mod.Split | None = None) -> dict[str, Any]:
        return {}

    def optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.opt]

    def _held_bpd(self, x_held: torch.Tensor, fn, per_batch: int) -> float:
        b = max(16, min(1000, per_batch))
        lp = torch.cat([fn(x_held[i:i + b].float() / 255) for i in range(0, len(x_held), b)])
        return float(-lp.mean() / (self.dims * math.log(2)))


class VAELoop(_Loop):
    def __init__(self, model, cfg, opt_state, x_first=None) -> None:
        super().__init__(model, cfg, opt_state)
        self.fwd = distributed.wrap(_Objective(model.net, lambda x: model.elbo_terms(x)))

    def step(self, xb: torch.Tensor, epoch: int, yb: torch.Tensor | None = None) -> dict[str, float]:
        rec, kl = self.fwd(xb)        # a conditional VAE's labels shape its class prior (finish), not this step
        loss = -(rec - self.model.beta * kl).mean() / self.dims
        self._train_step(loss)
        return {"loss_bpd": loss.item() / math.log(2), "kl_nats": kl.mean().item()}

    @torch.no_grad()
    def evaluate(self, x_held: torch.Tensor, y_held: torch.Tensor | None = None) -> dict[str, float]:
        # b bounds the memory of the mixture's maps
        b = 400_000 // self.dims
        out = {"heldout_elbo_bpd": self._held_bpd(x_held, self.model.elbo, b)}
        if y_held is not None and self.model.conditional:   # the bound on -log p(x | y), each image's own class
            labels = iter(torch.split(y_held, max(16, min(1000, b))))
            out["heldout_class_elbo_bpd"] = self._held_bpd(x_held, lambda x: self._class_elbo(x, next(labels)), b)
        return out

    @torch.no_grad()
    def _class_elbo(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        mu, logvar = self.model.posterior(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.model.log_px_given_z(x, z) - self.model.net.class_prior.kl(mu, logvar, y)

    def finish(self, heldout: data_mod.Split, cfg, train: data_mod.Split | None = None) -> dict[str, Any]:
        ref = heldout
        if cfg.data in ("fashion-mnist", "fmnist"):
            ref = data_mod.fashion_mnist("test")
        kl = self.model.unit_kl(ref.float01())
        extra: dict[str, Any] = {"directions": {"kl": [round(v, 5) for v in kl], "measured_on": ref.name}}
        if self.model.conditional and train is not None:
            extra["class_prior"] = self._fit_class_prior(train)
        return extra

    @torch.no_grad()
    def _fit_class_prior(self, train: data_mod.Split, most: int = CLASS_PRIOR_IMAGES) -> dict[str, Any]:
        """Fit p(w | y) to one sampled code z ~ q(z | x) of up to ``most`` labelled training images (seeded)."""
        labelled = torch.nonzero(train.labels >= 0).flatten()
        pick = labelled[torch.randperm(len(labelled), generator=torch.Generator().manual_seed(0))[:most]]
        gen = torch.Generator(device="cpu").manual_seed(1)
        codes = []
        for i in range(0, len(pick), 1000):
            mu, logvar = self.model.posterior(train.images[pick[i:i + 1000]].float() / 255.0)
            eps = torch.randn(mu.shape, generator=gen).to(mu.device)
            codes.append(mu + eps * torch.exp(0.5 * logvar))
        counts = self.model.net.class_prior.fit(torch.cat(codes), train.labels[pick].to(self.model.device))
        return {"fitted_on": train.name, "images_per_class": counts, "codes": "one sample of q(z|x) per image"}


class _LikelihoodLoop(_Loop):
    """A family trained by maximum likelihood: ``self.fwd(x)`` gives log p(x) in nats per image."""

    def step(self, xb: torch.Tensor, epoch: int, yb: torch.Tensor | None = None) -> dict[str, float]:
        loss = -self.fwd(xb).mean() / self.dims
        self._train_step(loss)
        return {"loss_bpd": loss.item() / math.log(2)}


class FlowLoop(_LikelihoodLoop):
    batch_default = 64

    def __init__(self, model, cfg, opt_state, x_first=None) -> None:
        super().__init__(model, cfg, opt_state)
        if x_first is not None and not opt_state:   # actnorm's data-dependent init, before DDP syncs rank 0's
            model.net.train()
            with torch.no_grad():
                model.net.log_prob_y((torch.round(x_first.float()) + torch.rand_like(x_first.float())) / 256.0)
        self.fwd = distributed.wrap(_Objective(model.net, lambda x: model.log_prob_nats(x, torch.rand_like(x))))

    @torch.no_grad()
    def evaluate(self, x_held: torch.Tensor, y_held: torch.Tensor | None = None) -> dict[str, float]:
        return {"heldout_bpd": self._held_bpd(x_held, lambda x: self.model.log_likelihood(x, 1), 500)}

    def finish(self, heldout: data_mod.Split, cfg, train: data_mod.Split | None = None) -> dict[str, Any]:
        self.model.fit_directions(heldout.float01().to(self.model.device))
        return {"directions": {**self.model.metadata.get("directions", {}), "measured_on": heldout.name}}


class PixelCNNLoop(_LikelihoodLoop):
    batch_default = 64

    def __init__(self, model, cfg, opt_state, x_first=None) -> None:
        super().__init__(model, cfg, opt_state)
        self.fwd = distributed.wrap(_Objective(model.net, model.log_prob_nats))

    @torch.no_grad()
    def evaluate(self, x_held: torch.Tensor, y_held: torch.Tensor | None = None) -> dict[str, float]:
        return {"heldout_bpd": self._held_bpd(x_held, self.model.log_likelihood, 500)}


class GANLoop(_Optimized):
    def __init__(self, model, cfg, opt_state, x_first=None) -> None:
        self.model = model
        net = model.net
        self.batch_size = cfg.batch_size or 64
        self.lr = cfg.lr or 2e-4
        betas = (0.5, 0.999)
        self.opt_g = torch.optim.Adam(net.generator.parameters(), lr=self.lr, betas=betas)
        self.opt_d = torch.optim.Adam(net.discriminator.parameters(), lr=self.lr, betas=betas)
        self.opt_e = torch.optim.Adam(net.encoder.parameters(), lr=self.lr * 2, betas=betas)
        if opt_state:
            for opt, st in zip((self.opt_g, self.opt_d, self.opt_e), opt_state):
                opt.load_state_dict(st)
        self.g = distributed.wrap(net.generator)
        self.d = distributed.wrap(net.discriminator)
        self.e = distributed.wrap(net.encoder)

    def step(self, xb: torch.Tensor, epoch: int, yb: torch.Tensor | None = None) -> dict[str, float]:
        net, dev = self.model.net, xb.device
        b = xb.shape[0]
        real = xb * 2 - 1
        z = torch.randn(b, net.latent_dim, device=dev)
        # conditional: D sees each real image with its (sometimes dropped) label, G draws the same labels
        y = () if yb is None else (drop_labels(yb),)
        fake = self.g(z, *y)
        # discriminator: real -> 1, fake -> 0 (one-sided label smoothing 0.9)
        d_real, d_fake = self.d(real, *y), self.d(fake.detach(), *y)
        loss_d = (F.binary_cross_entropy_with_logits(d_real, torch.full_like(d_real, 0.9))
                  + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        # generator: non-saturating loss
        d_gen = self.d(fake, *y)
        loss_g = F.binary_cross_entropy_with_logits(d_gen, torch.ones_like(d_gen))
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        # encoder: recover z from G(z), and reconstruct real images through the (frozen, eval) G
        net.generator.eval()
        z_hat = self.e(fake.detach())
        rec = net.generator(self.e(real), *y)
        loss_e = F.mse_loss(z_hat, z) + F.mse_loss(rec, real)
        self.opt_e.zero_grad(set_to_none=True)
        loss_e.backward()
        self.opt_e.step()
        net.generator.train()
        return {"loss_d": loss_d.item(), "loss_g": loss_g.item(), "loss_e": loss_e.item()}

    @torch.no_grad()
    def evaluate(self, x_held: torch.Tensor, y_held: torch.Tensor | None = None) -> dict[str, float]:
        x = x_held[:2000].float() / 255
        y = {} if y_held is None else {"y": y_held[:2000]}
        rec = self.model.decode(self.model.encode(x), **y)
        return {"heldout_encoder_rec_mse": float(F.mse_loss(rec, x))}

    def finish(self, heldout: data_mod.Split, cfg, train: data_mod.Split | None = None) -> dict[str, Any]:
        return {}

    def optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.opt_g, self.opt_d, self.opt_e]


#: Training family (the ``train`` command's word) -> its loop.
LOOPS = {"vae": VAELoop, "gan": GANLoop, "flow": FlowLoop, "pixelcnn": PixelCNNLoop}

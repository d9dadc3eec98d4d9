"""Training loops for the VAE and the GAN: progress bar, atomic checkpoint after every epoch, resume.

The checkpoint (``OUT.safetensors``) is always a complete, loadable model of the last finished
epoch.  Optimiser state for resuming lives beside it in ``OUT.train-state.pt`` (plain tensors, read
back with ``weights_only=True``).  Ctrl-C leaves the last finished epoch's checkpoint in place.
"""
from __future__ import annotations

import contextlib
import math
import shlex
import signal
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F

from .errors import LatentExplorerError
from . import checkpoint, data as data_mod
from .base import GenerativeModel, resolve_device
from .gan import GANModel
from .vae import VAEModel


@dataclass
class TrainConfig:
    family: str
    data: str = "fashion-mnist"
    epochs: int = 10
    out: str = "model.safetensors"
    beta: float = 1.0
    latent_dim: int | None = None
    seed: int = 0
    device: str = "auto"
    batch_size: int | None = None
    lr: float | None = None
    limit: int | None = None          # use only the first N training images (tests, quick runs)
    image_size: int | None = None     # folders: resize to S x S (default: the folder's most common size)
    channels: int | None = None       # folders: 1 or 3 (default: 1 if every image is grey, else 3)
    max_images: int | None = None     # folders: read only N images (a seeded random subset)
    width: int | None = None          # feature channels of the finest stage (default: the family's)
    resume: bool = False
    name: str | None = None
    calibrate: bool = True
    command: str = field(default_factory=lambda: shlex.join(["latent-explorer", *sys.argv[1:]]))


class TrainingError(LatentExplorerError):
    pass


def state_path(out: str | os.PathLike) -> Path:
    out = Path(out)
    return out.with_name(out.stem + ".train-state.pt")


def train(cfg: TrainConfig, progress: bool = True, log: Callable[[str], None] | None = None) -> GenerativeModel:
    """Train (or resume) a model as ``cfg`` says; returns the final model (also saved to ``cfg.out``)."""
    log = log or (lambda s: print(s, file=sys.stderr))
    if cfg.family not in ("vae", "gan"):
        raise TrainingError(f"unknown family {cfg.family!r}; choose vae or gan")
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    start_epoch, model, opt_state, history = 0, None, None, []
    out, spath = Path(cfg.out), state_path(cfg.out)
    size, channels = cfg.image_size, cfg.channels
    if cfg.resume:
        if not out.exists() or not spath.exists():
            raise TrainingError(f"cannot resume: {out} or {spath} is missing; start without --resume")
        model = checkpoint.load(out, device=device)
        channels, h, w = model.image_shape   # the data is read at the shape the model was built for
        size = (h, w)
    train_split, heldout = data_mod.load_training_data(cfg.data, size=size, channels=channels,
                                                       max_images=cfg.max_images)
    if cfg.limit:
        train_split.images, train_split.labels = train_split.images[:cfg.limit], train_split.labels[:cfg.limit]
    x_train = train_split.images.to(device)
    x_held = heldout.images.to(device)
    if cfg.resume:
        state = torch.load(spath, map_location="cpu", weights_only=True)
        done = int(model.metadata.get("training", {}).get("epochs", -1))
        if int(state["epoch"]) != done:
            raise TrainingError(f"cannot resume: {spath.name} is from epoch {state['epoch']} but {out.name} "
                                f"from epoch {done}; start again without --resume")
        start_epoch, opt_state = done, state["optimizers"]
        history = list(model.metadata.get("training", {}).get("history", []))
        torch.set_rng_state(state["rng"])
        log(f"resuming {out} after epoch {start_epoch}")
    else:
        config: dict[str, Any] = {"image_shape": list(train_split.images.shape[1:])}
        if cfg.latent_dim:
            config["latent_dim"] = int(cfg.latent_dim)
        if cfg.width:
            config["channels"] = int(cfg.width)
        if cfg.family == "vae":
            config["beta"] = float(cfg.beta)
            model = VAEModel.build(config, device=device)
        else:
            model = GANModel.build(config, device=device)
    if start_epoch >= cfg.epochs:
        log(f"{out} already has {start_epoch} epochs; nothing to do (raise --epochs to train more)")
        return model

    loop = _VAELoop(model, cfg, opt_state) if cfg.family == "vae" else _GANLoop(model, cfg, opt_state)
    from tqdm import tqdm

    n = x_train.shape[0]
    steps = math.ceil(n / loop.batch_size)
    for epoch in range(start_epoch, cfg.epochs):
        model.net.train()
        t0 = time.perf_counter()
        perm = torch.randperm(n, device=device)
        bar = tqdm(range(steps), desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch", disable=not progress,
                   file=sys.stderr, dynamic_ncols=True, leave=False)
        totals: dict[str, float] = {}
        for i in bar:
            xb = x_train[perm[i * loop.batch_size:(i + 1) * loop.batch_size]].float() / 255.0
            stats = loop.step(xb, epoch)
            for k, v in stats.items():
                totals[k] = totals.get(k, 0.0) + v
            if i % 20 == 0:
                bar.set_postfix({k: f"{v:.3f}" for k, v in stats.items()})
        bar.close()
        model.net.eval()
        metrics = {k: v / steps for k, v in totals.items()}
        metrics.update(loop.evaluate(x_held))
        if not all(math.isfinite(v) for v in metrics.values()):
            raise TrainingError(f"training diverged in epoch {epoch + 1} (metrics {metrics}); the last good "
                                f"checkpoint is {out}. Try a lower --lr.")
        metrics["seconds"] = time.perf_counter() - t0
        history.append({"epoch": epoch + 1, **{k: round(v, 5) for k, v in metrics.items()}})
        remaining = (cfg.epochs - epoch - 1) * metrics["seconds"]
        log(f"epoch {epoch + 1}/{cfg.epochs} " + " ".join(f"{k}={v:.4g}" for k, v in metrics.items())
            + f" (about {remaining / 60:.1f} min left)")
        final = epoch + 1 == cfg.epochs
        extra = loop.finish(heldout, cfg)  # every epoch: each checkpoint is complete
        commands = list(model.metadata.get("training", {}).get("commands", []))
        if not commands or commands[-1] != cfg.command:
            commands.append(cfg.command)
        training = {"command": cfg.command, "commands": commands, "data": cfg.data, "epochs": epoch + 1,
                    "seed": cfg.seed, "batch_size": loop.batch_size, "lr": loop.lr, "limit": cfg.limit,
                    "max_images": cfg.max_images, "metrics": history[-1], "history": history,
                    "wall_seconds": round(sum(h.get("seconds", 0.0) for h in history), 1),
                    "torch": torch.__version__, "device": str(device), "threads": torch.get_num_threads()}
        dataset = {"name": train_split.name.split("/")[0], "classes": train_split.classes,
                   "train_images": n, "heldout_images": len(heldout)}
        if cfg.data not in ("fashion-mnist", "fmnist"):
            dataset["background"] = "white (transparent pixels composited on RGB 255, 255, 255)"
            dataset["resize"] = "centre crop to the aspect, then Lanczos resize"
        meta = {"training": training, "name": cfg.name or out.stem, "dataset": dataset, **extra}
        model.metadata.pop("calibration", None)   # a calibration of older weights would be stale
        with _interrupts_deferred():  # Ctrl-C between the two writes would leave them out of step
            torch.save({"epoch": epoch + 1, "optimizers": loop.optimizer_states(), "rng": torch.get_rng_state()},
                       str(spath) + ".tmp")
            os.replace(str(spath) + ".tmp", spath)
            checkpoint.save(model, out, **meta)
    if cfg.calibrate:
        _calibrate(model, heldout, out, log)
    return model


@contextlib.contextmanager
def _interrupts_deferred():
    """Hold SIGINT until the block ends (main thread only; elsewhere a no-op), then raise it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[tuple] = []
    previous = signal.signal(signal.SIGINT, lambda *a: caught.append(a))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            raise KeyboardInterrupt


def _calibrate(model: GenerativeModel, heldout: data_mod.Split, out: Path, log: Callable[[str], None]) -> None:
    """OOD calibration on the held-out split (never the test set), saved into the final checkpoint.

    A failure here does not lose the trained model (already saved); it says how to calibrate later.
    """
    from . import scoring

    try:
        scoring.calibrate(model, images=heldout.images, source=heldout.name, log=log)
    except Exception as exc:  # noqa: BLE001 - the weights are safe; calibration can be redone
        model.metadata.pop("calibration", None)
        log(f"warning: OOD calibration failed ({type(exc).__name__}: {exc}); {out} has none. "
            f"Run `latent-explorer calibrate {out}`.")
        return
    path = model.metadata.pop("path", None)
    checkpoint.save(model, out)
    if path is not None:
        model.metadata["path"] = path


class _VAELoop:
    def __init__(self, model: VAEModel, cfg: TrainConfig, opt_state) -> None:
        self.model = model
        self.batch_size = cfg.batch_size or 128
        self.lr = cfg.lr or 1e-3
        self.opt = torch.optim.Adam(model.net.parameters(), lr=self.lr)
        if opt_state:
            self.opt.load_state_dict(opt_state[0])
        self.dims = math.prod(model.image_shape)

    def step(self, xb: torch.Tensor, epoch: int) -> dict[str, float]:
        rec, kl = self.model.elbo_terms(xb)
        loss = -(rec - self.model.beta * kl).mean() / self.dims
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.net.parameters(), 100.0)
        self.opt.step()
        return {"loss_bpd": loss.item() / math.log(2), "kl_nats": kl.mean().item()}

    @torch.no_grad()
    def evaluate(self, x_held: torch.Tensor) -> dict[str, float]:
        b = max(16, min(1000, 400_000 // self.dims))    # bounds the memory of the mixture's maps
        elbo = torch.cat([self.model.elbo(x_held[i:i + b].float() / 255) for i in range(0, len(x_held), b)])
        return {"heldout_elbo_bpd": float(-elbo.mean() / (self.dims * math.log(2)))}

    def finish(self, heldout: data_mod.Split, cfg: TrainConfig) -> dict[str, Any]:
        ref = heldout
        if cfg.data in ("fashion-mnist", "fmnist"):
            ref = data_mod.fashion_mnist("test")
        kl = self.model.unit_kl(ref.float01())
        return {"directions": {"kl": [round(v, 5) for v in kl], "measured_on": ref.name}}

    def optimizer_states(self) -> list:
        return [self.opt.state_dict()]


class _GANLoop:
    def __init__(self, model: GANModel, cfg: TrainConfig, opt_state) -> None:
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

    def step(self, xb: torch.Tensor, epoch: int) -> dict[str, float]:
        net, dev = self.model.net, xb.device
        b = xb.shape[0]
        real = xb * 2 - 1
        z = torch.randn(b, net.latent_dim, device=dev)
        fake = net.generator(z)
        # discriminator: real -> 1, fake -> 0 (one-sided label smoothing 0.9)
        d_real, d_fake = net.discriminator(real), net.discriminator(fake.detach())
        loss_d = (F.binary_cross_entropy_with_logits(d_real, torch.full_like(d_real, 0.9))
                  + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        # generator: non-saturating loss
        d_gen = net.discriminator(fake)
        loss_g = F.binary_cross_entropy_with_logits(d_gen, torch.ones_like(d_gen))
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        # encoder: recover z from G(z), and reconstruct real images through the (frozen, eval) G
        net.generator.eval()
        z_hat = net.encoder(fake.detach())
        rec = net.generator(net.encoder(real))
        loss_e = F.mse_loss(z_hat, z) + F.mse_loss(rec, real)
        self.opt_e.zero_grad(set_to_none=True)
        loss_e.backward()
        self.opt_e.step()
        net.generator.train()
        return {"loss_d": loss_d.item(), "loss_g": loss_g.item(), "loss_e": loss_e.item()}

    @torch.no_grad()
    def evaluate(self, x_held: torch.Tensor) -> dict[str, float]:
        x = x_held[:2000].float() / 255
        rec = self.model.decode(self.model.encode(x))
        return {"heldout_encoder_rec_mse": float(F.mse_loss(rec, x))}

    def finish(self, heldout: data_mod.Split, cfg: TrainConfig) -> dict[str, Any]:
        return {}

    def optimizer_states(self) -> list:
        return [self.opt_g.state_dict(), self.opt_d.state_dict(), self.opt_e.state_dict()]

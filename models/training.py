"""Training for every family (VAE, GAN, flow, PixelCNN): progress bar, atomic checkpoint after every
epoch, resume, and torchrun.  The per-family objectives are in :mod:`models.train_loops`; what changes
under torchrun (sharded epochs, DDP, rank-0 checkpoints) is in :mod:`models.distributed`.

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
from . import checkpoint, data as data_mod, distributed
from .base import GenerativeModel, resolve_device
from .train_loops import LOOPS

#: Families ``train`` can make (the command's word; the PixelCNN's checkpoint family is "autoregressive").
FAMILIES = tuple(LOOPS)


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
    res_blocks: int | None = None     # VAE: residual blocks after every resolution change (default 0)
    lr_decay: str = "none"            # "cosine": lr * (1 + cos(pi * step / all steps)) / 2, step by step
    resume: bool = False
    conditional: bool = False         # class-conditional VAE/GAN: labels from Fashion-MNIST or sub-folder names
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
    if cfg.family not in FAMILIES:
        raise TrainingError(f"unknown family {cfg.family!r}; choose {', '.join(FAMILIES)}")
    device = resolve_device(distributed.setup(cfg.device))
    main = distributed.is_main()
    if not main:
        log = lambda s: None  # noqa: E731 - rank 0 speaks for all
    torch.manual_seed(cfg.seed + distributed.rank())
    start_epoch, model, opt_state, history = 0, None, None, []
    out, spath = Path(cfg.out), state_path(cfg.out)
    size, channels = cfg.image_size, cfg.channels
    if cfg.resume:
        if not out.exists() or not spath.exists():
            raise TrainingError(f"cannot resume: {out} or {spath} is missing; start without --resume")
        model = checkpoint.load(out, device=device)
        if model.conditional != cfg.conditional:
            raise TrainingError(f"cannot resume: {out} was trained {'with' if model.conditional else 'without'} "
                                f"--conditional; resume with the same options")
        channels, h, w = model.image_shape   # the data is read at the shape the model was built for
        size = (h, w)
    train_split, heldout = data_mod.load_training_data(cfg.data, size=size, channels=channels,
                                                       max_images=cfg.max_images)
    if cfg.limit:
        train_split.images, train_split.labels = train_split.images[:cfg.limit], train_split.labels[:cfg.limit]
    if cfg.conditional:
        _check_labels(cfg, train_split)
    x_train = train_split.images.to(device)
    x_held = heldout.images.to(device)
    # labels (-1: none) reach the loops of conditional models only
    y_train = train_split.labels.to(device) if cfg.conditional else None
    y_held = heldout.labels.to(device) if cfg.conditional else None
    if cfg.resume:
        state = torch.load(spath, map_location="cpu", weights_only=True)
        done = int(model.metadata.get("training", {}).get("epochs", -1))
        if int(state["epoch"]) != done:
            raise TrainingError(f"cannot resume: {spath.name} is from epoch {state['epoch']} but {out.name} "
                                f"from epoch {done}; start again without --resume")
        start_epoch, opt_state = done, state["optimizers"]
        history = list(model.metadata.get("training", {}).get("history", []))
        torch.set_rng_state(state["rng"])
        if distributed.rank():
            torch.manual_seed(cfg.seed + 1000 * start_epoch + distributed.rank())
        log(f"resuming {out} after epoch {start_epoch}")
    else:
        model = build_model(cfg, list(train_split.images.shape[1:]), device, len(train_split.classes))
    if start_epoch >= cfg.epochs:
        log(f"{out} already has {start_epoch} epochs; nothing to do (raise --epochs to train more)")
        return model

    loop = LOOPS[cfg.family](model, cfg, opt_state, x_first=x_train[:512])
    from tqdm import tqdm

    n = x_train.shape[0]
    steps = math.ceil(n / (loop.batch_size * distributed.world_size()))
    for epoch in range(start_epoch, cfg.epochs):
        model.net.train()
        t0 = time.perf_counter()
        perm = distributed.epoch_order(n, epoch, cfg.seed, device)
        bar = tqdm(range(steps), desc=f"epoch {epoch + 1}/{cfg.epochs}", unit="batch",
                   disable=not (progress and main), file=sys.stderr, dynamic_ncols=True, leave=False)
        totals: dict[str, float] = {}
        for i in bar:
            idx = perm[i * loop.batch_size:(i + 1) * loop.batch_size]
            xb = x_train[idx].float() / 255.0
            if cfg.lr_decay == "cosine":   # from the global step, so --resume continues the same curve
                loop.set_lr_scale(0.5 * (1.0 + math.cos(math.pi * (epoch * steps + i) / (cfg.epochs * steps))))
            stats = loop.step(xb, epoch, None if y_train is None else y_train[idx])
            for k, v in stats.items():
                totals[k] = totals.get(k, 0.0) + v
            if i % 20 == 0:
                bar.set_postfix({k: f"{v:.3f}" for k, v in stats.items()})
        bar.close()
        model.net.eval()
        metrics = distributed.mean_over_ranks({k: v / steps for k, v in totals.items()})
        extra = loop.finish(heldout, cfg, train_split)  # every epoch, before the metrics that may use it
        metrics.update(loop.evaluate(x_held, y_held))
        if not all(math.isfinite(v) for v in metrics.values()):
            raise TrainingError(f"training diverged in epoch {epoch + 1} (metrics {metrics}); the last good "
                                f"checkpoint is {out}. Try a lower --lr.")
        metrics["seconds"] = time.perf_counter() - t0
        history.append({"epoch": epoch + 1, **{k: round(v, 5) for k, v in metrics.items()}})
        remaining = (cfg.epochs - epoch - 1) * metrics["seconds"]
        log(f"epoch {epoch + 1}/{cfg.epochs} " + " ".join(f"{k}={v:.4g}" for k, v in metrics.items())
            + f" (about {remaining / 60:.1f} min left)")
        final = epoch + 1 == cfg.epochs
        commands = list(model.metadata.get("training", {}).get("commands", []))
        if not commands or commands[-1] != cfg.command:
            commands.append(cfg.command)
        training = {"command": cfg.command, "commands": commands, "data": cfg.data, "epochs": epoch + 1,
                    "seed": cfg.seed, "batch_size": loop.batch_size, "lr": loop.lr, "lr_decay": cfg.lr_decay, "limit": cfg.limit,
                    "max_images": cfg.max_images, "metrics": history[-1], "history": history,
                    "wall_seconds": round(sum(h.get("seconds", 0.0) for h in history), 1),
                    "torch": torch.__version__, "device": str(device), "threads": torch.get_num_threads(),
                    "world_size": distributed.world_size()}
        if cfg.conditional:
            from .conditional import LABEL_DROPOUT

            training.update(conditional=True, label_dropout=LABEL_DROPOUT)
        dataset = {"name": train_split.name.split("/")[0], "classes": train_split.classes,
                   "train_images": n, "heldout_images": len(heldout)}
        if cfg.data not in ("fashion-mnist", "fmnist"):
            dataset["background"] = "white (transparent pixels composited on RGB 255, 255, 255)"
            dataset["resize"] = "centre crop to the aspect, then Lanczos resize"
        if "class_prior" in extra:     # a conditional VAE's prior per class: recorded with the training
            training["class_prior"] = extra.pop("class_prior")
        meta = {"training": training, "name": cfg.name or out.stem, "dataset": dataset, **extra}
        model.metadata.pop("calibration", None)   # a calibration of older weights would be stale
        if main:
            with _interrupts_deferred():  # Ctrl-C between the two writes would leave them out of step
                torch.save({"epoch": epoch + 1, "optimizers": loop.optimizer_states(),
                            "rng": torch.get_rng_state()}, str(spath) + ".tmp")
                os.replace(str(spath) + ".tmp", spath)
                checkpoint.save(model, out, **meta)
        distributed.barrier()   # the other ranks go on only once the epoch's files are complete
    if cfg.calibrate and main:
        _calibrate(model, heldout, out, log)
    distributed.teardown()
    return model


def _check_labels(cfg: TrainConfig, split: data_mod.Split) -> None:
    if cfg.family not in ("vae", "gan"):
        raise TrainingError(f"--conditional applies to the VAE and the GAN, not the {cfg.family}")
    if len(split.classes) < 2:
        raise TrainingError(f"--conditional needs classes: {cfg.data} has {len(split.classes)}; put the images "
                            f"in one sub-folder per class (the folder names become the class names)")


def build_model(cfg: TrainConfig, image_shape: list[int], device: torch.device,
                n_classes: int = 0) -> GenerativeModel:
    """A new, untrained model of ``cfg.family`` for images of ``image_shape`` (of ``n_classes`` classes
    when ``cfg.conditional``)."""
    config: dict[str, Any] = {"image_shape": list(image_shape)}
    if cfg.conditional:   # the embedding's size is recorded, so a later default cannot change a checkpoint
        from .conditional import CLASS_DIM

        config["n_classes"] = int(n_classes)
        if cfg.family == "gan":
            config["class_dim"] = CLASS_DIM
    if cfg.family in ("vae", "gan"):
        if cfg.latent_dim:
            config["latent_dim"] = int(cfg.latent_dim)
        if cfg.width:
            config["channels"] = int(cfg.width)
        if cfg.res_blocks and cfg.family == "vae":
            config["res_blocks"] = int(cfg.res_blocks)
    elif cfg.width:
        config["hidden"] = int(cfg.width)
    if cfg.family == "vae":
        from .vae import VAEModel

        return VAEModel.build({**config, "beta": float(cfg.beta)}, device=device)
    if cfg.family == "gan":
        from .gan import GANModel

        return GANModel.build(config, device=device)
    if cfg.family == "flow":
        from .flow import FlowModel

        return FlowModel.build(config, device=device)
    from .pixelcnn import PixelCNNModel

    return PixelCNNModel.build(config, device=device)


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

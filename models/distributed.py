"""Training past one process: the few torch.distributed facts :mod:`models.training` needs.

``latent-explorer train ...`` runs unchanged under PyTorch's own launcher:

    torchrun --nproc_per_node=2 -m explorer train vae --data fashion-mnist --epochs 12 --out m.safetensors
    torchrun --nnodes=2 --node_rank=R --master_addr=HOST --master_port=29500 --nproc_per_node=N -m explorer train ...

torchrun sets ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``/``MASTER_PORT``; :func:`setup`
then joins the process group (gloo on CPU, NCCL when every rank has a CUDA device).  Each rank reads
its own shard of every epoch's shuffled order (:class:`torch.utils.data.DistributedSampler`, seeded,
``set_epoch`` per epoch), the network is wrapped in ``DistributedDataParallel`` (gradients averaged in
``backward``), the parameters start from rank 0's (DDP broadcasts them), and only rank 0 writes
checkpoints; the others wait at a barrier so a resumed run reads a complete file.  Without torchrun
(``WORLD_SIZE`` unset or 1) every helper here is a no-op and training is the plain single process.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn


def requested() -> bool:
    """True when launched by torchrun (or by hand) with more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def active() -> bool:
    return dist.is_available() and dist.is_initialized()


def setup(device: str = "auto") -> str:
    """Join the process group when launched with ``WORLD_SIZE > 1``; returns the device to train on
    (``cuda:LOCAL_RANK`` for NCCL on GPUs, else what was asked for)."""
    if not requested() or active():
        return device
    use_cuda = torch.cuda.is_available() and device in ("auto", "cuda") or str(device).startswith("cuda")
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if use_cuda:
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    elif device == "auto":
        device = "cpu"
    dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return device


def teardown() -> None:
    if active():
        dist.barrier()
        dist.destroy_process_group()


def rank() -> int:
    return dist.get_rank() if active() else 0


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    return rank() == 0


def barrier() -> None:
    if active():
        dist.barrier()


def wrap(module: nn.Module) -> nn.Module:
    """``module`` inside DistributedDataParallel when running distributed, else itself."""
    if not active():
        return module
    from torch.nn.parallel import DistributedDataParallel as DDP

    dev = next(module.parameters()).device
    return DDP(module, device_ids=[dev.index] if dev.type == "cuda" else None)


def epoch_order(n: int, epoch: int, seed: int, device: torch.device) -> torch.Tensor:
    """This rank's indices of an epoch's shuffled order: a ``DistributedSampler`` shard when
    distributed (every rank the same number of steps), else one ``randperm`` (the global RNG, as the
    single-process run always did)."""
    if not active():
        return torch.randperm(n, device=device)
    from torch.utils.data import DistributedSampler

    sampler = DistributedSampler(range(n), num_replicas=world_size(), rank=rank(), shuffle=True, seed=seed)
    sampler.set_epoch(epoch)
    return torch.tensor(list(sampler), device=device)


def mean_over_ranks(values: dict[str, float]) -> dict[str, float]:
    """The mean of each metric over ranks (what rank 0 logs and records)."""
    if not active() or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64)
    dist.all_reduce(t)
    return {k: float(v) / world_size() for k, v in zip(keys, t.tolist())}

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

``latent-explorer score`` uses the same group: :func:`my_batches` deals a fixed chunking of the inputs
to the ranks in turn (an image is scored in the very batch one process would use, so its numbers are
bit for bit the same), and :func:`all_gather_json` brings every rank's rows together as JSON text
(no pickle between processes) for rank 0 to write.
"""
from __future__ import annotations

import json
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


def teardown(wait: bool = True) -> None:
    """Leave the process group; ``wait``: first meet the other ranks at a barrier (not on an error path,
    where another rank may never come)."""
    if active():
        if wait:
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


def my_batches(n: int, batch: int) -> list[range]:
    """This rank's share of ``n`` items cut into consecutive batches of ``batch``: batch ``j`` goes to
    rank ``j % world_size``.  The cut does not depend on the number of ranks, so every item lands in
    the same batch as in one process (batched convolutions round differently for other batch
    compositions: about 1e-7 relative on a CPU, enough to change a JSON number)."""
    starts = range(0, int(n), int(batch))
    return [range(s, min(int(n), s + int(batch))) for j, s in enumerate(starts) if j % world_size() == rank()]


def all_gather_json(obj) -> list:
    """Every rank's ``obj`` (anything :mod:`json` writes), in rank order, on every rank; ``[obj]``
    without torchrun.  Travels as UTF-8 JSON in uint8 tensors (on the GPU for NCCL), so floats come
    back exactly and nothing is unpickled."""
    if not active():
        return [obj]
    dev = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
    data = torch.frombuffer(bytearray(json.dumps(obj).encode()), dtype=torch.uint8).to(dev)
    size = torch.tensor([data.numel()], dtype=torch.int64, device=dev)
    sizes = [torch.zeros_like(size) for _ in range(world_size())]
    dist.all_gather(sizes, size)
    longest = int(max(s.item() for s in sizes))
    padded = torch.zeros(longest, dtype=torch.uint8, device=dev)
    padded[:data.numel()] = data
    parts = [torch.empty_like(padded) for _ in range(world_size())]
    dist.all_gather(parts, padded)
    return [json.loads(p[:int(s.item())].cpu().numpy().tobytes().decode()) for p, s in zip(parts, sizes)]

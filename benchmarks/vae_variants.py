"""Which VAE lever buys the most bits/dim per CPU second: latent size, width or residual depth.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/vae_variants.py --latent 64 --width 64 [--res-blocks 1] [--epochs 1]

Trains one ``models.vae.VAEModel`` variant on the Fashion-MNIST training images (batch 128, Adam with a
one-cycle learning rate peaking at ``--lr``, 5% warm-up, the same seed for every variant) and prints the
held-out −ELBO in bits/dim on the first 2,000 test images and the seconds it took, as one JSON line.
Compare variants run side by side in one sitting (one thread each): the ratios of the seconds and the
differences of bits/dim are what it measures, not the absolute figures of a shared machine.  The bundled
VAE's choice (64 latents, width 64, no residual blocks) came from four such one-epoch runs, recorded in
``assets/README.md``.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models import data as data_mod  # noqa: E402
from models.vae import VAEModel  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--latent", type=int, default=16)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--res-blocks", type=int, default=0)
    ap.add_argument("--n-mix", type=int, default=3)
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    torch.manual_seed(args.seed)
    model = VAEModel.build({"latent_dim": args.latent, "channels": args.width, "res_blocks": args.res_blocks,
                            "n_mix": args.n_mix})
    train = data_mod.fashion_mnist("train").float01()
    test = data_mod.fashion_mnist("test").float01()[:2000]
    opt = torch.optim.Adam(model.net.parameters(), lr=args.lr)
    n, batch, dims = train.shape[0], 128, math.prod(train.shape[1:])
    steps = int(args.epochs * n / batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps, pct_start=0.05)
    gen = torch.Generator().manual_seed(args.seed)
    perm, j, t0 = torch.randperm(n, generator=gen), 0, time.perf_counter()
    model.net.train()
    for _ in range(steps):
        if j + batch > n:
            perm, j = torch.randperm(n, generator=gen), 0
        rec, kl = model.elbo_terms(train[perm[j:j + batch]])
        j += batch
        loss = -(rec - kl).mean() / dims
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.net.parameters(), 100.0)
        opt.step()
        sched.step()
    model.net.eval()
    with torch.no_grad():
        elbo = torch.cat([model.elbo(test[i:i + 500]) for i in range(0, len(test), 500)])
    print(json.dumps({"latent": args.latent, "width": args.width, "res_blocks": args.res_blocks,
                      "n_mix": args.n_mix, "epochs": args.epochs, "lr": args.lr,
                      "heldout_elbo_bpd": round(float(-elbo.mean() / (dims * math.log(2))), 4),
                      "seconds": round(time.perf_counter() - t0, 1),
                      "parameters": sum(p.numel() for p in model.net.parameters()),
                      "threads": torch.get_num_threads()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Quality figures of the bundled models (README table).

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/model_quality.py [--iwae-images 1000] [--k 100]

* VAE: negative ELBO on the whole Fashion-MNIST test set and the importance-weighted NLL (K samples)
  on its first ``--iwae-images`` images, in nats and bits/dim (8-bit pixels, discretized logistic).
* Flow: the dequantized bound (``models.scoring.log_likelihood``: K seeded uniform draws) and PixelCNN:
  the exact log-likelihood, on the same first ``--iwae-images`` test images, so the "NLL bits/dim" column
  compares every family with a likelihood side by side (8-bit pixels, D = 784 for all).
* Every model: "FMNIST-classifier FD", the Fréchet distance between features of 10,000 samples and of
  the 10,000 test images, in the 128-d penultimate layer of a small Fashion-MNIST CNN this script
  trains (seeded; cached in benchmarks/.cache).  It is *not* FID (no Inception network); the distance
  of 10,000 training images to the test set is printed as the floor.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import models  # noqa: E402
from models.data import fashion_mnist  # noqa: E402

CACHE = ROOT / "benchmarks" / ".cache"


class SmallCNN(nn.Module):
    """The classifier whose 128-d penultimate layer is the feature space of the Fréchet distances: two
    conv/pool stages for 28x28 images (the Fashion-MNIST one), three for larger ones."""

    def __init__(self, channels: int = 1, size: int = 28, classes: int = 10) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c, s = channels, size
        for width in ([32, 64] if size <= 32 else [32, 64, 64]):
            layers += [nn.Conv2d(c, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            c, s = width, s // 2
        self.features = nn.Sequential(*layers, nn.Flatten(), nn.Linear(c * s * s, 128), nn.ReLU())
        self.head = nn.Linear(128, classes)

    def forward(self, x):
        return self.head(self.features(x * 2 - 1))


def fit_classifier(net: SmallCNN, x: torch.Tensor, y: torch.Tensor, path: Path, epochs: int, seed: int,
                   batch: int = 128) -> SmallCNN:
    """``net`` trained on ``x`` (N, C, H, W) in [0, 1] and labels ``y`` (Adam, seeded), or loaded from
    ``path`` when an earlier run cached it there."""
    from safetensors.torch import load_file, save_file

    if path.exists():
        net.load_state_dict(load_file(str(path)))
        return net.eval()
    torch.manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    for ep in range(epochs):
        perm = torch.randperm(len(x))
        for i in range(0, len(x), batch):
            idx = perm[i:i + batch]
            loss = nn.functional.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        print(f"classifier epoch {ep + 1}/{epochs} loss {loss.item():.3f}", file=sys.stderr)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(net.state_dict(), str(path))
    return net.eval()


def classifier(epochs: int = 3, seed: int = 0) -> SmallCNN:
    """The Fashion-MNIST classifier (all 60,000 training images), cached in benchmarks/.cache."""
    train = fashion_mnist("train-full")
    return fit_classifier(SmallCNN(), train.float01(), train.labels,
                          CACHE / f"fmnist-classifier-e{epochs}-s{seed}.safetensors", epochs, seed)


@torch.no_grad()
def features(net: SmallCNN, x: torch.Tensor) -> np.ndarray:
    return torch.cat([net.features(x[i:i + 1000].float().cpu()) for i in range(0, len(x), 1000)]).double().numpy()


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    """||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^1/2), with tr (S1 S2)^1/2 = sum of the square roots of the
    eigenvalues of S1^1/2 S2 S1^1/2 (symmetric, so ``eigh`` is exact and never fails on the singular
    covariances that classifier features with dead units give; scipy's ``sqrtm`` of the non-symmetric
    product did)."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(s1)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    inner = np.linalg.eigvalsh(root1 @ s2 @ root1)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.clip(inner, 0, None)).sum())


def iwae_log_likelihoods(model, images: torch.Tensor, k: int, batch: int = 50) -> torch.Tensor:
    """log p(x) in nats per image: the app's own estimator (``models.scoring.log_likelihood``: IWAE with
    K samples and seed ``models.iwae.IWAE_SEED``), so this table and the app report the same figure."""
    from models import scoring

    return torch.cat([scoring.log_likelihood(model, images[i:i + batch], k) for i in range(0, len(images), batch)])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--k", type=int, default=100, help="importance samples for the IWAE NLL (default 100)")
    ap.add_argument("--iwae-images", type=int, default=1000, help="test images for the IWAE NLL (default 1000)")
    ap.add_argument("--iwae-from", type=int, default=0, metavar="S",
                    help="start at test image S (shards of a long K = 1000 run; default 0)")
    ap.add_argument("--samples", type=int, default=10000, help="samples per model for the FD (0: likelihoods only)")
    ap.add_argument("--ar-samples", type=int, default=0,
                    help="PixelCNN samples for its FD (drawn pixel by pixel: slow on a CPU; default 0 = no FD)")
    ap.add_argument("--models", default="vae,beta-vae,gan,flow,pixelcnn",
                    help="bundled models to measure, comma-separated (default: all five)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    test = fashion_mnist("test")
    x_test = test.float01()
    net = classifier()
    acc = float((net(x_test).argmax(1) == test.labels).float().mean())
    f_test = features(net, x_test)
    rows = []
    if args.samples:      # --samples 0: likelihoods only, no FD (and no floor row)
        f_train = features(net, fashion_mnist("train").float01()[:args.samples])
        rows.append({"model": "Fashion-MNIST train images (floor)", "fd": frechet(f_train, f_test)})
    dims = 784
    for name in args.models.split(","):
        path = models.bundled(name)
        if not path.exists():
            print(f"skipping {path.name}: not found", file=sys.stderr)
            continue
        m = models.load(path, device="cpu")
        training = m.metadata.get("training", {})
        row = {"model": path.name, "family": m.family, "epochs": training.get("epochs"),
               "wall_minutes": round(float(training.get("wall_seconds", 0)) / 60, 1)}
        t0 = time.perf_counter()
        n_samples = args.ar_samples if m.family == "autoregressive" else args.samples
        if n_samples:
            samples = torch.cat([m.sample(min(1000, n_samples), seed=s)
                                 for s in range(max(1, n_samples // 1000))])
            row["fd"] = frechet(features(net, samples), f_test)
        if m.family in ("flow", "autoregressive"):
            from models import scoring

            xs = x_test[args.iwae_from:args.iwae_from + args.iwae_images]
            ll = torch.cat([scoring.log_likelihood(m, xs[i:i + 200], args.k if m.family == "flow" else None)
                            for i in range(0, len(xs), 200)])
            row["nll_nats"] = float(-ll.mean())
            row["nll_bpd"] = row["nll_nats"] / (dims * math.log(2))
            row["nll_method"] = (f"dequantized bound, K={args.k}" if m.family == "flow" else "exact")
            row["nll_images"] = len(xs)
        if m.family == "vae":
            elbo = torch.cat([m.elbo(x_test[i:i + 500]) for i in range(0, len(x_test), 500)])
            row["neg_elbo_nats"] = float(-elbo.mean())
            row["neg_elbo_bpd"] = row["neg_elbo_nats"] / (dims * math.log(2))
            xs = x_test[args.iwae_from:args.iwae_from + args.iwae_images]
            ll = iwae_log_likelihoods(m, xs, args.k)
            row["iwae_nll_nats"] = float(-ll.mean())
            row["iwae_nll_bpd"] = row["iwae_nll_nats"] / (dims * math.log(2))
            row["iwae_k"] = args.k
            row["iwae_images"] = len(xs)
            row["iwae_from"] = args.iwae_from
            row.update(nll_nats=row["iwae_nll_nats"], nll_bpd=row["iwae_nll_bpd"], nll_images=len(xs),
                       nll_method=f"IWAE, K={args.k}")
        row["seconds"] = round(time.perf_counter() - t0, 1)
        rows.append(row)
    if args.json:
        print(json.dumps({"classifier_test_accuracy": acc, "rows": rows}, indent=2))
        return 0
    print(f"FMNIST classifier (features for FD): test accuracy {100 * acc:.1f}%; {torch.get_num_threads()} "
          f"CPU threads, torch {torch.__version__}")
    print()
    print("| model | epochs (min) | NLL bits/dim ↓ (how), first N test images | −ELBO nats (bits/dim), 10k test "
          "| FMNIST-classifier FD ↓ |")
    print("|---|---|---|---|---|")
    for r in rows:
        elbo = f"{r['neg_elbo_nats']:.1f} ({r['neg_elbo_bpd']:.3f})" if "neg_elbo_nats" in r else "—"
        nll = (f"{r['nll_bpd']:.3f} ({r['nll_method']}, N={r['nll_images']})" if "nll_bpd" in r
               else "— (no likelihood)" if r.get("family") == "gan" else "—")
        trained = f"{r['epochs']} ({r['wall_minutes']})" if r.get("epochs") else "—"
        fd = f"{r['fd']:.2f}" if "fd" in r else "—"
        print(f"| {r['model']} | {trained} | {nll} | {elbo} | {fd} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Do class-conditional models draw the class they are asked for?  A classifier's agreement, per class.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/class_agreement.py \
        [assets/cvae-fmnist.safetensors assets/cgan-fmnist.safetensors] [--n 100] [--seed 0] [--temperature 1] [--json]

For every model and every class c: ``--n`` samples drawn with ``y = c`` (``model.sample(n, seed, y=c)``,
at ``--temperature`` (default 1; a GAN's truncation), the same latents for every class), and the share of them that the small Fashion-MNIST
CNN of :mod:`benchmarks.model_quality` (seeded, cached in benchmarks/.cache) assigns to class c.  The
last column is the classifier's own accuracy on the 1,000 real test images of each class: what a
perfect model could hope for.  Also printed: the samples drawn without a class ("any class"), as the
share of them the classifier puts in each class (a uniform 10% each would match the data set).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import models  # noqa: E402
from models.conditional import names as class_names  # noqa: E402
from models.data import FASHION_MNIST_CLASSES, fashion_mnist  # noqa: E402
from model_quality import classifier  # noqa: E402  (the one Fashion-MNIST classifier of the benchmarks)

DEFAULT_MODELS = [ROOT / "assets" / "cvae-fmnist.safetensors", ROOT / "assets" / "cgan-fmnist.safetensors"]


@torch.no_grad()
def agreement(model, net, n: int, seed: int, temperature: float = 1.0) -> dict:
    """Per class: the share of ``n`` samples of that class the classifier assigns to it; and the
    classifier's class shares of ``n`` samples drawn without a class."""
    names = class_names(model)
    per_class = {}
    for c, name in enumerate(names):
        if name not in FASHION_MNIST_CLASSES:
            raise SystemExit(f"{model.name}: class {name!r} is not a Fashion-MNIST class; this benchmark "
                             f"classifies Fashion-MNIST only")
        x = model.sample(n, seed=seed, y=c, temperature=temperature).float().cpu()
        pred = net(x).argmax(1)
        per_class[name] = float((pred == FASHION_MNIST_CLASSES.index(name)).float().mean())
    free = net(model.sample(n * len(names), seed=seed, temperature=temperature).float().cpu()).argmax(1)
    any_class = {k: float((free == i).float().mean()) for i, k in enumerate(FASHION_MNIST_CLASSES)}
    return {"per_class": per_class, "mean": sum(per_class.values()) / len(per_class), "any_class": any_class}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*", default=[str(p) for p in DEFAULT_MODELS])
    ap.add_argument("--n", type=int, default=100, help="samples per class (default 100)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--temperature", type=float, default=1.0, help="prior scale (a GAN's truncation; default 1)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    net = classifier()
    test = fashion_mnist("test")
    with torch.no_grad():
        pred = net(test.float01()).argmax(1)
    real = {name: float((pred[test.labels == i] == i).float().mean()) for i, name in enumerate(FASHION_MNIST_CLASSES)}
    rows = {}
    for path in args.models:
        m = models.load(path, device="cpu")
        if not m.conditional:
            raise SystemExit(f"{path}: {m.name} is not class-conditional")
        torch.manual_seed(0)
        rows[m.name] = agreement(m, net, args.n, args.seed, args.temperature)
    if args.json:
        print(json.dumps({"n": args.n, "seed": args.seed, "temperature": args.temperature,
                          "classifier_on_real_test_images": real,
                          "models": rows}, indent=2))
        return 0
    names = list(rows)
    print(f"Classifier agreement: share of {args.n} samples of each class (seed {args.seed}, temperature {args.temperature:g}) that "
          f"the Fashion-MNIST CNN of benchmarks/model_quality.py assigns to that class "
          f"({time.perf_counter() - t0:.0f} s, {torch.get_num_threads()} threads)\n")
    print("| class | " + " | ".join(names) + " | classifier on real test images |")
    print("|---|" + "---:|" * (len(names) + 1))
    for cls in FASHION_MNIST_CLASSES:
        cells = [f"{100 * rows[n]['per_class'][cls]:.0f}%" if cls in rows[n]["per_class"] else "–" for n in names]
        print(f"| {cls} | " + " | ".join(cells) + f" | {100 * real[cls]:.1f}% |")
    print("| **mean** | " + " | ".join(f"**{100 * rows[n]['mean']:.1f}%**" for n in names)
          + f" | {100 * sum(real.values()) / len(real):.1f}% |")
    print("\nSamples drawn without a class (any class): the classifier's class shares")
    for n in names:
        shares = ", ".join(f"{k} {100 * v:.0f}%" for k, v in rows[n]["any_class"].items())
        print(f"* {n}: {shares}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

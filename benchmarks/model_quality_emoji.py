"""Quality figures of the bundled 64x64 RGB emoji models (the emoji rows of the README's model-quality table).

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/model_quality_emoji.py [--k 100] [--json]

Data: the emoji rendered by ``python -m models.emoji_data --out runs/emoji`` (``--data``), read at the
models' shape (3x64x64) and split as the models were trained (:func:`models.data.is_heldout`, a hash of
each path: about 1,945 training and 225 held-out emoji).

* VAE: the negative ELBO and the IWAE NLL (K importance samples, ``models.scoring.log_likelihood``, the
  app's own estimator) of every held-out emoji, in nats and bits/dim (8-bit pixels, D = 3·64·64).
* VAE and GAN: "emoji-classifier FD", the Fréchet distance between the 128-d penultimate-layer features
  of N samples (temperature 1, N = the number of training emoji) and of the held-out emoji, in a small
  CNN this script trains on the training emoji's 8 groups (sub-folder names; seeded; cached in
  ``runs/quality-cache/``).  Not FID.  Floor: the N training emoji against the same held-out emoji.

The classifier, the features and the Fréchet distance are those of ``benchmarks/model_quality.py``.
Prints markdown rows in the README table's columns (model | −ELBO | IWAE NLL | FD), the hardware and
the load average before and after.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from model_quality import ROOT, SmallCNN, features, fit_classifier, frechet, iwae_log_likelihoods  # noqa: E402

import models  # noqa: E402
from models.data import image_folder  # noqa: E402

CACHE = ROOT / "runs" / "quality-cache"


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{os.cpu_count()}-core {line.split(':', 1)[1].strip()}"
    except OSError:
        pass
    return f"{os.cpu_count()}-core {platform.machine()}"


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(ROOT / "runs" / "emoji"),
                    help="the rendered emoji (python -m models.emoji_data --out FOLDER); default runs/emoji")
    ap.add_argument("--k", type=int, default=100, help="importance samples of the IWAE NLL (default 100)")
    ap.add_argument("--models", default="vae-emoji,gan-emoji", help="bundled models, comma-separated")
    ap.add_argument("--classifier-epochs", type=int, default=15)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="one JSON object instead of markdown rows")
    args = ap.parse_args(argv)
    t_start, load_before = time.perf_counter(), _load()
    train, held = image_folder(args.data, size=64, channels=3)
    x_train, x_held = train.float01(), held.float01()
    torch.manual_seed(args.seed)
    net = fit_classifier(SmallCNN(3, 64, len(train.classes)), x_train, train.labels,
                         CACHE / f"emoji-classifier-n{len(train)}-e{args.classifier_epochs}-s{args.seed}.safetensors",
                         args.classifier_epochs, args.seed)
    with torch.no_grad():
        acc = float((net(x_held).argmax(1) == held.labels).float().mean())
    f_held = features(net, x_held)
    n = len(x_train)
    rows = [{"model": f"emoji training images (floor), {n} against the {len(held)} held-out",
             "fd": frechet(features(net, x_train), f_held)}]
    dims = 3 * 64 * 64
    for name in filter(None, args.models.split(",")):
        path = models.bundled(name)
        m = models.load(path, device="cpu")
        training = m.metadata.get("training", {})
        prior = m.metadata.get("prior") or {}
        row = {"model": path.name, "family": m.family, "epochs": training.get("epochs"),
               "trained_on": training.get("data"), "prior": prior.get("kind", "standard normal"),
               "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
        t0 = time.perf_counter()
        samples = torch.cat([m.sample(min(500, n - i), seed=i // 500) for i in range(0, n, 500)])
        row["fd"] = frechet(features(net, samples), f_held)
        if m.family == "vae":
            torch.manual_seed(args.seed)
            elbo = torch.cat([m.elbo(x_held[i:i + 100]) for i in range(0, len(x_held), 100)])
            row["neg_elbo_nats"] = float(-elbo.mean())
            row["neg_elbo_bpd"] = row["neg_elbo_nats"] / (dims * math.log(2))
            ll = iwae_log_likelihoods(m, x_held, args.k)
            row.update(iwae_nll_nats=float(-ll.mean()), iwae_k=args.k, iwae_images=len(x_held))
            row["iwae_nll_bpd"] = row["iwae_nll_nats"] / (dims * math.log(2))
        row["seconds"] = round(time.perf_counter() - t0, 1)
        rows.append(row)
    info = {"classifier_heldout_accuracy": acc, "classes": train.classes, "train_images": n,
            "heldout_images": len(held), "samples": n, "cpu": _cpu(), "torch": torch.__version__,
            "threads": torch.get_num_threads(), "load_before": load_before, "load_after": _load(),
            "minutes": round((time.perf_counter() - t_start) / 60, 1), "rows": rows}
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"emoji classifier (features for FD): {len(train.classes)} groups, held-out accuracy {100 * acc:.1f}%; "
          f"{info['cpu']}, {info['threads']} threads, torch {info['torch']}; load average {load_before} before, "
          f"{info['load_after']} after; {info['minutes']} min")
    print()
    for r in rows:
        elbo = (f"{r['neg_elbo_nats']:.0f} ({r['neg_elbo_bpd']:.3f}), {len(held)} held-out emoji"
                if "neg_elbo_nats" in r else "—")
        iwae = (f"{r['iwae_nll_nats']:.0f} ({r['iwae_nll_bpd']:.3f}), K = {r['iwae_k']}, {r['iwae_images']} "
                f"held-out emoji" if "iwae_nll_nats" in r else "—")
        label = r["model"] if "family" not in r else (f"{r['family'].upper()} 64×64 RGB (`{Path(r['model']).stem}`, "
                                                        f"{r['epochs']} epochs)")
        print(f"| {label} | {elbo} | {iwae} | emoji-classifier FD {r['fd']:.2f} |")
    print()
    for r in rows[1:]:
        print(f"{r['model']}: sha256 {r['sha256'][:16]}…, prior {r['prior']}, sampled at temperature 1")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""OOD detection benchmark: raw likelihood and every candidate statistic, for every bundled model.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/ood.py [--models vae,beta-vae,gan]
        [--n-test 3000] [--n-ood 500] [--n-iwae 100] [--k K] [--json out.json]

In-distribution: the first ``--n-test`` Fashion-MNIST *test* images.  OOD sets (models/ood_sets.py):
scikit-learn's digits framed like MNIST, uniform noise, constant images, vertically flipped and
inverted Fashion-MNIST (made from the *second* half of the test set, so no image is on both sides),
random line drawings, blurred noise, and 28x28 crops of scikit-learn's two sample photos.

Everything a candidate fits (means, covariances, standard deviations) is fitted on the first half of
Fashion-MNIST's held-out split (``fashion_mnist("heldout")``, never used in training); nothing is fitted
on any OOD set or on the test set.  The shipped statistic uses the calibration stored in the checkpoint
when there is one (else it is calibrated here the same way), and its in-distribution false-positive rate
is measured on the test images against its stored threshold.

Printed per model: AUROC (OOD = positive; 1.0 is perfect, 0.5 a coin) and FPR@95%TPR, here the fraction
of an OOD set *accepted* as in-distribution when the threshold accepts 95% of the in-distribution test
images (lower is better; this is what a 5%-false-positive verdict would miss), plus milliseconds per
image of the work each statistic needs, measured in batches of 256 on this machine's CPU threads.
``raw likelihood (IWAE K)`` is measured on the first ``--n-iwae`` images of each set (it is slow).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import models  # noqa: E402
from models import iwae, ood_features, ood_sets, scoring  # noqa: E402
from models.data import fashion_mnist  # noqa: E402


def auroc(s_in: np.ndarray, s_out: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    y = np.r_[np.zeros(len(s_in)), np.ones(len(s_out))]
    return float(roc_auc_score(y, np.r_[s_in, s_out]))


def fpr_at_95_tpr(s_in: np.ndarray, s_out: np.ndarray) -> float:
    thr = np.quantile(s_in, 0.95)
    return float(np.mean(s_out <= thr))


def timed(fn: Callable[[], object], n: int, repeat: int = 2) -> float:
    """Best of ``repeat`` wall times of ``fn`` (a batch of ``n`` images), ms per image."""
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return 1000.0 * best / n


class Gaussian:
    """A Gaussian fitted on in-distribution vectors; statistic = Mahalanobis distance squared."""

    def __init__(self, x: np.ndarray) -> None:
        self.mean = x.mean(0)
        cov = np.atleast_2d(np.cov(x.T)) + 1e-6 * np.eye(x.shape[1])
        self.prec = np.linalg.inv(cov)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        d = x - self.mean
        return np.einsum("ni,ij,nj->n", d, self.prec, d)


def candidates(family: str, fit: dict[str, np.ndarray], cal: dict) -> dict[str, tuple[Callable, str]]:
    """name -> (features -> statistic (higher = more OOD), cost key).  Fitted on ``fit`` (held-out) only."""
    def col(f, names):
        return np.stack([f[n] for n in names], 1)

    def z(name):
        m, s = fit[name].mean(), fit[name].std()
        return lambda f: (f[name] - m) / s

    out: dict[str, tuple[Callable, str]] = {}
    if family == "vae":
        out["raw likelihood (-ELBO at mu, bits/dim)"] = (lambda f: f["nll_bpd"], "net")
        nll_mean = fit["nll_bpd"].mean()
        out["typicality: abs(NLL - mean NLL)"] = (lambda f: np.abs(f["nll_bpd"] - nll_mean), "net")
        out["KL(q(z given x), p(z))"] = (lambda f: f["kl_nats"], "net")
        out["PNG code length alone"] = (lambda f: f["png_bpd"], "png")
        out["WebP code length alone"] = (lambda f: f["webp_bpd"], "webp")
        out["input complexity S = NLL - L_PNG (Serra)"] = (lambda f: f["complexity_png"], "net+png")
        out["input complexity S = NLL - L_WebP"] = (lambda f: f["complexity"], "net+webp")
        g_lat = Gaussian(fit["latent"])
        out["latent Mahalanobis of mu"] = (lambda f: g_lat(f["latent"]), "net")
        names = ["nll_bpd", "rec_bpd", "kl_nats", "logvar_mean", "png_bpd"]
        g_all = Gaussian(col(fit, names))
        out["Gaussian over [NLL, rec, KL, logvar, PNG]"] = (lambda f: g_all(col(f, names)), "net+png")
        g_all_lat = Gaussian(np.concatenate([col(fit, names), fit["latent"]], 1))
        out["Gaussian over the same + mu"] = (
            lambda f: g_all_lat(np.concatenate([col(f, names), f["latent"]], 1)), "net+png")
        zc, zn = z("complexity"), z("nll_bpd")
        g_cn = Gaussian(col(fit, ["complexity", "nll_bpd"]))
        out["Gaussian over [S, NLL]"] = (lambda f: g_cn(col(f, ["complexity", "nll_bpd"])), "net+webp")
        out["z(S) + z(NLL)"] = (lambda f: zc(f) + zn(f), "net+webp")
    else:
        out["discriminator (-logit)"] = (lambda f: -f["disc_logit"], "disc")
        out["encoder-only residual (log MSE)"] = (lambda f: f["log_residual_encoder"], "enc")
        out["inversion residual (log MSE)"] = (lambda f: f["log_residual"], "inv")
        out["squared norm of z after inversion"] = (lambda f: f["z_norm2"], "inv")
        out["PNG code length alone"] = (lambda f: f["png_bpd"], "png")
        out["residual complexity (residual bits - L_PNG)"] = (lambda f: f["residual_complexity"], "inv+webp")
        names = ["log_residual", "log_residual_encoder", "z_norm2", "disc_logit", "png_bpd"]
        g_all = Gaussian(col(fit, names))
        out["Gaussian over [res, enc res, z norm, D, PNG]"] = (lambda f: g_all(col(f, names)), "inv+png")
        g_lat = Gaussian(fit["latent"])
        out["latent Mahalanobis of inverted z"] = (lambda f: g_lat(f["latent"]), "inv")
        zr, zd = z("residual_complexity"), z("disc_logit")
        out["max(z(res. complexity), -z(D))"] = (lambda f: np.maximum(zr(f), -zd(f)), "inv+webp")
    out[f"SHIPPED: {cal['statistic']}"] = (lambda f: scoring.statistic_from_features(f, cal), "shipped")
    return out


def costs(model, x: torch.Tensor, k: int) -> dict[str, float]:
    """ms per image of each kind of work, batches of 256."""
    xb = x[:256].float() / 255.0
    c = {"png": timed(lambda: ood_features.png_bits_per_dim(ood_features.pillow_arrays(xb)), len(xb)),
         "webp": timed(lambda: ood_features.webp_bits_per_dim(ood_features.pillow_arrays(xb)), len(xb)),
         "shipped": timed(lambda: scoring.ood(model, xb), len(xb))}
    if model.family == "vae":
        c["features"] = timed(lambda: ood_features.vae_features(model, xb), len(xb))
        c["net"] = max(0.0, c["features"] - c["png"] - c["webp"])
        c[f"iwae{k}"] = timed(lambda: iwae.iwae_log_likelihood(model, xb[:64], k), 64, repeat=1)
    else:
        c["features"] = timed(lambda: ood_features.gan_features(model, xb), len(xb))
        c["inv"] = max(0.0, c["features"] - c["png"] - c["webp"])
        c["enc"] = timed(lambda: ood_features.gan_features(model, xb, steps=0), len(xb)) - c["png"] - c["webp"]
        with torch.no_grad():
            c["disc"] = timed(lambda: model.discriminate(xb), len(xb))
    for base in ("net", "inv"):
        if base in c:
            c[f"{base}+png"], c[f"{base}+webp"] = c[base] + c["png"], c[base] + c["webp"]
    return c


def bench_model(name: str, args, test_u8, ood_u8, held_u8) -> dict:
    path = models.bundled(name)
    model = models.load(path, device="cpu")
    half = len(held_u8) // 2
    cal = model.metadata.get("calibration")
    try:
        scoring.calibration_of(model)
        cal_source = "stored in the checkpoint"
    except scoring.UncalibratedError:
        cal = scoring.fit_calibration(model, held_u8[:half], held_u8[half:], source="benchmark")
        model.metadata["calibration"] = cal   # in memory only; the file is not touched
        cal_source = "computed by this benchmark (checkpoint has none)"
    t0 = time.perf_counter()
    fit = scoring.features(model, held_u8[:half])
    f_in = scoring.features(model, test_u8)
    f_out = {k: scoring.features(model, v) for k, v in ood_u8.items()}
    t_feat = time.perf_counter() - t0
    cands = candidates(model.family, fit, cal)
    rows = []
    for cname, (fn, cost) in cands.items():
        s_in = fn(f_in)
        rows.append({"statistic": cname, "cost": cost,
                     "auroc": {k: auroc(s_in, fn(f)) for k, f in f_out.items()},
                     "fpr95": {k: fpr_at_95_tpr(s_in, fn(f)) for k, f in f_out.items()}})
    if model.family == "vae":
        k, n = args.k, args.n_iwae
        ll_in = -iwae.iwae_log_likelihood(model, test_u8[:n].float() / 255, k).numpy()
        lls = {kk: -iwae.iwae_log_likelihood(model, v[:n].float() / 255, k).numpy() for kk, v in ood_u8.items()}
        rows.insert(1, {"statistic": f"raw likelihood (IWAE K={k}, first {n} of each set)", "cost": f"iwae{k}",
                        "auroc": {kk: auroc(ll_in, v) for kk, v in lls.items()},
                        "fpr95": {kk: fpr_at_95_tpr(ll_in, v) for kk, v in lls.items()}})
    c = costs(model, test_u8, args.k)
    for r in rows:
        r["ms_per_image"] = c.get(r["cost"], float("nan"))
    shipped_in = scoring.statistic_from_features(f_in, cal)
    fpr_test = float(np.mean(shipped_in > cal["threshold"]))
    return {"model": name, "path": str(path), "epochs": model.metadata.get("training", {}).get("epochs"),
            "calibration": cal_source, "stated_fpr": cal["fpr"], "threshold": cal["threshold"],
            "measured_fpr_on_test": fpr_test, "n_test": int(len(test_u8)), "rows": rows,
            "feature_seconds": t_feat}


SHORT = {"digits (sklearn, MNIST-framed)": "digits", "uniform noise": "noise", "constant": "const",
         "FMNIST flipped vertically": "vflip", "FMNIST inverted": "invert", "shapes (line drawings)": "shapes",
         "blurred noise": "blur-noise", "photo patches (sklearn)": "photos"}


def print_result(res: dict) -> None:
    sets = list(res["rows"][0]["auroc"])
    print(f"\n### {res['model']} ({res['path']}, {res['epochs']} epochs; calibration {res['calibration']})\n")
    for metric, title in (("auroc", "AUROC (higher is better)"), ("fpr95", "FPR@95%TPR (lower is better)")):
        print(f"{title}\n")
        print("| statistic | " + " | ".join(SHORT.get(s, s) for s in sets) + " | ms/img |")
        print("|---|" + "---:|" * (len(sets) + 1))
        for r in res["rows"]:
            cells = " | ".join(f"{r[metric][s]:.3f}" for s in sets)
            print(f"| {r['statistic']} | {cells} | {r['ms_per_image']:.2f} |")
        print()
    print(f"shipped verdict: threshold {res['threshold']:.4f} at stated FPR {100 * res['stated_fpr']:.1f}%; "
          f"measured FPR on {res['n_test']} Fashion-MNIST test images: {100 * res['measured_fpr_on_test']:.2f}%")


def k_sweep(name: str, n: int, ks=(1, 4, 16, 32, 64, 128, 512), seeds=2) -> None:
    """How the IWAE estimate and its cost change with K (the default K's evidence)."""
    model = models.load(models.bundled(name), device="cpu")
    x = fashion_mnist("test").images[:n].float() / 255.0
    ref = None
    rows = []
    for k in sorted(ks, reverse=True):
        t0 = time.perf_counter()
        runs = np.stack([iwae.iwae_log_likelihood(model, x, k, seed=s).numpy() for s in range(seeds)])
        ms = 1000.0 * (time.perf_counter() - t0) / (seeds * n)
        if ref is None:
            ref = runs.mean(0)
        rows.append((k, runs.mean(), (ref - runs).mean(), runs.std(0).mean(), ms))
    print(f"\n### IWAE K sweep: {name}, first {n} FMNIST test images, {seeds} seeds of importance samples\n")
    print("| K | mean log p (nats) | below K=%d (nats) | seed-to-seed std per image (nats) | ms/img | "
          "1,000 images (s) |" % max(ks))
    print("|---:|---:|---:|---:|---:|---:|")
    for k, mean, gap, sd, ms in sorted(rows):
        print(f"| {k} | {mean:.2f} | {gap:.2f} | {sd:.2f} | {ms:.1f} | {ms:.0f} |")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="vae,beta-vae,gan")
    p.add_argument("--n-test", type=int, default=3000)
    p.add_argument("--n-ood", type=int, default=500)
    p.add_argument("--n-iwae", type=int, default=100)
    p.add_argument("--k", type=int, default=scoring.DEFAULT_K)
    p.add_argument("--json", default=None, help="also write the results here")
    p.add_argument("--k-sweep", type=int, default=0, metavar="N",
                   help="instead: how the VAE likelihood and its cost change with K, on N test images")
    args = p.parse_args()
    if args.k_sweep:
        for name in [s.strip() for s in args.models.split(",") if s.strip() and s.strip() != "gan"]:
            k_sweep(name, args.k_sweep)
        return 0
    torch.manual_seed(0)
    test = fashion_mnist("test").images
    held = fashion_mnist("heldout").images
    test_u8 = test[:args.n_test]
    ood_u8 = ood_sets.benchmark_sets(test[5000:], args.n_ood)
    print(f"OOD benchmark: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch "
          f"{torch.__version__} with {torch.get_num_threads()} threads, OMP_WAIT_POLICY="
          f"{os.environ.get('OMP_WAIT_POLICY', 'unset')}; in-distribution: {len(test_u8)} FMNIST test images; "
          + ", ".join(f"{SHORT.get(k, k)} {len(v)}" for k, v in ood_u8.items()))
    results = []
    for name in [s.strip() for s in args.models.split(",") if s.strip()]:
        if not models.bundled(name).exists():
            print(f"\n### {name}: {models.bundled(name)} is missing, skipped")
            continue
        t0 = time.perf_counter()
        res = bench_model(name, args, test_u8, ood_u8, held)
        res["seconds"] = time.perf_counter() - t0
        print_result(res)
        print(f"({res['seconds']:.0f} s)")
        sys.stdout.flush()
        results.append(res)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

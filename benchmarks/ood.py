"""OOD detection benchmark, by foreign family: every candidate statistic, for every bundled model.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/ood.py [--models vae,beta-vae,gan]
        [--n-test 2000] [--n-ood 500] [--json out.json]
    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/ood.py --verdict-speed [--models vae,beta-vae,gan]

In-distribution: the first ``--n-test`` Fashion-MNIST *test* images.  Foreign: every family of
:func:`models.ood_sets.families` (``--n-ood`` images each; the garment transforms are made from the
test set's *second* half, so no image is on both sides).  :data:`models.ood_sets.TUNING_FAMILIES` are
the families the statistic was chosen on; the rest were only measured after the choice (held out).

Everything a candidate fits (means, standard deviations, covariances, mixtures, the local background
model) is fitted on the first half of Fashion-MNIST's held-out split (``fashion_mnist("heldout")``,
never used in training) -- the same half the shipped calibration fits on; nothing is fitted on a foreign
family or on the test set.  The shipped statistic uses the calibration stored in the checkpoint, and its
false-positive rate is measured on the test images against the stored threshold.

Printed per model: the shipped verdict per family (AUROC, FPR@95%TPR = share of the family *accepted*
when the threshold accepts 95% of the test images, and the share flagged at the stored threshold), the
worst non-garment family, then AUROC of every candidate per family, and the verdict's milliseconds per
image (``scoring.ood`` on 256 images, this machine's CPU threads).
"""
from __future__ import annotations

import argparse
import json
import lzma
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import models
from models import iwae, ood_background, ood_sets, scoring
from models.data import fashion_mnist


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


def lzma_bits_per_dim(u8: np.ndarray) -> np.ndarray:
    """Length of each image's raw bytes as an LZMA2 stream (preset 9, 64 KiB dictionary), bits/dim."""
    filters = [{"id": lzma.FILTER_LZMA2, "preset": 9, "dict_size": 1 << 16}]
    return np.array([len(lzma.compress(a.tobytes(), format=lzma.FORMAT_RAW, filters=filters)) * 8.0 / a.size
                     for a in u8])


def log_sf(z: np.ndarray) -> np.ndarray:
    return torch.special.log_ndtr(-torch.as_tensor(z, dtype=torch.float64)).numpy()


def standardised(fn: Callable, ref: np.ndarray) -> Callable:
    """``fn`` standardised by its mean and standard deviation on the fitting half ``ref``."""
    m, s = ref.mean(), ref.std()
    return lambda f: (fn(f) - m) / s


def candidates(family: str, fit: dict[str, np.ndarray], cal: dict) -> dict[str, Callable]:
    """name -> (features -> statistic, higher = more OOD).  Fitted on ``fit`` (held-out half) only."""
    from sklearn.mixture import GaussianMixture

    def col(f, names):
        return np.stack([f[n] for n in names], 1)

    def z(name):
        m, s = fit[name].mean(), fit[name].std()
        return lambda f: (f[name] - m) / s

    def fisher(*zs):
        return lambda f: -2.0 * sum(log_sf(zf(f)) for zf in zs)

    def zmax(*zs):
        return lambda f: np.maximum.reduce([zf(f) for zf in zs])

    def gaussian(names):
        """A Gaussian over ``names`` fitted on ``fit``: its Mahalanobis distance² and that, standardised."""
        g = Gaussian(col(fit, names))
        return (lambda f: g(col(f, names))), standardised(lambda f: g(col(f, names)), g(col(fit, names)))

    out: dict[str, Callable] = {}
    g_lat = Gaussian(fit["latent"])
    zM = standardised(lambda f: g_lat(f["latent"]), g_lat(fit["latent"]))
    if family != "gan":
        zS, zN, zL, zO = z("complexity"), z("nll_bpd"), z("lr_local"), z("orientation")
        zSl, zSb = z("complexity_lzma"), z("complexity_best")
        out["raw NLL (-ELBO at mu)"] = lambda f: f["nll_bpd"]
        nll_mean = float(fit["nll_bpd"].mean())
        out["typicality |NLL - mean|"] = lambda f: np.abs(f["nll_bpd"] - nll_mean)
        out["S = NLL - L_PNG"] = lambda f: f["complexity_png"]
        out["S = NLL - L_WebP"] = lambda f: f["complexity"]
        out["S = NLL - L_LZMA"] = lambda f: f["complexity_lzma"]
        out["S = NLL - min(WebP, PNG, LZMA)"] = lambda f: f["complexity_best"]
        out["LR to local AR model"] = lambda f: f["lr_local"]
        out["orientation LR"] = lambda f: f["orientation"]
        out["latent Mahalanobis (agg. posterior)"] = lambda f: g_lat(f["latent"])
        out["max-z(S_WebP, NLL) [v1]"] = zmax(zS, zN)
        out["max-z(S_WebP, NLL, LR)"] = zmax(zS, zN, zL)
        out["max-z(S_WebP, NLL, LR, orient)"] = zmax(zS, zN, zL, zO)
        out["fisher(S_WebP, NLL, LR)"] = fisher(zS, zN, zL)
        out["fisher(S_WebP, NLL, orient)"] = fisher(zS, zN, zO)
        out["fisher(S_LZMA, NLL, LR, orient)"] = fisher(zSl, zN, zL, zO)
        out["fisher(S_best, NLL, LR, orient)"] = fisher(zSb, zN, zL, zO)
        out["fisher(S_WebP, NLL, LR, orient, mahal)"] = fisher(zS, zN, zL, zO, zM)
        if "latent_nll" in fit:          # -log p(mu) under the VAE's learned prior (N(0, I) without one)
            zP = z("latent_nll")
            out["latent NLL under the prior"] = lambda f: f["latent_nll"]
            out["fisher(S_WebP, S_LZMA, NLL, orient, latent NLL)"] = fisher(zS, zSl, zN, zO, zP)
            out["fisher(S_WebP, S_LZMA, NLL, LR, orient, latent NLL)"] = fisher(zS, zSl, zN, zL, zO, zP)
        names = ["nll_bpd", "rec_bpd", "kl_nats", "logvar_mean", "webp_bpd", "local_bpd", "orientation"] \
            if "rec_bpd" in fit else ["nll_bpd", "webp_bpd", "local_bpd", "orientation"]
        gm = GaussianMixture(4, covariance_type="full", random_state=0).fit(col(fit, names))
        out["DoSE: GMM-4 over summary stats"] = lambda f: -gm.score_samples(col(f, names))
    else:
        zL, zD, zR, zO = z("lr_local"), z("disc_logit"), z("log_residual"), z("orientation")
        out["discriminator (-logit)"] = lambda f: -f["disc_logit"]
        out["inversion residual (log MSE)"] = lambda f: f["log_residual"]
        out["residual bits - L_WebP"] = lambda f: f["residual_complexity"]
        out["residual bits - local AR bits"] = lambda f: f["lr_local"]
        out["orientation (residual ratio)"] = lambda f: f["orientation"]
        out["latent Mahalanobis of inverted z"] = lambda f: g_lat(f["latent"])
        g3, zG = gaussian(["log_residual", "webp_bpd", "disc_logit"])
        out["gaussian(res, WebP, D) [v1]"] = g3
        out["max-z(LR, -D, res)"] = zmax(zL, lambda f: -zD(f), zR)
        out["fisher(gaussian, LR, -D)"] = fisher(zG, zL, lambda f: -zD(f))
        out["fisher(gaussian, LR, -D, orient)"] = fisher(zG, zL, lambda f: -zD(f), zO)
        out["fisher(res, LR, -D, orient)"] = fisher(zR, zL, lambda f: -zD(f), zO)
        _, zWL = gaussian(["webp_bpd", "lzma_bpd"])
        out["fisher(res, LR, -D, orient, gaussian(WebP, LZMA))"] = fisher(zR, zL, lambda f: -zD(f), zO, zWL)
    out[f"SHIPPED: {cal['statistic']}"] = lambda f: scoring.statistic_from_features(f, cal)
    return out


def bench_features(model, x: torch.Tensor, cal: dict) -> dict[str, np.ndarray]:
    f = scoring.features(model, x, cal=cal)
    f["lzma_bpd"] = lzma_bits_per_dim(x[:, 0].numpy())
    if "nll_bpd" in f:
        f["complexity_lzma"] = f["nll_bpd"] - f["lzma_bpd"]
        f["complexity_best"] = f["nll_bpd"] - np.minimum.reduce([f["webp_bpd"], f["png_bpd"], f["lzma_bpd"]])
    return f


def bench_model(name: str, test_u8, fams, held_u8) -> dict:
    path = models.bundled(name)
    model = models.load(path, device="cpu")
    half = len(held_u8) // 2
    cal = scoring.calibration_of(model)   # the benchmark measures what ships: calibrate first
    # the candidates need the background model and the flipped pass even when the shipped rule does not
    feat_cal = dict(cal)
    if "background" not in feat_cal:
        feat_cal["background"] = ood_background.to_json(ood_background.fit(held_u8[:half]))
    feat_cal["extras"] = sorted(set(feat_cal.get("extras", [])) | {"background", "flip", "local", "lzma"})
    t0 = time.perf_counter()
    fit = bench_features(model, held_u8[:half], feat_cal)
    f_in = bench_features(model, test_u8, feat_cal)
    f_out = {k: bench_features(model, v, feat_cal) for k, v in fams.items()}
    t_feat = time.perf_counter() - t0
    rows = []
    for cname, fn in candidates(model.family, fit, cal).items():
        s_in = fn(f_in)
        thr = np.quantile(s_in, 0.95)
        rows.append({"statistic": cname, "auroc": {k: auroc(s_in, fn(f)) for k, f in f_out.items()},
                     "fpr95": {k: float(np.mean(fn(f) <= thr)) for k, f in f_out.items()}})
    shipped_in = scoring.statistic_from_features(f_in, cal)
    flagged = {k: float(np.mean(scoring.statistic_from_features(f, cal) > cal["threshold"])) for k, f in f_out.items()}
    xb = test_u8[:256]
    ms = timed(lambda: scoring.ood(model, xb), len(xb))
    return {"model": name, "path": str(path), "epochs": model.metadata.get("training", {}).get("epochs"),
            "statistic": cal["statistic"], "stated_fpr": cal["fpr"], "threshold": cal["threshold"],
            "measured_fpr_on_test": float(np.mean(shipped_in > cal["threshold"])), "n_test": len(test_u8),
            "rows": rows, "flagged": flagged, "verdict_ms_per_image": ms, "feature_seconds": t_feat}


def _tag(fam: str) -> str:
    return " (tuning)" if fam in ood_sets.TUNING_FAMILIES else ""


def print_result(res: dict) -> None:
    ship = res["rows"][-1]
    fams = list(ship["auroc"])
    print(f"\n### {res['model']} ({res['path']}, {res['epochs']} epochs): {res['statistic']}\n")
    print("| family | AUROC | FPR@95%TPR | flagged at the stated FPR |\n|---|---:|---:|---:|")
    for k in fams:
        print(f"| {k}{_tag(k)} | {ship['auroc'][k]:.3f} | {ship['fpr95'][k]:.3f} | {res['flagged'][k]:.3f} |")
    non_g = {k: v for k, v in ship["auroc"].items() if not ood_sets.is_garment_family(k)}
    worst = min(non_g, key=non_g.get)
    held = {k: v for k, v in non_g.items() if k not in ood_sets.TUNING_FAMILIES}
    worst_held = min(held, key=held.get)
    print(f"\nworst non-garment family: {worst} (AUROC {non_g[worst]:.3f}); worst held-out family: {worst_held} "
          f"({held[worst_held]:.3f}); vertical flips {ship['auroc'].get('garments: flipped vertically', float('nan')):.3f}")
    print(f"verdict: threshold {res['threshold']:.4f} at stated FPR {100 * res['stated_fpr']:.1f}%; measured FPR on "
          f"{res['n_test']} Fashion-MNIST test images: {100 * res['measured_fpr_on_test']:.2f}%; "
          f"{res['verdict_ms_per_image']:.2f} ms per image (scoring.ood, batches of 256)\n")
    print("AUROC of every candidate (rows: families; the worst non-garment family of each candidate last)\n")
    names = [r["statistic"] for r in res["rows"]]
    print("| family | " + " | ".join(f"{i + 1}" for i in range(len(names))) + " |")
    print("|---|" + "---:|" * len(names))
    for k in fams:
        print(f"| {k}{_tag(k)} | " + " | ".join(f"{r['auroc'][k]:.3f}" for r in res["rows"]) + " |")
    worsts = []
    for r in res["rows"]:
        ng = {k: v for k, v in r["auroc"].items() if not ood_sets.is_garment_family(k)}
        worsts.append(min(ng.values()))
    print("| **worst non-garment** | " + " | ".join(f"**{w:.3f}**" for w in worsts) + " |")
    print("\n" + "; ".join(f"{i + 1} = {n}" for i, n in enumerate(names)))


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
    p.add_argument("--n-test", type=int, default=2000)
    p.add_argument("--n-ood", type=int, default=500)
    p.add_argument("--k", type=int, default=scoring.DEFAULT_K)
    p.add_argument("--json", default=None, help="also write the results here")
    p.add_argument("--k-sweep", type=int, default=0, metavar="N",
                   help="instead: how the VAE likelihood and its cost change with K, on N test images")
    p.add_argument("--verdict-speed", action="store_true",
                   help="instead: only the verdict's cost (scoring.ood, best of 3 on 256 test images) per model")
    args = p.parse_args()
    if args.verdict_speed:
        xb = fashion_mnist("test").images[:256]
        for name in [s.strip() for s in args.models.split(",") if s.strip()]:
            model = models.load(models.bundled(name), device="cpu")
            scoring.ood(model, xb[:8])                    # warm-up (first-call allocations)
            ms = timed(lambda: scoring.ood(model, xb), len(xb), repeat=3)
            print(f"{name}: verdict {ms:.2f} ms per image (scoring.ood, batch of 256, torch "
                  f"{torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f} on "
                  f"{os.cpu_count()} CPUs)")
        return 0
    if args.k_sweep:
        for name in [s.strip() for s in args.models.split(",") if s.strip() and s.strip() != "gan"]:
            k_sweep(name, args.k_sweep)
        return 0
    torch.manual_seed(0)
    test = fashion_mnist("test").images
    held = fashion_mnist("heldout").images
    test_u8 = test[:args.n_test]
    fams = ood_sets.families(test[5000:], args.n_ood)
    print(f"OOD benchmark: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch "
          f"{torch.__version__} with {torch.get_num_threads()} threads, OMP_WAIT_POLICY="
          f"{os.environ.get('OMP_WAIT_POLICY', 'unset')}, load average {os.getloadavg()[0]:.1f}; in-distribution: "
          f"{len(test_u8)} FMNIST test images; {len(fams)} foreign families of {args.n_ood}")
    results = []
    for name in [s.strip() for s in args.models.split(",") if s.strip()]:
        if not models.bundled(name).exists():
            print(f"\n### {name}: {models.bundled(name)} is missing, skipped")
            continue
        t0 = time.perf_counter()
        res = bench_model(name, test_u8, fams, held)
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

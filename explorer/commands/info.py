"""latent-explorer info FILE [--json]

The checkpoint's facts: family, latent size, image shape (grey or colour), how a dropped picture is
taken in for it (:func:`models.intake.style_for`), data set, training command, metrics, calibration.
"""
from __future__ import annotations

import argparse
import json


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    import models
    from models.intake import style_for

    model = models.load(args.checkpoint, device="cpu")
    info = model.describe()
    info.pop("device", None)
    info["intake"] = style_for(model).describe()
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True))
        return 0
    training = info.get("training", {})
    metrics = training.get("metrics", {})
    dataset = info.get("dataset", {})
    rows = [
        ("name", info["name"]),
        ("family", info["family"] + (f" (β = {model.config.get('beta')})" if model.family == "vae" else "")),
        ("latent dim", info["latent_dim"]),
        ("image shape", "x".join(map(str, info["image_shape"]))
         + {1: " (grey)", 3: " (colour)"}.get(int(info["image_shape"][0]), "")),
        ("intake", info["intake"]),
        ("parameters", f"{info['parameters']:,}"),
        ("dataset", f"{dataset.get('name', '?')} ({len(dataset.get('classes', []))} classes)"),
        ("trained", f"{training.get('epochs', '?')} epochs, seed {training.get('seed', '?')}"),
        ("command", training.get("command", "?")),
        ("final metrics", ", ".join(f"{k}={v}" for k, v in metrics.items() if k != "epoch") or "-"),
        ("OOD calibration", _calibration_line(info.get("calibration"))),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    return 0


def _calibration_line(cal) -> str:
    if not cal:
        return "none (run `latent-explorer calibrate FILE`)"
    fpr = cal.get("fpr")
    stat = cal.get("statistic", cal.get("method", "?"))
    return f"{stat}" + (f", threshold at {100 * fpr:g}% false-positive rate" if fpr is not None else "") + \
        (f", {cal.get('n') + cal.get('n_fit', 0)} held-out images ({cal.get('n_fit', 0)} to fit the statistic, "
         f"{cal.get('n')} for the threshold)" if cal.get("n") else "")

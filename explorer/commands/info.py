"""latent-explorer info FILE [--json]

The checkpoint's facts: family, latent size, image shape (grey or colour), how a dropped picture is
taken in for it (:func:`models.intake.style_for`), data set, training command, metrics, calibration.

A model made elsewhere (``.pt2``, ``.onnx``, a Hugging Face folder, a plugin's file) has no training
record here: its rows say so ("not recorded (made elsewhere)"), where its manifest came from (inside
the file or a sidecar beside it), whether it has an encoder, that it has no likelihood, and its
approximate OOD calibration if ``calibrate --data`` made one.
"""
from __future__ import annotations

import argparse
import json


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    import models
    from models.foreign import kind_of
    from models.intake import style_for

    model = models.load(args.checkpoint, device="cpu")
    info = model.describe()
    info.pop("device", None)
    info["intake"] = style_for(model).describe()
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True))
        return 0
    kind = kind_of(args.checkpoint)
    if kind:
        _print(_foreign_rows(info, kind, args.checkpoint))
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
    if getattr(model, "conditional", False):
        rows.insert(7, ("classes", f"class-conditional: {', '.join(model.class_names)} (sample --class NAME)"))
    prior = info.get("prior")
    if isinstance(prior, dict) and prior.get("kind") == "flow":
        rows.insert(-1, ("latent prior", f"learned {prior.get('layers', '?')}-layer flow, held-out codes "
                                         f"+{prior.get('heldout_gain_nats', '?')} nats over N(0, I) "
                                         f"({prior.get('command', 'latent-explorer prior')})"))
        if isinstance(prior.get("typical"), dict):
            from .prior import typical_text

            rows.insert(-1, ("sliders' zero", typical_text(prior["typical"])))
    _print(rows)
    return 0


def _print(rows) -> None:
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")


def _foreign_rows(info: dict, kind: str, path: str) -> list[tuple[str, object]]:
    """The rows of a model made elsewhere: what it says about itself, and what it does not record."""
    config = info.get("config") or {}
    plugin = kind.split(":", 1)[1] if kind.startswith("plugin:") else ""
    fmt = config.get("format") or (f"the installed plugin {plugin!r}" if plugin else kind)
    classes = (info.get("dataset") or {}).get("classes") or []
    rows: list[tuple[str, object]] = [
        ("name", info["name"]),
        ("family", f"{info['family']} (made elsewhere: {fmt})"),
        ("latent dim", info["latent_dim"]),
        ("image shape", "x".join(map(str, info["image_shape"]))
         + {1: " (grey)", 3: " (colour)"}.get(int(info["image_shape"][0]), "")),
        ("intake", info["intake"]),
        ("parameters", f"{info['parameters']:,}"),
        ("manifest", info.get("manifest") or (f"none: the plugin {plugin!r} describes its model" if plugin
                                              else "none")),
        ("encoder", info.get("encoder") or ("yes" if config.get("encoder") else "none")),
        ("classes", f"{len(classes)}: {', '.join(classes[:8])}{' …' if len(classes) > 8 else ''}" if classes
         else "none named"),
        ("training", "not recorded (made elsewhere)"),
        ("likelihood", "none (a decoder alone defines no likelihood)"),
        ("OOD verdict", _foreign_calibration_line(info, path)),
    ]
    if info.get("directions_from"):
        rows.append(("directions from", info["directions_from"]))
    rows += [("note", n) for n in info.get("notes") or []]
    return rows


def _foreign_calibration_line(info: dict, path: str) -> str:
    cal = info.get("calibration")
    if not cal:
        return f"none yet; `latent-explorer calibrate {path} --data FOLDER` makes a labelled approximation"
    where = info.get("calibration_file")
    return (f"approximation (no likelihood): {cal.get('statistic')}, threshold at {100 * cal['fpr']:g}% false "
            f"positives on {cal.get('n', 0) + cal.get('n_fit', 0)} held-in images ({cal.get('source') or '?'})"
            + (f"; stored in {where}" if where else ""))


def _calibration_line(cal) -> str:
    if not cal:
        return "none (run `latent-explorer calibrate FILE`)"
    fpr = cal.get("fpr")
    stat = cal.get("statistic", cal.get("method", "?"))
    return f"{stat}" + (f", threshold at {100 * fpr:g}% false-positive rate" if fpr is not None else "") + \
        (f", {cal.get('n') + cal.get('n_fit', 0)} held-out images ({cal.get('n_fit', 0)} to fit the statistic, "
         f"{cal.get('n')} for the threshold)" if cal.get("n") else "")

"""One IWAE figure from shards of a long ``model_quality.py`` run.

A K = 1000 IWAE bound over all 10,000 Fashion-MNIST test images is 10 million decoder passes, hours on a
2-core CPU, so it runs as shards (``--iwae-from S --iwae-images N``, each with ``--json``)::

    .venv/bin/python benchmarks/model_quality.py --models vae --k 1000 --samples 0 --iwae-images 4000 --json > a.json
    .venv/bin/python benchmarks/model_quality.py --models vae --k 1000 --samples 0 --iwae-from 4000 \\
        --iwae-images 6000 --json > b.json
    .venv/bin/python benchmarks/iwae_shards.py a.json b.json

Each shard's ``iwae_nll_nats`` is the mean over its images, so the whole set's is the image-weighted mean
of the shards (bits/dim = nats / (D ln 2), D = 784).  The script refuses shards of different models or
K, shards that overlap, and a gap between them, and says which images the figure covers.
"""
from __future__ import annotations

import argparse
import json
import math
import sys


def combine(rows: list[dict], dims: int = 784) -> dict:
    """The image-weighted mean of shard rows (``model``, ``iwae_k``, ``iwae_from``, ``iwae_images``,
    ``iwae_nll_nats``); raises ValueError on mixed models or K, overlaps or gaps."""
    if not rows:
        raise ValueError("no shards given")
    models = {r["model"] for r in rows}
    ks = {r["iwae_k"] for r in rows}
    if len(models) > 1 or len(ks) > 1:
        raise ValueError(f"shards of different runs: models {sorted(models)}, K {sorted(ks)}")
    spans = sorted((int(r.get("iwae_from") or 0), int(r["iwae_images"]), float(r["iwae_nll_nats"])) for r in rows)
    end = spans[0][0]
    for start, n, _ in spans:
        if start < end:
            raise ValueError(f"shards overlap at test image {start}")
        if start > end:
            raise ValueError(f"test images {end}-{start - 1} are in no shard")
        end = start + n
    images = sum(n for _, n, _ in spans)
    nats = sum(n * v for _, n, v in spans) / images
    return {"model": models.pop(), "iwae_k": ks.pop(), "first_image": spans[0][0], "images": images,
            "iwae_nll_nats": nats, "iwae_nll_bpd": nats / (dims * math.log(2.0)),
            "shards": [{"from": s, "images": n, "nats": v, "bpd": v / (dims * math.log(2.0))} for s, n, v in spans]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("shards", nargs="+", help="model_quality.py --json outputs (one VAE row each)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    rows = []
    for path in args.shards:
        with open(path) as f:
            rows.extend(r for r in json.load(f)["rows"] if r.get("iwae_k"))
    try:
        out = combine(rows)
    except ValueError as exc:
        print(f"iwae_shards: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    for s in out["shards"]:
        print(f"  images {s['from']:>5}-{s['from'] + s['images'] - 1:<5} {s['nats']:9.2f} nats  {s['bpd']:.3f} bits/dim")
    print(f"{out['model']}: IWAE K = {out['iwae_k']} over test images {out['first_image']}-"
          f"{out['first_image'] + out['images'] - 1} ({out['images']:,}): {out['iwae_nll_nats']:.2f} nats, "
          f"{out['iwae_nll_bpd']:.3f} bits/dim")
    return 0


if __name__ == "__main__":
    sys.exit(main())

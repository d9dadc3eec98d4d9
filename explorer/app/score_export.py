"""Scored results from the app as CSV or JSON: one row per image in the Score dock's list, in order.

The fields are those of ``latent-explorer score --json`` (a :class:`models.score.Score`'s fields:
``log_likelihood_nats``, ``bits_per_dim``, ``ood_statistic``, ``percentile``, ``verdict``, ``method``,
``approximate``),
plus ``name``, ``status``, ``error`` and the model's name, so a table made in the app and one made by the
CLI line up.  Images that failed or were not scored yet are rows too, with empty numbers and their
status.  CSV has a header row; JSON is ``{"model": ..., "results": [...]}``.  Written atomically.
"""
from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

SCORE_FIELDS = ("log_likelihood_nats", "bits_per_dim", "ood_statistic", "percentile", "verdict", "method",
                "approximate")
FIELDS = ("name", "status", *SCORE_FIELDS, "error")


def rows(items) -> list[dict[str, Any]]:
    """One dict per scored item (``ScoredImage``-like: name, status, score, error, note)."""
    out = []
    for it in items:
        row: dict[str, Any] = {"name": it.name, "status": it.status}
        score = getattr(it, "score", None)
        for f in SCORE_FIELDS:
            v = getattr(score, f, None) if score is not None else None
            row[f] = None if isinstance(v, float) and not math.isfinite(v) else v
        row["error"] = getattr(it, "error", "") or None
        out.append(row)
    return out


def to_csv(items) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=FIELDS, lineterminator="\n")
    w.writeheader()
    for r in rows(items):
        w.writerow({k: ("" if v is None else v) for k, v in r.items()})
    return buf.getvalue()


def to_json(items, model_name: str | None = None) -> str:
    return json.dumps({"model": model_name, "results": rows(items)}, indent=1)


def write_results(items, path: str | Path, model_name: str | None = None) -> Path:
    """Write ``items`` to ``path`` as JSON (``.json``) or CSV (anything else); raises OSError."""
    from models.atomic_io import atomic_write_bytes

    path = Path(path)
    text = to_json(items, model_name) if path.suffix.lower() == ".json" else to_csv(items)
    atomic_write_bytes(path, text.encode("utf-8"))
    return path

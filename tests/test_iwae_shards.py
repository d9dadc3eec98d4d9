"""benchmarks/iwae_shards.py: one IWAE figure from shards of a long run is the image-weighted mean, and
shards that overlap, leave a gap or come from different runs are refused with a message naming why."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("iwae_shards", ROOT / "benchmarks" / "iwae_shards.py")
iwae_shards = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(iwae_shards)


def _row(start, n, nats, k=1000, model="vae-fmnist.safetensors"):
    return {"model": model, "iwae_k": k, "iwae_from": start, "iwae_images": n, "iwae_nll_nats": nats}


def test_the_whole_set_is_the_image_weighted_mean_of_its_shards():
    out = iwae_shards.combine([_row(1000, 3000, 1700.0), _row(0, 1000, 1600.0)])
    assert out["images"] == 4000 and out["first_image"] == 0
    assert out["iwae_nll_nats"] == pytest.approx((1000 * 1600.0 + 3000 * 1700.0) / 4000)
    assert out["iwae_nll_bpd"] == pytest.approx(1675.0 / (784 * 0.6931471805599453))


@pytest.mark.parametrize("rows, message", [
    ([_row(0, 1000, 1.0), _row(500, 1000, 1.0)], "overlap at test image 500"),
    ([_row(0, 1000, 1.0), _row(2000, 1000, 1.0)], "test images 1000-1999 are in no shard"),
    ([_row(0, 1000, 1.0), _row(1000, 1000, 1.0, k=100)], "different runs"),
])
def test_shards_that_do_not_tile_one_run_are_refused(rows, message):
    with pytest.raises(ValueError, match=message):
        iwae_shards.combine(rows)


def test_the_command_reads_model_quality_json_and_prints_bits_per_dim(tmp_path, capsys):
    for name, row in {"a.json": _row(0, 2, 1700.0), "b.json": _row(2, 2, 1700.0)}.items():
        (tmp_path / name).write_text(json.dumps({"rows": [row]}))
    assert iwae_shards.main([str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 0
    assert "test images 0-3 (4): 1700.00 nats, 3.128 bits/dim" in capsys.readouterr().out
    assert iwae_shards.main([str(tmp_path / "a.json")] * 2) == 2
    assert "overlap" in capsys.readouterr().err

"""``latent-explorer bench``: the command imports no Qt until it runs, and a small in-process run
through the real window yields exactly the documented fields.  No timing is asserted."""
from __future__ import annotations

import subprocess
import sys


def test_bench_command_imports_no_qt_at_import_time():
    code = ("import sys, explorer.cli, explorer.commands.bench; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'superqt')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"


def test_bench_cli_is_registered():
    from explorer import cli

    assert "bench" in cli.COMMANDS
    args = cli.build_parser().parse_args(["bench", "--model", "x.safetensors", "--json"])
    assert args.model == "x.safetensors" and args.json


def test_a_small_bench_run_reports_exactly_the_fields(qapp, tiny_vae_path):
    from explorer.app import bench

    result = bench.run_bench(tiny_vae_path, "cpu", frames=5, burst=30, rss_events=60, startup=False)
    fields = bench.public_fields(result)
    assert list(fields) == [*bench.FIELDS, "device", "model"]
    assert fields["burst_events"] == 30
    assert 1 <= fields["burst_frames_rendered"] <= 30
    assert fields["device"] == "cpu" and "tiny VAE" in fields["model"]
    for k in ("decode_ms_p50", "frame_ms_p50", "frame_ms_p95", "burst_last_frame_ms"):
        assert fields[k] > 0
    assert "frame_ms_p95" in bench.report({**result, "import_torch_s": 1.0, "startup_s": 1.0})

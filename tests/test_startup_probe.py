"""``latent-explorer bench``'s start-up fields: a real ``latent-explorer MODEL`` process, offscreen, says
when its window is first painted and when its first frame is, and the bench reports both (no timing is
asserted, only their order)."""
from __future__ import annotations


def test_the_bench_times_the_window_and_then_the_first_frame_of_a_launched_app(tiny_vae_path):
    from explorer.app import bench

    times = bench.measure_startup(tiny_vae_path, "cpu", repeats=1)
    assert set(times) == {"time_to_window_ms", "startup_s"}
    assert 0 < times["time_to_window_ms"] / 1000 <= times["startup_s"]   # the window is up before its frame
    text = bench.report({"decode_ms_p50": 1.0, "_paint_ms_p50": 0.1, "frame_ms_p50": 1.0, "frame_ms_p95": 2.0,
                         "burst_events": 10, "burst_frames_rendered": 5, "burst_last_frame_ms": 3.0,
                         "rss_growth_mb_10k": 0.0, "model": "m", "device": "cpu", "import_torch_s": 1.0,
                         **times})
    line = next(ln for ln in text.splitlines() if "time_to_window_ms" in ln)
    assert f"{times['time_to_window_ms']:.0f}" in line and "x import_torch_s" in line

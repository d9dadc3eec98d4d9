"""A long session in fast-forward: a seeded stream of random user actions drives the window.

10,000 events (after 3,000 of warm-up): slider drags, model switches (the tiny untrained VAE and GAN,
and the bundled calibrated VAE, beta-VAE and GAN, so the verdict, histogram and map code runs), drops
from the hostile corpus (refused checkpoints and images) and of garments and foreign pictures that are
accepted and scored, sample clicks and new samples, undo/redo, reset/randomize, interpolation
play/pause.  Asserts that no exception escapes (pytest-qt fails the test on one in any Qt slot; the
app's error log must stay empty), that the window still renders exactly what its sliders say at the
end, and that resident memory grows by less than 20 MB over the 10,000 events (measured after the app
is idle, a gc pass and malloc_trim, so memory the allocator merely caches is not counted): a strict
bound, no tolerance band.

The seed is fixed (FUZZ_SEED to override; FUZZ_EVENTS, FUZZ_WARMUP and FUZZ_ONLY for hunting a leak);
a failure names the event and the recent actions.  The fuzz always runs in a fresh interpreter of its
own (the test starts one), so other tests' memory does not count.  To see the RSS series of a passing
run: ``pytest tests/test_fuzz_app.py -n 0 -s`` (xdist workers swallow -s).
"""
from __future__ import annotations

import gc
import os
import random
import subprocess
import sys
import time
from collections import deque
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication, QMessageBox

import hostile_corpus as hc
from app_helpers import decoded_pixels, wait_for_frame

SEED = int(os.environ.get("FUZZ_SEED", "20261123"))
#: events before the baseline: lazily imported modules, pixmap/font caches and the first load of each
#: model family fill up here (in the first 2,000 events after a 1,000-event warm-up RSS still rose ~6 MB;
#: with the traversal, compare, map-cache and heat-map views added, a 3,000-event warm-up still left
#: steps of 7-11 MB in the next 2,000 events, then flat: measured with FUZZ_EVENTS=18000, series in the
#: closing note of issue 16)
WARMUP_EVENTS = int(os.environ.get("FUZZ_WARMUP", "6000"))
EVENTS = int(os.environ.get("FUZZ_EVENTS", "10000"))
#: comma-separated action names to restrict the mix to (for hunting a leak or a slow path)
ONLY = [a for a in os.environ.get("FUZZ_ONLY", "").split(",") if a]
#: the bound (issue 6 and 11); each of the two leaks fixed in the old background module made 30-50 MB.
#: Growth measured with oneDNN's primitive cache capped (explorer/memory.py): 6.7, 7.9 and 8.3 MB in three runs;
#: with its default 1,024 primitives it was 8.1-20.6 MB, median 16.8 in seven runs (the cache filling, not a leak)
MAX_RSS_GROWTH_MB = 20.0


def _rss_mb() -> float:
    """Resident memory now, after handing allocator-cached free memory back (malloc_trim): what the
    process really holds, not what glibc happens to keep for reuse."""
    from explorer.memory import release_free_memory

    release_free_memory()
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource  # fallback: peak, not current (macOS reports bytes)

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class _Fuzzer:
    def __init__(self, win, qtbot, rng: random.Random, models: list[Path], drops: list[Path],
                 images: list[Path]) -> None:
        self.win, self.qtbot, self.rng = win, qtbot, rng
        self.models, self.drops, self.images = models, drops, images
        self.recent: deque[str] = deque(maxlen=25)
        self.counts: dict[str, int] = {}
        # (weight, name, action); model switches and drops are rarer: each costs a load or a scoring job
        self.actions = [
            (500, "drag", self.drag),
            (60, "set all", self.set_all),
            (40, "undo", lambda: win.undo_action.trigger()),
            (25, "redo", lambda: win.redo_action.trigger()),
            (15, "reset", lambda: win.reset_action.trigger()),
            (15, "randomize", lambda: win.randomize_action.trigger()),
            (20, "sample click", self.sample_click),
            (4, "new sample", lambda: win.new_sample_action.trigger()),
            (6, "play/pause", lambda: win.play_action.trigger()),
            (3, "switch model", self.switch_model),
            (4, "drop", self.drop),
            (3, "drop image", self.drop_image),
            (3, "show all", lambda: win.show_all_action.trigger()),
        ]
        if ONLY:
            self.actions = [a for a in self.actions if a[1] in ONLY]
        self.weights = [w for w, _, _ in self.actions]
        self.seconds: dict[str, float] = {}
        self.scored = 0                 # dropped images that were taken in and scored
        self.scored_with_verdict = 0    # ... with a verdict (a calibrated model was open)
        win.score_dock.panel.imageScored.connect(self._scored)

    def _scored(self, item) -> None:
        self.scored += 1
        self.scored_with_verdict += item.verdict is not None

    def drag(self) -> None:
        sliders = self.win.latent_dock.sliders
        if not sliders:
            return
        s = sliders[self.rng.randrange(len(sliders))]
        s.setValue(float(np.clip(s.value() + self.rng.gauss(0, 0.4), s.minimum(), s.maximum())))

    def set_all(self) -> None:
        loaded = self.win.state.loaded
        if loaded is not None:
            self.win.state.set_values(np.array([self.rng.gauss(0, 1) for _ in range(loaded.latent_dim)],
                                               dtype=np.float32))

    def sample_click(self) -> None:
        panel = self.win.sampling_panel
        if panel.grid_data is not None and panel.buttons:
            panel.buttons[self.rng.randrange(len(panel.buttons))].click()

    def switch_model(self) -> None:
        self.win.open_model(self.rng.choice(self.models))

    def drop(self) -> None:
        self.win.handle_drop([self.rng.choice(self.drops)])

    def drop_image(self) -> None:
        self.win.handle_drop([self.rng.choice(self.images)])

    def step(self, i: int) -> None:
        _, name, action = self.rng.choices(self.actions, weights=self.weights)[0]
        self.recent.append(f"{i}:{name}")
        self.counts[name] = self.counts.get(name, 0) + 1
        t0 = time.perf_counter()
        action()
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0
        if i % 8 == 0:
            QApplication.processEvents()
        if i % 200 == 0:
            self.settle()

    def settle(self) -> None:
        """What a user does now and then: dismiss the message boxes, wait for the verdicts, clear the score
        list, pause."""
        for box in self.win.findChildren(QMessageBox):
            box.close()
        panel = self.win.score_dock.panel
        self.qtbot.waitUntil(lambda: not panel.is_busy() and not any(i.status in ("queued", "running")
                                                                     for i in panel.items), timeout=300_000)
        panel.clear()
        self.qtbot.wait(5)

    def prime(self) -> None:
        """Before the warm-up: each model opened once and each accepted image scored with it, so what is
        built on first use (a family's code paths, the GAN's inversion, the verdict plots) is in the
        baseline and the bound measures growth per event."""
        win = self.win
        for path in self.models:
            with self.qtbot.waitSignal(win.model_load_finished, timeout=120_000):
                win.open_model(path)
            wait_for_frame(win, self.qtbot)
            win.handle_drop(list(self.images))
            self.settle()

    def run(self, n: int, start: int = 0) -> None:
        for i in range(start, start + n):
            try:
                self.step(i)
            except Exception as exc:
                raise AssertionError(f"event {i} raised {exc!r}; recent actions: {list(self.recent)}") from exc


@pytest.fixture
def fast_gan_directions(monkeypatch):
    import models.gan

    monkeypatch.setattr(models.gan, "DIRECTION_SAMPLES", 512)


#: set in the fresh interpreter that runs the fuzz (see :func:`_in_a_process_of_its_own`)
OWN_PROCESS_ENV = "FUZZ_OWN_PROCESS"


def _in_a_process_of_its_own() -> None:
    """Run the fuzz again in a fresh interpreter and fail with its report when it fails.  RSS growth
    says something about the app only in a process that ran nothing else first: an xdist worker that
    has run other test files holds 1.5-2 GB, and its heap moved by up to 48 MB over the fuzz (one CI run;
    the same fuzz alone grows 7-12 MB, before and after this round's changes)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_XDIST_WORKER"}
    env[OWN_PROCESS_ENV] = "1"
    out = subprocess.run([sys.executable, "-m", "pytest", f"{__file__}::test_ten_thousand_random_actions",
                          "-n", "0", "-q", "-s", "-p", "no:cacheprovider"],
                         env=env, cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True,
                         timeout=1800)
    print("\n".join(ln for ln in out.stdout.splitlines() if ln.startswith("fuzz:")))
    assert out.returncode == 0, f"the fuzz failed in its own process:\n{out.stdout[-8000:]}\n{out.stderr[-2000:]}"


def test_ten_thousand_random_actions(make_window, tiny_vae_path, tiny_gan_path, qtbot, tmp_path, monkeypatch,
                                     fast_gan_directions):
    if os.environ.get(OWN_PROCESS_ENV) != "1":
        _in_a_process_of_its_own()
        return
    from models.bundled_data import SAMPLES_DIR
    from panel_helpers import bundled_calibrated

    monkeypatch.setenv("LATENT_EXPLORER_LOG_DIR", str(tmp_path / "logs"))
    corpus, cases = hc.shared_corpus()
    # drops: every refused checkpoint and refused image of the corpus; and, as their own action, images
    # that are taken in and scored (odd ones from the corpus, garments and foreign pictures)
    drops = [corpus / c.name for c in cases if c.kind == "checkpoint" and not c.special]
    drops += [corpus / n for n in ("text.png", "truncated.jpg", "bomb_declared.png", "drawing.svg", "empty.png")]
    images = [corpus / n for n in ("animated.gif", "gray16.png")]
    images += [SAMPLES_DIR / n for n in ("sneaker.png", "bag.png", "trouser.png", "foreign-digit-3.png",
                                         "foreign-noise.png", "foreign-shape.png")]
    bundled = [bundled_calibrated(n) for n in ("vae", "beta-vae", "gan")]
    win = make_window(bundled[0])
    fuzz = _Fuzzer(win, qtbot, random.Random(SEED), [tiny_vae_path, tiny_gan_path, *bundled], drops, images)

    def measure() -> float:
        """RSS in the same state each time: the bundled VAE open (which model happens to be open, with its
        map and plots, moves RSS by ~10 MB either way), nothing pending, a gc pass."""
        with qtbot.waitSignal(win.model_load_finished, timeout=120_000):
            win.open_model(bundled[0])
        fuzz.settle()
        _quiesce(win, qtbot)
        gc.collect()
        return _rss_mb()

    t0 = time.perf_counter()
    fuzz.prime()
    fuzz.run(WARMUP_EVENTS)
    rss_before = measure()

    series = [round(rss_before, 1)]
    for start in range(WARMUP_EVENTS, WARMUP_EVENTS + EVENTS, 2_000):
        fuzz.run(min(2_000, WARMUP_EVENTS + EVENTS - start), start=start)
        series.append(round(measure(), 1))
    rss_after = series[-1]
    elapsed = time.perf_counter() - t0

    print(f"\nfuzz: {EVENTS} events (+{WARMUP_EVENTS} warm-up) in {elapsed:.1f} s, seed {SEED}; "
          f"RSS {rss_before:.1f} -> {rss_after:.1f} MB (every 2,000 events: {series}); actions {fuzz.counts}; "
          f"seconds {({k: round(v, 1) for k, v in fuzz.seconds.items()})}; scored {fuzz.scored}, with a verdict {fuzz.scored_with_verdict}")
    assert ONLY or min(fuzz.counts.get(k, 0) for k in ("drag", "undo", "switch model", "drop", "drop image",
                                                       "sample click")) > 0
    assert ONLY or (fuzz.scored >= 10 and fuzz.scored_with_verdict >= 5), \
        f"only {fuzz.scored} dropped images scored, {fuzz.scored_with_verdict} with a verdict"
    assert not (tmp_path / "logs").exists(), (tmp_path / "logs" / "errors.log").read_text()[-3000:]
    assert hc.markers(corpus) == []
    # still alive and correct: the canvas shows decode(sliders)
    assert win.state.loaded is not None
    win.latent_dock.sliders[0].setValue(0.5 if win.latent_dock.sliders[0].value() != 0.5 else -0.5)
    wait_for_frame(win, qtbot)
    # the canvas shows decode(the state's z); each slider shows its value, pinned at the end of its ±3σ
    # range when a code (a dropped image's, say) lies beyond it
    assert np.array_equal(win.canvas.image(), decoded_pixels(win, win.state.z))
    for slider, value in zip(win.latent_dock.sliders, win.state.values):
        assert slider.value() == pytest.approx(min(max(float(value), slider.minimum()), slider.maximum()), abs=0.01)
    growth = rss_after - rss_before
    assert growth < MAX_RSS_GROWTH_MB, f"RSS grew {growth:.1f} MB over {EVENTS} events ({series})"


def _quiesce(win, qtbot) -> None:
    """Wait until no load, frame or scoring job is pending, and the canvas shows the current point."""
    from PySide6.QtCore import QEvent

    win.interpolation_dock.panel.set_playing(False)
    qtbot.waitUntil(lambda: win.executor.is_idle(), timeout=60_000)
    QApplication.processEvents()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)  # what the event loop does when idle
    if win.state.loaded is not None:
        wait_for_frame(win, qtbot)

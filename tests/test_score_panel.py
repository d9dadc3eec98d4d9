"""The score panel: a queue of images scored in the background, details, histograms, cancel.

Scored with the bundled trained VAE, so verdicts and reconstructions are ones a person can judge: a
sneaker's reconstruction looks like the sneaker and not like the bag."""
from __future__ import annotations

import numpy as np
import pytest

from app_helpers import assert_looks_the_same, assert_visibly_different
from panel_helpers import executor, slow_scoring, trained_vae, wait_background  # noqa: I001

from explorer.app import score_panel as sp
from models.bundled_data import SAMPLES_DIR


@pytest.fixture
def panel(qtbot):
    p = sp.ScorePanel(executor())
    qtbot.addWidget(p)
    p.resize(520, 760)
    p.show()
    p.set_model(trained_vae())
    return p


def _wait_idle(qtbot, panel, timeout=20000):
    qtbot.waitUntil(lambda: not panel.is_busy() and not any(i.status == "queued" for i in panel.items),
                    timeout=timeout)
    wait_background(qtbot)


def test_dropped_files_are_queued_scored_and_listed_with_verdicts(panel, qtbot):
    scored = []
    panel.imageScored.connect(scored.append)
    with qtbot.waitSignal(panel.latentChosen, timeout=20000) as chosen:
        items = panel.add_files([SAMPLES_DIR / "sneaker.png", SAMPLES_DIR / "foreign-digit-3.png",
                                 SAMPLES_DIR / "bag.png"])
    _wait_idle(qtbot, panel)
    assert [i.status for i in items] == ["done"] * 3
    assert len(scored) == 3 and panel.list.count() == 3
    assert [i.verdict for i in items] == ["in-distribution", "out-of-distribution", "in-distribution"]
    for i, item in enumerate(items):
        assert item.score.verdict in panel.list.item(i).text()
        assert item.image.shape == (28, 28) and item.reconstruction.shape == (28, 28)
        assert item.z.shape == (trained_vae().latent_dim,)
        assert item.raw is not None
    # each reconstruction is its own image's: closer to it than to the other garment, and the two
    # garments' reconstructions differ as a person sees it (a decoder that ignored z would fail here)
    sneaker, bag = items[0], items[2]
    assert_visibly_different(sneaker.reconstruction, bag.reconstruction, "the sneaker's and the bag's reconstructions")
    for own, other in ((sneaker, bag), (bag, sneaker)):
        err_own = np.abs(own.reconstruction.astype(int) - own.image).mean()
        err_other = np.abs(own.reconstruction.astype(int) - other.image).mean()
        assert err_own < 0.6 * err_other, (own.name, err_own, err_other)
    # the first of the batch was selected: its z went to the explorer and its details are shown
    assert np.allclose(chosen.args[0], items[0].z)
    assert panel.details.verdict_label.text() == items[0].score.verdict.upper()
    assert "bits/dim" in panel.details.ll_label.text() and "nats" in panel.details.ll_label.text()
    assert panel.details.seen.array() is not None and np.array_equal(panel.details.seen.array(), items[0].image)
    assert_looks_the_same(panel.details.recon.array(), items[0].reconstruction, "the reconstruction shown")
    assert "Intake" in panel.details.steps_label.text()
    assert len(panel.details.stat_plot.getPlotItem().items) >= 3        # histogram, threshold, marker
    assert len(panel.details.raw_plot.getPlotItem().items) >= 2         # raw histogram and marker
    # selecting another row shows it and sends its z
    with qtbot.waitSignal(panel.latentChosen) as chosen:
        panel.select(items[2])
    assert np.allclose(chosen.args[0], items[2].z)
    assert np.array_equal(panel.details.recon.array(), items[2].reconstruction)


def test_intake_steps_are_listed_and_bad_files_fail_without_stopping_the_queue(panel, qtbot, tmp_path):
    from PIL import Image

    big = tmp_path / "white-shirt.jpg"
    a = np.full((120, 90, 3), 255, np.uint8)
    a[20:100, 15:75] = (30, 60, 200)
    Image.fromarray(a).save(big)
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    items = panel.add_files([bad, big])
    _wait_idle(qtbot, panel)
    assert items[0].status == "failed" and "not an image" in items[0].error
    assert items[1].status == "done"
    panel.select(items[1])
    steps = panel.details.steps_label.text()
    assert "inverted" in steps and "scaled" in steps
    panel.select(items[0])
    assert "not an image" in panel.details.verdict_label.text()


def test_arrays_and_pasted_bytes_are_accepted(panel, qtbot):
    from models.imaging import png_bytes

    a = np.zeros((28, 28), np.uint8)
    a[5:23, 10:18] = 200
    i1 = panel.add_image("array", a)
    i2 = panel.add_bytes("pasted image", png_bytes(a))
    _wait_idle(qtbot, panel)
    assert i1.status == i2.status == "done"
    assert np.array_equal(i1.image, i2.image)
    assert i1.score.ood_statistic == pytest.approx(i2.score.ood_statistic)


def test_cancel_stops_the_job_and_the_panel_stays_usable(panel, qtbot, monkeypatch):
    orig = slow_scoring(monkeypatch, 200)
    items = panel.add_files([SAMPLES_DIR / f for f in ("sneaker.png", "bag.png", "coat.png", "dress.png")])
    qtbot.waitUntil(lambda: items[0].status == "running", timeout=60_000)
    assert panel.cancel_button.isEnabled()
    panel.cancel_button.click()
    _wait_idle(qtbot, panel)     # the 200-tick job stops at its next checkpoint (a hang fails here)
    assert [i.status for i in items] == ["cancelled"] * 4
    assert "cancelled" in panel.list.item(3).text()
    assert not panel.cancel_button.isEnabled()
    monkeypatch.setattr(sp, "analyse", orig)
    again = panel.add_files([SAMPLES_DIR / "sneaker.png"])
    _wait_idle(qtbot, panel)
    assert again[0].status == "done"


def test_uncalibrated_model_scores_without_a_verdict(qtbot):
    p = sp.ScorePanel(executor())
    qtbot.addWidget(p)
    from models.vae import VAEModel

    p.set_model(VAEModel.build())
    [item] = p.add_files([SAMPLES_DIR / "sneaker.png"])
    _wait_idle(qtbot, p)
    assert item.status == "done" and item.score is None and "calibrat" in item.note
    assert "no verdict" in p.list.item(0).text()
    assert p.details.verdict_label.text() == "no verdict"


def test_opening_another_model_scores_the_same_images_again_with_it(panel, qtbot):
    from models.vae import VAEModel

    [first] = panel.add_files([SAMPLES_DIR / "sneaker.png"])
    _wait_idle(qtbot, panel)
    assert first.verdict is not None
    panel.set_model(VAEModel.build())            # uncalibrated: scored again, now without a verdict
    _wait_idle(qtbot, panel)
    assert panel.items == [first] and panel.list.count() == 1
    assert first.status == "done" and first.score is None and "no verdict" in panel.list.item(0).text()
    panel.clear()
    # images dropped before any model is open wait for it
    panel.set_model(None)
    [item] = panel.add_files([SAMPLES_DIR / "bag.png"])
    wait_background(qtbot)                       # nothing to run it with: it waits
    assert item.status == "queued"
    panel.set_model(trained_vae())
    _wait_idle(qtbot, panel)
    assert item.status == "done" and panel.list.count() == 1 and item.verdict == "in-distribution"


def test_a_gan_is_inverted_off_the_gui_thread_and_scored_without_a_likelihood(qtbot):
    import torch

    from models import scoring
    from models.bundled_data import load_subset
    from models.gan import GANModel

    torch.manual_seed(0)
    gan = GANModel.build(metadata={"name": "tiny GAN"})
    scoring.calibrate(gan, images=torch.from_numpy(load_subset()[0][:60]).unsqueeze(1), source="test")
    p = sp.ScorePanel(executor())
    qtbot.addWidget(p)
    p.set_model(gan)
    stages = []
    p._progress.stage.connect(lambda _i, text: stages.append(text))
    [item] = p.add_files([SAMPLES_DIR / "bag.png"])
    _wait_idle(qtbot, p)
    assert "inverting the generator" in stages
    assert item.status == "done" and item.score.log_likelihood_nats is None
    assert item.z.shape == (gan.latent_dim,) and item.raw is not None
    assert "GAN has no likelihood" in p.details.ll_label.text()
    assert "reproduce" in p.details.raw_text.text()

"""Why an image is called unusual: the heat map lights up a digit's strokes, not its black background, and
the nearest training images of a garment are garments of its own class."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import models
from models import ood_explain, ood_sets, ood_strokes, scoring
from models.data import fashion_mnist


@pytest.fixture(scope="module")
def vae():
    return models.load(models.bundled("vae"), device="cpu")


def test_a_digits_hottest_pixels_lie_on_its_strokes(vae):
    digits = torch.from_numpy(ood_strokes.hand_digits(20, seed=3)).unsqueeze(1)
    heat = ood_explain.heat_map(vae, digits)
    assert heat is not None and heat.shape == (20, 28, 28)
    x = digits[:, 0].numpy()
    stroke, background = heat[x > 128], heat[x == 0]
    # where the VAE is surprised beyond the local texture, it is on the ink, not the black ground (the
    # 64-latent VAE reconstructs strokes well, so their *mean* excess is near 0: docs/scoring.md)
    assert stroke.clip(min=0).mean() > 3 * background.clip(min=0).mean()
    assert (stroke > 1.0).mean() > 3 * (background > 1.0).mean()
    # and image by image: most of the ten hottest pixels lie on the ink
    on_ink = [(img.ravel()[np.argsort(h.ravel())[-10:]] > 0).mean() for h, img in zip(heat, x)]
    assert np.mean(on_ink) >= 0.7 and min(on_ink) >= 0.4


def test_a_garment_is_cooler_than_a_digit(vae):
    garments = fashion_mnist("test").images[:20]
    digits = ood_sets.digits(20)
    hg, hd = ood_explain.heat_map(vae, garments), ood_explain.heat_map(vae, digits)
    assert hg.clip(min=0).sum((1, 2)).mean() * 1.5 < hd.clip(min=0).sum((1, 2)).mean()


def test_nearest_training_images_of_a_garment_share_its_class(vae):
    test = fashion_mnist("test")
    z = vae.encode(test.images[:30].float() / 255).numpy()
    near = ood_explain.nearest_training(vae, z)
    assert all(len(n) == 5 for n in near)
    same = np.mean([sum(nb.class_name == test.classes[int(y)] for nb in n) / 5
                    for n, y in zip(near, test.labels[:30])])
    assert same >= 0.6
    first = near[0][0]
    assert first.image.shape == (1, 28, 28) and first.image.dtype == np.uint8
    assert first.class_name in test.classes and first.distance >= 0
    assert [nb.distance for nb in near[0]] == sorted(nb.distance for nb in near[0])


def test_explain_carries_the_heat_map_and_five_neighbours(vae):
    x = ood_sets.digits(2)
    ex = scoring.explain(vae, x, k=2)
    assert ex[0].heat is not None and ex[0].heat.shape == (28, 28)
    assert len(ex[0].neighbours) == 5 and ex[0].neighbours[0].class_name


def test_heat_picture_is_black_where_nothing_is_surprising():
    heat = np.zeros((28, 28), np.float32)
    heat[10:14, 10:14] = 6.0
    rgb = ood_explain.heat_rgb(heat)
    assert rgb.shape == (3, 28, 28) and rgb.dtype == np.uint8
    assert rgb[:, 0, 0].max() == 0 and rgb[0, 12, 12] == 255


def test_score_explain_writes_a_picture_and_the_neighbours_of_every_image(tmp_path):
    import json

    from cli_helpers import run_cli

    np.save(tmp_path / "two.npy", ood_sets.digits(2)[:, 0].numpy())
    out = tmp_path / "why"
    run_cli("score", "--k", "2", "--quiet", "--explain", out, tmp_path / "two.npy", check=True)
    rows = json.loads((out / "explain.json").read_text())
    assert [row["index"] for row in rows] == [0, 1]
    assert all(row["verdict"] == "out-of-distribution" and len(row["neighbours"]) == 5 for row in rows)
    from PIL import Image
    strip = np.asarray(Image.open(out / rows[0]["png"]))
    assert strip.shape[0] == 28 * 4 and strip.shape[1] > 7 * 28 * 4   # image, heat map, five neighbours

"""``latent-explorer map``: the picture and the coordinates of a data set's map, headless.

What a user checks: the CSV has one row per image with its index in the data set and its class, the
picture shows the classes in their colours with a legend, the same command twice gives the same
coordinates (the second from the cache), and a bad argument is one clear line."""
from __future__ import annotations

import csv
import shutil

import numpy as np
import pytest
from PIL import Image

from models.map_data import fashion_mnist_images
from models.map_picture import PALETTE

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _cli(*argv) -> int:
    from explorer.cli import main

    return main([str(a) for a in argv])


def _rows(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def vae_copy(tmp_path, trained_vae_path):
    path = tmp_path / "vae.safetensors"
    shutil.copy(trained_vae_path, path)
    return path


def test_map_writes_a_picture_and_one_csv_row_per_image(vae_copy, tmp_path, capsys):
    out, table = tmp_path / "m.png", tmp_path / "m.csv"
    assert _cli("map", vae_copy, "--max-images", 400, "--out", out, "--csv", table) == 0
    said = capsys.readouterr().out
    assert "400 points (400 of 60,000 Fashion-MNIST train images), PCA" in said
    rows = _rows(table)
    assert list(rows[0]) == ["index", "label", "class", "x", "y"] and len(rows) == 400
    expected = fashion_mnist_images("train", max_images=400)
    assert [int(r["index"]) for r in rows] == expected.index.tolist()
    assert [int(r["label"]) for r in rows] == expected.labels.tolist()
    assert rows[0]["class"] == ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                                "Sneaker", "Bag", "Ankle boot"][int(rows[0]["label"])]
    with Image.open(out) as im:
        pixels = np.asarray(im.convert("RGB")).reshape(-1, 3)
    colours = {tuple(p) for p in pixels[::3]}
    assert sum(c in colours for c in PALETTE) == 10                        # every class's colour is drawn
    # the same command again: the same coordinates, the codes from the cache beside the model
    assert _cli("map", vae_copy, "--max-images", 400, "--out", out, "--csv", tmp_path / "again.csv") == 0
    assert "codes from the map cache" in capsys.readouterr().out
    assert _rows(tmp_path / "again.csv") == rows


def test_map_with_tsne_on_the_test_split(vae_copy, tmp_path, capsys):
    table = tmp_path / "t.csv"
    assert _cli("map", vae_copy, "--split", "test", "--max-images", 150, "--method", "tsne", "--no-cache",
                "--out", tmp_path / "t.png", "--csv", table, "--json") == 0
    import json

    summary = json.loads(capsys.readouterr().out)
    assert summary["points"] == 150 and summary["method"] == "tsne" and not summary["cached"]
    xy = np.array([[float(r["x"]), float(r["y"])] for r in _rows(table)])
    assert xy.shape == (150, 2) and xy.std(0).min() > 0
    assert not list(tmp_path.glob("*.map-cache.npz"))                       # --no-cache writes nothing


def test_map_of_a_folder_labels_points_by_sub_folder(vae_copy, tmp_path, capsys):
    rng = np.random.default_rng(0)
    for cls, level in (("dark", 30), ("light", 220)):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        for k in range(8):
            a = np.clip(level + rng.normal(0, 10, (28, 28)), 0, 255).astype(np.uint8)
            Image.fromarray(a).save(tmp_path / "imgs" / cls / f"{k}.png")
    table = tmp_path / "f.csv"
    assert _cli("map", vae_copy, "--data", tmp_path / "imgs", "--out", tmp_path / "f.png", "--csv", table) == 0
    rows = _rows(table)
    assert len(rows) == 16 and {r["class"] for r in rows} == {"dark", "light"}


def test_map_of_a_missing_folder_is_one_line_naming_it(vae_copy, tmp_path, capsys):
    code = _cli("map", vae_copy, "--data", tmp_path / "nowhere", "--out", tmp_path / "m.png")
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert f"{tmp_path / 'nowhere'}: not a folder of images; give --data fashion-mnist or a folder" in err[0]
    assert not (tmp_path / "m.png").exists()

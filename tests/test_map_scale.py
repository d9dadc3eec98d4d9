"""The latent map at data-set scale (models layer): data sets by name, each projection on a small set,
the exact PCA inverse, the nearest-code stand-in for UMAP/t-SNE, search, neighbours, and the cache."""
from __future__ import annotations

import time

import numpy as np
import pytest
import torch

import models
from models import map_cache
from models.errors import Cancelled
from models.latent_map import build
from models.map_data import MapDataError, fashion_mnist_images, map_source
from models.projections import embed, embed_in_child

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def vae(trained_vae_path):
    return models.load(trained_vae_path, device="cpu")


@pytest.fixture(scope="module")
def small(vae):
    """300 training images of every class, mapped with PCA, without the cache."""
    return build(vae, data="fashion-mnist", split="train", max_images=300, cache=False)


def test_a_named_data_set_holds_the_images_it_says_with_their_indices():
    full = fashion_mnist_images("test")
    assert len(full.images) == 10_000 and full.source == "10,000 Fashion-MNIST test images"
    part = fashion_mnist_images("all", max_images=500)
    assert len(part.index) == 500 and np.all(np.diff(part.index) > 0) and part.index.max() < 70_000
    assert part.source == "500 of 70,000 Fashion-MNIST train + test images"
    again = fashion_mnist_images("all", max_images=500)
    assert np.array_equal(part.index, again.index)                       # seeded: the same images
    test = fashion_mnist_images("test")
    late = part.index >= 60_000                                           # test images come after train
    assert np.array_equal(part.images[late], test.images[part.index[late] - 60_000])
    assert np.array_equal(part.labels[late], test.labels[part.index[late] - 60_000])


def test_fashion_mnist_refuses_a_model_of_another_shape_in_one_line():
    from models.vae import VAEModel

    colour = VAEModel.build({"image_shape": [3, 16, 16], "latent_dim": 3, "channels": 4})
    with pytest.raises(MapDataError, match="Fashion-MNIST is 1x28x28 but .* takes 3x16x16 images; give --data a folder"):
        map_source(colour, "fashion-mnist")


def test_a_pca_map_point_decodes_exactly_to_the_point_of_the_plane(small):
    assert small.linear and len(small) == 300 and small.method == "pca"
    z, note = small.inverse(1.5, -0.5)
    assert note == "exact inverse"
    assert np.allclose(small.project(z), [[1.5, -0.5]], atol=1e-4)      # back on the very spot clicked
    assert np.allclose(small.project(small.z), small.xy, atol=1e-4)


def test_search_finds_a_class_by_name_or_part_and_images_by_index(small):
    trousers = small.search("Trouser")
    assert len(trousers) > 10 and np.all(small.labels[trousers] == 1)
    assert np.array_equal(small.search("trou"), trousers)                # a prefix, any case
    assert np.array_equal(small.search("boot"), np.flatnonzero(small.labels == 9))   # part of "Ankle boot"
    i = int(small.index[7])
    assert list(small.search(f"#{i}")) == [7]
    both = small.search(f"sandal, {i}")
    assert 7 in both and set(np.flatnonzero(small.labels == 5)) <= set(both)
    assert len(small.search("giraffe")) == 0


def test_neighbours_are_the_nearest_codes_nearest_first(small):
    near = small.neighbours(small.z[3], 10)
    d = ((small.z - small.z[3]) ** 2).sum(1)
    assert near[0] == 3 and np.all(np.diff(d[near]) >= 0)
    assert d[near].max() <= np.sort(d)[9] + 1e-9


def test_tsne_maps_a_small_set_reproducibly_and_stands_in_with_the_nearest_code(vae, small):
    a = build(vae, images=small.images[:150], labels=small.labels[:150], method="tsne")
    b = build(vae, images=small.images[:150], labels=small.labels[:150], method="tsne")
    assert a.xy.shape == (150, 2) and not a.linear and np.allclose(a.xy, b.xy)
    assert a.axis_labels == ("t-SNE 1", "t-SNE 2")
    z, note = a.inverse(*a.xy[11])
    assert np.array_equal(z, a.z[11]) and "no inverse" in note and "#11" in note
    assert np.allclose(a.project(a.z[11] + 1e-4), a.xy[11:12])           # a new code: its nearest image's spot


@pytest.mark.slow
def test_umap_maps_a_small_set_reproducibly_with_classes_apart(vae, small):
    pytest.importorskip("umap", reason="umap-learn is the map extra: pip install -e '.[map]'")
    seen = []
    a = embed(small.z, "umap", progress=lambda f, t: seen.append((f, t)))
    b = embed(small.z, "umap")
    assert a.xy.shape == (300, 2) and np.allclose(a.xy, b.xy)            # seeded
    assert seen[-1][0] == pytest.approx(1.0) and "epoch" in seen[-1][1]
    centres = np.stack([a.xy[small.labels == c].mean(0) for c in (1, 7)])  # trousers and sneakers apart
    spread = np.mean([a.xy[small.labels == c].std(0).mean() for c in (1, 7)])
    assert np.linalg.norm(centres[0] - centres[1]) > 2 * spread


def test_cancelling_an_embedding_in_its_child_process_stops_it_at_once(small):
    polls = []

    def poll():
        polls.append(time.perf_counter())
        if len(polls) > 3:
            raise Cancelled()
    start = time.perf_counter()
    with pytest.raises(Cancelled):
        embed_in_child(np.tile(small.z, (10, 1)), "tsne", poll=poll)
    assert time.perf_counter() - start < 60                              # a hang guard, not a timing


def test_a_child_process_embedding_matches_the_one_made_here(small):
    here = embed(small.z[:120], "tsne")
    there = embed_in_child(small.z[:120], "tsne")
    assert np.allclose(here.xy, there.xy, atol=1e-3)


def test_codes_are_cached_beside_the_model_and_reused_until_the_checkpoint_changes(tmp_path, trained_vae_path):
    path = tmp_path / "vae.safetensors"
    path.write_bytes(trained_vae_path.read_bytes())
    model = models.load(path, device="cpu")
    first = build(model, data="fashion-mnist", split="test", max_images=200)
    sidecar = tmp_path / "vae.map-cache.npz"
    assert sidecar.is_file() and not first.cached
    with np.load(sidecar, allow_pickle=False) as f:                      # plain arrays only
        assert str(f["fingerprint"]) == map_cache.fingerprint(model)
    again = build(models.load(path, device="cpu"), data="fashion-mnist", split="test", max_images=200)
    assert again.cached and np.array_equal(again.z, first.z) and np.array_equal(again.index, first.index)
    # a retrained checkpoint (other bytes) never uses the old codes
    torch.manual_seed(1)
    from models.vae import VAEModel

    models.save(VAEModel.build({"latent_dim": model.latent_dim}, metadata={"name": "other"}), path)
    other = build(models.load(path, device="cpu"), data="fashion-mnist", split="test", max_images=200)
    assert not other.cached and not np.allclose(other.z, first.z)


def test_where_the_model_folder_cannot_be_written_the_cache_goes_to_the_user_cache(tmp_path, trained_vae_path,
                                                                                    monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "vae.safetensors").write_bytes(trained_vae_path.read_bytes())
    (tmp_path / "vae.map-cache.npz").mkdir()          # unwritable there, even for root
    model = models.load(tmp_path / "vae.safetensors", device="cpu")
    build(model, data="fashion-mnist", split="test", max_images=100)
    assert len(list((tmp_path / "cache").rglob("*.map-cache.npz"))) == 1
    assert build(model, data="fashion-mnist", split="test", max_images=100).cached


def test_a_damaged_cache_is_rebuilt_not_trusted(tmp_path, trained_vae_path):
    path = tmp_path / "vae.safetensors"
    path.write_bytes(trained_vae_path.read_bytes())
    (tmp_path / "vae.map-cache.npz").write_bytes(b"PK\x03\x04 not a zip")
    lm = build(models.load(path, device="cpu"), data="fashion-mnist", split="test", max_images=50)
    assert not lm.cached and len(lm) == 50
    assert build(models.load(path, device="cpu"), data="fashion-mnist", split="test", max_images=50).cached

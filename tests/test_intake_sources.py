"""One way in: ``models.intake.take_in`` takes every kind of image source, and every reader of image
folders (training, the score command) accepts the same files."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from models import intake
from models.intake import IntakeError, take_in


def _png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def picture() -> np.ndarray:
    a = np.zeros((28, 28), np.uint8)
    a[6:22, 9:19] = 200
    return a


def test_a_file_its_bytes_and_the_pil_image_give_the_same_pixels(tmp_path, picture):
    path = tmp_path / "shirt.png"
    path.write_bytes(_png(picture))
    from_path = take_in(path)
    from_bytes = take_in(path.read_bytes(), name="pasted")
    from_pil = take_in(Image.fromarray(picture))
    assert len(from_path) == len(from_bytes) == len(from_pil) == 1
    assert from_path[0].source == "shirt.png" and from_bytes[0].source == "pasted"
    for r in (from_path, from_bytes, from_pil):
        assert r[0].uint8.shape == (1, 28, 28) and r[0].uint8.dtype == torch.uint8
        assert torch.equal(r[0].uint8[0], torch.from_numpy(picture))


@pytest.mark.parametrize("shape", [(28, 28), (3, 28, 28), (3, 1, 28, 28), (3, 28, 28, 1)])
def test_arrays_of_every_layout_are_used_as_they_are(shape):
    a = np.arange(np.prod(shape)).reshape(shape) % 256
    out = take_in(a.astype(np.uint8))
    assert len(out) == (1 if len(shape) == 2 else 3)
    assert [r.index for r in out] == list(range(len(out)))
    assert torch.equal(out[-1].uint8.flatten(), torch.from_numpy(a.astype(np.uint8).reshape(len(out), -1)[-1]))


def test_a_float_tensor_is_taken_as_values_in_0_to_1():
    (r,) = take_in(torch.full((1, 1, 28, 28), 0.5))
    assert int(r.uint8[0, 0, 0]) == 128


def test_npy_files_and_bytes_are_read_without_pickle(tmp_path):
    a = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    path = tmp_path / "batch.npy"
    np.save(path, a)
    assert len(take_in(path)) == 5 and len(take_in(path.read_bytes())) == 5
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(IntakeError, match="objects.npy: not a readable .npy array"):
        take_in(tmp_path / "objects.npy")


def test_more_images_than_the_limit_keep_the_first_and_say_so():
    out = take_in(np.zeros((10, 28, 28), np.uint8), max_images=4)
    assert len(out) == 4 and out[-1].steps[-1] == "took the first 4 of 10 images"
    assert len(take_in(np.zeros((10, 28, 28), np.uint8), max_images=None)) == 10


def test_a_folder_gives_its_images_sorted_and_notes_unreadable_ones(tmp_path, picture):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "two.tga").write_bytes(b"")                     # accepted suffix, unreadable
    Image.fromarray(picture).save(tmp_path / "b" / "one.tga")
    (tmp_path / "a.png").write_bytes(_png(picture))
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / ".hidden.png").write_bytes(_png(picture))
    out = take_in(tmp_path)
    assert [r.source for r in out] == ["a.png", "b/one.tga"]
    assert "skipped 1 unreadable file" in out[-1].steps[-1]
    with pytest.raises(IntakeError, match="no image files in this folder"):
        take_in(_empty(tmp_path))


def _empty(tmp_path):
    d = tmp_path / "empty"
    d.mkdir()
    return d


def test_unsupported_shapes_and_sources_are_refused_in_one_line():
    with pytest.raises(IntakeError, match=r"array of shape \(28, 28\); expected \(N, 64, 64\), \(N, 3, 64, 64\)"):
        take_in(np.zeros((28, 28), np.uint8), image_shape=(3, 64, 64))
    with pytest.raises(IntakeError, match="images of shape 2x64x64 cannot be taken in: .* C = 1 \\(grey\\) or 3"):
        take_in(np.zeros((28, 28), np.uint8), image_shape=(2, 64, 64))
    with pytest.raises(IntakeError, match="not an image source"):
        take_in(3.5)


def test_training_and_the_score_command_accept_the_files_intake_accepts(tmp_path, picture):
    from explorer.commands.score import collect
    from models import data

    for suffix in intake.IMAGE_SUFFIXES:
        assert intake.is_image_path(f"x{suffix.upper()}") and intake.accepts(f"x{suffix}")
    assert intake.accepts("x.npy") and not intake.is_image_path("x.npy") and not intake.accepts("x.txt")
    assert data.IMAGE_SUFFIXES is intake.IMAGE_SUFFIXES
    Image.fromarray(picture).save(tmp_path / "drawn.tga")
    np.save(tmp_path / "more.npy", np.zeros((2, 28, 28), np.uint8))
    got = [(s.rsplit("/", 1)[-1], i) for s, i, _ in collect([str(tmp_path)])]
    assert got == [("drawn.tga", 0), ("more.npy", 0), ("more.npy", 1)]

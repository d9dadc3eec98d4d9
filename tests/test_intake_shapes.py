"""Intake by the model's shape: a colour model keeps a picture's colour (transparency on the training
background), every picture is centre-cropped to the model's aspect and resized like its training
folder, and a Fashion-MNIST model still frames pictures exactly as before."""
from __future__ import annotations

import hashlib
import io
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from models.intake import IntakeError, style_for, take_in

WHITE = (255, 255, 255)


def _model(shape, dataset=None, background=None):
    """Just what intake reads from a model: its shape and checkpoint metadata."""
    meta = {}
    if dataset is not None:
        meta["dataset"] = {"name": dataset}
        if background is not None:
            meta["dataset"]["background"] = background
    return SimpleNamespace(image_shape=tuple(shape), metadata=meta)


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def test_a_colour_png_with_alpha_keeps_its_colour_and_its_transparency_becomes_white():
    a = np.zeros((32, 32, 4), np.uint8)
    a[8:24, 8:24] = (220, 30, 40, 255)            # an opaque red square on a transparent field
    r = take_in(_png(Image.fromarray(a, "RGBA")), image_shape=(3, 32, 32), name="red.png")[0]
    px = r.uint8.numpy().transpose(1, 2, 0)
    assert r.uint8.shape == (3, 32, 32)
    assert tuple(px[0, 0]) == WHITE and tuple(px[16, 16]) == (220, 30, 40)
    assert "transparent pixels composited on white (the training background)" in r.steps


def test_the_background_recorded_in_the_checkpoint_is_the_one_transparency_goes_onto():
    a = np.zeros((32, 32, 4), np.uint8)
    model = _model((3, 32, 32), "folder:night", "black (transparent pixels composited on RGB 0, 0, 0)")
    r = take_in(_png(Image.fromarray(a, "RGBA")), model=model)[0]
    assert int(r.uint8.max()) == 0
    assert "transparent pixels composited on black (the training background)" in r.steps


def test_a_wide_picture_is_centre_cropped_to_the_models_aspect_and_says_so():
    a = np.zeros((32, 96, 3), np.uint8)
    a[:, :32], a[:, 32:64], a[:, 64:] = (255, 0, 0), (0, 200, 0), (0, 0, 255)   # red | green | blue
    r = take_in(_png(Image.fromarray(a)), image_shape=(3, 32, 32), name="wide.png")[0]
    px = r.uint8.numpy().transpose(1, 2, 0).astype(int)
    assert np.abs(px - (0, 200, 0)).max() <= 2          # only the middle third is left, all green
    assert r.steps[0] == "96x32 RGB"
    assert "centre-cropped to 32x32, the model's 1:1 aspect (64 px cut from the left and right)" in r.steps
    tall = take_in(_png(Image.fromarray(a.transpose(1, 0, 2).copy())), image_shape=(3, 17, 40))[0]
    assert tall.uint8.shape == (3, 17, 40) and any("top and bottom" in s for s in tall.steps)


def test_a_grey_picture_on_a_colour_model_has_the_same_value_in_each_channel():
    g = np.tile(np.arange(0, 256, 8, dtype=np.uint8), (32, 1))
    r = take_in(_png(Image.fromarray(g, "L")), image_shape=(3, 32, 32))[0]
    assert np.array_equal(r.uint8[0], r.uint8[1]) and np.array_equal(r.uint8[1], r.uint8[2])
    assert np.array_equal(r.uint8[0].numpy(), g)
    assert "grey picture: the same value in R, G and B" in r.steps


def test_a_training_image_taken_back_in_is_the_image_the_model_trained_on(tmp_path):
    from models.data import image_folder

    rng = np.random.default_rng(1)
    pic = rng.integers(0, 256, (50, 70, 4), dtype=np.uint8)
    (tmp_path / "a").mkdir()
    Image.fromarray(pic, "RGBA").save(tmp_path / "a" / "x.png")
    Image.fromarray(pic[..., :3]).save(tmp_path / "a" / "y.png")
    for c in (3, 1):
        train, held = image_folder(tmp_path, size=32, channels=c)
        trained = np.concatenate([train.images.numpy(), held.images.numpy()])
        mine = np.stack([take_in(tmp_path / "a" / f, model=_model((c, 32, 32), "folder:a"))[0].uint8.numpy()
                         for f in ("x.png", "y.png")])
        assert np.array_equal(np.sort(mine.reshape(2, -1), 0), np.sort(trained.reshape(2, -1), 0))


def test_only_a_fashion_mnist_model_frames_pictures_like_fashion_mnist():
    dark_on_light = np.full((60, 40), 255, np.uint8)
    dark_on_light[20:40, 15:25] = 0              # a tall dark bar on white
    data = _png(Image.fromarray(dark_on_light, "L"))
    framed = take_in(data, model=_model((1, 28, 28), "fashion-mnist"))[0]
    plain = take_in(data, model=_model((1, 28, 28), "folder:digits"))[0]
    assert style_for(_model((1, 28, 28), "fashion-mnist")).framing == "fashion-mnist"
    assert style_for(_model((1, 28, 28))).framing == "fashion-mnist"        # nothing recorded: the shape's convention
    assert style_for(_model((1, 28, 28), "folder:digits")).framing == "fit"
    assert any(s.startswith("inverted") for s in framed.steps) and framed.uint8[0, 0, 0] == 0
    assert not any(s.startswith("inverted") for s in plain.steps) and plain.uint8[0, 0, 0] == 255
    assert "resized to 28x28 (Lanczos)" in plain.steps


def _sample_variants():
    """Every bundled sample as it is, upscaled and inverted in RGB, pasted on a wide white canvas,
    and with an alpha channel: the cases whose Fashion-MNIST framing must not change."""
    from models.bundled_data import sample_paths

    for p in sample_paths():
        data = p.read_bytes()
        yield p.name, data
        a = np.asarray(Image.open(io.BytesIO(data)).convert("L"))
        big = Image.fromarray(255 - a).resize((84, 84), Image.NEAREST).convert("RGB")
        wide = Image.new("RGB", (150, 60), WHITE)
        wide.paste(big.resize((60, 60)), (45, 0))
        rgba = Image.fromarray(a).convert("RGBA")
        rgba.putalpha(Image.fromarray(a))
        for tag, img in (("big", big), ("wide", wide), ("rgba", rgba.resize((56, 56), Image.BILINEAR))):
            yield f"{p.stem}-{tag}", _png(img)


def test_a_fashion_mnist_model_takes_in_the_bundled_samples_bit_for_bit_as_before():
    import models

    fmnist = models.load(models.bundled("vae"), device="cpu")
    pixels, steps = hashlib.sha256(), hashlib.sha256()
    for name, data in _sample_variants():
        r = take_in(data, model=fmnist, name=name)[0]
        assert r.uint8.shape == (1, 28, 28)
        pixels.update(r.uint8.numpy().tobytes())
        steps.update("|".join(r.steps).encode())
    # recorded with the 1x28x28-only intake, before intake followed the model's shape
    assert pixels.hexdigest() == "c88cbfd770c6c00e367f8f96f63cf140d604893af9cd029e7f1166ab88e7287c"
    assert steps.hexdigest() == "045b26ca5d2f2f988d52760eae82a1ac281034fa334ba6ef7f79f9ba9cd321a7"


def test_arrays_in_any_layout_give_the_same_colour_images():
    rng = np.random.default_rng(0)
    hwc = rng.integers(0, 256, (2, 16, 24, 3), dtype=np.uint8)
    a = take_in(hwc, image_shape=(3, 16, 24))
    b = take_in(hwc.transpose(0, 3, 1, 2).copy(), image_shape=(3, 16, 24))
    assert [r.uint8.shape for r in a] == [(3, 16, 24)] * 2
    assert all(np.array_equal(x.uint8, y.uint8) for x, y in zip(a, b))
    grey = take_in(hwc[..., 0], image_shape=(3, 16, 24))[1]
    assert np.array_equal(grey.uint8[2].numpy(), hwc[1, ..., 0]) and "grey image" in grey.steps[0]
    luma = take_in(hwc, image_shape=(1, 16, 24))[0]
    assert luma.uint8.shape == (1, 16, 24) and luma.steps == ["converted to grey (luma)"]
    rgba = np.concatenate([hwc, np.zeros((2, 16, 24, 1), np.uint8)], axis=3)
    assert int(take_in(rgba, image_shape=(3, 16, 24))[0].uint8.min()) == 255      # all transparent: white


def test_an_array_of_another_size_is_refused_in_one_line_naming_it_and_the_shapes_that_work():
    with pytest.raises(IntakeError) as info:
        take_in(np.zeros((2, 28, 28), np.uint8), image_shape=(3, 64, 64), name="digits.npy")
    msg = str(info.value)
    assert msg == ("digits.npy: array of shape (2, 28, 28); expected (N, 64, 64), (N, 3, 64, 64) or "
                   "(N, 64, 64, 3) pixel values 0-255")

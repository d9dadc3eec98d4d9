"""Out-of-distribution image sets for the OOD benchmark and tests, built locally (nothing downloaded).

Each function returns an (N, 1, 28, 28) uint8 tensor, deterministic for a given ``seed``.  None of
these is ever used to fit anything: the verdict is fitted on Fashion-MNIST held-out images only.
"""
from __future__ import annotations

import numpy as np
import torch

SIZE = 28


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.uint8)).unsqueeze(1)


def digits(n: int | None = None) -> torch.Tensor:
    """scikit-learn's 8x8 handwritten digits (1,797, shipped in the wheel), framed like MNIST:
    values 0..16 scaled to 0..255, upscaled to 20x20, centred by centre of mass in 28x28."""
    from PIL import Image
    from sklearn.datasets import load_digits

    imgs = load_digits().images  # (1797, 8, 8), 0..16
    if n is not None:
        imgs = imgs[:n]
    out = np.zeros((len(imgs), SIZE, SIZE), dtype=np.uint8)
    for i, a in enumerate(imgs):
        im = Image.fromarray(np.clip(a * (255.0 / 16.0), 0, 255).astype(np.uint8), "L")
        small = np.asarray(im.resize((20, 20), Image.Resampling.BILINEAR), dtype=np.float64)
        ys, xs = np.indices(small.shape)
        mass = small.sum()
        cy, cx = ((ys * small).sum() / mass, (xs * small).sum() / mass) if mass > 0 else (9.5, 9.5)
        oy = int(np.clip(round(14 - cy), 0, SIZE - 20))
        ox = int(np.clip(round(14 - cx), 0, SIZE - 20))
        out[i, oy:oy + 20, ox:ox + 20] = np.round(small).astype(np.uint8)
    return _t(out)


def uniform_noise(n: int, seed: int = 0) -> torch.Tensor:
    """Every pixel uniform on 0..255."""
    return _t(np.random.default_rng(seed).integers(0, 256, (n, SIZE, SIZE)))


def constant(n: int, seed: int = 0) -> torch.Tensor:
    """Flat images, one random level (0..255) each."""
    levels = np.random.default_rng(seed).integers(0, 256, n)
    return _t(np.broadcast_to(levels[:, None, None], (n, SIZE, SIZE)))


def blurred_noise(n: int, seed: int = 0, sigma: float = 1.5) -> torch.Tensor:
    """Gaussian noise smoothed by a Gaussian blur (σ = 1.5 px), stretched to 0..255: smooth blobs."""
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(seed)
    out = np.empty((n, SIZE, SIZE), dtype=np.uint8)
    for i in range(n):
        a = rng.normal(size=(SIZE, SIZE))
        a = (a - a.min()) / (a.max() - a.min() + 1e-9) * 255.0
        im = Image.fromarray(a.astype(np.uint8), "L").filter(ImageFilter.GaussianBlur(sigma))
        b = np.asarray(im, dtype=np.float64)
        out[i] = np.round((b - b.min()) / (b.max() - b.min() + 1e-9) * 255.0).astype(np.uint8)
    return _t(out)


def shapes(n: int, seed: int = 0) -> torch.Tensor:
    """Line drawings: 2-5 random strokes, rectangles and ellipses (outline or filled) in white on black."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    out = np.empty((n, SIZE, SIZE), dtype=np.uint8)
    for i in range(n):
        im = Image.new("L", (SIZE, SIZE), 0)
        d = ImageDraw.Draw(im)
        for _ in range(int(rng.integers(2, 6))):
            kind = int(rng.integers(0, 3))
            x0, y0, x1, y1 = (int(v) for v in rng.integers(2, SIZE - 2, 4))
            box = [min(x0, x1), min(y0, y1), max(x0, x1) + 1, max(y0, y1) + 1]
            level = int(rng.integers(128, 256))
            width = int(rng.integers(1, 4))
            if kind == 0:
                d.line([x0, y0, x1, y1], fill=level, width=width)
            elif kind == 1:
                d.rectangle(box, outline=level, width=width, fill=level if rng.random() < 0.3 else None)
            else:
                d.ellipse(box, outline=level, width=width, fill=level if rng.random() < 0.3 else None)
        out[i] = np.asarray(im)
    return _t(out)


def natural_patches(n: int, seed: int = 0) -> torch.Tensor:
    """Grayscale 28x28 crops (random size 28-200 px, resized) of scikit-learn's two bundled photos."""
    from PIL import Image
    from sklearn.datasets import load_sample_images

    photos = [np.asarray(Image.fromarray(img).convert("L")) for img in load_sample_images().images]
    rng = np.random.default_rng(seed)
    out = np.empty((n, SIZE, SIZE), dtype=np.uint8)
    for i in range(n):
        p = photos[i % len(photos)]
        s = int(rng.integers(SIZE, 200))
        y = int(rng.integers(0, p.shape[0] - s))
        x = int(rng.integers(0, p.shape[1] - s))
        crop = Image.fromarray(p[y:y + s, x:x + s])
        out[i] = np.asarray(crop.resize((SIZE, SIZE), Image.Resampling.BILINEAR))
    return _t(out)


def vflip(images: torch.Tensor) -> torch.Tensor:
    """Upside down."""
    return torch.flip(images, dims=[-2])


def invert(images: torch.Tensor) -> torch.Tensor:
    """Dark garments on a white background."""
    return 255 - images


def benchmark_sets(fmnist_test: torch.Tensor, n: int = 1000, seed: int = 0) -> dict[str, torch.Tensor]:
    """The benchmark's OOD sets, ``n`` images each (digits: all 1,797 when ``n`` is larger).

    ``fmnist_test`` (uint8) supplies the flipped and inverted sets; pass images that are *not* the
    in-distribution test images of the same evaluation (e.g. the second half of the test set).
    """
    return {
        "digits (sklearn, MNIST-framed)": digits()[:n],
        "uniform noise": uniform_noise(n, seed),
        "constant": constant(n, seed),
        "FMNIST flipped vertically": vflip(fmnist_test[:n]),
        "FMNIST inverted": invert(fmnist_test[:n]),
        "shapes (line drawings)": shapes(n, seed),
        "blurred noise": blurred_noise(n, seed),
        "photo patches (sklearn)": natural_patches(n, seed),
    }

"""The small data files bundled in ``assets/`` besides the checkpoints, and the code that makes them.

* ``assets/fmnist-test-subset.npz``: a class-stratified subset of the Fashion-MNIST *test* set for
  the latent map (``images`` uint8 (N, 28, 28), ``labels`` uint8, ``indices`` into the test set,
  ``classes``).  1,500 images (150 per class) keep the file near 650 kB.
* ``assets/samples/*.png``: a dozen Fashion-MNIST test images named by class, and a few clearly
  foreign images (a handwritten digit framed like MNIST, noise, a geometric shape) for trying
  interpolation and the OOD verdict without looking for files.

Both are reproducible (fixed seeds, the Debian package ``dataset-fashion-mnist``)::

    python -m models.bundled_data            # rewrites both into assets/
"""
from __future__ import annotations

import argparse
import io
import re
from pathlib import Path

import numpy as np

from . import ASSETS
from .atomic_io import atomic_write_bytes
from .imaging import png_bytes

SUBSET_FILE = ASSETS / "fmnist-test-subset.npz"
SAMPLES_DIR = ASSETS / "samples"
PER_CLASS = 150
SEED = 0


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


# ------------------------------------------------------------------------------------------ subset
def make_subset(path: str | Path = SUBSET_FILE, per_class: int = PER_CLASS, seed: int = SEED) -> Path:
    """Write the stratified test-set subset (``per_class`` images of each class, chosen at random)."""
    from .data import fashion_mnist

    test = fashion_mnist("test")
    x, y = test.images[:, 0].numpy(), test.labels.numpy()
    rng = np.random.default_rng(seed)
    idx = np.sort(np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False)
                                  for c in range(len(test.classes))]))
    buf = io.BytesIO()
    np.savez_compressed(buf, images=x[idx], labels=y[idx].astype(np.uint8), indices=idx.astype(np.int32),
                        classes=np.array(test.classes))
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)


def load_subset(path: str | Path = SUBSET_FILE) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(images uint8 (N, 28, 28), labels int64 (N,), class names) of the bundled subset."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: the bundled latent-map subset is missing; make it with "
                                f"`python -m models.bundled_data` (needs dataset-fashion-mnist)")
    with np.load(path, allow_pickle=False) as f:
        return f["images"], f["labels"].astype(np.int64), [str(c) for c in f["classes"]]


# ------------------------------------------------------------------------------------------ samples
def foreign_images(seed: int = SEED) -> dict[str, np.ndarray]:
    """Clearly out-of-distribution 28x28 uint8 images, by file stem."""
    from .ood_sets import digits

    rng = np.random.default_rng(seed)
    out = {"foreign-digit-3": digits(4)[3, 0].numpy(),
           "foreign-digit-7": digits(8)[7, 0].numpy(),
           "foreign-noise": rng.integers(0, 256, (28, 28), dtype=np.uint8)}
    yy, xx = np.mgrid[:28, :28]
    ring = np.abs(np.hypot(yy - 13.5, xx - 13.5) - 9.0) < 1.6
    shape = np.zeros((28, 28), np.uint8)
    shape[ring] = 255
    shape[8:20, 8:20][np.eye(12, dtype=bool) | np.eye(12, dtype=bool)[::-1]] = 255  # a cross in a ring
    out["foreign-shape"] = shape
    return out


def make_samples(folder: str | Path = SAMPLES_DIR) -> list[Path]:
    """Write a dozen Fashion-MNIST test images (the first of each class, a second T-shirt and
    sneaker) and the foreign images as PNG files named by what they show."""
    from .data import fashion_mnist

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    test = fashion_mnist("test")
    x, y = test.images[:, 0].numpy(), test.labels.numpy()
    written = []
    for c, name in enumerate(test.classes):
        hits = np.flatnonzero(y == c)
        picks = [hits[0], hits[1]] if name in ("T-shirt/top", "Sneaker") else [hits[0]]
        for j, i in enumerate(picks):
            p = folder / f"{slug(name)}{'' if j == 0 else f'-{j + 1}'}.png"
            atomic_write_bytes(p, png_bytes(x[i]))
            written.append(p)
    for stem, a in foreign_images().items():
        p = folder / f"{stem}.png"
        atomic_write_bytes(p, png_bytes(a))
        written.append(p)
    return written


def sample_paths(folder: str | Path = SAMPLES_DIR) -> list[Path]:
    """The bundled sample images, Fashion-MNIST ones first, then the foreign ones."""
    files = sorted(Path(folder).glob("*.png"))
    return [f for f in files if not f.stem.startswith("foreign")] + \
           [f for f in files if f.stem.startswith("foreign")]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m models.bundled_data", description=__doc__.split("\n")[0])
    p.add_argument("--subset", default=str(SUBSET_FILE))
    p.add_argument("--samples", default=str(SAMPLES_DIR))
    args = p.parse_args(argv)
    sub = make_subset(args.subset)
    print(f"wrote {sub} ({sub.stat().st_size / 1000:.0f} kB)")
    files = make_samples(args.samples)
    print(f"wrote {len(files)} sample images into {args.samples}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

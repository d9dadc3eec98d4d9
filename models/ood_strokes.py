"""Foreign images drawn with a pen or made by formula: hand-drawn-looking digits, doodles, textures, noise.

All deterministic for a given seed, nothing downloaded; each function returns (n, 28, 28) uint8.

* Pen strokes (:func:`hand_digits`, :func:`doodles`) are Catmull-Rom curves through jittered points,
  drawn at 4x resolution with a round pen of random width and box-filtered down to 28x28 -- the way
  MNIST's digits were anti-aliased -- then framed like MNIST (fitted into a 20x20 box, centred by mass).
* Textures are periodic patterns (gratings, plaids, checkerboards, dot lattices, bricks) at random
  frequency, orientation, phase and contrast.
* Coloured noise: white Gaussian noise shaped in the Fourier domain by a power spectrum ∝ 1/f^α
  (α = 0 white, 1 pink, 2 brown, −1 blue), then stretched to a random contrast.
"""
from __future__ import annotations

import numpy as np

SIZE = 28
UP = 4   # drawing resolution factor

#: Rough pen paths of the ten digits in a unit box (y down); jitter and an affine map make each unique.
DIGIT_PATHS: dict[int, list[list[tuple[float, float]]]] = {
    0: [[(0.5, 0.05), (0.2, 0.3), (0.2, 0.7), (0.5, 0.95), (0.8, 0.7), (0.8, 0.3), (0.5, 0.05)]],
    1: [[(0.35, 0.2), (0.55, 0.05), (0.55, 0.95)]],
    2: [[(0.2, 0.25), (0.45, 0.06), (0.75, 0.2), (0.7, 0.5), (0.2, 0.92), (0.85, 0.92)]],
    3: [[(0.2, 0.12), (0.7, 0.1), (0.72, 0.32), (0.45, 0.48), (0.8, 0.66), (0.7, 0.9), (0.2, 0.88)]],
    4: [[(0.6, 0.05), (0.15, 0.65), (0.85, 0.65)], [(0.65, 0.3), (0.65, 0.95)]],
    5: [[(0.8, 0.08), (0.25, 0.08), (0.22, 0.45), (0.65, 0.42), (0.8, 0.68), (0.6, 0.93), (0.2, 0.86)]],
    6: [[(0.7, 0.06), (0.35, 0.35), (0.22, 0.7), (0.45, 0.94), (0.75, 0.78), (0.65, 0.54), (0.3, 0.6)]],
    7: [[(0.15, 0.1), (0.85, 0.1), (0.45, 0.95)]],
    8: [[(0.5, 0.5), (0.25, 0.28), (0.5, 0.06), (0.75, 0.28), (0.5, 0.5), (0.2, 0.73), (0.5, 0.95),
         (0.8, 0.73), (0.5, 0.5)]],
    9: [[(0.75, 0.4), (0.45, 0.55), (0.25, 0.32), (0.5, 0.07), (0.75, 0.3), (0.72, 0.6), (0.6, 0.95)]],
}


def _catmull_rom(pts: np.ndarray, per: int = 12) -> np.ndarray:
    """A smooth curve through ``pts`` (M, 2)."""
    if len(pts) < 3:
        t = np.linspace(0, 1, per * 2)[:, None]
        return pts[0] * (1 - t) + pts[-1] * t
    p = np.vstack([pts[0], pts, pts[-1]])
    out = []
    t = np.linspace(0, 1, per, endpoint=False)[:, None]
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        out.append(0.5 * (2 * p1 + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t ** 2
                          + (-p0 + 3 * p1 - 3 * p2 + p3) * t ** 3))
    out.append(p[-2][None])
    return np.vstack(out)


def _draw(paths: list[np.ndarray], width: float) -> np.ndarray:
    """Pen paths in a unit box -> a (4*20)-px drawing, box-filtered to 20x20 floats 0..255."""
    from PIL import Image, ImageDraw

    n = 20 * UP
    im = Image.new("L", (n, n), 0)
    d = ImageDraw.Draw(im)
    w = max(1, round(width * UP))
    for path in paths:
        xy = [(float(x * (n - 1)), float(y * (n - 1))) for x, y in path]
        d.line(xy, fill=255, width=w, joint="curve")
        for x, y in (xy[0], xy[-1]):
            d.ellipse([x - w / 2, y - w / 2, x + w / 2, y + w / 2], fill=255)
    return np.asarray(im.resize((20, 20), Image.Resampling.BOX), dtype=np.float64)


def mnist_frame(a20: np.ndarray) -> np.ndarray:
    """A 20x20 drawing placed in 28x28 with its centre of mass at the centre (MNIST's framing)."""
    ys, xs = np.indices(a20.shape)
    mass = a20.sum()
    cy, cx = ((ys * a20).sum() / mass, (xs * a20).sum() / mass) if mass > 0 else (9.5, 9.5)
    oy = int(np.clip(round(14 - cy - 0.5), 0, SIZE - 20))
    ox = int(np.clip(round(14 - cx - 0.5), 0, SIZE - 20))
    out = np.zeros((SIZE, SIZE))
    out[oy:oy + 20, ox:ox + 20] = a20
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def _affine(paths: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """Random slant, rotation and width, then refit into the unit box (keeping the aspect)."""
    ang = rng.uniform(-0.25, 0.25)
    shear = rng.uniform(-0.35, 0.2)
    sx = rng.uniform(0.55, 1.0)
    m = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]]) @ np.array([[sx, shear], [0, 1.0]])
    out = [(p - 0.5) @ m.T for p in paths]
    allp = np.vstack(out)
    lo, hi = allp.min(0), allp.max(0)
    span = max((hi - lo).max(), 1e-6)
    return [(p - (lo + hi) / 2) / span * 0.86 + 0.5 for p in out]


def hand_digits(n: int, seed: int = 0) -> np.ndarray:
    """Digits 0-9 drawn by a shaky pen: jittered templates, random slant, 1.2-3.2 px strokes."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, SIZE, SIZE), dtype=np.uint8)
    for i in range(n):
        strokes = [np.asarray(s) + rng.normal(0, 0.035, (len(s), 2)) for s in DIGIT_PATHS[i % 10]]
        smooth = _affine([_catmull_rom(s) for s in strokes], rng)
        out[i] = mnist_frame(_draw(smooth, rng.uniform(1.2, 3.2)) * rng.uniform(0.75, 1.0))
    return out


def doodles(n: int, seed: int = 0) -> np.ndarray:
    """Free pen doodles: random smooth scribbles, spirals, zigzags, stars and loops."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, SIZE, SIZE), dtype=np.uint8)
    for i in range(n):
        kind = i % 5
        if kind == 0:     # scribble through random points
            paths = [_catmull_rom(rng.uniform(0, 1, (int(rng.integers(4, 9)), 2)))]
        elif kind == 1:   # spiral
            t = np.linspace(0, rng.uniform(2.5, 5) * np.pi, 80)
            r = t / t.max() * 0.5
            paths = [np.stack([0.5 + r * np.cos(t), 0.5 + r * np.sin(t)], 1)]
        elif kind == 2:   # zigzag
            k = int(rng.integers(3, 8))
            paths = [np.stack([np.linspace(0, 1, k), np.where(np.arange(k) % 2, 0.2, 0.8)], 1)]
        elif kind == 3:   # star polygon
            k = int(rng.choice([5, 7]))
            a = np.arange(k + 1) * (2 * np.pi * (k // 2) / k)
            paths = [np.stack([0.5 + 0.5 * np.cos(a), 0.5 + 0.5 * np.sin(a)], 1)]
        else:             # loops (a cursive-like line)
            t = np.linspace(0, 1, 90)
            loops = int(rng.integers(2, 5))
            paths = [np.stack([t + 0.12 * np.cos(2 * np.pi * loops * t), 0.5 + 0.3 * np.sin(2 * np.pi * loops * t)], 1)]
        paths = [p + rng.normal(0, 0.01, p.shape) for p in paths]
        out[i] = mnist_frame(_draw(_affine(paths, rng), rng.uniform(1.0, 3.0)) * rng.uniform(0.7, 1.0))
    return out


def textures(n: int, seed: int = 0) -> np.ndarray:
    """Periodic textures: gratings, plaids, checkerboards, dot lattices and bricks."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    out = np.empty((n, SIZE, SIZE), dtype=np.uint8)
    for i in range(n):
        kind = i % 5
        f = rng.uniform(0.06, 0.35)
        th = rng.uniform(0, np.pi)
        u = xx * np.cos(th) + yy * np.sin(th)
        v = -xx * np.sin(th) + yy * np.cos(th)
        ph = rng.uniform(0, 2 * np.pi)
        if kind == 0:
            a = np.sin(2 * np.pi * f * u + ph)
        elif kind == 1:
            a = 0.5 * (np.sin(2 * np.pi * f * u + ph) + np.sin(2 * np.pi * rng.uniform(0.06, 0.35) * v))
        elif kind == 2:
            a = np.sign(np.sin(2 * np.pi * f * u + ph) * np.sin(2 * np.pi * f * v))
        elif kind == 3:
            a = np.cos(2 * np.pi * f * u + ph) * np.cos(2 * np.pi * f * v) > 0.5
            a = a * 2.0 - 1.0
        else:
            row = np.floor(f * v)
            a = np.where((np.mod(f * v, 1) < 0.15) | (np.mod(f * u + 0.5 * row, 1) < 0.15), -1.0, 1.0)
        lo, hi = sorted(rng.uniform(0, 255, 2))
        hi = max(hi, lo + 60)
        out[i] = np.clip(np.round(lo + (a + 1) / 2 * (hi - lo)), 0, 255).astype(np.uint8)
    return out


def coloured_noise(n: int, alpha: float, seed: int = 0) -> np.ndarray:
    """Gaussian noise with power spectrum ∝ 1/f^alpha, stretched to a random contrast (at least 100 levels)."""
    rng = np.random.default_rng(seed)
    fy = np.fft.fftfreq(SIZE)[:, None]
    fx = np.fft.fftfreq(SIZE)[None, :]
    f = np.sqrt(fx ** 2 + fy ** 2)
    f[0, 0] = 1.0 / SIZE
    amp = f ** (-alpha / 2.0)
    out = np.empty((n, SIZE, SIZE), dtype=np.uint8)
    for i in range(n):
        a = np.real(np.fft.ifft2(np.fft.fft2(rng.normal(size=(SIZE, SIZE))) * amp))
        a = (a - a.min()) / (a.max() - a.min() + 1e-12)
        lo = rng.uniform(0, 100)
        hi = rng.uniform(lo + 100, 255)
        out[i] = np.clip(np.round(lo + a * (hi - lo)), 0, 255).astype(np.uint8)
    return out


def salt_and_pepper(n: int, seed: int = 0) -> np.ndarray:
    """Sparse bright specks (2-20% of pixels) on black."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.02, 0.2, (n, 1, 1))
    return np.where(rng.random((n, SIZE, SIZE)) < p, rng.integers(128, 256, (n, SIZE, SIZE)), 0).astype(np.uint8)

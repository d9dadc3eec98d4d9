"""Foreign images drawn from the fonts installed on this machine: digits, letters, symbols, emoji in grey.

Everything is rendered offline and deterministically (a seeded ``numpy`` generator picks the glyph, the
font, the size, the weight and the position), so the OOD benchmark and its tests see the same images on
every run.  A glyph is rendered large (64 px), cropped to its ink, resized into a box of 12-26 px
(keeping its aspect), and pasted into a 28x28 frame at a random offset around the centre -- white on
black like Fashion-MNIST in 80% of the images, black on white in the rest, at a random ink level.

Fonts: every TrueType/OpenType file under /usr/share/fonts (``fonts()``; the DejaVu families here:
sans, serif, mono, condensed, bold, oblique, extra-light, math).  Colour emoji: Noto Color Emoji, which
FreeType only renders at its bitmap size of 109 px; each is turned into ITU-R 601 luma and composited on
black or white.  Emoji that show Fashion-MNIST's own classes (clothes, shoes, bags) are left out.
"""
from __future__ import annotations

import string
from functools import lru_cache
from pathlib import Path

import numpy as np

SIZE = 28
FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))
EMOJI_FONT = "NotoColorEmoji"
LETTERS = string.ascii_letters
DIGITS = string.digits
SYMBOLS = "#$%&@*+=?!§¶©®±×÷<>{}[]()/\\|~^∑∏∫∞≈≠≤≥√∂∆Ωπµ♠♣♥♦★☆☀☂☎✓✗→←↑↓⊕⊗∀∃∈∩∪"
#: Emoji code-point blocks tried (faces, pictographs, transport); those the font lacks are skipped.
EMOJI_RANGES = ((0x1F600, 0x1F64F), (0x1F300, 0x1F5FF), (0x1F680, 0x1F6C5), (0x1F90C, 0x1F9FF))
#: Emoji of Fashion-MNIST's own classes (clothes, shoes, bags) are not foreign: left out.
EMOJI_GARMENTS = frozenset([*range(0x1F452, 0x1F463), 0x1F3BD, 0x1F392, 0x1F45B, 0x1F9E2, *range(0x1F9E3, 0x1F9E7),
                            *range(0x1F97B, 0x1F980), 0x1F9F3, 0x1F458, 0x1F459])


@lru_cache(maxsize=1)
def fonts() -> tuple[str, ...]:
    """Every installed outline font except the colour-emoji one, sorted (so draws are reproducible)."""
    found = []
    for root in FONT_DIRS:
        if root.is_dir():
            found += [str(p) for p in root.rglob("*") if p.suffix.lower() in (".ttf", ".otf")
                      and EMOJI_FONT not in p.name]
    return tuple(sorted(found))


@lru_cache(maxsize=64)
def _font(path: str, size: int):
    from PIL import ImageFont

    return ImageFont.truetype(path, size)


def _ink(text: str, font_path: str, stroke: int) -> np.ndarray | None:
    """The glyph's ink, rendered at 64 px and cropped to its bounding box (None if the font lacks it)."""
    from PIL import Image, ImageDraw

    font = _font(font_path, 64)
    im = Image.new("L", (128, 128), 0)
    ImageDraw.Draw(im).text((20, 10), text, fill=255, font=font, stroke_width=stroke, stroke_fill=255)
    a = np.asarray(im)
    ys, xs = np.nonzero(a > 20)
    if len(ys) < 12:
        return None
    return a[ys.min():ys.max() + 1, xs.min():xs.max() + 1]


def frame(ink: np.ndarray, rng: np.random.Generator, box: tuple[int, int] = (12, 26),
          white_on_black: float = 0.8) -> np.ndarray:
    """Paste ``ink`` (0..255, any size) into a 28x28 frame: longest side ``box`` px, random offset,
    random ink level, white on black with probability ``white_on_black``."""
    from PIL import Image

    h, w = ink.shape
    side = int(rng.integers(box[0], box[1] + 1))
    scale = side / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = np.asarray(Image.fromarray(ink).resize((nw, nh), Image.Resampling.LANCZOS), dtype=np.float64)
    out = np.zeros((SIZE, SIZE), dtype=np.float64)
    oy = int(np.clip((SIZE - nh) // 2 + rng.integers(-3, 4), 0, SIZE - nh))
    ox = int(np.clip((SIZE - nw) // 2 + rng.integers(-3, 4), 0, SIZE - nw))
    out[oy:oy + nh, ox:ox + nw] = small
    out = out * (rng.uniform(0.55, 1.0))
    if rng.random() > white_on_black:
        out = 255.0 - out
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def printed(chars: str, n: int, seed: int = 0) -> np.ndarray:
    """``n`` 28x28 images of characters from ``chars``, each from a random installed font, size,
    extra stroke weight (0-2 px at 64 px) and position; (n, 28, 28) uint8."""
    rng = np.random.default_rng(seed)
    paths = fonts()
    if not paths:
        raise FileNotFoundError("no fonts under /usr/share/fonts (install fonts-dejavu-core)")
    out = np.empty((n, SIZE, SIZE), dtype=np.uint8)
    i = 0
    while i < n:
        ink = _ink(chars[int(rng.integers(len(chars)))], paths[int(rng.integers(len(paths)))],
                   int(rng.choice([0, 0, 1, 2])))
        if ink is None:
            continue
        out[i] = frame(ink, rng)
        i += 1
    return out


@lru_cache(maxsize=1)
def _emoji_inks() -> tuple[np.ndarray, ...]:
    """Grey (luma) renderings of every emoji of :data:`EMOJI_RANGES` the installed font has, with alpha."""
    from PIL import Image, ImageDraw, ImageFont

    path = next((str(p) for root in FONT_DIRS if root.is_dir() for p in sorted(root.rglob(f"{EMOJI_FONT}*"))),
                None)
    if path is None:
        raise FileNotFoundError("Noto Color Emoji is not installed (apt-get install fonts-noto-color-emoji)")
    font = ImageFont.truetype(path, 109)
    inks = []
    for lo, hi in EMOJI_RANGES:
        for cp in range(lo, hi + 1, 3):   # every third: a few hundred distinct pictures is plenty
            if cp in EMOJI_GARMENTS:
                continue
            im = Image.new("RGBA", (160, 160), (0, 0, 0, 0))
            ImageDraw.Draw(im).text((10, 10), chr(cp), font=font, embedded_color=True)
            a = np.asarray(im)
            alpha = a[..., 3]
            if (alpha > 0).sum() < 200:
                continue
            ys, xs = np.nonzero(alpha)
            crop = a[ys.min():ys.max() + 1, xs.min():xs.max() + 1].astype(np.float64)
            inks.append(np.stack([crop[..., :3] @ np.array([0.299, 0.587, 0.114]), crop[..., 3]], 0))
    return tuple(inks)


def emoji_grey(n: int, seed: int = 0) -> np.ndarray:
    """``n`` colour emoji in grey (luma), 16-28 px, on black (70%) or white; (n, 28, 28) uint8."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    inks = _emoji_inks()
    out = np.empty((n, SIZE, SIZE), dtype=np.uint8)
    for i in range(n):
        grey, alpha = inks[int(rng.integers(len(inks)))]
        bg = 0.0 if rng.random() < 0.7 else 255.0
        comp = grey * (alpha / 255.0) + bg * (1.0 - alpha / 255.0)
        side = int(rng.integers(16, 29))
        h, w = comp.shape
        scale = side / max(h, w)
        nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
        small = np.asarray(Image.fromarray(np.clip(comp, 0, 255).astype(np.uint8)).resize(
            (nw, nh), Image.Resampling.LANCZOS), dtype=np.float64)
        canvas = np.full((SIZE, SIZE), bg)
        oy = int(np.clip((SIZE - nh) // 2 + rng.integers(-2, 3), 0, SIZE - nh))
        ox = int(np.clip((SIZE - nw) // 2 + rng.integers(-2, 3), 0, SIZE - nw))
        canvas[oy:oy + nh, ox:ox + nw] = small
        out[i] = np.clip(np.round(canvas), 0, 255).astype(np.uint8)
    return out

"""A latent map as a picture, without a plotting library: points rasterised into a numpy image, the
title, axis names and a class legend written with Pillow.

Each point is a ``DOT``x``DOT`` square in its class colour (:data:`PALETTE`, Tableau 10, shared with
the app's map), drawn in a seeded random order so that no class hides the others where they
overlap.  The data range maps to the plot area with a 3% margin, keeping the aspect of neither axis
(as the app's map).
"""
from __future__ import annotations

import numpy as np

#: ten distinguishable colours (Tableau 10), one per class (cycled beyond ten)
PALETTE = [(78, 121, 167), (242, 142, 43), (225, 87, 89), (118, 183, 178), (89, 161, 79),
           (237, 201, 72), (176, 122, 161), (255, 157, 167), (156, 117, 95), (186, 176, 172)]
UNLABELLED = (200, 200, 200)
DOT = 2


def class_colour(label: int) -> tuple[int, int, int]:
    return PALETTE[int(label) % len(PALETTE)] if label >= 0 else UNLABELLED


def render(xy: np.ndarray, labels: np.ndarray, classes: list[str], *, title: str = "",
           axis_labels: tuple[str, str] = ("", ""), size: tuple[int, int] = (1000, 860),
           dot: int = DOT) -> np.ndarray:
    """(H, W, 3) uint8: the points of ``xy`` coloured by ``labels`` on a dark ground, with a legend."""
    from PIL import Image, ImageDraw, ImageFont

    w, h = size
    left, top, right, bottom = 40, 36, w - 12, h - 70
    img = np.full((h, w, 3), 24, np.uint8)
    img[top:bottom, left:right] = 12
    xy = np.asarray(xy, np.float64)
    labels = np.asarray(labels, np.int64)
    if len(xy):
        lo, hi = xy.min(0), xy.max(0)
        span = np.where(hi - lo > 0, hi - lo, 1.0)
        lo, span = lo - 0.03 * span, span * 1.06
        pw, ph = right - left - dot, bottom - top - dot
        px = (left + (xy[:, 0] - lo[0]) / span[0] * pw).astype(np.int64)
        py = (bottom - dot - (xy[:, 1] - lo[1]) / span[1] * ph).astype(np.int64)
        order = np.random.default_rng(0).permutation(len(xy))
        lut = np.array([class_colour(i) for i in range(len(PALETTE))] + [UNLABELLED], np.uint8)
        colour = lut[np.where(labels >= 0, labels % len(PALETTE), len(PALETTE))]
        for dy in range(dot):
            for dx in range(dot):
                img[py[order] + dy, px[order] + dx] = colour[order]
    pic = Image.fromarray(img)
    draw = ImageDraw.Draw(pic)
    font = ImageFont.load_default()
    draw.text((left, 10), title, fill=(230, 230, 230), font=font)
    draw.text(((left + right) // 2 - 4 * len(axis_labels[0]) // 2, bottom + 6), axis_labels[0],
              fill=(200, 200, 200), font=font)
    draw.text((4, top - 16), axis_labels[1], fill=(200, 200, 200), font=font)
    x, y = left, bottom + 26
    counts = np.bincount(labels[labels >= 0], minlength=len(classes)) if len(labels) else []
    for i, name in enumerate(classes):
        text = f"{name} ({int(counts[i]):,})" if i < len(counts) else name
        tw = int(draw.textlength(text, font=font)) + 26
        if x + tw > right:
            x, y = left, y + 16
        draw.rectangle((x, y + 2, x + 9, y + 11), fill=class_colour(i))
        draw.text((x + 14, y), text, fill=(220, 220, 220), font=font)
        x += tw
    return np.asarray(pic)

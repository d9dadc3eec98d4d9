"""Framing any picture like a Fashion-MNIST item, step by step, so a user sees what the model saw.

Fashion-MNIST items are light objects on a black background, cropped to their content and scaled so
the longer side fills the 28x28 frame, centred.  For a picture in gray levels g (0-255):

1. :func:`shrink`: a side over :data:`MAX_WORK_SIDE` is first reduced by an integer factor (box
   filter), so a 10000x10000 photo costs its decoding, not gigabytes of float arrays;
2. :func:`to_gray`: any Pillow mode -> g (alpha composited on black, 16-bit and float rescaled);
3. :func:`frame`: if the border is light (mean > 127), g <- 255 - g; the background b is the border's
   median; the content is the bounding box of |g - b| > max(16, 0.1 max |g - b|); g - b is scaled with
   Lanczos so its longer side is the frame's, and centred on black.

Pictures for any other model are *fitted* the way its training folder was read
(:mod:`models.data`), so a training image dropped back in gives the model the very pixels it
trained on:

4. :func:`to_rgb`: any mode -> RGB, transparency composited on the training background (white for
   folders; the checkpoint records it), 16-bit and float rescaled as in :func:`to_gray`;
5. :func:`fit`: centre-cropped to the model's aspect H:W (the crop ``PIL.ImageOps.fit`` makes, the
   longer side trimmed equally at both ends), then resized to W x H with Lanczos;
6. :func:`luma`: for a grey model, ITU-R 601-2 luma in integers, Y = (299 R + 587 G + 114 B + 500) // 1000.

Every function appends what it did to ``steps``.  Used by :mod:`models.intake`; no file I/O here.
"""
from __future__ import annotations

import numpy as np

#: Images wider or taller than this are reduced (box filter) before any float work.
MAX_WORK_SIDE = 1024


def shrink(img, steps: list[str]):
    """Reduce a big image by an integer factor (box filter) so later float work stays small."""
    w, h = img.size
    if max(w, h) <= MAX_WORK_SIDE:
        return img
    factor = -(-max(w, h) // MAX_WORK_SIDE)
    steps.append(f"reduced {factor}x first ({w}x{h} -> {-(-w // factor)}x{-(-h // factor)})")
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif img.mode == "1":
        img = img.convert("L")
    elif img.mode.startswith("I;16"):
        img = img.convert("I")
    try:
        return img.reduce(factor)
    except (ValueError, NotImplementedError):
        return img.convert("RGBA" if "A" in img.getbands() else "RGB").reduce(factor)


def exif_orientation(img) -> int:
    try:
        return int(img.getexif().get(0x0112, 1))
    except Exception:  # noqa: BLE001 - broken EXIF must not stop intake
        return 1


def to_gray(img, steps: list[str]) -> np.ndarray:
    """Any mode -> float array in [0, 255] (alpha composited on black, 16-bit rescaled)."""

    mode = img.mode
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(img, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or a.max() > 255 else 255.0
        steps.append(f"{'16' if top > 255 else '32'}-bit values scaled to 8 bits")
        return np.clip(a / top * 255.0, 0, 255)
    if mode == "F":
        a = np.asarray(img, dtype=np.float64)
        finite = np.isfinite(a)
        steps.append("floating-point values rescaled to 0-255")
        if not finite.all():
            steps.append("NaN/infinite pixels set to the lowest value")
        if not finite.any():
            return np.zeros_like(a)
        lo, hi = float(a[finite].min()), float(a[finite].max())
        a = np.where(finite, a, lo)
        return np.zeros_like(a) if hi <= lo else (a - lo) / (hi - lo) * 255.0
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        alpha = np.asarray(rgba.getchannel("A"), dtype=np.float64) / 255.0
        gray = np.asarray(rgba.convert("L"), dtype=np.float64)
        if alpha.min() < 1.0:
            steps.append("transparent pixels taken as background")
            # composite on the background the picture itself implies: the colour under the opaque
            # border, else black (Fashion-MNIST's background)
            return gray * alpha
        return gray
    if mode == "CMYK":
        steps.append("CMYK converted to grayscale")
        return np.asarray(img.convert("RGB").convert("L"), dtype=np.float64)
    if mode != "L":
        if mode != "1":
            steps.append("converted to grayscale")
        img = img.convert("L")
    return np.asarray(img, dtype=np.float64)


def frame(gray: np.ndarray, size: int, steps: list[str]) -> np.ndarray:
    """Light-on-dark, cropped to content, longer side scaled to ``size``, centred."""
    from PIL import Image

    h, w = gray.shape
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if (h, w) == (size, size):
        if border.mean() > 127:
            steps.append("inverted (light background; the model expects dark)")
            gray = 255.0 - gray
        return np.clip(np.round(gray), 0, 255).astype(np.uint8)
    if border.mean() > 127:
        gray = 255.0 - gray
        steps.append("inverted (light background; the model expects dark)")
        border = 255.0 - border
    bg = float(np.median(border))
    mask = np.abs(gray - bg) > max(16.0, 0.1 * float(np.abs(gray - bg).max()))
    if mask.any() and min(h, w) > 1:
        ys, xs = np.nonzero(mask)
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        if (y1 - y0, x1 - x0) != (h, w):
            gray = gray[y0:y1, x0:x1]
            steps.append(f"cropped to content ({x1 - x0}x{y1 - y0})")
    gray = np.clip(gray - bg, 0, 255) if bg > 0 else gray
    ch, cw = gray.shape
    scale = size / max(ch, cw)
    nw, nh = max(1, round(cw * scale)), max(1, round(ch * scale))
    im = Image.fromarray(np.clip(np.round(gray), 0, 255).astype(np.uint8), "L")
    im = im.resize((nw, nh), Image.Resampling.LANCZOS, reducing_gap=3.0)
    steps.append(f"scaled to {nw}x{nh} and centred in {size}x{size}")
    canvas = np.zeros((size, size), dtype=np.uint8)
    oy, ox = (size - nh) // 2, (size - nw) // 2
    canvas[oy:oy + nh, ox:ox + nw] = np.asarray(im)
    return canvas


# ------------------------------------------------------------------------------------------ fitting
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


def to_rgb(img, background: tuple[int, int, int], background_name: str, steps: list[str]):
    """Any Pillow mode -> an RGB image, transparent pixels composited on ``background``."""
    from PIL import Image

    mode = img.mode
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        gray = to_gray(img, steps)
        img = Image.fromarray(np.clip(np.round(gray), 0, 255).astype(np.uint8), "L")
        mode = "L"
    if mode in _ALPHA_MODES:
        rgba = img.convert("RGBA")
        if rgba.getchannel("A").getextrema()[0] < 255:
            steps.append(f"transparent pixels composited on {background_name} (the training background)")
            base = Image.new("RGBA", rgba.size, tuple(background) + (255,))
            base.alpha_composite(rgba)
            rgba = base
        return rgba.convert("RGB")
    if mode == "CMYK":
        steps.append("CMYK converted to RGB")
    return img.convert("RGB")


def fit(img, height: int, width: int, steps: list[str]):
    """Centre-crop ``img`` to the aspect ``width:height`` and resize it to ``width`` x ``height``
    (Lanczos), exactly as ``PIL.ImageOps.fit`` does; the crop and the resize are stated."""
    from PIL import Image, ImageOps

    w, h = img.size
    if (w, h) == (width, height):
        return img
    target = width / height
    if w / h > target:
        kept = (round(h * target), h)
    elif w / h < target:
        kept = (w, round(w / target))
    else:
        kept = (w, h)
    if kept != (w, h):
        cut = w - kept[0] if kept[0] != w else h - kept[1]
        where = "left and right" if kept[0] != w else "top and bottom"
        steps.append(f"centre-cropped to {kept[0]}x{kept[1]}, the model's {aspect(height, width)} aspect "
                     f"({cut} px cut from the {where})")
    steps.append(f"resized to {width}x{height} (Lanczos)")
    return ImageOps.fit(img, (width, height), method=Image.Resampling.LANCZOS)


def aspect(height: int, width: int) -> str:
    """``"W:H"`` in lowest terms (64x64 -> ``"1:1"``, 40x17 -> ``"40:17"``)."""
    from math import gcd

    g = gcd(int(width), int(height)) or 1
    return f"{width // g}:{height // g}"


def luma(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 RGB -> (...) uint8 ITU-R 601-2 luma, Y = (299 R + 587 G + 114 B + 500) // 1000
    (the conversion :mod:`models.data` uses for grey folders, in integers)."""
    c = np.asarray(rgb).astype(np.int32)
    return ((c[..., 0] * 299 + c[..., 1] * 587 + c[..., 2] * 114 + 500) // 1000).astype(np.uint8)

"""The offline colour data set: emoji are grouped by the documented rule and rendered as 64x64 RGB."""
from __future__ import annotations

import numpy as np
import pytest

from models import emoji_data


@pytest.mark.parametrize("cp, group", [
    (0x1F600, "faces"), (0x1F63A, "faces"), (0x1F44D, "people-hands"), (0x1F469, "people-hands"),
    (0x1F436, "animals-nature"), (0x1F333, "animals-nature"), (0x1F31E, "animals-nature"),
    (0x1F355, "food"), (0x1F697, "travel-places"), (0x1F3E0, "travel-places"), (0x2764, "symbols"),
    (0x27A1, "symbols"), (0x1F3C1, "flags"), (0x1F4BB, "objects"), (0x1F3B8, "objects"),
])
def test_an_emoji_falls_into_the_group_its_name_and_block_say(cp, group):
    import unicodedata

    assert emoji_data.group_of(cp, unicodedata.name(chr(cp))) == group


@pytest.fixture(scope="module")
def renderer():
    if not emoji_data.FONT.exists():
        pytest.skip("fonts-noto-color-emoji is not installed")
    return emoji_data.Renderer()


def test_an_emoji_renders_as_a_colour_64px_image_on_white(renderer):
    rgb = emoji_data.to_rgb(renderer.single_glyph("\U0001F600"), 64)
    assert rgb.shape == (64, 64, 3) and rgb.dtype == np.uint8
    assert tuple(rgb[0, 0]) == (255, 255, 255)                       # the background
    r, g, b = rgb[32, 16:48].astype(int).T
    assert (r - b).max() > 100                                       # the yellow face is colour, not grey


def test_what_the_font_cannot_draw_is_skipped(renderer):
    assert renderer.single_glyph("A") is None                        # no glyph: blank
    assert renderer.single_glyph("\U0001F600\U0001F600") is None     # two glyphs: not one emoji
    unknown = renderer.single_glyph("\U0001F1E6\U0001F1E6")          # "AA" is no region
    assert unknown is not None and np.array_equal(unknown, renderer.single_glyph("\U0001F1FF\U0001F1FF"))
    assert not np.array_equal(unknown, renderer.single_glyph("\U0001F1E9\U0001F1EA"))   # DE is a flag


def test_file_names_are_the_code_points():
    assert emoji_data.file_name({"codepoints": ["U+1F44D", "U+1F3FD"]}) == "u1f44d-u1f3fd.png"

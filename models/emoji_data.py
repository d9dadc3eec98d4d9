"""A colour image data set that installs offline: the emoji of Debian's ``fonts-noto-color-emoji``.

``python -m models.emoji_data --out data/emoji`` renders every emoji the font draws to a 64x64 RGB PNG
in one sub-folder per group, so ``latent-explorer train ... --data data/emoji`` gets class labels
from the folder names.  Deterministic: the same font file and Pillow give the same bytes.

What is rendered (the font's bitmaps are 136x128 at size 109, the only size it has):

* every single code point in the emoji blocks (U+2190-U+2BFF, U+1F000-U+1FAFF and a few others)
  that the font draws and whose name Python's ``unicodedata`` knows (newer ones are skipped);
* the five skin-tone variants (U+1F3FB-U+1F3FF) of every "people & hands" emoji the font joins
  with a modifier into one glyph;
* flags: every pair of regional-indicator letters the font draws as a country flag (pairs it draws
  as its "unknown flag" are skipped) and the three subdivision flags (England, Scotland, Wales);
* the twelve keycaps (0-9, #, *).

Each glyph is drawn with ``embedded_color=True`` on a transparent 136x136 canvas (centred
vertically), composited on white and resized with Lanczos to ``size`` x ``size``.  Blank renders
(code points the font lacks) are skipped.  No augmentation: every image is one distinct emoji.

Groups (first rule that matches; an approximation of Unicode's emoji groups from names and blocks):

1. ``flags``: regional-indicator pairs, tag sequences, and names with the word FLAG or FLAGS;
2. ``faces``: Emoticons-block (U+1F600-U+1F64F) names with FACE, and other names with FACE outside
   the animal blocks that do not name a clock, the sun or the moon;
3. ``people-hands``: skin-tone variants, the rest of the Emoticons block (gestures), and names
   with a person or body word (HAND, FINGER, MAN, WOMAN, PERSON, EAR, ...);
4. ``animals-nature``: the animal and plant blocks (U+1F400-U+1F43F, U+1F980-U+1F9AE,
   U+1FAB0-U+1FABF, U+1F330-U+1F344), sky and weather (U+1F300-U+1F321, U+1F324-U+1F32C) and
   names with a nature word (TREE, FLOWER, SUN, SNOWFLAKE, ...);
5. ``food``: U+1F32D-U+1F32F, U+1F345-U+1F37F, U+1F950-U+1F96F, U+1F9C0-U+1F9CB, U+1FAD0-U+1FADF
   and HOT BEVERAGE;
6. ``travel-places``: U+1F680-U+1F6FF, U+1F3D4-U+1F3F0, U+1F5FA-U+1F5FF, U+26E9-U+26FA, U+2708
   and names with a vehicle or place word;
7. ``symbols``: keycaps, arrows, geometric shapes, enclosed alphanumerics and names with a symbol
   word (SIGN, SYMBOL, HEART, ARROW, BUTTON, ...);
8. ``objects``: everything else (tools, clothes, instruments, sports and activities, ...).
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import unicodedata
from pathlib import Path

import numpy as np

FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
FONT_SIZE = 109                 # the font's only bitmap size
CANVAS = 136                    # glyph cell width; the canvas is square so nothing is stretched
GROUPS = ["faces", "people-hands", "animals-nature", "food", "travel-places", "objects", "symbols", "flags"]
SKIN_TONES = [chr(c) for c in range(0x1F3FB, 0x1F400)]
RI_A = 0x1F1E6
TAG_FLAGS = {"gbeng": "England", "gbsct": "Scotland", "gbwls": "Wales"}

_SCAN = [(0x00A9, 0x00AE), (0x203C, 0x2049), (0x2122, 0x2139), (0x2190, 0x21FF), (0x2300, 0x23FF),
         (0x24C2, 0x24C2), (0x25A0, 0x27BF), (0x2934, 0x2935), (0x2B00, 0x2BFF), (0x3030, 0x303D),
         (0x3297, 0x3299), (0x1F000, 0x1F1E5), (0x1F200, 0x1F3FA), (0x1F400, 0x1FAFF)]
_SKIP = {0x1F3FB, 0x1F3FC, 0x1F3FD, 0x1F3FE, 0x1F3FF, 0x1F9B0, 0x1F9B1, 0x1F9B2, 0x1F9B3}

_FACE_EXCLUDE = {"CLOCK", "SUN", "MOON"}
_PEOPLE = set("""HAND HANDS FINGER FINGERS FIST THUMBS PERSON PEOPLE MAN MEN WOMAN WOMEN BOY GIRL BABY CHILD
ADULT FAMILY COUPLE KISS PRINCE PRINCESS SANTA CLAUS ANGEL MERMAID MERPERSON FAIRY VAMPIRE ZOMBIE GENIE ELF
MAGE SUPERHERO SUPERVILLAIN NINJA GUARDSMAN DETECTIVE POLICE CONSTRUCTION WORKER DANCER DANCING RUNNER
WALKING SURFER SWIMMER ROWBOAT BICYCLIST RIDER HORSE_RACING SKIER SNOWBOARDER GOLFER LIFTER JUGGLING
CARTWHEEL WRESTLERS HANDBALL BATH SLEEPING ACCOMMODATION EAR EARS NOSE EYE EYES MOUTH TONGUE LIPS LEG
FOOT FOOTPRINTS MUSCLE BICEPS BRAIN TOOTH BONE LUNGS ANATOMICAL NAIL SELFIE PALM PALMS CLAPPING WAVING
PRAYING RAISED RAISING BOWING GESTURING POUTING FROWNING SHRUGGING FACEPALM DEAF MASSAGE HAIRCUT BUST
BUSTS SILHOUETTE SPEAKING HEAD OLDER PREGNANT BREAST BEARDED CROWN""".split())
_NATURE = set("""TREE TREES FLOWER BLOSSOM ROSE HIBISCUS TULIP SUNFLOWER CACTUS HERB LEAF LEAVES PLANT SEEDLING
SHAMROCK CLOVER MUSHROOM BOUQUET LOTUS FEATHER NEST SUN SUNNY MOON STAR STARS COMET CLOUD CLOUDS RAIN
UMBRELLA SNOWFLAKE SNOWMAN SNOW LIGHTNING HIGH TORNADO FOG RAINBOW WAVE WATER DROPLET FIRE VOLTAGE GLOBE
EARTH PLANET RINGED ROCK WOOD CORAL""".split())
_TRAVEL = set("""CAR TAXI BUS TRAIN TRAM RAILWAY LOCOMOTIVE METRO STATION AIRPLANE HELICOPTER ROCKET SHIP BOAT
SAILBOAT CANOE SPEEDBOAT FERRY ANCHOR BICYCLE SCOOTER MOTORCYCLE TRUCK TRACTOR AMBULANCE ENGINE FUEL PUMP
TRAFFIC BUILDING HOUSE HOUSES HOME OFFICE HOSPITAL BANK HOTEL SCHOOL STORE FACTORY CASTLE CHURCH MOSQUE
SYNAGOGUE TEMPLE SHRINE KAABA FOUNTAIN TENT MOUNTAIN VOLCANO CAMPING BEACH DESERT ISLAND PARK STADIUM
BRIDGE CITYSCAPE SUNRISE SUNSET MAP COMPASS TOWER STATUE HUT CAROUSEL WHEEL ROLLER COASTER CIRCUS
SEAT SATELLITE PARACHUTE""".split())
_SYMBOLS = set("""SIGN SYMBOL HEART HEARTS ARROW ARROWS BUTTON SQUARE CIRCLE TRIANGLE DIAMOND MARK EXCLAMATION
QUESTION CROSS CHECK PLUS MINUS DIVISION MULTIPLICATION INFINITY RECYCLING ZODIAC ARIES TAURUS GEMINI
CANCER LEO VIRGO LIBRA SCORPIUS SAGITTARIUS CAPRICORN AQUARIUS PISCES OPHIUCHUS RADIOACTIVE BIOHAZARD
PEACE YIN YANG WHEEL DHARMA OM ATOM STAR_AND_CRESCENT MEDICAL FLEUR-DE-LIS TRIDENT COPYRIGHT REGISTERED
TRADE SQUARED NEGATIVE CIRCLED IDEOGRAPH KEYCAP LOOP BLACK WHITE LARGE SMALL MEDIUM PARTY HUNDRED
ANGER COLLISION DIZZY SWEAT DASH SPEECH BUBBLE BALLOON ZZZ PLAYING NOTES NOTE REPEAT SHUFFLE
TWISTED REWIND RECORD EJECT CINEMA PREVIOUS NEXT VIBRATION MOBILE WAVY DOUBLE CURLY""".split())


def _in(cp: int, ranges: list[tuple[int, int]]) -> bool:
    return any(a <= cp <= b for a, b in ranges)


_ANIMAL_BLOCKS = [(0x1F400, 0x1F43F), (0x1F980, 0x1F9AE), (0x1FAB0, 0x1FABF), (0x1F330, 0x1F344),
                  (0x1F300, 0x1F321), (0x1F324, 0x1F32C)]
_FOOD_BLOCKS = [(0x1F32D, 0x1F32F), (0x1F345, 0x1F37F), (0x1F950, 0x1F96F), (0x1F9C0, 0x1F9CB),
                (0x1FAD0, 0x1FADF), (0x2615, 0x2615)]
_TRAVEL_BLOCKS = [(0x1F680, 0x1F6FF), (0x1F3D4, 0x1F3F0), (0x1F5FA, 0x1F5FF), (0x26E9, 0x26FA), (0x2708, 0x2708)]
_SYMBOL_BLOCKS = [(0x00A9, 0x00AE), (0x203C, 0x2049), (0x2122, 0x2139), (0x2190, 0x21FF), (0x24C2, 0x24C2),
                  (0x25A0, 0x25FF), (0x2934, 0x2935), (0x2B00, 0x2BFF), (0x3030, 0x303D), (0x3297, 0x3299),
                  (0x1F170, 0x1F251), (0x1F500, 0x1F53D), (0x1F7E0, 0x1F7EB)]


def group_of(cp: int, name: str) -> str:
    """The group of a single code point with Unicode name ``name`` (rules in the module docstring)."""
    words = set(name.replace("-", " ").split())
    if "FLAG" in words or "FLAGS" in words:
        return "flags"
    animal = _in(cp, _ANIMAL_BLOCKS)
    if "FACE" in words and (0x1F600 <= cp <= 0x1F64F or not (animal or words & _FACE_EXCLUDE)):
        return "faces"
    if 0x1F600 <= cp <= 0x1F64F or words & _PEOPLE:
        return "people-hands"
    if animal or words & _NATURE:
        return "animals-nature"
    if _in(cp, _FOOD_BLOCKS):
        return "food"
    if _in(cp, _TRAVEL_BLOCKS) or words & _TRAVEL:
        return "travel-places"
    if _in(cp, _SYMBOL_BLOCKS) or words & _SYMBOLS:
        return "symbols"
    return "objects"


class Renderer:
    """Draws emoji with the colour font; :meth:`rgba` returns a (136, 136, 4) uint8 array."""

    def __init__(self, font: Path = FONT) -> None:
        from PIL import ImageFont

        if not Path(font).exists():
            from .data import DataError

            raise DataError(f"{font} not found; install it with `sudo apt-get install fonts-noto-color-emoji`")
        self.font = ImageFont.truetype(str(font), FONT_SIZE, layout_engine=ImageFont.Layout.RAQM)

    def rgba(self, text: str) -> np.ndarray:
        from PIL import Image, ImageDraw

        im = Image.new("RGBA", (2 * CANVAS, CANVAS), (0, 0, 0, 0))   # wide: two glyphs show as overflow
        ImageDraw.Draw(im).text((0, (CANVAS - 128) // 2), text, font=self.font, embedded_color=True)
        return np.asarray(im)

    def single_glyph(self, text: str) -> np.ndarray | None:
        """The (136, 136, 4) render of ``text`` if the font draws it as one non-blank glyph, else None."""
        a = self.rgba(text)
        if not a[..., 3].any() or a[:, CANVAS + 4:, 3].any():
            return None
        return np.ascontiguousarray(a[:, :CANVAS])


def to_rgb(rgba: np.ndarray, size: int, background=(255, 255, 255)) -> np.ndarray:
    """Composite a render on ``background`` and resize (Lanczos) to (size, size, 3) uint8."""
    from PIL import Image

    fg = Image.fromarray(rgba, "RGBA")
    img = Image.new("RGBA", fg.size, tuple(background) + (255,))
    img.alpha_composite(fg)
    return np.asarray(img.convert("RGB").resize((size, size), Image.Resampling.LANCZOS))


def catalogue(renderer: Renderer) -> list[dict]:
    """Every emoji to render: ``{"text", "codepoints", "name", "group"}``, in a fixed order."""
    items: list[dict] = []
    bases: list[tuple[str, str]] = []
    for lo, hi in _SCAN:
        for cp in range(lo, hi + 1):
            name = unicodedata.name(chr(cp), None)
            if cp in _SKIP or name is None or unicodedata.category(chr(cp)) in ("Cn", "Mn", "Cf", "Sk"):
                continue
            if renderer.single_glyph(chr(cp)) is None:
                continue
            group = group_of(cp, name)
            items.append({"text": chr(cp), "name": name, "group": group})
            if group == "people-hands":
                bases.append((chr(cp), name))
    for ch, name in bases:
        plain = renderer.single_glyph(ch)
        for i, tone in enumerate(SKIN_TONES):
            toned = renderer.single_glyph(ch + tone)
            if toned is not None and not np.array_equal(toned, plain):
                items.append({"text": ch + tone, "name": f"{name}, skin tone {i + 1}", "group": "people-hands"})
    for key in "0123456789#*":
        text = key + "\ufe0f\u20e3"
        if renderer.single_glyph(text) is not None:
            items.append({"text": text, "name": f"KEYCAP {key}", "group": "symbols"})
    unknown = renderer.single_glyph(chr(RI_A) + chr(RI_A))        # "AA" is no region: the "?" flag
    for a in range(26):
        for b in range(26):
            text = chr(RI_A + a) + chr(RI_A + b)
            r = renderer.single_glyph(text)
            if r is not None and not np.array_equal(r, unknown):
                items.append({"text": text, "name": f"FLAG {chr(65 + a)}{chr(65 + b)}", "group": "flags"})
    for tag, name in TAG_FLAGS.items():
        text = "\U0001F3F4" + "".join(chr(0xE0000 + ord(c)) for c in tag) + "\U000E007F"
        if renderer.single_glyph(text) is not None:
            items.append({"text": text, "name": f"FLAG {name}", "group": "flags"})
    for item in items:
        item["codepoints"] = [f"U+{ord(c):04X}" for c in item["text"]]
    return items


def file_name(item: dict) -> str:
    return "-".join(c.lower().replace("+", "") for c in item["codepoints"] if c != "U+FE0F") + ".png"


def write_folder(out: str | Path, size: int = 64, background=(255, 255, 255), font: Path = FONT,
                 log=lambda s: None) -> list[dict]:
    """Render every emoji to ``out/<group>/<codepoints>.png`` (``size`` x ``size`` RGB) and write
    ``out/emoji.json`` listing them.  Returns the list."""
    from PIL import Image

    from .atomic_io import atomic_write_bytes

    renderer = Renderer(font)
    items = catalogue(renderer)
    out = Path(out)
    for g in GROUPS:
        (out / g).mkdir(parents=True, exist_ok=True)
    for item in items:
        rgb = to_rgb(renderer.single_glyph(item["text"]), size, background)
        buf = io.BytesIO()
        Image.fromarray(rgb, "RGB").save(buf, format="PNG", optimize=False, compress_level=9)
        item["file"] = f"{item['group']}/{file_name(item)}"
        atomic_write_bytes(out / item["file"], buf.getvalue())
    counts = {g: sum(1 for i in items if i["group"] == g) for g in GROUPS}
    meta = {"font": str(font), "size": size, "background": list(background), "count": len(items),
            "groups": counts, "items": [{k: i[k] for k in ("file", "name", "codepoints", "group")} for i in items]}
    atomic_write_bytes(out / "emoji.json", json.dumps(meta, indent=1, ensure_ascii=False).encode("utf-8"))
    log(f"wrote {len(items)} emoji to {out}: " + ", ".join(f"{g} {n}" for g, n in counts.items()))
    return items


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m models.emoji_data", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="folder to write (one sub-folder per group)")
    p.add_argument("--size", type=int, default=64, help="image side in pixels (default 64)")
    p.add_argument("--font", default=str(FONT), help="the colour emoji font (Debian: fonts-noto-color-emoji)")
    args = p.parse_args(argv)
    write_folder(args.out, args.size, font=Path(args.font), log=lambda s: print(s, file=sys.stderr))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""State records inside exported PNGs and GIFs: they round-trip, leave the pixels alone, and a damaged
or foreign one is told apart from an ordinary image in one line naming the file."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from explorer.app.state_stamp import FORMAT, StampError, gif_with_state, png_with_state, read_state
from models.imaging import png_bytes

REC = {"format": FORMAT, "version": 1, "model": {"name": "m", "latent_dim": 3, "sha256": "ab"},
       "z": [0.5, -1.0, 2.0], "slider_values": [1.0, 0.0, 0.0]}


def _gif(comment: bytes | None = None) -> bytes:
    buf = io.BytesIO()
    frames = [Image.fromarray(np.full((8, 8), v, np.uint8)) for v in (0, 128, 255)]
    kw = {"comment": comment} if comment is not None else {}
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], **kw)
    return buf.getvalue()


def test_a_png_carries_the_record_and_its_pixels_are_unchanged(tmp_path):
    pixels = np.arange(64, dtype=np.uint8).reshape(8, 8)
    p = tmp_path / "a.png"
    p.write_bytes(png_with_state(png_bytes(pixels), REC))
    assert read_state(p) == REC
    with Image.open(p) as im:
        assert np.array_equal(np.asarray(im), pixels)


def test_a_gif_carries_the_record_in_its_comment_and_keeps_its_frames(tmp_path):
    p = tmp_path / "a.gif"
    p.write_bytes(gif_with_state(_gif(), REC))
    assert read_state(p) == REC
    with Image.open(p) as im:
        assert im.n_frames == 3


def test_ordinary_images_and_other_peoples_gif_comments_carry_no_state(tmp_path):
    (tmp_path / "plain.png").write_bytes(png_bytes(np.zeros((4, 4), np.uint8)))
    (tmp_path / "theirs.gif").write_bytes(_gif(b"made with GIMP"))
    (tmp_path / "notes.gif").write_bytes(_gif(b'{"some": "json"}'))
    assert read_state(tmp_path / "plain.png") is None
    assert read_state(tmp_path / "theirs.gif") is None
    assert read_state(tmp_path / "notes.gif") is None
    assert read_state(tmp_path / "missing.png") is None          # the intake says what is wrong with it


@pytest.mark.parametrize("bad, says", [
    ({**REC, "z": [0.0, float("nan"), 1.0]}, "'z' is not a list of finite numbers"),
    ({**REC, "slider_values": [1.0]}, "differ in length"),
    ({**REC, "interpolation": {"a": [1.0], "b": [2.0, 3.0, 4.0]}}, "endpoints are not two latents"),
    ({**REC, "model": "m"}, "names no model"),
])
def test_a_damaged_record_is_refused_in_one_line_naming_the_file(tmp_path, bad, says):
    p = tmp_path / "damaged.png"
    p.write_bytes(png_with_state(png_bytes(np.zeros((4, 4), np.uint8)), bad))
    with pytest.raises(StampError) as err:
        read_state(p)
    msg = str(err.value)
    assert msg.startswith("damaged.png: ") and says in msg and "\n" not in msg

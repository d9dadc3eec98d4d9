"""A corpus of hostile and broken inputs, generated on demand (no committed binaries).

    python tests/hostile_corpus.py DIR        # write the corpus into DIR and print what each should show

Each :class:`Case` names one file in the corpus directory, whether it is a ``checkpoint`` (opened with
``models.load``) or an ``image`` (taken in with ``models.intake.load_image``), and ``expect``: a fragment
of what the user must be told.  For a refused input that is a fragment of the error message; for an
image that is accepted (``accepted=True``) it is a fragment of the intake's step notes, which the app
shows beside the image ("animated (3 frames): used the first frame").

Pickle cases carry payloads that would create a file named ``MARKER-*`` in the corpus directory if
anything ever unpickled them unsafely; :func:`markers` lists such files (there must never be any).

Big inputs are built cheaply: a "10000x10000" PNG is a mostly constant image written row by row
through zlib (a few hundred kB), and decompression bombs either declare a huge size in their
header or are long runs of zeros that compress about 1000:1.
"""
from __future__ import annotations

import io
import json
import os
import pickle
import struct
import sys
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

MARKER_PREFIX = "MARKER-"


@dataclass(frozen=True)
class Case:
    name: str                   # file name inside the corpus directory
    kind: str                   # "checkpoint" | "image"
    expect: str                 # fragment of the message (refused) or of the step notes (accepted image)
    what: str = ""              # what the input is, for people reading the table
    accepted: bool = False      # image cases only: taken in (with `expect` among the steps), not refused
    unreadable: bool = False    # the file has no read permission (meaningful only for a non-root reader)
    special: bool = False       # not a regular file (a folder, a named pipe)


_SHARED: tuple[Path, list[Case]] | None = None


def shared_corpus() -> tuple[Path, list[Case]]:
    """The corpus, built once per process in a fresh folder under the system temp dir (removed at exit).

    The folder is world-readable (0755) so a check can run as an unprivileged user: root reads a
    mode-000 file regardless, so "permission denied" can only be seen by dropping privileges.
    """
    global _SHARED
    if _SHARED is None:
        import atexit
        import shutil
        import tempfile

        d = Path(tempfile.mkdtemp(prefix="latent-explorer-corpus-"))
        os.chmod(d, 0o755)
        atexit.register(shutil.rmtree, d, ignore_errors=True)
        _SHARED = (d, build_corpus(d))
    return _SHARED


def markers(directory: str | os.PathLike) -> list[Path]:
    """Files that a pickle payload managed to create (must always be empty)."""
    return sorted(Path(directory).rglob(MARKER_PREFIX + "*"))


# ------------------------------------------------------------------------------------ pickle payloads
class _Payload:
    """Pickles as ``func(*args)``: whoever unpickles it unsafely runs the call."""

    def __init__(self, func, *args) -> None:
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _touch_code(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').write('unpickled')"


# ------------------------------------------------------------------------------------ safetensors bytes
def _st_bytes(header: dict, data: bytes, *, declared_len: int | None = None, pad: bool = True) -> bytes:
    h = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    n = len(h) if declared_len is None else declared_len
    return struct.pack("<Q", n) + h + data


def _split_st(blob: bytes) -> tuple[dict, bytes]:
    (n,) = struct.unpack("<Q", blob[:8])
    return json.loads(blob[8:8 + n]), blob[8 + n:]


def _save_st(tensors: dict, meta: dict | None) -> bytes:
    from safetensors.torch import save

    return save({k: v.contiguous() for k, v in tensors.items()}, metadata=meta)


# ------------------------------------------------------------------------------------ PNG by hand
def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _png(width: int, height: int, rows, *, bit_depth: int = 8, color_type: int = 0,
         extra_chunks: bytes = b"", level: int = 6) -> bytes:
    """A PNG from an iterable of raw scanlines (without filter bytes), compressed as it goes."""
    comp = zlib.compressobj(level)
    parts, batch = [], []
    for row in rows:
        batch.append(b"\x00" + row)
        if len(batch) == 512:
            parts.append(comp.compress(b"".join(batch)))
            batch = []
    parts.append(comp.compress(b"".join(batch)))
    parts.append(comp.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + extra_chunks
            + _png_chunk(b"IDAT", b"".join(parts)) + _png_chunk(b"IEND", b""))


def _png_declared(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (a bomb by declaration)."""
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(
        b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)) + _png_chunk(
        b"IDAT", zlib.compress(b"\x00\x00")) + _png_chunk(b"IEND", b"")


def _big_constant_png(side: int) -> bytes:
    """``side`` x ``side`` grayscale: black, with a white rectangle in the middle (compresses ~1000:1)."""
    dark = bytes(side)
    lit = bytearray(side)
    lit[side * 2 // 5:side * 3 // 5] = b"\xff" * (side * 3 // 5 - side * 2 // 5)
    lit = bytes(lit)
    return _png(side, side, (lit if side // 4 <= y < side * 3 // 4 else dark for y in range(side)), level=1)


# ------------------------------------------------------------------------------------ the corpus
def build_corpus(directory: str | os.PathLike) -> list[Case]:
    """Write every case into ``directory`` (created if needed) and return the list of cases."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    cases: list[Case] = []
    cases += _checkpoint_cases(d)
    cases += _image_cases(d)
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "duplicate case names"
    return cases


def _write(d: Path, name: str, data: bytes) -> Path:
    p = d / name
    p.write_bytes(data)
    return p


def _checkpoint_cases(d: Path) -> list[Case]:
    import torch

    from models.checkpoint import FORMAT_TAG, save
    from models.gan import GANModel
    from models.vae import VAEModel

    cases: list[Case] = []

    def case(name, expect, what, data=None, **kw):
        if data is not None:
            _write(d, name, data)
        cases.append(Case(name, "checkpoint", expect, what, **kw))

    # a valid, tiny VAE and GAN to derive variants from (valid_*.safetensors are controls, not cases)
    torch.manual_seed(0)
    vae = VAEModel.build({"latent_dim": 4, "channels": 4, "n_mix": 1})
    save(vae, d / "valid_vae.safetensors", name="tiny VAE")
    gan = GANModel.build({"latent_dim": 4, "channels": 4})
    save(gan, d / "valid_gan.safetensors", name="tiny GAN")
    blob = (d / "valid_vae.safetensors").read_bytes()
    header, data = _split_st(blob)
    meta = dict(header["__metadata__"])
    tensors = {k: v.clone() for k, v in vae.net.state_dict().items()}
    first = next(iter(tensors))

    def variant(name, expect, what, *, t=None, m=None, **kw):
        case(name, expect, what, _save_st(tensors if t is None else t, m), **kw)

    # --- pickles that carry code: every one would create a MARKER file if unpickled unsafely
    case("evil_exec_zip.pt", "would run builtins.exec",
         "torch.save() zip whose pickle calls exec() to write a marker file")
    torch.save({"state_dict": _Payload(exec, _touch_code(d / (MARKER_PREFIX + "exec_zip")))},
               d / "evil_exec_zip.pt")
    case("evil_system_legacy.pth", "would run posix.system",
         "raw protocol-2 pickle calling os.system('touch MARKER')",
         pickle.dumps(_Payload(os.system, f"touch {d / (MARKER_PREFIX + 'system_legacy')}"), protocol=2))
    case("evil_protocol0.ckpt", "would run os.system", "text (protocol 0) pickle calling os.system",
         f"cos\nsystem\n(S'touch {d / (MARKER_PREFIX + 'protocol0')}'\ntR.".encode())
    case("evil_pickle_named.safetensors", "would run builtins.eval",
         "a protocol-4 pickle calling eval(), renamed to .safetensors",
         pickle.dumps(_Payload(eval, _touch_code(d / (MARKER_PREFIX + "renamed"))), protocol=4))
    import subprocess
    torch.save({"format": FORMAT_TAG, "state_dict": {"w": torch.zeros(2)},
                "metadata": {"name": _Payload(subprocess.call, ["touch", str(d / (MARKER_PREFIX + "popen"))])}},
               d / "evil_nested_subprocess.ckpt")
    case("evil_nested_subprocess.ckpt", "would run subprocess.call",
         "looks like our .pt layout, with a subprocess call hidden in the metadata")
    torch.save({"w": _Payload(os.system, f"touch {d / (MARKER_PREFIX + 'bin')}")}, d / "evil_system.bin")
    case("evil_system.bin", "would run posix.system", "HF-style .bin with os.system in a 'tensor'")
    case("evil_protocol0_named.safetensors", "would run os.system",
         "a text (protocol 0) pickle renamed to .safetensors",
         f"cos\nsystem\n(S'touch {d / (MARKER_PREFIX + 'p0named')}'\ntR.".encode())

    # --- damaged safetensors
    case("truncated_data.safetensors", "truncated", "valid checkpoint cut off in its tensor data",
         blob[:len(blob) - len(data) // 2])
    case("truncated_header.safetensors", "truncated", "cut off inside its JSON header", blob[:40])
    case("header_len_too_long.safetensors", "truncated", "header length field larger than the file",
         struct.pack("<Q", len(blob)) + blob[8:])
    hl = struct.unpack("<Q", blob[:8])[0]
    case("header_len_too_short.safetensors", "header is not valid JSON",
         "header length field smaller than the real header", struct.pack("<Q", hl - 40) + blob[8:])
    case("header_len_huge.safetensors", "header claims", "header length field of 2**60 bytes",
         struct.pack("<Q", 2 ** 60) + blob[8:])
    case("header_64mib_declared.safetensors", "header claims", "declares a 64 MiB header (limit is 16 MiB)",
         struct.pack("<Q", 64 * 2 ** 20) + b"{" + b" " * 1000)
    case("header_not_json.safetensors", "header is not valid JSON", "binary junk where the header should be",
         struct.pack("<Q", 64) + bytes(range(128, 192)))
    case("header_json_list.safetensors", "malformed header", "header is a JSON list, not an object",
         _st_bytes([], b""))  # type: ignore[arg-type]
    bad = json.loads(json.dumps(header))
    bad[first]["dtype"] = "Q99"
    case("unknown_dtype.safetensors", "unknown dtype", "a tensor with dtype 'Q99'", _st_bytes(bad, data))
    bad = json.loads(json.dumps(header))
    bad[first]["shape"] = [4096, 4096]
    case("shape_vs_bytes.safetensors", "needs", "a tensor's shape claims 64 MiB but its bytes are few",
         _st_bytes(bad, data))
    bad = json.loads(json.dumps(header))
    bad[first]["data_offsets"] = [0, 10 ** 12]
    case("offsets_outside.safetensors", "truncated", "data_offsets point a terabyte past the end",
         _st_bytes(bad, data))
    bad = json.loads(json.dumps(header))
    bad["__metadata__"] = {"format": 1, "family": ["vae"]}
    case("metadata_not_strings.safetensors", "metadata", "metadata values that are not strings",
         _st_bytes(bad, data))
    lots = {f"junk.{i}": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]} for i in range(50_000)}
    case("fifty_thousand_tensors.safetensors", "unexpected tensors",
         "valid metadata plus 50,000 extra (empty) tensors", _st_bytes({**header, **lots}, data))

    # --- wrong dtypes and shapes
    variant("wrong_dtype_int.safetensors", "int32", "weights stored as int32",
            t={k: (v * 100).to(torch.int32) if k == first else v for k, v in tensors.items()}, m=meta)
    variant("wrong_dtype_bool.safetensors", "bool", "a weight stored as booleans",
            t={k: (v > 0) if k == first else v for k, v in tensors.items()}, m=meta)
    variant("wrong_dtype_float64_nan.safetensors", "NaN or infinite", "float64 weights holding NaN",
            t={k: torch.full_like(v, float("nan"), dtype=torch.float64) if k == first else v
               for k, v in tensors.items()}, m=meta)
    other = VAEModel.build({"latent_dim": 6, "channels": 4, "n_mix": 1}).net.state_dict()
    variant("shape_vs_config.safetensors", "architecture in its metadata needs",
            "weights of a latent_dim=6 model under metadata that says latent_dim=4", t=other, m=meta)
    variant("missing_tensor.safetensors", "missing 1 tensor", "one weight tensor removed",
            t={k: v for k, v in tensors.items() if k != first}, m=meta)
    variant("family_swapped.safetensors", "do not match the vae architecture",
            "GAN weights under VAE metadata", t=dict(gan.net.state_dict()), m=meta)
    variant("nan_weights.safetensors", "NaN or infinite", "one weight is NaN",
            t={k: v.clone().index_fill_(0, torch.tensor([0]), float("nan")) if k == first else v
               for k, v in tensors.items()}, m=meta)
    variant("inf_weights.safetensors", "NaN or infinite", "one weight is +inf",
            t={k: v.clone().index_fill_(0, torch.tensor([0]), float("inf")) if k == first else v
               for k, v in tensors.items()}, m=meta)

    # --- metadata: missing, foreign, future, malformed, hostile
    variant("no_metadata.safetensors", "without Latent Explorer metadata",
            "our tensors but no metadata at all", m=None)
    foreign = {"model.embed_tokens.weight": torch.zeros(8, 4), "lm_head.weight": torch.zeros(8, 4)}
    variant("foreign_hf.safetensors", "not a Latent Explorer checkpoint",
            "another project's weights (metadata format 'pt', as Hugging Face writes)", t=foreign,
            m={"format": "pt"})
    variant("future_version.safetensors", "newer version of Latent Explorer",
            "format_version 99", m={**meta, "format_version": "99"})
    variant("version_garbage.safetensors", "format version", "format_version 'one point oh'",
            m={**meta, "format_version": "one point oh"})
    variant("version_missing.safetensors", "no format version", "format tag but no version",
            m={k: v for k, v in meta.items() if k != "format_version"})
    variant("unknown_family.safetensors", "unknown model family", "family 'diffusion'",
            m={**meta, "family": "diffusion"})
    variant("config_not_json.safetensors", "not valid JSON", "config is not JSON",
            m={**meta, "config": "{latent_dim: 4"})
    variant("config_json_bomb.safetensors", "not valid JSON", "config nested 100,000 levels deep",
            m={**meta, "config": "[" * 100_000 + "]" * 100_000})
    variant("config_huge_int.safetensors", "not valid JSON", "a 5,000-digit integer in the config",
            m={**meta, "config": '{"latent_dim": ' + "9" * 5000 + "}"})
    variant("config_absurd_size.safetensors", "architecture in its metadata needs",
            "config asks for latent_dim 10**9 (would allocate hundreds of GB)",
            m={**meta, "config": json.dumps({**json.loads(meta["config"]), "latent_dim": 10 ** 9})})
    variant("config_wrong_types.safetensors", "architecture cannot be built",
            "config with channels = 'many'",
            m={**meta, "config": json.dumps({**json.loads(meta["config"]), "channels": "many"})})
    variant("config_not_object.safetensors", "should be a JSON object", "config is a JSON list",
            m={**meta, "config": "[1, 2, 3]"})
    variant("image_shape_mismatch.safetensors", "disagrees", "image shape 3x64x64 in the metadata",
            m={**meta, "image": json.dumps({"shape": [3, 64, 64], "range": [0, 1], "bits": 8})})
    variant("directions_not_object.safetensors", "should be a JSON object",
            "'directions' metadata is a string (would crash the sliders later)", m={**meta, "directions": '"up"'})
    variant("directions_kl_junk.safetensors", "directions",
            "per-unit KL list holding strings and NaN", m={**meta, "directions": json.dumps(
                {"kl": ["a", "NaN", None, 1]})})
    variant("classes_junk.safetensors", "class names",
            "dataset classes is a number", m={**meta, "dataset": json.dumps({"name": "x", "classes": 7})})

    # --- not checkpoints at all
    case("empty.safetensors", "empty (0 bytes)", "zero bytes", b"")
    (d / "folder.safetensors").mkdir(exist_ok=True)
    case("folder.safetensors", "is a folder", "a directory named like a checkpoint", special=True)
    case("unreadable.safetensors", "permission denied", "valid file with mode 000", blob, unreadable=True)
    os.chmod(d / "unreadable.safetensors", 0)
    fifo = d / "pipe.safetensors"
    if not fifo.exists():
        os.mkfifo(fifo)
    case("pipe.safetensors", "not a regular file", "a named pipe (reading it would block forever)",
         special=True)
    case("text.safetensors", "text file", "plain text renamed", b"hello, this is not a model\n" * 4)
    case("lfs_pointer.safetensors", "Git LFS pointer", "the Git LFS pointer instead of the file",
         b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"0" * 64 + b"\nsize 1572864\n")
    case("download_page.safetensors", "web page", "an HTML error page saved instead of the download",
         b"<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head></html>\n")
    case("image_named.safetensors", "is an image", "a PNG renamed to .safetensors", _png(2, 2, [b"\0\0"] * 2))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("readme.txt", "just a zip")
    case("plain_zip.pt", "not a readable PyTorch file", "an ordinary zip archive named .pt", buf.getvalue())
    torch.save({"conv1.weight": torch.zeros(4, 3, 3, 3), "fc.bias": torch.zeros(10)}, d / "foreign_state_dict.pt")
    case("foreign_state_dict.pt", "plain PyTorch state dict", "another model's state dict (torch.save)")
    torch.save({"epoch": 3, "state_dict": {"layer.weight": torch.zeros(2, 2)}, "hyper_parameters": {"lr": 0.1}},
               d / "foreign_lightning.ckpt")
    case("foreign_lightning.ckpt", "not a Latent Explorer checkpoint",
         "a Lightning-style checkpoint dict (safe types, foreign layout)")
    case("newline\nin name.safetensors", "empty (0 bytes)",
         "empty file whose name holds a newline and an escape (the message must stay one line)", b"")
    _write(d, "esc\x1b[31mred.safetensors", b"")
    case("esc\x1b[31mred.safetensors", "empty (0 bytes)", "empty file whose name holds a terminal escape")
    return cases


def _image_cases(d: Path) -> list[Case]:
    from PIL import Image

    cases: list[Case] = []

    def case(name, expect, what, data=None, **kw):
        if data is not None:
            _write(d, name, data)
        cases.append(Case(name, "image", expect, what, **kw))

    def pil(img, fmt, **save_kw) -> bytes:
        buf = io.BytesIO()
        img.save(buf, format=fmt, **save_kw)
        return buf.getvalue()

    shirt = Image.new("L", (60, 80), 0)
    shirt.paste(200, (10, 10, 50, 70))
    png = pil(shirt, "PNG")
    jpg = pil(shirt.convert("RGB"), "JPEG", quality=90)

    # refused
    case("empty.png", "empty (0 bytes)", "zero bytes", b"")
    case("text.png", "not an image", "a text file renamed to .png", b"just some text, honestly\n" * 10)
    case("binary_junk.jpg", "not an image", "random-looking bytes named .jpg", bytes(range(256)) * 8)
    case("truncated.png", "damaged or truncated", "a PNG cut off in its pixel data", png[:len(png) // 2])
    case("truncated.jpg", "damaged or truncated", "a JPEG cut off half way", jpg[:len(jpg) // 2])
    idat = png.index(b"IDAT") + 4 + 6  # a byte inside the compressed pixel data
    case("corrupt_idat.png", "damaged", "a PNG whose compressed pixel data has a flipped byte",
         png[:idat] + bytes([png[idat] ^ 0xFF]) + png[idat + 1:])
    case("bomb_declared.png", "too large", "PNG header claims 100000x100000 pixels (tiny file)",
         _png_declared(100_000, 100_000))
    case("bomb_144mpx.png", "too large", "a real 12000x12000 black PNG (144 MB of pixels in ~600 kB)",
         _png(12_000, 12_000, (bytes(12_000) for _ in range(12_000)), level=1))
    bomb_text = zlib.compress(b"\0" * (64 * 2 ** 20), 1)
    case("bomb_ztxt.png", "too large", "a PNG with a 64 MB compressed text chunk (zTXt bomb)",
         _png(1, 1, [b"\0"])[:33] + _png_chunk(b"zTXt", b"Comment\0\0" + bomb_text) + _png(1, 1, [b"\0"])[33:])
    case("bomb_gif.gif", "too large", "GIF whose screen and frame claim 65535x65535",
         b"GIF89a" + struct.pack("<HH", 65535, 65535) + b"\x00\x00\x00"
         + b"\x2c" + struct.pack("<HHHH", 0, 0, 65535, 65535) + b"\x00" + b"\x02\x02\x44\x01\x00\x3b")
    case("zero_size.png", "not an image", "PNG header claiming 0x0 pixels", _png_declared(0, 0))
    case("drawing.svg", "SVG", "an SVG drawing (vector, unsupported)",
         b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="28" height="28">'
         b'<rect width="10" height="10"/></svg>\n')
    case("svg_named.png", "SVG", "SVG content renamed to .png",
         b'<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/></svg>')
    case("document.pdf", "PDF", "a PDF document (unsupported)", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n")
    (d / "folder.png").mkdir(exist_ok=True)
    case("folder.png", "no image files in this folder", "a directory named like an image (an empty folder)",
         special=True)
    case("unreadable.png", "permission denied", "a valid PNG with mode 000", png, unreadable=True)
    os.chmod(d / "unreadable.png", 0)
    fifo = d / "pipe.png"
    if not fifo.exists():
        os.mkfifo(fifo)
    case("pipe.png", "not a regular file", "a named pipe (reading it would block forever)", special=True)

    # accepted, with a note the user sees
    import numpy as np

    g16 = Image.fromarray(np.arange(40 * 40, dtype="uint16").reshape(40, 40) * 40)  # mode I;16
    case("gray16.png", "16-bit values scaled to 8 bits", "16-bit grayscale PNG", pil(g16, "PNG"), accepted=True)
    case("cmyk.jpg", "CMYK converted to grayscale", "a CMYK JPEG",
         pil(Image.merge("CMYK", [shirt.point(lambda v: 255 - v)] * 3 + [Image.new("L", shirt.size, 0)]), "JPEG"),
         accepted=True)
    pal = shirt.convert("P")
    case("palette_transparent.png", "transparent pixels taken as background", "palette PNG with a transparent index",
         pil(pal, "PNG", transparency=0), accepted=True)
    rgba = shirt.convert("RGBA")
    rgba.putalpha(shirt.point(lambda v: 255 if v else 0))
    case("rgba.png", "transparent pixels taken as background", "RGBA PNG with a transparent background",
         pil(rgba, "PNG"), accepted=True)
    frames = [Image.new("L", (28, 28), v) for v in (60, 120, 180)]
    for f, v in zip(frames, (10, 12, 14)):
        f.paste(255, (v, v, v + 6, v + 6))
    case("animated.gif", "animated (3 frames): used the first frame", "a 3-frame animated GIF",
         pil(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0), accepted=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    case("exif_rotated.jpg", "rotated by its EXIF orientation", "a JPEG with EXIF orientation 6",
         pil(shirt.convert("RGB"), "JPEG", exif=exif.tobytes()), accepted=True)
    bad_exif = Image.Exif()
    bad_exif[0x0112] = 77  # not a valid orientation
    case("exif_invalid.jpg", "scaled to", "a JPEG with an invalid EXIF orientation (77), used as is",
         pil(shirt.convert("RGB"), "JPEG", exif=bad_exif.tobytes()), accepted=True)
    case("one_pixel.png", "scaled to 28x28", "a 1x1 image", pil(Image.new("L", (1, 1), 200), "PNG"), accepted=True)
    case("huge_10000.png", "scaled to", "10000x10000 grayscale (100 megapixels, ~100 kB compressed)",
         _big_constant_png(10_000), accepted=True)
    case("wide_20000x1.png", "scaled to", "a 20000x1 line", pil(Image.new("L", (20_000, 1), 255), "PNG"),
         accepted=True)
    fl = np.linspace(0, 1, 32 * 32, dtype="float32").reshape(32, 32)
    fl[0, 0], fl[1, 1], fl[2, 2] = np.nan, np.inf, -np.inf
    case("float_nan.tiff", "floating-point values rescaled", "32-bit float TIFF holding NaN and ±inf",
         pil(Image.fromarray(fl, "F"), "TIFF"), accepted=True)
    return cases


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    cases = build_corpus(argv[0])
    for c in cases:
        status = "accepted" if c.accepted else "refused"
        print(f"{c.kind:10}  {status:8}  {c.name!r:42}  {c.expect!r:45}  {c.what}")
    print(f"{len(cases)} cases in {argv[0]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main(sys.argv[1:]))

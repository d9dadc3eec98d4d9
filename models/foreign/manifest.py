"""The manifest: what a decoder made elsewhere needs to say about itself (one small JSON object).

=================  =========================================================================
``latent_dim``     int, 1..:data:`MAX_LATENT_DIM`: the decoder's input is (N, latent_dim)
``image_shape``    [C, H, W], C in 1 or 3, H and W in 8..:data:`MAX_SIDE`: its output is (N, C, H, W)
``output_range``   [0, 1] or [-1, 1]: what the decoder returns (mapped to [0, 1] by x' = (x - lo)/(hi - lo))
``name``           optional display name
``class_names``    optional list of names (for conditional models)
``prior``          optional, ``"normal"`` (the only one so far): z ~ N(0, I)
=================  =========================================================================

Unknown keys are ignored with a note (:attr:`Manifest.notes`), so manifests written by newer tools
still open.  Where it lives: inside the file where the format allows (a ``.pt2``'s ``extra_files``
entry ``latent-explorer.json``; an ``.onnx``'s ``metadata_props`` key ``latent-explorer``), or beside
it as ``NAME.latent-explorer.json``.  A manifest beside the file wins over one inside it (so a wrong
embedded one can be corrected without re-exporting), with a note.

The manifest is data, never code: it is parsed with :func:`json.loads` and every field is checked
here.  Whether it tells the truth about shapes and range is checked by one probe decode when the
model is opened (:mod:`models.foreign.decoder_model`).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import printable_name
from ..tensor_source import checkpoint_error as _err
from .sidecars import beside

#: The key of the manifest inside a file (``extra_files`` of a .pt2, ``metadata_props`` of an .onnx).
PT2_ENTRY = "latent-explorer.json"
ONNX_KEY = "latent-explorer"
SIDECAR_SUFFIX = ".latent-explorer.json"
#: Largest latent a manifest may declare (sliders and their D x D basis are built for it).
MAX_LATENT_DIM = 4096
#: Largest image side a manifest may declare.
MAX_SIDE = 2048
#: Largest manifest text read (a manifest is a few hundred bytes).
MAX_MANIFEST_BYTES = 64 * 1024
KNOWN_KEYS = ("latent_dim", "image_shape", "output_range", "name", "class_names", "prior")
RANGES = ((0.0, 1.0), (-1.0, 1.0))


@dataclass
class Manifest:
    latent_dim: int
    image_shape: tuple[int, int, int]
    output_range: tuple[float, float] = (0.0, 1.0)
    name: str = ""
    class_names: list[str] = field(default_factory=list)
    prior: str = "normal"
    notes: list[str] = field(default_factory=list)
    #: where it was read from, in words ("inside the file", "beside it: NAME.latent-explorer.json")
    source: str = ""

    def to_json(self) -> str:
        """The manifest as the JSON text that would be written into a file."""
        out: dict[str, Any] = {"latent_dim": self.latent_dim, "image_shape": list(self.image_shape),
                               "output_range": list(self.output_range), "prior": self.prior}
        if self.name:
            out["name"] = self.name
        if self.class_names:
            out["class_names"] = list(self.class_names)
        return json.dumps(out, indent=1)


def sidecar_path(model_path: Path) -> Path:
    """``NAME.latent-explorer.json`` beside ``NAME.pt2`` / ``NAME.onnx``."""
    return beside(model_path, SIDECAR_SUFFIX)


def parse(p: Path, text: str | bytes, where: str = "its manifest") -> Manifest:
    """Parse and validate manifest ``text`` belonging to file ``p``; one-line errors name the file."""
    if len(text) > MAX_MANIFEST_BYTES:
        raise _err(p, f"{where} is {len(text):,} bytes, more than a manifest needs "
                      f"({MAX_MANIFEST_BYTES // 1024} KiB); the file is damaged.")
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise _err(p, f"{where} is not valid JSON ({printable_name(str(exc), 80)}). "
                      f"See docs/foreign-models.md for the format.") from None
    if not isinstance(obj, dict):
        raise _err(p, f"{where} should be a JSON object, not {type(obj).__name__}. "
                      f"See docs/foreign-models.md.")
    notes = [f"{where}: ignored unknown key {printable_name(k, 40)!r}" for k in obj if k not in KNOWN_KEYS]
    missing = [k for k in ("latent_dim", "image_shape") if k not in obj]
    if missing:
        raise _err(p, f"{where} lacks {' and '.join(repr(k) for k in missing)}; a manifest needs latent_dim, "
                      f"image_shape and output_range. See docs/foreign-models.md.")
    d = obj["latent_dim"]
    if not (isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= MAX_LATENT_DIM):
        raise _err(p, f"{where}: latent_dim must be a whole number from 1 to {MAX_LATENT_DIM}, not "
                      f"{printable_name(json.dumps(d), 40)}.")
    shape = obj["image_shape"]
    if not (isinstance(shape, list) and len(shape) == 3
            and all(isinstance(v, int) and not isinstance(v, bool) for v in shape)
            and shape[0] in (1, 3) and all(8 <= v <= MAX_SIDE for v in shape[1:])):
        raise _err(p, f"{where}: image_shape must be [C, H, W] with C 1 or 3 and H, W from 8 to {MAX_SIDE}, not "
                      f"{printable_name(json.dumps(shape), 60)}.")
    rng = obj.get("output_range")
    if rng is None:
        notes.append(f"{where} has no output_range; assumed [0, 1]")
        rng = [0, 1]
    if not (isinstance(rng, list) and len(rng) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in rng)
            and tuple(float(v) for v in rng) in RANGES):
        raise _err(p, f"{where}: output_range must be [0, 1] or [-1, 1] (what the decoder returns), not "
                      f"{printable_name(json.dumps(rng), 40)}.")
    name = obj.get("name", "")
    if not isinstance(name, str):
        raise _err(p, f"{where}: name must be text.")
    classes = obj.get("class_names", [])
    if not (isinstance(classes, list) and all(isinstance(c, str) for c in classes) and len(classes) <= 10_000):
        raise _err(p, f"{where}: class_names must be a list of names.")
    prior = obj.get("prior", "normal")
    if prior != "normal":
        raise _err(p, f"{where}: prior {printable_name(str(prior), 40)!r} is not supported; only \"normal\" "
                      f"(z ~ N(0, I)) is.")
    return Manifest(latent_dim=d, image_shape=(shape[0], shape[1], shape[2]),
                    output_range=(float(rng[0]), float(rng[1])), name=printable_name(name, 200),
                    class_names=[printable_name(c, 80) for c in classes], prior=prior, notes=notes)


def find(p: Path, embedded: str | bytes | None, inside: str = "inside the file") -> Manifest:
    """The manifest of ``p``: the sidecar beside it if there is one, else the ``embedded`` text;
    refuses, saying how to add one, when there is neither.  ``inside`` says where the embedded one sits
    (:attr:`Manifest.source`)."""
    side = sidecar_path(p)
    if side.is_file():
        if side.stat().st_size > MAX_MANIFEST_BYTES:
            raise _err(p, f"its manifest {side.name} is larger than {MAX_MANIFEST_BYTES // 1024} KiB; "
                          f"the file is damaged.")
        m = parse(p, side.read_bytes(), f"manifest {side.name}")
        if embedded:
            m.notes.append(f"{side.name} beside the file overrides the manifest inside it")
        m.source = f"beside it: {side.name}" + (" (overrides the one inside the file)" if embedded else "")
        return m
    if embedded:
        m = parse(p, embedded)
        m.source = inside
        return m
    raise _err(p, f"no manifest: the app cannot know the latent size, image shape and output range. Write "
                  f"{side.name} beside it with latent_dim, image_shape and output_range "
                  f"(see docs/foreign-models.md).")

"""ONNX decoders (``NAME.onnx``, and ``NAME.encoder.onnx`` beside it), run by onnxruntime.

An ONNX file is a protobuf graph of operators; onnxruntime runs no Python from it.  Two things in a
file still reach outside it, and are checked before a session is created:

* **external data**: a tensor may live in another file named by a relative ``location``; one that
  resolves (symlinks followed) outside the model's folder (``../../etc/passwd``, an absolute path) is
  refused, so a dropped model cannot read other files;
* **custom operators**: a node in a domain other than the standard ones (``""``, ``ai.onnx``,
  ``ai.onnx.ml``, ``com.microsoft``) needs a library that would have to be loaded as native code; it
  is refused with the operator's name (no custom-op libraries are ever registered).

The manifest rides in ``metadata_props`` under ``latent-explorer`` (or beside the file).  Sessions
use the CUDA execution provider when onnxruntime has it and the model is asked for on a CUDA device,
else the CPU provider.  Graphs are not differentiable here, so a decoder without an encoder is
inverted by a bounded random search (:mod:`.inversion`).  Writing: :func:`export` saves our models
with ``torch.onnx.export(..., dynamo=False)`` and a dynamic batch axis.
"""
from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from ..errors import first_line, printable_name
from ..tensor_source import checkpoint_error as _err
from . import manifest as mf
from .decoder_model import DecoderModel, ForeignModelError
from .sidecars import fingerprint

SUFFIX = ".onnx"
STANDARD_DOMAINS = {"", "ai.onnx", "ai.onnx.ml", "com.microsoft"}
MAX_ONNX_BYTES = 2 * 2**30


class OnnxModel(DecoderModel):
    family = "onnx"
    differentiable = False

    def __init__(self, *args, sessions: dict, **kwargs) -> None:
        self._sessions = sessions
        super().__init__(*args, **kwargs)

    def to(self, device):
        """Recreate the sessions on CUDA when asked for and available (else stay on the CPU provider)."""
        from ..base import resolve_device

        dev = resolve_device(device)
        self._device = dev
        providers = _providers(dev)
        for s in self._sessions.values():
            if s["session"].get_providers()[0] != providers[0]:
                s["session"] = _session(s["path"], providers)
        return self

    def num_parameters(self) -> int:
        return int(sum(s["parameters"] for s in self._sessions.values()))


def _ort():
    try:
        import onnxruntime
    except ImportError:
        return None
    return onnxruntime


def _providers(dev: torch.device) -> list[str]:
    ort = _ort()
    if dev.type == "cuda" and ort is not None and "CUDAExecutionProvider" in ort.get_available_providers():
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def _session(p: Path, providers: list[str]):
    ort = _ort()
    opts = ort.SessionOptions()
    opts.log_severity_level = 4          # nothing on stderr: failures come back as one-line errors
    try:
        return ort.InferenceSession(str(p), sess_options=opts, providers=providers)
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types
        raise _err(p, f"onnxruntime cannot run it ({first_line(exc, 160)}).") from None


def check_graph(p: Path):
    """Load the graph without external data and refuse what reaches outside the file (see above).
    Returns the ``onnx.ModelProto`` (for its metadata)."""
    import onnx
    from onnx.external_data_helper import ExternalDataInfo, uses_external_data

    if os.stat(p).st_size > MAX_ONNX_BYTES:
        raise _err(p, f"larger than {MAX_ONNX_BYTES // 2**30} GiB; refused.")
    try:
        proto = onnx.load(str(p), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - protobuf raises DecodeError and others
        raise _err(p, f"not a readable ONNX model ({first_line(exc, 140)}). Re-export it.") from None
    folder = p.resolve().parent
    graphs = [proto.graph] + [f for f in proto.functions]
    for g in graphs:
        tensors = list(getattr(g, "initializer", [])) + [a.t for n in g.node for a in n.attribute if a.HasField("t")]
        for t in tensors:
            if uses_external_data(t):
                loc = ExternalDataInfo(t).location
                target = (folder / loc).resolve()
                if os.path.isabs(loc) or not target.is_relative_to(folder):
                    raise _err(p, f"refused: tensor {printable_name(t.name, 40)} points at "
                                  f"{printable_name(loc, 60)}, outside the model's folder; nothing was read. "
                                  f"Keep external data files beside the model.")
        for node in g.node:
            if node.domain not in STANDARD_DOMAINS and node.domain not in {f.domain for f in proto.functions}:
                raise _err(p, f"refused: it needs the custom operator {printable_name(node.domain, 40)}::"
                              f"{printable_name(node.op_type, 40)}, which would need native code loaded from "
                              f"elsewhere. Export the model with standard ONNX operators.")
    return proto


def _runner(p: Path, providers: list[str]):
    sess = _session(p, providers)
    inputs = sess.get_inputs()
    if len(inputs) != 1:
        raise _err(p, f"the graph takes {len(inputs)} inputs; a decoder takes one (z) and an encoder one (images).")
    return sess


def open_onnx(p: Path, device: str | torch.device = "cpu") -> OnnxModel:
    if _ort() is None:
        from . import missing_extra

        raise missing_extra(p, "onnxruntime", "onnx")
    if p.name.endswith(".encoder" + SUFFIX):
        raise _err(p, f"an encoder graph; open its decoder {p.name[:-len('.encoder' + SUFFIX)]}{SUFFIX} instead.")
    proto = check_graph(p)
    embedded = {m.key: m.value for m in proto.metadata_props}.get(mf.ONNX_KEY)
    params = sum(int(np.prod(t.dims)) for t in proto.graph.initializer)
    man = mf.find(p, embedded, f"inside the file (metadata_props key {mf.ONNX_KEY})")
    from .export_program import encoder_path

    enc_p = encoder_path(p, SUFFIX)
    sessions = {"decoder": {"path": p, "session": _runner(p, ["CPUExecutionProvider"]), "parameters": params}}
    if enc_p.is_file():
        eproto = check_graph(enc_p)
        sessions["encoder"] = {"path": enc_p, "session": _runner(enc_p, ["CPUExecutionProvider"]),
                               "parameters": sum(int(np.prod(t.dims)) for t in eproto.graph.initializer)}

    def run(which: str, arr: torch.Tensor) -> torch.Tensor:
        s = sessions[which]["session"]
        try:
            out = s.run(None, {s.get_inputs()[0].name: arr.detach().float().cpu().numpy()})[0]
        except Exception as exc:  # noqa: BLE001 - onnxruntime's own error types
            raise ForeignModelError(f"{sessions[which]['path'].name}: onnxruntime failed on a batch of shape "
                                    f"{tuple(arr.shape)} ({first_line(exc, 160)}).") from None
        return torch.from_numpy(np.asarray(out, dtype=np.float32))

    side = mf.sidecar_path(p)
    key = fingerprint(*[x for x in (p, enc_p, side) if x.is_file()])
    model = OnnxModel(p, man, lambda z: run("decoder", z),
                      (lambda x: run("encoder", x)) if "encoder" in sessions else None,
                      sessions=sessions, fmt="ONNX (onnxruntime)", key=key,
                      metadata={"encoder_file": enc_p.name if "encoder" in sessions else None}, device="cpu")
    return model.probe()


def export(model, out: str | os.PathLike) -> list[Path]:
    """Write ``model`` (one of ours) as ``out`` (.onnx decoder) and ``NAME.encoder.onnx``."""
    import onnx

    from ..atomic_io import atomic_write_bytes
    from .export_program import MAX_BATCH, encoder_path, manifest_of, modules_of

    out = Path(out)
    if not out.name.endswith(SUFFIX):
        raise ValueError(f"an ONNX model is saved as NAME{SUFFIX}, not {out.name}")
    dec, enc, (z, x) = modules_of(model)
    written = []

    for module, example, name, target in ((dec, z, "z", out), (enc, x, "x", encoder_path(out, SUFFIX))):
        buf = io.BytesIO()
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, (example,), buf, input_names=[name], output_names=["out"],
                              dynamic_shapes={name: {0: torch.export.Dim("batch", min=1, max=MAX_BATCH)}},
                              dynamo=True, external_data=False, verbose=False)
        proto = onnx.load_from_string(buf.getvalue())
        entry = proto.metadata_props.add()
        entry.key, entry.value = mf.ONNX_KEY, manifest_of(model).to_json()
        atomic_write_bytes(target, proto.SerializeToString())
        written.append(target)
    return written

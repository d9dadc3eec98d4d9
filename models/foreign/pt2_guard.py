"""What must be true of a ``.pt2`` archive before ``torch.export.load`` may see it.

``torch.export.load`` is not a data reader.  Measured with torch 2.13 (``torch/_export/serde`` and
``torch/export/_unlift.py``), four things in the archive can run Python:

1. **pickles**: sample inputs, pickled weights/constants and custom objects are unpickled, falling back
   to ``weights_only=False`` when the restricted unpickler refuses (a ``__reduce__`` payload runs);
2. **symbolic shapes**: every ``expr_str`` (and range-constraint name) goes through ``sympy.sympify``,
   which *evaluates* the text (``exec(chr(111)+...)`` would run);
3. **node targets**: an operator is looked up by walking attributes from ``torch`` / ``operator`` /
   ``math`` (``torch.os.system`` is reachable that way) and called when the graph runs;
4. **guards_code**: Python source that ``ExportedProgram.module()`` passes to ``exec``.

So this module opens the archive as a zip (nothing is executed) and refuses, naming the entry:

* any entry outside the layout ``torch.export.save`` writes (compiled AOTInductor code, ``.so`` files);
* any pickle (an entry not declared as raw tensor bytes) that names a global outside tensor plumbing
  (:func:`models.pickle_guard.unsafe_globals`) *or* that PyTorch's restricted unpickler
  (``weights_only=True``) will not load -- so torch's own fallback never runs on it;
* an ``expr_str`` that is not a plain arithmetic expression over shape symbols and the sympy functions
  torch uses (checked by parsing it with :mod:`ast`, a parser that executes nothing);
* a node target other than ``torch.ops.aten.*`` / ``torch.ops.prims.*`` / a short list of
  ``operator``, ``math`` and ``torch.sym_*`` functions (a custom op is refused with its name);
* non-empty ``guards_code``, and control characters other than newline and tab in any graph text (fx
  copies stack traces into comments of the code it generates, split at "\n"; a "\r" would end one).
"""
from __future__ import annotations

import ast
import io
import json
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch

from ..errors import first_line, printable_name
from ..pickle_guard import MAX_PICKLE_BYTES, unsafe_globals
from ..tensor_source import CheckpointError, checkpoint_error as _err

_ENTRY = re.compile(r"[^/]+/(archive_format|archive_version|byteorder|\.data/version|\.data/serialization_id"
                    r"|models/[\w.-]+\.json|data/(weights|constants)/[\w.-]+|data/sample_inputs/[\w.-]+\.pt"
                    r"|extra/[\w.-]+)")
_OPS = re.compile(r"torch\.ops\.(aten|prims)\.\w+\.\w+")
_OPERATOR = {"getitem", "add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "neg", "pos", "abs", "eq", "ne",
             "lt", "le", "gt", "ge", "and_", "or_", "not_", "xor", "invert"}
_MATH = {"ceil", "floor", "sqrt", "trunc"}
_TORCH_SYM = re.compile(r"torch\.(sym_(int|float|max|min|not|ite|sqrt|sum)|_sym_sqrt)")
_SYMBOL = re.compile(r"[a-z]{1,8}\d{1,9}")
#: Names a shape expression may use: sympy constructors and torch.utils._sympy.functions (no builtins).
_SYMPY_NAMES = {
    "Symbol", "Integer", "Float", "Rational", "Max", "Min", "Abs", "Mod", "floor", "ceiling", "sqrt", "Eq", "Ne",
    "Lt", "Le", "Gt", "Ge", "And", "Or", "Not", "true", "false", "True", "False", "oo", "FloorDiv",
    "ModularIndexing", "Where", "PythonMod", "CleanDiv", "CeilToInt", "FloorToInt", "CeilDiv", "LShift", "RShift",
    "PowByNatural", "FloatPow", "FloatTrueDiv", "IntTrueDiv", "IsNonOverlappingAndDenseIndicator", "TruncToFloat",
    "TruncToInt", "ToFloat", "Identity", "RoundToInt", "RoundDecimal", "BitwiseFn_bitwise_and",
    "BitwiseFn_bitwise_or",
}
_AST_OK = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.Call, ast.Name, ast.Constant,
           ast.keyword, ast.Load, ast.operator, ast.unaryop, ast.boolop, ast.cmpop)
MAX_JSON_BYTES = 256 * 2**20


def _refuse(p: Path, entry: str, what: str) -> CheckpointError:
    return _err(p, f"refused: {printable_name(entry, 80)} inside it {what}; nothing in it was run. Only a plain "
                   f"torch.export program (aten operators, tensors, a manifest) can be opened.")


def check_archive(p: Path, data: bytes) -> None:
    """Raise :class:`CheckpointError` unless the ``.pt2`` bytes ``data`` pass every check above."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except Exception as exc:  # noqa: BLE001 - zipfile raises many types
        raise _err(p, f"not a torch.export archive (not a readable zip: {first_line(exc, 120)}). Re-export it "
                      f"with torch.export.save.") from None
    with zf:
        if sum(i.file_size for i in infos) > MAX_PICKLE_BYTES:
            raise _err(p, f"an archive that would unpack to more than {MAX_PICKLE_BYTES // 2**30} GiB; refused.")
        names = [i.filename for i in infos]
        if not any(re.fullmatch(r"[^/]+/models/[\w.-]+\.json", n) for n in names):
            raise _err(p, "a zip archive without a torch.export program inside (no models/*.json). Save the "
                          "decoder with torch.export.save.")
        for n in names:
            if not _ENTRY.fullmatch(n):
                raise _refuse(p, n, "is not part of a plain torch.export program (compiled code or another file)")
        raw = _raw_tensor_entries(p, zf, names)
        for n in names:
            kind = n.split("/", 1)[1]
            if kind.startswith("models/"):
                _check_program(p, n, _read_json(p, zf, n))
            elif kind.startswith(("data/weights/", "data/constants/", "data/sample_inputs/")) \
                    and not kind.endswith(".json") and n not in raw:
                _check_pickle(p, n, zf.read(n))


def _read_json(p: Path, zf: zipfile.ZipFile, name: str) -> Any:
    if zf.getinfo(name).file_size > MAX_JSON_BYTES:
        raise _refuse(p, name, "is too large for a program description")
    try:
        return json.loads(zf.read(name))
    except (ValueError, RecursionError):
        raise _refuse(p, name, "is not valid JSON") from None


def _raw_tensor_entries(p: Path, zf: zipfile.ZipFile, names: list[str]) -> set[str]:
    """Entries declared as raw tensor bytes (``use_pickle: false``) by the weights/constants configs."""
    raw: set[str] = set()
    for n in names:
        if n.endswith(("weights/model_weights_config.json", "constants/model_constants_config.json")):
            cfg = _read_json(p, zf, n)
            entries = cfg.get("config", {}) if isinstance(cfg, dict) else {}
            folder = n.rsplit("/", 1)[0]
            for meta in entries.values() if isinstance(entries, dict) else []:
                if isinstance(meta, dict) and meta.get("use_pickle") is False and isinstance(meta.get("path_name"), str):
                    raw.add(f"{folder}/{meta['path_name']}")
    return raw


def _check_pickle(p: Path, name: str, blob: bytes) -> None:
    """Refuse a pickle (or torch zip of pickles) that names code or that weights_only will not load."""
    streams = [blob]
    if blob[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(blob)) as inner:
                streams = [inner.read(i) for i in inner.infolist() if i.filename.endswith(".pkl")]
        except Exception:  # noqa: BLE001
            raise _refuse(p, name, "is a damaged archive") from None
    for s in streams:
        code = unsafe_globals(s)
        if code:
            raise _refuse(p, name, f"would run {printable_name(code[0], 80)} when loaded (code, not weights)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - the restricted unpickler said no: torch would fall back
        raise _refuse(p, name, f"holds objects that are not plain tensors ({first_line(exc, 100)})") from None


def _check_program(p: Path, name: str, program: Any) -> None:
    if not isinstance(program, dict):
        raise _refuse(p, name, "is not a program description")
    if program.get("guards_code"):
        raise _refuse(p, name, "carries Python guard code, which would be executed")
    stack: list[tuple[Any, str]] = [(program, "")]
    while stack:
        obj, key = stack.pop()
        if isinstance(obj, dict):
            for k, v in obj.items():
                if key == "range_constraints":
                    check_expr(p, name, str(k))
                stack.append((v, k))
        elif isinstance(obj, list):
            stack.extend((v, key) for v in obj)
        elif isinstance(obj, str):
            if any(ord(c) < 32 and c not in "\n\t" for c in obj):   # "\r" would end a comment in fx's code
                raise _refuse(p, name, "holds text with control characters in its graph")
            if key == "target":
                check_target(p, name, obj)
            elif key == "expr_str":
                check_expr(p, name, obj)


def check_target(p: Path, entry: str, target: str) -> None:
    mod, _, attr = target.partition(".")
    if (_OPS.fullmatch(target) or _TORCH_SYM.fullmatch(target) or (mod == "_operator" and attr in _OPERATOR)
            or (mod == "math" and attr in _MATH)):
        return
    raise _refuse(p, entry, f"calls {printable_name(target, 80)}, which is not a standard PyTorch operator "
                            f"(a custom op or Python code)")


def check_expr(p: Path, entry: str, text: str) -> None:
    """A shape expression must parse as arithmetic over symbols and :data:`_SYMPY_NAMES` (ast: no eval)."""
    bad = len(text) > 4000
    if not bad:
        try:
            tree = ast.parse(text, mode="eval")
        except (SyntaxError, ValueError, RecursionError):
            tree, bad = None, True
        for node in ast.walk(tree) if tree is not None else []:
            if not isinstance(node, _AST_OK):
                bad = True
            elif isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in _SYMPY_NAMES):
                bad = True
            elif isinstance(node, ast.Name) and not (node.id in _SYMPY_NAMES or _SYMBOL.fullmatch(node.id)):
                bad = True
            elif isinstance(node, ast.keyword) and not (node.arg and re.fullmatch(r"[a-z]+", node.arg)):
                bad = True
            elif isinstance(node, ast.Constant) and not (
                    isinstance(node.value, (int, float)) or (isinstance(node.value, str) and _SYMBOL.fullmatch(node.value))):
                bad = True
            if bad:
                break
    if bad:
        raise _refuse(p, entry, f"holds the shape expression {printable_name(text, 60)!r}, which is not plain "
                                f"arithmetic (sympy would evaluate it as code)")

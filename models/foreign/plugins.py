"""Families registered by installed packages, through the entry-point group ``latent_explorer.families``.

A package declares, in its ``pyproject.toml``::

    [project.entry-points."latent_explorer.families"]
    mydecoder = "my_package.latent_family"

The entry point's name is the family name; its object (a module or class) provides

* ``build(config, metadata, device) -> GenerativeModel`` -- required: a Latent Explorer ``.safetensors``
  checkpoint whose ``family`` metadata names this family is built with it, through the same checks as
  ours (architecture built on the meta device, tensor names and shapes compared before any weights are
  read).  A bare callable entry point is taken to be ``build`` itself;
* ``claims(path) -> bool`` and ``open(path, device) -> GenerativeModel`` -- optional: files or folders
  of the plugin's own format (asked only for paths that are not ``.safetensors``).

Installed code is trusted (the user chose to install it); a dropped file never is -- plugins decide
what their own files may do.  A plugin that fails to import is skipped and named in the message of a
file that no one else could open.  docs/foreign-models.md has a twenty-line example.
"""
from __future__ import annotations

import functools
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Callable

import torch

from ..errors import LatentExplorerError, first_line, printable_name
from ..tensor_source import checkpoint_error as _err

GROUP = "latent_explorer.families"
#: Families whose names a plugin may not take.
RESERVED = {"vae", "gan", "flow", "autoregressive"}
#: Plugins that failed to import: name -> one-line reason (shown when nothing could open a file).
broken: dict[str, str] = {}


@functools.lru_cache(maxsize=4)
def _entry_points(group: str, path: tuple[str, ...]) -> tuple:
    """The group's entry points, scanned once per ``sys.path``: every scan builds a fresh index of all
    installed distributions (``importlib.metadata``'s lookups, kept in its own caches), and the app
    asks on every model it opens — scanning each time grew memory by ~140 KB a model."""
    return tuple(entry_points(group=group))


def plugins() -> dict[str, Any]:
    """Family name -> the loaded entry-point object, for every installed plugin that imports."""
    found: dict[str, Any] = {}
    for ep in _entry_points(GROUP, tuple(sys.path)):
        if ep.name in RESERVED or ep.name in found:
            continue
        try:
            found[ep.name] = ep.load()
        except Exception as exc:  # noqa: BLE001 - installed code may be broken; the app goes on
            broken[ep.name] = first_line(exc, 120)
    return found


def builders() -> dict[str, Callable[..., Any]]:
    """Family name -> ``build(config, metadata, device)`` of each plugin (for models.checkpoint)."""
    out = {}
    for name, obj in plugins().items():
        build = getattr(obj, "build", None) or (obj if callable(obj) else None)
        if build is not None:
            out[name] = build
    return out


def claiming_plugin(p: Path) -> str | None:
    """The first plugin (by name) whose ``claims(p)`` is true; never for ``.safetensors`` files."""
    if p.name.lower().endswith(".safetensors"):
        return None
    for name, obj in sorted(plugins().items()):
        claims = getattr(obj, "claims", None)
        if claims is None or getattr(obj, "open", None) is None:
            continue
        try:
            if claims(p):
                return name
        except Exception as exc:  # noqa: BLE001
            broken[name] = first_line(exc, 120)
    return None


def open_with_plugin(name: str, p: Path, device: str | torch.device = "cpu"):
    """Open ``p`` with plugin ``name``'s ``open``; its unexpected errors become one line naming it."""
    obj = plugins()[name]
    try:
        model = obj.open(p, device)
    except LatentExplorerError:
        raise
    except Exception as exc:  # noqa: BLE001 - installed code, but still one line for the user
        raise _err(p, f"the plugin {printable_name(name, 40)!r} could not open it ({first_line(exc, 140)}).") from None
    from ..base import GenerativeModel

    if not isinstance(model, GenerativeModel):
        raise _err(p, f"the plugin {printable_name(name, 40)!r} returned {type(model).__name__}, not a model.")
    return model

"""A test plugin family, ``slow-toy``: the linear toy, but every decode takes seconds.

Its ``.slowtoy`` files are JSON objects: ``latent_dim``, ``seed`` and ``seconds`` (how long each decode
call takes).  Installed code is trusted, so a plugin may be this slow; the app must stay responsive
while it decodes and paint only the newest frame (tests/test_foreign_hostile.py).

For tests, two module-level hooks make the slowness deterministic instead of timed: a decode waits
``seconds`` *unless* :data:`RELEASE` is set (then it returns at once), and :data:`started` records the
latent batch of every decode call as it begins.
"""
from __future__ import annotations

import json
import threading

import torch
from torch import nn

from . import LinearToy

#: Set: decodes return at once.  Clear: each decode takes the file's ``seconds``.
RELEASE = threading.Event()
#: The latent batch of every decode call, in the order they started.
started: list[torch.Tensor] = []


class SlowToy(LinearToy):
    family = "slow-toy"

    def decode(self, z):
        z = self._as_latent(z)
        started.append(z.detach().cpu().clone())
        RELEASE.wait(float(self.config.get("seconds", 2.0)))
        return super().decode(z)


def build(config, metadata, device):
    cfg = {"image_shape": [1, 16, 16], "seconds": 2.0, **config}
    return SlowToy(nn.Linear(cfg["latent_dim"], 256), cfg, metadata, device)


def claims(path):
    return path.suffix == ".slowtoy"


def open(path, device):  # the plugin interface's name
    cfg = json.loads(path.read_text())
    torch.manual_seed(int(cfg.get("seed", 0)))
    return build({"latent_dim": int(cfg["latent_dim"]), "seconds": float(cfg.get("seconds", 2.0))},
                 {"name": path.stem}, device)

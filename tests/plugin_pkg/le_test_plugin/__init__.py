"""A test plugin family, ``linear-toy``: z -> sigmoid(W z + b) as a 1x16x16 image.

Installed in tests by a temporary dist-info whose entry point (group ``latent_explorer.families``)
names this module; docs/foreign-models.md shows the same shape of plugin.  ``build`` serves our
``.safetensors`` checkpoints of the family; ``claims``/``open`` serve its own ``.lineartoy`` files
(a JSON object: latent_dim and a seed for the weights).
"""
from __future__ import annotations

import json

import torch
from torch import nn

from models.base import Direction, GenerativeModel


class LinearToy(GenerativeModel):
    family = "linear-toy"

    def decode(self, z):
        z = self._as_latent(z)
        with torch.no_grad():
            return torch.sigmoid(self.net(z)).reshape(-1, *self.image_shape)

    def encode(self, x):
        x = self._as_batch(x).flatten(1)
        w = self.net.weight
        return torch.linalg.lstsq(w, (torch.logit(x.clamp(1e-3, 1 - 1e-3)) - self.net.bias).T).solution.T

    def directions(self):
        eye = torch.eye(self.latent_dim)
        return [Direction(name=f"z{i}", vector=eye[i], label="unit", strength=1.0) for i in range(self.latent_dim)]


def build(config, metadata, device):
    cfg = {"image_shape": [1, 16, 16], **config}
    return LinearToy(nn.Linear(cfg["latent_dim"], 256), cfg, metadata, device)


def claims(path):
    return path.suffix == ".lineartoy"


def open(path, device):  # noqa: A001 - the plugin interface's name
    cfg = json.loads(path.read_text())
    torch.manual_seed(int(cfg.get("seed", 0)))
    return build({"latent_dim": int(cfg["latent_dim"])}, {"name": path.stem}, device)

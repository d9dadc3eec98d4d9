"""Small models "made elsewhere", written the way their users would write them (tests only).

* :func:`write_pt2` -- a conv decoder of our own exported with ``torch.export.save`` and a manifest in
  ``extra_files`` (optionally an encoder ``NAME.encoder.pt2``);
* :func:`write_onnx` -- the same decoder via ``torch.onnx.export`` with the manifest in
  ``metadata_props`` (or beside it as ``NAME.latent-explorer.json``);
* :func:`write_hf` -- a tiny random diffusers ``AutoencoderKL`` saved with ``save_pretrained``;
* :func:`installed_plugin` -- a fixture that installs ``tests/plugin_pkg`` (families ``linear-toy`` and
  ``slow-toy``) for one test, through a dist-info with entry points on ``sys.path``.
"""
from __future__ import annotations

import io
import json
import sys
import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

LATENT = 6
SHAPE = (1, 28, 28)
ROOT = Path(__file__).resolve().parent.parent


class SmallDecoder(nn.Module):
    """z (N, 6) -> (N, C, H, W) on [-1, 1] (tanh) or [0, 1] (sigmoid); ``broken``: "nan" or "shape"."""

    def __init__(self, latent: int = LATENT, shape=SHAPE, out: str = "sigmoid", broken: str = "") -> None:
        super().__init__()
        torch.manual_seed(0)
        c, h, w = shape
        self.shape, self.out, self.broken = shape, out, broken
        self.fc = nn.Linear(latent, 16 * (h // 4) * (w // 4))
        self.up = nn.Sequential(nn.ConvTranspose2d(16, 8, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(8, c, 4, 2, 1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        c, h, w = self.shape
        x = self.up(self.fc(z).reshape(-1, 16, h // 4, w // 4)) * 3.0
        x = torch.tanh(x) if self.out == "tanh" else torch.sigmoid(x)
        if self.broken == "nan":
            x = x * float("nan")
        elif self.broken == "shape":
            x = x[:, :, : h // 2]
        return x


class SmallEncoder(nn.Module):
    def __init__(self, latent: int = LATENT, shape=SHAPE) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(shape[0] * shape[1] * shape[2], latent))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def manifest(latent: int = LATENT, shape=SHAPE, rng=(0, 1), **extra) -> str:
    return json.dumps({"latent_dim": latent, "image_shape": list(shape), "output_range": list(rng),
                       "name": "small decoder", **extra})


def export_program(module: nn.Module, example: torch.Tensor, name: str):
    batch = torch.export.Dim("batch", min=1, max=4096)
    with torch.no_grad():
        return torch.export.export(module.eval(), (example,), dynamic_shapes={name: {0: batch}})


def write_pt2(folder: Path, *, stem: str = "small", decoder: nn.Module | None = None, encoder: bool = False,
              manifest_text: str | None = None, shape=SHAPE, latent: int = LATENT) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    decoder = decoder or SmallDecoder(latent, shape)
    ep = export_program(decoder, torch.randn(2, latent), "z")
    extra = {"latent-explorer.json": manifest_text if manifest_text is not None else manifest(latent, shape)}
    path = folder / f"{stem}.pt2"
    torch.export.save(ep, path, extra_files=extra)
    if encoder:
        torch.export.save(export_program(SmallEncoder(latent, shape), torch.rand(2, *shape), "x"),
                          folder / f"{stem}.encoder.pt2")
    return path


def onnx_bytes(module: nn.Module, example: torch.Tensor, name: str, manifest_text: str | None = None) -> bytes:
    import onnx

    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), (example,), buf, input_names=[name], output_names=["out"],
                          dynamic_axes={name: {0: "batch"}, "out": {0: "batch"}}, dynamo=False)
    proto = onnx.load_from_string(buf.getvalue())
    if manifest_text is not None:
        entry = proto.metadata_props.add()
        entry.key, entry.value = "latent-explorer", manifest_text
    return proto.SerializeToString()


def write_onnx(folder: Path, *, stem: str = "small", decoder: nn.Module | None = None, sidecar: bool = False,
               manifest_text: str | None = None, shape=SHAPE, latent: int = LATENT) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = manifest_text if manifest_text is not None else manifest(latent, shape)
    path = folder / f"{stem}.onnx"
    path.write_bytes(onnx_bytes(decoder or SmallDecoder(latent, shape), torch.randn(2, latent), "z",
                                None if sidecar else text))
    if sidecar:
        (folder / f"{stem}.latent-explorer.json").write_text(text)
    return path


def write_hf(folder: Path, samples: bool = True) -> Path:
    """A tiny random AutoencoderKL (3x32x32 images, 4x16x16 latent) and a few sample images."""
    from diffusers import AutoencoderKL

    torch.manual_seed(0)
    AutoencoderKL(block_out_channels=(32, 32), down_block_types=("DownEncoderBlock2D",) * 2,
                  up_block_types=("UpDecoderBlock2D",) * 2, latent_channels=4, sample_size=32,
                  layers_per_block=1, norm_num_groups=32).save_pretrained(folder)
    if samples:
        from PIL import Image

        (folder / "samples").mkdir(exist_ok=True)
        gen = torch.Generator().manual_seed(0)
        for i in range(12):
            a = (torch.rand(8, 8, 3, generator=gen) * 255).byte().numpy()
            Image.fromarray(a).resize((32, 32)).save(folder / "samples" / f"s{i}.png")
    return folder


@pytest.fixture
def installed_plugin(tmp_path, monkeypatch):
    """tests/plugin_pkg installed for this test: a dist-info with its entry points on sys.path."""
    dist = tmp_path / "site" / "le_test_plugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: le-test-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[latent_explorer.families]\nlinear-toy = le_test_plugin\n"
                                           "slow-toy = le_test_plugin.slow\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.syspath_prepend(str(ROOT / "tests" / "plugin_pkg"))
    yield
    for name in ("le_test_plugin", "le_test_plugin.slow"):
        sys.modules.pop(name, None)


def write_slow(folder: Path, *, seconds: float = 2.0, latent: int = 3, stem: str = "slow") -> Path:
    """A ``.slowtoy`` file of the test plugin family ``slow-toy`` (needs :func:`installed_plugin`):
    every decode takes ``seconds`` unless ``le_test_plugin.slow.RELEASE`` is set."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.slowtoy"
    path.write_text(json.dumps({"latent_dim": latent, "seed": 3, "seconds": seconds}))
    return path

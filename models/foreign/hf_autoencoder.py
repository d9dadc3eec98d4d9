"""Hugging Face ``AutoencoderKL`` folders (diffusers): ``config.json`` + ``diffusion_pytorch_model.safetensors``.

Safety: ``config.json`` is parsed as JSON and its sizes bounded; the architecture is built by
diffusers' own class from it on PyTorch's ``meta`` device first and its tensor names and shapes are
compared with the safetensors header before any weight is read; weights are read only from
safetensors (a folder holding only ``.bin`` pickles is refused -- nothing is unpickled).

The latent of an ``AutoencoderKL`` is spatial (``latent_channels x H/f x W/f``) and not N(0, I), so it
is explored in the plane its data actually spans: images are encoded (the folder's ``samples/``
images, or a folder passed to :func:`fit_directions`; with neither, seeded smooth random colour fields,
said so in the labels), scaled as diffusion models use them, u = s (mu(x) - shift) with ``s`` the
config's ``scaling_factor``, flattened, and their principal components taken:

    u = m + sum_j c_j sigma_j v_j,        c ~ N(0, I)   (k = min(64, n - 1) components)

The model's latent is ``c`` (``latent_dim = k``): sliders move along the components (strongest first,
labelled with their share of variance), sampling draws c from N(0, I), and decoding is
``vae.decode(u / s + shift)``.  The fit (m, v_j, sigma_j) is stored beside the model
(``latent-explorer-pca.safetensors``, keyed by the weights' and samples' fingerprint), so the next
open is instant.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from ..base import Direction
from ..errors import first_line, printable_name
from ..tensor_source import checkpoint_error as _err
from .decoder_model import DecoderModel, Programs
from .sidecars import fingerprint
from .manifest import Manifest

WEIGHTS = "diffusion_pytorch_model.safetensors"
PCA_FILE = "latent-explorer-pca.safetensors"
MAX_COMPONENTS = 64
MAX_SAMPLES = 256
SYNTHETIC = 128
SEED = 1234


class AutoencoderKLModel(DecoderModel):
    family = "autoencoder-kl"
    checks_range = False     # diffusers decoders are unbounded by design; values are clipped to [-1, 1]

    def __init__(self, *args, explained: list[float], **kwargs) -> None:
        self._explained = explained
        super().__init__(*args, **kwargs)

    def directions(self) -> list[Direction]:
        eye = torch.eye(self.latent_dim)
        return [Direction(name=f"PC{j}", vector=eye[j], label=f"{100 * r:.1f}% var", strength=float(r))
                for j, r in enumerate(self._explained)]


def _config(p: Path) -> dict:
    cfg_p = p / "config.json"
    if cfg_p.stat().st_size > 1 << 20:
        raise _err(p, "its config.json is larger than 1 MiB; the folder is damaged.")
    try:
        cfg = json.loads(cfg_p.read_bytes())
    except (ValueError, RecursionError):
        raise _err(p, "its config.json is not valid JSON; the folder is damaged.") from None
    if not isinstance(cfg, dict):
        raise _err(p, "its config.json is not a JSON object.")
    cls = cfg.get("_class_name")
    if cls != "AutoencoderKL":
        raise _err(p, f"a Hugging Face folder for {printable_name(str(cls), 40)}, not an AutoencoderKL; only "
                      f"AutoencoderKL folders (e.g. a Stable Diffusion 'vae' folder) can be opened.")
    blocks = cfg.get("block_out_channels", [64])
    size = cfg.get("sample_size", 32)
    if isinstance(size, (list, tuple)):
        size = size[0] if size else 32
    if not (isinstance(blocks, list) and 1 <= len(blocks) <= 8 and all(isinstance(b, int) and 1 <= b <= 4096
                                                                     for b in blocks)
            and isinstance(size, int) and 8 <= size <= 2048 and cfg.get("in_channels", 3) in (1, 3)
            and cfg.get("out_channels", 3) in (1, 3) and isinstance(cfg.get("latent_channels", 4), int)
            and 1 <= cfg.get("latent_channels", 4) <= 64):
        raise _err(p, "its config.json describes an AutoencoderKL outside the sizes this app opens (1-8 blocks "
                      "of at most 4096 channels, sample_size 8-2048, 1 or 3 image channels).")
    return cfg


def _weights(p: Path):
    from ..safetensors_reader import read_safetensors

    w = p / WEIGHTS
    if not w.is_file():
        pickles = sorted(x.name for x in p.glob("*.bin")) + sorted(x.name for x in p.glob("*.ckpt"))
        if pickles:
            raise _err(p, f"its weights are only in {printable_name(pickles[0], 60)}, a pickle, which is never "
                          f"unpickled here. Convert it: AutoencoderKL.from_pretrained(folder).save_pretrained("
                          f"folder, safe_serialization=True) where you trust the file.")
        raise _err(p, f"no {WEIGHTS} in the folder; save the model with save_pretrained().")
    fh = open(w, "rb")
    with fh:
        return read_safetensors(w, fh, os.stat(w).st_size, fh.read(64))


def _build(p: Path, cfg: dict):
    try:
        from diffusers import AutoencoderKL
    except ImportError:
        from . import missing_extra

        raise missing_extra(p, "diffusers", "hf") from None
    args = {k: v for k, v in cfg.items() if not k.startswith("_")}
    source = _weights(p)
    try:
        with torch.device("meta"):
            probe = AutoencoderKL.from_config(args)
        expected = {k: tuple(v.shape) for k, v in probe.state_dict().items()}
    except Exception as exc:  # noqa: BLE001 - constructor arguments come from the file
        raise _err(p, f"its config.json does not build an AutoencoderKL ({first_line(exc, 140)}).") from None
    if set(expected) != set(source.specs) or any(source.specs[k].shape != s for k, s in expected.items()):
        bad = sorted(set(expected) ^ set(source.specs)) or [k for k, s in expected.items()
                                                              if source.specs[k].shape != s]
        raise _err(p, f"its weights do not match config.json (e.g. {printable_name(bad[0], 60)}); the folder "
                      f"mixes files of different models.")
    tensors = source.load(list(expected))
    if not all(bool(torch.isfinite(t).all()) for t in tensors.values() if t.dtype.is_floating_point):
        raise _err(p, "its weights contain NaN or infinite values.")
    vae = AutoencoderKL.from_config(args)
    vae.load_state_dict({k: t.float() for k, t in tensors.items()})
    return vae.eval()


def _images(p: Path, shape: tuple[int, int, int], folder: Path | None) -> tuple[torch.Tensor, str]:
    from ..imaging import from_uint8
    from ..intake import take_in

    folder = folder or (p / "samples")
    if folder.is_dir():
        try:
            results = take_in(folder, image_shape=shape, max_images=MAX_SAMPLES)
            return from_uint8(torch.stack([r.uint8 for r in results])), f"{len(results)} images in {folder.name}/"
        except Exception:  # noqa: BLE001 - no usable image: fall back to synthetic fields
            pass
    gen = torch.Generator().manual_seed(SEED)
    low = torch.rand(SYNTHETIC, shape[0], 4, 4, generator=gen)
    x = torch.nn.functional.interpolate(low, size=shape[1:], mode="bicubic", align_corners=False)
    return x.clamp(0, 1), "synthetic smooth images (no samples/ folder)"


@torch.no_grad()
def fit_directions(p: Path, vae, cfg: dict, shape, folder: Path | None = None) -> dict[str, torch.Tensor]:
    """The PCA of encoded images (see the module docstring) as tensors mean, components, sigma, explained."""
    x, source = _images(p, shape, folder)
    sf, shift = float(cfg.get("scaling_factor") or 0.18215), float(cfg.get("shift_factor") or 0.0)
    u = torch.cat([(vae.encode(x[i:i + 16] * 2 - 1).latent_dist.mean - shift) * sf
                   for i in range(0, len(x), 16)]).flatten(1).double()
    mean = u.mean(0)
    _, s, vt = torch.linalg.svd(u - mean, full_matrices=False)
    k = max(1, min(MAX_COMPONENTS, len(u) - 1, u.shape[1]))
    sigma = (s[:k] / max(len(u) - 1, 1) ** 0.5).clamp_min(1e-6)
    explained = s[:k] ** 2 / max(float((s ** 2).sum()), 1e-12)
    return {"mean": mean.float(), "components": vt[:k].float().contiguous(), "sigma": sigma.float(),
            "explained": explained.float(), "source": source}


def _pca(p: Path, vae, cfg, shape, key: str) -> dict:
    from safetensors import safe_open
    from safetensors.torch import save

    from ..atomic_io import atomic_write_bytes

    place = p / PCA_FILE
    try:
        with safe_open(str(place), framework="pt") as f:
            if (f.metadata() or {}).get("fingerprint") == key:
                fit = {k: f.get_tensor(k) for k in ("mean", "components", "sigma", "explained")}
                fit["source"] = f.metadata().get("source", "")
                if all(bool(torch.isfinite(t).all()) for t in fit.values() if isinstance(t, torch.Tensor)):
                    return fit
    except Exception:  # noqa: BLE001 - missing or damaged: recompute
        pass
    fit = fit_directions(p, vae, cfg, shape)
    try:
        atomic_write_bytes(place, save({k: v for k, v in fit.items() if k != "source"},
                                       metadata={"fingerprint": key, "source": fit["source"]}))
    except OSError:
        pass
    return fit


def open_folder(p: Path) -> AutoencoderKLModel:
    cfg = _config(p)
    vae = _build(p, cfg)
    size = cfg.get("sample_size", 32)
    size = size[0] if isinstance(size, (list, tuple)) else size
    shape = (int(cfg.get("out_channels", 3)), int(size), int(size))
    samples = sorted((p / "samples").glob("*")) if (p / "samples").is_dir() else []
    key = fingerprint(p / "config.json", p / WEIGHTS, extra="|".join(f"{s.name}:{s.stat().st_size}" for s in samples))
    fit = _pca(p, vae, cfg, shape, key)
    sf, shift = float(cfg.get("scaling_factor") or 0.18215), float(cfg.get("shift_factor") or 0.0)
    f = 2 ** (len(cfg.get("block_out_channels", [64])) - 1)
    lat_shape = (int(cfg.get("latent_channels", 4)), shape[1] // f, shape[2] // f)
    net = Programs({"vae": vae})
    mean, comps, sigma = fit["mean"], fit["components"], fit["sigma"]

    def decode_raw(c: torch.Tensor) -> torch.Tensor:
        dev = c.device
        u = mean.to(dev) + (c * sigma.to(dev)) @ comps.to(dev)
        return net["vae"].decode(u.reshape(-1, *lat_shape) / sf + shift).sample

    def encode_raw(x: torch.Tensor) -> torch.Tensor:
        dev = x.device
        u = ((net["vae"].encode(x).latent_dist.mean - shift) * sf).flatten(1)
        return ((u - mean.to(dev)) @ comps.to(dev).T) / sigma.to(dev)

    man = Manifest(latent_dim=int(comps.shape[0]), image_shape=shape, output_range=(-1.0, 1.0), name=p.name,
                   source="none needed: config.json (diffusers) says the shapes")
    model = AutoencoderKLModel(p, man, decode_raw, encode_raw, net=net, fmt="diffusers AutoencoderKL", key=key,
                               explained=[float(v) for v in fit["explained"]],
                               metadata={"directions_from": fit["source"], "scaling_factor": sf}, device="cpu")
    return model.probe()

"""latent-explorer score [--model FILE] [--k K] [--json] PATH...

Each PATH is an image file (anything Pillow opens), a directory of images (searched recursively; files
with an image suffix or .npy), or a ``.npy`` array at the model's size -- (N, H, W), (N, C, H, W) or
(N, H, W, C), uint8 0-255.  Every input is taken in by :func:`models.intake.take_in` for *this* model: a
colour model keeps a picture's colour, a Fashion-MNIST model frames it like Fashion-MNIST.
``--explain DIR`` also writes why (:mod:`models.ood_explain`): a PNG per image -- the image, its heat map
(model bits minus a local model's bits per pixel; VAE) and its five nearest training images -- and
``DIR/explain.json``.  Prints a table, or with ``--json`` one JSON list of objects with exactly the fields
``source, index, log_likelihood_nats, bits_per_dim, ood_statistic, percentile, verdict, method, approximate``
(true when the verdict rests on an approximation, e.g. a GAN's inversion, not a likelihood), in the
order of the inputs.

A file that cannot be read gets one line on stderr and the others are still scored; in ``--json`` it is
also a row, with ``index``, the numbers, ``verdict`` and ``method`` null and one more field, ``error``
(the same message).  Exit status: 0 when every input was scored, 1 when some inputs failed (the rest
are printed), 2 when nothing could be scored or the model cannot be loaded.

Under torchrun (``torchrun --nproc_per_node=N -m explorer score ...``) every rank reads the inputs, the
batches of ``--batch-size`` images are dealt to the ranks in turn (:func:`models.distributed.my_batches`),
and rank 0 gathers the rows and prints the one table or JSON, in input order and with the same numbers
as one process (each image is scored in the same batch); the other ranks print nothing.
``--explain DIR``: each rank writes its images' PNGs, rank 0 ``explain.json``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

#: Images per scoring batch (``--batch-size``); the progress bar appears when there is more than one batch.
BATCH = 64
FIELDS = ("source", "index", "log_likelihood_nats", "bits_per_dim", "ood_statistic", "percentile", "verdict",
          "method", "approximate")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", metavar="PATH", help="image file, directory of images, or .npy array")
    p.add_argument("--model", default=None, help="checkpoint (default: the bundled VAE)")
    p.add_argument("--k", type=int, default=None,
                   help="importance samples of the VAE likelihood (default 32, models.scoring.DEFAULT_K)")
    p.add_argument("--json", action="store_true", help="print one JSON list (stable field names)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--batch-size", type=int, default=BATCH, metavar="N",
                   help=f"images per scoring batch (default {BATCH}); under torchrun the batches are dealt "
                        "to the ranks in turn")
    p.add_argument("--explain", default=None, metavar="DIR",
                   help="also write why into DIR: per image a PNG (the image, its heat map of model bits minus "
                        "local bits, the five nearest training images) and explain.json")
    p.epilog = ("Exit status: 0 every input scored; 1 some inputs could not be read (each named on stderr, "
                "the rest printed); 2 nothing scored, or the model cannot be loaded or has no calibration.")


def _err(msg: str) -> None:
    print(f"latent-explorer: error: {msg}", file=sys.stderr)


def collect(paths: list[str], model=None):
    """Yield (source, index, uint8 (C, H, W) tensor) per image, or (source, None, message) per failure.

    Every path goes through :func:`models.intake.take_in` in ``model``'s shape and framing (default
    1x28x28 Fashion-MNIST framing), which owns the accepted suffixes."""
    from models.intake import (
        ARRAY_SUFFIXES,
        IMAGE_SUFFIXES,
        IntakeError,
        folder_files,
        take_in,
    )

    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files = folder_files(p)
            if not files:
                yield raw, None, (f"{raw}: no image files in this directory (looked for "
                                  f"{', '.join(IMAGE_SUFFIXES + ARRAY_SUFFIXES)})")
            items = [str(f) for f in files]
        else:
            items = [raw]
        for item in items:
            try:
                results = take_in(item, model=model, name=item, max_images=None)
            except IntakeError as exc:
                yield item, None, str(exc)
                continue
            for r in results:
                yield item, r.index, r.uint8


def run(args: argparse.Namespace) -> int:
    from models import distributed

    device = distributed.setup(args.device)     # joins the process group under torchrun, else a no-op
    rank = distributed.rank()
    try:
        status = _run(args, device)
    except BaseException as exc:
        distributed.teardown(wait=False)        # another rank may never reach a barrier now
        from explorer.errors import is_user_error

        if rank and is_user_error(exc):         # every rank meets the same bad argument: rank 0 says it
            return 2
        raise
    distributed.teardown()
    return status


def _run(args: argparse.Namespace, device: str) -> int:
    import models
    from explorer.errors import UserError
    from models import distributed

    main = distributed.is_main()
    if args.k is not None and args.k < 1:
        raise UserError("--k must be at least 1")
    if args.batch_size < 1:
        raise UserError("--batch-size must be at least 1")
    model_path = args.model or str(models.bundled("vae"))
    if args.model is None and not Path(model_path).exists():
        raise UserError(f"the bundled VAE {model_path} is missing; pass --model FILE")

    model = models.load(model_path, device=device)
    ok: list[tuple[str, int, object]] = []
    failed: list[tuple[int, dict]] = []  # (how many inputs were scored before it, its JSON row)
    for source, index, value in collect(args.paths, model):
        if index is None:
            if main:
                _err(value)
            failed.append((len(ok), _failed_row(source, value)))
        else:
            ok.append((source, index, value))
    _same_inputs_on_every_rank(ok, failed)
    if not ok:
        if main:
            _err("no image could be scored")
            if args.json:
                print(json.dumps([row for _, row in failed], indent=1))
        return 2

    import torch
    from tqdm import tqdm

    from models import scoring

    scoring.calibration_of(model)  # fail early (one line) when the model has no calibration
    mine = distributed.my_batches(len(ok), args.batch_size)
    n_batches = (len(ok) + args.batch_size - 1) // args.batch_size
    bar = tqdm(total=sum(len(b) for b in mine), unit="img", file=sys.stderr, desc="scoring", dynamic_ncols=True,
               disable=args.quiet or n_batches < 2 or not main)
    done: list = []    # [first position, its rows, its explain.json records] per batch of this rank
    for b in mine:
        chunk = [ok[i] for i in b]
        x = torch.stack([t for _, _, t in chunk])
        records = []
        if args.explain:
            exps = scoring.explain(model, x, k=args.k)
            records = _explanation_pngs(Path(args.explain), b.start, chunk, exps)
            scores = [e.score for e in exps]
        else:
            scores = model.score(x, k=args.k)
        rows = [{"source": source, "index": index, **s.to_dict()} for (source, index, _), s in zip(chunk, scores)]
        done.append([b.start, [{k: r[k] for k in FIELDS} for r in rows], records])
        bar.update(len(chunk))
    bar.close()
    if not main:
        distributed.all_gather_json(done)
        return 1 if failed else 0
    done = sorted((d for part in distributed.all_gather_json(done) for d in part), key=lambda d: d[0])
    rows = [r for _, batch_rows, _ in done for r in batch_rows]
    if args.explain:
        from models.atomic_io import atomic_write_bytes

        records = [rec for _, _, batch_records in done for rec in batch_records]
        atomic_write_bytes(Path(args.explain) / "explain.json", json.dumps(records, indent=1).encode())
    if args.json:
        print(json.dumps(_with_failures(rows, failed), indent=1))
    else:
        _table(rows, model)
    return 1 if failed else 0


def _same_inputs_on_every_rank(ok: list, failed: list) -> None:
    """Under torchrun every rank reads every input; the batches are only dealt out right if all of them
    read the same images (a file changed between two ranks' reads would shift every row after it)."""
    from models import distributed

    if not distributed.active():
        return
    h = hashlib.sha256(json.dumps(failed).encode())
    for source, index, t in ok:
        h.update(f"{source}\0{index}\0".encode())
        h.update(t.numpy().tobytes())
    if len(set(distributed.all_gather_json(h.hexdigest()))) > 1:
        from explorer.errors import UserError

        raise UserError("the inputs changed while the ranks were reading them (they read different images); "
                        "score them again")


def _explanation_pngs(folder: Path, start: int, chunk: list, exps: list) -> list[dict]:
    """Per image ``NNNN.png`` (NNNN: its position among the scored inputs) -- the image, its heat map,
    the five nearest training images, 4x -- and its ``explain.json`` record (verdict, the heat map's
    total and peak bits, and the neighbours' classes)."""
    import numpy as np
    from PIL import Image

    from models.ood_explain import heat_rgb

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, ((source, index, x), e) in enumerate(zip(chunk, exps), start):
        def rgb(a):
            a = np.asarray(a)
            return np.repeat(a, 3, 0) if a.shape[0] == 1 else a
        tiles = [rgb(x.numpy())]
        if e.heat is not None:
            tiles.append(heat_rgb(e.heat))
        tiles += [rgb(n.image) for n in e.neighbours]
        gap = np.full((3, tiles[0].shape[1], 2), 90, np.uint8)
        strip = np.concatenate([t for tile in tiles for t in (tile, gap)][:-1], axis=2)
        png = folder / f"{i:04d}.png"
        img = Image.fromarray(np.ascontiguousarray(strip.transpose(1, 2, 0))).resize((strip.shape[2] * 4, strip.shape[1] * 4), Image.Resampling.NEAREST)
        img.save(png)
        sc = e.score
        out.append({"source": source, "index": index, "png": png.name,
                    "verdict": None if sc is None else sc.verdict,
                    "ood_statistic": None if sc is None else sc.ood_statistic,
                    "percentile": None if sc is None else sc.percentile,
                    "heat_bits_total": None if e.heat is None else float(np.clip(e.heat, 0, None).sum()),
                    "heat_bits_peak": None if e.heat is None else float(e.heat.max()),
                    "neighbours": [{"class": n.class_name, "distance": round(n.distance, 4),
                                    "train_index": n.train_index} for n in e.neighbours]})
    return out


def _failed_row(source: str, message: str) -> dict:
    """The JSON row of an input that could not be scored: the usual fields (null) and ``error``."""
    return {**{k: None for k in FIELDS}, "source": source, "error": message}


def _with_failures(rows: list[dict], failed: list[tuple[int, dict]]) -> list[dict]:
    """Scored rows with the failed inputs' rows put back where they came in the input."""
    out: list[dict] = []
    at = 0
    for before, row in failed:
        out += rows[at:before]
        out.append(row)
        at = before
    return out + rows[at:]


def _table(rows: list[dict], model) -> None:
    def num(v, fmt):
        return "—" if v is None else format(v, fmt)

    width = min(48, max(len("source"), *(len(_label(r)) for r in rows)))
    print(f"model: {model.name}   method: {rows[0]['method']}")
    print(f"{'source':<{width}}  {'log p (nats)':>12}  {'bits/dim':>8}  {'statistic':>9}  {'pctile':>6}  verdict")
    for r in rows:
        label = _label(r)
        if len(label) > width:
            label = "…" + label[-(width - 1):]
        print(f"{label:<{width}}  {num(r['log_likelihood_nats'], '12.1f')}  {num(r['bits_per_dim'], '8.3f')}  "
              f"{r['ood_statistic']:9.2f}  {r['percentile']:6.1f}  {r['verdict']}"
              f"{' (approximation: no likelihood)' if r.get('approximate') else ''}")
    n_ood = sum(r["verdict"] != "in-distribution" for r in rows)
    print(f"{len(rows)} {'image' if len(rows) == 1 else 'images'}, {n_ood} out of distribution")


def _label(r: dict) -> str:
    return f"{r['source']}[{r['index']}]" if r["source"].lower().endswith(".npy") else r["source"]

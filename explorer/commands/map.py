"""latent-explorer map MODEL [--data fashion-mnist|FOLDER] [--split train|test|all] [--max-images N]
                         [--method pca|umap|tsne] --out map.png [--csv coords.csv] [--no-cache]

The latent map headless (:mod:`models.latent_map`): every image of a data set encoded by the model
and projected to 2-D, written as a picture (:mod:`models.map_picture`, points coloured by class)
and, with ``--csv``, as coordinates (``index,label,class,x,y``; ``index`` is the image's position in
the data set, see :mod:`models.map_data`).  ``--data`` defaults to Fashion-MNIST for a model of
Fashion-MNIST's kind and to the model's own domain otherwise (its data folder, or its samples).
Codes and UMAP/t-SNE embeddings are cached beside the model (:mod:`models.map_cache`), so a second
run is quick; ``--no-cache`` neither reads nor writes the cache.  Progress goes to stderr.
"""
from __future__ import annotations

import argparse
import json
import sys
import time


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="model checkpoint")
    p.add_argument("--data", default=None, metavar="fashion-mnist|FOLDER",
                   help="images to map: fashion-mnist, or a folder (sub-folders are classes); default: "
                        "Fashion-MNIST for Fashion-MNIST models, else the model's own domain")
    p.add_argument("--split", default="train", choices=("train", "test", "all"),
                   help="Fashion-MNIST split: train (60,000), test (10,000) or all (70,000); default train")
    p.add_argument("--max-images", type=int, default=None, metavar="N",
                   help="map a seeded random subset of N images (index still names the original image)")
    p.add_argument("--method", default="pca", choices=("pca", "umap", "tsne", "directions"),
                   help="projection (default pca; umap and tsne are seeded, and slower)")
    p.add_argument("--out", required=True, help="picture to write: .png, .jpg or .webp (by its suffix)")
    p.add_argument("--csv", default=None, metavar="FILE", help="also write index,label,class,x,y per point")
    p.add_argument("--size", default="1000x860", metavar="WxH", help="picture size in pixels (default 1000x860)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the map cache")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true", help="print a JSON summary instead of a sentence")


def _size(text: str) -> tuple[int, int]:
    from explorer.errors import UserError

    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UserError(f"--size {text}: give WIDTHxHEIGHT, e.g. 1000x860") from None
    if not (200 <= w <= 8000 and 200 <= h <= 8000):
        raise UserError(f"--size {text}: each side must be between 200 and 8000 pixels")
    return w, h


def write_csv(path, lm) -> None:
    """index,label,class,x,y per point, atomically."""
    import io

    from models.atomic_io import atomic_write_bytes

    buf = io.StringIO()
    buf.write("index,label,class,x,y\n")
    names = [c.replace('"', "'") for c in lm.classes]
    for i, lab, (x, y) in zip(lm.index.tolist(), lm.labels.tolist(), lm.xy.tolist()):
        cls = names[lab] if 0 <= lab < len(names) else ""
        buf.write(f'{i},{lab},"{cls}",{x:.6g},{y:.6g}\n')
    atomic_write_bytes(path, buf.getvalue().encode("utf-8"))


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import models
    from explorer.errors import UserError
    from models import map_picture
    from models.latent_map import build
    from models.map_data import is_fashion_mnist_model

    from .image_files import check_out_path, write_image

    out = check_out_path(args.out)
    size = _size(args.size)
    if args.max_images is not None and args.max_images < 5:
        raise UserError(f"--max-images must be at least 5, got {args.max_images}")
    if args.csv is not None and not Path(args.csv).expanduser().resolve().parent.is_dir():
        raise UserError(f"--csv {args.csv}: its folder does not exist")
    started = time.perf_counter()
    model = models.load(args.checkpoint, device=args.device)
    data = args.data or ("fashion-mnist" if is_fashion_mnist_model(model) else None)
    last = [0.0]

    def progress(fraction: float, text: str) -> None:
        now = time.perf_counter()
        if now - last[0] > 1.0 or fraction >= 1.0:
            last[0] = now
            print(f"\r[{100 * fraction:3.0f}%] {text}".ljust(70), end="", file=sys.stderr, flush=True)

    lm = build(model, method=args.method, data=data, split=args.split, max_images=args.max_images,
               cache=not args.no_cache, progress=progress if sys.stderr.isatty() else None)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    method = {"pca": "PCA", "umap": "UMAP", "tsne": "t-SNE", "directions": "slider directions"}[args.method]
    pixels = map_picture.render(lm.xy, lm.labels, lm.classes, title=f"{model.name}: {lm.source}, {method}",
                                axis_labels=lm.axis_labels, size=size)
    write_image(pixels, out)
    if args.csv is not None:
        write_csv(Path(args.csv).expanduser(), lm)
    seconds = time.perf_counter() - started
    summary = {"out": str(out), "csv": args.csv, "model": model.name, "points": len(lm), "method": args.method,
               "source": lm.source, "cached": lm.cached, "seconds": round(seconds, 2)}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"wrote {out}{' and ' + args.csv if args.csv else ''}: {len(lm):,} points ({lm.source}), "
              f"{method}, in {seconds:.1f} s{' (codes from the map cache)' if lm.cached else ''}")
    return 0

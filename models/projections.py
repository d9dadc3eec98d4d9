"""2-D embeddings of latent codes: PCA (linear, exact inverse), UMAP and t-SNE (non-linear).

* ``"pca"``: the two principal axes of the codes (:func:`pca_axes`); a map point
  (x, y) decodes through ``mean + x * axis1 + y * axis2``, exactly the point of the plane.
* ``"umap"``: umap-learn (McInnes et al. 2018), 15 neighbours, ``min_dist`` 0.1, ``random_state``
  fixed (:data:`SEED`), 200 epochs above 10,000 points and 500 below (umap's own default).
* ``"tsne"``: scikit-learn's Barnes-Hut t-SNE, perplexity 30 (less for tiny sets), PCA initialisation,
  ``random_state`` fixed, 1,000 iterations (500 above 20,000 points).

Neither non-linear method has an inverse, nor places a new code without refitting: the map inverts
and projects those through the nearest encoded image (:class:`models.latent_map.LatentMap`).

**Progress and cancel.**  ``progress(fraction, text)`` is called between stages and during the
optimisation (UMAP's epochs through its tqdm bar, t-SNE's iteration reports); it may raise (e.g.
:class:`models.errors.Cancelled`) to stop the work.  UMAP's numba code holds the GIL for long
stretches, so the app runs both in a child process (:func:`embed_in_child`): the parent stays free to
render, and cancel ends the child at once.  ``python -m models.projections IN.npy OUT.npz METHOD SEED
PROGRESS`` is that child.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import LatentExplorerError

METHODS = ("pca", "umap", "tsne")
LINEAR = ("pca", "directions")
SEED = 0
Progress = Callable[[float, str], None]


class ProjectionError(LatentExplorerError):
    """A projection could not be computed (a missing package, too few points)."""


@dataclass
class Embedding:
    xy: np.ndarray                  # (N, 2) float32
    method: str
    mean: np.ndarray | None = None  # (D,) for linear maps
    axes: np.ndarray | None = None  # (2, D) rows, for linear maps
    axis_labels: tuple[str, str] = ("", "")
    explained: tuple[float, float] = (0.0, 0.0)


def _say(progress: Progress | None, fraction: float, text: str) -> None:
    if progress is not None:
        progress(float(fraction), text)


def pca_axes(z: np.ndarray, k: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean (D,), axes (k, D) orthonormal, explained-variance fractions (k,)) by SVD.

    Each axis's sign is fixed so that its largest-magnitude weight is positive (deterministic)."""
    z = np.asarray(z, dtype=np.float64)
    mean = z.mean(0)
    _, s, vt = np.linalg.svd(z - mean, full_matrices=False)
    axes = vt[:k].copy()
    for i in range(axes.shape[0]):
        if axes[i, np.argmax(np.abs(axes[i]))] < 0:
            axes[i] = -axes[i]
    var = s ** 2
    return mean, axes, var[:k] / max(var.sum(), 1e-12)


def pca(z: np.ndarray) -> Embedding:
    mean, axes, explained = pca_axes(z)
    xy = ((np.asarray(z, np.float64) - mean) @ axes.T).astype(np.float32)
    return Embedding(xy, "pca", mean.astype(np.float32), axes.astype(np.float32),
                     (f"PC 1 ({100 * explained[0]:.0f}% of variance)", f"PC 2 ({100 * explained[1]:.0f}%)"),
                     (float(explained[0]), float(explained[1])))


class _ProgressFile(io.TextIOBase):
    """A text stream that turns what a library prints into ``progress`` calls: tqdm's ``n/total``
    bar and t-SNE's ``Iteration N`` lines."""

    def __init__(self, progress: Progress | None, start: float, span: float, total: int, label: str) -> None:
        super().__init__()
        self.progress, self.start, self.span, self.total, self.label = progress, start, span, max(total, 1), label

    def write(self, s: str) -> int:
        m = re.findall(r"(\d+)/(\d+)", s) or [(n, self.total) for n in re.findall(r"Iteration (\d+)", s)]
        if m:
            n, total = int(m[-1][0]), int(m[-1][1])
            _say(self.progress, self.start + self.span * min(n / max(total, 1), 1.0),
                 f"{self.label} {n}/{total}")
        return len(s)

    def flush(self) -> None:
        pass


def umap(z: np.ndarray, seed: int = SEED, progress: Progress | None = None) -> Embedding:
    try:
        _say(progress, 0.0, "UMAP: loading umap-learn (the first time compiles for ~15 s)")
        import umap as umap_learn
    except ImportError:
        raise ProjectionError("UMAP needs umap-learn: pip install 'latent-explorer[map]' "
                              "(or pip install umap-learn)") from None
    n = len(z)
    if n < 4:
        raise ProjectionError(f"UMAP needs at least 4 points (got {n})")
    epochs = 200 if n > 10_000 else 500
    _say(progress, 0.05, f"UMAP: finding neighbours of {n:,} codes")
    bar = _ProgressFile(progress, 0.3, 0.7, epochs, "UMAP: epoch")
    reducer = umap_learn.UMAP(n_neighbors=min(15, n - 1), min_dist=0.1, n_components=2, random_state=seed,
                              n_epochs=epochs, init="spectral" if n > 20 else "random",
                              tqdm_kwds={"disable": progress is None, "file": bar, "mininterval": 0.25,
                                         "bar_format": "{n}/{total}"})
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # "n_jobs overridden by setting random_state": wanted
        xy = reducer.fit_transform(np.asarray(z, np.float32))
    return Embedding(np.asarray(xy, np.float32), "umap", axis_labels=("UMAP 1", "UMAP 2"))


def tsne(z: np.ndarray, seed: int = SEED, progress: Progress | None = None) -> Embedding:
    from sklearn.manifold import TSNE

    n = len(z)
    if n < 5:
        raise ProjectionError(f"t-SNE needs at least 5 points (got {n})")
    iters = 1000 if n <= 20_000 else 500
    _say(progress, 0.02, f"t-SNE: affinities of {n:,} codes")
    model = TSNE(n_components=2, perplexity=float(min(30.0, (n - 1) / 3.0)), init="pca", random_state=seed,
                 learning_rate="auto", max_iter=iters, verbose=2 if progress is not None else 0)
    out = _ProgressFile(progress, 0.1, 0.9, iters, "t-SNE: iteration")
    with contextlib.redirect_stdout(out):
        xy = model.fit_transform(np.asarray(z, np.float32))
    return Embedding(np.asarray(xy, np.float32), "tsne", axis_labels=("t-SNE 1", "t-SNE 2"))


def embed(z: np.ndarray, method: str = "pca", *, seed: int = SEED, progress: Progress | None = None) -> Embedding:
    """Embed codes (N, D) in 2-D with ``method`` (see the module docstring), in this process."""
    if method == "pca":
        return pca(z)
    if method == "umap":
        return umap(z, seed, progress)
    if method == "tsne":
        return tsne(z, seed, progress)
    raise ValueError(f"unknown projection {method!r}; use one of {', '.join(METHODS)}")


def embed_in_child(z: np.ndarray, method: str, *, seed: int = SEED, poll: Callable[[], None] | None = None,
                   progress: Progress | None = None, interval: float = 0.03) -> Embedding:
    """:func:`embed` in a child process; ``poll()`` runs every ``interval`` s while it works (the
    app's ``job.checkpoint``: renders waiting frames, raises ``Cancelled``): when it raises, the
    child is killed and the exception goes on."""
    if method == "pca":
        return pca(z)
    with tempfile.TemporaryDirectory(prefix="latent-map-") as tmp:
        d = Path(tmp)
        np.save(d / "z.npy", np.asarray(z, np.float32))
        env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE",
                   PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parent.parent)]
                                              + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])))
        with open(d / "stderr.txt", "wb") as err:
            proc = subprocess.Popen([sys.executable, "-m", "models.projections", str(d / "z.npy"),
                                     str(d / "out.npz"), method, str(seed), str(d / "progress.txt")],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, env=env)
            try:
                last = ""
                while proc.poll() is None:
                    if poll is not None:
                        poll()
                    time.sleep(interval)
                    line = _last_line(d / "progress.txt")
                    if line and line != last and progress is not None:
                        last = line
                        frac, _, text = line.partition(" ")
                        progress(float(frac), text)
            except BaseException:
                proc.kill()
                proc.wait()
                raise
        if proc.returncode != 0 or not (d / "out.npz").is_file():
            lines = (d / "stderr.txt").read_text(errors="replace").strip().splitlines()
            why = next((ln for ln in reversed(lines) if ln.strip()), f"exit status {proc.returncode}")
            raise ProjectionError(f"{method.upper()} failed: {why[-300:]}")
        with np.load(d / "out.npz", allow_pickle=False) as f:
            xy = f["xy"]
    names = {"umap": ("UMAP 1", "UMAP 2"), "tsne": ("t-SNE 1", "t-SNE 2")}[method]
    return Embedding(np.asarray(xy, np.float32), method, axis_labels=names)


def _last_line(path: Path) -> str:
    try:
        text = path.read_text()
    except OSError:
        return ""
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""


def _main(argv: list[str]) -> int:
    src, dst, method, seed, progress_file = argv
    z = np.load(src, allow_pickle=False)
    with open(progress_file, "a", buffering=1) as fh:
        def progress(fraction: float, text: str) -> None:
            fh.write(f"{fraction:.4f} {text}\n")

        try:
            emb = embed(z, method, seed=int(seed), progress=progress)
        except LatentExplorerError as exc:
            print(str(exc), file=sys.stderr)
            return 2
    buf = io.BytesIO()
    np.savez(buf, xy=emb.xy)
    tmp = Path(dst + ".part")
    tmp.write_bytes(buf.getvalue())
    os.replace(tmp, dst)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))



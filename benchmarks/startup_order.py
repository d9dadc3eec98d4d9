"""Why the app imports torch before Qt: the cost of importing torch after PySide6.

Once PySide6 is imported, its import hook (``shibokensupport.feature.feature_imported``) looks at every
module imported after it, reading the source of each (``inspect.getsource``) to see whether it uses
PySide6's ``__feature__`` switches.  torch brings about 880 modules, so importing it after Qt pays for
reading all of them; importing it first does not.  :func:`explorer.app.main` therefore imports torch
first.

    .venv/bin/python benchmarks/startup_order.py [--repeats 7]

Each repeat runs both orders in fresh interpreters, alternating, and reports the medians, their ratio
(compare ratios: these machines are shared), and how many modules the hook inspected in each order.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

_CHILD = r"""
import sys, time, cProfile, pstats
order = sys.argv[1]
prof = cProfile.Profile() if sys.argv[2] == "1" else None
t0 = time.perf_counter()
if prof: prof.enable()
if order == "qt-first":
    from PySide6.QtWidgets import QApplication
    import torch
else:
    import torch
    from PySide6.QtWidgets import QApplication
if prof: prof.disable()
seconds = time.perf_counter() - t0
scanned = 0
if prof:
    for key, row in pstats.Stats(prof).stats.items():
        if key[2] == "_mod_uses_pyside":
            scanned = row[1]
print(seconds, scanned)
"""


def run(order: str, profile: bool = False) -> tuple[float, int]:
    out = subprocess.run([sys.executable, "-c", _CHILD, order, "1" if profile else "0"], capture_output=True,
                         text=True, check=True, timeout=300)
    seconds, scanned = out.stdout.split()
    return float(seconds), int(scanned)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    times: dict[str, list[float]] = {"qt-first": [], "torch-first": []}
    for _ in range(args.repeats):
        for order in times:
            times[order].append(run(order)[0])
    result = {order: {"median_s": round(statistics.median(v), 3), "min_s": round(min(v), 3)}
              for order, v in times.items()}
    for order in times:
        result[order]["modules_inspected_by_pyside_hook"] = run(order, profile=True)[1]
    result["ratio_qt_first_over_torch_first"] = round(result["qt-first"]["median_s"]
                                                      / result["torch-first"]["median_s"], 3)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for order in times:
            r = result[order]
            print(f"{order:12s} median {r['median_s']:.3f} s  min {r['min_s']:.3f} s  "
                  f"modules the PySide6 hook inspected: {r['modules_inspected_by_pyside_hook']}")
        print(f"qt-first / torch-first: {result['ratio_qt_first_over_torch_first']:.3f}")
    return result


if __name__ == "__main__":
    main()

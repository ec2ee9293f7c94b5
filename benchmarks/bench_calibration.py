"""Calibration observers and the explorers of lessons 04-06: how long they take.

1. Each observer's ``fit`` + ``qparams`` on 1e6 float64 values (median of 7 runs),
   symmetric and asymmetric, with the ratio to MinMaxObserver measured in the same run.
   The entropy row also times the KL search alone on its 2048-bin histogram.
2. Each explorer of qlearn.viz.ranges.calibration / .snr / .fixed: build time, then the median
   update time over every value of every control, twice: the first pass (cache misses,
   what a learner sees on first touching a control) and the second (cached results).

Run: .venv/bin/python benchmarks/bench_calibration.py
"""
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import median_ms, table, timeit  # noqa: E402
from test_explorers_sweep import _sweep_values  # noqa: E402

from qlearn.ranges import observers  # noqa: E402
from qlearn.viz.numbers import fixed  # noqa: E402
from qlearn.viz.ranges import calibration, snr  # noqa: E402


def bench_observers(n=1_000_000, repeat=7):
    x = np.random.default_rng(0).standard_normal(n)
    rows = []
    for sym in (True, False):
        base = median_ms(timeit(lambda s=sym: observers.MinMaxObserver(symmetric=s).fit(x).qparams(),
                                repeat=repeat))
        for name, cls in observers.OBSERVERS.items():
            t = median_ms(timeit(lambda c=cls, s=sym: c(symmetric=s).fit(x).qparams(), repeat=repeat))
            rows.append((name, "sym" if sym else "asym", f"{t:.1f}", f"{t / base:.1f}x"))
    obs = observers.EntropyObserver().fit(x)
    kl = median_ms(timeit(lambda: observers.kl_divergence_curve(obs.hist_, 128), repeat=repeat))
    rows.append(("entropy KL search only", "2048 bins", f"{kl:.1f}", ""))
    print(f"Observer fit + qparams on {n:.0e} values (median of {repeat}):")
    print(table(rows, ("observer", "mode", "median ms", "vs minmax")))


def bench_explorers():
    builders = [getattr(m, name) for m in (calibration, snr, fixed)
                for name in dir(m) if name.endswith("_explorer")]
    rows = []
    for b in builders:
        t0 = time.perf_counter()
        ex = b()
        build = time.perf_counter() - t0
        passes = []
        for _ in range(2):
            times = []
            for c in ex.controls.values():
                default = c.value
                for v in _sweep_values(c):
                    t = time.perf_counter()
                    c.value = v
                    times.append(time.perf_counter() - t)
                c.value = default
            passes.append(times)
        rows.append((b.__module__.split(".")[-1] + "." + b.__name__, f"{1000 * build:.0f}",
                     f"{median_ms(passes[0]):.1f}", f"{1000 * max(passes[0]):.0f}", f"{median_ms(passes[1]):.1f}",
                     len(passes[0])))
    print("\nExplorer build and update times (ms; budget 16 ms per update):")
    print(table(rows, ("explorer", "build", "median 1st pass", "max 1st pass", "median cached", "updates")))


if __name__ == "__main__":
    import plotly.graph_objects as go

    go.FigureWidget()  # first FigureWidget loads anywidget (seconds): not an explorer cost
    bench_observers()
    bench_explorers()

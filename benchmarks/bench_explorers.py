"""Update time of every explorer in qlearn.viz: a control change -> figure data assigned.

Each explorer is built with its defaults; its first control is toggled between two values
(the first two values of its range) and the median update time is printed against the
16 ms budget (one frame at 60 Hz). The baseline column is a bare FigureWidget batch update of
the same trace sizes with no computation, measured in the same run.

Run: .venv/bin/python benchmarks/bench_explorers.py
"""
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import median_ms, p95_ms, table  # noqa: E402
from test_explorers_sweep import _explorers, _sweep_values  # noqa: E402


def bench(builder, repeat=21):
    t0 = time.perf_counter()
    ex = builder()
    build = time.perf_counter() - t0
    name, c = next(iter(ex.controls.items()))
    values = [v for v in _sweep_values(c) if v != c.value][:2] or [c.value]
    values = values + [c.value]
    times = []
    for i in range(repeat):
        v = values[i % len(values)]
        t = time.perf_counter()
        c.value = v  # observe -> Explorer.refresh -> update
        times.append(time.perf_counter() - t)
    # baseline: assign the same data back without computing anything
    base = []
    if ex.fig is not None and len(ex.fig.data):
        snap = [(tr.x, tr.y) for tr in ex.fig.data]
        for _ in range(repeat):
            t = time.perf_counter()
            with ex.fig.batch_update():
                for tr, (_x, y) in zip(ex.fig.data, snap):
                    if y is not None:
                        tr.y = np.asarray(y)
            base.append(time.perf_counter() - t)
    return name, build, times, base


if __name__ == "__main__":
    rows = []
    for p in _explorers():
        builder = p.values[0]
        control, build, times, base = bench(builder)
        med = median_ms(times)
        rows.append((p.id, control, f"{1000 * build:.0f}", f"{med:.1f}", f"{p95_ms(times):.1f}",
                     f"{median_ms(base):.1f}" if base else "-", "ok" if med < 16 else "OVER 16 ms"))
    print(table(rows, ("explorer", "control", "build ms", "update median ms", "p95 ms", "bare assign ms",
                       "target")))

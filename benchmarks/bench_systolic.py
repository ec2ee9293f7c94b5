"""Systolic-array simulation speed (lesson 12): medians, with numpy's A @ B measured in the same run.

Run: .venv/bin/python benchmarks/bench_systolic.py
"""
from __future__ import annotations

import statistics
import time

import numpy as np

from qlearn.hardware.systolic import DATAFLOWS, SystolicArray, cycle_count


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    rng = np.random.default_rng(0)
    A = rng.integers(-128, 128, (256, 256)).astype(np.int8)
    B = rng.integers(-128, 128, (256, 256)).astype(np.int8)
    A32, B32 = A.astype(np.int32), B.astype(np.int32)
    t_np = median_time(lambda: A32 @ B32, 7)
    print(f"numpy int32 A @ B, 256x256x256: {t_np * 1e3:.2f} ms (median of 7)")
    for df in DATAFLOWS:
        arr = SystolicArray(128, 128, dataflow=df)
        res = arr.matmul(A, B)
        assert (res.output == A32 @ B32).all() and res.cycles == cycle_count(256, 256, 256, 128, 128, df)
        t = median_time(lambda arr=arr: arr.matmul(A, B), 3)
        print(f"cycle-accurate 128x128 {df:18s} 256^3: {t * 1e3:7.1f} ms (median of 3), "
              f"{res.cycles} cycles, {t / res.cycles * 1e6:.1f} us/cycle, {t / t_np:.0f}x numpy")
    A8 = rng.integers(-128, 128, (8, 8))
    B8 = rng.integers(-128, 128, (8, 8))
    for df in DATAFLOWS:
        t = median_time(lambda df=df: SystolicArray(8, 8, dataflow=df).matmul(A8, B8, trace=True), 15)
        print(f"8x8 trace build ({df}, 8x8x8): {t * 1e3:.2f} ms (median of 15)")
    try:
        from qlearn.viz.hardware.systolic import systolic_explorer
    except ImportError as exc:  # pragma: no cover
        print(f"explorer not available: {exc}")
        return
    ex = systolic_explorer()
    slider = ex.controls["cycle"]
    values = [(i * 7) % (slider.max + 1) for i in range(40)]
    times = []
    for v in values:
        t0 = time.perf_counter()
        slider.value = v
        times.append(time.perf_counter() - t0)
    print(f"systolic_explorer cycle scrub: {statistics.median(times) * 1e3:.2f} ms median over {len(times)} moves")


if __name__ == "__main__":
    main()

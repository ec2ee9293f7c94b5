"""How fast is qlearn.numbers.formats.cast? Median time for 1e6 values per format, against a plain astype.

Run: .venv/bin/python benchmarks/bench_formats.py

The baseline is the bare dtype conversion measured in the same run, ``x.astype(dtype).astype(float64)``
(for bf16/fp8 that rounds twice, through float32, which ``cast`` avoids; TF32 has no dtype, so its
baseline is the FP32 conversion; integer baselines truncate and wrap instead of rounding). Also the
median time of one explorer update (one control change) of each lesson-01 explorer.
"""
from __future__ import annotations

import ml_dtypes
import numpy as np
from _common import median_ms, table, timeit

from qlearn.numbers import formats as F

N = 1_000_000


def baseline_dtype(name):
    f = F.get_format(name)
    if f.dtype is None:
        return np.dtype(np.float32)
    return np.dtype(getattr(ml_dtypes, f.dtype) if hasattr(ml_dtypes, f.dtype) else f.dtype)


def bench_one(name, data, dt, saturate):
    """(astype ms, cast ms, cast floor ms, cast stochastic ms) for one format."""
    with np.errstate(over="ignore", invalid="ignore"):
        base = median_ms(timeit(lambda: data.astype(dt).astype(np.float64)))
    t = median_ms(timeit(lambda: F.cast(data, name, saturate=saturate)))
    t_floor = median_ms(timeit(lambda: F.cast(data, name, rounding="floor", saturate=True), repeat=3))
    g = np.random.default_rng(1)
    t_st = median_ms(timeit(lambda: F.cast(data, name, rounding="stochastic", saturate=True, rng=g), repeat=3))
    return base, t, t_floor, t_st


def bench_cast():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(N) * 10.0 ** rng.uniform(-3, 3, N)
    xi = np.clip(x, -100, 100)
    rows = []
    for name in F.FORMATS:
        is_int = F.get_format(name).kind == "int"
        base, t, t_floor, t_st = bench_one(name, xi if is_int else x, baseline_dtype(name), is_int)
        rows.append((name, f"{base:.2f}", f"{t:.2f}", f"{t / base:.1f}x", f"{t_floor:.2f}", f"{t_st:.2f}"))
    print(f"cast of {N:.0e} float64 values, median wall time (ms)")
    print(table(rows, ("format", "astype", "cast half_even", "ratio", "cast floor", "cast stochastic")))


def bench_explorers():
    from qlearn.viz.numbers import formats as V

    ex = V.float_bits_explorer()
    values = iter(np.tile(np.linspace(-3, 3, 41), 10).tolist())
    t_type = timeit(lambda: setattr(ex.controls["value"], "value", next(values)), repeat=40)
    bit = iter(range(10_000))

    def flip():
        c = ex.controls[f"b{next(bit) % 16}"]
        c.value = not c.value

    t_flip = timeit(flip, repeat=40)
    r = V.format_range_explorer()
    xs = iter(np.linspace(-46, 39, 400).tolist())
    t_range = timeit(lambda: setattr(r.controls["log10_x"], "value", next(xs)), repeat=40)
    print("\nexplorer update, median of 40 control changes (ms)")
    print(table([("float_bits_explorer", "type a value", f"{median_ms(t_type):.2f}"),
                 ("float_bits_explorer", "flip a bit", f"{median_ms(t_flip):.2f}"),
                 ("format_range_explorer", "move log10|x|", f"{median_ms(t_range):.2f}")],
                ("explorer", "control", "median ms")))


if __name__ == "__main__":
    bench_cast()
    bench_explorers()

"""Small shared helpers for the benchmark scripts (medians, a table printer)."""
from __future__ import annotations

import statistics
import time


def timeit(fn, *, repeat: int = 7, warmup: int = 1) -> list[float]:
    """Wall-clock seconds of ``fn()`` over ``repeat`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def median_ms(times: list[float]) -> float:
    return 1000 * statistics.median(times)


def p95_ms(times: list[float]) -> float:
    s = sorted(times)
    return 1000 * s[min(len(s) - 1, int(round(0.95 * (len(s) - 1))))]


def table(rows: list[tuple], header: tuple) -> str:
    cols = list(zip(header, *rows))
    widths = [max(len(str(v)) for v in col) for col in cols]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*map(str, r)) for r in rows]
    return "\n".join(lines)

"""float32 vs int8 matmul in numpy on this machine (lessons 11 and 13), at larger sizes than the lessons.

Prints the same table as the lessons (medians of wall-clock time, ratios to float32), from
``qlearn.hardware.matmul_speed.measure_matmul_speed``. Nothing is asserted: the figures depend on the
machine, its load, its BLAS and its thread count.

Run: .venv/bin/python benchmarks/bench_matmul_speed.py [--sizes 256 512 1024] [--repeat 5]
"""
from __future__ import annotations

import argparse
import os
import platform

import numpy as np

from qlearn.hardware.matmul_speed import BENCH_SIZES, measure_matmul_speed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=list(BENCH_SIZES))
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    threads = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
               if k in os.environ}
    print(f"numpy {np.__version__}, {platform.machine()}, {os.cpu_count()} CPUs, "
          f"thread variables: {threads or 'none set'}")
    s = measure_matmul_speed(args.sizes, repeat=args.repeat)
    print(s.table())
    print(s.summary())


if __name__ == "__main__":
    main()

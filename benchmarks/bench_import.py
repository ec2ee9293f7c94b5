"""`import qlearn` time in a fresh interpreter, against `import numpy` measured the same way.

Run: .venv/bin/python benchmarks/bench_import.py
"""
import statistics
import subprocess
import sys


def fresh_import(module: str, repeat: int = 9) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
            for _ in range(repeat)]
    return statistics.median(runs)


if __name__ == "__main__":
    base = fresh_import("numpy")
    for mod in ("qlearn", "qlearn.viz"):
        t = fresh_import(mod)
        print(f"import {mod:12s} median {1000 * t:7.1f} ms   ({t / base:4.1f}x import numpy = {1000 * base:.1f} ms)")

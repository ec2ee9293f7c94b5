"""Execution time of every notebook on a fresh kernel (what nbval and Voila pay), one run each.

Run: .venv/bin/python benchmarks/bench_notebooks.py [--repeat N]
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent


def run(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    t = time.perf_counter()
    client.execute()
    return time.perf_counter() - t


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    total = 0.0
    print(f"{'notebook':42s} {'median s':>9s}  (fresh kernel, incl. start, {args.repeat} run(s), {sys.executable})")
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        t = statistics.median(run(path) for _ in range(args.repeat))
        total += t
        print(f"{path.name:42s} {t:9.2f}")
    print(f"{'total':42s} {total:9.2f}")

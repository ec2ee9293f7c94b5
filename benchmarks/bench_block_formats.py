"""Lesson 17's trade-off table (bits per weight vs SQNR), and how fast the block quantizers run.

Run: .venv/bin/python benchmarks/bench_block_formats.py

Table: every scheme of qlearn.modern.block_formats at block/group sizes 16-128 on two tensors, the course
MLP's layer 1 W (64 x 64, real, flattened row by row: a group of 128 spans two rows) and a seeded
synthetic heavy-tailed tensor (0.05 * Student t, df 3, 4096 values; not a real model's weights).
Bits per weight include every scale and zero point (closed forms in qlearn.modern.block_formats.bits_per_weight).
SQNR is 10 log10(sum x^2 / sum (x - x_hat)^2). Then the median time to quantize 2**20 values with
each scheme, and the median time of one update of lesson 17's explorer.
"""
from __future__ import annotations

import numpy as np
from _common import median_ms, table, timeit

from qlearn.modern import block_formats as B
from qlearn.networks import nn

SCHEMES = ("mxfp4", "mxfp6_e2m3", "mxfp6_e3m2", "mxfp8_e4m3", "nvfp4", "int_asym", "int_sym")


def tradeoff_rows():
    real = nn.pretrained().layers[0].W.reshape(-1)
    heavy = B.heavy_tailed_weights(4096, rng=np.random.default_rng(0))
    rows = []
    for bits in (4, 3):
        schemes = SCHEMES if bits == 4 else ("int_asym", "int_sym")
        t_real = {(r["scheme"], r["block_size"]): r for r in B.tradeoff_table(real, schemes, bits=bits)}
        t_heavy = {(r["scheme"], r["block_size"]): r for r in B.tradeoff_table(heavy, schemes, bits=bits)}
        for key, r in t_real.items():
            name = key[0] if key[0] in B.MX_ELEMENTS or key[0] == "nvfp4" else f"{key[0]} int{bits}"
            rows.append((name, key[1], f"{r['bits_per_weight']:.4f}", f"{r['sqnr_db']:.2f}",
                         f"{t_heavy[key]['sqnr_db']:.2f}"))
    return rows


def main():
    print(table(tradeoff_rows(), ("scheme", "block", "bits/weight", "SQNR real (dB)", "SQNR heavy synthetic (dB)")))
    x = np.random.default_rng(1).standard_normal((1024, 1024))
    rows = []
    for s in SCHEMES:
        k = 16 if s == "nvfp4" else (128 if s.startswith("int") else 32)
        ms = median_ms(timeit(lambda s=s, k=k: B.quantize_dequantize(x, s, block_size=k), repeat=5))
        rows.append((s, k, f"{ms:.1f}"))
    print()
    print(table(rows, ("scheme", "block", "ms per 2**20 values (quantize + dequantize)")))
    from qlearn.viz.modern.block_formats import block_format_explorer

    ex = block_format_explorer()
    w = ex.controls["window"]

    def step():
        w.value = (w.value + 1) % (w.max + 1)

    print(f"\nexplorer update (window slider, MXFP4): median {median_ms(timeit(step, repeat=31)):.1f} ms")
    ex.controls["scheme"].value = "mxfp8_e4m3"
    ms = median_ms(timeit(step, repeat=31))
    print(f"explorer update (window slider, MXFP8 E4M3, densest grid): median {ms:.1f} ms")


if __name__ == "__main__":
    main()

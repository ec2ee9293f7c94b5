"""Lesson 16's repairs on lesson 15's network: the accuracy table and the time of each step.

Run: .venv/bin/python benchmarks/bench_convnet_repairs.py

Table: qlearn.networks.bias_correction.repair_table() recomputed on the shipped network (folding, cross-layer
equalization, high-bias absorption, empirical and analytical bias correction; per-channel for comparison),
full-integer PTQ with per-tensor weights at 8/6/4 bits and 8-bit activations, as test images of 539.
These are exact-path figures (the same on every CPU); the script also says whether they equal the
shipped qlearn/data/convnet_repairs.npz. Then the seconds each step took on this machine, and the
median time of equalize() alone; then batch-norm re-estimation (reestimate_batchnorm) on the unfolded
network against lesson 15's unfolded per-tensor figures.
"""
from __future__ import annotations

import time

from _common import median_ms, table, timeit

from qlearn.networks import bias_correction as bc
from qlearn.networks import convnet, equalization


def main():
    t0 = time.perf_counter()
    t = bc.repair_table()
    total = time.perf_counter() - t0
    n = t["n_test"]
    print(f"float: folded {round(t['float_folded'] * n)}/{n}, after CLE {round(t['float_cle'] * n)}, "
          f"after CLE + absorption {round(t['float_cle_absorb'] * n)}, ReLU6 -> ReLU {round(t['float_relu'] * n)}")
    rows = [(bc.REPAIR_LABELS[name], *(f"{t[name, b]:.1%} ({round(t[name, b] * n)})" for b in bc.TABLE_BITS))
            for name in bc.REPAIRS]
    print(table(rows, ("repair", *(f"W{b}A8" for b in bc.TABLE_BITS))))
    shipped = bc.load_repair_table()
    same = all(t[name, b] == shipped[name, b] for name in bc.REPAIRS for b in bc.TABLE_BITS)
    print(f"\nequal to the shipped qlearn/data/convnet_repairs.npz: {same}")
    print(f"\nrepair_table(): {total:.1f} s in total")
    print(table([(k, f"{v:.2f}") for k, v in t["seconds"].items()], ("step", "seconds")))
    from qlearn.networks.data import load_digits

    d, net = load_digits(), convnet.pretrained()
    for bits in bc.TABLE_BITS:
        t0 = time.perf_counter()
        m = bc.reestimate_batchnorm(net, d.X_calib, weight_bits=bits)
        dt = time.perf_counter() - t0
        base = convnet.quantize(net, d.X_calib, weight_bits=bits).accuracy(d.X_test, d.y_test)
        fixed = convnet.quantize(m, d.X_calib, weight_bits=bits).accuracy(d.X_test, d.y_test)
        print(f"unfolded, W{bits}A8 per-tensor: {round(base * n)} -> {round(fixed * n)} of {n} after batch-norm "
              f"re-estimation ({dt:.2f} s)")
    folded = net.fold()
    eq = equalization.equalize(folded)
    ms = median_ms(timeit(lambda: equalization.equalize(folded), repeat=5))
    print(f"\nequalize(): {eq.sweeps} sweeps to a pair mismatch below {equalization.TOL:g}, median {ms:.0f} ms")


if __name__ == "__main__":
    main()

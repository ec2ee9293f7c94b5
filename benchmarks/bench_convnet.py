"""Lesson 15's network: the accuracy table on the shipped weights, and how long training and evaluation take.

Run: .venv/bin/python benchmarks/bench_convnet.py [--train]

Table: qlearn.networks.convnet.accuracy_table() on the shipped network (qlearn/data/convnet_digits.npz):
float, folded float, and full-integer PTQ (weights 8/6/4 bits, per-tensor and per-channel, activations
8 bits, min/max calibration on the 256 calibration images), folded and unfolded, as test images of 539.
These are exact-path figures (the same on every CPU). Then the median time of one float evaluation of
the 539 test images and of one integer evaluation; with --train, the wall-clock time of training the
network from seed 0 with PRETRAINED_TRAINING (the lesson states "about 30 s on one core").
"""
from __future__ import annotations

import sys
import time

from _common import median_ms, table, timeit

from qlearn.networks import convnet
from qlearn.networks.data import load_digits


def main():
    d = load_digits()
    net = convnet.pretrained()
    folded = net.fold()
    t = convnet.accuracy_table(net, d)
    n = len(d.y_test)
    print(f"float {round(t['float'] * n)}/{n} ({t['float']:.1%}), folded float {round(t['float_folded'] * n)}/{n}")
    rows = []
    for bits in convnet.TABLE_BITS:
        rows.append((f"W{bits}A8", *(f"{t[f, pc, bits]:.1%} ({round(t[f, pc, bits] * n)})"
                                     for f in (True, False) for pc in (False, True))))
    print(table(rows, ("weights", "folded per-tensor", "folded per-channel", "unfolded per-tensor",
                       "unfolded per-channel")))
    q = convnet.quantize(folded, d.X_calib, weight_bits=8, per_channel=True)
    print(f"\nfloat evaluation of {n} images: {median_ms(timeit(lambda: folded.forward(d.X_test), repeat=5)):.0f} ms;"
          f" integer evaluation: {median_ms(timeit(lambda: q.forward(d.X_test), repeat=5)):.0f} ms")
    if "--train" in sys.argv:
        t0 = time.perf_counter()
        m = convnet.train(d, **convnet.PRETRAINED_TRAINING)
        print(f"training {convnet.PRETRAINED_TRAINING}: {time.perf_counter() - t0:.1f} s, "
              f"test accuracy {m.accuracy(d.X_test, d.y_test):.1%}")


if __name__ == "__main__":
    main()

"""AdaRound and learned step sizes on lesson 15's network: errors, accuracies and time per layer.

Run: .venv/bin/python benchmarks/bench_adaround.py

Prints (1) per weight layer of the folded network at 4 and 3 bits per-tensor: the output error on the 256
calibration images of round-to-nearest and of AdaRound (each layer's input from the RTN-quantized network,
qlearn.networks.adaround.convnet_layer), the AdaRound codes that differ from RTN and the seconds the layer took;
(2) test accuracy (539 images, exact integer path, activations 8 bits) with min/max round-to-nearest,
AdaRound (qlearn.networks.adaround.adaround_convnet), learned step sizes (qlearn.networks.lsq.lsq_convnet) and
AdaRound on
the learned step sizes, per-tensor and per-channel at 4, 3 and 2 bits, and the seconds each network took;
(3) a two-epoch fine-tuning with learned step sizes vs min/max steps (lsq.finetune_comparison, compared with
the shipped qlearn/data/lsq_finetune.npz);
(4) the explorer's build time and its slider update time (median and p95 over every position).
AdaRound's and LSQ's values come from float optimisation: another CPU may differ by a few images
(qlearn.networks.adaround.ACCURACY_TOLERANCE).
"""
from __future__ import annotations

import time

import numpy as np
from _common import median_ms, p95_ms, table

from qlearn.networks import adaround, convnet, lsq
from qlearn.networks.data import load_digits


def main():
    d = load_digits()
    net = convnet.pretrained().fold()
    n = len(d.y_test)
    kinds = [L.kind for L in net.quant_layers()]
    for bits in (4, 3):
        rows = []
        for k, kind in enumerate(kinds):
            W, Xq, Xf = adaround.convnet_layer_problem(k, bits=bits)
            t = time.perf_counter()
            r = adaround.adaround_layer(W, Xq, X_float=Xf, bits=bits)
            dt = time.perf_counter() - t
            rows.append((f"{k} {kind} {W.shape[0]}x{W.shape[1]}", f"{r.error_rtn:.4g}", f"{r.error:.4g}",
                         f"{r.error / r.error_rtn:.0%}", f"{int(r.flipped.sum())}/{r.q.size}", f"{dt:.2f}"))
        print(f"\nper layer, {bits}-bit per-tensor weights ({adaround.ITERS} iterations):")
        print(table(rows, ("layer (GEMM)", "RTN error", "AdaRound error", "ratio", "codes != RTN", "s")))

    def acc(q):
        a = q.accuracy(d.X_test, d.y_test)
        return f"{a:.1%} ({round(a * n)})"

    print(f"\nnetwork test accuracy of {n} images (float folded: {acc(net)})")
    rows = []
    for bits in (4, 3, 2):
        for pc in (False, True):
            rtn = convnet.quantize(net, d.X_calib, weight_bits=bits, per_channel=pc)
            t = time.perf_counter()
            ada = adaround.adaround_convnet(net, d.X_calib, weight_bits=bits, per_channel=pc)
            t_ada = time.perf_counter() - t
            t = time.perf_counter()
            lq = lsq.lsq_convnet(net, d.X_calib, weight_bits=bits, per_channel=pc)
            t_lsq = time.perf_counter() - t
            both = adaround.adaround_convnet(net, d.X_calib, weight_bits=bits, per_channel=pc,
                                             scales=[r.scale for r in lq.results])
            rows.append((f"W{bits}A8 {'per-channel' if pc else 'per-tensor'}", acc(rtn), acc(ada), acc(lq), acc(both),
                         f"{t_ada:.1f}", f"{t_lsq:.1f}"))
    print(table(rows, ("weights", "min/max RTN", "AdaRound", "learned steps (LSQ)", "LSQ + AdaRound",
                       "AdaRound s", "LSQ s")))

    print("\nshort fine-tuning (lsq.finetune_comparison: lsq_finetune, 2 epochs, weight-only fake quantization; "
          "BLAS: compared with the shipped runs within lsq.FINETUNE_TOLERANCE):")
    t = time.perf_counter()
    ft = lsq.finetune_comparison()
    dt = time.perf_counter() - t
    shipped = lsq.load_finetune_comparison()
    rows = []
    for i, (bits, pc) in enumerate(zip(ft["bits"], ft["per_channel"])):
        rows.append((f"W{bits}A8 {'per-channel' if pc else 'per-tensor'}",
                     " -> ".join(f"{x:.1%}" for x in ft["fixed"][i]), " -> ".join(f"{x:.1%}" for x in ft["lsq"][i]),
                     f"{round(float(ft['lsq'][i, -1] - ft['fixed'][i, -1]) * n):+d}"))
    print(table(rows, ("weights", "fixed min/max steps (lesson 09's idea)", "learned steps (LSQ)",
                       "LSQ - fixed, images")))
    worst = max(float(abs(ft[k] - shipped[k]).max()) for k in ("lsq", "fixed"))
    print(f"{2 * len(ft['bits'])} runs in {dt:.1f} s; largest difference from the shipped runs {round(worst * n)} "
          f"images (tolerance {round(lsq.FINETUNE_TOLERANCE * n)})")

    from qlearn.viz.networks import adaround as viz

    t = time.perf_counter()
    ex = viz.adaround_explorer()
    build = time.perf_counter() - t
    s = ex.controls["iteration"]
    times = []
    for value in list(range(s.min, s.max + 1, s.step)) * 3:
        t = time.perf_counter()
        s.value = value
        times.append(time.perf_counter() - t)
    print(f"\nexplorer: built in {build:.1f} s (first FigureWidget of the process included); slider update "
          f"median {median_ms(times):.1f} ms, p95 {p95_ms(times):.1f} ms over {len(times)} moves")


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()

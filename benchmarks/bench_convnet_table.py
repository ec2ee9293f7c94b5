"""One table for the convolutional network (lessons 13, 15, 16): every quantization choice the course
measures on it, with accuracy and model size.

Run: .venv/bin/python benchmarks/bench_convnet_table.py

Rows: float; min/max PTQ with per-tensor and per-channel weights at 8 and 4 bits (lesson 15); each
activation calibrator at 8-bit weights (lesson 13); cross-layer equalization, + bias correction
(lesson 16); AdaRound and learned step sizes (LSQ) at 4 bits (lesson 16); fixed-range QAT and LSQ fine-tuning
at 4 bits (lesson 16, the shipped runs of qlearn.networks.lsq.finetune_comparison). Activations are 8 bits in
every quantized row. Size: the weight layers' codes at their bit width plus one float32 scale per
tensor or per output channel and the int32 biases. Exact-path rows (integer layers) are the same on every CPU;
AdaRound and LSQ come from a
float optimization and can move by a few test images from one machine to another (their tests allow
5). The seconds each row took are printed too.
"""
from __future__ import annotations

import time

from _common import table

from qlearn.networks import adaround, bias_correction, convnet, lsq
from qlearn.networks.data import load_digits


def size_bytes(model, bits, per_channel) -> float:
    """Weights at ``bits``, a float32 scale per tensor or per output channel, int32 biases."""
    layers = model.quant_layers()
    w = sum(L.W.size for L in layers) * bits / 8
    scales = sum(L.W.shape[0] if per_channel else 1 for L in layers) * 4
    biases = sum(L.b.size for L in layers) * 4
    return w + scales + biases


def main():
    d, net = load_digits(), convnet.pretrained()
    folded = net.fold()
    n = len(d.y_test)
    rows = []

    def add(label, acc, size, seconds):
        rows.append((label, f"{acc:.1%} ({round(acc * n)})", f"{size / 1024:.2f}", f"{seconds:.1f}"))

    t = time.perf_counter()
    float_bytes = sum(p.size for L in folded.quant_layers() for p in (L.W, L.b)) * 4
    add("float32 (batch norm folded)", folded.accuracy(d.X_test, d.y_test), float_bytes, time.perf_counter() - t)
    for bits in (8, 4):
        for pc in (False, True):
            t = time.perf_counter()
            q = convnet.quantize(folded, d.X_calib, weight_bits=bits, per_channel=pc)
            add(f"W{bits} {'per-channel' if pc else 'per-tensor'}, min/max activations",
                q.accuracy(d.X_test, d.y_test), size_bytes(folded, bits, pc), time.perf_counter() - t)
    for cal in convnet.TABLE_CALIBRATIONS[1:]:
        method, opts = ("entropy", {"zero_bin": "flatten"}) if cal == "entropy_flat" else (cal, None)
        for pc in (False, True):
            t = time.perf_counter()
            q = convnet.quantize(folded, d.X_calib, weight_bits=8, per_channel=pc, calibration=method,
                                 calibration_options=opts)
            add(f"W8 {'per-channel' if pc else 'per-tensor'}, {convnet.CALIBRATION_NAMES[cal]} activations",
                q.accuracy(d.X_test, d.y_test), size_bytes(folded, 8, pc), time.perf_counter() - t)
    t = time.perf_counter()
    rt = bias_correction.repair_table()
    dt = time.perf_counter() - t
    for name in ("cle", "cle_absorb_bias_corr", "bias_corr"):
        add(f"W4 per-tensor, {bias_correction.REPAIR_LABELS[name]}", rt[name, 4], size_bytes(folded, 4, False),
            dt / 3)
    for pc in (False, True):
        t = time.perf_counter()
        q = adaround.adaround_convnet(folded, d.X_calib, weight_bits=4, per_channel=pc)
        add(f"W4 {'per-channel' if pc else 'per-tensor'}, AdaRound", q.accuracy(d.X_test, d.y_test),
            size_bytes(folded, 4, pc), time.perf_counter() - t)
    t = time.perf_counter()
    q = lsq.lsq_convnet(folded, d.X_calib, weight_bits=4)
    add("W4 per-tensor, learned step sizes (LSQ)", q.accuracy(d.X_test, d.y_test), size_bytes(folded, 4, False),
        time.perf_counter() - t)
    ft = lsq.load_finetune_comparison()
    i = [(int(b), bool(pc)) for b, pc in zip(ft["bits"], ft["per_channel"])].index((4, False))
    epochs = int(ft["epoch"][-1])
    for name, label in (("fixed", "fixed-range QAT"), ("lsq", "LSQ fine-tuning")):
        rows.append((f"W4 per-tensor, {label} ({epochs} epochs, shipped)", f"{ft[name][i, -1]:.1%} "
                     f"({round(ft[name][i, -1] * n)})", f"{size_bytes(folded, 4, False) / 1024:.2f}", "shipped"))
    print(table(rows, ("configuration (8-bit activations when quantized)", "test accuracy (of 539)", "KiB",
                       "seconds")))


if __name__ == "__main__":
    main()

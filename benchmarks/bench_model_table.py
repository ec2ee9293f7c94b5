"""One table for lessons 07-10: every way of shrinking the course MLP, its test accuracy and size.

Run: .venv/bin/python benchmarks/bench_model_table.py
Prints the table and writes benchmarks/model_table.md. Accuracy is on the 539 fixed test
images of qlearn.networks.data.load_digits (one image = 0.19 points); sizes count weights, biases
and quantization parameters as documented in qlearn.networks.ptq.model_size_bytes and
qlearn.numbers.nonuniform.compress_model. QAT rows load the shipped runs (qlearn.networks.qat.pretrained_qat).
Conditions: one 6570-parameter MLP on one small data set; numbers for other models differ.
"""
from __future__ import annotations

import time
from pathlib import Path

from qlearn.networks import ptq, qat
from qlearn.networks.data import load_digits
from qlearn.networks.nn import pretrained
from qlearn.numbers import nonuniform as nu


def rows():
    d, m = load_digits(), pretrained()
    fsize = m.size_bytes(32)

    def row(name, model, size):
        acc = model.accuracy(d.X_test, d.y_test)
        agree = float((model.predict(d.X_test) == m.predict(d.X_test)).mean())
        return name, acc, size, fsize / size, agree

    yield row("float32 (reference)", m, fsize)
    for mode in ("float16", "bfloat16"):
        q = ptq.quantize_model(m, mode=mode)
        yield row(f"PTQ {mode}", q, q.size_bytes)
    for bits in (8, 4, 2):
        for pc in (False, True):
            q = ptq.quantize_model(m, mode="full_integer", bits=bits, per_channel=pc, calib_data=d.X_calib)
            yield row(f"PTQ int{bits} full integer, {'per-channel' if pc else 'per-tensor'}, minmax", q, q.size_bytes)
    for bits in (8, 4):
        q = ptq.quantize_model(m, mode="weight_only", bits=bits)
        yield row(f"PTQ int{bits} weight only, per-tensor", q, q.size_bytes)
    for bits in (8, 4):
        q = ptq.quantize_model(m, mode="dynamic_range", bits=bits)
        yield row(f"PTQ int{bits} dynamic range (TFLite hybrid), per-tensor", q, q.size_bytes)
    for bits in (8, 4):
        for cal in ptq.CALIBRATIONS:
            q = ptq.quantize_model(m, mode="full_integer", bits=bits, calibration=cal, calib_data=d.X_calib)
            yield row(f"PTQ int{bits} full integer, per-tensor, {cal} calibration", q, q.size_bytes)
    for bits, pc in qat.QAT_CONFIGS:
        q = qat.pretrained_qat(bits, pc)
        yield row(f"QAT int{bits} full integer, {'per-channel' if pc else 'per-tensor'}", q, q.size_bytes)
    for method, bits in (("kmeans", 2), ("kmeans", 4), ("log2", 4), ("binary", None), ("ternary", None)):
        c = nu.compress_model(m, method, bits)
        label = {"kmeans": f"k-means weight sharing, {bits} bits", "log2": f"log2 (powers of two), {bits} bits",
                 "binary": "binary weights (XNOR-Net alpha per channel)",
                 "ternary": "ternary weights (TWN, alpha per channel)"}[method]
        yield row(label + ", no retraining", c, c.size_bytes)
    for method in ("binary", "ternary"):
        c = nu.compress_model(m, method, per_channel=False)
        yield row(f"{method} weights, one alpha per tensor, no retraining", c, c.size_bytes)
    for method in ("binary", "ternary"):
        c = nu.train_codes(m, d, method=method, epochs=10, lr=1e-3, seed=0)
        yield row(f"{method} weights (alpha per channel), trained 10 epochs with STE", c, c.size_bytes)


def matmul_timings():
    """Evaluation cost of machine independence: fixed-order float and exact int64 products vs float BLAS."""
    from _common import median_ms, timeit

    from qlearn.networks import nn
    d, m = load_digits(), pretrained()
    X, W = d.X_train, m.layers[0].W
    q = ptq.quantize_model(m, mode="full_integer", bits=8, calib_data=d.X_calib)
    out = [("float BLAS X @ W.T (1258x64 @ 64x64)", median_ms(timeit(lambda: X @ W.T, repeat=21))),
           ("nn.fixed_order_matmul (same shapes)", median_ms(timeit(lambda: nn.fixed_order_matmul(X, W), repeat=21))),
           ("ptq.integer_linear, int64 (same shapes)", median_ms(timeit(lambda: ptq.integer_linear(X, q.layers[0]),
                                                                        repeat=21))),
           ("float model accuracy on the 539 test images",
            median_ms(timeit(lambda: m.accuracy(d.X_test, d.y_test), repeat=21))),
           ("int8 full-integer model accuracy on the test images",
            median_ms(timeit(lambda: q.accuracy(d.X_test, d.y_test), repeat=21)))]
    return out


def main():
    for name, ms in matmul_timings():
        print(f"{name}: {ms:.2f} ms (median)")
    t0 = time.perf_counter()
    table = list(rows())
    elapsed = time.perf_counter() - t0
    head = ("| method | test accuracy | size (bytes) | smaller than float32 | agrees with float |\n"
            "|---|---:|---:|---:|---:|\n")
    body = "".join(f"| {n} | {a:.1%} | {s:,} | {r:.1f}x | {g:.1%} |\n" for n, a, s, r, g in table)
    text = ("# The course MLP (64-64-32-10, 6,570 parameters) shrunk every way lessons 07-10 show\n\n"
            "Test accuracy on the 539 fixed test images of `qlearn.networks.data.load_digits()` "
            "(one image = 0.19 points). "
            "Sizes count codes, biases and quantization parameters (`qlearn.networks.ptq.model_size_bytes`, "
            "`qlearn.numbers.nonuniform.compress_model`). One small model on one data set: "
            "figures for other models and "
            "data differ. Generated by `benchmarks/bench_model_table.py`.\n\n" + head + body)
    print(text)
    print(f"(computed in {elapsed:.1f} s)")
    Path(__file__).with_name("model_table.md").write_text(text)


if __name__ == "__main__":
    main()

"""Lesson 18's table: every weight/activation quantization method on the course's character transformer.

Run: .venv/bin/python benchmarks/bench_llm_weights.py [--write]

Model: qlearn.modern.transformer.pretrained() (2 layers, d_model 64, trained on six Shakespeare plays).
Every linear layer (attention qkv and out, MLP up and down, output head) is quantized; embeddings,
LayerNorms and biases stay float. Calibration: transformer.calibration_tokens(16, seed=0) (1024
characters of the training split); GPTQ and AWQ calibrate layer by layer on the inputs produced by
the layers already quantized. Perplexity and top-1 accuracy on transformer.validation_tokens().
Bits per weight include every scale and zero point (qlearn.modern.block_formats.bits_per_weight), averaged
over the linear weights; a group size larger than a layer's in_features (128 > 64) is one group per
row there. Model bytes = linear weights at that rate + every other parameter in FP32. "seconds" is
the wall time to quantize the model and evaluate it once (this machine; not a portable figure).
--write saves the table to qlearn/data/llm_methods.npz, which lesson 18 shows
(qlearn.modern.gptq.shipped_method_table) and tests/test_lesson_18.py recomputes.
"""
from __future__ import annotations

import sys
import time

from _common import table

from qlearn.modern import gptq as G
from qlearn.modern import transformer as T


def rows():
    model = T.pretrained()
    cal = T.calibration_tokens(**G.TABLE_CALIBRATION)
    val = T.validation_tokens()
    out = []
    for m in G.METHODS:
        t = time.perf_counter()
        (r,) = G.method_table(model, cal, val, [m])
        r["seconds"] = time.perf_counter() - t
        out.append(r)
        print(f"  {r['label']}: {r['seconds']:.1f} s", file=sys.stderr)
    return out


def main():
    rs = rows()
    print(table([(r["label"], f"{r['perplexity']:.4f}", f"{r['accuracy']:.4f}", f"{r['bits_per_weight']:.3f}",
                  f"{r['model_bytes'] / 1024:.1f}", f"{r['seconds']:.1f}") for r in rs],
                ("method", "perplexity", "accuracy", "bits/weight", "model KiB", "seconds")))
    if "--write" in sys.argv:
        G.write_method_table(rs)
        print(f"wrote {G.METHOD_TABLE_FILE}")


if __name__ == "__main__":
    main()

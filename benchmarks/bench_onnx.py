"""Float32 vs int8 in ONNX Runtime and in numpy: the table of lesson 14, at larger sizes.

For the course network (64-64-32-10, pretrained) and a wide network (WIDE-WIDE-10, random
weights), at batch 1 and a large batch: seconds per forward pass (float32 in, float32 logits
out, so quantize/dequantize are counted) for ORT float32, ORT int8 static (QDQ, min/max
calibration), ORT int8 dynamic, numpy float32 and numpy int8 (codes widened to int32: numpy
has no int8 GEMM). Ratios are int8 / float32 from the same run (> 1: int8 slower).
Medians over --repeat samples; ORT uses --threads intra-op threads. Also prints whether
this CPU's uint8 x int8 kernel saturates (x86 without VNNI).

Run: .venv/bin/python benchmarks/bench_onnx.py [--wide 2048] [--batches 1 256] [--threads 1]
"""
import argparse
import platform

import onnxruntime

from qlearn.hardware import onnx_export as ox


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--wide", type=int, default=1024)
    p.add_argument("--batches", type=int, nargs="+", default=[1, 256])
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--min-time", type=float, default=0.05)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    print(f"onnxruntime {onnxruntime.__version__}, {platform.machine()}, {platform.processor() or 'cpu'}; "
          f"ORT threads {a.threads}; median of {a.repeat}")
    print("uint8 x int8 MatMulInteger exact on this CPU:", ox.matmul_integer_is_exact(signed_activations=False))
    rows = ox.speed_table(wide=a.wide, batches=a.batches, repeat=a.repeat, min_time=a.min_time, threads=a.threads)
    print(ox.format_speed_table(rows))


if __name__ == "__main__":
    main()

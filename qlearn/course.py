"""The course map: every lesson, in order, with the one line the index shows.

``00_index`` is written from this list, and ``tests/test_course.py`` checks that the
index, this list and the files in ``notebooks/`` agree, so a lesson cannot go missing.
"""
from __future__ import annotations

from typing import NamedTuple


class Lesson(NamedTuple):
    file: str
    title: str
    summary: str
    part: str


LESSONS: tuple[Lesson, ...] = (
    Lesson("00_index.ipynb", "Course map", "This page: every lesson and how to run the course.", "Start"),
    Lesson("01_number_formats.ipynb", "Number formats",
           "The bits of FP32, TF32, BF16, FP16, FP8 and INT8: range, precision, subnormals, memory.",
           "Numbers"),
    Lesson("02_rounding.ipynb", "Rounding",
           "Nearest-even, half-away, truncation, stochastic: bias, error, and lost small updates.", "Numbers"),
    Lesson("03_scale_zero_point.ipynb", "Scale and zero point",
           "The affine map from a real range to integer codes; symmetric, asymmetric, narrow range.",
           "Numbers"),
    Lesson("04_histograms_calibration.ipynb", "Histograms and calibration",
           "Choosing the range from data: min/max, percentile, MSE and KL-divergence calibrators.",
           "Ranges and noise"),
    Lesson("05_snr.ipynb", "SNR loss per bit",
           "Quantization noise as a signal: 6.02 dB per bit, where the rule breaks, optimal clipping, dither.",
           "Ranges and noise"),
    Lesson("06_fixed_point.ipynb", "Fixed point in signals and images",
           "Qm.n formats, overflow and underflow, an IIR filter in fixed point, false contours and dithering.",
           "Ranges and noise"),
    Lesson("07_per_channel.ipynb", "Per-channel scales",
           "Why one scale per tensor wastes levels, and what one scale per channel buys on a real network.",
           "A network"),
    Lesson("08_post_training_quantization.ipynb", "Post-training quantization",
           "Weight-only, full-integer, float16 and bfloat16 on the course's network; calibrators compared.",
           "A network"),
    Lesson("09_quantization_aware_training.ipynb", "Quantization-aware training",
           "Fake quantization and the straight-through estimator recover accuracy where PTQ fails.",
           "A network"),
    Lesson("10_nonuniform_and_binary.ipynb", "Non-uniform and binary codes",
           "k-means codebooks, power-of-two levels, binary and ternary weights with their scaling factors.",
           "A network"),
    Lesson("11_integer_inference.ipynb", "Integer-only inference",
           "A layer run entirely in integers: zero points, int32 accumulators, fixed-point rescaling.",
           "Hardware"),
    Lesson("12_systolic_array.ipynb", "A systolic array",
           "An int8 matmul flowing through a cycle-accurate systolic array, animated; dataflows and tiling.",
           "Hardware"),
    Lesson("13_tpu_v1_capstone.ipynb", "TPU v1 capstone",
           "Per-tensor vs per-channel, histogram vs MSE calibration: accuracy, latency and perf/watt on TPU v1.",
           "Hardware"),
    Lesson("14_onnx_runtime.ipynb", "ONNX Runtime, bit for bit",
           "The network exported to ONNX and run by ONNX Runtime: int8 codes vs lesson 11, ORT's quantizer, "
           "dynamic mode, measured speed.",
           "Hardware"),
    Lesson("15_convolutions_and_folding.ipynb", "Convolutions and batch-norm folding",
           "im2col, depthwise-separable blocks, batch norm folded into the weights, and what folding does to "
           "per-tensor vs per-channel scales on a small MobileNet-style network.",
           "A network"),
    Lesson("17_block_formats.ipynb", "Block formats: MXFP4, NVFP4, int4 groups",
           "FP4/FP6/E8M0 elements, MX shared power-of-two scales, NVFP4's two-level scale, per-group int4 with "
           "zero points: bits per weight with the scales, packing, block size vs error.",
           "Modern formats"),
)


def lesson(file: str) -> Lesson:
    """The :class:`Lesson` whose notebook is ``file``."""
    for item in LESSONS:
        if item.file == file:
            return item
    raise ValueError(f"no lesson {file!r}; lessons are {[le.file for le in LESSONS]}")

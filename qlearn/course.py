"""The course map: every lesson, in order, with the one line the index shows.

``00_index`` is written from this list, and ``tests/test_course.py`` checks that the
index, this list and the files in ``notebooks/`` agree, so a lesson cannot go missing.
"""
from __future__ import annotations

from typing import NamedTuple


class Timing(NamedTuple):
    """A lesson's estimated time and what the estimate counts (``docs/teaching.md``, "How the times
    were obtained": measured cell time + reading at 150 words/min + 3 min per explorer + 1 min per
    quiz question + 10 min per build-it-yourself task; the end-of-lesson exercises are not counted).
    """

    minutes: int
    explorers: int = 0
    questions: int = 0
    tasks: int = 0

    def line(self) -> str:
        """The line at the top of the lesson that states its time.

        >>> print(Timing(26, explorers=2, questions=3, tasks=1).line())  # doctest: +NORMALIZE_WHITESPACE
        *About 26 minutes: reading, 2 explorers, a 3-question quiz and 1 build-it-yourself task
        (an estimate; the end-of-lesson exercises are extra).*
        """
        parts = ["reading"]
        if self.explorers:
            parts.append(f"{self.explorers} explorer{'s' if self.explorers > 1 else ''}")
        if self.questions:
            parts.append(f"a {self.questions}-question quiz")
        if self.tasks:
            parts.append(f"{self.tasks} build-it-yourself task{'s' if self.tasks > 1 else ''}")
        what = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        return (f"*About {self.minutes} minutes: {what} (an estimate; the end-of-lesson exercises are "
                f"extra).*")


class Lesson(NamedTuple):
    file: str
    title: str
    summary: str
    part: str
    time: Timing | None = None  # from the timed run-through in docs/teaching.md

    @property
    def minutes(self) -> int | None:
        """The lesson's estimated time in minutes (None if it has not been timed)."""
        return None if self.time is None else self.time.minutes


LESSONS: tuple[Lesson, ...] = (
    Lesson("00_index.ipynb", "Course map", "This page: every lesson and how to run the course.", "Start",
           time=Timing(5)),
    Lesson("01_number_formats.ipynb", "Number formats",
           "The bits of FP32, TF32, BF16, FP16, FP8 and INT8: range, precision, subnormals, memory.",
           "Numbers",
           time=Timing(25, explorers=2, questions=4)),
    Lesson("02_rounding.ipynb", "Rounding",
           "Nearest-even, half-away, truncation, stochastic: bias, error, and lost small updates.", "Numbers",
           time=Timing(26, explorers=2, questions=3, tasks=1)),
    Lesson("03_scale_zero_point.ipynb", "Scale and zero point",
           "The affine map from a real range to integer codes; symmetric, asymmetric, narrow range.",
           "Numbers",
           time=Timing(38, explorers=2, questions=3, tasks=2)),
    Lesson("04_histograms_calibration.ipynb", "Histograms and calibration",
           "Choosing the range from data: min/max, percentile, MSE and KL-divergence calibrators.",
           "Ranges and noise",
           time=Timing(47, explorers=4, questions=3, tasks=2)),
    Lesson("05_snr.ipynb", "SNR loss per bit",
           "Quantization noise as a signal: 6.02 dB per bit, where the rule breaks, optimal clipping, dither.",
           "Ranges and noise",
           time=Timing(31, explorers=2, questions=3, tasks=1)),
    Lesson("06_fixed_point.ipynb", "Fixed point in signals and images",
           "Qm.n formats, overflow and underflow, an IIR filter in fixed point, false contours and dithering.",
           "Ranges and noise",
           time=Timing(33, explorers=3, questions=3, tasks=1)),
    Lesson("07_per_channel.ipynb", "Per-channel scales",
           "Why one scale per tensor wastes levels, and what one scale per channel buys on a real network.",
           "A network",
           time=Timing(26, explorers=1, questions=3, tasks=1)),
    Lesson("08_post_training_quantization.ipynb", "Post-training quantization",
           "Weight-only, full-integer, float16 and bfloat16 on the course's network; calibrators compared.",
           "A network",
           time=Timing(26, explorers=1, questions=3, tasks=1)),
    Lesson("09_quantization_aware_training.ipynb", "Quantization-aware training",
           "Fake quantization and the straight-through estimator recover accuracy where PTQ fails.",
           "A network",
           time=Timing(30, explorers=2, questions=3, tasks=1)),
    Lesson("10_nonuniform_and_binary.ipynb", "Non-uniform and binary codes",
           "k-means codebooks, power-of-two levels, binary and ternary weights with their scaling factors.",
           "A network",
           time=Timing(26, explorers=1, questions=3, tasks=1)),
    Lesson("11_integer_inference.ipynb", "Integer-only inference",
           "A layer run entirely in integers: zero points, int32 accumulators, fixed-point rescaling.",
           "Hardware",
           time=Timing(42, explorers=2, questions=3, tasks=2)),
    Lesson("12_systolic_array.ipynb", "A systolic array",
           "An int8 matmul flowing through a cycle-accurate systolic array, animated; dataflows and tiling.",
           "Hardware",
           time=Timing(33, explorers=3, questions=3, tasks=1)),
    Lesson("13_tpu_v1_capstone.ipynb", "TPU v1 capstone",
           "Per-tensor vs per-channel, histogram vs MSE calibration: accuracy, latency and perf/watt on TPU v1.",
           "Hardware",
           time=Timing(61, explorers=2, questions=3, tasks=2)),
    Lesson("14_onnx_runtime.ipynb", "ONNX Runtime, bit for bit",
           "The network exported to ONNX and run by ONNX Runtime: int8 codes vs lesson 11, ORT's quantizer, "
           "dynamic mode, measured speed.",
           "Hardware",
           time=Timing(33, questions=4, tasks=1)),
    Lesson("15_convolutions_and_folding.ipynb", "Convolutions and batch-norm folding",
           "im2col, depthwise-separable blocks, batch norm folded into the weights, and what folding does to "
           "per-tensor vs per-channel scales on a small MobileNet-style network.",
           "A network",
           time=Timing(52, explorers=2, questions=5, tasks=2)),
    Lesson("16_ptq_repairs.ipynb", "Repairing post-training quantization",
           "Cross-layer equalization, high-bias absorption, bias correction and AdaRound bring the 4-bit "
           "per-tensor network back from its collapse, measured; learned step sizes compared.",
           "A network",
           time=Timing(49, explorers=3, questions=5, tasks=1)),
    Lesson("17_block_formats.ipynb", "Block formats: MXFP4, NVFP4, int4 groups",
           "FP4/FP6/E8M0 elements, MX shared power-of-two scales, NVFP4's two-level scale, per-group int4 with "
           "zero points: bits per weight with the scales, packing, block size vs error.",
           "Modern formats",
           time=Timing(42, explorers=1, questions=4, tasks=2)),
    Lesson("18_llm_weights.ipynb", "4-bit weights for a language model",
           "A small transformer trained on Shakespeare, quantized per channel and per group; GPTQ, AWQ, "
           "outliers with LLM.int8() and SmoothQuant; where weight-only quantization speeds up decoding.",
           "Modern formats",
           time=Timing(51, explorers=5, questions=4, tasks=1)),
)


def lesson(file: str) -> Lesson:
    """The :class:`Lesson` whose notebook is ``file``."""
    for item in LESSONS:
        if item.file == file:
            return item
    raise ValueError(f"no lesson {file!r}; lessons are {[le.file for le in LESSONS]}")

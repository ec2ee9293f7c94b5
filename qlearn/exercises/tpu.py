"""Build it yourself, lesson 13: a point on the TPU v1 roofline, and its ridge.

``attainable_tops(intensity, peak_tops, bandwidth)`` is checked against :func:`qlearn.hardware.tpu.roofline`
and ``ridge_point(peak_tops, bandwidth)`` against :attr:`qlearn.hardware.tpu.TPUv1.ridge_point`, for the TPU
v1 (Jouppi et al. 2017: 92 TOPS, 34 GB/s) and for variants with another clock or memory.
Intensity is in MACs per weight byte (the paper's x axis; equal to the batch for an MLP layer).

Examples
--------
>>> from qlearn.exercises.solutions import tpu as sol
>>> check_attainable_tops(sol.attainable_tops).passed, check_ridge_point(sol.ridge_point).passed
(True, True)
>>> print(check_ridge_point(lambda peak_tops, bandwidth: peak_tops * 1e12 / bandwidth).diagnosis)  # doctest: +ELLIPSIS
Yours is twice the reference...
"""
from __future__ import annotations

import dataclasses

import numpy as np

from qlearn.exercises.checking import Case, CheckResult, Mistake, Task, same_numbers
from qlearn.exercises.solutions import tpu as _sol
from qlearn.hardware import tpu

SCAFFOLD_ATTAINABLE_TOPS = '''def attainable_tops(intensity, peak_tops, bandwidth):
    """The roofline: attainable TOPS (1e12 ops/s) of a layer that does `intensity` MACs per weight
    byte, on a chip with peak `peak_tops` and weight-memory `bandwidth` in bytes/s. Each MAC is
    2 ops (a multiply and an add). Memory bound: 2 * intensity * bandwidth ops/s; never more than
    the peak. intensity may be a number or an array. Return TOPS.
    """
    ...
'''

SCAFFOLD_RIDGE_POINT = '''def ridge_point(peak_tops, bandwidth):
    """The ridge of the roofline in MACs per weight byte: the intensity at which the memory-bound
    line (2 ops per MAC, `bandwidth` bytes/s) reaches the peak `peak_tops`. Return a number.
    """
    ...
'''


def _spec(peak_tops, bandwidth):
    base = tpu.TPU_V1
    clock = peak_tops * 1e12 / (2 * base.rows * base.cols)
    return dataclasses.replace(base, clock_hz=clock, weight_bandwidth=bandwidth)


def _ref_tops(intensity, peak_tops, bandwidth):
    return tpu.roofline(intensity, _spec(peak_tops, bandwidth))


def _ref_ridge(peak_tops, bandwidth):
    return float(_spec(peak_tops, bandwidth).ridge_point)


def _I(x):
    return np.asarray(x, dtype=np.float64)


TOPS_MISTAKES = [
    Mistake(lambda i, p, bw: np.minimum(p, _I(i) * bw / 1e12),
            "You count a MAC as one op: TOPS count the multiply and the add, so the memory-bound line is "
            "2 * intensity * bandwidth ops/s (TPU v1 at intensity 200: 13.6 TOPS, not 6.8)."),
    Mistake(lambda i, p, bw: np.maximum(p, 2 * _I(i) * bw / 1e12),
            "You took the max of the two limits: a layer gets the smaller of the peak and what memory can feed "
            "(min), which is why the roofline bends."),
    Mistake(lambda i, p, bw: 2 * _I(i) * bw / 1e12,
            "You left out the roof: above the ridge the chip is compute bound and gets its peak, never more."),
    Mistake(lambda i, p, bw: np.minimum(p * 1e12, 2 * _I(i) * bw),
            "Your answer is in ops/s: divide by 1e12 for TOPS."),
    Mistake(lambda i, p, bw: np.minimum(p, 2 * _I(i) * bw / 1e12 / 8),
            "You divided the bandwidth by 8: it is already in bytes/s, and intensity is per byte."),
    Mistake(lambda i, p, bw: np.full(np.shape(i), float(p)),
            "You return the peak whatever the intensity: below the ridge the layer is memory bound, "
            "2 * intensity * bandwidth."),
]

RIDGE_MISTAKES = [
    Mistake(lambda p, bw: p * 1e12 / bw,
            "Yours is twice the reference: you counted ops per byte (peak / bandwidth); the ridge is in MACs per "
            "weight byte, peak / (2 * bandwidth) (TPU v1: about 1350, the paper's figure)."),
    Mistake(lambda p, bw: 2 * bw / (p * 1e12),
            "Your ratio is upside down: the ridge is peak ops/s / (2 * bandwidth), a large number (about 1350 "
            "for the TPU v1)."),
    Mistake(lambda p, bw: p / (2 * bw),
            "You forgot the units: peak_tops is in 1e12 ops/s, so multiply it by 1e12 before dividing by "
            "bytes/s."),
    Mistake(lambda p, bw: p * 1e12 / (2 * bw * 8),
            "You divided the bandwidth into bits: it is in bytes/s, and the ridge is per weight byte."),
]


def _tops_cases():
    v1 = tpu.TPU_V1
    rng = np.random.default_rng(16)
    return [
        Case("TPU v1, MLP0 at batch 200", (200.0, v1.peak_tops, v1.weight_bandwidth)),
        Case("TPU v1, far above the ridge", (5000.0, v1.peak_tops, v1.weight_bandwidth)),
        Case("TPU v1, several intensities", (np.array([0.0, 10.0, 200.0, 1349.0, 1350.0, 3000.0]),
                                             v1.peak_tops, v1.weight_bandwidth)),
        Case("a TPU' with 183.5 GB/s memory", (np.array([100.0, 250.0, 1000.0]), v1.peak_tops, 183.5e9)),
        Case("seeded random chip and intensities", (rng.uniform(0, 3000, 8), float(rng.uniform(5, 200)),
                                                    float(rng.uniform(10e9, 900e9)))),
    ]


def _ridge_cases():
    v1 = tpu.TPU_V1
    rng = np.random.default_rng(17)
    cases = [Case("TPU v1", (v1.peak_tops, v1.weight_bandwidth)),
             Case("TPU' (183.5 GB/s)", (v1.peak_tops, 183.5e9))]
    for _ in range(3):
        cases.append(Case("seeded random chip", (float(rng.uniform(5, 200)), float(rng.uniform(10e9, 900e9)))))
    return cases


TASK_TOPS = Task("attainable_tops", lesson="13_tpu_v1_capstone.ipynb", title="A point on the roofline",
                 reference=_ref_tops, cases=_tops_cases(), mistakes=TOPS_MISTAKES,
                 compare=lambda e, g: same_numbers(e, g, rtol=1e-9, atol=1e-9),
                 arg_names=["intensity", "peak_tops", "bandwidth"], scaffold=SCAFFOLD_ATTAINABLE_TOPS,
                 solution=_sol.attainable_tops,
            intro=("Write one point of the roofline: what a layer of a given intensity can reach on a chip with a "
                   "given peak and memory bandwidth."),
            reference_name="ql.hardware.tpu.roofline")

TASK_RIDGE = Task("ridge_point", lesson="13_tpu_v1_capstone.ipynb", title="The ridge of the roofline",
                  reference=_ref_ridge, cases=_ridge_cases(), mistakes=RIDGE_MISTAKES,
                  compare=lambda e, g: same_numbers(e, g, rtol=1e-9, atol=0),
                  arg_names=["peak_tops", "bandwidth"], scaffold=SCAFFOLD_RIDGE_POINT, solution=_sol.ridge_point,
            intro="Write the ridge of the roofline: the intensity at which a layer stops waiting for memory.",
            reference_name="ql.hardware.tpu.TPU_V1.ridge_point")


def check_attainable_tops(learner_fn) -> CheckResult:
    """Check a learner's ``attainable_tops(intensity, peak_tops, bandwidth)`` against
    :func:`qlearn.hardware.tpu.roofline`."""
    return TASK_TOPS.check(learner_fn)


def check_ridge_point(learner_fn) -> CheckResult:
    """Check a learner's ``ridge_point(peak_tops, bandwidth)`` against :attr:`qlearn.hardware.tpu.TPUv1.ridge_point`."""
    return TASK_RIDGE.check(learner_fn)

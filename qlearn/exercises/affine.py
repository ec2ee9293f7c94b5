"""Build it yourself, lesson 03: ``compute_qparams`` and ``quantize``.

The learner writes the asymmetric scale and zero point of a range, then the quantizer
``clip(round(x / scale) + zero_point, qmin, qmax)``. The checks compare them with
:func:`qlearn.ranges.affine.compute_qparams` and :func:`qlearn.ranges.affine.quantize`.

Examples
--------
>>> from qlearn.exercises.solutions import affine as sol
>>> check_compute_qparams(sol.compute_qparams).passed, check_quantize(sol.quantize).passed
(True, True)
>>> wrong = lambda x, scale, zero_point, qmin, qmax: np.clip(np.rint(np.asarray(x) / scale), qmin, qmax) + zero_point
>>> print(check_quantize(wrong).diagnosis)  # doctest: +ELLIPSIS
You clip before adding the zero point...
"""
from __future__ import annotations

import numpy as np

from qlearn.exercises.checking import Case, CheckResult, Mistake, Task
from qlearn.exercises.solutions import affine as _sol
from qlearn.ranges import affine

SCAFFOLD_COMPUTE_QPARAMS = '''def compute_qparams(x_min, x_max, bits=8, signed=True):
    """Asymmetric scale and zero point mapping the real range [x_min, x_max] onto bits-bit codes.

    qmin, qmax = -2**(bits-1), 2**(bits-1) - 1 if signed, else 0, 2**bits - 1.
    First widen the range to contain 0 (lo = min(x_min, 0), hi = max(x_max, 0)),
    then scale = (hi - lo) / (qmax - qmin) and zero_point = round(qmin - lo / scale),
    an integer in [qmin, qmax]. A range of only zeros gets scale = 1.0.
    Return (scale, zero_point).
    """
    ...
'''

SCAFFOLD_QUANTIZE = '''def quantize(x, scale, zero_point, qmin, qmax):
    """Integer codes of the array x: round x / scale to the nearest integer (ties to even,
    as np.rint does), add zero_point, then clip to [qmin, qmax]. Return an integer array.
    """
    ...
'''


def _qrange(bits, signed):
    return affine.qrange(bits, signed=signed)


def _ref_qparams(x_min, x_max, bits=8, signed=True):
    qp = affine.compute_qparams(x_min, x_max, bits=bits, signed=signed)
    return (qp.scale, qp.zero_point)


def _variant(*, levels_extra=0, widen=True, round_zp=True, zp_sign=1, use_qmin=True, symmetric=False):
    def fn(x_min, x_max, bits=8, signed=True):
        qmin, qmax = _qrange(bits, signed)
        lo, hi = (min(x_min, 0.0), max(x_max, 0.0)) if widen else (x_min, x_max)
        if symmetric:
            scale = max(-lo, hi) / qmax
        else:
            scale = (hi - lo) / (qmax - qmin + levels_extra)
        if scale == 0:
            scale = 1.0
        zp = (qmin if use_qmin else 0) - zp_sign * lo / scale
        if round_zp:
            zp = float(np.clip(np.rint(zp), qmin, qmax))
        return scale, zp
    return fn


QPARAMS_MISTAKES = [
    Mistake(_variant(round_zp=False),
            "Your zero point is not an integer: round it (np.rint) so that the real value 0.0 lands exactly on a "
            "code, and clip it to [qmin, qmax]."),
    Mistake(_variant(levels_extra=1),
            "You divided by 2**bits (256 at 8 bits) where the reference divides by qmax - qmin = 2**bits - 1 (255): "
            "2**bits codes have 2**bits - 1 steps between them."),
    Mistake(_variant(levels_extra=-1),
            "You divided by qmax - qmin - 1 (254 at 8 bits): between qmin and qmax there are qmax - qmin steps."),
    Mistake(_variant(widen=False),
            "You did not widen the range to contain 0: with x_min = 0.5 the reference uses lo = min(x_min, 0) = 0, "
            "so that 0.0 (padding, ReLU zeros) is exactly representable."),
    Mistake(_variant(zp_sign=-1),
            "Your zero point has the wrong sign: zero_point = qmin - lo / scale (lo is negative, so it moves up)."),
    Mistake(_variant(use_qmin=False),
            "You left qmin out of the zero point: zero_point = qmin - lo / scale; without qmin the signed codes "
            "are shifted by 2**(bits-1)."),
    Mistake(_variant(symmetric=True),
            "You computed a symmetric scale (max(|lo|, hi) / qmax): this task is the asymmetric one, "
            "scale = (hi - lo) / (qmax - qmin)."),
]


def _explain_qparams(case, expected, got):
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return "Return two values, (scale, zero_point)."
    try:
        scale, zp = float(got[0]), float(got[1])
    except Exception:
        return "scale and zero_point must be numbers."
    if zp != round(zp):
        return f"Your zero point ({zp:.6g}) is not an integer: round it so that 0.0 lands exactly on a code."
    if not scale > 0:
        return f"Your scale is {scale!r}: it must be > 0 (a range of only zeros gets scale = 1.0)."
    if np.isclose(scale, expected[0]) and zp != expected[1]:
        return f"Your scale is right; your zero point is {zp:.0f}, the reference's {expected[1]}."
    return None


def _qparams_cases():
    rng = np.random.default_rng(3)
    cases = [
        Case("a range around 0, signed int8", (-1.0, 3.0, 8, True)),
        Case("a range around 0, unsigned uint8", (-1.0, 3.0, 8, False)),
        Case("only positive values (ReLU output), unsigned", (0.5, 6.0, 8, False)),
        Case("only negative values, signed 4 bits", (-5.0, -0.25, 4, True)),
        Case("a range of only zeros", (0.0, 0.0, 8, True),
             note="When x_min = x_max = 0, hi - lo is 0: use scale = 1.0 instead of dividing by zero."),
    ]
    for _ in range(6):
        lo, hi = sorted(rng.normal(0.0, 3.0, size=2))
        bits = int(rng.integers(2, 9))
        cases.append(Case("seeded random range", (float(lo), float(hi), bits, bool(rng.integers(0, 2)))))
    return cases


def _same_qparams(expected, got):
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return False
    try:
        s, z = float(got[0]), float(got[1])
    except Exception:
        return False
    return bool(np.isclose(s, expected[0], rtol=1e-9, atol=0) and z == expected[1])


TASK_QPARAMS = Task("compute_qparams", lesson="03_scale_zero_point.ipynb", title="Scale and zero point of a range",
                    reference=_ref_qparams, cases=_qparams_cases(), mistakes=QPARAMS_MISTAKES,
                    compare=_same_qparams, explain=_explain_qparams, arg_names=["x_min", "x_max", "bits", "signed"],
                    scaffold=SCAFFOLD_COMPUTE_QPARAMS, solution=_sol.compute_qparams,
            intro=("Write the asymmetric scale and zero point of a range. The zero point must be an integer: 0.0 "
                   "has to land exactly on a code."),
            reference_name="ql.compute_qparams")


def _ref_quantize(x, scale, zero_point, qmin, qmax):
    return affine.quantize(x, affine.QParams(scale, zero_point, qmin, qmax))


def _fx(x):
    return np.asarray(x, dtype=np.float64)


QUANTIZE_MISTAKES = [
    Mistake(lambda x, s, z, lo, hi: np.clip(np.rint(_fx(x) / s), lo, hi) + z,
            "You clip before adding the zero point: clip(round(x / scale), qmin, qmax) + zero_point can leave "
            "[qmin, qmax]. Add the zero point first, then clip."),
    Mistake(lambda x, s, z, lo, hi: np.rint(_fx(x) / s) + z,
            "You do not clip: values outside the range give codes outside [qmin, qmax]; they must saturate "
            "(np.clip(..., qmin, qmax))."),
    Mistake(lambda x, s, z, lo, hi: np.clip(np.trunc(_fx(x) / s) + z, lo, hi),
            "You truncate x / scale (astype(int) or int() cut toward zero) instead of rounding to the nearest "
            "integer: 2.7 steps becomes code 2, not 3."),
    Mistake(lambda x, s, z, lo, hi: np.clip(np.floor(_fx(x) / s) + z, lo, hi),
            "You round x / scale down (floor) instead of to the nearest integer: 2.7 steps becomes 2, not 3."),
    Mistake(lambda x, s, z, lo, hi: np.clip(np.floor(_fx(x) / s + 0.5) + z, lo, hi),
            "Ties go up in yours (floor(v + 0.5): 0.5 -> 1, -1.5 -> -1), to the even neighbour in the reference "
            "(np.rint: 0.5 -> 0, -1.5 -> -2)."),
    Mistake(lambda x, s, z, lo, hi: np.clip(np.copysign(np.floor(np.abs(_fx(x) / s) + 0.5), _fx(x)) + z, lo, hi),
            "Ties go away from zero in yours (np.round's cousin, C's round: 0.5 -> 1, -1.5 -> -2), to the even "
            "neighbour in the reference (np.rint: 0.5 -> 0)."),
    Mistake(lambda x, s, z, lo, hi: np.clip(np.rint(_fx(x) * s) + z, lo, hi),
            "You multiplied by the scale: codes are x / scale (the scale is the real size of one step)."),
    Mistake(lambda x, s, z, lo, hi: np.clip(np.rint(_fx(x) / s) - z, lo, hi),
            "You subtracted the zero point: quantize adds it (q = round(x / scale) + zero_point); dequantize "
            "subtracts it."),
    Mistake(lambda x, s, z, lo, hi: np.clip(np.rint((_fx(x) + z) / s), lo, hi),
            "You added the zero point to x before dividing: the zero point is in codes, added after rounding "
            "x / scale."),
]


def _explain_quantize(case, expected, got):
    try:
        g = np.asarray(got, dtype=np.float64)
    except Exception:
        return "Return an array of integer codes."
    if g.shape != np.shape(expected):
        return f"Your answer has shape {g.shape}; x has shape {np.shape(expected)}: one code per value."
    if np.any(g != np.round(g)):
        return "Your codes are not integers: round x / scale before adding the zero point."
    qmin, qmax = case.args[3], case.args[4]
    if g.min() < qmin or g.max() > qmax:
        return f"Some codes are outside [qmin, qmax] = [{qmin}, {qmax}]: clip (saturate) them."
    return None


def _quantize_cases():
    rng = np.random.default_rng(4)
    cases = [
        Case("inside the range, zero point 0", (np.array([-1.0, -0.26, 0.0, 0.26, 0.74]), 0.25, 0, -8, 7)),
        Case("ties (x / scale ends in .5)", (np.array([0.125, 0.375, -0.125, -0.375, 0.625]), 0.25, 0, -8, 7)),
        Case("saturation at both ends", (np.array([-100.0, -2.1, 1.9, 100.0]), 0.25, 0, -8, 7)),
        Case("unsigned with a zero point", (np.array([-1.0, 0.0, 0.5, 2.9, 3.0]), 4.0 / 255.0, 64, 0, 255)),
        Case("a zero point near qmax, values past the top",
             (np.array([0.05, 0.2, 1.0, -0.5, -3.0]), 0.1, 120, -128, 127)),
    ]
    for _ in range(4):
        scale = float(rng.uniform(0.01, 0.5))
        zp = int(rng.integers(-20, 20))
        cases.append(Case("seeded random values, signed int8",
                          (rng.normal(0.0, 30 * scale, size=100), scale, zp, -128, 127)))
    return cases


TASK_QUANTIZE = Task("quantize", lesson="03_scale_zero_point.ipynb", title="Quantize with a scale and a zero point",
                     reference=_ref_quantize, cases=_quantize_cases(), mistakes=QUANTIZE_MISTAKES,
                     explain=_explain_quantize, arg_names=["x", "scale", "zero_point", "qmin", "qmax"],
                     scaffold=SCAFFOLD_QUANTIZE, solution=_sol.quantize,
            intro=("Write the quantizer itself, $q = \\mathrm{clip}(\\mathrm{round}(x/s) + z,\\ q_{min},\\ "
                   "q_{max})$: the order of the three steps matters."),
            reference_name="ql.quantize")


def check_compute_qparams(learner_fn) -> CheckResult:
    """Check a learner's ``compute_qparams(x_min, x_max, bits, signed) -> (scale, zero_point)``
    against :func:`qlearn.ranges.affine.compute_qparams` (asymmetric)."""
    return TASK_QPARAMS.check(learner_fn)


def check_quantize(learner_fn) -> CheckResult:
    """Check a learner's ``quantize(x, scale, zero_point, qmin, qmax)`` against
    :func:`qlearn.ranges.affine.quantize`."""
    return TASK_QUANTIZE.check(learner_fn)

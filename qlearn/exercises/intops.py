"""Build it yourself, lesson 11: TFLite's fixed-point multiplier and gemmlowp's rounding shift.

``quantize_multiplier(M)`` is checked against :func:`qlearn.hardware.intops.quantize_multiplier` and
``rounding_divide_by_pot(x, exponent)`` against :func:`qlearn.hardware.intops.rounding_divide_by_pot`.

Examples
--------
>>> from qlearn.exercises.solutions import intops as sol
>>> check_quantize_multiplier(sol.quantize_multiplier).passed
True
>>> check_rounding_divide_by_pot(sol.rounding_divide_by_pot).passed
True
>>> print(check_rounding_divide_by_pot(lambda x, e: np.asarray(x) >> e).diagnosis)  # doctest: +ELLIPSIS
You shift right (x >> exponent)...
"""
from __future__ import annotations

import math

import numpy as np

from qlearn.exercises.checking import Case, CheckResult, Mistake, Task, same_numbers
from qlearn.exercises.solutions import intops as _sol
from qlearn.hardware import intops

SCAFFOLD_QUANTIZE_MULTIPLIER = '''def quantize_multiplier(M):
    """A real multiplier M >= 0 as an int32 m0 and a shift, M ~= m0 * 2**(shift - 31), as TFLite does:
    write M = q * 2**shift with q in [0.5, 1) (math.frexp does it: import math), then m0 = round(q * 2**31),
    rounding half away from zero (C's std::round). If that gives m0 = 2**31 (too big for int32),
    halve m0 and add 1 to shift. M = 0 gives (0, 0). Return (m0, shift) as two Python ints.
    """
    ...
'''

SCAFFOLD_ROUNDING_DIVIDE_BY_POT = '''def rounding_divide_by_pot(x, exponent):
    """x / 2**exponent rounded to the nearest integer, ties away from zero (gemmlowp's
    RoundingDivideByPOT), for an integer array x and an integer exponent in [0, 31].
    Use integer operations only (>>, &, +, comparisons). Return an integer array.
    """
    ...
'''


def _round_half_even(v):
    return int(round(v))


def _qm(m, *, rnd=None, renorm=True, sign=1, shift_offset=0, normalise=True):
    if m == 0:
        return 0, 0
    if not normalise:
        return int(math.floor(abs(m * 2.0**31) + 0.5)), 0
    q, shift = math.frexp(m)
    v = q * 2.0**31
    m0 = rnd(v) if rnd is not None else int(math.floor(v + 0.5))
    if renorm and m0 == 2**31:
        m0 //= 2
        shift += 1
    return m0, sign * shift + shift_offset


QM_MISTAKES = [
    Mistake(lambda m: _qm(m, rnd=_round_half_even),
            "Ties go to even in yours (Python's round, np.rint); TFLite rounds q * 2**31 with std::round, half away "
            "from zero: for M = 0.5 + 2**-32, q * 2**31 = 2**30 + 0.5 must give m0 = 2**30 + 1."),
    Mistake(lambda m: _qm(m, rnd=lambda v: int(v)),
            "You truncate q * 2**31 (int() drops the fraction): round it to the nearest integer (half away from "
            "zero)."),
    Mistake(lambda m: _qm(m, renorm=False),
            "For M just below a power of two (M = 1 - 2**-33) the rounding gives m0 = 2**31, which does not fit "
            "int32: halve m0 and add 1 to shift (TFLite's renormalisation)."),
    Mistake(lambda m: _qm(m, sign=-1),
            "Your shift has the opposite sign: M = m0 * 2**(shift - 31), so M = 0.0123 = 0.787 * 2**-6 has "
            "shift = -6 (a right shift), and M = 3 has shift = 2."),
    Mistake(lambda m: _qm(m, shift_offset=-1),
            "Your shift is one too small: with q in [0.5, 1) (math.frexp), M = q * 2**shift; a q in [1, 2) "
            "(math.log2) needs shift + 1."),
    Mistake(lambda m: _qm(m, normalise=False),
            "You did not normalise: m0 = round(M * 2**31) with shift 0 loses precision for small M (0.0123 keeps "
            "only 25 significant bits). Write M = q * 2**shift with q in [0.5, 1) first, so m0 uses all 31 bits."),
]


def _qm_cases():
    rng = np.random.default_rng(13)
    cases = [
        Case("M = 0.5", (0.5,)),
        Case("M = 0.0123 (a typical s_x s_w / s_y)", (0.0123,)),
        Case("M = 3.0 (larger than 1)", (3.0,)),
        Case("a tie: M = 0.5 + 2**-32", (0.5 + 2.0**-32,)),
        Case("the edge: M = 1 - 2**-33", (1.0 - 2.0**-33,),
             note="Here q * 2**31 rounds to 2**31, which does not fit int32."),
        Case("M = 0", (0.0,), note="M = 0 has no exponent (math.log2 fails): return (0, 0)."),
    ]
    for v in 10.0 ** rng.uniform(-5, 0.5, 8):
        cases.append(Case("seeded random multiplier", (float(v),)))
    return cases


def _same_qm(expected, got):
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return False
    try:
        return int(got[0]) == expected[0] and int(got[1]) == expected[1] and float(got[0]) == expected[0]
    except Exception:
        return False


def _explain_qm(case, expected, got):
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return "Return two integers, (m0, shift)."
    try:
        m0, shift = float(got[0]), float(got[1])
    except Exception:
        return "m0 and shift must be integers."
    if m0 != round(m0) or shift != round(shift):
        return "m0 and shift must be integers: round q * 2**31."
    if m0 >= 2**31:
        return f"Your m0 = {m0:.0f} does not fit int32 (it must be < 2**31): halve it and add 1 to shift."
    return None


TASK_QM = Task("quantize_multiplier", lesson="11_integer_inference.ipynb", title="The fixed-point multiplier",
               reference=lambda m: intops.quantize_multiplier(m), cases=_qm_cases(), mistakes=QM_MISTAKES,
               compare=_same_qm, explain=_explain_qm, arg_names=["M"], scaffold=SCAFFOLD_QUANTIZE_MULTIPLIER,
               solution=_sol.quantize_multiplier,
            intro=("Write TFLite's `QuantizeMultiplier`: the real rescale $M$ as an int32 $m_0$ and a shift, "
                   "including its rounding rule and its edge case."),
            reference_name="ql.hardware.intops.quantize_multiplier")

# -- rounding divide by a power of two ----------------------------------------------------------


def _i(x):
    return np.asarray(x, dtype=np.int64)


def _f(x, e):
    return _i(x).astype(np.float64) / 2.0**e


RDP_MISTAKES = [
    Mistake(lambda x, e: _i(x) >> e,
            "You shift right (x >> exponent): that is floor, e.g. 5 >> 1 = 2 where 2.5 rounds to 3, and 3 >> 1 = 1 "
            "where 1.5 rounds to 2. Add the rounding: compare the dropped bits (x & mask) with half."),
    Mistake(lambda x, e: np.floor(_f(x, e) + 0.5).astype(np.int64),
            "Ties go up in yours ((x + half) >> exponent, or floor(v + 0.5)): -5 / 2 = -2.5 gives -2; gemmlowp "
            "rounds ties away from zero (-3): its threshold is one larger for negative x."),
    Mistake(lambda x, e: np.rint(_f(x, e)).astype(np.int64),
            "Ties go to even in yours (np.rint / round): 5 / 2 = 2.5 gives 2; gemmlowp rounds ties away from "
            "zero (3)."),
    Mistake(lambda x, e: np.trunc(_f(x, e)).astype(np.int64),
            "You truncate toward zero (C's division x / 2**e): 7 / 2 = 3.5 gives 3; round to nearest (4)."),
    Mistake(lambda x, e: np.ceil(_f(x, e)).astype(np.int64),
            "You round up (ceil): 5 / 4 = 1.25 gives 2; round to nearest (1)."),
]


def _rdp_cases():
    rng = np.random.default_rng(14)
    return [
        Case("exponent 1 (ties at .5)", (np.array([5, -5, 6, -6, 7, -7, 3, -3]), 1)),
        Case("exponent 2", (np.array([-6, -2, 2, 6, 10, -10, 5, -5, 7, -7]), 2)),
        Case("exponent 0 (no division)", (np.array([5, -5, 0, 2**31 - 1]), 0)),
        Case("large int32 values", (np.array([2**31 - 1, -(2**31), 2**30, -(2**30) - 1]), 31)),
        Case("seeded random accumulators", (rng.integers(-(2**31), 2**31, 200), 13)),
        Case("seeded random small values", (rng.integers(-40, 40, 200), 3)),
    ]


def _explain_rdp(case, expected, got):
    try:
        g = np.asarray(got, dtype=np.float64)
    except Exception:
        return "Return an array of integers."
    if g.shape != np.shape(expected):
        return f"Your answer has shape {g.shape}; x has shape {np.shape(expected)}."
    if np.any(g != np.round(g)):
        return "Your answers are not integers: the result of the rounding shift is an integer."
    return None


TASK_RDP = Task("rounding_divide_by_pot", lesson="11_integer_inference.ipynb", title="The rounding shift",
                reference=intops.rounding_divide_by_pot, cases=_rdp_cases(), mistakes=RDP_MISTAKES,
                compare=lambda e, g: same_numbers(e, g, rtol=0, atol=0), explain=_explain_rdp,
                arg_names=["x", "exponent"], scaffold=SCAFFOLD_ROUNDING_DIVIDE_BY_POT,
                solution=_sol.rounding_divide_by_pot,
            intro=("Write gemmlowp's rounding right shift in integer operations only: the step that turns a plain "
                   "shift (floor) into round-to-nearest."),
            reference_name="ql.hardware.intops.rounding_divide_by_pot")


def check_quantize_multiplier(learner_fn) -> CheckResult:
    """Check a learner's ``quantize_multiplier(M) -> (m0, shift)`` against
    :func:`qlearn.hardware.intops.quantize_multiplier`."""
    return TASK_QM.check(learner_fn)


def check_rounding_divide_by_pot(learner_fn) -> CheckResult:
    """Check a learner's ``rounding_divide_by_pot(x, exponent)`` against
    :func:`qlearn.hardware.intops.rounding_divide_by_pot`."""
    return TASK_RDP.check(learner_fn)

"""Build it yourself, lesson 02: round half to even.

The learner writes ``round_half_even(x)``; :func:`check_round_half_even` compares it with
:func:`qlearn.numbers.rounding.round_` (``mode="half_even"``) on ties, near-ties, negatives, huge values and
seeded random inputs, and names the rounding mode the learner's function actually implements.

Examples
--------
>>> from qlearn.exercises.solutions import rounding as sol
>>> check_round_half_even(sol.round_half_even).passed
True
>>> print(check_round_half_even(lambda x: np.floor(np.asarray(x) + 0.5)).diagnosis)  # doctest: +ELLIPSIS
Ties go up (toward +infinity) in yours...
"""
from __future__ import annotations

import numpy as np

from qlearn.exercises.checking import Case, CheckResult, Mistake, Task
from qlearn.exercises.solutions import rounding as _sol
from qlearn.numbers.rounding import round_

SCAFFOLD_ROUND_HALF_EVEN = '''def round_half_even(x):
    """Round every value of the array x to the nearest integer; a tie (a fraction of exactly .5)
    goes to the even neighbour: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -2.5 -> -2.
    Return a float array of the same shape. Do not call np.round, np.rint or np.around
    (they already do it): use np.floor and arithmetic.
    """
    ...
'''


def _a(x):
    return np.asarray(x, dtype=np.float64)


def _half_away(x):
    a = _a(x)
    m = np.abs(a)
    return np.copysign(np.floor(m) + (m - np.floor(m) >= 0.5), a)


def _half_odd(x):
    a = _a(x)
    lo = np.floor(a)
    d = a - lo
    up = (d > 0.5) | ((d == 0.5) & (lo % 2 == 0))
    return lo + up


def _half_even_via_floor_plus_half(x):
    a = _a(x)
    r = np.floor(a + 0.5)
    tie = (a - np.floor(a)) == 0.5
    return np.where(tie & (r % 2 != 0), r - 1, r)


MISTAKES = [
    Mistake(lambda x: np.floor(_a(x) + 0.5),
            "Ties go up (toward +infinity) in yours: floor(x + 0.5) sends 0.5 -> 1, 2.5 -> 3 and -2.5 -> -2; "
            "in the reference a tie goes to the even neighbour (0.5 -> 0, 2.5 -> 2, -2.5 -> -2)."),
    Mistake(_half_away,
            "Ties go away from zero in yours (C's round: 2.5 -> 3, -2.5 -> -3), to the even neighbour in the "
            "reference (2.5 -> 2, -2.5 -> -2)."),
    Mistake(lambda x: np.ceil(_a(x) - 0.5),
            "Ties go down (toward -infinity) in yours: ceil(x - 0.5) sends 2.5 -> 2 but 1.5 -> 1 and -0.5 -> -1; "
            "in the reference a tie goes to the even neighbour (1.5 -> 2)."),
    Mistake(_half_odd,
            "Ties go to the odd neighbour in yours (2.5 -> 3, 1.5 -> 1): check the parity test; the reference "
            "keeps the even one."),
    Mistake(lambda x: np.trunc(_a(x)),
            "You truncate toward zero (what int(x) or astype(int) does): 1.7 -> 1 and -1.7 -> -1. Rounding goes to "
            "the nearest integer: 1.7 -> 2."),
    Mistake(lambda x: np.floor(_a(x)),
            "You round down (floor): 1.7 -> 1 and -0.3 -> -1. Rounding goes to the nearest integer."),
    Mistake(lambda x: np.ceil(_a(x)),
            "You round up (ceil): 1.2 -> 2 and -1.7 -> -1. Rounding goes to the nearest integer."),
    Mistake(_half_even_via_floor_plus_half,
            "Ties are right, but floor(x + 0.5) fails just below a tie: 0.49999999999999994 + 0.5 is itself "
            "rounded to 1.0 in float64, so you return 1 where the nearest integer is 0. Test the fraction "
            "x - floor(x) instead of adding 0.5."),
]


def _cases():
    rng = np.random.default_rng(2)
    ties = rng.integers(-1000, 1000, size=40) + 0.5
    return [
        Case("ties at .5", (np.array([0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, -3.5]),)),
        Case("no ties", (np.array([-1.7, -1.2, -0.3, 0.3, 1.2, 1.7, 0.0, 7.0]),)),
        Case("seeded random values", (rng.normal(0.0, 10.0, size=200),)),
        Case("seeded random ties", (ties,)),
        Case("just below a tie", (np.array([0.49999999999999994, -0.49999999999999994, 1.4999999999999998]),)),
        Case("huge values (already integers)", (np.array([2.0**52 + 1, -(2.0**52) - 1, 2.0**60]),)),
        Case("a 2-D array", (np.array([[0.5, 1.5], [-2.5, 2.6]]),),
             note="The answer must keep the input's shape."),
    ]


def _explain(case, expected, got):
    g = np.asarray(got) if not isinstance(got, (str, bytes)) else None
    try:
        g = np.asarray(got, dtype=np.float64)
    except Exception:
        return "Your answer is not an array of numbers."
    if g.shape != np.shape(expected):
        return f"Your answer has shape {g.shape}; the input has shape {np.shape(expected)}: return one value per input."
    if np.any(g != np.round(g)):
        return "Some of your answers are not integers: every value must be rounded."
    return None


TASK = Task("round_half_even", lesson="02_rounding.ipynb", title="Round half to even",
            reference=lambda x: round_(x, "half_even"), cases=_cases(), mistakes=MISTAKES, explain=_explain,
            arg_names=["x"], scaffold=SCAFFOLD_ROUND_HALF_EVEN, solution=_sol.round_half_even,
            intro=("Write round-to-nearest with ties to even yourself, from `np.floor` and arithmetic: the default "
                   "rounding of IEEE 754, of `np.rint`, and of every quantizer in this course."),
            reference_name="ql.round_(x, \"half_even\")")


def check_round_half_even(learner_fn) -> CheckResult:
    """Check a learner's ``round_half_even(x)`` against ``qlearn.numbers.rounding.round_(x, "half_even")``.

    Returns a :class:`~qlearn.exercises.checking.CheckResult`; never raises on the learner's bugs.
    """
    return TASK.check(learner_fn)

"""Build it yourself, lesson 06: put a value into a signed Qm.n format, saturating.

``to_fixed(x, int_bits, frac_bits)`` is checked against :func:`qlearn.numbers.fixed.quantize_fixed` with
``FixedFormat(1 + int_bits + frac_bits, frac_bits)``, ``overflow="saturate"``, ``rounding="half_even"``.

Examples
--------
>>> from qlearn.exercises.solutions import fixed_point as sol
>>> check_to_fixed(sol.to_fixed).passed
True
>>> wrong = lambda x, m, n: np.clip(np.rint(np.asarray(x) * 2.0**n) / 2.0**n, -2.0**m, 2.0**m)
>>> print(check_to_fixed(wrong).diagnosis)  # doctest: +ELLIPSIS
Your largest value is 2**int_bits...
"""
from __future__ import annotations

import numpy as np

from qlearn.exercises.checking import Case, CheckResult, Mistake, Task
from qlearn.exercises.solutions import fixed_point as _sol
from qlearn.numbers.fixed import FixedFormat, quantize_fixed

SCAFFOLD_TO_FIXED = '''def to_fixed(x, int_bits, frac_bits):
    """The values of the array x in the signed format Q<int_bits>.<frac_bits>: a word of
    1 + int_bits + frac_bits bits in two's complement, read as q * 2**-frac_bits.
    Round x * 2**frac_bits to the nearest integer code q (ties to even, like np.rint), saturate
    q to the word's range [-2**(int_bits + frac_bits), 2**(int_bits + frac_bits) - 1], and return
    the real values q * 2**-frac_bits.
    """
    ...
'''


def _ref(x, int_bits, frac_bits):
    return quantize_fixed(x, FixedFormat(1 + int_bits + frac_bits, frac_bits))[0]


def _codes(x, n, rnd=np.rint):
    return rnd(np.asarray(x, dtype=np.float64) * 2.0**n)


def _variant(*, rnd=np.rint, lo=None, hi=None, wrap=False, sign_bit=True):
    def fn(x, m, n):
        w = (1 + m + n) if sign_bit else (m + n)
        qmin = -(2 ** (w - 1)) if lo is None else lo(m, n)
        qmax = 2 ** (w - 1) - 1 if hi is None else hi(m, n)
        q = _codes(x, n, rnd)
        if wrap:
            q = np.mod(q - qmin, 2.0 ** (1 + m + n)) + qmin
        else:
            q = np.clip(q, qmin, qmax)
        return q * 2.0**-n
    return fn


MISTAKES = [
    Mistake(_variant(wrap=True),
            "Out-of-range values wrap around in yours (two's-complement overflow: a large positive value comes "
            "back negative); this format saturates: clip the code to [qmin, qmax]."),
    Mistake(_variant(hi=lambda m, n: 2 ** (m + n)),
            "Your largest value is 2**int_bits (e.g. 8.0 in Q3.4); the format's largest is one step below it, "
            "2**int_bits - 2**-frac_bits (7.9375 in Q3.4): the top code is 2**(int_bits + frac_bits) - 1."),
    Mistake(_variant(lo=lambda m, n: -(2 ** (m + n)) + 1),
            "You saturate the negative side at -(2**int_bits - 2**-frac_bits) (e.g. -7.9375 in Q3.4): two's "
            "complement has one more negative code, so the format reaches -2**int_bits (-8.0)."),
    Mistake(_variant(rnd=np.floor),
            "You round down (floor), what dropping the low bits of a word does: 1.03 in Q3.4 becomes 1.0 but "
            "0.97 becomes 0.9375. This task rounds to the nearest code (ties to even)."),
    Mistake(_variant(rnd=np.trunc),
            "You truncate toward zero (int(), astype(int)): rounding goes to the nearest code."),
    Mistake(_variant(rnd=lambda v: np.floor(v + 0.5)),
            "Ties go up in yours (floor(v + 0.5)); the reference rounds a tie to the even code (np.rint)."),
    Mistake(_variant(sign_bit=False),
            "You left out the sign bit: a signed Qm.n word has 1 + m + n bits, so the codes reach "
            "+-2**(m + n), not +-2**(m + n - 1)."),
    Mistake(lambda x, m, n: np.clip(np.rint(np.asarray(x, dtype=np.float64) / 2.0**n) * 2.0**n,
                                    -(2.0**m), 2.0**m - 2.0**-n),
            "Your scaling is upside down: the code is x * 2**frac_bits (frac_bits bits after the binary point), "
            "and the value q * 2**-frac_bits."),
]


def _cases():
    rng = np.random.default_rng(8)
    return [
        Case("inside Q3.4", (np.array([1.03, -2.51, 0.97, 3.3, -0.01, 0.0]), 3, 4)),
        Case("ties in Q3.4 (x * 16 ends in .5)",
             (np.array([1.0 / 32, 3.0 / 32, -1.0 / 32, -3.0 / 32, 5.0 / 32]), 3, 4)),
        Case("saturation in Q3.4", (np.array([9.0, 8.0, 7.97, -8.0, -8.02, -100.0]), 3, 4),
             note="Q3.4 spans [-8, 7.9375]."),
        Case("Q0.7 (an int8 in [-1, 1))", (np.array([0.999, -1.0, -1.5, 0.5, 1.0]), 0, 7)),
        Case("Q7.0 (plain int8)", (np.array([127.4, 127.6, -128.4, -129.0, 300.0, 2.5]), 7, 0)),
        Case("seeded random values in Q3.12", (rng.normal(0.0, 5.0, 500), 3, 12)),
        Case("seeded random values in Q1.6", (rng.normal(0.0, 1.5, 500), 1, 6)),
    ]


TASK = Task("to_fixed", lesson="06_fixed_point.ipynb", title="Qm.n with saturation", reference=_ref, cases=_cases(),
            mistakes=MISTAKES, arg_names=["x", "int_bits", "frac_bits"], scaffold=SCAFFOLD_TO_FIXED,
            solution=_sol.to_fixed,
            intro=("Write the conversion of real values into a signed $Qm.n$ format with saturation: round to the "
                   "nearest code, then clamp to the word's range."),
            reference_name="ql.numbers.fixed.quantize_fixed")


def check_to_fixed(learner_fn) -> CheckResult:
    """Check a learner's ``to_fixed(x, int_bits, frac_bits)`` against :func:`qlearn.numbers.fixed.quantize_fixed`."""
    return TASK.check(learner_fn)

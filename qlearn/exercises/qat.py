"""Build it yourself, lesson 09: the straight-through estimator.

``ste_grad(x, scale, zero_point, qmin, qmax)`` is checked against :func:`qlearn.networks.qat.ste_grad`.

Examples
--------
>>> from qlearn.exercises.solutions import qat as sol
>>> check_ste_grad(sol.ste_grad).passed
True
>>> print(check_ste_grad(lambda x, s, z, lo, hi: np.ones(np.shape(x))).diagnosis)  # doctest: +ELLIPSIS
You pass every gradient...
"""
from __future__ import annotations

import numpy as np

from qlearn.exercises.checking import Case, CheckResult, Mistake, Task
from qlearn.exercises.solutions import qat as _sol
from qlearn.networks.qat import ste_grad
from qlearn.ranges import affine

SCAFFOLD_STE_GRAD = '''def ste_grad(x, scale, zero_point, qmin, qmax):
    """The straight-through estimate of d fake_quantize(x) / dx for every value of x:
    1 where the code round(x / scale) + zero_point lies in [qmin, qmax] (rounding is treated as
    the identity), 0 where the code was clipped (clipping has zero slope).
    Return a float array of the same shape as x.
    """
    ...
'''


def _ref(x, scale, zero_point, qmin, qmax):
    return ste_grad(x, affine.QParams(scale, zero_point, qmin, qmax))


def _x(x):
    return np.asarray(x, dtype=np.float64)


MISTAKES = [
    Mistake(lambda x, s, z, lo, hi: np.ones(np.shape(x)),
            "You pass every gradient: values that were clipped must get 0 (the flat parts of the clip have zero "
            "slope), or the weights beyond the range never stop growing."),
    Mistake(lambda x, s, z, lo, hi: np.zeros(np.shape(x)),
            "You return the true derivative of the staircase, 0 almost everywhere, which stops training; the STE "
            "passes the gradient straight through (1) wherever the code was not clipped."),
    Mistake(lambda x, s, z, lo, hi: ((_x(x) >= s * (lo - z)) & (_x(x) <= s * (hi - z))).astype(float),
            "You test x against the range's end values s * (qmin - z) and s * (qmax - z); the reference tests the "
            "rounded code, so a value up to half a step beyond the last level (which rounds onto it) keeps its "
            "gradient."),
    Mistake(lambda x, s, z, lo, hi: ((np.rint(_x(x) / s) + z > lo) & (np.rint(_x(x) / s) + z < hi)).astype(float),
            "Your test is strict (qmin < code < qmax): a code equal to qmin or qmax was not clipped and keeps "
            "its gradient."),
    Mistake(lambda x, s, z, lo, hi: ((np.rint(_x(x) / s) >= lo) & (np.rint(_x(x) / s) <= hi)).astype(float),
            "You left the zero point out of the code: test round(x / scale) + zero_point against [qmin, qmax]."),
    Mistake(lambda x, s, z, lo, hi: ((_x(x) / s + z >= lo) & (_x(x) / s + z <= hi)).astype(float),
            "You test x / scale + zero_point before rounding: the reference tests the rounded code, so a value "
            "within half a step beyond the last level keeps its gradient."),
]


def _cases():
    rng = np.random.default_rng(11)
    return [
        Case("2-bit symmetric grid (codes -2..1)", (np.array([-3.0, -2.4, -0.4, 0.0, 0.7, 1.4, 1.6]), 1.0, 0, -2, 1)),
        Case("exactly on the end levels", (np.array([-0.8, 0.7, -0.81, 0.71]), 0.1, 0, -8, 7)),
        Case("unsigned with a zero point", (np.array([-0.7, -0.6, -0.4, 0.0, 1.9, 2.1]), 0.1, 5, 0, 25)),
        Case("seeded random weights, int8", (rng.normal(0.0, 1.0, 300), 0.01, 0, -128, 127)),
        Case("seeded random activations, uint4 with zero point 3",
             (rng.normal(0.5, 1.0, 300), 0.2, 3, 0, 15)),
    ]


def _explain(case, expected, got):
    try:
        g = np.asarray(got, dtype=np.float64)
    except Exception:
        return "Return an array of 0s and 1s."
    if g.shape != np.shape(expected):
        return f"Your answer has shape {g.shape}; x has shape {np.shape(expected)}: one gradient per value."
    if not np.all(np.isin(g, [0.0, 1.0])):
        return "The STE's gradient is 0 or 1 for every value (the slope of the clipped identity)."
    return None


TASK = Task("ste_grad", lesson="09_quantization_aware_training.ipynb", title="The straight-through estimator",
            reference=_ref, cases=_cases(), mistakes=MISTAKES, explain=_explain,
            arg_names=["x", "scale", "zero_point", "qmin", "qmax"], scaffold=SCAFFOLD_STE_GRAD,
            solution=_sol.ste_grad,
            intro=("Write the straight-through estimator's gradient: rounding is treated as the identity, clipping "
                   "as a wall."),
            reference_name="ql.networks.qat.ste_grad")


def check_ste_grad(learner_fn) -> CheckResult:
    """Check a learner's ``ste_grad(x, scale, zero_point, qmin, qmax)`` against :func:`qlearn.networks.qat.ste_grad`."""
    return TASK.check(learner_fn)

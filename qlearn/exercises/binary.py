"""Build it yourself, lesson 10: XNOR-Net's binary weights and their scale alpha.

``xnor_binarize(W)`` is checked against :func:`qlearn.numbers.nonuniform.binarize` (``axis=0``).

Examples
--------
>>> from qlearn.exercises.solutions import binary as sol
>>> check_xnor_binarize(sol.xnor_binarize).passed
True
>>> wrong = lambda W: (np.abs(W).max(axis=1), np.where(np.asarray(W) >= 0, 1, -1))
>>> print(check_xnor_binarize(wrong).diagnosis)  # doctest: +ELLIPSIS
Your alpha is the largest |W| of each row...
"""
from __future__ import annotations

import numpy as np

from qlearn.exercises.checking import Case, CheckResult, Mistake, Task, same_numbers
from qlearn.exercises.solutions import binary as _sol
from qlearn.numbers.nonuniform import binarize

SCAFFOLD_XNOR_BINARIZE = '''def xnor_binarize(W):
    """XNOR-Net binary weights for W (shape (out, in)): W is approximated by alpha[i] * B[i, :]
    with B = sign(W) in {-1, +1} (sign(0) = +1) and one alpha per output channel (row), the
    least-squares scale alpha[i] = mean |W[i, :]|.
    Return (alpha, B): alpha of shape (out,), B of the shape of W.
    """
    ...
'''


def _ref(W):
    alpha, B = binarize(W, axis=0)
    return (alpha, B)


def _A(W):
    return np.abs(np.asarray(W, dtype=np.float64))


def _B(W):
    return np.where(np.asarray(W) >= 0, 1, -1)


MISTAKES = [
    Mistake(lambda W: (_A(W).max(axis=1), _B(W)),
            "Your alpha is the largest |W| of each row: the least-squares scale for B = sign(W) is the mean |W| "
            "(||W - alpha B||^2 is a parabola in alpha with its minimum at mean |W|)."),
    Mistake(lambda W: (np.asarray(W, dtype=np.float64).mean(axis=1), _B(W)),
            "Your alpha is the mean of W, not of |W|: positive and negative weights cancel; alpha = mean |W|."),
    Mistake(lambda W: (np.sqrt(np.mean(np.asarray(W, dtype=np.float64) ** 2, axis=1)), _B(W)),
            "Your alpha is the root mean square of each row: for B = sign(W) the least-squares alpha is mean |W| "
            "(<W, B> / n)."),
    Mistake(lambda W: (np.full(np.shape(W)[0], _A(W).mean()), _B(W)),
            "You used one alpha for the whole tensor: XNOR-Net's alpha is per output channel (one per row)."),
    Mistake(lambda W: (_A(W).mean(axis=0), _B(W)),
            "You averaged over axis 0 (one alpha per input column): the output channels are the rows of W "
            "(out, in), so average over axis=1."),
    Mistake(lambda W: (_A(W).mean(axis=1), np.sign(np.asarray(W))),
            "np.sign(0) is 0, so a zero weight got B = 0: a binary weight must be -1 or +1 (the reference uses +1 "
            "for 0)."),
    Mistake(lambda W: (_A(W).mean(axis=1), np.where(np.asarray(W) > 0, 1, -1)),
            "A zero weight got B = -1 in yours; the reference (and sign with sign(0) = +1) gives +1."),
]


def _cases():
    rng = np.random.default_rng(12)
    return [
        Case("a small layer", (np.array([[0.5, -1.5], [0.3, -0.2]]),)),
        Case("zero weights", (np.array([[0.0, -1.0, 2.0], [0.4, 0.0, -0.2]]),)),
        Case("rows of different sizes", (rng.normal(0.0, 1.0, (4, 6)) * np.array([[0.01], [0.1], [1.0], [3.0]]),)),
        Case("more outputs than inputs", (rng.normal(0.0, 0.2, (10, 3)),)),
        Case("seeded random layer", (rng.laplace(0.0, 0.1, (16, 24)),)),
    ]


def _compare(expected, got):
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return False
    return same_numbers(expected[0], got[0]) and same_numbers(expected[1], got[1])


def _explain(case, expected, got):
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return "Return two things, (alpha, B)."
    try:
        alpha, B = np.asarray(got[0], dtype=np.float64), np.asarray(got[1], dtype=np.float64)
    except Exception:
        return "alpha and B must be arrays of numbers."
    if alpha.shape != expected[0].shape:
        return f"Your alpha has shape {alpha.shape}: one alpha per output channel, shape {expected[0].shape}."
    if B.shape != expected[1].shape:
        return f"Your B has shape {B.shape}; it must have W's shape {expected[1].shape}."
    if not np.all(np.isin(B, [-1.0, 1.0])):
        return "B must hold only -1 and +1."
    if same_numbers(expected[1], B):
        return "Your B is right; your alpha is not mean |W| per row."
    return None


TASK = Task("xnor_binarize", lesson="10_nonuniform_and_binary.ipynb", title="XNOR-Net's alpha and B",
            reference=_ref, cases=_cases(), mistakes=MISTAKES, compare=_compare, explain=_explain,
            arg_names=["W"], scaffold=SCAFFOLD_XNOR_BINARIZE, solution=_sol.xnor_binarize,
            intro=("Write XNOR-Net's binary weights: the signs $B$ and the least-squares scale $\\alpha$ of each "
                   "output channel."),
            reference_name="ql.numbers.nonuniform.binarize")


def check_xnor_binarize(learner_fn) -> CheckResult:
    """Check a learner's ``xnor_binarize(W) -> (alpha, B)`` against :func:`qlearn.numbers.nonuniform.binarize`."""
    return TASK.check(learner_fn)

"""Build it yourself, lesson 07: one symmetric scale per output channel.

``per_channel_scales(W, bits)`` is checked against
:func:`qlearn.ranges.affine.minmax_qparams` ``(W, bits=bits, symmetric=True, axis=0).scale``.

Examples
--------
>>> from qlearn.exercises.solutions import per_channel as sol
>>> check_per_channel_scales(sol.per_channel_scales).passed
True
>>> amax = lambda W: np.abs(np.asarray(W)).max(axis=1)
>>> wrong = lambda W, bits: np.where(amax(W) > 0, amax(W) / 2 ** (bits - 1), 1.0)
>>> print(check_per_channel_scales(wrong).diagnosis)  # doctest: +ELLIPSIS
You divided by 2**(bits-1) (128 at 8 bits) where qmax is 127...
"""
from __future__ import annotations

import numpy as np

from qlearn.exercises.checking import Case, CheckResult, Mistake, Task
from qlearn.exercises.solutions import per_channel as _sol
from qlearn.ranges.affine import minmax_qparams

SCAFFOLD_PER_CHANNEL_SCALES = '''def per_channel_scales(W, bits=8):
    """One symmetric scale per output channel of the weights W (shape (out, in)):
    scale[i] = max |W[i, :]| / qmax with qmax = 2**(bits-1) - 1.
    A channel of only zeros gets scale 1.0. Return an array of shape (out,).
    """
    ...
'''


def _ref(W, bits=8):
    return minmax_qparams(W, bits=bits, symmetric=True, axis=0).scale


def _safe(s):
    s = np.asarray(s, dtype=np.float64)
    return np.where(s > 0, s, 1.0)


def _A(W):
    return np.abs(np.asarray(W, dtype=np.float64))


MISTAKES = [
    Mistake(lambda W, b: _safe(_A(W).max(axis=1) / 2 ** (b - 1)),
            "You divided by 2**(bits-1) (128 at 8 bits) where qmax is 127 (2**(bits-1) - 1): the largest weight "
            "must map to qmax, the top code."),
    Mistake(lambda W, b: _safe(_A(W).max(axis=1) / (2**b - 1)),
            "You divided by 2**bits - 1 (255 at 8 bits): a symmetric signed grid uses codes -qmax..qmax, so "
            "scale = max|W| / qmax with qmax = 2**(bits-1) - 1."),
    Mistake(lambda W, b: np.full(np.shape(W)[0], _safe(_A(W).max() / (2 ** (b - 1) - 1))),
            "You used one scale for the whole tensor (the max over all of W): per channel, each row (output "
            "channel) gets its own max |W[i, :]|."),
    Mistake(lambda W, b: _safe(_A(W).max(axis=0) / (2 ** (b - 1) - 1)),
            "You took the max over axis 0, one scale per input column: the output channels are the rows of "
            "W (out, in), so reduce over axis=1."),
    Mistake(lambda W, b: _safe(np.asarray(W, dtype=np.float64).max(axis=1) / (2 ** (b - 1) - 1)),
            "You took max(W), not max(|W|): a row whose largest magnitude is negative gets too small a scale and "
            "its negative weights clip."),
    Mistake(lambda W, b: _A(W).max(axis=1) / (2 ** (b - 1) - 1),
            "A channel of only zeros gets scale 0 in yours (a division by zero later): give it scale 1.0, as "
            "the reference does (any positive scale represents 0 exactly)."),
    Mistake(lambda W, b: _safe(_A(W).mean(axis=1) / (2 ** (b - 1) - 1)),
            "You used the mean |W| of each row: min/max calibration maps the largest |W| to qmax, otherwise the "
            "large weights clip."),
]


def _cases():
    rng = np.random.default_rng(9)
    wide = rng.normal(0.0, 1.0, (6, 10)) * np.array([[0.01], [0.1], [1.0], [0.05], [2.0], [0.3]])
    neg = np.array([[-3.0, 1.0, 0.5], [0.2, -0.1, 0.1], [1.0, 2.0, -0.5]])
    zero = np.array([[0.5, -0.25], [0.0, 0.0], [1.5, 3.0]])
    return [
        Case("rows of very different sizes, 8 bits", (wide, 8)),
        Case("largest magnitude negative, 8 bits", (neg, 8)),
        Case("a channel of only zeros", (zero, 8),
             note="A row of zeros would give scale 0: the reference uses 1.0 there."),
        Case("4 bits (qmax = 7)", (wide, 4)),
        Case("more outputs than inputs", (rng.normal(0.0, 0.2, (12, 3)), 8)),
        Case("seeded random layer, 6 bits", (rng.laplace(0.0, 0.1, (16, 32)), 6)),
    ]


def _explain(case, expected, got):
    try:
        g = np.asarray(got, dtype=np.float64)
    except Exception:
        return "Return an array of scales, one per output channel (row of W)."
    if g.shape != np.shape(expected):
        return (f"Your answer has shape {g.shape}; there are {np.shape(expected)[0]} output channels (rows of W): "
                "return one scale per row.")
    return None


TASK = Task("per_channel_scales", lesson="07_per_channel.ipynb", title="Per-channel scales", reference=_ref,
            cases=_cases(), mistakes=MISTAKES, explain=_explain, arg_names=["W", "bits"],
            scaffold=SCAFFOLD_PER_CHANNEL_SCALES, solution=_sol.per_channel_scales,
            intro=("Write symmetric min/max scales with one scale per output channel (row of $W$), the scheme this "
                   "lesson measured."),
            reference_name="ql.ranges.affine.minmax_qparams(W, symmetric=True, axis=0)")


def check_per_channel_scales(learner_fn) -> CheckResult:
    """Check a learner's ``per_channel_scales(W, bits)`` against :func:`qlearn.ranges.affine.minmax_qparams`
    (axis=0)."""
    return TASK.check(learner_fn)

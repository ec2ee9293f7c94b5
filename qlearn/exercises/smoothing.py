"""Build it yourself, lesson 18: SmoothQuant's per-channel smoothing scales.

``smoothing_scales(x_absmax, w_absmax, alpha)`` is checked against the scales of
:func:`qlearn.modern.smoothquant.smooth` (Xiao et al. 2022, eq. 4: ``s_j = max|X_j|^alpha / max|W_j|^(1-alpha)``,
with the reference implementation's floor of ``1e-5`` on the weight maxima and on the scales).

Examples
--------
>>> from qlearn.exercises.solutions import smoothing as sol
>>> check_smoothing_scales(sol.smoothing_scales).passed
True
>>> wrong = lambda x, w, a: np.maximum(x**a * np.maximum(w, 1e-5) ** (1 - a), 1e-5)
>>> print(check_smoothing_scales(wrong).diagnosis)  # doctest: +ELLIPSIS
You multiplied by the weights' factor...
"""
from __future__ import annotations

import numpy as np

from qlearn.exercises.checking import Case, CheckResult, Mistake, Task, same_numbers
from qlearn.exercises.solutions import smoothing as _sol
from qlearn.modern import smoothquant

SCAFFOLD_SMOOTHING_SCALES = '''def smoothing_scales(x_absmax, w_absmax, alpha):
    """SmoothQuant's scale s[j] for each input channel j: the activations become X / s, the
    weights W * s (column j multiplied by s[j]), so X W^T is unchanged.

    x_absmax : array (in,), max |X[:, j]| over the calibration tokens.
    w_absmax : array (in,), max |W[:, j]| over the output rows.
    alpha : float in [0, 1], how much of the activations' difficulty moves to the weights.
    s[j] = x_absmax[j] ** alpha / w_absmax[j] ** (1 - alpha). As the paper's code does, first raise
    w_absmax to at least 1e-5, and raise the result to at least 1e-5 (no division by zero, no
    zero scale). Return an array of floats.
    """
    ...
'''


def _ref(x_absmax, w_absmax, alpha):
    x = np.asarray(x_absmax, dtype=np.float64)
    w = np.asarray(w_absmax, dtype=np.float64)
    W = np.zeros((2, w.size))
    W[0] = w  # a weight matrix whose column maxima are w_absmax
    return smoothquant.smooth(W, x, alpha)[1]


def _F(x):
    return np.asarray(x, dtype=np.float64)


MISTAKES = [
    Mistake(lambda x, w, a: np.maximum(_F(x) ** a * np.maximum(_F(w), 1e-5) ** (1 - a), 1e-5),
            "You multiplied by the weights' factor: s_j = max|X_j|^alpha / max|W_j|^(1 - alpha) DIVIDES by it, "
            "so that large weights get a small scale and the two maxima meet."),
    Mistake(lambda x, w, a: np.maximum(_F(x) ** (1 - a) / np.maximum(_F(w), 1e-5) ** a, 1e-5),
            "Your exponents are swapped: the activations' maximum is raised to alpha and the weights' to "
            "1 - alpha (alpha = 1 moves all the difficulty to the weights: s_j = max|X_j|)."),
    Mistake(lambda x, w, a: np.maximum(_F(x) ** a / np.maximum(_F(w), 1e-5) ** a, 1e-5),
            "Both exponents are alpha in yours: the weights' maximum is raised to 1 - alpha."),
    Mistake(lambda x, w, a: np.maximum(_F(x) / np.maximum(_F(w), 1e-5), 1e-5) ** a,
            "You raised the ratio max|X_j| / max|W_j| to alpha; the paper raises the weights' maximum to "
            "1 - alpha, not alpha (the two agree only at alpha = 0.5)."),
    Mistake(lambda x, w, a: _F(x) ** a / _F(w) ** (1 - a),
            "Without the floors a channel whose weights are all 0 divides by zero, and one whose activations "
            "are all 0 gets scale 0: raise w_absmax to at least 1e-5 first, and the scale to at least 1e-5."),
]


def _cases():
    rng = np.random.default_rng(1818)
    x = np.abs(rng.standard_t(3, 12)) * 2
    x[3] = 60.0  # an outlier channel
    return [
        Case("the lesson's quiz: max|X| = 16, max|W| = 0.25, alpha = 0.5", (np.array([16.0]), np.array([0.25]), 0.5)),
        Case("alpha = 0: only the weights count", (np.array([16.0, 1.0]), np.array([0.5, 2.0]), 0.0)),
        Case("alpha = 1: s is the activations' maximum", (np.array([16.0, 1.0]), np.array([0.5, 2.0]), 1.0)),
        Case("alpha = 0.75 (the paper's choice for some models)", (np.array([9.0, 0.1]), np.array([0.3, 0.02]), 0.75)),
        Case("a channel whose weights are all 0", (np.array([4.0, 2.0]), np.array([0.0, 1.0]), 0.5)),
        Case("a channel whose activations are all 0", (np.array([0.0, 2.0]), np.array([0.5, 1.0]), 0.5)),
        Case("seeded channels with an outlier", (x, rng.uniform(0.01, 0.5, 12), 0.5)),
    ]


TASK = Task("smoothing_scales", lesson="18_llm_weights.ipynb", title="SmoothQuant's smoothing scales",
            reference=_ref, cases=_cases(), mistakes=MISTAKES,
            compare=lambda e, g: same_numbers(e, g, rtol=1e-12, atol=0),
            arg_names=["x_absmax", "w_absmax", "alpha"], scaffold=SCAFFOLD_SMOOTHING_SCALES,
            solution=_sol.smoothing_scales,
            intro=("Write SmoothQuant's migration rule: the per-channel scale that moves part of the activations' "
                   "range into the weights."),
            reference_name="ql.modern.smoothquant.smooth")


def check_smoothing_scales(learner_fn) -> CheckResult:
    """Check a learner's ``smoothing_scales(x_absmax, w_absmax, alpha)`` against
    :func:`qlearn.modern.smoothquant.smooth`."""
    return TASK.check(learner_fn)

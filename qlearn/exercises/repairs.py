"""Build it yourself, lesson 16: the scales of cross-layer equalization.

``equalization_scales(r1, r2)`` is checked against :func:`qlearn.networks.equalization.equalization_scales`
(Nagel et al. 2019: ``s_i = sqrt(r1_i r2_i) / r2_i``, so that dividing output channel ``i`` of the
first layer by ``s_i`` and multiplying input channel ``i`` of the second by ``s_i`` leaves both
with the range ``sqrt(r1_i r2_i)``; 1 for a dead channel, where either range is 0).

Examples
--------
>>> from qlearn.exercises.solutions import repairs as sol
>>> check_equalization_scales(sol.equalization_scales).passed
True
>>> print(check_equalization_scales(lambda r1, r2: np.sqrt(r2 / r1)).diagnosis)  # doctest: +ELLIPSIS
Your scales are upside down...
"""
from __future__ import annotations

import numpy as np

from qlearn.exercises.checking import Case, CheckResult, Mistake, Task, same_numbers
from qlearn.exercises.solutions import repairs as _sol
from qlearn.networks import equalization

SCAFFOLD_EQUALIZATION_SCALES = '''def equalization_scales(r1, r2):
    """Cross-layer equalization's scale for each channel i between two layers.

    r1 : array (channels,), the range max|W1[i]| of output channel i of the first layer.
    r2 : array (channels,), the range max|W2[:, i]| of input channel i of the second layer.
    Output channel i of the first layer is divided by s[i] and input channel i of the second
    layer multiplied by s[i]; choose s[i] so that both ranges become equal (to sqrt(r1[i] r2[i])).
    A dead channel (r1[i] == 0 or r2[i] == 0) keeps s[i] = 1. Return an array of floats.
    """
    ...
'''


def _R(x):
    return np.asarray(x, dtype=np.float64)


def _no_dead(f):
    def g(r1, r2):
        with np.errstate(all="ignore"):
            return f(_R(r1), _R(r2))
    return g


MISTAKES = [
    Mistake(_no_dead(lambda r1, r2: np.sqrt(r2 / r1)),
            "Your scales are upside down: channel i of the first layer is DIVIDED by s_i, so to bring a wide "
            "range r1_i down to sqrt(r1_i r2_i) you need s_i = r1_i / sqrt(r1_i r2_i) = sqrt(r1_i / r2_i)."),
    Mistake(_no_dead(lambda r1, r2: r1 / r2),
            "You forgot the square root: s_i = r1_i / r2_i swaps the two ranges (r1 becomes r2 and r2 becomes r1) "
            "instead of meeting in the middle at sqrt(r1_i r2_i)."),
    Mistake(_no_dead(lambda r1, r2: np.sqrt(r1 * r2)),
            "You returned the common range sqrt(r1_i r2_i) itself; the scale is that range divided by r2_i "
            "(how much channel i of the second layer must grow)."),
    Mistake(lambda r1, r2: np.sqrt(_R(r1) / np.where(_R(r2) > 0, _R(r2), 1.0)) * (_R(r2) > 0)
            + (_R(r2) == 0),
            "A channel with r1_i = 0 is dead (its first-layer weights are all 0): keep s_i = 1 for it, as for "
            "r2_i = 0; dividing by s_i = 0 would make NaNs."),
    Mistake(_no_dead(lambda r1, r2: np.nan_to_num(np.sqrt(r1 / r2), nan=1.0, posinf=1.0)),
            "Dead channels (either range 0) keep s_i = 1; yours gives 0 or inf there."),
]


def _cases():
    rng = np.random.default_rng(1616)
    return [
        Case("equal ranges: nothing to move", (np.array([2.0, 0.5]), np.array([2.0, 0.5]))),
        Case("the lesson's quiz: r1 = 8, r2 = 2", (np.array([8.0]), np.array([2.0]))),
        Case("wide first layer, wide second layer", (np.array([4.0, 1.0]), np.array([1.0, 4.0]))),
        Case("a dead channel in the second layer", (np.array([3.0, 1.0]), np.array([0.0, 2.0]))),
        Case("a dead channel in the first layer", (np.array([0.0, 1.0]), np.array([5.0, 2.0]))),
        Case("seeded random ranges", (rng.uniform(0.01, 3.0, 16), rng.uniform(0.01, 3.0, 16))),
        Case("seeded ranges over four decades", (10 ** rng.uniform(-2, 2, 12), 10 ** rng.uniform(-2, 2, 12))),
    ]


def _explain(case, expected, got):
    try:
        g = np.asarray(got, dtype=np.float64) if got is not None else None
    except (TypeError, ValueError):
        return "Return numbers: an array of floats, one scale per channel."
    if g is None or g.shape != np.shape(expected):
        return f"Return one scale per channel: an array of shape {np.shape(expected)}."
    if not np.all(np.isfinite(g)):
        return "Some of your scales are NaN or inf: a dead channel (either range 0) keeps s_i = 1."
    return None


TASK = Task("equalization_scales", lesson="16_ptq_repairs.ipynb", title="The scales of cross-layer equalization",
            reference=lambda r1, r2: equalization.equalization_scales(r1, r2), cases=_cases(), mistakes=MISTAKES,
            compare=lambda e, g: same_numbers(e, g, rtol=1e-12, atol=0), explain=_explain,
            arg_names=["r1", "r2"], scaffold=SCAFFOLD_EQUALIZATION_SCALES, solution=_sol.equalization_scales,
            intro=("Write the rule at the heart of cross-layer equalization: the scale that makes a channel's "
                   "range equal in the two layers it connects."),
            reference_name="ql.networks.equalization.equalization_scales")


def check_equalization_scales(learner_fn) -> CheckResult:
    """Check a learner's ``equalization_scales(r1, r2)`` against
    :func:`qlearn.networks.equalization.equalization_scales`."""
    return TASK.check(learner_fn)

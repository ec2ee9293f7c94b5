"""Build it yourself, lesson 08: the int32 bias of a full-integer layer.

``quantize_bias(b, x_scale, w_scale)`` is checked against :func:`qlearn.hardware.intops.quantize_bias`:
the bias is added straight into the int32 accumulator, so its scale is ``x_scale * w_scale``.

Examples
--------
>>> from qlearn.exercises.solutions import ptq as sol
>>> check_quantize_bias(sol.quantize_bias).passed
True
>>> print(check_quantize_bias(lambda b, sx, sw: np.rint(np.asarray(b) / sw)).diagnosis)  # doctest: +ELLIPSIS
You divided by the weight scale only...
"""
from __future__ import annotations

import numpy as np

from qlearn.exercises.checking import Case, CheckResult, Mistake, Task
from qlearn.exercises.solutions import ptq as _sol
from qlearn.hardware.intops import quantize_bias

SCAFFOLD_QUANTIZE_BIAS = '''def quantize_bias(b, x_scale, w_scale):
    """The float biases b (shape (out,)) as int32 codes for a full-integer layer. The bias is
    added into the accumulator of sum(q_x * q_w), whose scale is x_scale * w_scale, so
    q_b = round(b / (x_scale * w_scale)) (ties to even, np.rint), zero point 0.
    w_scale is one number (per tensor) or an array of shape (out,) (per channel).
    Return an integer array.
    """
    ...
'''


def _b(b):
    return np.asarray(b, dtype=np.float64)


MISTAKES = [
    Mistake(lambda b, sx, sw: np.rint(_b(b) / np.asarray(sw)),
            "You divided by the weight scale only: the accumulator holds sum(q_x * q_w), in units of "
            "x_scale * w_scale, and the bias must be in the same units."),
    Mistake(lambda b, sx, sw: np.rint(_b(b) / sx),
            "You divided by the input scale only: the accumulator's scale is x_scale * w_scale."),
    Mistake(lambda b, sx, sw: np.rint(_b(b) / (sx + np.asarray(sw))),
            "You divided by x_scale + w_scale: scales multiply (the product q_x * q_w has scale "
            "x_scale * w_scale)."),
    Mistake(lambda b, sx, sw: np.rint(_b(b) * sx * np.asarray(sw)),
            "You multiplied by the scales: codes are values divided by the scale."),
    Mistake(lambda b, sx, sw: np.clip(np.rint(_b(b) / (sx * np.asarray(sw))), -128, 127),
            "You clipped the bias to int8: it is stored as int32 (its scale is tiny, so its codes are large); "
            "clipping to [-128, 127] throws most of it away."),
    Mistake(lambda b, sx, sw: np.trunc(_b(b) / (sx * np.asarray(sw))),
            "You truncate (astype(int) cuts toward zero) instead of rounding to the nearest code."),
    Mistake(lambda b, sx, sw: np.floor(_b(b) / (sx * np.asarray(sw)) + 0.5),
            "Ties go up in yours (floor(v + 0.5)); the reference rounds a tie to the even code (np.rint)."),
]


def _cases():
    rng = np.random.default_rng(10)
    return [
        Case("per tensor", (np.array([0.5, -0.25, 0.0123, -1.7]), 0.1, 0.01)),
        Case("per channel (one w_scale per output)", (np.array([0.5, -0.25, 0.3]), 0.02,
                                                       np.array([0.01, 0.002, 0.05]))),
        Case("ties (b / (x_scale * w_scale) ends in .5)", (np.array([0.625, 0.875, -0.625, 0.125]), 0.5, 0.5)),
        Case("large codes (beyond int8 and int16)", (np.array([3.0, -2.0]), 0.01, 0.001)),
        Case("seeded random layer", (rng.normal(0.0, 0.3, 32), 0.037, rng.uniform(0.001, 0.02, 32))),
    ]


def _explain(case, expected, got):
    try:
        g = np.asarray(got, dtype=np.float64)
    except Exception:
        return "Return an array of integer codes."
    if g.shape != np.shape(expected):
        return f"Your answer has shape {g.shape}; b has shape {np.shape(expected)}: one code per bias."
    if np.any(g != np.round(g)):
        return "Your codes are not integers: round b / (x_scale * w_scale)."
    return None


TASK = Task("quantize_bias", lesson="08_post_training_quantization.ipynb", title="The int32 bias",
            reference=quantize_bias, cases=_cases(), mistakes=MISTAKES, explain=_explain,
            arg_names=["b", "x_scale", "w_scale"], scaffold=SCAFFOLD_QUANTIZE_BIAS, solution=_sol.quantize_bias,
            intro=("Write the conversion of a layer's float biases into the int32 codes a full-integer model "
                   "stores: they are added into the accumulator, so they share its scale."),
            reference_name="ql.hardware.intops.quantize_bias")


def check_quantize_bias(learner_fn) -> CheckResult:
    """Check a learner's ``quantize_bias(b, x_scale, w_scale)`` against :func:`qlearn.hardware.intops.quantize_bias`."""
    return TASK.check(learner_fn)

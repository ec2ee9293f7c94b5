"""Build it yourself, lesson 15: fold a batch norm into the layer before it; a convolution's output size.

``fold_batchnorm(W, b, gamma, beta, mean, var, eps)`` is checked against
:func:`qlearn.networks.batchnorm.fold_batchnorm` on dense ``(out, in)``, convolution ``(out, in, kh, kw)``
and depthwise ``(C, 1, kh, kw)`` weights (Jacob et al. 2018, sec. 3.2: ``k = gamma / sqrt(var +
eps)``, ``W_fold[c] = k[c] W[c]``, ``b_fold = k (b - mean) + beta``), and
``conv_output_size(size, kernel, stride, padding)`` against :func:`qlearn.networks.conv.output_size`.

Examples
--------
>>> from qlearn.exercises.solutions import conv as sol
>>> check_fold_batchnorm(sol.fold_batchnorm).passed, check_conv_output_size(sol.conv_output_size).passed
(True, True)
>>> print(check_conv_output_size(lambda size, kernel, stride, padding: (size + 2 * padding - kernel) // stride
...                              ).diagnosis)  # doctest: +ELLIPSIS
You forgot the + 1...
"""
from __future__ import annotations

import math

import numpy as np

from qlearn.exercises.checking import Case, CheckResult, Mistake, Task, as_float_array, same_numbers
from qlearn.exercises.solutions import conv as _sol
from qlearn.networks import batchnorm, conv

SCAFFOLD_FOLD_BATCHNORM = '''def fold_batchnorm(W, b, gamma, beta, mean, var, eps):
    """Fold an inference-mode batch norm y = gamma * (z - mean) / sqrt(var + eps) + beta into the
    layer z = W x + b before it. Return (W_fold, b_fold) with W_fold x + b_fold = y.

    W : the layer's weights, output channel on axis 0: dense (out, in), convolution
        (out, in, kh, kw) or depthwise (channels, 1, kh, kw).
    b, gamma, beta, mean, var : arrays of shape (out,), one number per output channel.
    eps : the small number added to the variance (a float >= 0).
    W_fold has W's shape, b_fold has shape (out,).
    """
    ...
'''

SCAFFOLD_CONV_OUTPUT_SIZE = '''def conv_output_size(size, kernel, stride, padding):
    """Number of outputs along one axis of a convolution: windows of `kernel` inputs, moved by
    `stride`, over an input of `size` values with `padding` zeros added at EACH end.
    Count only windows that fit entirely. All arguments are ints; return an int.
    """
    ...
'''


# -- fold_batchnorm ---------------------------------------------------------------------------------
def _ref_fold(W, b, gamma, beta, mean, var, eps):
    return batchnorm.fold_batchnorm(W, b, gamma, beta, mean, var, eps=eps)


def _axis0(k, W):
    return np.asarray(k).reshape((-1,) + (1,) * (np.ndim(W) - 1))


def _fold_with(k, W, b, mean, beta):
    return W * _axis0(k, W), k * (b - mean) + beta


FOLD_MISTAKES = [
    Mistake(lambda W, b, g, be, m, v, eps: _fold_with(g / np.sqrt(v), W, b, m, be),
            "You left eps out: k = gamma / sqrt(var + eps). With a tiny variance (1e-6 here, eps = 1e-3) eps "
            "decides the size of k; without it a channel whose variance is 0 divides by zero."),
    Mistake(lambda W, b, g, be, m, v, eps: _fold_with(g / (np.sqrt(v) + eps), W, b, m, be),
            "You added eps after the square root: k = gamma / sqrt(var + eps), eps goes inside."),
    Mistake(lambda W, b, g, be, m, v, eps: _fold_with(g / (v + eps), W, b, m, be),
            "You divided by the variance: batch norm divides by the standard deviation, k = gamma / "
            "sqrt(var + eps)."),
    Mistake(lambda W, b, g, be, m, v, eps: (W * _axis0(g / np.sqrt(v + eps), W), g / np.sqrt(v + eps) * b + be),
            "You forgot the mean in the bias: the batch norm subtracts mean before scaling, so "
            "b_fold = k * (b - mean) + beta."),
    Mistake(lambda W, b, g, be, m, v, eps: (W * _axis0(g / np.sqrt(v + eps), W), b - g / np.sqrt(v + eps) * m + be),
            "You did not scale the old bias: b is part of z, which the batch norm scales by k, so "
            "b_fold = k * (b - mean) + beta, not b - k * mean + beta."),
    Mistake(lambda W, b, g, be, m, v, eps: (W * _axis0(g / np.sqrt(v + eps), W), g / np.sqrt(v + eps) * (b - m)),
            "You forgot beta: b_fold = k * (b - mean) + beta."),
    Mistake(lambda W, b, g, be, m, v, eps: (W * (g / np.sqrt(v + eps)), g / np.sqrt(v + eps) * (b - m) + be),
            "You scaled W along its last axis: W * k lines k up with the inputs (or the kernel width), "
            "numpy's broadcasting rule. k belongs to the output channels, axis 0: "
            "W * k.reshape(-1, 1) for dense, k.reshape(-1, 1, 1, 1) for a convolution."),
    Mistake(lambda W, b, g, be, m, v, eps: (W * (g / np.sqrt(v + eps)).reshape(-1, 1), g / np.sqrt(v + eps) * (b - m)
                                            + be),
            "You reshaped k to (out, 1): right for a dense W, but numpy lines a (out, 1) array up with the LAST two "
            "axes of a 4-D W (the kernel's rows and columns). Give k one axis per axis of W: "
            "k.reshape((-1,) + (1,) * (W.ndim - 1)), (out, 1, 1, 1) for a convolution."),
    Mistake(lambda W, b, g, be, m, v, eps: (W * _axis0(g / np.sqrt(v + eps), W).reshape(
        (1, -1) + (1,) * (np.ndim(W) - 2)), g / np.sqrt(v + eps) * (b - m) + be),
            "You scaled W along axis 1, its input channels: k belongs to the output channels, axis 0 of W "
            "(W_fold[c] = k[c] * W[c])."),
]


def _fold_explain(case, expected, got):
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return "Return two things, (W_fold, b_fold): the folded weights and the folded bias."
    W_e, b_e = expected
    W_g, b_g = (as_float_array(v) for v in got)
    if W_g is None or W_g.shape != W_e.shape:
        return (f"W_fold must have W's shape {W_e.shape}, yours has "
                f"{None if W_g is None else W_g.shape}.")
    if b_g is None or b_g.shape != b_e.shape:
        return f"b_fold must have shape {b_e.shape} (one bias per output channel), yours has " \
               f"{None if b_g is None else b_g.shape}."
    ok_W, ok_b = same_numbers(W_e, W_g, rtol=1e-9), same_numbers(b_e, b_g, rtol=1e-9)
    if ok_W and not ok_b:
        return "Your W_fold is right, your b_fold is not: b_fold = k * (b - mean) + beta, k = gamma / sqrt(var + eps)."
    if ok_b and not ok_W:
        return "Your b_fold is right, your W_fold is not: W_fold[c] = k[c] * W[c] along the output channels (axis 0)."
    return None


def _fold_cases():
    rng = np.random.default_rng(15)

    def channels(c, *, tiny=False):
        var = rng.uniform(1e-7, 2e-6, c) if tiny else rng.uniform(0.2, 3.0, c)
        return (rng.normal(0, 0.2, c), rng.uniform(0.5, 2.0, c), rng.normal(0, 0.5, c), rng.normal(0, 1.0, c), var)

    W_dense = np.array([[1.0, -2.0, 0.5], [0.0, 1.0, 1.0], [2.0, 0.5, -1.0]])
    cases = [
        Case("dense 3 x 3, eps = 0, small numbers",
             (W_dense, np.array([0.5, -1.0, 0.0]), np.array([2.0, 0.5, 1.0]), np.array([0.0, 1.0, -1.0]),
              np.array([1.0, 0.0, 2.0]), np.array([4.0, 1.0, 0.25]), 0.0)),
        Case("depthwise (3, 1, 3, 3)", (rng.normal(0, 1, (3, 1, 3, 3)),) + channels(3) + (1e-5,)),
        Case("dense (4, 3), tiny variances (1e-7..2e-6), eps = 1e-3",
             (rng.normal(0, 1, (4, 3)),) + channels(4, tiny=True) + (1e-3,)),
        Case("convolution (4, 4, 3, 3)", (rng.normal(0, 0.5, (4, 4, 3, 3)),) + channels(4) + (1e-5,)),
        Case("convolution (5, 2, 3, 3), one channel with variance 0, eps = 1e-5",
             (rng.normal(0, 0.5, (5, 2, 3, 3)),) + channels(5)[:4] + (np.array([1.0, 0.0, 2.0, 0.5, 1.5]), 1e-5),
             note="k = gamma / sqrt(var + eps) is per output channel, axis 0 of W, and eps keeps var = 0 finite."),
        Case("seeded random dense (6, 10)", (rng.normal(0, 1, (6, 10)),) + channels(6) + (1e-3,)),
        Case("seeded random depthwise (8, 1, 3, 3)", (rng.normal(0, 1, (8, 1, 3, 3)),) + channels(8) + (1e-5,)),
    ]
    return cases


TASK_FOLD = Task("fold_batchnorm", lesson="15_convolutions_and_folding.ipynb", title="Fold a batch norm",
                 reference=_ref_fold, cases=_fold_cases(), mistakes=FOLD_MISTAKES,
                 compare=lambda e, g: same_numbers(e, g, rtol=1e-9, atol=1e-12), explain=_fold_explain,
                 arg_names=["W", "b", "gamma", "beta", "mean", "var", "eps"], scaffold=SCAFFOLD_FOLD_BATCHNORM,
                 solution=_sol.fold_batchnorm,
                 intro=("Fold an inference-mode batch norm into the dense, convolution or depthwise layer before "
                        "it: one weight tensor and one bias that compute the same outputs, which is what an "
                        "integer engine runs."),
                 reference_name="ql.networks.batchnorm.fold_batchnorm")


# -- conv_output_size -------------------------------------------------------------------------------
def _ref_size(size, kernel, stride, padding):
    return conv.output_size(size, kernel, stride, padding)


SIZE_MISTAKES = [
    Mistake(lambda n, k, s, p: (n + 2 * p - k) // s,
            "You forgot the + 1: the first window sits at position 0, then one more per stride; "
            "(size + 2 * padding - kernel) // stride + 1 (size 5, kernel 5: one output, not 0)."),
    Mistake(lambda n, k, s, p: -(-(n + 2 * p - k) // s) + 1,
            "You rounded up (ceil): a window that would run past the end does not count, so divide with "
            "//, rounding down: (size + 2 * padding - kernel) // stride + 1."),
    Mistake(lambda n, k, s, p: (n + p - k) // s + 1,
            "You padded one end only: padding zeros go at each end, so the padded length is size + 2 * padding."),
    Mistake(lambda n, k, s, p: (n + 2 * p - k) + 1,
            "You ignored the stride: the window moves `stride` steps at a time, "
            "(size + 2 * padding - kernel) // stride + 1."),
    Mistake(lambda n, k, s, p: (n + 2 * p) // s,
            "You divided the padded size by the stride: that counts window starts but not whether the "
            "last window fits; (size + 2 * padding - kernel) // stride + 1."),
    Mistake(lambda n, k, s, p: math.ceil(n / s),
            "Yours is ceil(size / stride), TensorFlow's 'SAME' size, whatever the kernel and padding: "
            "count the windows that fit, (size + 2 * padding - kernel) // stride + 1."),
]


def _size_cases():
    rng = np.random.default_rng(151)
    cases = [
        Case("3x3 kernel, stride 1, padding 1 ('same')", (8, 3, 1, 1)),
        Case("3x3 kernel, stride 2, padding 1", (8, 3, 2, 1)),
        Case("no padding, stride 1", (8, 3, 1, 0)),
        Case("kernel as large as the input", (5, 5, 1, 0)),
        Case("stride 2, odd size: the last window does not fit", (7, 3, 2, 0)),
        Case("1x1 kernel, stride 2", (7, 1, 2, 0)),
        Case("5x5 kernel, stride 3, padding 2", (28, 5, 3, 2)),
    ]
    while len(cases) < 12:
        k = int(rng.integers(1, 8))
        p = int(rng.integers(0, k // 2 + 1))
        n = int(rng.integers(max(1, k - 2 * p), 64))
        cases.append(Case("seeded random", (n, k, int(rng.integers(1, 5)), p)))
    return cases


def _size_explain(case, expected, got):
    g = as_float_array(got)
    if g is None or g.shape != ():
        return "Return one int: the number of outputs along the axis."
    if float(g) != math.floor(float(g)):
        return f"Yours is {float(g)}, not a whole number: a count of windows is an integer; divide with //."
    return None


TASK_SIZE = Task("conv_output_size", lesson="15_convolutions_and_folding.ipynb",
                 title="How many outputs a convolution has", reference=_ref_size, cases=_size_cases(),
                 mistakes=SIZE_MISTAKES, compare=lambda e, g: same_numbers(e, g, rtol=0, atol=0),
                 explain=_size_explain, arg_names=["size", "kernel", "stride", "padding"],
                 scaffold=SCAFFOLD_CONV_OUTPUT_SIZE, solution=_sol.conv_output_size,
                 intro=("Count the outputs of a convolution along one axis: how many windows fit, given the "
                        "kernel, the stride and the padding. It sets the im2col matrix's number of rows."),
                 reference_name="ql.networks.conv.output_size")


def check_fold_batchnorm(learner_fn) -> CheckResult:
    """Check a learner's ``fold_batchnorm(W, b, gamma, beta, mean, var, eps)`` against
    :func:`qlearn.networks.batchnorm.fold_batchnorm`."""
    return TASK_FOLD.check(learner_fn)


def check_conv_output_size(learner_fn) -> CheckResult:
    """Check a learner's ``conv_output_size(size, kernel, stride, padding)`` against
    :func:`qlearn.networks.conv.output_size`."""
    return TASK_SIZE.check(learner_fn)

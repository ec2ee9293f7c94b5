"""Build it yourself, lesson 05: the signal-to-quantization-noise ratio in dB.

``sqnr_db(x, x_hat)`` is checked against :func:`qlearn.ranges.metrics.sqnr_db`.

Examples
--------
>>> from qlearn.exercises.solutions import snr as sol
>>> check_sqnr_db(sol.sqnr_db).passed
True
>>> wrong = lambda x, x_hat: 20 * np.log10(np.sum(np.square(x)) / np.sum(np.square(np.subtract(x, x_hat))))
>>> print(check_sqnr_db(wrong).diagnosis)  # doctest: +ELLIPSIS
You took 20 log10 of a ratio of powers...
"""
from __future__ import annotations

import numpy as np

from qlearn.exercises.checking import Case, CheckResult, Mistake, Task, same_numbers
from qlearn.exercises.solutions import snr as _sol
from qlearn.ranges import affine, metrics, snr

SCAFFOLD_SQNR_DB = '''def sqnr_db(x, x_hat):
    """Signal-to-quantization-noise ratio in dB: 10 log10(sum x**2 / sum (x - x_hat)**2).
    If x_hat equals x there is no noise: return np.inf.
    """
    ...
'''


def _p(x, x_hat):
    x, x_hat = np.asarray(x, dtype=np.float64), np.asarray(x_hat, dtype=np.float64)
    return float(np.sum(x**2)), float(np.sum((x - x_hat) ** 2)), x, x_hat


def _ratio_db(factor, log, signal, noise):
    if noise == 0:
        return np.inf
    return float(factor * log(signal / noise))


MISTAKES = [
    Mistake(lambda x, xh: _ratio_db(20, np.log10, *_p(x, xh)[:2]),
            "You took 20 log10 of a ratio of powers (sums of squares): that doubles the dB. Powers take 10 log10; "
            "20 log10 is for a ratio of amplitudes (rms values)."),
    Mistake(lambda x, xh: _ratio_db(10, np.log10, np.sqrt(_p(x, xh)[0]), np.sqrt(_p(x, xh)[1])),
            "You took 10 log10 of a ratio of amplitudes (square roots of the powers): that halves the dB. Either "
            "10 log10 of the powers or 20 log10 of the rms values."),
    Mistake(lambda x, xh: -_ratio_db(10, np.log10, *_p(x, xh)[:2]),
            "Your ratio is upside down (noise / signal): the SQNR is signal power over noise power, positive "
            "when the noise is small."),
    Mistake(lambda x, xh: _ratio_db(10, np.log, *_p(x, xh)[:2]),
            "You used the natural log: decibels are 10 log10 of a power ratio."),
    Mistake(lambda x, xh: _ratio_db(10, np.log10, float(np.var(_p(x, xh)[2]) * np.size(x)), _p(x, xh)[1]),
            "You used the variance of x as the signal power: that removes x's mean. The reference's signal power "
            "is the mean (or sum) of x**2, mean included."),
    Mistake(lambda x, xh: _ratio_db(10, np.log10, _p(x, xh)[0],
                                    float(np.sum(np.abs(_p(x, xh)[2] - _p(x, xh)[3])))),
            "Your noise is the sum of |x - x_hat|, not of its squares: powers are sums of squares."),
]


def _cases():
    rng = np.random.default_rng(7)
    g = rng.normal(0.0, 1.0, 5000)
    qp = affine.compute_qparams(g.min(), g.max(), bits=4, symmetric=True)
    s = snr.sine(4000, cycles_per_sample=0.01234)
    offset = rng.uniform(2.0, 3.0, 3000)
    qp2 = affine.compute_qparams(offset.min(), offset.max(), bits=3, signed=False)
    return [
        Case("a Gaussian at 4 bits", (g, affine.fake_quantize(g, qp))),
        Case("a sine at 8 bits", (s, snr.uniform_quantize(s, 8, 1.0))),
        Case("a signal with a mean (2.5) at 3 bits", (offset, affine.fake_quantize(offset, qp2))),
        Case("no noise at all (x_hat = x)", (g[:10], g[:10].copy()),
             note="When x_hat equals x the noise power is 0: return np.inf rather than dividing by zero."),
        Case("seeded random noise", (g, g + rng.normal(0.0, 0.3, g.size))),
    ]


def _same(expected, got):
    return same_numbers(float(expected), got, rtol=1e-9, atol=1e-9)


TASK = Task("sqnr_db", lesson="05_snr.ipynb", title="SQNR in dB", reference=metrics.sqnr_db, cases=_cases(),
            mistakes=MISTAKES, compare=_same, arg_names=["x", "x_hat"], scaffold=SCAFFOLD_SQNR_DB,
            solution=_sol.sqnr_db,
            intro=("Write the signal-to-quantization-noise ratio in decibels, the number every figure of this "
                   "lesson plots."),
            reference_name="ql.sqnr_db")


def check_sqnr_db(learner_fn) -> CheckResult:
    """Check a learner's ``sqnr_db(x, x_hat)`` against :func:`qlearn.ranges.metrics.sqnr_db`."""
    return TASK.check(learner_fn)

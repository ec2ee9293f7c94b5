"""Build it yourself, lesson 04: a percentile calibrator and TensorRT's KL divergence.

``percentile_amax(x, percentile)`` is checked against :class:`qlearn.ranges.observers.PercentileObserver`
(symmetric: the percentile of ``|x|``). qlearn reads the percentile off a 2048-bin histogram,
linear inside a bin, so it differs from the exact percentile of the samples: by a fraction of a bin
in the body of the data, by several bins in a sparse tail (11 bins measured at the 99.9th
percentile of 20,000 Laplace samples). The check therefore accepts an answer within 1% or two bin
widths of qlearn's, and every case has at least 20,000 samples; the known mistakes are 10% or more
away.

``kl_divergence(P, Q)`` is checked against the divergence that
:func:`qlearn.ranges.observers.kl_divergence_curve` computes for the pair that
:func:`qlearn.ranges.observers.kl_distributions` builds (TensorRT's entropy calibration).

Examples
--------
>>> from qlearn.exercises.solutions import calibration as sol
>>> check_percentile_amax(sol.percentile_amax).passed, check_kl_divergence(sol.kl_divergence).passed
(True, True)
>>> print(check_kl_divergence(lambda P, Q: sol.kl_divergence(P, Q) / np.log(2)).diagnosis)  # doctest: +ELLIPSIS
You used log base 2 (bits)...
"""
from __future__ import annotations

import numpy as np

from qlearn.exercises.checking import Approx, Case, CheckResult, Mistake, Task, same_numbers
from qlearn.exercises.solutions import calibration as _sol
from qlearn.ranges.observers import PercentileObserver, kl_distributions, kl_divergence_curve

SCAFFOLD_PERCENTILE_AMAX = '''def percentile_amax(x, percentile):
    """The clipping threshold amax of a symmetric percentile calibrator: the given percentile
    (in percent, e.g. 99.9) of |x|, so that the range [-amax, amax] keeps that share of the values.
    Return one number.
    """
    ...
'''

SCAFFOLD_KL_DIVERGENCE = '''def kl_divergence(P, Q):
    """KL(P || Q) = sum over bins of P * log(P / Q), natural log, for two histograms P and Q
    that each sum to 1. Bins where P = 0 add nothing (0 log 0 = 0); a bin where P > 0 but
    Q = 0 makes the divergence infinite (return np.inf). Return one number.
    """
    ...
'''


def _ref_percentile(x, percentile):
    obs = PercentileObserver(percentile=percentile, symmetric=True).fit(x)
    width = float(obs.bin_edges_[1] - obs.bin_edges_[0])
    amax = float(obs.amax_)
    return Approx(amax, max(0.01 * amax, 2 * width))


def _abs(x):
    return np.abs(np.asarray(x, dtype=np.float64))


PERCENTILE_MISTAKES = [
    Mistake(lambda x, p: float(np.max(_abs(x))),
            "Your threshold is max|x|: that is min/max calibration, no clipping. The percentile calibrator "
            "ignores the top (100 - percentile)% of |x|."),
    Mistake(lambda x, p: float(np.percentile(np.asarray(x, dtype=float), p)),
            "You took the percentile of x, not of |x|: a symmetric range [-amax, amax] must also cover the "
            "negative tail."),
    Mistake(lambda x, p: float(np.percentile(_abs(x), p / 100)),
            "You divided the percentile by 100: np.percentile takes percent (99.9), np.quantile takes a "
            "fraction (0.999)."),
    Mistake(lambda x, p: float(np.percentile(_abs(x), 100 - p)),
            "You took the (100 - percentile)th percentile: the threshold keeps the lower `percentile` % of |x| "
            "below it, so it is the percentile itself."),
    Mistake(lambda x, p: float(np.percentile(_abs(x) ** 2, p)),
            "You returned a percentile of x**2 (an energy), not of |x|: the threshold is in the units of x."),
    Mistake(lambda x, p: float(np.percentile(np.asarray(x, dtype=float), p) - np.percentile(x, 100 - p)) / 2,
            "You returned half the width of the central range (a two-tailed range): this calibrator is "
            "symmetric, amax = percentile of |x|."),
]


def _percentile_cases():
    rng = np.random.default_rng(5)
    heavy_negative = -np.abs(rng.laplace(0.0, 1.0, 40_000))
    heavy_negative[:200] = np.abs(heavy_negative[:200]) * 0.1
    return [
        Case("Laplace weights, 99.9th percentile", (rng.laplace(0.0, 0.05, 40_000), 99.9)),
        Case("Gaussian, 99th percentile", (rng.normal(0.0, 2.0, 40_000), 99.0)),
        Case("mostly negative values, 99th percentile", (heavy_negative, 99.0)),
        Case("the median of |x|", (rng.laplace(0.0, 1.0, 20_000), 50.0)),
        Case("100th percentile (no clipping)", (rng.normal(0.0, 1.0, 20_000), 100.0)),
        Case("Gaussian with outliers, 99.5th percentile",
             (np.concatenate([rng.normal(0.0, 1.0, 30_000), [40.0, -55.0, 60.0]]), 99.5)),
    ]


def _explain_percentile(case, expected, got):
    try:
        g = float(np.asarray(got, dtype=np.float64))
    except Exception:
        return "Return one number (the threshold amax)."
    if g < 0:
        return "Your threshold is negative: amax is a percentile of |x|, so it is >= 0."
    return None


TASK_PERCENTILE = Task("percentile_amax", lesson="04_histograms_calibration.ipynb",
                       title="A percentile calibrator", reference=_ref_percentile, cases=_percentile_cases(),
                       mistakes=PERCENTILE_MISTAKES, explain=_explain_percentile, arg_names=["x", "percentile"],
                       scaffold=SCAFFOLD_PERCENTILE_AMAX, solution=_sol.percentile_amax,
            intro=("Write the symmetric percentile calibrator: the threshold that keeps a given percentage of $|x|$ "
                   "inside $[-a, a]$."),
            reference_name="ql.ranges.observers.PercentileObserver")

# -- KL -----------------------------------------------------------------------------------------


def _kl_cases():
    rng = np.random.default_rng(6)
    body = rng.poisson(60.0, size=400).astype(float)
    body[300:] = rng.poisson(0.7, size=100)          # a sparse tail with empty bins
    sparse = np.zeros(300)
    sparse[:250] = rng.poisson(20.0, 250)
    sparse[::7] = 0.0                                 # empty bins inside the candidate range
    sparse[260:] = rng.poisson(1.0, 40)
    hole = np.ones(256)
    hole[199] = 0.0                                   # the candidate's last bin empty, outliers beyond it
    cases = []
    for label, h, i, levels in [("dense histogram, threshold at bin 300", body, 300, 128),
                                ("threshold at the last bin (no outliers)", body, 400, 128),
                                ("empty bins inside the range (P = 0 there)", sparse, 250, 128),
                                ("few levels, threshold at bin 150", sparse, 150, 16),
                                ("identical distributions", np.ones(256), 256, 128),
                                ("outliers folded into an empty bin where Q = 0", hole, 200, 128)]:
        P, Q = kl_distributions(h, i, levels)
        cases.append((label, P, Q, float(kl_divergence_curve(h, levels, start=i)[1][0])))
    return cases


_KL = _kl_cases()
_KL_LOOKUP = {(P.tobytes(), Q.tobytes()): value for _, P, Q, value in _KL}


def _ref_kl(P, Q):
    return _KL_LOOKUP[(np.asarray(P, dtype=np.float64).tobytes(), np.asarray(Q, dtype=np.float64).tobytes())]


def _kl_terms(P, Q, log=np.log):
    P, Q = np.asarray(P, dtype=np.float64), np.asarray(Q, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return P * log(P / Q)


def _kl_skip_q0(P, Q):
    P, Q = np.asarray(P, dtype=np.float64), np.asarray(Q, dtype=np.float64)
    m = (P > 0) & (Q > 0)
    return float(np.sum(P[m] * np.log(P[m] / Q[m])))


def _kl_where(P, Q, log=np.log, swap=False):
    P, Q = np.asarray(P, dtype=np.float64), np.asarray(Q, dtype=np.float64)
    if swap:
        P, Q = Q, P
    m = P > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.sum(P[m] * log(P[m] / Q[m])))


KL_MISTAKES = [
    Mistake(lambda P, Q: float(np.sum(_kl_terms(P, Q))),
            "You summed P * log(P / Q) over every bin: where P = 0 that is 0 * log(0) = nan. Bins with P = 0 add "
            "nothing: sum only where P > 0."),
    Mistake(lambda P, Q: _kl_where(P, Q, log=np.log2),
            "You used log base 2 (bits); the reference, like TensorRT, uses the natural log (nats): your answer "
            "is the reference's divided by ln 2."),
    Mistake(lambda P, Q: _kl_where(P, Q, log=np.log10),
            "You used log base 10; the reference uses the natural log (np.log)."),
    Mistake(lambda P, Q: _kl_where(P, Q, swap=True),
            "You computed KL(Q || P): the divergence is not symmetric. The reference is KL(P || Q), P the clipped "
            "reference distribution, Q its quantized copy: sum of P * log(P / Q)."),
    Mistake(lambda P, Q: -_kl_where(P, Q),
            "Your sign is flipped: KL(P || Q) = sum P * log(P / Q), which is never negative."),
    Mistake(_kl_skip_q0,
            "You skipped the bins where Q = 0 but P > 0: there the quantized copy gives no probability to values "
            "that occur, and the divergence is infinite (return np.inf); TensorRT rejects such thresholds."),
]


TASK_KL = Task("kl_divergence", lesson="04_histograms_calibration.ipynb", title="KL divergence of two histograms",
               reference=_ref_kl, cases=[Case(label, (P, Q)) for label, P, Q, _ in _KL], mistakes=KL_MISTAKES,
               compare=lambda e, g: _same_kl(e, g), arg_names=["P", "Q"],
               scaffold=SCAFFOLD_KL_DIVERGENCE, solution=_sol.kl_divergence,
            intro=("Write the divergence TensorRT's entropy calibrator minimises, $KL(P\\,\\|\\,Q) = \\sum P "
                   "\\log(P/Q)$, with the two cases that need care: bins where $P = 0$ and bins where $Q = 0 < P$."),
            reference_name="ql.ranges.observers.kl_divergence_curve")


def _same_kl(expected, got):
    return same_numbers(float(expected), got, rtol=1e-7, atol=1e-12)


def check_percentile_amax(learner_fn) -> CheckResult:
    """Check a learner's ``percentile_amax(x, percentile)`` against
    :class:`qlearn.ranges.observers.PercentileObserver`."""
    return TASK_PERCENTILE.check(learner_fn)


def check_kl_divergence(learner_fn) -> CheckResult:
    """Check a learner's ``kl_divergence(P, Q)`` against :func:`qlearn.ranges.observers.kl_divergence_curve`."""
    return TASK_KL.check(learner_fn)

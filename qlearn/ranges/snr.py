"""Quantization noise as a signal: granular vs overload noise, SQNR per bit, optimal clipping.

Introduced in lesson ``05_snr``.

A ``bits``-bit uniform quantizer covering ``[-amax, amax]`` has step
``Delta = 2 amax / 2**bits``. Inside the range the error (granular noise) is close
to uniform on ``[-Delta/2, Delta/2]``, power ``Delta**2 / 12`` (Bennett 1948; Widrow &
Kollar 2008); outside it the error grows with the distance to the range (overload
or clipping noise). Every bit halves ``Delta`` and so buys ``20 log10 2 = 6.02`` dB of
granular SQNR; the offset depends on the signal's crest factor:

=================================  ====================================
signal (granular noise only)       SQNR in dB
=================================  ====================================
full-scale sine                    ``6.02 N + 1.76``
uniform on the full range          ``6.02 N``
any signal clipped at k std devs   ``6.02 N + 4.77 - 20 log10 k``
=================================  ====================================

The quantizer used throughout this module is the ideal ADC of the textbooks:
mid-rise, ``2**bits`` levels at ``(k + 1/2) Delta``, no level at zero (see
:func:`uniform_quantize` for the mid-tread variant with a level at zero).

References: Bennett 1948; Gray & Neuhoff 1998; Widrow & Kollar 2008; Banner,
Nahshan & Soudry 2019 (ACIQ, "Post-training 4-bit quantization of convolutional
networks for rapid-deployment").
"""
from __future__ import annotations

import functools
import math

import numpy as np

from qlearn._validate import as_finite_array, check_int, check_positive
from qlearn.ranges.metrics import theoretical_sqnr_db

__all__ = [
    "DISTRIBUTIONS", "BANNER_2019_ALPHA", "step_size", "granular_noise_power", "uniform_quantize",
    "noise_decomposition", "sine_sqnr_db", "uniform_sqnr_db", "clipped_sqnr_db", "gaussian_sqnr_db",
    "clip_mse", "clip_mse_terms", "optimal_clip", "sample_distribution", "measured_sqnr_db", "sine",
]

#: Distributions with a closed-form clipping error (``scale`` = sigma, Laplace b, or half-width).
DISTRIBUTIONS = ("gaussian", "laplace", "uniform")

#: Optimal clipping values alpha* published by Banner et al. (2019), section 4, for
#: 2, 3, 4 and 8 bits: in units of the Laplace scale b and of the Gaussian sigma.
BANNER_2019_ALPHA = {
    "laplace": {2: 2.83, 3: 3.89, 4: 5.03, 8: 9.89},
    "gaussian": {2: 1.71, 3: 2.15, 4: 2.55, 8: 3.92},
}

_DB_PER_BIT = 20.0 * math.log10(2.0)


def step_size(bits: int, amax: float) -> float:
    """Step ``Delta = 2 amax / 2**bits`` of a ``bits``-bit quantizer spanning ``[-amax, amax]``.

    >>> step_size(3, 1.0)
    0.25
    """
    bits = check_int(bits, "bits", 1, 32)
    return 2.0 * check_positive(amax, "amax") / 2.0**bits


def granular_noise_power(step) -> float:
    """``Delta**2 / 12``: the power of an error uniform on ``[-Delta/2, Delta/2]``.

    Notes
    -----
    ``(1/Delta) int_{-Delta/2}^{Delta/2} e^2 de = Delta^2 / 12``. Valid when the
    signal's density is smooth on the scale of one step (Widrow's quantizing theorem
    gives the exact conditions).

    >>> granular_noise_power(0.5) == 0.25 / 12
    True
    """
    return check_positive(step, "step") ** 2 / 12.0


def uniform_quantize(x, bits: int, amax: float, *, kind: str = "midrise") -> np.ndarray:
    """Quantize ``x`` with ``2**bits`` levels over ``[-amax, amax]`` (clipping outside).

    Parameters
    ----------
    kind : {'midrise', 'midtread'}
        ``midrise``: levels ``(k + 1/2) Delta``, ``k = -2**(bits-1) .. 2**(bits-1) - 1``
        (symmetric, no zero level: the classic ADC). ``midtread``: levels ``k Delta``
        for the same ``k`` (a zero level, one more level below zero than above: the
        int8 grid ``-128..127``).

    Examples
    --------
    >>> uniform_quantize([-1.0, -0.1, 0.1, 0.9, 5.0], 2, 1.0)
    array([-0.75, -0.25,  0.25,  0.75,  0.75])
    >>> uniform_quantize([-1.0, -0.1, 0.1, 0.9, 5.0], 2, 1.0, kind="midtread")
    array([-1. , -0. ,  0. ,  0.5,  0.5])
    """
    a = as_finite_array(x, "x")
    step = step_size(bits, amax)
    kmin, kmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    if kind == "midrise":
        return step * (np.clip(np.floor(a / step), kmin, kmax) + 0.5)
    if kind == "midtread":
        return step * np.clip(np.rint(a / step), kmin, kmax)
    raise ValueError(f"kind must be 'midrise' or 'midtread', got {kind!r}")


def noise_decomposition(x, bits: int, amax: float, *, kind: str = "midrise") -> dict:
    """Split the quantization noise of ``x`` into granular (rounding) and overload (clipping) parts.

    Returns
    -------
    dict with ``signal_power`` (mean x^2), ``granular`` and ``overload`` (each the sum of
    its squared errors over ALL samples, so they add up to ``total``), ``total``,
    ``sqnr_db`` (signal power / total), ``granular_sqnr_db`` (signal power /
    granular), ``inside_fraction``, ``granular_per_inside`` (mean squared error of the
    in-range samples), ``granular_model`` (``Delta^2/12``) and ``step``.

    Examples
    --------
    >>> d = noise_decomposition([0.1, 0.3, 2.0], 2, 1.0)
    >>> round(d["overload"], 4), round(d["granular"], 4)
    (0.5208, 0.0083)
    """
    a = as_finite_array(x, "x", allow_empty=False)
    err = a - uniform_quantize(a, bits, amax, kind=kind)
    inside = np.abs(a) <= amax
    n = a.size
    e2 = err * err
    gran = float(e2[inside].sum() / n)
    over = float(e2[~inside].sum() / n)
    sig = float(np.mean(a * a))
    step = step_size(bits, amax)

    def db(num, den):
        if num == 0:
            return -math.inf
        return math.inf if den == 0 else 10 * math.log10(num / den)

    n_in = int(inside.sum())
    return {
        "signal_power": sig,
        "granular": gran,
        "overload": over,
        "total": gran + over,
        "sqnr_db": db(sig, gran + over),
        "granular_sqnr_db": db(sig, gran),
        "inside_fraction": n_in / n,
        "granular_per_inside": float(e2[inside].mean()) if n_in else 0.0,
        "granular_model": step**2 / 12,
        "step": step,
    }


def sine_sqnr_db(bits: int) -> float:
    """``6.02 N + 1.76`` dB: a full-scale sine (this is :func:`qlearn.ranges.metrics.theoretical_sqnr_db`).

    Notes
    -----
    The rule assumes the error is uniform on ``[-Delta/2, Delta/2]``. A sine's density
    (the arcsine law) is steep near its peaks, and at few bits it spends much of its
    time in the outermost steps (at 4 bits, ``arccos(7/8)/pi`` = 16 % of the time in
    the top step, as long again in the bottom one): there the error is not uniform.
    Measured with the ideal mid-rise quantizer on an exactly full-scale sine, the SQNR
    falls short of the rule by about 0.53 dB at 4 bits, 0.14 dB at 8 bits,
    and by less than 0.1 dB from 9 bits on (the gap shrinks by about ``sqrt 2`` per bit).

    >>> round(sine_sqnr_db(16), 2)
    98.09
    """
    return theoretical_sqnr_db(bits)


def uniform_sqnr_db(bits: int) -> float:
    """``6.02 N`` dB: a signal uniform on the whole range (power ``amax^2/3`` vs ``Delta^2/12``).

    >>> round(uniform_sqnr_db(8), 2)
    48.16
    """
    bits = check_int(bits, "bits", 1, 64)
    return _DB_PER_BIT * bits


def clipped_sqnr_db(bits: int, k: float) -> float:
    """``6.02 N + 4.77 - 20 log10 k`` dB: granular SQNR when the range is ``+-k`` standard deviations.

    Granular noise only: the clipping (overload) noise of samples beyond ``k sigma``
    is NOT included, so this is an upper bound that the total SQNR approaches only
    when ``k`` is large enough for clipping to be negligible.

    Notes
    -----
    ``Delta = 2 k sigma / 2^N``, noise ``Delta^2/12 = k^2 sigma^2 / (3 * 4^N)``, so
    ``SQNR = 3 * 4^N / k^2``. It holds for any distribution with standard deviation
    sigma (the Gaussian is the usual example).

    >>> round(clipped_sqnr_db(8, 4.0), 2)
    40.89
    """
    bits = check_int(bits, "bits", 1, 64)
    k = check_positive(k, "k")
    return _DB_PER_BIT * bits + 10 * math.log10(3.0) - 20 * math.log10(k)


def gaussian_sqnr_db(bits: int, k: float) -> float:
    """:func:`clipped_sqnr_db` for a Gaussian clipped at ``k`` sigma (granular noise only)."""
    return clipped_sqnr_db(bits, k)


# -- clipping error of the three distributions ------------------------------------
def _check_dist(dist):
    if dist not in DISTRIBUTIONS:
        raise ValueError(f"dist must be one of {DISTRIBUTIONS}, got {dist!r}")


def _tail(dist, alpha, s):
    """For one tail x > alpha: P(X > alpha), E[(X-alpha); X > alpha], E[(X-alpha)^2; X > alpha]."""
    if dist == "gaussian":
        a = alpha / s
        Q = 0.5 * math.erfc(a / math.sqrt(2))
        phi = math.exp(-a * a / 2) / math.sqrt(2 * math.pi)
        return Q, s * phi - alpha * Q, (s * s + alpha * alpha) * Q - alpha * s * phi
    if dist == "laplace":
        e = math.exp(-alpha / s)
        return 0.5 * e, 0.5 * s * e, s * s * e
    d = max(s - alpha, 0.0)  # uniform on [-s, s]
    return d / (2 * s), d * d / (4 * s), d**3 / (6 * s)


def _pdf(dist, x, s):
    if dist == "gaussian":
        return np.exp(-0.5 * (x / s) ** 2) / (s * math.sqrt(2 * math.pi))
    if dist == "laplace":
        return np.exp(-np.abs(x) / s) / (2 * s)
    return np.where(np.abs(x) <= s, 1.0 / (2 * s), 0.0)


def clip_mse_terms(dist: str, alpha: float, bits: int, *, scale: float = 1.0) -> dict:
    """The granular and overload parts of the clipped mid-rise quantizer's MSE: exact, and as ACIQ models them.

    The quantizer is :func:`uniform_quantize` (mid-rise, ``2**bits`` levels over
    ``[-alpha, alpha]``, step ``Delta = 2 alpha / 2**bits``): its outermost levels are
    ``+-(alpha - Delta/2)``, half a step inside the clip.

    Parameters
    ----------
    dist : {'gaussian', 'laplace', 'uniform'}
        Zero-mean; ``scale`` is sigma, the Laplace ``b``, or the uniform half-width.

    Returns
    -------
    dict
        ``granular``: exact rounding error of the samples inside ``[-alpha, alpha]``
        (Gauss-Legendre on every step), as a contribution to the MSE over all samples.
        ``granular_model``: ``Delta^2/12 * P(|X| <= alpha)``, the uniform-error model
        applied to those same samples. ``granular_aciq``: ``Delta^2/12 =
        alpha^2 / (3 * 4^bits)``, Banner et al.'s term, charged to every sample.
        ``overload``: exact error of the samples beyond ``alpha``, which the quantizer
        sends to its outermost level ``+-(alpha - Delta/2)``. ``overload_aciq``: Banner
        et al.'s clipping term ``2 E[(|X| - alpha)^2; |X| > alpha]``, which sends them to
        ``+-alpha``. ``inside_fraction`` and ``step``.

    Notes
    -----
    ``Delta^2/12`` describes the granular error well already at 4 bits; the ACIQ
    formula's larger error is in its overload term (a clipped sample lies at least
    ``Delta/2`` further from the level it gets than from ``alpha``). Introduced in
    lesson ``04_histograms_calibration``.

    Examples
    --------
    A unit Gaussian at 4 bits, clipped at 2.7 sigma:

    >>> t = clip_mse_terms("gaussian", 2.7, 4)
    >>> round(t["granular"], 6), round(t["granular_model"], 6), round(t["granular_aciq"], 6)
    (0.009424, 0.009426, 0.009492)
    >>> round(t["overload"], 5), round(t["overload_aciq"], 5)
    (0.00212, 0.00121)
    """
    return _terms(dist, alpha, bits, scale, granular=True)


@functools.cache
def _gauss_legendre_12():
    """12-point Gauss-Legendre nodes and weights: computed once (an eigenvalue problem, 80% of
    :func:`optimal_clip`'s time when it was recomputed for every candidate clip)."""
    return np.polynomial.legendre.leggauss(12)


def _terms(dist, alpha, bits, scale, *, granular):
    _check_dist(dist)
    alpha = check_positive(alpha, "alpha")
    s = check_positive(scale, "scale")
    bits = check_int(bits, "bits", 1, 24)
    step = 2 * alpha / 2.0**bits
    P, t1, t2 = _tail(dist, alpha, s)
    d = step / 2  # distance from the clip to the outermost level
    inner = math.nan
    if granular:
        nodes, weights = _gauss_legendre_12()
        k = np.arange(2 ** (bits - 1))[:, None]
        lo = k * step
        x = lo + (nodes[None, :] + 1) * step / 2  # nodes mapped to each step [k Delta, (k+1) Delta]
        c = lo + step / 2
        inner = float(np.sum(weights[None, :] * (x - c) ** 2 * _pdf(dist, x, s)) * step / 2)
    return {
        "granular": 2 * inner,
        "granular_model": step**2 / 12 * (1 - 2 * P),
        "granular_aciq": alpha**2 / (3 * 4.0**bits),
        "overload": 2 * (t2 + 2 * d * t1 + d * d * P),
        "overload_aciq": 2 * t2,
        "inside_fraction": 1 - 2 * P,
        "step": step,
    }


#: Models of :func:`clip_mse`.
CLIP_MODELS = ("aciq", "aciq_midrise", "exact")


def clip_mse(dist: str, alpha: float, bits: int, *, scale: float = 1.0, model: str = "aciq") -> float:
    """Mean squared error of a ``bits``-bit quantizer clipped at ``+-alpha`` for a distribution.

    Parameters
    ----------
    dist : {'gaussian', 'laplace', 'uniform'}
        Zero-mean; ``scale`` is sigma, the Laplace ``b``, or the uniform half-width.
    model : {'aciq', 'aciq_midrise', 'exact'}
        ``aciq``: Banner et al.'s approximation, ``alpha^2 / (3 * 4^bits)`` =
        ``Delta^2/12`` for every sample plus the clipping noise measured to ``+-alpha``.
        ``aciq_midrise``: the same granular term, but the clipping noise measured to
        the mid-rise quantizer's outermost level ``+-(alpha - Delta/2)``, where the
        clipped samples really go. ``exact``: the mid-rise quantizer's MSE, integrated
        numerically (Gauss-Legendre on every step) plus that exact tail. The terms are
        returned separately by :func:`clip_mse_terms`.

    Notes
    -----
    Clipping noise (two tails, to ``+-alpha``): Gaussian ``(alpha^2+sigma^2)(1 -
    erf(alpha/(sqrt2 sigma))) - sqrt(2/pi) alpha sigma exp(-alpha^2/(2 sigma^2))``;
    Laplace ``2 b^2 exp(-alpha/b)``; uniform ``(a - alpha)^3 / (3a)``. To the level
    ``alpha - d`` (``d = Delta/2``) it is ``2 (E[(X-alpha)^2] + 2 d E[X-alpha] + d^2 P)``
    over the tail ``X > alpha``.

    Examples
    --------
    >>> round(clip_mse("laplace", 2.83, 2), 4)   # 2 e^-2.83 + 2.83^2/48
    0.2849
    """
    if model not in CLIP_MODELS:
        raise ValueError(f"model must be one of {CLIP_MODELS}, got {model!r}")
    t = _terms(dist, alpha, bits, scale, granular=model == "exact")
    if model == "aciq":
        return t["granular_aciq"] + t["overload_aciq"]
    if model == "aciq_midrise":
        return t["granular_aciq"] + t["overload"]
    return t["granular"] + t["overload"]


def optimal_clip(dist, bits: int, *, scale: float = 1.0, model: str = "aciq") -> float:
    """The clip ``alpha`` that minimises the quantization MSE at ``bits`` bits.

    Parameters
    ----------
    dist : {'gaussian', 'laplace', 'uniform'} or array_like
        A distribution (see :func:`clip_mse`), or samples: then the measured MSE of
        :func:`uniform_quantize` on the samples is minimised.
    model : {'aciq', 'aciq_midrise', 'exact'}
        For distributions (see :func:`clip_mse`); ignored for samples.

    Returns
    -------
    float
        ``alpha`` in the same units as ``scale`` (or the data).

    Notes
    -----
    A grid of 200 candidates then two finer grids around the best (golden-section
    would do as well: the ACIQ objective is unimodal). With ``model='aciq'`` this
    reproduces :data:`BANNER_2019_ALPHA` within 0.01 (the paper prints two decimals:
    4-bit Gaussian comes out 2.559 here, printed 2.55). ``model='exact'`` gives larger
    clips at low bit widths (2.68 sigma instead of 2.56 at 4 bits, 1.99 instead of 1.71
    at 2 bits). The reason is not the granular term: ``Delta^2/12`` is close to the
    exact rounding error (at 4 bits and ``alpha = 2.7`` sigma, 0.009426 on the samples
    inside the range against 0.009424 exact). It is the overload term: ACIQ measures a
    clipped sample's error to ``+-alpha``, but a mid-rise quantizer's outermost level is
    ``alpha - Delta/2`` (0.00121 against the exact 0.00212 at the same clip), so ACIQ
    underrates the cost of clipping and clips tighter. ``model='aciq_midrise'`` corrects
    only that term and gives 2.69 sigma at 4 bits (see :func:`clip_mse_terms`).

    Examples
    --------
    >>> round(optimal_clip("laplace", 4), 3), round(optimal_clip("gaussian", 4), 3)
    (5.029, 2.559)
    >>> [round(optimal_clip("gaussian", 4, model=m), 2) for m in ("aciq", "aciq_midrise", "exact")]
    [2.56, 2.69, 2.68]
    """
    bits = check_int(bits, "bits", 1, 24)
    if isinstance(dist, str):
        _check_dist(dist)
        s = check_positive(scale, "scale")
        top = {"gaussian": 12.0, "laplace": 40.0, "uniform": 1.0}[dist] * s

        def f(a):
            return np.array([clip_mse(dist, v, bits, scale=s, model=model) for v in a])
    else:
        x = as_finite_array(dist, "dist", allow_empty=False).ravel()
        top = float(np.max(np.abs(x)))
        if top == 0:
            raise ValueError("dist (the samples) are all zeros: there is nothing to clip")

        def f(a):
            return np.array([np.mean((x - uniform_quantize(x, bits, v)) ** 2) for v in a])
    xs = np.linspace(top / 200, top, 200)
    for _ in range(3):
        i = int(np.argmin(f(xs)))
        best = xs[i]
        xs = np.linspace(xs[max(i - 1, 0)], xs[min(i + 1, xs.size - 1)], 41)
    return float(best)


# -- data ---------------------------------------------------------------------------
SAMPLE_KINDS = ("gaussian", "laplace", "uniform", "relu", "outliers")


def sample_distribution(kind: str, n: int = 100_000, *, rng: np.random.Generator | None = None,
                        seed: int = 0) -> np.ndarray:
    """Samples of unit standard deviation for the lessons' examples.

    Parameters
    ----------
    kind : {'gaussian', 'laplace', 'uniform', 'relu', 'outliers'}
        ``relu``: ``max(0, N(0,1))`` (ReLU outputs: half zeros). ``outliers``: a
        Gaussian tensor where 0.1 % of the values are 20 sigma outliers (as seen in
        transformer activations).
    rng : numpy.random.Generator, optional
        Defaults to ``np.random.default_rng(seed)``.

    Examples
    --------
    >>> x = sample_distribution("laplace", 200_000, seed=1)
    >>> round(float(x.std()), 1)
    1.0
    """
    n = check_int(n, "n", 1, 100_000_000)
    if rng is None:
        rng = np.random.default_rng(seed)
    if kind == "gaussian":
        return rng.standard_normal(n)
    if kind == "laplace":
        return rng.laplace(0.0, 1 / math.sqrt(2), n)
    if kind == "uniform":
        return rng.uniform(-math.sqrt(3), math.sqrt(3), n)
    if kind == "relu":
        return np.maximum(rng.standard_normal(n), 0.0)
    if kind == "outliers":
        x = rng.standard_normal(n)
        m = max(1, n // 1000)
        idx = rng.choice(n, m, replace=False)
        x[idx] = rng.choice([-1.0, 1.0], m) * rng.uniform(15, 25, m)
        return x
    raise ValueError(f"kind must be one of {SAMPLE_KINDS}, got {kind!r}")


def sine(n: int = 100_000, *, amplitude: float = 1.0, cycles_per_sample: float | None = None,
         phase: float = 0.0) -> np.ndarray:
    """``amplitude * sin(2 pi f t + phase)``, ``t = 0..n-1``.

    The default frequency ``f = (sqrt 5 - 1) / 20`` cycles per sample is irrational,
    so the samples never repeat and their phases cover the circle evenly: what the
    ``6.02 N + 1.76`` rule assumes (a frequency commensurate with the sampling, such
    as ``f = 1/8``, visits only a few phases and its error is not uniform).

    >>> sine(4, cycles_per_sample=0.25).round(12)
    array([ 0.,  1.,  0., -1.])
    """
    n = check_int(n, "n", 1, 100_000_000)
    f = (math.sqrt(5) - 1) / 20 if cycles_per_sample is None else float(cycles_per_sample)
    return amplitude * np.sin(2 * np.pi * f * np.arange(n) + phase)


def measured_sqnr_db(x, bits: int, amax: float | None = None, *, kind: str = "midrise") -> float:
    """Measured SQNR in dB of :func:`uniform_quantize` on ``x`` (``amax`` defaults to ``max|x|``).

    >>> abs(measured_sqnr_db(sine(200_000), 12) - sine_sqnr_db(12)) < 0.1
    True
    """
    a = as_finite_array(x, "x", allow_empty=False)
    if amax is None:
        amax = float(np.max(np.abs(a)))
    return noise_decomposition(a, bits, amax, kind=kind)["sqnr_db"]

"""Rounding a real number to an integer, in the modes hardware and software use.

Introduced in lesson ``02_rounding``.
"""
from __future__ import annotations

import numpy as np

from qlearn._validate import as_finite_array

ROUNDING_MODES = (
    "half_even",
    "half_away",
    "half_up",
    "floor",
    "ceil",
    "toward_zero",
    "stochastic",
)


def check_mode(mode: str) -> str:
    """Return ``mode`` if it is one of :data:`ROUNDING_MODES`, else raise ValueError."""
    if not isinstance(mode, str) or mode not in ROUNDING_MODES:
        raise ValueError(f"mode must be one of {ROUNDING_MODES}, got {mode!r}")
    return mode


def round_(x, mode: str = "half_even", *, rng: np.random.Generator | None = None):
    """Round ``x`` to integers (returned as floats) with the given rounding ``mode``.

    Parameters
    ----------
    x : array_like of float
        Finite values.
    mode : str
        One of :data:`ROUNDING_MODES`:

        - ``half_even``: nearest, ties to the even integer (IEEE 754 default, ``np.rint``).
        - ``half_away``: nearest, ties away from zero (C ``round``).
        - ``half_up``: nearest, ties toward +inf (``floor(x + 0.5)``).
        - ``floor``, ``ceil``: toward -inf / +inf.
        - ``toward_zero``: truncation (what a cast to int does in C).
        - ``stochastic``: up with probability ``x - floor(x)``, else down.
    rng : numpy.random.Generator, optional
        Required for ``stochastic`` (the course never uses a global seed).

    Returns
    -------
    numpy.ndarray or float
        Rounded values, same shape as ``x``.

    Notes
    -----
    Stochastic rounding is unbiased: with ``p = x - floor(x)``,
    ``E[round(x)] = floor(x) + p = x``.

    Examples
    --------
    >>> round_([0.5, 1.5, 2.5, -0.5])
    array([ 0.,  2.,  2., -0.])
    >>> round_([0.5, 1.5, 2.5, -0.5], "half_away")
    array([ 1.,  2.,  3., -1.])
    >>> round_([-1.7, 1.7], "toward_zero")
    array([-1.,  1.])
    """
    check_mode(mode)
    scalar = np.ndim(x) == 0
    a = as_finite_array(x, "x")
    if mode == "half_even":
        out = np.rint(a)
    elif mode == "half_away":
        # floor(|a| + 0.5) would round the sum itself above 2**52; the fraction |a| - floor(|a|) is exact
        m = np.abs(a)
        lo = np.floor(m)
        out = np.copysign(lo + (m - lo >= 0.5), a)
    elif mode == "half_up":
        lo = np.floor(a)
        out = lo + (a - lo >= 0.5)  # exact, unlike floor(a + 0.5) above 2**52
    elif mode == "floor":
        out = np.floor(a)
    elif mode == "ceil":
        out = np.ceil(a)
    elif mode == "toward_zero":
        out = np.trunc(a)
    else:  # stochastic
        if rng is None:
            raise ValueError("mode='stochastic' needs rng=np.random.default_rng(seed)")
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        lo = np.floor(a)
        out = lo + (rng.random(a.shape) < (a - lo))
    # IEEE 754 roundToIntegral keeps the sign of a zero result: round(-0.3) is -0.0
    out = np.where(out == 0, np.copysign(0.0, a), out)
    return out[()] if scalar else out


def error_stats(x, mode: str = "half_even", *, rng: np.random.Generator | None = None) -> dict:
    """Bias and spread of the rounding error ``round_(x) - x``.

    Returns a dict with ``mean`` (the bias), ``rms``, ``max_abs`` and the error array ``error``.

    Examples
    --------
    >>> x = np.linspace(0, 10, 10_001)
    >>> round(error_stats(x, "floor")["mean"], 2)   # floor (toward -inf) loses half a step on average
    -0.5
    >>> abs(error_stats(x, "half_even")["mean"]) < 1e-3
    True
    """
    a = as_finite_array(x, "x", allow_empty=False)
    err = round_(a, mode, rng=rng) - a
    return {
        "mean": float(err.mean()),
        "rms": float(np.sqrt(np.mean(err**2))),
        "max_abs": float(np.abs(err).max()),
        "error": err,
    }


def accumulate(increments, *, step: float = 1.0, mode: str = "half_even",
               rng: np.random.Generator | None = None) -> np.ndarray:
    """Running sum kept in a low-precision register: after every addition the sum is rounded
    to a multiple of ``step`` with ``mode``.

    This is what happens to a weight stored on a coarse grid when an optimizer adds many
    small updates: round-to-nearest throws away every update smaller than ``step / 2``,
    truncation drifts, stochastic rounding keeps them on average (Gupta et al., 2015).

    Parameters
    ----------
    increments : 1-D array_like of float
        The updates, added one after another.
    step : float > 0
        Grid spacing of the register (its unit in the last place).
    mode, rng
        As in :func:`round_`.

    Returns
    -------
    numpy.ndarray
        The register after each addition (same length as ``increments``).

    Examples
    --------
    >>> accumulate([0.3] * 5, step=1.0)                       # every update rounded away
    array([0., 0., 0., 0., 0.])
    >>> float(accumulate([0.3] * 5, step=0.1)[-1])            # a fine grid keeps them
    1.5
    """
    from qlearn._validate import check_positive

    check_mode(mode)
    step = check_positive(step, "step")
    inc = as_finite_array(increments, "increments")
    if inc.ndim != 1:
        raise ValueError(f"increments must be 1-D, got shape {inc.shape}")
    if mode == "stochastic":
        if not isinstance(rng, np.random.Generator):
            raise ValueError("mode='stochastic' needs rng=np.random.default_rng(seed)")
        u = rng.random(inc.size)
    # plain Python floats: ~10x faster than numpy scalars in a sequential loop
    import math

    rounders = {
        "half_even": round,  # Python's round() is round-half-to-even
        "half_away": lambda v: math.copysign(math.floor(abs(v)) + (abs(v) - math.floor(abs(v)) >= 0.5), v),
        "half_up": lambda v: math.floor(v) + (v - math.floor(v) >= 0.5),
        "floor": math.floor,
        "ceil": math.ceil,
        "toward_zero": math.trunc,
    }
    d = (inc / step).tolist()
    out = [0.0] * len(d)
    acc = 0.0  # in units of step
    if mode == "stochastic":
        for i, (di, ui) in enumerate(zip(d, u.tolist())):
            v = acc + di
            lo = math.floor(v)
            acc = lo + (ui < v - lo)
            out[i] = acc
    else:
        r = rounders[mode]
        for i, di in enumerate(d):
            acc = r(acc + di)
            out[i] = acc
    out = np.asarray(out, dtype=np.float64)
    return out * step

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
        out = np.sign(a) * np.floor(np.abs(a) + 0.5)
    elif mode == "half_up":
        out = np.floor(a + 0.5)
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
    return out[()] if scalar else out

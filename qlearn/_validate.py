"""Argument checks shared by every module: one wording for one mistake."""
from __future__ import annotations

import numbers

import numpy as np


def as_finite_array(x, name: str, *, allow_empty: bool = True) -> np.ndarray:
    """``x`` as a float64 array; ValueError naming ``name`` if it holds NaN/inf or is empty."""
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array of real numbers ({exc})") from None
    if not allow_empty and a.size == 0:
        raise ValueError(f"{name} is empty: it needs at least one value")
    if a.size and not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or inf: only finite values can be quantized")
    return a


def check_int(value, name: str, lo: int, hi: int) -> int:
    """``value`` as an int in ``[lo, hi]``; TypeError/ValueError naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer in [{lo}, {hi}], got {value!r}")
    value = int(value)
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {value}")
    return value


def check_positive(value, name: str) -> float:
    """``value`` as a finite float > 0."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a positive number, got {value!r}") from None
    if not np.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return v


def check_axis(axis, ndim: int, name: str = "axis") -> int:
    """Normalise a per-channel ``axis`` for an array of ``ndim`` dimensions."""
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"{name} must be an integer or None, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name}={axis} is out of range for an array with {ndim} dimension(s)")
    return int(axis) % ndim

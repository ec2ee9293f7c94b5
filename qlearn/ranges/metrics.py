"""How much a quantizer hurt: mean squared error and signal-to-quantization-noise ratio.

Introduced in lessons ``02_rounding`` and ``05_snr``.
"""
from __future__ import annotations

import numpy as np

from qlearn._validate import as_finite_array, check_int


def _pair(x, x_hat):
    a = as_finite_array(x, "x", allow_empty=False)
    b = as_finite_array(x_hat, "x_hat", allow_empty=False)
    if a.shape != b.shape:
        raise ValueError(f"x and x_hat must have the same shape, got {a.shape} and {b.shape}")
    return a, b


def mse(x, x_hat) -> float:
    """Mean squared error ``mean((x - x_hat)**2)``.

    >>> mse([0.0, 1.0], [0.0, 0.5])
    0.125
    """
    a, b = _pair(x, x_hat)
    return float(np.mean((a - b) ** 2))


def sqnr_db(x, x_hat) -> float:
    """Signal-to-quantization-noise ratio ``10 log10(sum x^2 / sum (x - x_hat)^2)`` in dB.

    Returns ``inf`` when ``x_hat == x`` exactly (no noise) and raises ValueError when
    the signal is all zeros (the ratio is undefined).

    >>> round(sqnr_db([1.0, -1.0], [0.9, -0.9]), 3)
    20.0
    """
    a, b = _pair(x, x_hat)
    signal = float(np.sum(a * a))
    noise = float(np.sum((a - b) ** 2))
    if signal == 0.0:
        raise ValueError("x is all zeros: SQNR is undefined for a signal with no power")
    if noise == 0.0:
        return float("inf")
    return float(10.0 * np.log10(signal / noise))


def theoretical_sqnr_db(bits: int) -> float:
    """SQNR of an ideal ``bits``-bit uniform quantizer driven by a full-scale sine wave.

    Signal model: a sine of amplitude ``A`` spanning the whole range ``2A`` with
    ``2**bits`` levels, step ``Delta = 2A / 2**bits``; uniform rounding noise of power
    ``Delta**2 / 12``; signal power ``A**2 / 2``. The ratio is
    ``1.5 * 4**bits``, i.e. ``20 log10(2) * bits + 10 log10(1.5)``
    = ``6.02 bits + 1.76`` dB (Bennett 1948; Widrow & Kollar 2008, ch. 5).

    >>> round(theoretical_sqnr_db(8), 2)
    49.93
    """
    bits = check_int(bits, "bits", 1, 64)
    return float(20.0 * np.log10(2.0) * bits + 10.0 * np.log10(1.5))

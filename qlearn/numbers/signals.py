"""Quantization outside neural networks: ADCs, dither, fixed-point IIR filters, images.

Introduced in lessons ``05_snr`` (ADC, dither) and ``06_fixed_point`` (IIR filter,
image bit depth, Floyd-Steinberg error diffusion).

Every image here is generated (a smooth gradient, a sky); nothing is downloaded.

References: Widrow & Kollar 2008 (dither, ch. 19); Jackson 1970 and Oppenheim &
Schafer, "Discrete-Time Signal Processing", sec. 6.9 (limit cycles, the dead band);
Floyd & Steinberg 1976 ("An adaptive algorithm for spatial greyscale").
"""
from __future__ import annotations

import math

import numpy as np

from qlearn._validate import as_finite_array, check_int
from qlearn.numbers.fixed import FixedFormat, quantize_fixed
from qlearn.numbers.rounding import check_mode
from qlearn.ranges.snr import step_size, uniform_quantize

__all__ = [
    "DITHERS", "adc", "dither_noise", "spectrum_db", "iir_float", "iir_fixed", "deadband",
    "gradient_image", "sky_image", "reduce_bit_depth", "floyd_steinberg", "blurred_error",
    "count_levels",
]

DITHERS = (None, "rpdf", "tpdf")


# -- ADC and dither -------------------------------------------------------------------
def dither_noise(shape, step: float, kind: str | None, *, rng: np.random.Generator) -> np.ndarray:
    """Dither samples: ``rpdf`` uniform on ``[-Delta/2, Delta/2]``, ``tpdf`` the sum of two (``[-Delta, Delta]``).

    >>> dither_noise(3, 1.0, None, rng=np.random.default_rng(0))
    array([0., 0., 0.])
    """
    if kind is None:
        return np.zeros(shape)
    if kind == "rpdf":
        return rng.uniform(-step / 2, step / 2, shape)
    if kind == "tpdf":
        return rng.uniform(-step / 2, step / 2, shape) + rng.uniform(-step / 2, step / 2, shape)
    raise ValueError(f"dither must be one of {DITHERS}, got {kind!r}")


def adc(x, bits: int, *, full_scale: float = 1.0, dither: str | None = None,
        rng: np.random.Generator | None = None, seed: int = 0) -> np.ndarray:
    """An ideal ``bits``-bit ADC (mid-rise, ``[-full_scale, full_scale]``), optionally dithered.

    Non-subtractive dither: the noise is added before the quantizer and not removed
    after. ``tpdf`` dither makes the mean and the power of the total error independent
    of the signal (Widrow & Kollar 2008, ch. 19): no more harmonic distortion, at the
    price of 3x the noise power (``Delta^2/4`` instead of ``Delta^2/12``).

    Examples
    --------
    >>> adc([0.1, -0.6, 2.0], 2)
    array([ 0.25, -0.75,  0.75])
    """
    a = as_finite_array(x, "x")
    step = step_size(bits, full_scale)
    if dither is not None:
        if rng is None:
            rng = np.random.default_rng(seed)
        a = a + dither_noise(a.shape, step, dither, rng=rng)
    return uniform_quantize(a, bits, full_scale)


def spectrum_db(x, *, floor_db: float = -160.0) -> tuple[np.ndarray, np.ndarray]:
    """Power spectrum in dB (Hann window), relative to the strongest bin.

    Returns ``(f, p_db)`` with ``f`` in cycles per sample (0..0.5). Values are floored
    at ``floor_db`` so that no ``-inf`` reaches a figure.

    >>> f, p = spectrum_db(np.sin(2 * np.pi * 0.125 * np.arange(64)))
    >>> float(f[np.argmax(p)]), float(p.max())
    (0.125, 0.0)
    """
    a = as_finite_array(x, "x", allow_empty=False)
    n = a.size
    w = np.hanning(n)
    P = np.abs(np.fft.rfft((a - a.mean()) * w)) ** 2
    top = P.max()
    with np.errstate(divide="ignore"):
        db = 10 * np.log10(P / top) if top > 0 else np.full(P.shape, floor_db)
    return np.fft.rfftfreq(n), np.maximum(db, floor_db)


# -- first-order IIR filter -----------------------------------------------------------
def iir_float(x, a: float, *, y0: float = 0.0) -> np.ndarray:
    """``y[n] = a * y[n-1] + x[n]`` in float64, with ``y[-1] = y0``.

    >>> iir_float([1.0, 0.0, 0.0], 0.5)
    array([1.  , 0.5 , 0.25])
    """
    xs = as_finite_array(x, "x")
    a = float(a)
    y = np.empty(xs.size)
    prev = float(y0)
    for i, v in enumerate(xs.ravel()):
        prev = a * prev + v
        y[i] = prev
    return y


def _round_shift(p: int, s: int, mode: str, rng) -> int:
    """Integer ``p / 2**s`` rounded with ``mode`` (exact, Python ints)."""
    if s == 0:
        return p
    q = p >> s  # floor
    r = p - (q << s)
    if mode == "floor" or r == 0:
        return q
    half = 1 << (s - 1)
    if mode == "ceil":
        return q + 1
    if mode == "toward_zero":
        return q + (1 if p < 0 else 0)
    if mode == "half_up":
        return q + (1 if r >= half else 0)
    if mode == "half_away":
        return q + (1 if (r > half or (r == half and p > 0)) else 0)
    if mode == "half_even":
        return q + (1 if (r > half or (r == half and q & 1)) else 0)
    # stochastic
    return q + (1 if rng.random() < r / (1 << s) else 0)


def iir_fixed(x, a: float, fmt: FixedFormat, *, y0: float = 0.0, rounding: str = "half_even",
              overflow: str = "saturate", coef_frac_bits: int = 15,
              rng: np.random.Generator | None = None):
    """``y[n] = a * y[n-1] + x[n]`` computed the way a fixed-point DSP does it.

    The input and ``y0`` are put in ``fmt`` (saturating), the coefficient ``a`` in
    ``coef_frac_bits`` fraction bits (default ``fmt.frac_bits``); the product
    ``a_q * y_q`` is exact (double width), is rounded back to ``fmt.frac_bits`` with
    ``rounding``, ``x_q`` is added, and the sum overflows per ``overflow``.

    Returns
    -------
    y : numpy.ndarray of float
        The filter output, ``code * 2**-frac_bits``.
    info : dict
        ``a_q`` (the coefficient actually used, as a float), ``overflows`` (steps
        where the sum left the range), ``codes`` (int64 codes).

    Notes
    -----
    The rounding error made at each step, ``e[n]``, is fed back: the output error is
    ``sum_k a^k e[n-k]``, whose power is ``Delta^2/12 / (1 - a^2)`` for independent
    errors, larger when ``|a|`` is close to 1. With zero input and rounding to
    nearest, ``y`` can get stuck at a nonzero value or oscillate (a limit cycle) inside
    the dead band ``|y| <= 0.5 / (1 - |a|)`` steps (see :func:`deadband`).

    Examples
    --------
    >>> y, info = iir_fixed(np.zeros(6), 0.9, FixedFormat(8, 0), y0=20, rounding="half_away")
    >>> y
    array([18., 16., 14., 13., 12., 11.])
    """
    fmt = FixedFormat(fmt.word_bits, fmt.frac_bits, fmt.signed) if isinstance(fmt, FixedFormat) else None
    if fmt is None:
        raise TypeError("fmt must be a FixedFormat")
    check_mode(rounding)
    if rounding == "stochastic" and rng is None:
        raise ValueError("rounding='stochastic' needs rng=np.random.default_rng(seed)")
    if overflow not in ("saturate", "wrap"):
        raise ValueError(f"overflow must be 'saturate' or 'wrap', got {overflow!r}")
    fc = check_int(coef_frac_bits, "coef_frac_bits", 0, 62)
    a = float(a)
    if not math.isfinite(a):
        raise ValueError(f"a must be finite, got {a!r}")
    a_q = int(round(a * 2**fc))
    xs, _ = quantize_fixed(as_finite_array(x, "x").ravel(), fmt, overflow="saturate")
    xq = [int(v) for v in np.ldexp(xs, fmt.frac_bits)]
    y_prev = int(np.ldexp(quantize_fixed([y0], fmt, overflow="saturate")[0][0], fmt.frac_bits))
    qmin, qmax, mod = fmt.qmin, fmt.qmax, 1 << fmt.word_bits
    codes = np.empty(len(xq), dtype=np.int64)
    n_over = 0
    for i, v in enumerate(xq):
        s = _round_shift(a_q * y_prev, fc, rounding, rng) + v
        if s < qmin or s > qmax:
            n_over += 1
            s = min(max(s, qmin), qmax) if overflow == "saturate" else ((s - qmin) % mod) + qmin
        codes[i] = s
        y_prev = s
    y = np.ldexp(codes.astype(np.float64), -fmt.frac_bits)
    return y, {"a_q": a_q / 2**fc, "overflows": n_over, "codes": codes}


def deadband(a: float) -> int:
    """Largest ``|y|`` (in steps) at which ``y = round(a y)`` can stick: ``floor(0.5 / (1 - |a|))``.

    Jackson's dead band for a first-order section with rounding to nearest: while
    ``|a y| > |y| - 1/2`` the rounding can undo the decay.

    >>> deadband(0.9), deadband(-0.9), deadband(0.5)
    (5, 5, 1)
    """
    a = abs(float(a))
    if not a < 1:
        raise ValueError(f"|a| must be < 1 for a stable filter, got a={a}")
    return int(math.floor(0.5 / (1 - a) + 1e-12))


# -- images ---------------------------------------------------------------------------
def gradient_image(height: int = 128, width: int = 128) -> np.ndarray:
    """A smooth horizontal ramp from 0 (left) to 1 (right), values in [0, 1].

    >>> gradient_image(2, 3)
    array([[0. , 0.5, 1. ],
           [0. , 0.5, 1. ]])
    """
    height = check_int(height, "height", 1, 8192)
    width = check_int(width, "width", 1, 8192)
    row = np.linspace(0.0, 1.0, width) if width > 1 else np.zeros(1)
    return np.tile(row, (height, 1))


def sky_image(height: int = 128, width: int = 128, *, seed: int = 0) -> np.ndarray:
    """A generated sky (gray levels in [0, 1]): darker at the top, a glow near the sun, soft clouds.

    Smooth everywhere, so bit-depth reduction shows false contours as in a photo of
    a clear sky.

    >>> img = sky_image(64, 96)
    >>> img.shape, bool(img.min() >= 0.0), bool(img.max() <= 1.0)
    ((64, 96), True, True)
    """
    height = check_int(height, "height", 2, 8192)
    width = check_int(width, "width", 2, 8192)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    v, u = yy / (height - 1), xx / (width - 1)
    img = 0.25 + 0.5 * v**1.2  # deep at the zenith, bright at the horizon
    sx, sy = 0.75, 0.7
    img += 0.22 * np.exp(-((u - sx) ** 2 + (v - sy) ** 2) / 0.05)  # glow around the sun
    for _ in range(6):  # soft clouds: wide, flat Gaussian blobs
        cx, cy = rng.uniform(0.05, 0.95), rng.uniform(0.1, 0.6)
        ax, ay = rng.uniform(0.08, 0.2), rng.uniform(0.03, 0.07)
        img += 0.08 * np.exp(-((u - cx) / ax) ** 2 - ((v - cy) / ay) ** 2)
    return np.clip(img, 0.0, 1.0)


def _levels(bits):
    bits = check_int(bits, "bits", 1, 16)
    return (1 << bits) - 1


def reduce_bit_depth(img, bits: int) -> np.ndarray:
    """Round each pixel (in [0, 1]) to the nearest of ``2**bits`` evenly spaced gray levels.

    >>> reduce_bit_depth([[0.0, 0.3, 0.5, 1.0]], 1)
    array([[0., 0., 0., 1.]])
    """
    a = as_finite_array(img, "img", allow_empty=False)
    L = _levels(bits)
    return np.rint(np.clip(a, 0.0, 1.0) * L) / L


def floyd_steinberg(img, bits: int) -> np.ndarray:
    """Floyd-Steinberg error diffusion to ``2**bits`` gray levels.

    Pixels are visited row by row, left to right; each is rounded to the nearest level
    and its error is pushed to the unvisited neighbours with weights 7/16 (right),
    3/16 (below left), 5/16 (below), 1/16 (below right) (Floyd & Steinberg 1976).
    The local average is preserved, so the eye, which low-pass filters, sees the
    smooth original instead of bands.

    Examples
    --------
    >>> floyd_steinberg(np.full((2, 4), 0.5), 1)
    array([[0., 1., 0., 1.],
           [1., 0., 1., 0.]])
    """
    a = as_finite_array(img, "img", allow_empty=False)
    if a.ndim != 2:
        raise ValueError(f"img must be a 2-D gray image, got shape {a.shape}")
    L = _levels(bits)
    h, w = a.shape
    work = np.clip(a, 0.0, 1.0) * L  # in level units: levels are the integers 0..L
    out = np.empty((h, w))
    below = [0.0] * (w + 2)  # error carried into the next row (index shifted by 1)
    for r in range(h):
        row = work[r].tolist()
        carry_row = below
        below = [0.0] * (w + 2)
        res = [0.0] * w
        e_right = 0.0
        for c in range(w):
            v = row[c] + carry_row[c + 1] + e_right
            q = float(round(v))
            q = 0.0 if q < 0 else (float(L) if q > L else q)
            err = v - q
            res[c] = q
            e_right = err * 0.4375
            below[c] += err * 0.1875
            below[c + 1] += err * 0.3125
            below[c + 2] += err * 0.0625
        out[r] = res
    return out / L


def blurred_error(img, x_hat, *, radius: int = 2) -> float:
    """RMS difference of the two images after a ``(2 radius + 1)``-square box blur.

    A crude model of the eye's low-pass filtering: banding (false contours) survives
    the blur, dithering noise mostly does not.

    >>> blurred_error(np.zeros((8, 8)), np.zeros((8, 8)))
    0.0
    """
    a = as_finite_array(img, "img", allow_empty=False)
    b = as_finite_array(x_hat, "x_hat", allow_empty=False)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"img and x_hat must be 2-D of the same shape, got {a.shape} and {b.shape}")
    radius = check_int(radius, "radius", 0, 64)
    d = np.pad(b - a, radius, mode="edge")
    k = 2 * radius + 1
    c = np.cumsum(np.cumsum(np.pad(d, ((1, 0), (1, 0))), axis=0), axis=1)
    s = c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]
    return float(np.sqrt(np.mean((s / (k * k)) ** 2)))


def count_levels(img) -> int:
    """Number of distinct gray values in an image.

    >>> count_levels(reduce_bit_depth(gradient_image(4, 64), 3))
    8
    """
    return int(np.unique(as_finite_array(img, "img")).size)

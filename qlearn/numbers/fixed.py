"""Fixed-point formats Qm.n: a word of bits, a binary point at a fixed place.

Introduced in lesson ``06_fixed_point``.

A signed ``Qm.n`` number is a ``(1 + m + n)``-bit two's-complement integer ``q``
read as ``q * 2**-n``: ``n`` fraction bits (the resolution ``2**-n``), ``m`` integer
bits, one sign bit (the ARM / TI convention; MATLAB's ``fixdt(1, 16, 12)`` is the
same format as ``Q3.12``). Unsigned ``UQm.n`` has no sign bit. It is affine
quantization with ``scale = 2**-n`` and ``zero_point = 0``
(:meth:`FixedFormat.to_qparams`).

Not modelled: accumulator guard bits, rounding of intermediate products other
than what :func:`qlearn.numbers.signals.iir_fixed` shows, and block floating point.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qlearn._validate import as_finite_array, check_int
from qlearn.numbers.rounding import check_mode, round_

__all__ = ["FixedFormat", "FixedReport", "quantize_fixed", "wrap_codes", "propose_format", "OVERFLOW_MODES"]

OVERFLOW_MODES = ("saturate", "wrap")
MAX_WORD_BITS = 64


@dataclass(frozen=True)
class FixedFormat:
    """A fixed-point format: ``word_bits`` bits of which ``frac_bits`` are after the binary point.

    Parameters
    ----------
    word_bits : int in [1, 64]
    frac_bits : int >= 0
        Must leave room for the sign bit: ``word_bits >= frac_bits + 1`` when signed,
        ``word_bits >= frac_bits`` when unsigned.
    signed : bool

    Examples
    --------
    >>> f = FixedFormat(16, 12)
    >>> f, f.int_bits, f.resolution, f.min, f.max
    (Q3.12, 3, 0.000244140625, -8.0, 7.999755859375)
    >>> FixedFormat(8, 8, signed=False)
    UQ0.8
    """

    word_bits: int
    frac_bits: int
    signed: bool = True

    def __post_init__(self):
        w = check_int(self.word_bits, "word_bits", 1, MAX_WORD_BITS)
        f = check_int(self.frac_bits, "frac_bits", 0, MAX_WORD_BITS)
        sign = 1 if self.signed else 0
        if w < f + sign:
            raise ValueError(
                f"word_bits must be >= frac_bits + {sign} for a{' signed' if sign else 'n unsigned'} format "
                f"(the sign bit needs room), got word_bits={w}, frac_bits={f}")
        object.__setattr__(self, "word_bits", w)
        object.__setattr__(self, "frac_bits", f)
        object.__setattr__(self, "signed", bool(self.signed))

    @property
    def int_bits(self) -> int:
        """Bits before the binary point, not counting the sign bit (the ``m`` of ``Qm.n``)."""
        return self.word_bits - self.frac_bits - (1 if self.signed else 0)

    @property
    def resolution(self) -> float:
        """``2**-frac_bits``: the step between neighbouring values."""
        return 2.0**-self.frac_bits

    @property
    def qmin(self) -> int:
        return -(1 << (self.word_bits - 1)) if self.signed else 0

    @property
    def qmax(self) -> int:
        return (1 << (self.word_bits - 1)) - 1 if self.signed else (1 << self.word_bits) - 1

    @property
    def min(self) -> float:
        return self.qmin * self.resolution

    @property
    def max(self) -> float:
        return self.qmax * self.resolution

    @property
    def range(self) -> tuple[float, float]:
        return self.min, self.max

    def __repr__(self):
        return f"{'' if self.signed else 'U'}Q{self.int_bits}.{self.frac_bits}"

    def describe(self) -> str:
        """A one-line summary for readouts: format, word, range, resolution."""
        return (f"{self!r}: {self.word_bits}-bit {'signed' if self.signed else 'unsigned'}, "
                f"range [{self.min:g}, {self.max:g}], resolution 2^-{self.frac_bits} = {self.resolution:g}")

    def to_qparams(self):
        """The same grid as :class:`qlearn.ranges.affine.QParams` (``scale = 2**-n``, ``zero_point = 0``)."""
        from qlearn.ranges.affine import QParams
        return QParams(self.resolution, 0, self.qmin, self.qmax)


@dataclass(frozen=True)
class FixedReport:
    """What happened when values were put into a fixed-point format.

    ``overflows``: values whose rounded code fell outside ``[qmin, qmax]`` (saturated
    or wrapped). ``underflows``: nonzero values that became exactly 0 (flushed to zero
    because they were smaller than half a step).
    """

    size: int
    overflows: int
    underflows: int
    max_abs_error: float

    @property
    def overflow_fraction(self) -> float:
        return self.overflows / self.size if self.size else 0.0

    @property
    def underflow_fraction(self) -> float:
        return self.underflows / self.size if self.size else 0.0


def _check_format(fmt) -> FixedFormat:
    if not isinstance(fmt, FixedFormat):
        raise TypeError(f"fmt must be a FixedFormat, e.g. FixedFormat(16, 12), got {type(fmt).__name__}")
    return fmt


def wrap_codes(q, fmt: FixedFormat) -> np.ndarray:
    """Integer codes (as floats) wrapped into ``[qmin, qmax]`` modulo ``2**word_bits``: two's complement.

    >>> wrap_codes(np.array([127.0, 128.0, -129.0, 300.0]), FixedFormat(8, 0))
    array([ 127., -128.,  127.,   44.])
    """
    fmt = _check_format(fmt)
    m = float(1 << fmt.word_bits)
    return np.mod(q - fmt.qmin, m) + fmt.qmin


def quantize_fixed(x, fmt: FixedFormat, *, overflow: str = "saturate", rounding: str = "half_even",
                   rng: np.random.Generator | None = None):
    """Put real values ``x`` into the fixed-point format ``fmt``.

    Parameters
    ----------
    x : array_like of float
    fmt : FixedFormat
    overflow : {'saturate', 'wrap'}
        ``saturate`` clamps to ``[min, max]``; ``wrap`` keeps the low ``word_bits`` bits
        of the code (two's-complement wrap-around, what integer hardware does by default).
    rounding : str
        A mode of :func:`qlearn.numbers.rounding.round_`. ``floor`` is what dropping the low
        bits of a two's-complement word does (an arithmetic right shift: ``-5 >> 1 ==
        -3``); ``toward_zero`` is truncation as lesson 02 defines it (a C cast:
        ``trunc(-2.5) == -2``); ``half_even`` is convergent rounding.
    rng : numpy.random.Generator, optional
        For ``rounding='stochastic'``.

    Returns
    -------
    x_hat : numpy.ndarray of float
        ``q * 2**-frac_bits`` with ``q`` the stored integer code.
    report : FixedReport

    Notes
    -----
    ``q = round(x * 2**n)``; overflow when ``q < qmin`` or ``q > qmax``; then
    ``saturate``: ``q = clip(q, qmin, qmax)``, ``wrap``: ``q = ((q - qmin) mod 2**w) + qmin``.
    Scaling by a power of two is exact in floating point, and the codes are exact
    integers in float64 while ``|x| * 2**n < 2**53``.

    Examples
    --------
    >>> fmt = FixedFormat(8, 4)                     # Q3.4: [-8, 7.9375], step 1/16
    >>> x_hat, rep = quantize_fixed([1.03, 9.0, -9.0, 0.01], fmt)
    >>> x_hat, rep.overflows, rep.underflows
    (array([ 1.    ,  7.9375, -8.    ,  0.    ]), 2, 1)
    >>> quantize_fixed([9.0], fmt, overflow="wrap")[0]   # 144 - 256 = -112 -> -7.0
    array([-7.])
    """
    fmt = _check_format(fmt)
    if overflow not in OVERFLOW_MODES:
        raise ValueError(f"overflow must be one of {OVERFLOW_MODES}, got {overflow!r}")
    check_mode(rounding)
    a = as_finite_array(x, "x")
    q = round_(np.ldexp(a, fmt.frac_bits), rounding, rng=rng)
    q = np.asarray(q, dtype=np.float64)
    over = (q < fmt.qmin) | (q > fmt.qmax)
    under = (a != 0) & (q == 0)
    q = np.clip(q, fmt.qmin, fmt.qmax) if overflow == "saturate" else wrap_codes(q, fmt)
    x_hat = np.ldexp(q, -fmt.frac_bits)
    err = float(np.max(np.abs(a - x_hat))) if a.size else 0.0
    report = FixedReport(int(a.size), int(over.sum()), int(under.sum()), err)
    return x_hat, report


def propose_format(samples, word_bits: int, *, signed: bool = True, rounding: str = "half_even",
                   margin_bits: int = 0) -> FixedFormat:
    """The format with the most fraction bits in which no monitored sample overflows.

    What fixed-point design tools do after simulation with range logging (MATLAB's
    Fixed-Point Designer "best precision" proposal): take the observed extremes, give
    the integer part just enough bits, and spend the rest of the word on the fraction.

    Parameters
    ----------
    samples : array_like, or a list of arrays (several monitored runs)
    word_bits : int
    signed : bool
        Unsigned formats need every sample >= 0.
    margin_bits : int >= 0
        Extra integer bits of headroom for values larger than any seen.

    Returns
    -------
    FixedFormat

    Notes
    -----
    ``frac_bits`` is the largest ``n`` in ``[0, word_bits - sign]`` for which
    ``qmin <= round(x * 2**n) <= qmax`` for every sample, minus ``margin_bits``. A
    signal too small to use the top bits still gets ``int_bits = 0`` (a format with a
    negative ``m`` is not modelled). ValueError if even ``n = 0`` overflows.

    Examples
    --------
    >>> propose_format([0.3, -2.7, 1.9], 16)
    Q2.13
    >>> propose_format([0.3, -4.0], 16)      # -4 fits in Q2.13: -2**15 / 2**13 = -4
    Q2.13
    >>> propose_format([0.3, 4.0], 16)       # +4 does not (max 3.99988): one more integer bit
    Q3.12
    """
    if isinstance(samples, (list, tuple)) and samples and all(np.ndim(s) > 0 for s in samples):
        arrays = [as_finite_array(s, "samples").ravel() for s in samples]
        a = np.concatenate(arrays) if arrays else np.empty(0)
    else:
        a = as_finite_array(samples, "samples").ravel()
    if a.size == 0:
        raise ValueError("samples is empty: it needs at least one monitored value")
    word_bits = check_int(word_bits, "word_bits", 1, MAX_WORD_BITS)
    margin_bits = check_int(margin_bits, "margin_bits", 0, MAX_WORD_BITS)
    check_mode(rounding)
    if not signed and a.min() < 0:
        raise ValueError(f"samples has negative values (min {a.min():g}): use signed=True")
    lo, hi = float(a.min()), float(a.max())
    top = word_bits - (1 if signed else 0)
    for n in range(top, -1, -1):
        fmt = FixedFormat(word_bits, n, signed)
        qlo = round_(np.ldexp(lo, n), rounding) if rounding != "stochastic" else np.ceil(np.ldexp(lo, n))
        qhi = round_(np.ldexp(hi, n), rounding) if rounding != "stochastic" else np.ceil(np.ldexp(hi, n))
        if fmt.qmin <= qlo and qhi <= fmt.qmax:
            n_final = n - margin_bits
            if n_final < 0:
                raise ValueError(f"word_bits={word_bits} is too short for margin_bits={margin_bits} "
                                 f"on samples in [{lo:g}, {hi:g}]")
            return FixedFormat(word_bits, n_final, signed)
    raise ValueError(f"samples span [{lo:g}, {hi:g}]: that needs more than word_bits={word_bits} "
                     "integer bits; use a longer word")

"""Number formats: the bits of FP32, TF32, FP16, BF16, FP8 (E4M3, E5M2) and small integers.

Introduced in lesson ``01_number_formats``; the microscaling element formats FP4 E2M1,
FP6 E2M3 / E3M2 and the scale format E8M0 (:data:`MX_FORMATS`) in lesson ``17_block_formats``.

A format is a small frozen value object (:class:`FloatFormat` or :class:`IntFormat`)
returned by :func:`get_format`. :func:`cast` rounds float64 values to the values a
format can hold and returns them as float64, so they can be compared with the input;
:func:`encode_bits` / :func:`decode_bits` show the bit pattern of one value,
:func:`fields` splits it into sign, exponent and mantissa.

A binary floating-point value with ``e`` exponent bits and ``m`` mantissa bits is

.. math::

    x = (-1)^s \\cdot 1.M \\cdot 2^{E - \\text{bias}} \\quad (1 \\le E \\le E_{\\max}),
    \\qquad x = (-1)^s \\cdot 0.M \\cdot 2^{1 - \\text{bias}} \\quad (E = 0,\\ \\text{subnormal}),

with ``bias = 2**(e-1) - 1``. The exponent field of all ones holds inf and NaN in the
IEEE 754 formats (FP32, FP16, BF16, TF32, FP8 E5M2); the OCP FP8 E4M3 format
("fn": finite, NaN) has no infinities and keeps only ``S.1111.111`` for NaN, which
lifts its largest value to 448.

References: IEEE 754-2019; OCP 8-bit Floating Point Specification (OFP8) rev. 1.0 and
Micikevicius et al., "FP8 formats for deep learning" (2022); NVIDIA A100 Tensor Core
GPU architecture whitepaper (TF32, 2020); Kalamkar et al., "A study of BFLOAT16 for
deep learning training" (2019); OCP Microscaling Formats (MX) v1.0 (2023) for FP4/FP6/E8M0, whose
values are checked code by code against ml_dtypes' ``float4_e2m1fn``, ``float6_e2m3fn``,
``float6_e3m2fn`` and ``float8_e8m0fnu``.

FP4 and FP6 have neither inf nor NaN: every code is a finite number, so an out-of-range value
can only saturate to ``+-max_normal`` (``cast`` always saturates for them), and NaN or inf input
raises ValueError. E8M0 has no sign bit and no mantissa: its 255 values are the powers of two
``2**-127 .. 2**127`` and code ``0xFF`` is NaN; it has no zero, so zero or a negative number
casts to NaN and a positive number below ``2**-127`` to ``2**-127`` (as ml_dtypes does).
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import ml_dtypes
import numpy as np

from qlearn._validate import as_finite_array
from qlearn.numbers.rounding import ROUNDING_MODES, round_

FORMATS = ("fp32", "tf32", "fp16", "bf16", "fp8_e4m3", "fp8_e5m2", "int8", "uint8", "int4", "uint4")
FLOAT_FORMATS = FORMATS[:6]
INT_FORMATS = FORMATS[6:]
#: Element and scale formats of the OCP microscaling (MX) v1.0 block formats (lesson 17).
MX_FORMATS = ("fp4_e2m1", "fp6_e2m3", "fp6_e3m2", "e8m0")
ALL_FORMATS = FORMATS + MX_FORMATS


@dataclass(frozen=True, repr=False)
class FloatFormat:
    """A binary floating-point format: 1 sign bit, ``exp_bits`` exponent bits, ``man_bits`` mantissa bits.

    Build it with :func:`get_format`; every limit is derived from the bit counts.

    Attributes
    ----------
    name : str
    exp_bits, man_bits : int
        Field widths (the leading 1 of a normal significand is implicit, not stored).
    bias : int
        ``2**(exp_bits - 1) - 1``; a normal value is ``1.M * 2**(E - bias)``.
    max_normal, min_normal, min_subnormal : float
        Largest finite value, smallest positive normal ``2**(1 - bias)``, smallest
        positive subnormal ``2**(1 - bias - man_bits)``.
    eps : float
        Machine epsilon, the gap between 1 and the next value: ``2**-man_bits``.
    has_inf, has_nan : bool
    ieee_specials : bool
        True: exponent field all ones means inf (mantissa 0) or NaN (IEEE 754 style).
        False ("fn" formats such as FP8 E4M3): only exponent and mantissa all ones is NaN,
        the rest of that binade holds ordinary values, and there is no inf.
    signed : bool
        False for E8M0, which has no sign bit (every value is a positive power of two).
    has_zero : bool
        False for E8M0: its smallest code, 0, is ``2**-127``, not zero; it has no subnormals.
    storage_bits : int
        Bits one value occupies in memory (TF32 is a compute format: its values are
        stored as 32-bit FP32 words).
    dtype : str or None
        Name of the numpy / ml_dtypes dtype, None where there is none (TF32).
    not_modelled : str
        What :func:`cast` does not model for this format (an honest note).
    """

    name: str
    exp_bits: int
    man_bits: int
    bias: int
    max_normal: float
    min_normal: float
    min_subnormal: float
    eps: float
    has_inf: bool
    has_nan: bool
    ieee_specials: bool
    storage_bits: int
    dtype: str | None
    description: str
    not_modelled: str
    signed: bool = True
    has_zero: bool = True

    kind = "float"

    @property
    def bits(self) -> int:
        """Bits in one code: ``1 + exp_bits + man_bits`` (no sign bit in E8M0)."""
        return int(self.signed) + self.exp_bits + self.man_bits

    @property
    def emin(self) -> int:
        """Unbiased exponent of the smallest normal binade, ``1 - bias`` (``-bias`` in E8M0)."""
        return (1 if self.has_zero else 0) - self.bias

    @property
    def emax(self) -> int:
        """Unbiased exponent of the largest finite binade."""
        top = 2**self.exp_bits - 1
        return (top - 1 if self.ieee_specials or self.man_bits == 0 else top) - self.bias

    @property
    def decimal_digits(self) -> float:
        """Decimal digits of precision, ``(man_bits + 1) * log10(2)``."""
        return (self.man_bits + 1) * math.log10(2.0)

    def __str__(self):
        """A sentence for learners (``print(fmt)``); ``repr`` keeps the constructor-like form."""
        specials = ("inf and NaN" if self.has_inf else "NaN but no inf") if self.has_nan else "no inf or NaN"
        return (f"{self.name}: 1 sign, {self.exp_bits} exponent and {self.man_bits} mantissa bits, bias {self.bias}; "
                f"largest {self.max_normal:.6g}, smallest normal {self.min_normal:.6g}, smallest subnormal "
                f"{self.min_subnormal:.6g}, epsilon {self.eps:.6g}; {specials}")

    def __repr__(self):
        specials = ("inf and NaN" if self.has_inf else "NaN only (no inf)") if self.has_nan else "no inf/NaN"
        return (f"FloatFormat({self.name!r}: 1 sign | {self.exp_bits} exponent | {self.man_bits} mantissa bits, "
                f"bias {self.bias}, max {self.max_normal:.6g}, min normal {self.min_normal:.6g}, "
                f"min subnormal {self.min_subnormal:.6g}, eps {self.eps:.6g}, {specials})")


@dataclass(frozen=True, repr=False)
class IntFormat:
    """A ``bits``-bit integer format, two's complement when ``signed``.

    Attributes
    ----------
    name : str
    bits : int
    signed : bool
    qmin, qmax : int
        The integer range (full range: ``-2**(bits-1) .. 2**(bits-1) - 1`` or ``0 .. 2**bits - 1``).
    storage_bits : int
        Bits per value in memory (4-bit values are packed two per byte).
    dtype : str
        Name of the numpy / ml_dtypes dtype.
    not_modelled : str
    """

    name: str
    bits: int
    signed: bool
    qmin: int
    qmax: int
    storage_bits: int
    dtype: str
    description: str
    not_modelled: str

    kind = "int"

    def __repr__(self):
        return (f"IntFormat({self.name!r}: {self.bits} bits, {'signed' if self.signed else 'unsigned'}, "
                f"qmin {self.qmin}, qmax {self.qmax})")


def _float_format(name, exp_bits, man_bits, *, ieee_specials=True, has_nan=True, storage_bits=None, dtype=None,
                  description="", not_modelled="") -> FloatFormat:
    bias = 2 ** (exp_bits - 1) - 1
    top = 2**exp_bits - 1
    if ieee_specials:
        emax, max_frac = top - 1 - bias, 2**man_bits - 1
    elif has_nan:  # "fn": the top binade is ordinary except mantissa all ones (NaN)
        emax, max_frac = top - bias, 2**man_bits - 2
    else:  # FP4/FP6: no inf, no NaN, every code is a number
        emax, max_frac = top - bias, 2**man_bits - 1
    max_normal = math.ldexp(2**man_bits + max_frac, emax - man_bits)
    return FloatFormat(
        name=name, exp_bits=exp_bits, man_bits=man_bits, bias=bias, max_normal=max_normal,
        min_normal=math.ldexp(1.0, 1 - bias), min_subnormal=math.ldexp(1.0, 1 - bias - man_bits),
        eps=math.ldexp(1.0, -man_bits), has_inf=ieee_specials, has_nan=has_nan, ieee_specials=ieee_specials,
        storage_bits=storage_bits or 1 + exp_bits + man_bits, dtype=dtype, description=description,
        not_modelled=not_modelled)


def _int_format(name, bits, signed, description) -> IntFormat:
    qmin, qmax = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    return IntFormat(name=name, bits=bits, signed=signed, qmin=qmin, qmax=qmax, storage_bits=bits, dtype=name,
                     description=description,
                     not_modelled="Saturating vs wrapping overflow is chosen per call (cast's saturate=); "
                                  "how a kernel packs 4-bit values into bytes (nibble order) is not modelled.")


_NO_EXCEPTIONS = "IEEE exception flags and NaN payloads are not modelled (NaN is returned as one canonical NaN)."
_REGISTRY = {
    "fp32": _float_format("fp32", 8, 23, dtype="float32", description="IEEE 754 binary32 (single precision)",
                          not_modelled=_NO_EXCEPTIONS + " Hardware that flushes subnormals to zero is not modelled."),
    "tf32": _float_format(
        "tf32", 8, 10, storage_bits=32, description="NVIDIA TensorFloat-32: FP32's range with FP16's precision",
        not_modelled="TF32 is a tensor-core compute format with no dtype: values live in memory as FP32 words "
                     "(storage_bits=32). cast() rounds to nearest even from the FP32 bit pattern; some hardware "
                     "paths truncate the 13 dropped bits instead. " + _NO_EXCEPTIONS),
    "fp16": _float_format("fp16", 5, 10, dtype="float16", description="IEEE 754 binary16 (half precision)",
                          not_modelled=_NO_EXCEPTIONS),
    "bf16": _float_format("bf16", 8, 7, dtype="bfloat16", description="bfloat16 (Google Brain): FP32's 8-bit "
                          "exponent, 7 mantissa bits", not_modelled=_NO_EXCEPTIONS + " Some accelerators flush bf16 "
                          "subnormals to zero; cast() keeps them."),
    "fp8_e4m3": _float_format(
        "fp8_e4m3", 4, 3, ieee_specials=False, dtype="float8_e4m3fn",
        description="OCP FP8 E4M3 ('fn': no infinities, only S.1111.111 is NaN, max 448)",
        not_modelled="Per-tensor scaling factors, which FP8 needs in practice, are not part of the format. "
                     + _NO_EXCEPTIONS),
    "fp8_e5m2": _float_format(
        "fp8_e5m2", 5, 2, dtype="float8_e5m2", description="OCP FP8 E5M2 (IEEE-style inf and NaN, max 57344)",
        not_modelled="Per-tensor scaling factors, which FP8 needs in practice, are not part of the format. "
                     + _NO_EXCEPTIONS),
    "int8": _int_format("int8", 8, True, "8-bit two's complement integer"),
    "fp4_e2m1": _float_format(
        "fp4_e2m1", 2, 1, ieee_specials=False, has_nan=False, dtype="float4_e2m1fn",
        description="OCP MX FP4 E2M1 (no inf, no NaN: 0, 0.5, 1, 1.5, 2, 3, 4, 6 and their negatives)",
        not_modelled="The shared block scale (see qlearn.modern.block_formats) is not part of the element format. "
                     "NaN/inf input raises ValueError (there is no code for them)."),
    "fp6_e2m3": _float_format(
        "fp6_e2m3", 2, 3, ieee_specials=False, has_nan=False, dtype="float6_e2m3fn",
        description="OCP MX FP6 E2M3 (no inf, no NaN, max 7.5)",
        not_modelled="The shared block scale is not part of the element format. NaN/inf input raises ValueError. "
                     "How hardware packs 6-bit codes into bytes is not modelled."),
    "fp6_e3m2": _float_format(
        "fp6_e3m2", 3, 2, ieee_specials=False, has_nan=False, dtype="float6_e3m2fn",
        description="OCP MX FP6 E3M2 (no inf, no NaN, max 28)",
        not_modelled="The shared block scale is not part of the element format. NaN/inf input raises ValueError. "
                     "How hardware packs 6-bit codes into bytes is not modelled."),
    "e8m0": FloatFormat(
        name="e8m0", exp_bits=8, man_bits=0, bias=127, max_normal=2.0**127, min_normal=2.0**-127,
        min_subnormal=2.0**-127, eps=1.0, has_inf=False, has_nan=True, ieee_specials=False, storage_bits=8,
        dtype="float8_e8m0fnu", signed=False, has_zero=False,
        description="OCP MX E8M0 scale: unsigned powers of two 2**-127 .. 2**127, code 0xFF is NaN, no zero",
        not_modelled="A scale format: no sign, no zero, no subnormals. Zero and negative input cast to NaN, "
                     "positive input below 2**-127 to 2**-127 (ml_dtypes' float8_e8m0fnu does the same)."),
    "uint8": _int_format("uint8", 8, False, "8-bit unsigned integer"),
    "int4": _int_format("int4", 4, True, "4-bit two's complement integer (packed two per byte)"),
    "uint4": _int_format("uint4", 4, False, "4-bit unsigned integer (packed two per byte)"),
}


def get_format(name) -> FloatFormat | IntFormat:
    """The format called ``name`` (one of :data:`FORMATS`); a format object is returned unchanged.

    Examples
    --------
    >>> get_format("fp8_e4m3").max_normal
    448.0
    >>> get_format("bf16").man_bits, get_format("int4").qmin
    (7, -8)
    >>> get_format("fp64")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown format 'fp64': choose one of fp32, tf32, fp16, bf16, fp8_e4m3, fp8_e5m2, int8, ...
    """
    if isinstance(name, (FloatFormat, IntFormat)):
        return name
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(f"unknown format {name!r}: choose one of {', '.join(ALL_FORMATS)}")
    return _REGISTRY[name]


def _np_dtype(fmt):
    return np.dtype(getattr(ml_dtypes, fmt.dtype) if hasattr(ml_dtypes, fmt.dtype) else fmt.dtype)


def _check_rounding(rounding):
    if not isinstance(rounding, str) or rounding not in ROUNDING_MODES:
        raise ValueError(f"rounding must be one of {ROUNDING_MODES}, got {rounding!r}")
    return rounding


def _as_array(x, name="x"):
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array of real numbers ({exc})") from None


# ---------------------------------------------------------------------------------------------
# rounding to a float format
# ---------------------------------------------------------------------------------------------
def _round_to_odd_fp32(a: np.ndarray) -> np.ndarray:
    """float64 -> float32 with round-to-odd (inexact results get an odd last bit), as float32.

    Rounding to odd at 24 bits and then to nearest at p <= 22 bits equals one rounding to
    nearest at p bits (Boldo & Melquiond 2008), which removes the double-rounding error of
    going float64 -> float32 -> narrower format.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        y = a.astype(np.float32)
        yd = y.astype(np.float64)
        inexact = yd != a  # also True for NaN: setting the last bit of a NaN keeps it NaN
        too_big = np.abs(yd, out=yd) > np.abs(a)  # rounded away from zero (inf included): step back one code
    u = y.view(np.uint32) - too_big.view(np.uint8).astype(np.uint32)
    u |= inexact.view(np.uint8).astype(np.uint32)
    return u.view(np.float32)


def _tf32_from_fp32_bits(y: np.ndarray) -> np.ndarray:
    """Round FP32 values to TF32 on the bit pattern: nearest even on the 13 dropped mantissa bits."""
    y = np.asarray(y, dtype=np.float32)
    u = y.view(np.uint32)
    lsb = (u >> np.uint32(13)) & np.uint32(1)
    with np.errstate(over="ignore"):
        r = (u + (np.uint32(0x0FFF) + lsb)) & np.uint32(0xFFFFE000)  # uint32 wraps only for NaN codes
    out = r.view(np.float32).astype(np.float64)
    nan = np.isnan(y)
    if nan.any():
        out[nan] = np.nan
    return out


def _cast_half_even_fast(a: np.ndarray, fmt: FloatFormat, saturate: bool) -> np.ndarray:
    if saturate:
        a = np.clip(a, -fmt.max_normal, fmt.max_normal)
    with np.errstate(over="ignore", invalid="ignore"):
        if fmt.name in ("fp32", "fp16"):  # numpy rounds float64 -> float32/float16 once, correctly
            return a.astype(fmt.dtype).astype(np.float64)
        y = _round_to_odd_fp32(a)  # ml_dtypes converts float64 through float32: avoid double rounding
        if fmt.name == "tf32":
            return _tf32_from_fp32_bits(y)
        return y.astype(_np_dtype(fmt)).astype(np.float64)


def _cast_generic(a: np.ndarray, fmt: FloatFormat, rounding: str, saturate: bool, rng) -> np.ndarray:
    """Any rounding mode, by exponent/mantissa decomposition (exact in float64)."""
    out = np.array(a, dtype=np.float64, copy=True)  # NaN stays NaN
    fin = np.isfinite(a)
    x = a[fin]
    _, E = np.frexp(x)  # x = f * 2**E, 0.5 <= |f| < 1  (E = 0 for x = 0)
    e = np.maximum(E - 1, fmt.emin)  # floor(log2|x|), clamped to the subnormal binade
    qexp = e - fmt.man_bits  # spacing of the grid at x is 2**qexp
    r = round_(np.ldexp(x, -qexp), rounding, rng=rng)  # exact: scaling by a power of two
    with np.errstate(over="ignore"):
        y = np.copysign(np.ldexp(r, qexp), x)  # keep the sign of zero (round_ gives +0 for -0.3 -> 0)
    over = np.abs(y) > fmt.max_normal
    if over.any():
        toward_zero = (rounding == "toward_zero") | ((rounding == "floor") & (x > 0)) | ((rounding == "ceil") & (x < 0))
        big = np.inf if fmt.has_inf else np.nan
        y[over] = np.where(saturate | toward_zero[over], fmt.max_normal, big) * np.sign(x[over])
    out[fin] = y
    inf = np.isinf(a)
    if inf.any():
        out[inf] = np.sign(a[inf]) * (fmt.max_normal if saturate else (np.inf if fmt.has_inf else np.nan))
    return out


def _cast_int(a: np.ndarray, fmt: IntFormat, rounding: str, saturate: bool, rng) -> np.ndarray:
    if a.size and not np.all(np.isfinite(a)):
        raise ValueError(f"x contains NaN or inf: the integer format {fmt.name} has no code for them")
    r = round_(a, rounding, rng=rng)
    if saturate:
        return np.clip(r, fmt.qmin, fmt.qmax) + 0.0
    return np.mod(r - fmt.qmin, 2.0**fmt.bits) + fmt.qmin  # two's complement wrap-around


def _cast_e8m0(a: np.ndarray, fmt: FloatFormat, rounding: str, saturate: bool, rng) -> np.ndarray:
    """E8M0: round ``x / 2**e`` (in [1, 2)) to 1 or 2 by ``rounding``; no zero, no sign."""
    out = np.full(a.shape, np.nan)
    pos = a > 0  # zero, negatives and NaN have no code: NaN
    x = a[pos]
    fin = np.isfinite(x)
    y = np.full(x.shape, np.inf)
    _, E = np.frexp(x[fin])
    e = np.maximum(E - 1, fmt.emin)
    r = round_(np.ldexp(x[fin], -e), rounding, rng=rng)  # in [0, 2]: exact scaling by a power of two
    y[fin] = np.ldexp(np.maximum(r, 1.0), e)  # below 2**-127: the smallest value (there is no zero)
    over = y > fmt.max_normal
    y[over] = fmt.max_normal if saturate else np.nan
    out[pos] = y
    return out


def cast(x, fmt, *, rounding: str = "half_even", saturate: bool = False, rng: np.random.Generator | None = None):
    """Round ``x`` to the nearest values of ``fmt`` (by ``rounding``); returned as float64.

    Parameters
    ----------
    x : array_like of float
        Values to cast. For float formats NaN and inf are allowed; for integer formats
        they raise ValueError.
    fmt : str, FloatFormat or IntFormat
        A name from :data:`FORMATS` or a format object.
    rounding : str
        One of :data:`qlearn.numbers.rounding.ROUNDING_MODES`; ``half_even`` is the IEEE 754
        default (round to nearest, ties to even). Every mode works for every format.
    saturate : bool
        Values beyond the largest finite value become that value (``+-max_normal`` or
        ``qmin``/``qmax``), infinities included. Without it a float overflows to inf
        (NaN for FP8 E4M3, which has no inf) and an integer wraps around modulo
        ``2**bits``, as a two's complement register (and numpy's ``astype``) does.
    rng : numpy.random.Generator, optional
        Needed for ``rounding="stochastic"``.

    Returns
    -------
    numpy.ndarray or numpy.float64
        Values exactly representable in ``fmt`` (or inf/NaN), same shape as ``x``.

    Notes
    -----
    Float formats: with :math:`e = \\max(\\lfloor\\log_2|x|\\rfloor, 1 - \\text{bias})` the grid
    near ``x`` has spacing :math:`2^{e - m}`; ``cast`` rounds :math:`x / 2^{e-m}` to an
    integer and scales back (exact in float64), so subnormals need no special case.
    Overflow follows IEEE 754 (7.4): the result is inf unless the mode rounds that value
    toward zero (``toward_zero``; ``floor`` for x > 0; ``ceil`` for x < 0), which gives
    ``+-max_normal``. NaN input gives NaN (every float format here has NaN); inf input
    gives inf, or NaN in FP8 E4M3, or ``+-max_normal`` with ``saturate``.

    ``half_even`` uses numpy / ml_dtypes conversions. ml_dtypes converts float64 through
    float32, which rounds twice (``1 + 2**-8 + 2**-40`` would become 1.0 in bf16); ``cast``
    first rounds to float32 *to odd*, which makes the second rounding exact. TF32 has no
    dtype: its values are FP32 bit patterns rounded to nearest even on the 13 dropped
    mantissa bits.

    Integer formats: ``round_(x, rounding)`` then clip (``saturate=True``) or wrap.

    FP4 E2M1 and FP6 E2M3/E3M2 (no inf, no NaN) always saturate; NaN, and inf without
    ``saturate``, raise ValueError. E8M0 rounds ``x / 2**floor(log2 x)`` to 1 or 2 (a tie,
    ``1.5 * 2**e``, goes up under ``half_even``); it has no zero and no sign, so ``x <= 0``
    gives NaN, ``0 < x < 2**-127`` gives ``2**-127``, overflow gives NaN (``2**127`` with
    ``saturate``).

    Examples
    --------
    >>> cast([0.1, 1000.0], "fp8_e4m3")
    array([0.1015625,       nan])
    >>> cast([0.1, 1000.0], "fp8_e4m3", saturate=True).tolist()
    [0.1015625, 448.0]
    >>> cast(1 + 2**-8 + 2**-40, "bf16")  # just above a tie: rounds up
    np.float64(1.0078125)
    >>> cast([70000.0, 1e-8], "fp16")  # overflow to inf, underflow to zero
    array([inf,  0.])
    >>> cast([2.5, 200.0], "int8"), cast(200.0, "int8", saturate=True)
    (array([  2., -56.]), np.float64(127.0))
    >>> cast([0.26, 2.6, 5.0, 100.0], "fp4_e2m1").tolist()
    [0.5, 3.0, 4.0, 6.0]
    >>> cast([3.0, 0.1, 0.0], "e8m0").tolist()
    [4.0, 0.125, nan]
    """
    fmt = get_format(fmt)
    _check_rounding(rounding)
    scalar = np.ndim(x) == 0
    a0 = _as_array(x)
    a = a0.reshape(-1)
    if fmt.kind == "int":
        out = _cast_int(a, fmt, rounding, bool(saturate), rng)
    elif not fmt.signed:
        out = _cast_e8m0(a, fmt, rounding, bool(saturate), rng)
    elif not fmt.has_nan:
        if a.size and np.isnan(a).any() or (not saturate and np.isinf(a).any()):
            raise ValueError(f"x contains NaN or inf: {fmt.name} has no code for them "
                             "(inf is accepted with saturate=True)")
        out = _cast_generic(a, fmt, rounding, True, rng)  # no inf/NaN: overflow can only saturate
    elif rounding == "half_even":
        out = _cast_half_even_fast(a, fmt, bool(saturate))
    else:
        out = _cast_generic(a, fmt, rounding, bool(saturate), rng)
    out = out.reshape(a0.shape)
    return out[()] if scalar else out


# ---------------------------------------------------------------------------------------------
# codes and bits
# ---------------------------------------------------------------------------------------------
def _nan_code(fmt: FloatFormat) -> int:
    m = fmt.man_bits
    frac = 2**m - 1 if not fmt.ieee_specials else 1 << (m - 1)  # canonical quiet NaN
    return ((2**fmt.exp_bits - 1) << m) | frac


def to_codes(x, fmt, *, rounding: str = "half_even", saturate: bool = False, rng=None) -> np.ndarray:
    """The unsigned integer bit patterns of ``cast(x, fmt, ...)``, as int64.

    NaN gets one canonical code (quiet NaN ``S.11..1.10..0``; ``S.1111.111`` in FP8 E4M3),
    with the sign bit of the NaN.

    Examples
    --------
    >>> to_codes([1.0, -2.0, 448.0], "fp8_e4m3").tolist()
    [56, 192, 126]
    >>> to_codes([-1, 7], "int4").tolist()
    [15, 7]
    >>> to_codes([6.0, -0.5], "fp4_e2m1").tolist(), to_codes([1.0, 2.0**-127], "e8m0").tolist()
    ([7, 9], [127, 0])
    """
    fmt = get_format(fmt)
    v = np.asarray(cast(x, fmt, rounding=rounding, saturate=saturate, rng=rng), dtype=np.float64)
    if fmt.kind == "int":
        return np.mod(v, 2**fmt.bits).astype(np.int64)
    if not fmt.signed:  # E8M0: the biased exponent, 0xFF for NaN
        code = np.full(v.shape, 2**fmt.exp_bits - 1, dtype=np.int64)
        ok = ~np.isnan(v)
        code[ok] = (np.frexp(v[ok])[1] - 1 + fmt.bias).astype(np.int64)
        return code
    m = fmt.man_bits
    sign = np.signbit(v).astype(np.int64)
    a = np.abs(v)
    code = np.zeros(v.shape, dtype=np.int64)
    nan, inf = np.isnan(a), np.isinf(a)
    sub = (a < fmt.min_normal) & ~nan
    code[sub] = np.rint(a[sub] / fmt.min_subnormal).astype(np.int64)
    norm = ~sub & ~nan & ~inf
    _, E = np.frexp(a[norm])
    e = E - 1
    frac = np.ldexp(a[norm], m - e) - 2.0**m
    code[norm] = ((e + fmt.bias).astype(np.int64) << m) | frac.astype(np.int64)
    code[inf] = (2**fmt.exp_bits - 1) << m
    code[nan] = _nan_code(fmt)
    return code | (sign << (fmt.bits - 1))


def from_codes(codes, fmt) -> np.ndarray:
    """Values (float64) of unsigned integer bit patterns ``codes`` in ``fmt``.

    Examples
    --------
    >>> from_codes([0x38, 0x7E, 0x7F, 0x80], "fp8_e4m3")
    array([  1., 448.,  nan,  -0.])
    >>> from_codes([0x7C, 0x7D], "fp8_e5m2")
    array([inf, nan])
    >>> from_codes([0b0111, 0b1001], "fp4_e2m1").tolist(), from_codes([0, 127, 255], "e8m0").tolist()
    ([6.0, -0.5], [5.877471754111438e-39, 1.0, nan])
    """
    fmt = get_format(fmt)
    c = np.asarray(codes)
    if c.size and (not np.issubdtype(c.dtype, np.integer)):
        cf = np.asarray(c, dtype=np.float64)
        if not np.all(cf == np.round(cf)):
            raise ValueError("codes must be integers")
        c = cf
    c = c.astype(np.int64)
    if c.size and (c.min() < 0 or c.max() >= 2**fmt.bits):
        raise ValueError(f"codes must be in [0, {2**fmt.bits - 1}] for {fmt.name} ({fmt.bits} bits)")
    if fmt.kind == "int":
        return np.where(fmt.signed & (c >= 2 ** (fmt.bits - 1)), c - 2**fmt.bits, c).astype(np.float64)
    m, top = fmt.man_bits, 2**fmt.exp_bits - 1
    if not fmt.signed:  # E8M0
        return np.where(c == top, np.nan, np.ldexp(1.0, c - fmt.bias))
    sign = (c >> (fmt.bits - 1)) & 1
    E = (c >> m) & top
    M = c & (2**m - 1)
    mag = np.where(E == 0, np.ldexp(M.astype(np.float64), fmt.emin - m),
                   np.ldexp((M + 2**m).astype(np.float64), E - fmt.bias - m))
    if fmt.ieee_specials:
        mag = np.where(E == top, np.where(M == 0, np.inf, np.nan), mag)
    elif fmt.has_nan:
        mag = np.where((E == top) & (M == 2**m - 1), np.nan, mag)
    return np.where(sign == 1, -mag, mag)


def _split(bits: str, fmt) -> str:
    if fmt.kind == "int" or not fmt.signed:
        return bits
    return f"{bits[0]}|{bits[1:1 + fmt.exp_bits]}|{bits[1 + fmt.exp_bits:]}"


def encode_bits(value, fmt, *, sep: str = "", rounding: str = "half_even", saturate: bool = False) -> str:
    """The bit string of ``value`` after casting to ``fmt``.

    Floats: sign | exponent | mantissa; integers: two's complement. ``sep`` (e.g. ``"|"``)
    is put between the fields of a float format.

    Examples
    --------
    >>> encode_bits(1.0, "bf16", sep="|")
    '0|01111111|0000000'
    >>> encode_bits(-0.1, "fp8_e5m2")
    '10101110'
    >>> encode_bits(-3, "int4")
    '1101'
    """
    fmt = get_format(fmt)
    if np.ndim(value) != 0:
        raise ValueError(f"value must be a single number, got shape {np.shape(value)} (use to_codes for arrays)")
    if not isinstance(sep, str):
        raise TypeError(f"sep must be a string, got {sep!r}")
    code = int(to_codes(value, fmt, rounding=rounding, saturate=saturate))
    bits = format(code, f"0{fmt.bits}b")
    return _split(bits, fmt).replace("|", sep) if sep and fmt.kind == "float" else bits


def decode_bits(bits: str, fmt) -> float:
    """The value of the bit string ``bits`` in ``fmt``; separators ``|``, spaces and ``_`` are ignored.

    Examples
    --------
    >>> decode_bits("0|01111|0000000000", "fp16")
    1.0
    >>> decode_bits("0 1111 111", "fp8_e4m3")
    nan
    >>> decode_bits("1000", "int4")
    -8.0
    """
    fmt = get_format(fmt)
    if not isinstance(bits, str):
        raise TypeError(f"bits must be a string of '0' and '1', got {type(bits).__name__}")
    s = "".join(ch for ch in bits if ch not in "| _")
    if not s or set(s) - {"0", "1"}:
        raise ValueError(f"bits must contain only '0' and '1' (and separators '|', ' ', '_'), got {bits!r}")
    if len(s) != fmt.bits:
        raise ValueError(f"bits must have {fmt.bits} digits for {fmt.name}, got {len(s)}")
    return float(from_codes(int(s, 2), fmt))


def fields(value, fmt) -> dict:
    """The fields of ``value`` after casting to ``fmt``.

    Returns
    -------
    dict
        For floats: ``value``, ``bits``, ``sign`` (0/1), ``exponent`` (the stored field),
        ``mantissa`` (the stored field, as an integer), ``unbiased_exponent`` (``E - bias``;
        ``1 - bias`` for subnormals and zero; None for inf/NaN), ``significand``
        (``1.M`` or ``0.M``; None for inf/NaN), ``is_zero``, ``is_subnormal``, ``is_normal``,
        ``is_inf``, ``is_nan``. For integers: ``value``, ``bits``, ``sign``, ``code``.

    Examples
    --------
    >>> f = fields(0.1, "bf16")
    >>> f["sign"], f["exponent"], f["mantissa"], f["unbiased_exponent"], f["significand"]
    (0, 123, 77, -4, 1.6015625)
    >>> fields(2.0**-9, "fp8_e4m3")["is_subnormal"]
    True
    """
    fmt = get_format(fmt)
    bits = encode_bits(value, fmt)
    code = int(bits, 2)
    v = float(from_codes(code, fmt))
    sign = code >> (fmt.bits - 1) if fmt.signed else 0
    if fmt.kind == "int":
        return dict(value=v, bits=bits, sign=sign if fmt.signed else 0, code=code)
    m = fmt.man_bits
    E, M = (code >> m) & (2**fmt.exp_bits - 1), code & (2**m - 1)
    is_nan, is_inf = math.isnan(v), math.isinf(v)
    special = is_nan or is_inf
    sub = E == 0 and fmt.has_zero
    return dict(value=v, bits=bits, sign=sign, exponent=E, mantissa=M,
                unbiased_exponent=None if special else (fmt.emin if sub else E - fmt.bias),
                significand=None if special else (0 if sub else 1) + M / 2**m,
                is_zero=v == 0, is_subnormal=sub and M != 0, is_normal=not sub and not special,
                is_inf=is_inf, is_nan=is_nan)


def relative_spacing_vertices(fmt) -> tuple[np.ndarray, np.ndarray]:
    """The exact graph of ``ulp(x) / x`` for positive finite ``x`` of a float format, as vertices.

    Within one binade ``ulp`` is constant, so ``ulp(x) / x`` falls as ``1 / x``: a straight line
    on log-log axes. The graph is therefore exact as a polyline through, per binade, its start
    and its end (where the next binade's doubled ulp makes it jump back up), drawn on log axes:
    the subnormal range (ulp = min_subnormal, from ``x = min_subnormal``) then every normal binade
    up to ``max_normal``. About two points per binade (510 for fp32, 32 for fp8 e4m3) instead of thousands of
    samples that would still round the saw-tooth's corners.

    Returns
    -------
    (x, rel) : float64 arrays, ``x`` non-decreasing (repeated at each jump).

    Examples
    --------
    >>> x, rel = relative_spacing_vertices("fp8_e4m3")
    >>> float(x[0]), float(rel[0]), float(x[-1]), float(rel[-1])
    (0.001953125, 1.0, 448.0, 0.07142857142857142)
    """
    f = get_format(fmt)
    if f.kind != "float":
        raise ValueError(f"fmt must be a float format from {FLOAT_FORMATS}, got {f.name!r}")
    xs, rel = [f.min_subnormal], [1.0]  # the smallest subnormal is its own spacing
    if f.min_normal > f.min_subnormal:
        xs.append(f.min_normal)
        rel.append(f.min_subnormal / f.min_normal)
    for e in range(f.emin, f.emax + 1):
        lo = math.ldexp(1.0, e)
        u = math.ldexp(1.0, e - f.man_bits)
        hi = min(math.ldexp(1.0, e + 1), f.max_normal)
        if lo > f.max_normal:
            break
        xs += [lo, hi]
        rel += [u / lo, u / hi]
    return np.array(xs), np.array(rel)


def ulp(x, fmt):
    """Spacing of the grid of ``fmt`` at ``x``: the gap between consecutive values in x's binade.

    For a float format, :math:`\\mathrm{ulp}(x) = 2^{\\max(\\lfloor\\log_2|x|\\rfloor,\\,1-\\text{bias}) - m}`
    (capped at the top finite binade); for integer formats it is 1. With round to nearest,
    ``|x - cast(x)| <= ulp(x) / 2`` for every x within range.

    Examples
    --------
    >>> ulp([1.0, 1000.0, 0.0], "bf16").tolist() == [2**-7, 4.0, 2.0**-133]
    True
    >>> float(ulp(100.0, "fp8_e4m3")), float(ulp(100.0, "int8"))
    (8.0, 1.0)
    """
    fmt = get_format(fmt)
    scalar = np.ndim(x) == 0
    a = as_finite_array(x, "x")
    if fmt.kind == "int":
        out = np.ones_like(a)
    else:
        _, E = np.frexp(a)
        e = np.clip(np.where(a == 0, fmt.emin, E - 1), fmt.emin, fmt.emax)
        out = np.ldexp(1.0, e - fmt.man_bits)
    return out[()] if scalar else out


def representable_values(fmt, *, include_inf: bool = False) -> np.ndarray:
    """Every distinct value of a format of at most 16 bits, ascending (NaN left out, +0 and -0 as one 0).

    Examples
    --------
    >>> v = representable_values("fp8_e4m3")
    >>> len(v), v[-1], v[v > 0][0]
    (253, np.float64(448.0), np.float64(0.001953125))
    >>> representable_values("int4")[:3]
    array([-8., -7., -6.])
    """
    fmt = get_format(fmt)
    if fmt.bits > 16:
        raise ValueError(f"representable_values lists formats of at most 16 bits; {fmt.name} has {fmt.bits}")
    v = from_codes(np.arange(2**fmt.bits), fmt)
    v = v[~np.isnan(v)]
    if not include_inf:
        v = v[np.isfinite(v)]
    return np.unique(v)


def model_bytes(n_params, fmt) -> int:
    """Bytes to store ``n_params`` values in ``fmt``: ``ceil(n_params * storage_bits / 8)``.

    4-bit formats are packed two per byte; TF32 values are stored as 32-bit words.
    Scales, zero points and other metadata are not counted.

    Examples
    --------
    >>> model_bytes(7e9, "fp32") / 1e9, model_bytes(7e9, "bf16") / 1e9, model_bytes(7e9, "int4") / 1e9
    (28.0, 14.0, 3.5)
    >>> model_bytes(3, "uint4")
    2
    """
    fmt = get_format(fmt)
    if isinstance(n_params, bool) or not isinstance(n_params, numbers.Real):
        raise TypeError(f"n_params must be a whole number >= 0, got {n_params!r}")
    if not math.isfinite(n_params) or n_params < 0 or n_params != int(n_params):
        raise ValueError(f"n_params must be a whole number >= 0, got {n_params!r}")
    return -(-int(n_params) * fmt.storage_bits // 8)


def format_table(names=None) -> list[dict]:
    """One row (a dict) per format with its bit counts and limits, for the comparison table of lesson 01.

    Integer rows have None where a float notion does not apply (``exp_bits``, ``min_subnormal``,
    ``eps``, ``decimal_digits``); their ``min_normal`` is the smallest positive value, 1.

    Examples
    --------
    >>> rows = format_table(["fp16", "int8"])
    >>> rows[0]["max"], rows[1]["max"], round(rows[0]["decimal_digits"], 2)
    (65504.0, 127.0, 3.31)
    """
    rows = []
    for name in FORMATS if names is None else names:
        f = get_format(name)
        if f.kind == "float":
            rows.append(dict(name=f.name, bits=f.bits, storage_bits=f.storage_bits, exp_bits=f.exp_bits,
                             man_bits=f.man_bits, bias=f.bias, max=f.max_normal, min_normal=f.min_normal,
                             min_subnormal=f.min_subnormal, eps=f.eps, decimal_digits=f.decimal_digits,
                             has_inf=f.has_inf, has_nan=f.has_nan))
        else:
            rows.append(dict(name=f.name, bits=f.bits, storage_bits=f.storage_bits, exp_bits=None,
                             man_bits=None, bias=None, max=float(f.qmax), min_normal=1.0, min_subnormal=None,
                             eps=None, decimal_digits=None, has_inf=False, has_nan=False))
    return rows


__all__ = ["FORMATS", "FLOAT_FORMATS", "INT_FORMATS", "FloatFormat", "IntFormat", "get_format", "cast",
           "to_codes", "from_codes", "encode_bits", "decode_bits", "fields", "ulp", "representable_values",
           "model_bytes", "format_table", "MX_FORMATS", "ALL_FORMATS"]

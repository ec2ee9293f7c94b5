"""Integer-only inference, as deployed runtimes do it: int8 operands, int32 accumulators, fixed-point rescale.

Introduced in lesson ``11_integer_inference``.

A quantized layer never multiplies by a float at run time. With ``x = s_x (q_x - z_x)``,
``w = s_w (q_w - z_w)`` and ``y = s_y (q_y - z_y)``, a dense layer ``y = x W^T + b`` becomes

.. math::

    q_y = z_y + M \\Big( \\sum_k (q_x - z_x)(q_w - z_w) + q_b \\Big),
    \\qquad M = \\frac{s_x s_w}{s_y},\\quad q_b = \\mathrm{round}\\Big(\\frac{b}{s_x s_w}\\Big),

where the sum is an integer matmul into a 32-bit accumulator and ``M`` is applied as a
Q31 integer ``m0`` and a power-of-two ``shift`` (``M ~= m0 * 2**(shift - 31)``), bit for
bit as gemmlowp's ``SaturatingRoundingDoublingHighMul`` followed by
``RoundingDivideByPOT`` (TFLite's ``MultiplyByQuantizedMultiplier``).

References: Jacob et al., "Quantization and Training of Neural Networks for Efficient
Integer-Arithmetic-Only Inference", CVPR 2018; gemmlowp ``fixedpoint/fixedpoint.h``;
TFLite ``kernels/internal/quantization_util.cc`` and the TFLite 8-bit quantization spec.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from qlearn._validate import as_finite_array, check_int

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
OVERFLOW_MODES = ("report", "raise", "wrap")


# ---------------------------------------------------------------------------------------------
# argument checks
# ---------------------------------------------------------------------------------------------
def _as_int_array(x, name: str, *, ndim: int | None = None) -> np.ndarray:
    """``x`` as an int64 array; ValueError naming ``name`` if it holds non-integers."""
    a = np.asarray(x)
    if a.dtype == bool:
        raise TypeError(f"{name} must hold integer codes, got booleans")
    if not np.issubdtype(a.dtype, np.integer):
        f = as_finite_array(a, name)
        if f.size and not np.all(f == np.round(f)):
            raise ValueError(f"{name} must hold integer codes (e.g. from qlearn.quantize), got non-integers")
        if f.size and (f.min() < -(2.0**62) or f.max() > 2.0**62):
            raise ValueError(f"{name} holds values too large for 64-bit integer arithmetic")
        a = f
    a = a.astype(np.int64)
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array, got shape {a.shape}")
    return a


def _check_int32(a: np.ndarray, name: str) -> None:
    if a.size and (a.min() < INT32_MIN or a.max() > INT32_MAX):
        raise ValueError(f"{name} must lie in the int32 range [{INT32_MIN}, {INT32_MAX}]")


# ---------------------------------------------------------------------------------------------
# integer matmul with a finite accumulator
# ---------------------------------------------------------------------------------------------
def accumulator_bits_needed(k: int, a_bits: int = 8, b_bits: int = 8) -> int:
    """Bits of a signed accumulator that can never overflow summing ``k`` products of signed codes.

    Introduced in lesson ``11_integer_inference``.

    Parameters
    ----------
    k : int >= 1
        Number of products summed (the reduction length, ``in_features``).
    a_bits, b_bits : int in [2, 32]
        Widths of the two signed operands.

    Returns
    -------
    int

    Notes
    -----
    The largest product magnitude is ``(-2**(a-1)) * (-2**(b-1)) = 2**(a+b-2)`` (positive),
    so the worst sum is ``k * 2**(a+b-2)``; a signed ``n``-bit accumulator holds it when
    ``2**(n-1) - 1 >= k * 2**(a+b-2)``: ``n = bit_length(k * 2**(a+b-2)) + 1``.
    The most negative sum, ``-k * 2**(a-1) * (2**(b-1) - 1)``, is smaller in magnitude.

    Examples
    --------
    >>> accumulator_bits_needed(1)      # one int8 x int8 product: -128 * -128 = 16384
    16
    >>> accumulator_bits_needed(256)    # a 256-wide dot product
    24
    >>> accumulator_bits_needed(131071), accumulator_bits_needed(131072)
    (32, 33)
    """
    k = check_int(k, "k", 1, 2**40)
    a_bits = check_int(a_bits, "a_bits", 2, 32)
    b_bits = check_int(b_bits, "b_bits", 2, 32)
    return (k * 2 ** (a_bits + b_bits - 2)).bit_length() + 1


@dataclass(frozen=True, eq=False)
class IntMatmulResult:
    """Result of :func:`int_matmul`.

    Attributes
    ----------
    acc : numpy.ndarray of int64
        The accumulator contents: the exact sums (``on_overflow='report'``) or the sums
        wrapped to ``acc_bits`` two's complement (``on_overflow='wrap'``).
    overflowed : int
        Outputs whose exact sum does not fit ``acc_bits`` (wrong on any hardware).
    transient : int
        Outputs where some partial sum, accumulated in ``k`` order, left the range even
        though the final sum fits (harmless with wrapping adders, fatal with saturating ones).
    acc_bits : int
    max_abs : int
        Largest ``|partial sum|`` seen anywhere during accumulation.
    """

    acc: np.ndarray
    overflowed: int
    transient: int
    acc_bits: int
    max_abs: int

    def __repr__(self):
        return (f"IntMatmulResult(shape={self.acc.shape}, acc_bits={self.acc_bits}, "
                f"overflowed={self.overflowed}, transient={self.transient}, max_abs={self.max_abs})")


def _wrap(a: np.ndarray, bits: int) -> np.ndarray:
    half = np.int64(1) << np.int64(bits - 1)
    return ((a + half) & ((half << np.int64(1)) - np.int64(1))) - half if bits < 64 else a


def int_matmul(a_q, b_q, *, acc_bits: int = 32, on_overflow: str = "report") -> IntMatmulResult:
    """Integer matrix product ``a_q @ b_q`` summed in a signed ``acc_bits``-bit accumulator.

    Introduced in lesson ``11_integer_inference``.

    Parameters
    ----------
    a_q : array_like of int, shape (M, K)
    b_q : array_like of int, shape (K, N)
    acc_bits : int in [2, 62]
        Accumulator width (32 in TFLite, gemmlowp and the TPU v1).
    on_overflow : {'report', 'raise', 'wrap'}
        ``'report'``: return the exact sums and count overflows; ``'raise'``: raise
        ``OverflowError`` if any partial sum leaves the range; ``'wrap'``: return what a
        two's-complement accumulator holds (sums modulo ``2**acc_bits``).

    Returns
    -------
    IntMatmulResult

    Notes
    -----
    Partial sums are tracked in ``k`` order (``sum_{j<=k} a[m, j] b[j, n]``), the order
    a dot-product unit or a systolic column accumulates in. With wrapping adders an
    intermediate overflow cancels out if the final sum fits (modular arithmetic), which is
    why ``transient`` overflows are reported apart from ``overflowed`` ones.

    Examples
    --------
    >>> a = [[127, 127, 127]]; b = [[127], [127], [127]]
    >>> r = int_matmul(a, b, acc_bits=16)
    >>> int(r.acc[0, 0]), r.overflowed
    (48387, 1)
    >>> int(int_matmul(a, b, acc_bits=16, on_overflow="wrap").acc[0, 0])   # 48387 - 65536
    -17149
    """
    a = _as_int_array(a_q, "a_q", ndim=2)
    b = _as_int_array(b_q, "b_q", ndim=2)
    acc_bits = check_int(acc_bits, "acc_bits", 2, 62)
    if on_overflow not in OVERFLOW_MODES:
        raise ValueError(f"on_overflow must be one of {OVERFLOW_MODES}, got {on_overflow!r}")
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"a_q is {a.shape} and b_q is {b.shape}: inner dimensions must match")
    if a.size and b.size:
        bound = float(np.abs(a).max()) * float(np.abs(b).max()) * a.shape[1]
        if bound >= 2.0**62:
            raise ValueError("a_q and b_q are too large for an exact 64-bit reference sum")
    M, K = a.shape
    N = b.shape[1]
    lo, hi = -(2 ** (acc_bits - 1)), 2 ** (acc_bits - 1) - 1
    exact = a @ b if K else np.zeros((M, N), dtype=np.int64)
    any_partial = np.zeros((M, N), dtype=bool)
    max_abs = 0
    # running partial sums in k order, a block of rows at a time to bound memory
    rows = max(1, int(4_000_000 // max(1, K * N)))
    for r0 in range(0, M, rows):
        part = np.cumsum(a[r0:r0 + rows, :, None] * b[None, :, :], axis=1)   # (m, K, N)
        if part.size:
            max_abs = max(max_abs, int(np.abs(part).max()))
            any_partial[r0:r0 + rows] = ((part < lo) | (part > hi)).any(axis=1)
    final_bad = (exact < lo) | (exact > hi)
    overflowed = int(final_bad.sum())
    transient = int((any_partial & ~final_bad).sum())
    if on_overflow == "raise" and (overflowed or transient):
        raise OverflowError(
            f"{overflowed + transient} of {exact.size} outputs overflow a {acc_bits}-bit accumulator "
            f"(largest partial sum {max_abs}, range [{lo}, {hi}]; needs "
            f"{int(max_abs).bit_length() + 1} bits)")
    acc = _wrap(exact, acc_bits) if on_overflow == "wrap" else exact
    return IntMatmulResult(acc=acc, overflowed=overflowed, transient=transient, acc_bits=acc_bits,
                           max_abs=max_abs)


# ---------------------------------------------------------------------------------------------
# zero points and bias
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class ZeroPointTerms:
    """The four terms of ``sum_k (q_a - z_a)(q_b - z_b)`` (Jacob et al. 2018, eq. 7-8).

    Attributes
    ----------
    qq : (M, N) int64
        ``sum_k q_a q_b``: the integer matmul the hardware runs.
    a_term : (M, N) int64
        ``-z_b * sum_k q_a``: needs the row sums of the *activations*, at run time; zero
        when the weights are symmetric (``z_b = 0``).
    b_term : (N,) int64
        ``-z_a * sum_k q_b``: depends on weights only, folded into the bias offline.
    const : (N,) int64
        ``K z_a z_b``: a constant, folded into the bias offline.
    total : (M, N) int64
        The sum of the four: equals ``(q_a - z_a) @ (q_b - z_b)`` exactly.
    """

    qq: np.ndarray
    a_term: np.ndarray
    b_term: np.ndarray
    const: np.ndarray
    total: np.ndarray

    @property
    def runtime_terms(self) -> tuple[str, ...]:
        """Names of the terms that cost work per input at run time."""
        return ("qq",) + (("a_term",) if np.any(self.a_term != 0) else ())


def zero_point_terms(a_q, b_q, a_zero_point=0, b_zero_point=0) -> ZeroPointTerms:
    """Expand ``(q_a - z_a) @ (q_b - z_b)`` into the integer matmul and its cross terms.

    Introduced in lesson ``11_integer_inference``.

    Parameters
    ----------
    a_q : (M, K) int array
        Activation codes.
    b_q : (K, N) int array
        Weight codes (the transpose of ``W_q`` of shape ``(out, in)``).
    a_zero_point : int
        ``z_a``, one zero point for the activations.
    b_zero_point : int or (N,) int array
        ``z_b``, per tensor or per output channel.

    Returns
    -------
    ZeroPointTerms

    Notes
    -----
    .. math::

        \\sum_k (q_a - z_a)(q_b - z_b) = \\sum_k q_a q_b - z_b \\sum_k q_a - z_a \\sum_k q_b + K z_a z_b

    Examples
    --------
    >>> t = zero_point_terms([[3, 5]], [[1], [2]], a_zero_point=1, b_zero_point=2)
    >>> int(t.qq[0, 0]), int(t.a_term[0, 0]), int(t.b_term[0]), int(t.const[0]), int(t.total[0, 0])
    (13, -16, -3, 4, -2)
    """
    a = _as_int_array(a_q, "a_q", ndim=2)
    b = _as_int_array(b_q, "b_q", ndim=2)
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"a_q is {a.shape} and b_q is {b.shape}: inner dimensions must match")
    za = _as_int_array(a_zero_point, "a_zero_point")
    if za.ndim != 0:
        raise ValueError("a_zero_point must be a single integer (one zero point for the activations)")
    zb = _as_int_array(b_zero_point, "b_zero_point")
    N = b.shape[1]
    if zb.ndim not in (0, 1) or (zb.ndim == 1 and zb.shape[0] != N):
        raise ValueError(f"b_zero_point must be an integer or a 1-D array of {N} (one per column)")
    zb = np.broadcast_to(zb, (N,)).astype(np.int64)
    K = a.shape[1]
    qq = a @ b
    a_term = -np.outer(a.sum(axis=1), zb)
    b_term = -int(za) * b.sum(axis=0)
    const = K * int(za) * zb
    return ZeroPointTerms(qq=qq, a_term=a_term, b_term=b_term, const=const,
                          total=qq + a_term + b_term[None, :] + const[None, :])


def quantize_bias(b, a_scale, w_scale) -> np.ndarray:
    """The bias as int32 codes at scale ``s_a * s_w`` (zero point 0), as TFLite stores it.

    Introduced in lesson ``11_integer_inference``.

    Parameters
    ----------
    b : (N,) array_like of float
    a_scale : float
        Activation scale ``s_a``.
    w_scale : float or (N,) array
        Weight scale(s) ``s_w``, per tensor or per output channel.

    Returns
    -------
    numpy.ndarray of int64 (values in the int32 range)

    Notes
    -----
    ``q_b = round(b / (s_a s_w))``: the bias is added straight into the accumulator,
    so it must share the accumulator's scale. Ties are rounded half to even.

    Examples
    --------
    >>> quantize_bias([0.5, -0.25], 0.1, 0.01)
    array([ 500, -250])
    """
    bias = as_finite_array(b, "b")
    if bias.ndim != 1:
        raise ValueError(f"b must be 1-D (one bias per output), got shape {bias.shape}")
    sa = as_finite_array(a_scale, "a_scale")
    sw = as_finite_array(w_scale, "w_scale")
    if sa.ndim != 0 or sa <= 0:
        raise ValueError(f"a_scale must be one finite number > 0, got {a_scale!r}")
    if np.any(sw <= 0) or sw.ndim > 1 or (sw.ndim == 1 and sw.shape != bias.shape):
        raise ValueError(f"w_scale must be > 0, a number or one per output ({bias.shape[0]})")
    q = np.rint(bias / (sa * sw))
    if q.size and (q.min() < INT32_MIN or q.max() > INT32_MAX):
        raise ValueError("the bias does not fit int32 at scale a_scale * w_scale: the scales are too small")
    return q.astype(np.int64)


# ---------------------------------------------------------------------------------------------
# the fixed-point multiplier (TFLite QuantizeMultiplier + gemmlowp)
# ---------------------------------------------------------------------------------------------
def _round_half_away(x: float) -> int:
    """C's ``std::round``: half away from zero (TfLiteRound)."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def _quantize_multiplier_scalar(m: float) -> tuple[int, int]:
    if m == 0.0:
        return 0, 0
    q, shift = math.frexp(m)              # m = q * 2**shift, q in [0.5, 1)
    q_fixed = _round_half_away(q * 2.0**31)
    if q_fixed == 2**31:                  # rounding carried into bit 31: renormalise
        q_fixed //= 2
        shift += 1
    if shift < -31:                       # TFLite flushes multipliers below ~2**-32 to zero
        return 0, 0
    return q_fixed, shift


def quantize_multiplier(real_multiplier):
    """A real rescale factor as a Q31 integer ``m0`` and a power-of-two ``shift`` (TFLite QuantizeMultiplier).

    Introduced in lesson ``11_integer_inference``.

    Parameters
    ----------
    real_multiplier : float >= 0, or 1-D array of them (per channel)
        Usually ``M = s_x s_w / s_y``; must be below ``2**31``.

    Returns
    -------
    (m0, shift) : (int, int), or two int64 arrays for an array input
        ``m0`` in ``[2**30, 2**31)`` (or 0 for a zero multiplier) with
        ``real_multiplier ~= m0 * 2**(shift - 31)``; ``shift > 0`` is a left shift.

    Notes
    -----
    ``frexp`` gives ``M = q 2^shift`` with ``q in [0.5, 1)``; ``m0 = round(q 2^31)``,
    rounding half away from zero (``std::round``). When ``q`` is within ``2^-32`` of 1
    the rounding gives ``2^31``, which does not fit int32: TFLite then halves ``m0`` and
    increments ``shift``. Multipliers whose shift would be below -31 are flushed to
    ``(0, 0)``. The relative error of the representation is at most ``2^-31``.

    Examples
    --------
    >>> quantize_multiplier(0.5)
    (1073741824, 0)
    >>> m0, shift = quantize_multiplier(0.0123)      # 0.0123 = 0.7872 * 2**-6
    >>> shift, m0 == round(0.7872 * 2**31)
    (-6, True)
    >>> quantize_multiplier(1 - 2**-33)     # rounds to 2**31: the edge case
    (1073741824, 1)
    """
    arr = as_finite_array(real_multiplier, "real_multiplier", allow_empty=False)
    if np.any(arr < 0):
        raise ValueError(f"real_multiplier must be >= 0 (a ratio of scales), got {real_multiplier!r}")
    if np.any(arr >= 2.0**31):
        raise ValueError("real_multiplier must be < 2**31 (its shift would exceed 31)")
    if arr.ndim == 0:
        return _quantize_multiplier_scalar(float(arr))
    if arr.ndim != 1:
        raise ValueError(f"real_multiplier must be a number or a 1-D array, got shape {arr.shape}")
    pairs = [_quantize_multiplier_scalar(float(v)) for v in arr]
    return (np.array([p[0] for p in pairs], dtype=np.int64), np.array([p[1] for p in pairs], dtype=np.int64))


def saturating_rounding_doubling_high_mul(a, b) -> np.ndarray:
    """gemmlowp's ``SaturatingRoundingDoublingHighMul`` (ARM ``VQRDMULH``), vectorised over int64 arrays.

    Introduced in lesson ``11_integer_inference``.

    Returns ``round(a * b / 2**31)`` for int32 ``a`` and ``b``, ties toward +infinity
    (``+0.5 -> 1``, ``-0.5 -> 0``), saturating the single overflow case ``INT32_MIN * INT32_MIN`` to ``INT32_MAX``.

    Notes
    -----
    ``nudge = 2^30`` if ``ab >= 0`` else ``1 - 2^30``; result ``= trunc((ab + nudge) / 2^31)``
    with C's truncating division.

    Examples
    --------
    >>> saturating_rounding_doubling_high_mul([2**30, -2**31, 2**15, -2**15], [2**30, -2**31, 2**15, 2**15]).tolist()
    [536870912, 2147483647, 1, 0]
    """
    a = _as_int_array(a, "a")
    b = _as_int_array(b, "b")
    _check_int32(a, "a")
    _check_int32(b, "b")
    a, b = np.broadcast_arrays(a, b)
    overflow = (a == b) & (a == INT32_MIN)
    ab = a * b                                         # |ab| <= 2**62: exact in int64
    t = ab + np.where(ab >= 0, np.int64(1 << 30), np.int64(1 - (1 << 30)))
    q = np.where(t >= 0, t >> 31, -((-t) >> 31))       # C division truncates toward zero
    return np.where(overflow, np.int64(INT32_MAX), q)


def rounding_divide_by_pot(x, exponent) -> np.ndarray:
    """gemmlowp's ``RoundingDivideByPOT``: ``x / 2**exponent`` rounded to nearest, ties away from zero.

    Introduced in lesson ``11_integer_inference``.

    Parameters
    ----------
    x : int32 values (int array)
    exponent : int or int array in [0, 31]

    Notes
    -----
    ``mask = 2^e - 1``, ``remainder = x & mask``, ``threshold = (mask >> 1) + [x < 0]``,
    result ``= (x >> e) + [remainder > threshold]`` (arithmetic shift).

    Examples
    --------
    >>> rounding_divide_by_pot([5, -5, 6, -6, 7], 1).tolist()    # 2.5, -2.5, 3, -3, 3.5
    [3, -3, 3, -3, 4]
    """
    x = _as_int_array(x, "x")
    _check_int32(x, "x")
    e = _as_int_array(exponent, "exponent")
    if e.size and (e.min() < 0 or e.max() > 31):
        raise ValueError(f"exponent must be in [0, 31], got {exponent!r}")
    x, e = np.broadcast_arrays(x, e)
    mask = (np.int64(1) << e) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> e) + (remainder > threshold)


def multiply_by_quantized_multiplier(acc, m0, shift) -> np.ndarray:
    """``acc * m0 * 2**(shift - 31)`` in integers, bit-exact with TFLite's ``MultiplyByQuantizedMultiplier``.

    Introduced in lesson ``11_integer_inference``.

    Parameters
    ----------
    acc : int array (int32 values)
        Accumulators.
    m0 : int or int array (int32 values)
        Q31 multiplier from :func:`quantize_multiplier`; arrays broadcast against ``acc``
        (per channel: one per column of ``acc``).
    shift : int or int array in [-31, 31]
        ``shift > 0`` shifts left before the multiply, ``shift < 0`` divides after it.

    Returns
    -------
    numpy.ndarray of int64 (int32 values)

    Notes
    -----
    ``RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(acc * 2^left, m0), right)`` with
    ``left = max(shift, 0)``, ``right = max(-shift, 0)``: two roundings (double rounding),
    both to nearest; the first breaks ties toward +infinity, the second away from zero.
    The left shift is done before the multiply; if ``acc * 2^left`` leaves int32 the C++
    code has undefined behaviour, so this raises.

    Examples
    --------
    >>> m0, shift = quantize_multiplier(0.25)
    >>> multiply_by_quantized_multiplier([100, -100, 2, -2, 6], m0, shift).tolist()
    [25, -25, 1, -1, 2]
    """
    x = _as_int_array(acc, "acc")
    _check_int32(x, "acc")
    m = _as_int_array(m0, "m0")
    _check_int32(m, "m0")
    s = _as_int_array(shift, "shift")
    if s.size and (s.min() < -31 or s.max() > 31):
        raise ValueError(f"shift must be in [-31, 31], got {shift!r}")
    left = np.maximum(s, 0)
    right = np.maximum(-s, 0)
    xl = x * (np.int64(1) << left)
    if xl.size and (xl.min() < INT32_MIN or xl.max() > INT32_MAX):
        raise ValueError("acc * 2**shift leaves int32 (undefined behaviour in the reference): "
                         "the multiplier is too large for these accumulators")
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(xl, m), right)


def requantize(acc, m0, shift, zero_point: int, qmin: int = -128, qmax: int = 127) -> np.ndarray:
    """Accumulators to output codes: ``clip(MultiplyByQuantizedMultiplier(acc) + zero_point, qmin, qmax)``.

    Introduced in lesson ``11_integer_inference``.

    Parameters
    ----------
    acc : int array (int32 values), shape (..., N)
    m0, shift : int or (N,) int arrays
        Per-tensor or per-channel (last axis) multipliers from :func:`quantize_multiplier`.
    zero_point : int
        Output zero point ``z_y``.
    qmin, qmax : int
        Output code range; a fused ReLU raises ``qmin`` to ``zero_point``.

    Returns
    -------
    numpy.ndarray of int64

    Examples
    --------
    >>> m0, shift = quantize_multiplier(0.01)
    >>> requantize([1000, 5000, 20000, -3000], m0, shift, zero_point=-10).tolist()
    [0, 40, 127, -40]
    """
    zp = check_int(int(zero_point) if isinstance(zero_point, np.integer) else zero_point,
                   "zero_point", INT32_MIN, INT32_MAX)
    qmin = check_int(int(qmin) if isinstance(qmin, np.integer) else qmin, "qmin", INT32_MIN, INT32_MAX)
    qmax = check_int(int(qmax) if isinstance(qmax, np.integer) else qmax, "qmax", INT32_MIN, INT32_MAX)
    if qmin >= qmax:
        raise ValueError(f"qmin must be < qmax, got qmin={qmin}, qmax={qmax}")
    y = multiply_by_quantized_multiplier(acc, m0, shift) + zp
    return np.clip(y, qmin, qmax)


def quantized_linear(X_q, W_q, bias_q=None, *, x_zero_point: int = 0, w_zero_point=0,
                     m0, shift, y_zero_point: int = 0, qmin: int = -128, qmax: int = 127,
                     acc_bits: int = 32, on_overflow: str = "raise") -> np.ndarray:
    """A whole dense layer in integers: int8 in, int32 accumulate, fixed-point rescale, int8 out.

    Introduced in lesson ``11_integer_inference``.

    Parameters
    ----------
    X_q : (batch, in) int array
        Input codes with zero point ``x_zero_point``.
    W_q : (out, in) int array
        Weight codes with zero point ``w_zero_point`` (int, or one per output channel).
    bias_q : (out,) int array, optional
        Bias codes at scale ``s_x s_w`` (:func:`quantize_bias`).
    m0, shift : int or (out,) int arrays
        The multiplier ``s_x s_w / s_y`` from :func:`quantize_multiplier` (per channel: one each).
    y_zero_point, qmin, qmax : int
        Output zero point and code range (fused ReLU: ``qmin = y_zero_point``).
    acc_bits, on_overflow
        Accumulator width and policy, see :func:`int_matmul`.

    Returns
    -------
    numpy.ndarray of int64, shape (batch, out)

    Notes
    -----
    ``acc = sum_k (q_x - z_x)(q_w - z_w) + q_b`` computed as the integer matmul plus the
    zero-point terms of :func:`zero_point_terms`; then :func:`requantize`.

    Examples
    --------
    >>> X = [[10, 20]]; W = [[1, 2], [3, -4]]
    >>> m0, shift = quantize_multiplier(0.5)
    >>> quantized_linear(X, W, [0, 10], m0=m0, shift=shift).tolist()     # 50 / 2, (-50 + 10) / 2
    [[25, -20]]
    """
    X = _as_int_array(X_q, "X_q", ndim=2)
    W = _as_int_array(W_q, "W_q", ndim=2)
    if X.shape[1] != W.shape[1]:
        raise ValueError(f"X_q is {X.shape} and W_q is {W.shape}: X_q needs {W.shape[1]} columns (in_features)")
    res = int_matmul(X, W.T, acc_bits=acc_bits, on_overflow=on_overflow)
    terms = zero_point_terms(X, W.T, x_zero_point, w_zero_point)
    acc = res.acc - terms.qq + terms.total        # the qq part as the (checked) accumulator holds it
    if bias_q is not None:
        bq = _as_int_array(bias_q, "bias_q", ndim=1)
        if bq.shape[0] != W.shape[0]:
            raise ValueError(f"bias_q must have {W.shape[0]} entries (one per output), got {bq.shape[0]}")
        _check_int32(bq, "bias_q")
        acc = acc + bq
    if on_overflow == "wrap":
        acc = _wrap(acc, acc_bits)
    _check_int32(acc, "the accumulator (after zero-point terms and bias)")
    return requantize(acc, m0, shift, y_zero_point, qmin, qmax)


def real_requantize(acc, real_multiplier, zero_point: int, qmin: int = -128, qmax: int = 127) -> np.ndarray:
    """Float reference of :func:`requantize`: ``clip(round(acc * M) + zero_point, qmin, qmax)`` in float64.

    Introduced in lesson ``11_integer_inference``. The integer path differs from it by at
    most one code (the multiplier's 31-bit precision and the double rounding).

    Examples
    --------
    >>> real_requantize([1000, 5000, 20000, -3000], 0.01, zero_point=-10).tolist()
    [0, 40, 127, -40]
    """
    a = _as_int_array(acc, "acc").astype(np.float64)
    m = as_finite_array(real_multiplier, "real_multiplier")
    return np.clip(np.floor(a * m + 0.5) + int(zero_point), qmin, qmax).astype(np.int64)


def rescale_op_counts(batch: int, out_features: int, in_features: int, *, per_channel: bool = False,
                      weight_zero_point: bool = False, input_zero_point: bool = True) -> dict:
    """Integer operations a dense layer spends outside its int8 MACs, per inference batch.

    Introduced in lesson ``11_integer_inference``: where the extra cost of per-channel and
    asymmetric schemes comes from.

    Parameters
    ----------
    batch, out_features, in_features : int >= 1
    per_channel : bool
        One multiplier per output channel instead of one per tensor.
    weight_zero_point : bool
        Asymmetric weights (``z_w != 0``): the activation row sums are needed at run time.
    input_zero_point : bool
        Asymmetric activations (``z_x != 0``): a weight column-sum term, folded into the
        bias offline (no run-time cost).

    Returns
    -------
    dict
        ``macs`` (int8 multiply-accumulates), ``requant_muls`` (32x32->64-bit multiplies),
        ``requant_shifts_adds`` (rounding shift, zero-point add, two clamps),
        ``row_sum_adds`` and ``row_sum_muls`` (the ``z_w`` term), ``multiplier_params``
        (``(m0, shift)`` pairs to store and load) and ``overhead_fraction``: the non-MAC
        integer ops per MAC.

    Notes
    -----
    Per-channel *symmetric* weights change only which multiplier each column uses: the same
    number of operations, ``N`` parameters instead of one. Asymmetric weights add
    ``batch * in`` additions and ``batch * out`` multiplies (the ``-z_w sum_k q_x`` term).

    Examples
    --------
    >>> c = rescale_op_counts(1, 256, 256)
    >>> c["macs"], c["requant_muls"], c["multiplier_params"]
    (65536, 256, 1)
    >>> rescale_op_counts(1, 256, 256, per_channel=True)["multiplier_params"]
    256
    """
    B = check_int(batch, "batch", 1, 2**40)
    N = check_int(out_features, "out_features", 1, 2**40)
    K = check_int(in_features, "in_features", 1, 2**40)
    macs = B * N * K
    muls = B * N
    shifts_adds = 4 * B * N
    row_adds = B * K if weight_zero_point else 0
    row_muls = B * N if weight_zero_point else 0
    overhead = muls + shifts_adds + row_adds + row_muls + (B * N if weight_zero_point else 0)
    return {
        "macs": macs,
        "requant_muls": muls,
        "requant_shifts_adds": shifts_adds,
        "row_sum_adds": row_adds,
        "row_sum_muls": row_muls,
        "multiplier_params": N if per_channel else 1,
        "overhead_fraction": overhead / macs,
        "input_zero_point_folded": bool(input_zero_point),
    }



# ---------------------------------------------------------------------------------------------
# whole layers and a whole MLP in integers
# ---------------------------------------------------------------------------------------------
def _check_act_qp(qp, name):
    from qlearn.ranges.affine import QParams
    if not isinstance(qp, QParams):
        raise TypeError(f"{name} must be a QParams (e.g. qlearn.ranges.affine.minmax_qparams), got {type(qp).__name__}")
    if qp.per_channel:
        raise ValueError(f"{name} must be per-tensor: one scale and zero point for the activations")
    if qp.qmin < -128 or qp.qmax > 255:
        raise ValueError(f"{name} must describe 8-bit codes (qmin >= -128, qmax <= 255), got [{qp.qmin}, {qp.qmax}]")
    return qp


@dataclass(frozen=True, eq=False)
class IntegerLayer:
    """A dense layer ready for integer-only inference (built by :func:`integer_layer`).

    Attributes
    ----------
    W_q : (out, in) int64 weight codes; ``w_qp`` their QParams (per tensor or per output channel)
    b_q : (out,) int32 bias codes at scale ``s_x s_w``
    x_qp, y_qp : per-tensor QParams of the input and output activations
    real_multiplier : float or (out,) array, ``s_x s_w / s_y``
    m0, shift : its fixed-point form (:func:`quantize_multiplier`)
    relu : bool, a fused ReLU (the output clamp starts at ``y_qp.zero_point``)
    """

    W_q: np.ndarray
    b_q: np.ndarray
    w_qp: object
    x_qp: object
    y_qp: object
    real_multiplier: object
    m0: object
    shift: object
    relu: bool

    @property
    def qmin(self) -> int:
        return max(self.y_qp.qmin, self.y_qp.zero_point) if self.relu else self.y_qp.qmin

    @property
    def per_channel(self) -> bool:
        return np.ndim(self.m0) == 1

    def accumulators(self, X_q) -> np.ndarray:
        """The int32 accumulators ``sum_k (q_x - z_x)(q_w - z_w) + q_b`` (exact)."""
        X = _as_int_array(X_q, "X_q", ndim=2)
        zw = np.broadcast_to(np.asarray(self.w_qp.zero_point), (self.W_q.shape[0],))
        return (X - self.x_qp.zero_point) @ (self.W_q - zw[:, None]).T + self.b_q

    def __call__(self, X_q, *, acc_bits: int = 32, on_overflow: str = "raise") -> np.ndarray:
        """Output codes, computed in integers only (:func:`quantized_linear`)."""
        return quantized_linear(X_q, self.W_q, self.b_q, x_zero_point=self.x_qp.zero_point,
                                w_zero_point=self.w_qp.zero_point, m0=self.m0, shift=self.shift,
                                y_zero_point=self.y_qp.zero_point, qmin=self.qmin, qmax=self.y_qp.qmax,
                                acc_bits=acc_bits, on_overflow=on_overflow)

    def reference(self, X_q) -> np.ndarray:
        """The same codes with the real multiplier in float64 (:func:`real_requantize`)."""
        return real_requantize(self.accumulators(X_q), self.real_multiplier, self.y_qp.zero_point,
                               self.qmin, self.y_qp.qmax)


def integer_layer(W, b, *, x_qp, y_qp, per_channel: bool = False, symmetric_weights: bool = True,
                  relu: bool = False) -> IntegerLayer:
    """Quantize a float dense layer ``W (out, in)``, ``b (out,)`` for integer-only inference.

    Introduced in lesson ``11_integer_inference``.

    Parameters
    ----------
    W, b : float arrays
    x_qp, y_qp : QParams
        Per-tensor 8-bit parameters of the layer's input and output (from calibration).
    per_channel : bool
        One weight scale (and so one multiplier) per output channel.
    symmetric_weights : bool
        TFLite's choice: symmetric narrow-range int8 weights, ``z_w = 0``. False gives
        asymmetric min/max weights with zero points, and a run-time row-sum term.
    relu : bool
        Fuse a ReLU into the output clamp.

    Returns
    -------
    IntegerLayer

    Examples
    --------
    >>> from qlearn.ranges.affine import compute_qparams
    >>> W = np.array([[0.5, -0.25], [0.1, 0.2]]); b = np.array([0.1, -0.05])
    >>> layer = integer_layer(W, b, x_qp=compute_qparams(-1, 1), y_qp=compute_qparams(-1, 1))
    >>> layer.W_q.tolist(), layer.b_q.tolist()     # b_q = round(0.1 / (2/255 * 0.5/127)) = round(3238.5)
    ([[127, -64], [25, 51]], [3238, -1619])
    >>> X_q = np.array([[127, -128]])
    >>> layer(X_q).tolist(), layer.reference(X_q).tolist()   # 0.851 and -0.154 at s_y = 2/255
    ([[109, -20]], [[109, -20]])
    """
    from qlearn.ranges import affine
    W = as_finite_array(W, "W", allow_empty=False)
    b = as_finite_array(b, "b")
    if W.ndim != 2 or b.shape != (W.shape[0],):
        raise ValueError(f"W must be (out, in) and b (out,), got {W.shape} and {b.shape}")
    x_qp = _check_act_qp(x_qp, "x_qp")
    y_qp = _check_act_qp(y_qp, "y_qp")
    w_qp = affine.minmax_qparams(W, bits=8, symmetric=symmetric_weights, narrow_range=symmetric_weights,
                                 axis=0 if per_channel else None)
    W_q = affine.quantize(W, w_qp)
    sw = np.broadcast_to(np.asarray(w_qp.scale, dtype=np.float64), (W.shape[0],))
    b_q = quantize_bias(b, x_qp.scale, sw)
    M = x_qp.scale * sw / y_qp.scale
    M = M if per_channel else float(M[0])
    m0, shift = quantize_multiplier(M)
    return IntegerLayer(W_q=W_q, b_q=b_q, w_qp=w_qp, x_qp=x_qp, y_qp=y_qp, real_multiplier=M, m0=m0, shift=shift,
                        relu=bool(relu))


class IntegerMLP:
    """An MLP whose every layer runs in integers: int8 in, int8 between layers, int8 logits."""

    def __init__(self, layers):
        self.layers = list(layers)

    def quantize_input(self, X) -> np.ndarray:
        from qlearn.ranges import affine
        return affine.quantize(X, self.layers[0].x_qp)

    def forward_codes(self, X) -> np.ndarray:
        """The output codes of the last layer, every step in integer arithmetic after the input quantizer."""
        q = self.quantize_input(X)
        for layer in self.layers:
            q = layer(q)
        return q

    def predict(self, X) -> np.ndarray:
        return np.argmax(self.forward_codes(X), axis=1)

    def accuracy(self, X, y) -> float:
        return float(np.mean(self.predict(X) == np.asarray(y)))


def integer_mlp(model, calib_data, *, per_channel: bool = False, symmetric_weights: bool = True) -> IntegerMLP:
    """Convert a float :class:`qlearn.networks.nn.MLP` for integer-only inference, calibrating on ``calib_data``.

    Introduced in lesson ``11_integer_inference``. Activations are asymmetric int8 with
    min/max ranges observed on ``calib_data`` (each layer's output range sets the next
    layer's input parameters, and the logits get their own); ReLUs are fused into the clamps.

    Examples
    --------
    >>> from qlearn.networks import nn, data
    >>> d = data.load_digits()
    >>> imlp = integer_mlp(nn.pretrained(), d.X_calib)
    >>> imlp.accuracy(d.X_test, d.y_test) > 0.95
    True
    """
    from qlearn.ranges import affine
    C = as_finite_array(calib_data, "calib_data", allow_empty=False)
    logits, acts = model.forward(C, return_activations=True)
    outs = acts[1:] + [logits]
    layers = []
    last = len(model.layers) - 1
    for i, layer in enumerate(model.layers):
        x_qp = affine.minmax_qparams(acts[i], bits=8) if i == 0 else layers[-1].y_qp
        y_qp = affine.minmax_qparams(outs[i], bits=8)
        layers.append(integer_layer(layer.W, layer.b, x_qp=x_qp, y_qp=y_qp, per_channel=per_channel,
                                    symmetric_weights=symmetric_weights, relu=i < last))
    return IntegerMLP(layers)

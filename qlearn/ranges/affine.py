"""Uniform affine quantization: a real range mapped onto an integer grid.

Introduced in lesson ``03_scale_zero_point``; the vocabulary (``bits``, ``signed``,
``narrow_range``, ``scale``, ``zero_point``, ``qmin``/``qmax``, ``axis``) follows
Jacob et al. (CVPR 2018) and the TFLite / PyTorch quantization specs.

The map is ``q = clip(round(x / scale) + zero_point, qmin, qmax)`` and back
``x_hat = scale * (q - zero_point)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qlearn._validate import as_finite_array, check_axis, check_int
from qlearn.numbers.rounding import check_mode, round_

MIN_BITS, MAX_BITS = 1, 32


def qrange(bits: int = 8, *, signed: bool = True, narrow_range: bool = False) -> tuple[int, int]:
    """The integer range ``(qmin, qmax)`` of a ``bits``-bit code.

    ``narrow_range`` drops the most negative code (signed: -127..127 instead of
    -128..127, so the grid is symmetric; unsigned: 1..255).

    Examples
    --------
    >>> qrange(8)
    (-128, 127)
    >>> qrange(8, narrow_range=True)
    (-127, 127)
    >>> qrange(4, signed=False)
    (0, 15)
    """
    bits = check_int(bits, "bits", MIN_BITS, MAX_BITS)
    if signed:
        qmin, qmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    else:
        qmin, qmax = 0, 2**bits - 1
    if narrow_range:
        qmin += 1
    if qmin >= qmax:
        raise ValueError(
            f"bits={bits} with signed={signed}, narrow_range={narrow_range} leaves "
            f"qmin={qmin} >= qmax={qmax}: use more bits or narrow_range=False"
        )
    return qmin, qmax


@dataclass(frozen=True, eq=False)
class QParams:
    """Quantization parameters: ``scale``, ``zero_point`` and the integer range.

    Per-tensor when ``axis`` is None (scalars); per-channel when ``axis`` is the
    channel axis of the tensor being quantized (1-D arrays, one entry a channel).
    """

    scale: float | np.ndarray
    zero_point: int | np.ndarray
    qmin: int
    qmax: int
    axis: int | None = None

    def __post_init__(self):
        scale = np.asarray(self.scale, dtype=np.float64)
        zp = np.asarray(self.zero_point)
        if scale.size == 0 or not np.all(np.isfinite(scale)) or np.any(scale <= 0):
            raise ValueError(f"scale must be finite and > 0, got {self.scale!r}")
        if not np.all(np.asarray(zp, dtype=np.float64) == np.round(np.asarray(zp, dtype=np.float64))):
            raise ValueError(f"zero_point must be an integer, got {self.zero_point!r}")
        qmin, qmax = int(self.qmin), int(self.qmax)
        if qmin >= qmax:
            raise ValueError(f"qmin must be < qmax, got qmin={qmin}, qmax={qmax}")
        if np.any(zp < qmin) or np.any(zp > qmax):
            raise ValueError(f"zero_point {self.zero_point!r} must lie in [qmin, qmax] = [{qmin}, {qmax}]")
        if self.axis is None:
            if scale.ndim != 0 or zp.ndim != 0:
                raise ValueError("per-tensor QParams need scalar scale and zero_point; pass axis= for per-channel")
            object.__setattr__(self, "scale", float(scale))
            object.__setattr__(self, "zero_point", int(zp))
        else:
            if isinstance(self.axis, bool) or not isinstance(self.axis, (int, np.integer)):
                raise TypeError(f"axis must be an integer or None, got {self.axis!r}")
            zp = np.broadcast_to(zp, scale.shape) if zp.ndim == 0 else zp
            if scale.ndim != 1 or zp.shape != scale.shape:
                raise ValueError(
                    "per-channel scale and zero_point must be 1-D of equal length, "
                    f"got shapes {scale.shape} and {zp.shape}"
                )
            object.__setattr__(self, "scale", scale.copy())
            object.__setattr__(self, "zero_point", zp.astype(np.int64))
            object.__setattr__(self, "axis", int(self.axis))
        object.__setattr__(self, "qmin", qmin)
        object.__setattr__(self, "qmax", qmax)

    @property
    def per_channel(self) -> bool:
        return self.axis is not None

    @property
    def bits(self) -> int:
        """Bits needed to hold every code in ``[qmin, qmax]``."""
        return int(np.ceil(np.log2(self.qmax - self.qmin + 1)))

    @property
    def range(self) -> tuple:
        """The real values of ``qmin`` and ``qmax``: the representable range."""
        return (self.scale * (self.qmin - np.asarray(self.zero_point)),
                self.scale * (self.qmax - np.asarray(self.zero_point)))

    def _broadcast(self, ndim: int, shape: tuple):
        """Scale and zero point shaped to broadcast against an array of ``shape``."""
        if self.axis is None:
            return self.scale, self.zero_point
        axis = check_axis(self.axis, ndim)
        if shape[axis] != self.scale.size:
            raise ValueError(
                f"axis={self.axis} has {shape[axis]} channels but QParams has {self.scale.size} scales"
            )
        view = [1] * ndim
        view[axis] = -1
        return self.scale.reshape(view), self.zero_point.reshape(view)

    def __str__(self):
        """A sentence for learners (``print(qp)``); ``repr`` keeps the constructor-like form."""
        if self.axis is None:
            return (f"scale {self.scale:.6g}, zero point {self.zero_point}, "
                    f"integer codes {self.qmin} to {self.qmax}")
        zp = np.unique(np.asarray(self.zero_point))
        zps = f"zero point {zp[0]}" if zp.size == 1 else f"zero points {zp.min()} to {zp.max()}"
        return (f"one scale per channel (axis {self.axis}, {self.scale.size} channels): scales "
                f"{self.scale.min():.4g} to {self.scale.max():.4g}, {zps}, integer codes {self.qmin} to {self.qmax}")

    def __repr__(self):
        if self.axis is None:
            return (f"QParams(scale={self.scale:.6g}, zero_point={self.zero_point}, "
                    f"qmin={self.qmin}, qmax={self.qmax})")
        return (f"QParams(per-channel axis={self.axis}, {self.scale.size} channels, "
                f"scale in [{self.scale.min():.4g}, {self.scale.max():.4g}], "
                f"qmin={self.qmin}, qmax={self.qmax})")


def compute_qparams(x_min, x_max, *, bits: int = 8, symmetric: bool = False, signed: bool = True,
                    narrow_range: bool = False, axis: int | None = None) -> QParams:
    """Scale and zero point that map the real range ``[x_min, x_max]`` onto ``bits``-bit codes.

    Parameters
    ----------
    x_min, x_max : float or 1-D array_like
        The observed range (arrays, one entry per channel, when ``axis`` is given).
    bits : int in [1, 32]
    symmetric : bool
        ``zero_point = 0`` and ``scale = max(|x_min|, |x_max|) / qmax``.
    signed : bool
        Signed codes (``-2**(bits-1)..``) or unsigned (``0..2**bits - 1``).
    narrow_range : bool
        Drop the most negative code (-127..127 for int8).
    axis : int, optional
        The channel axis of the tensor these parameters will quantize.

    Returns
    -------
    QParams

    Notes
    -----
    The range is first widened to contain 0, ``lo = min(x_min, 0)``,
    ``hi = max(x_max, 0)``, so that 0.0 (padding, ReLU zeros) is exactly
    representable. Asymmetric: ``scale = (hi - lo) / (qmax - qmin)``,
    ``zero_point = clip(round(qmin - lo / scale), qmin, qmax)``.
    A range that is all zeros has nothing to resolve: it gets ``scale = 1.0``
    (any positive scale represents 0 exactly) rather than a division by zero.

    Examples
    --------
    >>> compute_qparams(-1.0, 3.0, bits=8, signed=False)
    QParams(scale=0.0156863, zero_point=64, qmin=0, qmax=255)
    >>> compute_qparams(-1.0, 3.0, bits=8, symmetric=True)
    QParams(scale=0.023622, zero_point=0, qmin=-128, qmax=127)
    """
    qmin, qmax = qrange(bits, signed=signed, narrow_range=narrow_range)
    lo = as_finite_array(x_min, "x_min", allow_empty=False)
    hi = as_finite_array(x_max, "x_max", allow_empty=False)
    if lo.shape != hi.shape:
        raise ValueError(f"x_min and x_max must have the same shape, got {lo.shape} and {hi.shape}")
    if np.any(lo > hi):
        raise ValueError("x_min must be <= x_max (for every channel)")
    if axis is None:
        if lo.ndim != 0:
            raise ValueError("x_min/x_max are arrays: pass axis= for per-channel parameters, or reduce them first")
    else:
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"axis must be an integer or None, got {axis!r}")
        lo, hi = np.atleast_1d(lo), np.atleast_1d(hi)
        if lo.ndim != 1:
            raise ValueError(f"per-channel x_min/x_max must be 1-D, got shape {lo.shape}")
    lo = np.minimum(lo, 0.0)
    hi = np.maximum(hi, 0.0)
    if symmetric:
        if signed and qmax < 1:
            raise ValueError(f"symmetric signed quantization needs bits >= 2, got bits={bits}")
        amax = np.maximum(-lo, hi)
        scale = amax / qmax
        zero_point = np.zeros_like(scale, dtype=np.int64)
        if not signed:
            zero_point = zero_point + qmin
            scale = amax / (qmax - qmin)
    else:
        scale = (hi - lo) / (qmax - qmin)
    scale = np.where(scale > 0, scale, 1.0)
    if not symmetric:
        zero_point = np.clip(np.rint(qmin - lo / scale), qmin, qmax).astype(np.int64)
    if axis is None:
        return QParams(float(scale), int(zero_point), qmin, qmax)
    return QParams(scale, zero_point, qmin, qmax, axis=axis)


def minmax_qparams(x, *, bits: int = 8, symmetric: bool = False, signed: bool = True,
                   narrow_range: bool = False, axis: int | None = None) -> QParams:
    """:func:`compute_qparams` from the min and max of data ``x`` (per channel along ``axis``).

    Examples
    --------
    >>> minmax_qparams([[0.5, -1.0], [2.0, 0.1]], bits=8, symmetric=True, axis=0).scale
    array([0.00787402, 0.01574803])
    """
    a = as_finite_array(x, "x", allow_empty=False)
    if axis is None:
        lo, hi = a.min(), a.max()
    else:
        ax = check_axis(axis, a.ndim)
        others = tuple(i for i in range(a.ndim) if i != ax)
        lo, hi = a.min(axis=others), a.max(axis=others)
        if a.ndim == 1:
            lo, hi = a.copy(), a.copy()
    return compute_qparams(lo, hi, bits=bits, symmetric=symmetric, signed=signed,
                           narrow_range=narrow_range, axis=axis)


def _check_qparams(qp) -> QParams:
    if not isinstance(qp, QParams):
        raise TypeError(f"qp must be a QParams (see compute_qparams), got {type(qp).__name__}")
    return qp


def quantize(x, qp: QParams, *, rounding: str = "half_even", rng=None) -> np.ndarray:
    """Integer codes ``clip(round(x / scale) + zero_point, qmin, qmax)`` as int64.

    Examples
    --------
    >>> qp = compute_qparams(-1.0, 1.0, bits=4, symmetric=True)
    >>> quantize([-2.0, -0.5, 0.0, 0.5, 2.0], qp)
    array([-8, -4,  0,  4,  7])
    """
    qp = _check_qparams(qp)
    check_mode(rounding)
    a = as_finite_array(x, "x")
    scale, zp = qp._broadcast(a.ndim, a.shape)
    q = round_(a / scale, rounding, rng=rng) + zp
    return np.clip(q, qp.qmin, qp.qmax).astype(np.int64)


def dequantize(q, qp: QParams) -> np.ndarray:
    """Real values ``scale * (q - zero_point)`` of integer codes ``q``.

    Examples
    --------
    >>> qp = QParams(0.5, 2, 0, 15)
    >>> dequantize([0, 2, 15], qp)
    array([-1. ,  0. ,  6.5])
    """
    qp = _check_qparams(qp)
    qa = np.asarray(q)
    if qa.dtype.kind not in "iu":
        qf = as_finite_array(qa, "q")
        if np.any(qf != np.round(qf)):
            raise TypeError("q must hold integer codes")
        qa = qf.astype(np.int64)
    if qa.size and (qa.min() < qp.qmin or qa.max() > qp.qmax):
        raise ValueError(f"q has codes outside [qmin, qmax] = [{qp.qmin}, {qp.qmax}]")
    scale, zp = qp._broadcast(qa.ndim, qa.shape)
    return scale * (qa.astype(np.float64) - zp)


def fake_quantize(x, qp: QParams, *, rounding: str = "half_even", rng=None) -> np.ndarray:
    """``dequantize(quantize(x))``: the float values the integer grid can represent.

    Examples
    --------
    >>> qp = compute_qparams(0.0, 1.0, bits=2, signed=False)
    >>> fake_quantize([0.1, 0.2, 0.5, 0.9, 1.5], qp)
    array([0.        , 0.33333333, 0.66666667, 1.        , 1.        ])
    """
    return dequantize(quantize(x, qp, rounding=rounding, rng=rng), qp)


def staircase_vertices(x_min: float, x_max: float, qp: QParams) -> tuple[np.ndarray, np.ndarray]:
    """The exact graph of ``fake_quantize`` over ``[x_min, x_max]`` as polyline vertices.

    Between two jumps the output is constant, so the graph is fully described by the jumps:
    each jump (halfway between two neighbouring levels) gives two vertices at the same ``x``, the
    level before and the level after. Joining the vertices with straight lines draws the staircase
    exactly (risers vertical) with at most ``2 * (qmax - qmin) + 2`` points, and ``x_hat - x``
    over the same vertices draws the error saw-tooth exactly. Per-tensor parameters only.

    Returns
    -------
    (x, x_hat) : two float64 arrays of equal length, ``x`` non-decreasing from x_min to x_max.

    Examples
    --------
    >>> qp = compute_qparams(0.0, 1.0, bits=1, signed=False)
    >>> staircase_vertices(-1.0, 2.0, qp)
    (array([-1. ,  0.5,  0.5,  2. ]), array([0., 0., 1., 1.]))
    """
    qp = _check_qparams(qp)
    if qp.axis is not None:
        raise ValueError("staircase_vertices needs per-tensor parameters (axis=None)")
    lo_x, hi_x = (float(v) for v in as_finite_array([x_min, x_max], "x_min/x_max"))
    if not lo_x < hi_x:
        raise ValueError(f"x_min must be < x_max, got {x_min!r} and {x_max!r}")
    levels = dequantize(np.arange(qp.qmin, qp.qmax + 1), qp)
    jumps = (levels[:-1] + levels[1:]) / 2
    inside = (jumps > lo_x) & (jumps < hi_x)
    j = jumps[inside]
    before, after = levels[:-1][inside], levels[1:][inside]
    # the first and last pieces' values, taken inside the pieces (an end may itself be a jump)
    cuts = np.concatenate([[lo_x], j, [hi_x]])
    ends = fake_quantize(np.array([(cuts[0] + cuts[1]) / 2, (cuts[-2] + cuts[-1]) / 2]), qp)
    x = np.concatenate([[lo_x], np.repeat(j, 2), [hi_x]])
    x_hat = np.concatenate([[ends[0]], np.column_stack([before, after]).ravel(), [ends[1]]])
    return x, x_hat


def quantization_error(x, qp: QParams, *, rounding: str = "half_even") -> dict:
    """Split ``x - fake_quantize(x)`` into rounding error (inside the range) and clipping error.

    Returns a dict with ``mse``, ``rounding_mse``, ``clipping_mse`` (the two add up to
    ``mse``; each is the sum over its samples divided by the total count) and
    ``clipped_fraction``.
    """
    a = as_finite_array(x, "x", allow_empty=False)
    err = a - fake_quantize(a, qp, rounding=rounding)
    lo, hi = qp.range
    scale, zp = qp._broadcast(a.ndim, a.shape)
    lo = scale * (qp.qmin - zp) - scale / 2
    hi = scale * (qp.qmax - zp) + scale / 2
    clipped = (a < lo) | (a > hi)
    n = a.size
    e2 = err**2
    return {
        "mse": float(e2.sum() / n),
        "rounding_mse": float(e2[~clipped].sum() / n),
        "clipping_mse": float(e2[clipped].sum() / n),
        "clipped_fraction": float(clipped.mean()),
    }

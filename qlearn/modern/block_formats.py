"""Block formats: MXFP4/MXFP6/MXFP8, NVFP4 and per-group integers, with bits per weight and packing.

Introduced in lesson ``17_block_formats``.

One scale for a whole tensor wastes codes on every small block; one scale per value costs as
much as the value. Block formats share one scale among a few consecutive values (a *block* or
*group*) along the last axis (the input dimension of ``W (out, in)``, the one a matmul sums over):

* **MX** (OCP Microscaling Formats v1.0; Rouhani et al. 2023, arXiv:2310.10537, Algorithm 1):
  ``k = 32`` elements share a power-of-two scale stored as E8M0,

  .. math::

      X = 2^{\\lfloor \\log_2 \\max_i |V_i| \\rfloor - e_{\\max,\\text{elem}}}, \\qquad
      P_i = \\text{cast}_\\text{elem}(V_i / X) \\text{ with saturation}, \\qquad \\hat V_i = X P_i,

  where ``e_max_elem`` is the exponent of the element format's largest binade (2 for FP4 E2M1
  and FP6 E2M3, 4 for FP6 E3M2, 8 for FP8 E4M3, 15 for FP8 E5M2). The largest value lands in
  the element format's top binade; values above its largest number saturate.
* **NVFP4** (NVIDIA, Blackwell): FP4 E2M1 elements, ``16``-element blocks, each with an FP8 E4M3
  scale, and one FP32 scale for the whole tensor, ``amax(x) / (6 * 448)``, so that the block
  scales ``amax_block / (6 * tensor_scale)`` fill E4M3's range.
* **Per-group integers** (as GPTQ/AWQ checkpoints store them): ``bits``-bit codes, a scale per
  group of ``group_size`` values and, in the asymmetric form, an integer zero point per group.

Conventions here (each checked in ``tests/test_block_formats.py``):

* The block size must divide the last dimension, else ValueError (no padding: pad yourself,
  e.g. with zeros, if you want it).
* MX, as in Microsoft's reference emulation ``microxcaling`` (``mx/mx_ops.py``): an all-zero block
  gets the smallest scale ``2**-127`` (E8M0 code 0) and zero elements; a block holding NaN or
  inf gets the NaN scale (code 0xFF), so the whole block decodes to NaN; a shared exponent
  above 127 is NaN, below -127 is clamped to -127 (the elements then go subnormal or to zero).
  Inputs are float64 here: FP32 subnormal inputs are not flushed to zero (the paper's
  Algorithm 1 flushes them; it says the spec does not ask for it).
* NVFP4 rejects NaN/inf (E2M1 has no code for them); an all-zero tensor gets tensor scale 1.
* Integers reject NaN/inf. Scales are rounded to FP16, as checkpoints store them.

References: OCP Microscaling Formats (MX) Specification v1.0 (2023); Rouhani et al.,
"Microscaling Data Formats for Deep Learning" (2023), Algorithm 1 (the conversion above);
microsoft/microxcaling, ``mx/mx_ops.py`` (the authors' reference emulation); NVIDIA,
"Introducing NVFP4 for Efficient and Accurate Low-Precision Inference" (technical blog, 2025)
and the NVIDIA TensorRT Model Optimizer documentation (``nvfp4_fp8_sweep``: block scale =
E4M3 value x global_amax / (6 x 448)); Frantar et al., "GPTQ" (2022) and Lin et al., "AWQ"
(2023) for per-group asymmetric int4 with a zero point.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from qlearn._validate import as_finite_array, check_int
from qlearn.numbers import formats as F

#: MX formats: name -> element format (OCP MX v1.0 concrete formats, all with 32-element blocks).
MX_ELEMENTS = {"mxfp8_e4m3": "fp8_e4m3", "mxfp8_e5m2": "fp8_e5m2", "mxfp6_e2m3": "fp6_e2m3",
               "mxfp6_e3m2": "fp6_e3m2", "mxfp4": "fp4_e2m1"}
MX_BLOCK_SIZE = 32
NVFP4_BLOCK_SIZE = 16
#: Every scheme :func:`quantize_dequantize` knows.
SCHEMES = tuple(MX_ELEMENTS) + ("nvfp4", "int_asym", "int_sym")
_E8M0 = F.get_format("e8m0")
_E4M3_MAX = F.get_format("fp8_e4m3").max_normal  # 448
_E2M1_MAX = F.get_format("fp4_e2m1").max_normal  # 6


def _check_block(x, block_size, name="block_size", *, allow_nan=False):
    if allow_nan:
        try:
            a = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"x must be an array of real numbers ({exc})") from None
    else:
        a = as_finite_array(x, "x")
    if a.ndim == 0 or a.size == 0:
        raise ValueError(f"x is empty or a scalar (shape {a.shape}): it needs at least one block along its last axis")
    k = check_int(block_size, name, 1, 1 << 20)
    n = a.shape[-1]
    if n % k:
        raise ValueError(f"{name}={k} does not divide the last dimension of x ({n}); "
                         f"choose a divisor of {n} or pad x (no padding rule is applied here)")
    return a, k


def _blocks(a, k):
    return a.reshape(a.shape[:-1] + (a.shape[-1] // k, k))


# ---------------------------------------------------------------------------------------------
# MX
# ---------------------------------------------------------------------------------------------
def mx_shared_exponent(amax, element="fp4_e2m1"):
    """The MX shared exponent ``floor(log2(amax)) - emax_elem`` per block, as float64.

    Clamped below at -127 (E8M0's smallest value, also used for an all-zero block); NaN where
    ``amax`` is NaN or inf or the exponent exceeds 127 (E8M0 has no larger value).

    Examples
    --------
    >>> mx_shared_exponent([6.0, 8.0, 0.0, 1e-40, np.inf], "fp4_e2m1").tolist()
    [0.0, 1.0, -127.0, -127.0, nan]
    >>> float(mx_shared_exponent(448.0, "fp8_e4m3"))  # 448 = 1.75 * 2**8, emax_elem = 8
    0.0
    """
    fmt = F.get_format(element)
    if fmt.kind != "float" or not fmt.signed:
        raise ValueError(f"element must be a signed float format, got {fmt.name!r}")
    a = np.asarray(amax, dtype=np.float64)
    out = np.full(a.shape, np.nan)
    ok = np.isfinite(a)
    _, E = np.frexp(np.where(ok & (a > 0), a, 1.0))
    e = np.where(a > 0, E - 1 - fmt.emax, -127.0)  # floor(log2 amax) exactly, from the float's exponent
    e = np.maximum(e, -127.0)
    out[ok] = np.where(e[ok] > 127, np.nan, e[ok])
    return out[()] if out.ndim == 0 else out


@dataclass(frozen=True)
class MXTensor:
    """An MX-quantized tensor: element codes and one E8M0 scale code per block.

    Attributes
    ----------
    codes : ndarray of int64, shape ``x.shape[:-1] + (n_blocks, block_size)``
        Element bit patterns in ``element``.
    scale_codes : ndarray of int64, shape ``x.shape[:-1] + (n_blocks,)``
        E8M0 codes: the scale is ``2**(code - 127)``; 255 is NaN.
    element : str
    block_size : int
    shape : tuple
    """

    codes: np.ndarray
    scale_codes: np.ndarray
    element: str
    block_size: int
    shape: tuple

    @property
    def scales(self) -> np.ndarray:
        """Block scales ``X`` as float64 (NaN for code 255)."""
        return F.from_codes(self.scale_codes, "e8m0")

    @property
    def elements(self) -> np.ndarray:
        """Element values ``P_i`` (before scaling), shape of :attr:`codes`."""
        return F.from_codes(self.codes, self.element)

    def dequantize(self) -> np.ndarray:
        """``x_hat = X * P`` in the original shape (NaN for a block whose scale is NaN)."""
        return (self.elements * self.scales[..., None]).reshape(self.shape)

    @property
    def bits_per_weight(self) -> float:
        return bits_per_weight("mx", element=self.element, block_size=self.block_size)


def mx_quantize(x, element="fp4_e2m1", *, block_size: int = MX_BLOCK_SIZE) -> MXTensor:
    """Quantize ``x`` to an MX format, blocks of ``block_size`` along the last axis.

    Parameters
    ----------
    x : array_like of float
        NaN and inf are allowed: the block holding them gets the NaN scale.
    element : str
        Element format: ``fp4_e2m1`` (MXFP4), ``fp6_e2m3`` / ``fp6_e3m2`` (MXFP6),
        ``fp8_e4m3`` / ``fp8_e5m2`` (MXFP8).
    block_size : int
        32 in the OCP MX v1.0 spec; other sizes give an MX-style format for comparison.

    Examples
    --------
    >>> t = mx_quantize([0.1, -0.3, 1.2, 2.5], "fp4_e2m1", block_size=4)
    >>> t.scales.tolist(), t.elements.tolist(), t.dequantize().tolist()
    ([0.5], [[0.0, -0.5, 2.0, 4.0]], [0.0, -0.25, 1.0, 2.0])
    >>> mx_quantize([0.0, 0.0], block_size=2).scale_codes.tolist()  # all-zero block: 2**-127
    [0]
    >>> mx_quantize([1.0, np.nan, 0.0, 2.0], block_size=2).dequantize().tolist()
    [nan, nan, 0.0, 2.0]
    """
    fmt = F.get_format(element)
    if fmt.name not in MX_ELEMENTS.values():
        raise ValueError(f"element must be one of {sorted(set(MX_ELEMENTS.values()))}, got {element!r}")
    a, k = _check_block(x, block_size, allow_nan=True)
    b = _blocks(a, k)
    with np.errstate(invalid="ignore"):
        amax = np.max(np.abs(b), axis=-1)  # NaN if the block holds NaN, inf if it holds inf
    e = mx_shared_exponent(amax, fmt)
    bad = np.isnan(e)
    scale_codes = np.where(bad, 255, np.nan_to_num(e, nan=0.0) + 127).astype(np.int64)
    v = np.where(bad[..., None], 0.0, b)
    v = np.ldexp(v, -np.where(bad, 0, e).astype(np.int64)[..., None])  # V / X, exact
    codes = F.to_codes(v, fmt, saturate=True)
    return MXTensor(codes=codes, scale_codes=scale_codes, element=fmt.name, block_size=k, shape=a.shape)


# ---------------------------------------------------------------------------------------------
# NVFP4
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NVFP4Tensor:
    """NVFP4: E2M1 codes, one E4M3 scale per 16-element block, one FP32 tensor scale.

    Attributes
    ----------
    codes : ndarray of int64 (FP4 E2M1 bit patterns), shape ``(..., n_blocks, block_size)``
    block_scales : ndarray of float64, values of FP8 E4M3, shape ``(..., n_blocks)``
    tensor_scale : float
        An FP32 value.
    block_size : int
    shape : tuple
    """

    codes: np.ndarray
    block_scales: np.ndarray
    tensor_scale: float
    block_size: int
    shape: tuple

    @property
    def elements(self) -> np.ndarray:
        return F.from_codes(self.codes, "fp4_e2m1")

    def dequantize(self) -> np.ndarray:
        """``x_hat = P * block_scale * tensor_scale`` (exact in float64)."""
        return (self.elements * self.block_scales[..., None] * self.tensor_scale).reshape(self.shape)

    @property
    def bits_per_weight(self) -> float:
        return bits_per_weight("nvfp4", block_size=self.block_size, n=int(np.prod(self.shape)))


def nvfp4_quantize(x, *, block_size: int = NVFP4_BLOCK_SIZE) -> NVFP4Tensor:
    """Quantize ``x`` to NVFP4 (two-level scaling), blocks along the last axis.

    ``tensor_scale = fp32(amax(x) / (6 * 448))``; per block
    ``block_scale = e4m3(amax_block / (6 * tensor_scale))`` (saturating); elements
    ``e2m1(x / (block_scale * tensor_scale))`` (saturating; 0 where the block scale is 0).

    Examples
    --------
    >>> t = nvfp4_quantize([0.0, 0.5, -1.0, 3.0], block_size=4)
    >>> bool(t.tensor_scale == np.float32(3.0 / 2688)), t.block_scales.tolist(), t.elements.tolist()
    (True, [448.0], [[0.0, 1.0, -2.0, 6.0]])
    >>> np.round(t.dequantize(), 6).tolist()  # 448 * tensor_scale is 0.5 up to FP32 rounding
    [0.0, 0.5, -1.0, 3.0]
    """
    a, k = _check_block(x, block_size)
    b = _blocks(a, k)
    amax = float(np.max(np.abs(a)))
    ts = float(np.float32(amax / (_E2M1_MAX * _E4M3_MAX))) if amax > 0 else 1.0
    if ts == 0.0:  # amax so small that its FP32 tensor scale underflows
        raise ValueError(f"x is too small for NVFP4's FP32 tensor scale (max |x| = {amax!r})")
    bs = F.cast(np.max(np.abs(b), axis=-1) / (_E2M1_MAX * ts), "fp8_e4m3", saturate=True)
    denom = bs[..., None] * ts
    v = np.divide(b, denom, out=np.zeros_like(b), where=denom > 0)
    codes = F.to_codes(v, "fp4_e2m1", saturate=True)
    return NVFP4Tensor(codes=codes, block_scales=np.asarray(bs, dtype=np.float64), tensor_scale=ts,
                       block_size=k, shape=a.shape)


# ---------------------------------------------------------------------------------------------
# per-group integers
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GroupIntTensor:
    """Per-group integer codes with an FP16 scale (and an integer zero point if asymmetric).

    ``x_hat = scale * (q - zero_point)``; for ``symmetric`` the zero point is 0 and ``q`` is
    signed in ``[-(2**(bits-1) - 1), 2**(bits-1) - 1]``, otherwise ``q`` and ``zero_point`` are
    unsigned in ``[0, 2**bits - 1]``.
    """

    q: np.ndarray
    scale: np.ndarray
    zero_point: np.ndarray
    bits: int
    group_size: int
    symmetric: bool
    shape: tuple

    def dequantize(self) -> np.ndarray:
        return (self.scale[..., None] * (self.q - self.zero_point[..., None])).reshape(self.shape)

    @property
    def bits_per_weight(self) -> float:
        return bits_per_weight("int_sym" if self.symmetric else "int_asym", bits=self.bits,
                               block_size=self.group_size)


def group_quantize(x, *, bits: int = 4, group_size: int = 128, symmetric: bool = False) -> GroupIntTensor:
    """Per-group integer quantization along the last axis.

    Asymmetric (GPTQ's ``Quantizer.find_params``, per group): the range is widened to hold 0,
    ``[min(x_min, 0), max(x_max, 0)]`` (``[-1, 1]`` for an all-zero group);
    ``scale = (x_max - x_min) / (2**bits - 1)`` rounded to FP16,
    ``zero_point = round(-x_min / scale)``, ``q = clip(round(x / scale) + zero_point, 0, 2**bits - 1)``.
    Symmetric: ``scale = max|x| / (2**(bits-1) - 1)`` rounded to FP16 (1 for an all-zero group),
    ``q = clip(round(x / scale), -(2**(bits-1) - 1), 2**(bits-1) - 1)`` (lesson 03's narrow range;
    GPTQ's own ``sym=True`` differs: unsigned codes, zero point ``2**(bits-1)``, step
    ``2 max|x| / (2**bits - 1)``). Rounding is half to even. GPTQ computes the zero point from the
    unrounded scale; here it comes from the FP16 scale that is stored.

    Examples
    --------
    >>> t = group_quantize([0.0, 0.5, 1.0, 1.5], bits=2, group_size=4)
    >>> t.scale.tolist(), t.zero_point.tolist(), t.q.tolist(), t.dequantize().tolist()
    ([0.5], [0], [[0, 1, 2, 3]], [0.0, 0.5, 1.0, 1.5])
    >>> group_quantize([-1.0, 0.25, 0.5, 1.0], bits=3, group_size=4, symmetric=True).q.tolist()
    [[-3, 1, 2, 3]]
    """
    b_ = check_int(bits, "bits", 2, 8)
    a, k = _check_block(x, group_size, "group_size")
    g = _blocks(a, k)
    if symmetric:
        qmax = 2 ** (b_ - 1) - 1
        amax = np.max(np.abs(g), axis=-1)
        scale = F.cast(np.where(amax > 0, amax / qmax, 1.0), "fp16")
        _check_scale(scale)
        q = np.clip(np.round(g / scale[..., None]), -qmax, qmax)
        zp = np.zeros(scale.shape)
    else:
        qmax = 2**b_ - 1
        lo = np.minimum(g.min(axis=-1), 0.0)
        hi = np.maximum(g.max(axis=-1), 0.0)
        empty = (lo == 0) & (hi == 0)
        lo, hi = np.where(empty, -1.0, lo), np.where(empty, 1.0, hi)
        scale = F.cast((hi - lo) / qmax, "fp16")
        _check_scale(scale)
        zp = np.clip(np.round(-lo / scale), 0, qmax)
        q = np.clip(np.round(g / scale[..., None]) + zp[..., None], 0, qmax)
    return GroupIntTensor(q=q.astype(np.int64), scale=np.asarray(scale, dtype=np.float64),
                          zero_point=zp.astype(np.int64), bits=b_, group_size=k, symmetric=bool(symmetric),
                          shape=a.shape)


def _check_scale(scale):
    s = np.asarray(scale)
    if np.any(s == 0) or not np.all(np.isfinite(s)):
        raise ValueError("x has a group whose range does not fit an FP16 scale (range below 6e-8 or above 65504 "
                         "times the largest code): rescale x")


# ---------------------------------------------------------------------------------------------
# storage
# ---------------------------------------------------------------------------------------------
def bits_per_weight(kind: str, *, element: str = "fp4_e2m1", bits: int = 4, block_size: int | None = None,
                    n: int | None = None, scale_bits: int = 16) -> float:
    """Bits stored per weight, scales and zero points included (closed forms).

    * ``"mx"``: ``element_bits + 8 / block_size`` (one E8M0 scale per block); MXFP4: 4.25.
    * ``"nvfp4"``: ``4 + 8 / block_size + 32 / n`` (an E4M3 scale per block, one FP32 scale per
      tensor of ``n`` values; ``n=None`` leaves the per-tensor term out): 4.5 + 32/n.
    * ``"int_asym"``: ``bits + (scale_bits + bits) / group_size`` (FP16 scale and a ``bits``-bit
      zero point per group, as GPTQ checkpoints pack ``qzeros``): int4-g128: 4.15625. Their
      ``g_idx`` (one int32 per input column, i.e. ``32 / out_features`` per weight) is not counted.
    * ``"int_sym"``: ``bits + scale_bits / group_size``.

    Examples
    --------
    >>> bits_per_weight("mx", element="fp4_e2m1", block_size=32), bits_per_weight("nvfp4", block_size=16)
    (4.25, 4.5)
    >>> bits_per_weight("int_asym", bits=4, block_size=128), bits_per_weight("int_sym", bits=3, block_size=64)
    (4.15625, 3.25)
    """
    if kind not in ("mx", "nvfp4", "int_asym", "int_sym"):
        raise ValueError(f"kind must be one of 'mx', 'nvfp4', 'int_asym', 'int_sym', got {kind!r}")
    default = {"mx": MX_BLOCK_SIZE, "nvfp4": NVFP4_BLOCK_SIZE}.get(kind, 128)
    k = check_int(default if block_size is None else block_size, "block_size", 1, 1 << 20)
    if kind == "mx":
        f = F.get_format(element)
        if f.name not in MX_ELEMENTS.values():
            raise ValueError(f"element must be one of {sorted(set(MX_ELEMENTS.values()))}, got {element!r}")
        return f.bits + _E8M0.bits / k
    if kind == "nvfp4":
        extra = 0.0 if n is None else 32 / check_int(n, "n", 1, 1 << 62)
        return 4 + 8 / k + extra
    b_ = check_int(bits, "bits", 2, 8)
    sb = check_int(scale_bits, "scale_bits", 1, 64)
    return b_ + (sb + (0 if kind == "int_sym" else b_)) / k


def pack_nibbles(codes) -> np.ndarray:
    """Pack 4-bit codes two per byte: code ``2i`` in the low nibble of byte ``i``, ``2i+1`` in the high.

    ``codes`` are unsigned 4-bit patterns ``0..15`` (FP4 codes, uint4, or int4 two's complement
    already masked with ``& 0xF``), flattened in C order. An odd count gets a zero high nibble in
    the last byte; :func:`unpack_nibbles` takes ``count`` to drop it. (Libraries differ on the
    nibble order; this is one stated choice.)

    Examples
    --------
    >>> pack_nibbles([1, 2, 15]).tolist()
    [33, 15]
    >>> unpack_nibbles(pack_nibbles([1, 2, 15]), count=3).tolist()
    [1, 2, 15]
    """
    c = np.asarray(codes)
    if c.size and not np.issubdtype(c.dtype, np.integer):
        raise TypeError(f"codes must be integers in [0, 15], got dtype {c.dtype}")
    c = c.astype(np.int64).ravel()
    if c.size and (c.min() < 0 or c.max() > 15):
        raise ValueError(f"codes must be in [0, 15] (4-bit patterns), got values in [{c.min()}, {c.max()}]")
    if c.size % 2:
        c = np.append(c, 0)
    return (c[0::2] | (c[1::2] << 4)).astype(np.uint8)


def unpack_nibbles(packed, *, count: int | None = None) -> np.ndarray:
    """The 4-bit codes (int64) held in ``packed`` bytes, low nibble first; ``count`` keeps the first ``count``."""
    p = np.asarray(packed)
    if p.size and (not np.issubdtype(p.dtype, np.integer) or p.min() < 0 or p.max() > 255):
        raise ValueError("packed must hold bytes (integers in [0, 255])")
    p = p.astype(np.int64).ravel()
    out = np.empty(2 * p.size, dtype=np.int64)
    out[0::2], out[1::2] = p & 15, p >> 4
    if count is not None:
        count = check_int(count, "count", max(0, 2 * p.size - 1), 2 * p.size)
        out = out[:count]
    return out


# ---------------------------------------------------------------------------------------------
# one call per scheme, for comparisons and explorers
# ---------------------------------------------------------------------------------------------
def quantize_dequantize(x, scheme: str, *, block_size: int | None = None, bits: int = 4):
    """``(x_hat, bits_per_weight)`` of ``x`` under ``scheme`` (one of :data:`SCHEMES`).

    ``block_size`` defaults to the scheme's own (32 for MX, 16 for NVFP4, 128 for integers).

    Examples
    --------
    >>> x = np.linspace(-1, 1, 64)
    >>> [quantize_dequantize(x, s)[1] for s in ("mxfp4", "mxfp8_e4m3")]
    [4.25, 8.25]
    """
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    if scheme in MX_ELEMENTS:
        t = mx_quantize(as_finite_array(x, "x"), MX_ELEMENTS[scheme],
                        block_size=MX_BLOCK_SIZE if block_size is None else block_size)
    elif scheme == "nvfp4":
        t = nvfp4_quantize(x, block_size=NVFP4_BLOCK_SIZE if block_size is None else block_size)
    else:
        t = group_quantize(x, bits=bits, group_size=128 if block_size is None else block_size,
                           symmetric=scheme == "int_sym")
    return t.dequantize(), t.bits_per_weight


def tradeoff_table(x, schemes=("mxfp4", "mxfp6_e2m3", "mxfp8_e4m3", "nvfp4", "int_asym"),
                   block_sizes=(16, 32, 64, 128), *, bits: int = 4) -> list[dict]:
    """One row per (scheme, block size): ``scheme``, ``block_size``, ``bits_per_weight``, ``sqnr_db``.

    Block sizes that do not divide the last dimension of ``x`` are skipped.
    """
    from qlearn.ranges.metrics import sqnr_db

    a = as_finite_array(x, "x", allow_empty=False)
    rows = []
    for s in schemes:
        for k in block_sizes:
            if a.shape[-1] % k:
                continue
            x_hat, bpw = quantize_dequantize(a, s, block_size=k, bits=bits)
            rows.append(dict(scheme=s, block_size=int(k), bits_per_weight=float(bpw), sqnr_db=sqnr_db(a, x_hat)))
    return rows


def heavy_tailed_weights(n: int = 4096, *, df: float = 3.0, scale: float = 0.05,
                         rng: np.random.Generator | None = None) -> np.ndarray:
    """A synthetic heavy-tailed weight vector: ``scale * StudentT(df)`` samples from ``rng``.

    A stand-in for a tensor with a few values many times larger than the rest (it is not a real
    model's weights). ``rng`` defaults to ``np.random.default_rng(0)``.

    Examples
    --------
    >>> w = heavy_tailed_weights(4096, rng=np.random.default_rng(0))
    >>> w.shape, bool(np.abs(w).max() > 10 * w.std())
    ((4096,), True)
    """
    n = check_int(n, "n", 1, 1 << 26)
    if isinstance(df, bool) or not isinstance(df, numbers.Real) or not math.isfinite(df) or df <= 0:
        raise ValueError(f"df must be a finite number > 0, got {df!r}")
    rng = np.random.default_rng(0) if rng is None else rng
    return float(scale) * rng.standard_t(df, size=n)


__all__ = ["MX_ELEMENTS", "MX_BLOCK_SIZE", "NVFP4_BLOCK_SIZE", "SCHEMES", "MXTensor", "NVFP4Tensor",
           "GroupIntTensor", "mx_shared_exponent", "mx_quantize", "nvfp4_quantize", "group_quantize",
           "bits_per_weight", "pack_nibbles", "unpack_nibbles", "quantize_dequantize", "tradeoff_table",
           "heavy_tailed_weights"]

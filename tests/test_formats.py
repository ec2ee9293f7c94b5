"""Tests for qlearn.numbers.formats: ml_dtypes / numpy as references, exact fractions, exhaustive codes."""
from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qlearn.numbers import formats as F
from qlearn.ranges.affine import qrange

DTYPES = {"fp32": np.float32, "fp16": np.float16, "bf16": ml_dtypes.bfloat16,
          "fp8_e4m3": ml_dtypes.float8_e4m3fn, "fp8_e5m2": ml_dtypes.float8_e5m2}
UINT = {8: np.uint8, 16: np.uint16, 32: np.uint32}
DET_MODES = ("half_even", "half_away", "half_up", "floor", "ceil", "toward_zero")


def same(a, b):
    """Equal as IEEE values, NaN equal to NaN, and -0.0 distinct from +0.0."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    both_nan = np.isnan(a) & np.isnan(b)
    return bool(np.all(both_nan | ((a == b) & (np.signbit(a) == np.signbit(b)))))


def ml_values(name):
    """All codes of an ml_dtypes/numpy dtype as float64 (the reference decoder)."""
    dt = np.dtype(DTYPES[name])
    codes = np.arange(2 ** (8 * dt.itemsize), dtype=np.int64).astype(UINT[8 * dt.itemsize])
    with np.errstate(invalid="ignore"):
        return codes.astype(np.int64), codes.view(dt).astype(np.float64)


# ---------------------------------------------------------------------------------------------
# an independent reference: exact rational rounding
# ---------------------------------------------------------------------------------------------
def ref_cast(x: float, exp_bits: int, man_bits: int, max_normal: float, has_inf: bool, mode: str) -> float:
    """Round x to the float format with exact fractions (no frexp/ldexp, no ml_dtypes)."""
    if x == 0:
        return x
    X = Fraction(x)
    A = abs(X)
    e = A.numerator.bit_length() - A.denominator.bit_length()
    while Fraction(2) ** e > A:
        e -= 1
    while Fraction(2) ** (e + 1) <= A:
        e += 1
    emin = 2 - 2 ** (exp_bits - 1)
    e = max(e, emin)
    q = Fraction(2) ** (e - man_bits)
    T = X / q
    if mode == "half_even":
        n = round(T)  # Fraction.__round__ rounds half to even, exactly
    elif mode == "half_away":
        n = (1 if T > 0 else -1) * math.floor(abs(T) + Fraction(1, 2))
    elif mode == "half_up":
        n = math.floor(T + Fraction(1, 2))
    elif mode == "floor":
        n = math.floor(T)
    elif mode == "ceil":
        n = math.ceil(T)
    else:
        n = math.trunc(T)
    Y = n * q
    if abs(Y) > Fraction(max_normal):
        to_zero = mode == "toward_zero" or (mode == "floor" and X > 0) or (mode == "ceil" and X < 0)
        big = max_normal if to_zero else (math.inf if has_inf else math.nan)
        return math.copysign(big, x)
    if n == 0:
        return math.copysign(0.0, x)
    return float(Y)


def ref_for(fmt, mode):
    return np.vectorize(lambda v: ref_cast(float(v), fmt.exp_bits, fmt.man_bits, fmt.max_normal, fmt.has_inf, mode))


def tricky_values(fmt, rng, n=200):
    """Values near ties, at ties, just off ties by 2**-40 relative, subnormals, around max."""
    if fmt.bits <= 16:
        v = F.representable_values(fmt)
        v = v[v > 0]
        mids = (v[:-1] + v[1:]) / 2
    else:
        e = rng.integers(fmt.emin - fmt.man_bits, fmt.emax + 1, size=n)
        grid = np.ldexp(rng.integers(2**fmt.man_bits, 2 ** (fmt.man_bits + 1), size=n).astype(float),
                        e - fmt.man_bits)
        mids = grid + np.ldexp(1.0, e - fmt.man_bits - 1)
    mids = rng.choice(mids, size=min(n, mids.size), replace=False)
    off = mids * 2.0**-40
    top = fmt.max_normal
    special = np.array([fmt.min_subnormal / 2, fmt.min_subnormal * 0.75, fmt.min_subnormal * 1.5,
                        fmt.min_normal * (1 - 2.0**-30), top, top * (1 + fmt.eps / 2), top * (1 + fmt.eps / 4),
                        top * (1 + fmt.eps), top * 4, 1 + 2.0**-40, 1 - 2.0**-40])
    rand = np.exp(rng.uniform(math.log(fmt.min_subnormal / 4), math.log(fmt.max_normal * 2), size=n))
    x = np.concatenate([mids, mids + off, mids - off, special, rand])
    return np.concatenate([x, -x])


# ---------------------------------------------------------------------------------------------
# format constants
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(DTYPES))
def test_float_constants_match_finfo(name):
    f = F.get_format(name)
    fi = ml_dtypes.finfo(DTYPES[name])
    assert f.max_normal == float(fi.max)
    assert f.min_normal == float(fi.smallest_normal)
    assert f.min_subnormal == float(fi.smallest_subnormal)
    assert f.eps == float(fi.eps)
    assert f.bits == 8 * np.dtype(DTYPES[name]).itemsize == f.storage_bits
    assert f.man_bits == fi.nmant and f.exp_bits == fi.nexp
    assert f.has_inf == (name != "fp8_e4m3") and f.has_nan


def test_tf32_constants_from_its_definition():
    # NVIDIA A100 whitepaper: 1 sign, 8 exponent (FP32's range), 10 mantissa bits (FP16's precision)
    f = F.get_format("tf32")
    assert (f.exp_bits, f.man_bits, f.bias, f.bits, f.storage_bits) == (8, 10, 127, 19, 32)
    assert Fraction(f.max_normal) == (2 - Fraction(1, 2**10)) * 2**127
    assert f.min_normal == float(np.finfo(np.float32).smallest_normal)
    assert Fraction(f.min_subnormal) == Fraction(1, 2**136)
    assert f.eps == F.get_format("fp16").eps
    assert f.dtype is None


def test_fp8_spec_values():
    # OCP OFP8 spec table: E4M3 max 448 = 1.75 * 2**8, min subnormal 2**-9; E5M2 max 57344 = 1.75 * 2**15
    assert F.get_format("fp8_e4m3").max_normal == 1.75 * 2**8
    assert F.get_format("fp8_e5m2").max_normal == 1.75 * 2**15
    assert F.get_format("fp8_e4m3").bias == 7 and F.get_format("fp8_e5m2").bias == 15


@pytest.mark.parametrize("name,bits,signed", [("int8", 8, True), ("uint8", 8, False), ("int4", 4, True),
                                              ("uint4", 4, False)])
def test_int_constants(name, bits, signed):
    f = F.get_format(name)
    ii = ml_dtypes.iinfo(getattr(ml_dtypes, name) if hasattr(ml_dtypes, name) else name)
    assert (f.qmin, f.qmax) == (int(ii.min), int(ii.max)) == qrange(bits, signed=signed)
    assert f.bits == f.storage_bits == bits and f.signed == signed


def test_get_format_errors_and_value_objects():
    with pytest.raises(ValueError, match="unknown format 'fp64'.*fp32, tf32, fp16, bf16, fp8_e4m3"):
        F.get_format("fp64")
    with pytest.raises(ValueError, match="unknown format"):
        F.get_format(8)
    f = F.get_format("bf16")
    assert F.get_format(f) is f
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.man_bits = 3
    assert "bf16" in repr(f) and "7 mantissa" in repr(f) and "bias 127" in repr(f)
    assert "no inf" in repr(F.get_format("fp8_e4m3"))
    assert "qmax 127" in repr(F.get_format("int8"))
    assert set(F.FORMATS) == set(F.FLOAT_FORMATS) | set(F.INT_FORMATS)
    for name in F.FORMATS:
        assert F.get_format(name).not_modelled


def test_decimal_digits():
    assert F.get_format("fp32").decimal_digits == pytest.approx(24 * math.log10(2))
    assert round(F.get_format("bf16").decimal_digits, 2) == 2.41


# ---------------------------------------------------------------------------------------------
# decoding and encoding every code, against ml_dtypes
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["fp8_e4m3", "fp8_e5m2", "fp16", "bf16"])
def test_from_codes_matches_ml_dtypes_all_codes(name):
    codes, ref = ml_values(name)
    assert same(F.from_codes(codes, name), ref)


@pytest.mark.parametrize("name", ["fp8_e4m3", "fp8_e5m2", "fp16", "bf16"])
def test_to_codes_matches_ml_dtypes_all_codes(name):
    codes, ref = ml_values(name)
    ok = ~np.isnan(ref)
    assert np.array_equal(F.to_codes(ref[ok], name), codes[ok])
    nan_codes = F.to_codes(ref[~np.isnan(ref)][:0].tolist() + [np.nan], name)
    assert np.isnan(F.from_codes(nan_codes, name)).all()


@pytest.mark.parametrize("name", ["fp8_e4m3", "fp8_e5m2", "fp16", "bf16"])
def test_cast_is_identity_on_every_code(name):
    _, ref = ml_values(name)
    assert same(F.cast(ref, name), ref)
    assert same(F.cast(ref, name, rounding="floor"), ref)


def test_fp32_bits_match_numpy():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.standard_normal(2000) * 10.0 ** rng.integers(-40, 39, 2000), [0.0, -0.0, 1e-45]])
    x32 = x.astype(np.float32)
    assert np.array_equal(F.to_codes(x32, "fp32"), x32.view(np.uint32).astype(np.int64))
    assert same(F.cast(x, "fp32"), x32.astype(np.float64))


@pytest.mark.parametrize("name", ["fp8_e4m3", "fp8_e5m2", "int8", "uint8", "int4", "uint4"])
def test_bits_round_trip_every_code(name):
    f = F.get_format(name)
    for code in range(2**f.bits):
        bits = format(code, f"0{f.bits}b")
        v = F.decode_bits(bits, f)
        if math.isnan(v):
            assert F.fields(v, f)["is_nan"] if f.kind == "float" else False
            continue
        assert F.encode_bits(v, f) == bits
        assert F.decode_bits(F.encode_bits(v, f, sep="|"), f) == v


def test_nan_codes():
    # E4M3 ("fn"): only S.1111.111 is NaN; E5M2: exponent 11111 with mantissa != 0
    e4 = F.from_codes(np.arange(256), "fp8_e4m3")
    assert sorted(np.flatnonzero(np.isnan(e4)).tolist()) == [0x7F, 0xFF]
    e5 = F.from_codes(np.arange(256), "fp8_e5m2")
    assert np.isnan(e5).sum() == 6 and np.isinf(e5).sum() == 2
    assert F.encode_bits(np.nan, "fp8_e4m3") == "01111111"
    assert F.encode_bits(np.nan, "fp16") == "0111111000000000"


def test_encode_decode_examples_and_separators():
    # 0.1 in bf16: 0.1 = 1.6 * 2**-4; 1.6 * 128 = 204.8 -> 205 -> mantissa 77 (binary 1001101)
    assert F.encode_bits(0.1, "bf16", sep=" ") == "0 01111011 1001101"
    assert F.decode_bits("0 01111011 1001101", "bf16") == 205 / 128 / 16
    assert F.decode_bits("0_01111011_1001101", "bf16") == F.decode_bits("0|01111011|1001101", "bf16")
    assert F.encode_bits(-1, "int8") == "11111111" and F.encode_bits(-1, "uint8", saturate=True) == "00000000"
    assert F.encode_bits(1.0, "tf32", sep="|") == "0|01111111|0000000000"


def test_bits_errors():
    with pytest.raises(ValueError, match="bits must have 8 digits for fp8_e4m3, got 7"):
        F.decode_bits("0101010", "fp8_e4m3")
    with pytest.raises(ValueError, match="only '0' and '1'"):
        F.decode_bits("0101012a", "fp8_e4m3")
    with pytest.raises(ValueError, match="only '0' and '1'"):
        F.decode_bits("", "int4")
    with pytest.raises(TypeError, match="bits must be a string"):
        F.decode_bits(101, "int4")
    with pytest.raises(ValueError, match="value must be a single number"):
        F.encode_bits([1.0, 2.0], "bf16")
    with pytest.raises(ValueError, match=r"codes must be in \[0, 255\]"):
        F.from_codes([256], "fp8_e5m2")
    with pytest.raises(ValueError, match=r"codes must be in \[0, 15\]"):
        F.from_codes([-1], "int4")
    with pytest.raises(ValueError, match="codes must be integers"):
        F.from_codes([1.5], "int4")


# ---------------------------------------------------------------------------------------------
# cast against ml_dtypes (float32 inputs: ml_dtypes rounds those exactly once)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["fp8_e4m3", "fp8_e5m2", "fp16", "bf16"])
def test_cast_matches_ml_dtypes_on_float32_inputs(name):
    rng = np.random.default_rng(7)
    f = F.get_format(name)
    x = tricky_values(f, rng, n=3000)
    with np.errstate(over="ignore"):
        x32 = x.astype(np.float32).astype(np.float64)  # float32-exact inputs
        ref = x32.astype(np.float32).astype(DTYPES[name]).astype(np.float64)
    assert same(F.cast(x32, name), ref)
    # exact ties (midpoints of neighbouring codes) are float32-exact for these formats
    v = F.representable_values(f)
    mids = (v[:-1] + v[1:]) / 2
    assert np.array_equal(mids.astype(np.float32).astype(np.float64), mids)
    assert same(F.cast(mids, name), mids.astype(np.float32).astype(DTYPES[name]).astype(np.float64))


@pytest.mark.parametrize("name", ["fp8_e4m3", "fp8_e5m2", "fp16", "bf16", "fp32", "tf32"])
def test_overflow_saturate_inf_nan(name):
    f = F.get_format(name)
    big = np.array([f.max_normal * 2, -f.max_normal * 2, np.inf, -np.inf, np.nan])
    out = F.cast(big, name)
    if f.has_inf:
        assert same(out, [np.inf, -np.inf, np.inf, -np.inf, np.nan])
    else:
        assert np.isnan(out).all()
    sat = F.cast(big, name, saturate=True)
    assert same(sat, [f.max_normal, -f.max_normal, f.max_normal, -f.max_normal, np.nan])
    # the largest value survives; just under the tie above it rounds down, just above it overflows.
    # At the tie: IEEE formats' max has an odd last mantissa bit (1.11..1), so ties-to-even goes up;
    # E4M3's max 1.110 * 2**8 is even, so 464 rounds down to 448 (the next code up would be NaN).
    tie = f.max_normal + f.eps * 2.0**f.emax / 2
    assert F.cast(f.max_normal, name) == f.max_normal
    assert F.cast(np.nextafter(tie, 0), name) == f.max_normal
    assert not np.isfinite(F.cast(np.nextafter(tie, np.inf), name))
    assert np.isfinite(F.cast(tie, name)) == (name == "fp8_e4m3")
    assert F.cast(tie, name, saturate=True) == f.max_normal


def test_e4m3_overflow_matches_ml_dtypes():
    x = np.array([448.0, 460.0, 464.0, 464.0 + 2**-10, 480.0, 1e6, -1e6, np.inf])
    with np.errstate(over="ignore"):
        ref = x.astype(np.float32).astype(ml_dtypes.float8_e4m3fn).astype(np.float64)
    assert same(F.cast(x, "fp8_e4m3"), ref)
    assert same(F.cast(x, "fp8_e4m3")[:3], [448.0] * 3)


def test_subnormals_and_signed_zero():
    f = F.get_format("fp16")
    assert F.cast(2.0**-24, "fp16") == 2.0**-24  # smallest subnormal
    assert F.cast(2.0**-25, "fp16") == 0.0  # tie with 0: to even (0)
    assert F.cast(2.0**-25 * 1.5, "fp16") == 2.0**-24
    out = F.cast(-2.0**-26, "fp16")
    assert out == 0 and np.signbit(out)
    assert F.fields(3 * 2.0**-24, f)["is_subnormal"] and F.fields(3 * 2.0**-24, f)["mantissa"] == 3


def test_double_rounding_regression():
    # 1 + 2**-8 + 2**-40 is just above the bf16 tie between 1 and 1 + 2**-7: nearest is 1 + 2**-7.
    # Through float32 (what ml_dtypes does from float64) it becomes the tie itself and then 1.0.
    x = 1 + 2.0**-8 + 2.0**-40
    assert float(np.array([x]).astype(ml_dtypes.bfloat16)[0]) == 1.0  # the trap we avoid
    assert F.cast(x, "bf16") == 1 + 2.0**-7
    assert F.cast(1 + 2.0**-4 + 2.0**-40, "fp8_e4m3") == 1.125
    assert F.cast(1 + 2.0**-11 + 2.0**-40, "tf32") == 1 + 2.0**-10


# ---------------------------------------------------------------------------------------------
# cast against exact fractions, every format and every deterministic mode, float64 inputs
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", DET_MODES)
@pytest.mark.parametrize("name", F.FLOAT_FORMATS)
def test_cast_matches_exact_fractions(name, mode):
    rng = np.random.default_rng(abs(hash((name, mode))) % 2**32)
    f = F.get_format(name)
    x = tricky_values(f, rng, n=120)
    assert same(F.cast(x, name, rounding=mode), ref_for(f, mode)(x))


@pytest.mark.parametrize("name", F.FLOAT_FORMATS)
def test_generic_path_equals_fast_path(name):
    rng = np.random.default_rng(3)
    f = F.get_format(name)
    x = np.concatenate([tricky_values(f, rng, n=2000), [0.0, -0.0, np.inf, -np.inf, np.nan, 1e300, 5e-324]])
    for saturate in (False, True):
        fast = F._cast_half_even_fast(x, f, saturate)
        assert same(fast, F._cast_generic(x, f, "half_even", saturate, None))


def test_tf32_bit_rounding_exhaustive_over_mantissas():
    # every FP32 mantissa in [1, 2) and in the subnormal binade, against integer arithmetic on fields
    M = np.arange(2**23, dtype=np.int64)
    keep, rem = M >> 13, M & 0x1FFF
    up = (rem > 0x1000) | ((rem == 0x1000) & (keep % 2 == 1))
    expected_norm = 1 + (keep + up) / 2.0**10  # may reach 2.0: the carry into the exponent
    x = (1 + M / 2.0**23).astype(np.float32)
    assert np.array_equal(F._tf32_from_fp32_bits(x), expected_norm)
    assert np.array_equal(F.cast(x.astype(np.float64), "tf32"), expected_norm)
    xs = np.ldexp(M.astype(np.float64), -149)  # FP32 subnormals: tf32 subnormals are multiples of 2**-136
    expected_sub = np.ldexp((keep + up).astype(np.float64), -136)
    assert np.array_equal(F.cast(xs, "tf32"), expected_sub)


def test_stochastic_rounding_is_unbiased_and_on_grid():
    rng = np.random.default_rng(0)
    x = np.full(40000, 1 + 2.0**-9)  # a quarter of the way from 1 to 1 + 2**-7 in bf16
    out = F.cast(x, "bf16", rounding="stochastic", rng=rng)
    assert set(np.unique(out)) == {1.0, 1 + 2.0**-7}
    p = np.mean(out > 1)
    assert abs(p - 0.25) < 4 * math.sqrt(0.25 * 0.75 / x.size)
    with pytest.raises(ValueError, match="stochastic"):
        F.cast(1.3, "fp16", rounding="stochastic")


# ---------------------------------------------------------------------------------------------
# integer formats: exhaustive
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["int8", "uint8", "int4", "uint4"])
def test_int_cast_exhaustive(name):
    f = F.get_format(name)
    k = np.arange(-600, 601, dtype=np.int64)
    # wrap-around: numpy (int8/uint8) and ml_dtypes (int4/uint4) wrap integers modulo 2**bits
    wrapped = k.astype(getattr(ml_dtypes, name) if hasattr(ml_dtypes, name) else name).astype(np.int64)
    assert np.array_equal(F.cast(k.astype(float), name), wrapped.astype(float))
    assert np.array_equal(F.cast(k.astype(float), name, saturate=True), np.clip(k, f.qmin, f.qmax).astype(float))
    halves = k + 0.5
    expected = np.array([round(h) for h in halves.tolist()], dtype=float)  # Python rounds ties to even
    assert np.array_equal(F.cast(halves, name, saturate=True), np.clip(expected, f.qmin, f.qmax))
    assert np.array_equal(F.cast(halves, name, rounding="floor", saturate=True), np.clip(k, f.qmin, f.qmax))
    codes = np.arange(2**f.bits)
    assert np.array_equal(F.to_codes(F.from_codes(codes, f), f), codes)


def test_int_bad_input():
    with pytest.raises(ValueError, match="NaN or inf.*int8"):
        F.cast([1.0, np.nan], "int8")
    with pytest.raises(ValueError, match="NaN or inf"):
        F.cast(np.inf, "uint4", saturate=True)


def test_cast_bad_arguments():
    with pytest.raises(ValueError, match="rounding must be one of"):
        F.cast(1.0, "bf16", rounding="nearest")
    with pytest.raises(ValueError, match="unknown format"):
        F.cast(1.0, "fp12")
    with pytest.raises(TypeError, match="x must be an array of real numbers"):
        F.cast("abc", "fp16")
    assert F.cast([], "fp16").shape == (0,)
    assert isinstance(F.cast(1.0, "fp16"), np.floating)
    assert F.cast([[1.0, 2.0]], "int4").shape == (1, 2)


# ---------------------------------------------------------------------------------------------
# fields, ulp, representable values, memory
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["fp8_e4m3", "fp8_e5m2"])
def test_fields_rebuild_every_value(name):
    _, ref = ml_values(name)
    for v in ref[np.isfinite(ref)]:
        d = F.fields(v, name)
        assert (-1) ** d["sign"] * d["significand"] * 2.0 ** d["unbiased_exponent"] == v
        assert d["is_subnormal"] == (v != 0 and abs(v) < F.get_format(name).min_normal)
        assert d["is_normal"] == (abs(v) >= F.get_format(name).min_normal)
    assert F.fields(np.inf, "fp8_e5m2")["is_inf"] and F.fields(np.inf, "fp8_e5m2")["unbiased_exponent"] is None
    assert F.fields(-3, "int4") == dict(value=-3.0, bits="1101", sign=1, code=13)


@pytest.mark.parametrize("name,dt", [("fp32", np.float32), ("fp16", np.float16)])
def test_ulp_matches_numpy_spacing(name, dt):
    rng = np.random.default_rng(5)
    f = F.get_format(name)
    x = np.exp(rng.uniform(math.log(f.min_subnormal), math.log(f.max_normal), 3000)).astype(dt)
    x = x[np.isfinite(x) & (x < f.max_normal)]
    assert np.array_equal(F.ulp(x.astype(np.float64), name), np.spacing(x).astype(np.float64))


@pytest.mark.parametrize("name", ["fp8_e4m3", "fp8_e5m2", "bf16"])
def test_ulp_matches_gaps_between_values(name):
    v = F.representable_values(name)
    pos = v[v >= 0]
    gaps = np.diff(pos)
    assert np.array_equal(F.ulp(pos[:-1], name), gaps)  # gap above each value = spacing of its binade
    assert F.ulp(3.0, "int8") == 1.0
    with pytest.raises(ValueError, match="NaN or inf"):
        F.ulp(np.inf, name)


def test_representable_values():
    for name in ["fp8_e4m3", "fp8_e5m2", "fp16", "bf16"]:
        _, ref = ml_values(name)
        assert np.array_equal(F.representable_values(name), np.unique(ref[np.isfinite(ref)]))
    assert len(F.representable_values("fp8_e4m3")) == 256 - 2 - 1  # 2 NaN codes, +0 and -0 merged
    assert len(F.representable_values("fp8_e5m2")) == 256 - 6 - 2 - 1
    assert F.representable_values("fp8_e5m2", include_inf=True)[-1] == np.inf
    assert np.array_equal(F.representable_values("uint4"), np.arange(16.0))
    with pytest.raises(ValueError, match="at most 16 bits; fp32 has 32"):
        F.representable_values("fp32")


def test_model_bytes():
    n = 7_000_000_000
    for name in ["fp32", "fp16", "bf16", "fp8_e4m3", "int8", "uint8"]:
        dt = DTYPES.get(name, name)
        assert F.model_bytes(n, name) == n * np.dtype(dt).itemsize
    assert F.model_bytes(n, "tf32") == 4 * n  # stored as FP32 words
    assert F.model_bytes(n, "int4") == n // 2 and F.model_bytes(7, "uint4") == 4
    assert F.model_bytes(7e9, "int8") * 4 == F.model_bytes(7e9, "fp32")  # quantizing shrinks: 4x
    assert F.model_bytes(0, "fp16") == 0
    with pytest.raises(ValueError, match="n_params must be a whole number >= 0"):
        F.model_bytes(-1, "int8")
    with pytest.raises(ValueError, match="n_params must be a whole number >= 0"):
        F.model_bytes(1.5, "int8")
    with pytest.raises(TypeError, match="n_params"):
        F.model_bytes("7e9", "int8")


def test_format_table():
    rows = F.format_table()
    assert [r["name"] for r in rows] == list(F.FORMATS)
    by = {r["name"]: r for r in rows}
    assert by["fp8_e4m3"]["max"] == 448.0 and by["int8"]["max"] == 127.0 and by["int8"]["eps"] is None
    assert by["bf16"]["min_normal"] == by["fp32"]["min_normal"]  # same exponent range


# ---------------------------------------------------------------------------------------------
# properties
# ---------------------------------------------------------------------------------------------
finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e39, max_value=1e39)
float_names = st.sampled_from(F.FLOAT_FORMATS)


@settings(max_examples=300, deadline=None)
@given(x=finite, name=float_names, mode=st.sampled_from(DET_MODES))
def test_cast_idempotent(x, name, mode):
    y = F.cast(x, name, rounding=mode)
    assert same(F.cast(y, name, rounding=mode), y)


@settings(max_examples=300, deadline=None)
@given(a=finite, b=finite, name=float_names, mode=st.sampled_from(DET_MODES))
def test_cast_monotone(a, b, name, mode):
    lo, hi = min(a, b), max(a, b)
    assert F.cast(lo, name, rounding=mode, saturate=True) <= F.cast(hi, name, rounding=mode, saturate=True)


@settings(max_examples=300, deadline=None)
@given(x=finite, name=float_names)
def test_half_even_error_within_half_ulp(x, name):
    f = F.get_format(name)
    if abs(x) > f.max_normal:
        return
    err = abs(Fraction(x) - Fraction(float(F.cast(x, name))))
    assert err <= Fraction(float(F.ulp(x, name))) / 2


@settings(max_examples=300, deadline=None)
@given(x=finite, name=float_names)
def test_directed_modes_bracket_x(x, name):
    f = F.get_format(name)
    if abs(x) > f.max_normal:
        return
    lo, hi = F.cast(x, name, rounding="floor"), F.cast(x, name, rounding="ceil")
    assert lo <= x <= hi and hi - lo <= F.ulp(x, name)
    assert abs(F.cast(x, name, rounding="toward_zero")) <= abs(x)


@settings(max_examples=200, deadline=None)
@given(x=st.floats(min_value=-1e6, max_value=1e6), name=st.sampled_from(F.INT_FORMATS))
def test_int_cast_in_range(x, name):
    f = F.get_format(name)
    for sat in (False, True):
        y = F.cast(x, name, saturate=sat)
        assert f.qmin <= y <= f.qmax and y == int(y)


def test_lesson_01_numbers():
    """Every number lesson 01 states, derived here by hand."""
    cast = F.cast
    # 0.1 = 1.6 * 2**-4; 1.6 * 2**7 = 204.8 -> 205: E = 127 - 4, M = 205 - 128
    assert F.fields(0.1, "bf16")["exponent"] == 123 and F.fields(0.1, "bf16")["mantissa"] == 77
    # maxima: (2 - 2**-m) * 2**emax, E4M3 "fn": 1.75 * 2**8
    assert F.get_format("fp16").max_normal == (2 - 2**-10) * 2**15 == 65504
    assert f"{F.get_format('bf16').max_normal:.3g}" == "3.39e+38" == f"{(2 - 2**-7) * 2.0**127:.3g}"
    # 70000 in [2**16, 2**17): bf16 spacing 2**(16-7) = 512; 70000 / 512 = 136.7 -> 137 * 512 = 70144
    assert cast(70000, "bf16") == 137 * 512 and cast(70000, "fp16") == np.inf
    # 1.001: fp16 spacing 2**-10 -> 1 + 1/1024 (1.001 * 1024 = 1025.02); bf16 spacing 2**-7 -> 1
    assert cast(1.001, "fp16") == 1 + 2**-10 and cast(1.001, "bf16") == 1.0
    # integers: fp16 exact up to 2**11, bf16 up to 2**8; the odd one above is a tie -> even
    assert cast(2049, "fp16") == 2048 and cast(257, "bf16") == 256
    # overflow: e4m3 500 > 464 (tie above 448) -> NaN; e5m2 70000 > 61440 (tie above 57344) -> inf
    assert np.isnan(cast(500, "fp8_e4m3")) and cast(70000, "fp8_e5m2") == np.inf
    assert cast(200, "int8") == 200 - 256
    # subnormals of E4M3: k * 2**-9 for k = 1..7; 0.003 / 2**-9 = 1.536 -> 2
    assert cast(0.003, "fp8_e4m3") == 2 * 2**-9 and round((2 * 2**-9 - 0.003) / 0.003, 2) == 0.30
    assert cast(1e-5, "fp8_e4m3") == 0 and cast(1e-5, "fp8_e5m2") == 2.0**-16  # 1e-5 / 2**-16 = 0.66 -> 1
    # memory of 7e9 parameters: bytes = n * bits / 8
    assert [F.model_bytes(7e9, n) / 1e9 for n in ["fp32", "tf32", "bf16", "int8", "int4"]] == [28, 28, 14, 7, 3.5]
    # digits: (m + 1) * log10(2)
    assert round(F.get_format("fp8_e5m2").decimal_digits, 2) == round(3 * math.log10(2), 2) == 0.9
    # TPU v1 box: the largest int8 product (-128)**2 = 2**14; a signed 32-bit accumulator holds 131071 of them
    assert (2**31 - 1) // F.get_format("int8").qmin ** 2 == 131071
    # pi: FP32 pattern 0x40490FDB (the well-known constant); dropped bits 0x0FDB < 0x1000 (TF32) and
    # 0x0FDB < 0x8000 (BF16) round down, so both are prefixes. E4M3 spacing in [2, 4) is 0.25: pi / 0.25 =
    # 12.57 -> 13 -> 3.25; E5M2 spacing 0.5: 6.28 -> 6 -> 3.0
    bits32 = format(0x40490FDB, "032b")
    assert F.encode_bits(np.pi, "fp32") == bits32
    assert F.encode_bits(np.pi, "bf16") == bits32[:16] and F.encode_bits(np.pi, "tf32") == bits32[:19]
    assert F.cast(np.pi, "fp8_e4m3") == 3.25 and F.cast(np.pi, "fp8_e5m2") == 3.0


@pytest.mark.parametrize("name", ["fp32", "tf32", "bf16", "fp16", "fp8_e5m2", "fp8_e4m3"])
def test_relative_spacing_vertices_are_the_exact_graph(name):
    """Straight lines between the vertices on log-log axes give ulp(x)/x at every x that is not a
    power of two (where the graph jumps), at 20 000 log-uniform points over the whole range; the
    spacing itself is checked against ml_dtypes: the gap to the next representable value."""
    f = F.get_format(name)
    xv, rv = F.relative_spacing_vertices(name)
    assert xv[0] == f.min_subnormal and xv[-1] == f.max_normal and np.all(np.diff(xv) >= 0)
    t = np.exp(np.random.default_rng(0).uniform(np.log(f.min_subnormal), np.log(f.max_normal), 20_000))
    t = t[np.abs(np.log2(t) - np.round(np.log2(t))) > 1e-9]
    k = np.clip(np.searchsorted(xv, t, side="right") - 1, 0, len(xv) - 2)
    lx, lr = np.log(xv), np.log(rv)
    seg = np.where(lx[k + 1] > lx[k], (np.log(t) - lx[k]) / np.where(lx[k + 1] > lx[k], lx[k + 1] - lx[k], 1), 0)
    got = np.exp(lr[k] + seg * (lr[k + 1] - lr[k]))
    np.testing.assert_allclose(got, F.ulp(t, f) / t, rtol=1e-9)
    if name in ("bf16", "fp16", "fp8_e5m2", "fp8_e4m3"):  # formats ml_dtypes/numpy step through
        dt = {"bf16": ml_dtypes.bfloat16, "fp16": np.float16, "fp8_e5m2": ml_dtypes.float8_e5m2,
              "fp8_e4m3": ml_dtypes.float8_e4m3fn}[name]
        lo = np.array([x for x in xv[:-1] if x < f.max_normal], dtype=dt)  # binade starts: exact
        gap = np.nextafter(lo, np.array(f.max_normal, dtype=dt)).astype(np.float64) - lo.astype(np.float64)
        np.testing.assert_array_equal(gap, F.ulp(lo.astype(np.float64), f))


def test_relative_spacing_vertices_refuses_int_formats():
    with pytest.raises(ValueError, match="float format"):
        F.relative_spacing_vertices("int8")

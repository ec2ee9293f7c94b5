"""Fixed point against exact two's-complement arithmetic with Python ints and Fractions."""
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qlearn.numbers.fixed import FixedFormat, FixedReport, propose_format, quantize_fixed, wrap_codes
from qlearn.ranges import affine


def _round_fraction(v: Fraction, mode: str) -> int:
    if mode == "half_even":
        return round(v)  # Python rounds Fractions half to even
    if mode == "half_away":
        return int(math.copysign(math.floor(abs(v) + Fraction(1, 2)), v))
    if mode == "half_up":
        return math.floor(v + Fraction(1, 2))
    if mode == "floor":
        return math.floor(v)
    if mode == "ceil":
        return math.ceil(v)
    if mode == "toward_zero":
        return math.trunc(v)
    raise AssertionError(mode)


def _ref(x: float, w: int, f: int, signed: bool, overflow: str, mode: str):
    """Exact reference: code = round(x * 2^f) as a Fraction; two's complement with Python ints."""
    q = _round_fraction(Fraction(x) * 2**f, mode)
    lo, hi = (-(2 ** (w - 1)), 2 ** (w - 1) - 1) if signed else (0, 2**w - 1)
    over = q < lo or q > hi
    if overflow == "saturate":
        q = min(max(q, lo), hi)
    else:
        q &= (1 << w) - 1  # keep the low w bits
        if signed and q >= 2 ** (w - 1):
            q -= 1 << w  # the sign bit counts -2^(w-1)
    return Fraction(q, 2**f), over, (x != 0 and _round_fraction(Fraction(x) * 2**f, mode) == 0)


MODES = ["half_even", "half_away", "half_up", "floor", "ceil", "toward_zero"]


def test_format_properties_and_repr():
    f = FixedFormat(16, 12)
    assert repr(f) == "Q3.12" and f.int_bits == 3
    assert (f.min, f.max, f.resolution) == (-8.0, 8 - 2**-12, 2**-12)
    assert repr(FixedFormat(8, 8, signed=False)) == "UQ0.8"
    assert repr(FixedFormat(8, 7)) == "Q0.7" and FixedFormat(8, 7).range == (-1.0, 1 - 2**-7)
    assert repr(FixedFormat(32, 0)) == "Q31.0"
    u = FixedFormat(8, 3, signed=False)
    assert (u.qmin, u.qmax, u.int_bits) == (0, 255, 5)
    assert "resolution 2^-12" in f.describe()
    qp = f.to_qparams()
    assert (qp.scale, qp.zero_point, qp.qmin, qp.qmax) == (2**-12, 0, -32768, 32767)


def test_format_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"word_bits must be >= frac_bits \+ 1"):
        FixedFormat(8, 8)
    with pytest.raises(ValueError, match=r"word_bits must be >= frac_bits \+ 0"):
        FixedFormat(8, 9, signed=False)
    with pytest.raises(ValueError, match=r"word_bits must be in \[1, 64\]"):
        FixedFormat(0, 0)
    with pytest.raises(ValueError, match=r"word_bits must be in \[1, 64\]"):
        FixedFormat(65, 3)
    with pytest.raises(ValueError, match=r"frac_bits must be in \[0, 64\]"):
        FixedFormat(8, -1)
    with pytest.raises(TypeError, match="fmt must be a FixedFormat"):
        quantize_fixed([1.0], (8, 4))
    with pytest.raises(ValueError, match="overflow must be one of"):
        quantize_fixed([1.0], FixedFormat(8, 4), overflow="clip")
    with pytest.raises(ValueError, match="mode must be one of"):
        quantize_fixed([1.0], FixedFormat(8, 4), rounding="nearest")
    with pytest.raises(ValueError, match="NaN or inf"):
        quantize_fixed([np.nan], FixedFormat(8, 4))


@pytest.mark.parametrize("overflow", ["wrap", "saturate"])
@pytest.mark.parametrize("signed", [True, False])
def test_exhaustive_small_words(overflow, signed):
    """Every format up to 5 bits, every multiple of 2^-(f+2) over twice the range (ties included)."""
    for w in range(1, 6):
        for f in range(0, w + (0 if signed else 1)):
            fmt = FixedFormat(w, f, signed)
            span = 2.0 ** (w - f + 1)
            x = np.arange(-span, span, 2.0 ** -(f + 2))
            for mode in MODES:
                got, rep = quantize_fixed(x, fmt, overflow=overflow, rounding=mode)
                refs = [_ref(float(v), w, f, signed, overflow, mode) for v in x]
                assert [Fraction(g) for g in got] == [r[0] for r in refs], (fmt, mode)
                assert rep.overflows == sum(r[1] for r in refs)
                assert rep.underflows == sum(r[2] for r in refs)
                assert rep.size == x.size


@settings(max_examples=300, deadline=None)
@given(st.floats(-1e6, 1e6, allow_subnormal=False), st.integers(2, 40), st.data(),
       st.sampled_from(["wrap", "saturate"]), st.sampled_from(MODES), st.booleans())
def test_random_formats_match_python_ints(x, w, data, overflow, mode, signed):
    f = data.draw(st.integers(0, w - (1 if signed else 0)))
    fmt = FixedFormat(w, f, signed)
    got, rep = quantize_fixed([x], fmt, overflow=overflow, rounding=mode)
    ref, over, under = _ref(x, w, f, signed, overflow, mode)
    assert Fraction(got[0]) == ref
    assert rep.overflows == int(over) and rep.underflows == int(under)


def test_wrap_is_modular_and_saturate_agrees_with_affine():
    fmt = FixedFormat(8, 0)
    np.testing.assert_array_equal(wrap_codes(np.arange(-600.0, 600.0), fmt),
                                  [((int(v) + 128) % 256) - 128 for v in range(-600, 600)])
    x = np.random.default_rng(0).normal(size=1000) * 5
    fmt = FixedFormat(8, 4)
    np.testing.assert_array_equal(quantize_fixed(x, fmt)[0], affine.fake_quantize(x, fmt.to_qparams()))


def test_report_counts_and_fractions():
    fmt = FixedFormat(8, 4)  # Q3.4: [-8, 7.9375], half a step = 1/32
    x_hat, rep = quantize_fixed([0.0, 0.01, -0.02, 0.04, 100.0, -100.0, 3.0], fmt)
    assert isinstance(rep, FixedReport)
    assert rep.underflows == 2  # 0.01 and -0.02 flush to 0; 0.0 is not an underflow; 0.04 -> 1/16
    assert rep.overflows == 2 and rep.overflow_fraction == pytest.approx(2 / 7)
    assert rep.max_abs_error == pytest.approx(100 - 7.9375)
    assert x_hat[3] == 0.0625


def _overflows(x, w, n, signed):
    lo, hi = (-(2 ** (w - 1)), 2 ** (w - 1) - 1) if signed else (0, 2**w - 1)
    return any(not lo <= round(Fraction(v) * 2**n) <= hi for v in x)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.floats(-1000, 1000, allow_subnormal=False), min_size=1, max_size=30),
       st.integers(12, 32))
def test_propose_format_is_the_best_fit_by_brute_force(xs, w):
    fmt = propose_format(xs, w)
    assert not _overflows(xs, w, fmt.frac_bits, True)
    if fmt.frac_bits < w - 1:
        assert _overflows(xs, w, fmt.frac_bits + 1, True)  # one more fraction bit would overflow
    rep = quantize_fixed(xs, fmt)[1]
    assert rep.overflows == 0


def test_propose_format_examples_and_errors():
    assert repr(propose_format([0.3, -2.7, 1.9], 16)) == "Q2.13"
    assert repr(propose_format([[0.1, 0.2], [0.9]], 8)) == "Q0.7"  # several monitored runs
    assert repr(propose_format([0.001], 8)) == "Q0.7"  # small signals keep int_bits = 0
    assert repr(propose_format([200.0], 8, signed=False)) == "UQ8.0"
    assert repr(propose_format([3.0], 16, margin_bits=2)) == "Q4.11"
    with pytest.raises(ValueError, match="samples has negative values"):
        propose_format([-1.0], 8, signed=False)
    with pytest.raises(ValueError, match="use a longer word"):
        propose_format([1000.0], 8)
    with pytest.raises(ValueError, match="samples is empty"):
        propose_format([], 8)
    with pytest.raises(ValueError, match="NaN or inf"):
        propose_format([np.inf], 8)


@settings(max_examples=300, deadline=None)
@given(st.integers(-(2**15), 2**15 - 1), st.integers(1, 8))
def test_floor_is_the_arithmetic_right_shift_truncation_is_toward_zero(p, shift):
    """Lesson 06's note: dropping `shift` low bits of a two's-complement word (Python's >>) is floor;
    truncation (lesson 02, a C cast) rounds toward zero; they differ for negative p with a dropped 1 bit."""
    x = p * 2.0**-shift
    word = FixedFormat(16, 0)
    dropped = quantize_fixed([x], word, rounding="floor")[0][0]
    truncated = quantize_fixed([x], word, rounding="toward_zero")[0][0]
    assert dropped == p >> shift
    assert truncated == int(Fraction(p, 2**shift))  # int() of a Fraction truncates toward zero, like C
    assert (dropped != truncated) == (p < 0 and p % 2**shift != 0)


def test_lesson06_note_numbers():
    assert quantize_fixed([-2.5], FixedFormat(8, 0), rounding="floor")[0][0] == -5 >> 1 == -3
    assert quantize_fixed([-2.5], FixedFormat(8, 0), rounding="toward_zero")[0][0] == -2
    x = np.linspace(-8, 8, 16_001)
    assert np.mean(quantize_fixed(x, FixedFormat(8, 0), rounding="floor")[0] - x) == pytest.approx(-0.5, abs=0.01)

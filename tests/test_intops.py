"""qlearn.hardware.intops against plain-Python-integer reimplementations of the published reference code.

References reimplemented here (line by line, Python ints, C semantics spelled out):
gemmlowp fixedpoint/fixedpoint.h SaturatingRoundingDoublingHighMul and RoundingDivideByPOT;
TFLite kernels/internal/quantization_util.cc QuantizeMultiplier (double-rounding build).
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qlearn.hardware import intops

I32_MIN, I32_MAX = -(2**31), 2**31 - 1


# ----------------------------------------------------------------- the references, in Python ints
def c_div(a: int, b: int) -> int:
    """C/C++ integer division: truncates toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def to_i32(v: int) -> int:
    """static_cast<int32_t> of a value known to fit, asserted."""
    assert I32_MIN <= v <= I32_MAX
    return v


def ref_srdhm(a: int, b: int) -> int:
    overflow = a == b and a == I32_MIN
    ab_64 = a * b
    nudge = (1 << 30) if ab_64 >= 0 else (1 - (1 << 30))
    if overflow:
        return I32_MAX
    return to_i32(c_div(ab_64 + nudge, 1 << 31))


def i32_bits(x: int) -> int:
    """Two's-complement bit pattern of an int32 as a Python int, for & and >>."""
    return x & 0xFFFFFFFF


def ref_rdbpot(x: int, exponent: int) -> int:
    assert 0 <= exponent <= 31
    mask = (1 << exponent) - 1
    remainder = i32_bits(x) & mask            # x & mask on the int32 pattern
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)   # Python >> is arithmetic


def ref_mbqm(x: int, m: int, shift: int) -> int:
    left = shift if shift > 0 else 0
    right = 0 if shift > 0 else -shift
    return ref_rdbpot(ref_srdhm(x * (1 << left), m), right)


def tflite_round(x: float) -> int:
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def ref_quantize_multiplier(d: float):
    if d == 0.0:
        return 0, 0
    q, shift = math.frexp(d)
    q_fixed = tflite_round(q * (1 << 31))
    assert q_fixed <= (1 << 31)
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    assert q_fixed <= I32_MAX
    if shift < -31:
        shift = 0
        q_fixed = 0
    return q_fixed, shift


# ----------------------------------------------------------------- edge cases
EDGE = [0, 1, -1, 2, -2, 3, -3, 7, -7, 2**30, -(2**30), I32_MAX, I32_MIN, I32_MAX - 1, I32_MIN + 1,
        12345, -12345, 2**16, -(2**16) - 1]


def test_srdhm_edge_grid_matches_reference():
    a, b = np.meshgrid(EDGE, EDGE)
    got = intops.saturating_rounding_doubling_high_mul(a, b)
    want = [[ref_srdhm(int(x), int(y)) for x, y in zip(ra, rb)] for ra, rb in zip(a, b)]
    np.testing.assert_array_equal(got, want)


def test_srdhm_saturates_int32_min_squared():
    assert intops.saturating_rounding_doubling_high_mul(I32_MIN, I32_MIN) == I32_MAX
    # I32_MIN * I32_MAX does not saturate: -(2**31 - 1) exactly
    assert intops.saturating_rounding_doubling_high_mul(I32_MIN, I32_MAX) == -(2**31 - 1)


def test_srdhm_ties_round_upward():
    # a * b = 2**30 (exactly half of 2**31): the nudge 1 - 2**30 plus truncation sends
    # negative ties toward zero, positive ties away: ties go toward +infinity
    assert intops.saturating_rounding_doubling_high_mul(2**15, 2**15) == 1        # +0.5 -> 1
    assert intops.saturating_rounding_doubling_high_mul(-(2**15), 2**15) == 0     # -0.5 -> 0
    assert intops.saturating_rounding_doubling_high_mul(3 * 2**15, 2**15) == 2    # 1.5 -> 2
    assert intops.saturating_rounding_doubling_high_mul(-3 * 2**15, 2**15) == -1  # -1.5 -> -1


@pytest.mark.parametrize("exponent", [0, 1, 2, 5, 16, 30, 31])
def test_rdbpot_edges_and_ties(exponent):
    xs = np.array(EDGE + [(2 * j + 1) << max(exponent - 1, 0) for j in range(-5, 5)
                          if I32_MIN <= (2 * j + 1) << max(exponent - 1, 0) <= I32_MAX])
    got = intops.rounding_divide_by_pot(xs, exponent)
    np.testing.assert_array_equal(got, [ref_rdbpot(int(x), exponent) for x in xs])


def test_rdbpot_ties_away_from_zero_exact():
    assert intops.rounding_divide_by_pot([1, -1, 3, -3], 1).tolist() == [1, -1, 2, -2]
    assert intops.rounding_divide_by_pot(I32_MIN, 31) == -1
    assert intops.rounding_divide_by_pot(I32_MAX, 31) == 1


@settings(max_examples=300, deadline=None)
@given(st.integers(I32_MIN, I32_MAX), st.integers(I32_MIN, I32_MAX))
def test_srdhm_random(a, b):
    assert intops.saturating_rounding_doubling_high_mul(a, b) == ref_srdhm(a, b)


@settings(max_examples=300, deadline=None)
@given(st.integers(I32_MIN, I32_MAX), st.integers(0, 31))
def test_rdbpot_random(x, e):
    assert intops.rounding_divide_by_pot(x, e) == ref_rdbpot(x, e)


def test_mbqm_vectorised_random_against_reference():
    rng = np.random.default_rng(11)
    n = 4000
    x = rng.integers(I32_MIN, I32_MAX, n, endpoint=True)
    x[:50] = rng.integers(-1000, 1000, 50)
    m = rng.integers(2**30, 2**31, n)
    m[:5] = [I32_MIN, I32_MAX, 2**30, 0, 1]
    shift = rng.integers(-31, 1, n)
    shift[-5:] = [-31, -31, 0, -1, -30]
    got = intops.multiply_by_quantized_multiplier(x, m, shift)
    want = [ref_mbqm(int(a), int(b), int(c)) for a, b, c in zip(x, m, shift)]
    np.testing.assert_array_equal(got, want)


def test_mbqm_left_shift_and_saturation_case():
    xs = [3, -3, 1000, -1000, 2**20]
    for s in (1, 4, 10):
        got = intops.multiply_by_quantized_multiplier(xs, 2**30 + 12345, s)
        assert got.tolist() == [ref_mbqm(x, 2**30 + 12345, s) for x in xs]
    # INT32_MIN * INT32_MIN inside the doubling high mul saturates, then divides
    assert intops.multiply_by_quantized_multiplier(I32_MIN, I32_MIN, -3) == ref_mbqm(I32_MIN, I32_MIN, -3)
    with pytest.raises(ValueError, match="leaves int32"):
        intops.multiply_by_quantized_multiplier(2**30, 2**30, 2)


def test_mbqm_per_channel_broadcast():
    acc = np.array([[1000, 2000], [-3000, 4000]])
    m0, shift = intops.quantize_multiplier(np.array([0.01, 0.3]))
    got = intops.multiply_by_quantized_multiplier(acc, m0, shift)
    want = [[ref_mbqm(int(acc[i, j]), int(m0[j]), int(shift[j])) for j in range(2)] for i in range(2)]
    np.testing.assert_array_equal(got, want)


# ----------------------------------------------------------------- QuantizeMultiplier
def test_quantize_multiplier_edge_cases():
    for d in [0.0, 0.5, 0.25, 1.0, 1.5, 0.999999999, 1 - 2**-33, 1 - 2**-32, 2**-31, 2**-32, 2**-33,
              1e-12, 0.0123, 3.0, 2**30 + 0.5, 7.5e-5]:
        assert intops.quantize_multiplier(d) == ref_quantize_multiplier(d), d


def test_quantize_multiplier_rounding_to_2_31_renormalises():
    m0, shift = intops.quantize_multiplier(1 - 2**-33)
    assert (m0, shift) == (2**30, 1)          # 0.999... rounds up to 1.0 = 2**30 * 2**(1-31)


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=1e-12, max_value=1e6, allow_nan=False))
def test_quantize_multiplier_random(d):
    m0, shift = intops.quantize_multiplier(d)
    assert (m0, shift) == ref_quantize_multiplier(d)
    if m0:
        assert 2**30 <= m0 < 2**31
        assert abs(m0 * 2.0 ** (shift - 31) - d) <= d * 2.0**-31


def test_quantize_multiplier_array_and_bad_input():
    m0, shift = intops.quantize_multiplier([0.5, 0.01])
    assert m0.tolist() == [ref_quantize_multiplier(0.5)[0], ref_quantize_multiplier(0.01)[0]]
    with pytest.raises(ValueError, match="real_multiplier must be >= 0"):
        intops.quantize_multiplier(-0.1)
    with pytest.raises(ValueError, match="NaN or inf"):
        intops.quantize_multiplier(float("nan"))
    with pytest.raises(ValueError, match="< 2\\*\\*31"):
        intops.quantize_multiplier(2.0**31)


# ----------------------------------------------------------------- accumulators
@pytest.mark.parametrize("a_bits,b_bits", [(2, 2), (3, 2), (3, 3), (4, 3)])
def test_accumulator_bits_needed_by_brute_force(a_bits, b_bits):
    """Exhaustive: the worst sum over all k-long code sequences, for small widths."""
    alo, ahi = -(2 ** (a_bits - 1)), 2 ** (a_bits - 1) - 1
    blo, bhi = -(2 ** (b_bits - 1)), 2 ** (b_bits - 1) - 1
    prods = [x * y for x in range(alo, ahi + 1) for y in range(blo, bhi + 1)]
    for k in range(1, 6):
        lo, hi = k * min(prods), k * max(prods)
        n = 2
        while not (-(2 ** (n - 1)) <= lo and hi <= 2 ** (n - 1) - 1):
            n += 1
        assert intops.accumulator_bits_needed(k, a_bits, b_bits) == n


def test_int8_products_overflow_int16_accumulators():
    a = np.full((1, 3), 127)
    b = np.full((3, 1), 127)
    r = intops.int_matmul(a, b, acc_bits=16)
    assert r.overflowed == 1 and int(r.acc[0, 0]) == 3 * 127 * 127
    w = intops.int_matmul(a, b, acc_bits=16, on_overflow="wrap")
    assert int(w.acc[0, 0]) == 3 * 127 * 127 - 2**16
    with pytest.raises(OverflowError, match="16-bit accumulator"):
        intops.int_matmul(a, b, acc_bits=16, on_overflow="raise")
    assert intops.int_matmul(a, b, acc_bits=32).overflowed == 0


def test_transient_overflow_cancels_with_wrapping():
    a = np.array([[127, 127, 127, -127, -127, -127]])
    b = np.full((6, 1), 127)
    r = intops.int_matmul(a, b, acc_bits=16, on_overflow="wrap")
    assert r.overflowed == 0 and r.transient == 1 and int(r.acc[0, 0]) == 0


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6), st.integers(1, 40), st.integers(1, 6), st.integers(8, 40), st.integers(0, 2**31))
def test_int_matmul_exact_and_wrap_is_modular(M, K, N, acc_bits, seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(-128, 128, (M, K))
    b = rng.integers(-128, 128, (K, N))
    exact = a @ b
    r = intops.int_matmul(a, b, acc_bits=acc_bits)
    np.testing.assert_array_equal(r.acc, exact)
    lo, hi = -(2 ** (acc_bits - 1)), 2 ** (acc_bits - 1) - 1
    assert r.overflowed == int(((exact < lo) | (exact > hi)).sum())
    w = intops.int_matmul(a, b, acc_bits=acc_bits, on_overflow="wrap").acc
    assert np.all((w - exact) % (2**acc_bits) == 0) and w.min() >= lo and w.max() <= hi
    # a brute-force partial-sum scan for the transient count
    part = np.cumsum(a[:, :, None] * b[None], axis=1)
    anyp = ((part < lo) | (part > hi)).any(axis=1)
    assert r.transient == int((anyp & ~((exact < lo) | (exact > hi))).sum())


def test_int_matmul_bad_input():
    with pytest.raises(ValueError, match="inner dimensions"):
        intops.int_matmul(np.zeros((2, 3), int), np.zeros((2, 3), int))
    with pytest.raises(ValueError, match="on_overflow"):
        intops.int_matmul([[1]], [[1]], on_overflow="saturate")
    with pytest.raises(ValueError, match="acc_bits must be in"):
        intops.int_matmul([[1]], [[1]], acc_bits=1)
    with pytest.raises(ValueError, match="integer codes"):
        intops.int_matmul([[1.5]], [[1]])
    with pytest.raises(ValueError, match="2-D"):
        intops.int_matmul([1, 2], [[1], [2]])


# ----------------------------------------------------------------- zero points, bias, layers
@settings(max_examples=50, deadline=None)
@given(st.integers(1, 5), st.integers(1, 9), st.integers(1, 5), st.integers(-128, 127), st.integers(0, 2**31),
       st.booleans())
def test_zero_point_terms_sum_to_the_centred_product(M, K, N, za, seed, per_channel):
    rng = np.random.default_rng(seed)
    a = rng.integers(-128, 128, (M, K))
    b = rng.integers(-128, 128, (K, N))
    zb = rng.integers(-20, 20, N) if per_channel else int(rng.integers(-20, 20))
    t = intops.zero_point_terms(a, b, za, zb)
    np.testing.assert_array_equal(t.total, (a - za) @ (b - np.broadcast_to(zb, (N,))[None, :]))
    np.testing.assert_array_equal(t.qq, a @ b)


def test_symmetric_weights_need_no_runtime_row_sums():
    a = np.array([[1, 2, 3]])
    b = np.array([[1], [1], [1]])
    assert intops.zero_point_terms(a, b, 5, 0).runtime_terms == ("qq",)
    assert intops.zero_point_terms(a, b, 5, 3).runtime_terms == ("qq", "a_term")


def test_quantize_bias_and_errors():
    np.testing.assert_array_equal(intops.quantize_bias([0.1, -0.3], 0.1, [0.01, 0.02]), [100, -150])
    with pytest.raises(ValueError, match="int32"):
        intops.quantize_bias([1.0], 1e-6, 1e-6)
    with pytest.raises(ValueError, match="a_scale"):
        intops.quantize_bias([1.0], 0.0, 0.1)


def _random_layer(rng, batch=20, fin=24, fout=7, per_channel=True):
    W = rng.normal(0, 0.3, (fout, fin))
    b = rng.normal(0, 0.1, fout)
    X = rng.uniform(0, 2.0, (batch, fin))
    sx, zx = 2.0 / 255, -128
    sw = np.abs(W).max(axis=1) / 127 if per_channel else np.full(fout, np.abs(W).max() / 127)
    Xq = np.clip(np.rint(X / sx) + zx, -128, 127).astype(int)
    Wq = np.clip(np.rint(W / sw[:, None]), -127, 127).astype(int)
    y = (sx * (Xq - zx)) @ (Wq * sw[:, None]).T + b
    sy = (y.max() - y.min()) / 255
    zy = int(np.clip(np.rint(-128 - y.min() / sy), -128, 127))
    return Xq, Wq, b, sx, zx, sw, sy, zy


@pytest.mark.parametrize("per_channel", [False, True])
def test_quantized_linear_matches_real_multiplier_within_one_code(per_channel):
    rng = np.random.default_rng(3)
    Xq, Wq, b, sx, zx, sw, sy, zy = _random_layer(rng, per_channel=per_channel)
    bq = intops.quantize_bias(b, sx, sw)
    M = sx * sw / sy
    m0, shift = intops.quantize_multiplier(M if per_channel else float(M[0]))
    yq = intops.quantized_linear(Xq, Wq, bq, x_zero_point=zx, m0=m0, shift=shift, y_zero_point=zy)
    acc = (Xq - zx) @ Wq.T + bq
    ref = intops.real_requantize(acc, M, zy)
    assert np.abs(yq - ref).max() <= 1
    assert (yq == ref).mean() > 0.95
    # and bit-exact with the Python-int reference pipeline
    m0b = np.broadcast_to(m0, (Wq.shape[0],))
    sb = np.broadcast_to(shift, (Wq.shape[0],))
    want = [[min(127, max(-128, ref_mbqm(int(acc[i, j]), int(m0b[j]), int(sb[j])) + zy))
             for j in range(acc.shape[1])] for i in range(acc.shape[0])]
    np.testing.assert_array_equal(yq, want)


def test_requantize_fused_relu_and_errors():
    m0, s = intops.quantize_multiplier(0.5)
    assert intops.requantize([-100, 100], m0, s, zero_point=-128, qmin=-128).tolist() == [-128, -78]
    with pytest.raises(ValueError, match="qmin must be < qmax"):
        intops.requantize([1], m0, s, 0, 5, 5)
    with pytest.raises(ValueError, match="int32 range"):
        intops.requantize([2**31], m0, s, 0)
    with pytest.raises(ValueError, match="shift must be in"):
        intops.multiply_by_quantized_multiplier([1], m0, 40)
    with pytest.raises(ValueError, match="exponent must be in"):
        intops.rounding_divide_by_pot([1], 32)


def test_quantized_linear_shape_errors():
    with pytest.raises(ValueError, match="in_features"):
        intops.quantized_linear(np.zeros((2, 3), int), np.zeros((4, 5), int), m0=2**30, shift=0)
    with pytest.raises(ValueError, match="bias_q"):
        intops.quantized_linear(np.zeros((2, 3), int), np.zeros((4, 3), int), [1, 2], m0=2**30, shift=0)


def test_rescale_op_counts_per_channel_and_asymmetric():
    base = intops.rescale_op_counts(8, 64, 128)
    pc = intops.rescale_op_counts(8, 64, 128, per_channel=True)
    asym = intops.rescale_op_counts(8, 64, 128, weight_zero_point=True)
    assert base["macs"] == 8 * 64 * 128
    assert pc["requant_muls"] == base["requant_muls"] and pc["multiplier_params"] == 64
    assert asym["row_sum_adds"] == 8 * 128 and asym["overhead_fraction"] > base["overhead_fraction"]
    with pytest.raises(ValueError, match="batch must be in"):
        intops.rescale_op_counts(0, 1, 1)


# ----------------------------------------------------------------- the course model in integers (lesson 11)
@pytest.fixture(scope="module")
def course():
    from qlearn.networks import data, nn
    return nn.pretrained(), data.load_digits()


@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("symmetric_weights", [True, False])
def test_integer_mlp_tracks_the_float_model(course, per_channel, symmetric_weights):
    model, d = course
    im = intops.integer_mlp(model, d.X_calib, per_channel=per_channel, symmetric_weights=symmetric_weights)
    acc = im.accuracy(d.X_test, d.y_test)
    assert abs(acc - model.accuracy(d.X_test, d.y_test)) <= 0.01
    assert np.mean(im.predict(d.X_test) == model.predict(d.X_test)) >= 0.98


def test_lesson11_first_layer_numbers(course):
    """The numbers lesson 11 states about the first layer of the course model."""
    model, d = course
    im = intops.integer_mlp(model, d.X_calib)
    L = im.layers[0]
    Xq = im.quantize_input(d.X_test)
    # the input is [0, 1] pixels: asymmetric int8 puts 0.0 on code -128
    assert L.x_qp.zero_point == -128 and L.x_qp.scale == pytest.approx(1 / 255)
    y, ref = L(Xq), L.reference(Xq)
    assert np.abs(y - ref).max() == 1 and (y == ref).mean() > 0.99
    assert L.shift == -9 and 2**30 <= L.m0 < 2**31
    assert intops.rescale_op_counts(539, 64, 64)["overhead_fraction"] == 5 / 64
    assert intops.rescale_op_counts(539, 64, 64, weight_zero_point=True)["overhead_fraction"] == 8 / 64
    # same codes as the Python-int reference of gemmlowp, element by element
    acc = L.accumulators(Xq)
    want = np.array([[min(127, max(L.qmin, ref_mbqm(int(a), int(L.m0), int(L.shift)) + L.y_qp.zero_point))
                      for a in row] for row in acc[:40]])
    np.testing.assert_array_equal(y[:40], want)
    # int16 accumulators overflow on this layer, int32 never does
    r16 = intops.int_matmul(Xq - L.x_qp.zero_point, L.W_q.T, acc_bits=16)
    assert 0.45 < r16.overflowed / r16.acc.size < 0.55
    assert intops.int_matmul(Xq - L.x_qp.zero_point, L.W_q.T, acc_bits=32).overflowed == 0
    assert intops.accumulator_bits_needed(64, 9, 8) == 23
    # float layer vs dequantized integer output: within a few output steps
    y_float = np.maximum(d.X_test @ model.layers[0].W.T + model.layers[0].b, 0)
    y_hat = L.y_qp.scale * (y - L.y_qp.zero_point)
    inside = y_float <= L.y_qp.range[1]          # test outputs above the calibrated range are clipped
    assert np.abs(y_hat - y_float)[inside].max() < 3 * L.y_qp.scale
    assert 0 < (~inside).sum() < 0.01 * y.size


def test_integer_layer_bad_input():
    from qlearn.ranges.affine import compute_qparams
    qp = compute_qparams(-1, 1)
    with pytest.raises(ValueError, match="W must be"):
        intops.integer_layer(np.ones((2, 3)), np.ones(3), x_qp=qp, y_qp=qp)
    with pytest.raises(TypeError, match="x_qp must be a QParams"):
        intops.integer_layer(np.ones((2, 3)), np.ones(2), x_qp=0.1, y_qp=qp)
    with pytest.raises(ValueError, match="8-bit codes"):
        intops.integer_layer(np.ones((2, 3)), np.ones(2), x_qp=compute_qparams(-1, 1, bits=16), y_qp=qp)

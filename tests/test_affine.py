"""qlearn.ranges.affine: exhaustive checks on small grids, published conventions, and properties."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qlearn.ranges import affine
from qlearn.ranges.affine import QParams, compute_qparams, dequantize, fake_quantize, minmax_qparams, qrange, quantize


def test_qrange_matches_the_spec_tables():
    # TFLite int8 spec: activations -128..127, weights narrow -127..127; uint8 0..255
    assert qrange(8) == (-128, 127)
    assert qrange(8, narrow_range=True) == (-127, 127)
    assert qrange(8, signed=False) == (0, 255)
    assert qrange(4) == (-8, 7)
    assert qrange(32) == (-(2**31), 2**31 - 1)
    for bits in range(2, 17):
        qmin, qmax = qrange(bits)
        assert qmax - qmin + 1 == 2**bits


@pytest.mark.parametrize("bits", [2, 3, 4, 5])
@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("signed", [True, False])
def test_quantize_is_nearest_grid_point_exhaustive(bits, symmetric, signed):
    """For small bit widths, enumerate every code and pick the nearest by brute force."""
    rng = np.random.default_rng(bits)
    qp = compute_qparams(-1.3, 2.1, bits=bits, symmetric=symmetric, signed=signed)
    codes = np.arange(qp.qmin, qp.qmax + 1)
    levels = qp.scale * (codes - qp.zero_point)
    x = np.concatenate([rng.uniform(-3, 3, 2000), levels, (levels[:-1] + levels[1:]) / 2])
    q = quantize(x, qp)
    dist = np.abs(x[:, None] - levels[None, :])
    best = dist.min(axis=1)
    np.testing.assert_allclose(np.abs(x - levels[q - qp.qmin]), best, atol=1e-12)


@pytest.mark.parametrize("zero_point", [0, 3])
def test_exact_ties_go_to_even_codes(zero_point):
    # a power-of-two scale makes the midpoints exact in binary floating point
    qp = QParams(0.25, zero_point, -8, 7)
    mids = 0.25 * (np.arange(-8, 7) + 0.5) - 0.25 * zero_point
    q = quantize(mids, qp)
    inside = (q > qp.qmin) & (q < qp.qmax)
    assert np.all((q[inside] - zero_point) % 2 == 0)


def test_zero_is_exact_and_range_is_covered():
    for lo, hi in [(-1.3, 2.1), (0.2, 5.0), (-7.0, -0.5), (-1e-3, 1e-3)]:
        for bits in (2, 4, 8, 16):
            for sym in (False, True):
                qp = compute_qparams(lo, hi, bits=bits, symmetric=sym)
                assert fake_quantize(0.0, qp) == 0.0
                rlo, rhi = qp.range
                if not sym:
                    # the grid spans [min(lo,0), max(hi,0)] up to half a step at each end
                    assert rlo <= min(lo, 0) + qp.scale / 2 + 1e-12
                    assert rhi >= max(hi, 0) - qp.scale / 2 - 1e-12


def test_published_symmetric_and_asymmetric_formulas():
    # symmetric int8 (Krishnamoorthi 2018, eq. 6): scale = max|x| / 127, zero_point 0
    qp = compute_qparams(-2.0, 1.0, bits=8, symmetric=True)
    assert qp.scale == 2.0 / 127 and qp.zero_point == 0
    # asymmetric uint8 (Jacob et al. 2018, eq. 1): scale = (hi - lo) / 255, z = round(-lo / scale)
    qp = compute_qparams(-1.0, 3.0, bits=8, signed=False)
    assert qp.scale == 4.0 / 255 and qp.zero_point == round(1.0 / (4.0 / 255))
    # all-positive data (ReLU): range widened to include 0, zero_point at qmin
    qp = compute_qparams(0.5, 6.0, bits=8, signed=False)
    assert qp.zero_point == 0 and qp.scale == 6.0 / 255


def test_narrow_range_symmetric_grid():
    qp = compute_qparams(-1.0, 1.0, bits=8, symmetric=True, narrow_range=True)
    assert (qp.qmin, qp.qmax) == (-127, 127)
    np.testing.assert_array_equal(quantize([-1.0, 1.0], qp), [-127, 127])
    qp_full = compute_qparams(-1.0, 1.0, bits=8, symmetric=True)
    # full range: -128 is reachable but only for values beyond -1: the extra code is wasted on a symmetric range
    assert quantize(-1.0, qp_full) == -127 and quantize(-1.01, qp_full) == -128


def test_all_zero_range_is_defined():
    qp = compute_qparams(0.0, 0.0, bits=8)
    assert qp.scale == 1.0
    assert fake_quantize(0.0, qp) == 0.0


@settings(max_examples=200, deadline=None)
@given(
    lo=st.floats(-100, 0, allow_nan=False),
    width=st.floats(1e-3, 100, allow_nan=False),
    bits=st.integers(2, 16),
    symmetric=st.booleans(),
    narrow=st.booleans(),
    xs=st.lists(st.floats(-1, 2, allow_nan=False), min_size=1, max_size=50),
)
def test_properties(lo, width, bits, symmetric, narrow, xs):
    hi = lo + width
    qp = compute_qparams(lo, hi, bits=bits, symmetric=symmetric, narrow_range=narrow)
    x = lo + (hi - lo) * (np.array(xs) + 1) / 3  # points in and a little around the range
    x_hat = fake_quantize(x, qp)
    rlo, rhi = qp.range
    inside = (x >= rlo) & (x <= rhi)
    # |x - x_hat| <= scale / 2 inside the range
    assert np.all(np.abs(x - x_hat)[inside] <= qp.scale / 2 * (1 + 1e-9) + 1e-12)
    # monotone
    order = np.argsort(x)
    assert np.all(np.diff(quantize(x[order], qp)) >= 0)
    # idempotent
    np.testing.assert_array_equal(fake_quantize(x_hat, qp), x_hat)
    # codes in range
    q = quantize(x, qp)
    assert q.min() >= qp.qmin and q.max() <= qp.qmax


def test_per_channel_equals_per_tensor_on_each_slice():
    rng = np.random.default_rng(1)
    W = rng.normal(size=(6, 10)) * np.array([0.01, 0.1, 1, 10, 0.5, 3])[:, None]
    for axis in (0, 1, -1):
        qp = minmax_qparams(W, bits=4, symmetric=True, axis=axis)
        xh = fake_quantize(W, qp)
        for c in range(W.shape[axis]):
            sl = np.take(W, c, axis=axis)
            qpc = compute_qparams(sl.min(), sl.max(), bits=4, symmetric=True)
            np.testing.assert_allclose(np.take(xh, c, axis=axis), fake_quantize(sl, qpc))


def test_per_channel_beats_per_tensor_when_channels_differ():
    rng = np.random.default_rng(2)
    W = rng.normal(size=(8, 64)) * np.geomspace(0.01, 1, 8)[:, None]
    e_t = np.mean((W - fake_quantize(W, minmax_qparams(W, bits=4, symmetric=True))) ** 2)
    e_c = np.mean((W - fake_quantize(W, minmax_qparams(W, bits=4, symmetric=True, axis=0))) ** 2)
    assert e_c < e_t / 2


def test_rounding_modes_pass_through():
    qp = QParams(1.0, 0, -8, 7)
    assert quantize(2.5, qp) == 2
    assert quantize(2.5, qp, rounding="half_away") == 3
    assert quantize(2.9, qp, rounding="floor") == 2
    a = quantize(np.full(1000, 0.25), qp, rounding="stochastic", rng=np.random.default_rng(0))
    assert 0.15 < a.mean() < 0.35


def test_dequantize_is_affine():
    qp = QParams(0.25, 3, 0, 15)
    np.testing.assert_array_equal(dequantize(np.arange(16), qp), 0.25 * (np.arange(16) - 3))


def test_quantization_error_split_adds_up():
    rng = np.random.default_rng(3)
    x = rng.laplace(size=5000)
    qp = compute_qparams(-1.0, 1.0, bits=4, symmetric=True)
    e = affine.quantization_error(x, qp)
    assert e["mse"] == pytest.approx(e["rounding_mse"] + e["clipping_mse"])
    assert e["mse"] == pytest.approx(np.mean((x - fake_quantize(x, qp)) ** 2))
    assert 0 < e["clipped_fraction"] < 1


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(x_min=1.0, x_max=0.0), "x_min must be <= x_max"),
        (dict(x_min=np.nan, x_max=1.0), "x_min contains NaN"),
        (dict(x_min=0.0, x_max=np.inf), "x_max contains NaN or inf"),
        (dict(x_min=0.0, x_max=1.0, bits=0), r"bits must be in \[1, 32\]"),
        (dict(x_min=0.0, x_max=1.0, bits=33), r"bits must be in \[1, 32\]"),
        (dict(x_min=0.0, x_max=1.0, bits=1, symmetric=True), "symmetric signed quantization needs bits >= 2"),
        (dict(x_min=0.0, x_max=1.0, bits=1, narrow_range=True), "qmin=0 >= qmax=0"),
        (dict(x_min=[0.0, 1.0], x_max=[1.0, 2.0]), "pass axis="),
        (dict(x_min=[0.0], x_max=[1.0, 2.0], axis=0), "same shape"),
    ],
)
def test_compute_qparams_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        compute_qparams(**kwargs)


def test_other_bad_input():
    with pytest.raises(TypeError, match="bits must be an integer"):
        compute_qparams(0.0, 1.0, bits=8.0)
    with pytest.raises(ValueError, match="scale must be finite and > 0"):
        QParams(0.0, 0, -128, 127)
    with pytest.raises(ValueError, match="scale must be finite and > 0"):
        QParams(-1.0, 0, -128, 127)
    with pytest.raises(ValueError, match="qmin must be < qmax"):
        QParams(1.0, 0, 5, 5)
    with pytest.raises(ValueError, match="zero_point"):
        QParams(1.0, 300, 0, 255)
    with pytest.raises(TypeError, match="qp must be a QParams"):
        quantize([1.0], (1.0, 0))
    qp = minmax_qparams(np.ones((3, 4)), axis=0)
    with pytest.raises(ValueError, match="axis=0 has 4 channels but QParams has 3"):
        quantize(np.ones((4, 3)), qp)
    with pytest.raises(ValueError, match="out of range"):
        minmax_qparams(np.ones((3, 4)), axis=2)
    with pytest.raises(ValueError, match="x contains NaN"):
        quantize([np.nan], QParams(1.0, 0, -8, 7))
    with pytest.raises(ValueError, match="x is empty"):
        minmax_qparams([])
    with pytest.raises(ValueError, match="outside"):
        dequantize([100], QParams(1.0, 0, -8, 7))


def test_no_division_by_zero_on_any_small_grid():
    # every bits/flags combination either gives valid params or a clear ValueError
    for bits, sym, signed, narrow in itertools.product(range(1, 9), [0, 1], [0, 1], [0, 1]):
        try:
            qp = compute_qparams(-1.0, 1.0, bits=bits, symmetric=bool(sym), signed=bool(signed),
                                 narrow_range=bool(narrow))
        except ValueError:
            continue
        assert np.isfinite(qp.scale) and qp.scale > 0
        assert np.all(np.isfinite(fake_quantize(np.linspace(-2, 2, 9), qp)))


@pytest.mark.parametrize("bits", [1, 2, 3, 4, 8])
@pytest.mark.parametrize("symmetric", [False, True])
def test_staircase_vertices_draw_fake_quantize_exactly(bits, symmetric):
    """Between vertices, straight lines through them equal fake_quantize (the reference) at every
    point that is not a jump: checked at 20 001 points, for ranges that clip and ranges that don't."""
    for lo, hi, x_min, x_max in [(-1.0, 2.5, -4.0, 4.0), (-0.3, 0.7, -0.2, 0.5), (0.0, 1.0, -3.0, 3.0)]:
        if symmetric and bits == 1:
            continue  # 1-bit symmetric signed has no positive code: compute_qparams refuses it
        qp = affine.compute_qparams(lo, hi, bits=bits, symmetric=symmetric)
        xv, yv = affine.staircase_vertices(x_min, x_max, qp)
        assert xv[0] == x_min and xv[-1] == x_max and np.all(np.diff(xv) >= 0)
        assert len(xv) <= 2 * (qp.qmax - qp.qmin) + 2
        t = np.linspace(x_min, x_max, 20_001)
        levels = dequantize(np.arange(qp.qmin, qp.qmax + 1), qp)
        jumps = (levels[:-1] + levels[1:]) / 2  # the graph is two-valued there: not compared
        t = t[np.min(np.abs(t[:, None] - jumps[None, :]), axis=1, initial=np.inf) > 1e-9] if jumps.size else t
        k = np.clip(np.searchsorted(xv, t, side="right") - 1, 0, len(xv) - 2)
        x0, x1, y0, y1 = xv[k], xv[k + 1], yv[k], yv[k + 1]
        interp = np.where(x1 > x0, y0 + (y1 - y0) * (t - x0) / np.where(x1 > x0, x1 - x0, 1), y0)
        np.testing.assert_allclose(interp, affine.fake_quantize(t, qp), rtol=0, atol=1e-12)


def test_staircase_vertices_bad_input():
    qp = affine.compute_qparams(-1.0, 1.0, bits=4)
    with pytest.raises(ValueError, match="x_min must be < x_max"):
        affine.staircase_vertices(1.0, 1.0, qp)
    with pytest.raises(ValueError, match="finite"):
        affine.staircase_vertices(float("nan"), 1.0, qp)
    per_channel = affine.compute_qparams(np.array([-1.0, -2.0]), np.array([1.0, 2.0]), bits=4, axis=0)
    with pytest.raises(ValueError, match="per-tensor"):
        affine.staircase_vertices(-1.0, 1.0, per_channel)

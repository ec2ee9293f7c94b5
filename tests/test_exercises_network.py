"""Lessons 07-10 tasks: each check accepts qlearn's reference and a second correct implementation written
differently, and rejects seeded wrong implementations with the right diagnosis."""
import numpy as np
from exercise_checks import rejects as _rejects
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import qlearn as ql
from qlearn.exercises import binary as ex_bin
from qlearn.exercises import per_channel as ex_pc
from qlearn.exercises import ptq as ex_ptq
from qlearn.exercises import qat as ex_qat
from qlearn.exercises.solutions import binary as sol_bin
from qlearn.exercises.solutions import qat as sol_qat


# -- 07 per-channel scales --------------------------------------------------------------------------
def test_per_channel_accepts_reference_and_a_row_loop():
    assert ex_pc.check_per_channel_scales(
        lambda W, bits: ql.ranges.affine.minmax_qparams(W, bits=bits, symmetric=True, axis=0).scale).passed

    def rows(W, bits=8):
        out = []
        for row in np.asarray(W, dtype=float):
            m = max(max(row), -min(row))
            out.append(m / ((1 << (bits - 1)) - 1) if m > 0 else 1.0)
        return np.array(out)

    assert ex_pc.check_per_channel_scales(rows).passed


def test_per_channel_diagnoses():
    amax = lambda W, axis=1: np.abs(np.asarray(W)).max(axis=axis)  # noqa: E731
    safe = lambda s: np.where(s > 0, s, 1.0)  # noqa: E731
    _rejects(ex_pc.check_per_channel_scales, lambda W, b: safe(amax(W) / 2 ** (b - 1)),
             "divided by 2**(bits-1) (128 at 8 bits) where qmax is 127")
    _rejects(ex_pc.check_per_channel_scales, lambda W, b: np.full(len(W), np.abs(W).max() / (2 ** (b - 1) - 1)),
             "one scale for the whole tensor")
    _rejects(ex_pc.check_per_channel_scales, lambda W, b: safe(amax(W, 0) / (2 ** (b - 1) - 1)), "axis=1")
    _rejects(ex_pc.check_per_channel_scales, lambda W, b: safe(np.max(W, axis=1) / (2 ** (b - 1) - 1)),
             "max(W), not max(|W|)")
    _rejects(ex_pc.check_per_channel_scales, lambda W, b: amax(W) / (2 ** (b - 1) - 1), "only zeros")


# -- 08 int32 bias ----------------------------------------------------------------------------------
def test_quantize_bias_accepts_reference_and_a_two_step_division():
    assert ex_ptq.check_quantize_bias(ql.hardware.intops.quantize_bias).passed

    def two_steps(b, x_scale, w_scale):
        return np.array([round(v) for v in np.asarray(b, float) / x_scale / np.broadcast_to(w_scale, np.shape(b))])

    assert ex_ptq.check_quantize_bias(two_steps).passed


def test_quantize_bias_diagnoses():
    _rejects(ex_ptq.check_quantize_bias, lambda b, sx, sw: np.round(np.asarray(b) / sw), "weight scale only")
    _rejects(ex_ptq.check_quantize_bias, lambda b, sx, sw: np.round(np.asarray(b) / sx), "input scale only")
    _rejects(ex_ptq.check_quantize_bias,
             lambda b, sx, sw: np.clip(np.round(np.asarray(b) / (sx * np.asarray(sw))), -128, 127), "int8")
    _rejects(ex_ptq.check_quantize_bias, lambda b, sx, sw: (np.asarray(b) / (sx * np.asarray(sw))).astype(int),
             "truncate")


# -- 09 STE -----------------------------------------------------------------------------------------
def test_ste_accepts_reference_and_a_fake_quantize_based_mask():
    assert ex_qat.check_ste_grad(lambda x, s, z, lo, hi: ql.networks.qat.ste_grad(x, ql.QParams(s, z, lo, hi))).passed

    def via_unclipped(x, scale, zero_point, qmin, qmax):  # clipped iff clipping changed the code
        raw = np.rint(np.asarray(x, float) / scale) + zero_point
        return (np.clip(raw, qmin, qmax) == raw) * 1.0

    assert ex_qat.check_ste_grad(via_unclipped).passed


def test_ste_diagnoses():
    _rejects(ex_qat.check_ste_grad, lambda x, s, z, lo, hi: np.ones_like(np.asarray(x, float)), "pass every gradient")
    _rejects(ex_qat.check_ste_grad, lambda x, s, z, lo, hi: np.zeros(len(x)), "true derivative")
    _rejects(ex_qat.check_ste_grad,
             lambda x, s, z, lo, hi: ((np.asarray(x) >= s * (lo - z)) & (np.asarray(x) <= s * (hi - z))) * 1.0,
             "half a step")
    _rejects(ex_qat.check_ste_grad,
             lambda x, s, z, lo, hi: ((np.rint(np.asarray(x) / s) + z > lo)
                                      & (np.rint(np.asarray(x) / s) + z < hi)) * 1.0,
             "strict")
    _rejects(ex_qat.check_ste_grad,
             lambda x, s, z, lo, hi: ((np.rint(np.asarray(x) / s) >= lo) & (np.rint(np.asarray(x) / s) <= hi)) * 1.0,
             "zero point")


@settings(max_examples=100, deadline=None)
@given(arrays(np.float64, st.integers(1, 30), elements=st.floats(-10, 10)), st.floats(0.01, 2.0),
       st.integers(-3, 3))
def test_ste_solution_equals_qlearn(x, scale, zp):
    qp = ql.QParams(scale, zp, -8, 7)
    np.testing.assert_array_equal(sol_qat.ste_grad(x, scale, zp, -8, 7), ql.networks.qat.ste_grad(x, qp))


# -- 10 XNOR ----------------------------------------------------------------------------------------
def test_xnor_accepts_reference_and_a_least_squares_implementation():
    assert ex_bin.check_xnor_binarize(lambda W: ql.numbers.nonuniform.binarize(W, axis=0)).passed

    def least_squares(W):  # alpha = <W, B> / n per row: the minimiser of ||W - alpha B||^2
        W = np.asarray(W, dtype=float)
        B = np.sign(W) + (W == 0)
        alpha = np.einsum("ij,ij->i", W, B) / W.shape[1]
        return alpha, B

    assert ex_bin.check_xnor_binarize(least_squares).passed


def test_xnor_diagnoses():
    B = lambda W: np.where(np.asarray(W) >= 0, 1, -1)  # noqa: E731
    _rejects(ex_bin.check_xnor_binarize, lambda W: (np.abs(W).max(axis=1), B(W)), "largest |W|")
    _rejects(ex_bin.check_xnor_binarize, lambda W: (np.mean(W, axis=1), B(W)), "mean of W, not of |W|")
    _rejects(ex_bin.check_xnor_binarize, lambda W: (np.abs(W).mean(axis=1), np.sign(W)), "np.sign(0) is 0")
    _rejects(ex_bin.check_xnor_binarize, lambda W: (np.full(len(W), np.abs(W).mean()), B(W)), "whole tensor")


@settings(max_examples=100, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 6)), elements=st.floats(-5, 5)))
def test_xnor_solution_equals_qlearn(W):
    a, b = sol_bin.xnor_binarize(W)
    ra, rb = ql.numbers.nonuniform.binarize(W, axis=0)
    np.testing.assert_allclose(a, ra, rtol=1e-12)
    np.testing.assert_array_equal(b, rb)

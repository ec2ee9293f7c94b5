"""Lessons 11-13 tasks: each check accepts qlearn's reference and a second correct implementation written
differently, and rejects seeded wrong implementations with the right diagnosis."""
import math
from fractions import Fraction

import numpy as np
from exercise_checks import rejects as _rejects
from hypothesis import given, settings
from hypothesis import strategies as st

import qlearn as ql
from qlearn.exercises import intops as ex_int
from qlearn.exercises import systolic as ex_sys
from qlearn.exercises import tpu as ex_tpu
from qlearn.exercises.solutions import intops as sol_int
from qlearn.exercises.solutions import systolic as sol_sys


# -- 11 quantize_multiplier, rounding shift ---------------------------------------------------------
def test_quantize_multiplier_accepts_reference_and_an_exact_fraction_implementation():
    assert ex_int.check_quantize_multiplier(ql.hardware.intops.quantize_multiplier).passed

    def exact(M):  # with Fractions and a loop that normalises M into [0.5, 1)
        if M == 0:
            return 0, 0
        f, shift = Fraction(M), 0
        while f >= 1:
            f, shift = f / 2, shift + 1
        while f < Fraction(1, 2):
            f, shift = f * 2, shift - 1
        v = f * 2**31
        m0 = math.floor(v + Fraction(1, 2))  # half away from zero for v > 0
        if m0 == 2**31:
            m0, shift = m0 // 2, shift + 1
        return m0, shift

    assert ex_int.check_quantize_multiplier(exact).passed


def _qm(M, rnd):
    if M == 0:
        return 0, 0
    q, s = math.frexp(M)
    m0 = rnd(q * 2**31)
    if m0 == 2**31:
        m0, s = m0 // 2, s + 1
    return m0, s


def test_quantize_multiplier_diagnoses():
    _rejects(ex_int.check_quantize_multiplier, lambda M: _qm(M, round), "Ties go to even")
    _rejects(ex_int.check_quantize_multiplier, lambda M: _qm(M, int), "truncate")

    def no_renorm(M):
        if M == 0:
            return 0, 0
        q, s = math.frexp(M)
        return int(math.floor(q * 2**31 + 0.5)), s

    _rejects(ex_int.check_quantize_multiplier, no_renorm, "does not fit int32")

    def neg_shift(M):
        m0, s = sol_int.quantize_multiplier(M)
        return m0, -s

    _rejects(ex_int.check_quantize_multiplier, neg_shift, "opposite sign")

    def via_log2(M):  # q in [1, 2) and forgets the +1
        e = math.floor(math.log2(M))
        m0 = int(math.floor(M / 2**e * 2**30 + 0.5))
        return m0, e

    _rejects(ex_int.check_quantize_multiplier, via_log2, "one too small")

    def fails_on_zero(M):
        q, s = math.frexp(M)
        if q == 0:
            raise ValueError("math domain error")
        return sol_int.quantize_multiplier(M)

    _rejects(ex_int.check_quantize_multiplier, fails_on_zero, "ValueError", "return (0, 0)")


def test_rounding_divide_by_pot_accepts_reference_and_a_python_int_implementation():
    assert ex_int.check_rounding_divide_by_pot(ql.hardware.intops.rounding_divide_by_pot).passed

    def with_fractions(x, exponent):
        out = []
        for v in np.asarray(x).tolist():
            f = Fraction(v, 2**exponent)
            out.append(int(math.copysign(math.floor(abs(f) + Fraction(1, 2)), f)))
        return np.array(out)

    assert ex_int.check_rounding_divide_by_pot(with_fractions).passed


def test_rounding_divide_by_pot_diagnoses():
    _rejects(ex_int.check_rounding_divide_by_pot, lambda x, e: np.asarray(x) >> e, "x >> exponent")
    _rejects(ex_int.check_rounding_divide_by_pot, lambda x, e: np.round(np.asarray(x) / 2**e), "Ties go to even")
    _rejects(ex_int.check_rounding_divide_by_pot, lambda x, e: np.trunc(np.asarray(x) / 2**e), "truncate toward zero")
    _rejects(ex_int.check_rounding_divide_by_pot,
             lambda x, e: np.floor(np.asarray(x, dtype=float) / 2**e + 0.5), "Ties go up")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-(2**31), 2**31 - 1), min_size=1, max_size=10), st.integers(0, 31))
def test_rounding_shift_solution_equals_qlearn(x, e):
    np.testing.assert_array_equal(sol_int.rounding_divide_by_pot(x, e), ql.hardware.intops.rounding_divide_by_pot(x, e))


# -- 12 weight-stationary cycles --------------------------------------------------------------------
def test_ws_cycles_accepts_reference_and_a_fold_by_fold_count():
    assert ex_sys.check_ws_cycles(lambda M, K, N, r, c: ql.hardware.systolic.cycle_count(M, K, N, r, c)).passed

    def fold_by_fold(M, K, N, rows, cols):
        total = 0
        for _k0 in range(0, K, rows):
            for _n0 in range(0, N, cols):
                total += rows          # load this tile's weights
                total += M + rows + cols - 2
        return total

    assert ex_sys.check_ws_cycles(fold_by_fold).passed


def test_ws_cycles_diagnoses():
    _rejects(ex_sys.check_ws_cycles, lambda M, K, N, R, C: 2 * R + C + M - 2, "one fold")
    _rejects(ex_sys.check_ws_cycles, lambda M, K, N, R, C: (K // R) * (N // C) * (2 * R + C + M - 2), "down (//)")
    _rejects(ex_sys.check_ws_cycles,
             lambda M, K, N, R, C: math.ceil(N / R) * math.ceil(K / C) * (2 * R + C + M - 2), "N over the rows")
    _rejects(ex_sys.check_ws_cycles,
             lambda M, K, N, R, C: math.ceil(K / R) * math.ceil(N / C) * (R + C + M - 2), "load each fold")


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 500), st.integers(1, 500), st.integers(1, 500), st.integers(1, 64), st.integers(1, 64))
def test_ws_solution_equals_qlearn(M, K, N, R, C):
    assert sol_sys.ws_cycles(M, K, N, R, C) == ql.hardware.systolic.cycle_count(M, K, N, R, C)


# -- 13 roofline ------------------------------------------------------------------------------------
def test_roofline_accepts_a_piecewise_implementation():
    def piecewise(intensity, peak_tops, bandwidth):
        i = np.asarray(intensity, dtype=float)
        ridge = peak_tops * 1e12 / (2 * bandwidth)
        return np.where(i < ridge, i / ridge * peak_tops, peak_tops)

    assert ex_tpu.check_attainable_tops(piecewise).passed
    assert ex_tpu.check_ridge_point(lambda p, bw: (p / 2) * (1e12 / bw)).passed


def test_the_checks_reference_is_the_papers_tpu():
    v1 = ql.hardware.tpu.TPU_V1
    assert ex_tpu._ref_ridge(v1.peak_tops, v1.weight_bandwidth) == v1.ridge_point
    assert float(ex_tpu._ref_tops(200.0, v1.peak_tops, v1.weight_bandwidth)) == float(ql.hardware.tpu.roofline(200.0))


def test_roofline_diagnoses():
    _rejects(ex_tpu.check_attainable_tops, lambda i, p, bw: np.minimum(p, np.asarray(i) * bw / 1e12), "MAC as one op")
    _rejects(ex_tpu.check_attainable_tops, lambda i, p, bw: np.maximum(p, 2 * np.asarray(i) * bw / 1e12), "max")
    _rejects(ex_tpu.check_attainable_tops, lambda i, p, bw: 2 * np.asarray(i) * bw / 1e12, "roof")
    _rejects(ex_tpu.check_attainable_tops, lambda i, p, bw: np.minimum(p * 1e12, 2 * np.asarray(i) * bw), "ops/s")
    _rejects(ex_tpu.check_ridge_point, lambda p, bw: p * 1e12 / bw, "twice")
    _rejects(ex_tpu.check_ridge_point, lambda p, bw: 2 * bw / (p * 1e12), "upside down")
    _rejects(ex_tpu.check_ridge_point, lambda p, bw: p / (2 * bw), "units")

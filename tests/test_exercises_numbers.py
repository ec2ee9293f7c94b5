"""Lessons 02-06 tasks: each check accepts qlearn's reference and a second correct implementation written
differently, and rejects seeded wrong implementations with the right diagnosis."""
import math
from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np
import pytest
from exercise_checks import rejects as _rejects
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import qlearn as ql
from qlearn.exercises import affine as ex_affine
from qlearn.exercises import calibration as ex_cal
from qlearn.exercises import fixed_point as ex_fixed
from qlearn.exercises import rounding as ex_round
from qlearn.exercises import snr as ex_snr
from qlearn.exercises.solutions import affine as sol_affine
from qlearn.exercises.solutions import rounding as sol_round


# -- 02 round half to even ------------------------------------------------------------------------
def test_round_half_even_accepts_reference_and_a_decimal_implementation():
    assert ex_round.check_round_half_even(lambda x: ql.round_(x, "half_even")).passed

    def with_decimal(x):  # exact decimal arithmetic, one value at a time
        a = np.asarray(x, dtype=float)
        out = [float(Decimal(v).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)) for v in a.ravel()]
        return np.array(out).reshape(a.shape)

    assert ex_round.check_round_half_even(with_decimal).passed


def test_round_half_even_diagnoses():
    _rejects(ex_round.check_round_half_even, lambda x: np.floor(np.asarray(x) + 0.5), "Ties go up")
    _rejects(ex_round.check_round_half_even,
             lambda x: np.vectorize(lambda v: math.copysign(math.floor(abs(v) + 0.5), v))(x), "Ties go away from zero")
    _rejects(ex_round.check_round_half_even, lambda x: np.asarray(x).astype(int).astype(float), "truncate toward zero")
    _rejects(ex_round.check_round_half_even, np.floor, "round down (floor)")
    _rejects(ex_round.check_round_half_even, lambda x: np.ceil(np.asarray(x) - 0.5), "Ties go down")

    def floor_plus_half_with_tie_fix(x):
        x = np.asarray(x, dtype=float)
        r = np.floor(x + 0.5)
        return np.where((x % 1 == 0.5) & (r % 2 == 1), r - 1, r)

    _rejects(ex_round.check_round_half_even, floor_plus_half_with_tie_fix, "0.49999999999999994")


@settings(max_examples=200, deadline=None)
@given(arrays(np.float64, st.integers(0, 20), elements=st.floats(-1e6, 1e6)))
def test_round_half_even_solution_equals_qlearn(x):
    np.testing.assert_array_equal(sol_round.round_half_even(x), ql.round_(x, "half_even"))


# -- 03 compute_qparams, quantize -------------------------------------------------------------------
def test_compute_qparams_accepts_reference_and_a_fraction_implementation():
    def ref(x_min, x_max, bits=8, signed=True):
        qp = ql.compute_qparams(x_min, x_max, bits=bits, signed=signed)
        return qp.scale, qp.zero_point

    assert ex_affine.check_compute_qparams(ref).passed

    def other(x_min, x_max, bits=8, signed=True):  # levels counted from the top, zero point via the high end
        qmax = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1
        qmin = qmax - ((1 << bits) - 1)
        lo, hi = (x_min if x_min < 0 else 0.0), (x_max if x_max > 0 else 0.0)
        if hi == lo:
            return 1.0, int(np.clip(qmin, qmin, qmax))
        scale = (hi - lo) / ((1 << bits) - 1)
        return scale, int(min(max(round(qmin - lo / scale), qmin), qmax))

    assert ex_affine.check_compute_qparams(other).passed


def test_compute_qparams_diagnoses():
    def not_rounded(x_min, x_max, bits=8, signed=True):
        qmin, qmax = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
        lo, hi = min(x_min, 0), max(x_max, 0)
        scale = (hi - lo) / (qmax - qmin) or 1.0
        return scale, qmin - lo / scale

    _rejects(ex_affine.check_compute_qparams, not_rounded, "zero point is not an integer")

    def by_256(x_min, x_max, bits=8, signed=True):
        qmin, qmax = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
        lo, hi = min(x_min, 0), max(x_max, 0)
        scale = (hi - lo) / 2**bits or 1.0
        return scale, int(np.clip(round(qmin - lo / scale), qmin, qmax))

    _rejects(ex_affine.check_compute_qparams, by_256, "divided by 2**bits", "qmax - qmin")

    def not_widened(x_min, x_max, bits=8, signed=True):
        qmin, qmax = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
        scale = (x_max - x_min) / (qmax - qmin) or 1.0
        return scale, int(np.clip(round(qmin - x_min / scale), qmin, qmax))

    _rejects(ex_affine.check_compute_qparams, not_widened, "did not widen the range to contain 0")

    def zero_division(x_min, x_max, bits=8, signed=True):
        qmin, qmax = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
        lo, hi = min(x_min, 0), max(x_max, 0)
        scale = (hi - lo) / (qmax - qmin)
        return scale, int(np.clip(round(qmin - lo / scale), qmin, qmax))

    _rejects(ex_affine.check_compute_qparams, zero_division, "ZeroDivisionError", "scale = 1.0")

    def wrong_sign(x_min, x_max, bits=8, signed=True):
        qmin, qmax = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
        lo, hi = min(x_min, 0), max(x_max, 0)
        scale = (hi - lo) / (qmax - qmin) or 1.0
        return scale, int(np.clip(round(qmin + lo / scale), qmin, qmax))

    _rejects(ex_affine.check_compute_qparams, wrong_sign, "wrong sign")


def test_quantize_accepts_reference_and_a_loop_implementation():
    assert ex_affine.check_quantize(
        lambda x, s, z, lo, hi: ql.quantize(x, ql.QParams(s, z, lo, hi))).passed

    def loop(x, scale, zero_point, qmin, qmax):
        return np.array([min(max(round(v / scale) + zero_point, qmin), qmax) for v in np.asarray(x, float)])

    assert ex_affine.check_quantize(loop).passed


def test_quantize_diagnoses():
    f = lambda x: np.asarray(x, dtype=float)  # noqa: E731
    _rejects(ex_affine.check_quantize, lambda x, s, z, lo, hi: np.clip(np.rint(f(x) / s), lo, hi) + z,
             "clip before adding the zero point")
    _rejects(ex_affine.check_quantize, lambda x, s, z, lo, hi: np.rint(f(x) / s) + z, "do not clip")
    _rejects(ex_affine.check_quantize, lambda x, s, z, lo, hi: np.clip((f(x) / s).astype(int) + z, lo, hi),
             "truncate")
    _rejects(ex_affine.check_quantize, lambda x, s, z, lo, hi: np.clip(np.round(f(x) * s) + z, lo, hi),
             "multiplied by the scale")
    _rejects(ex_affine.check_quantize, lambda x, s, z, lo, hi: np.clip(np.rint(f(x) / s) - z, lo, hi),
             "subtracted the zero point")
    _rejects(ex_affine.check_quantize,
             lambda x, s, z, lo, hi: np.clip(np.sign(f(x)) * np.floor(np.abs(f(x) / s) + 0.5) + z, lo, hi),
             "Ties go away from zero")


@settings(max_examples=100, deadline=None)
@given(st.floats(-100, 0), st.floats(0, 100), st.integers(2, 16), st.booleans())
def test_compute_qparams_solution_equals_qlearn(lo, hi, bits, signed):
    qp = ql.compute_qparams(lo, hi, bits=bits, signed=signed)
    scale, zp = sol_affine.compute_qparams(lo, hi, bits, signed)
    assert scale == pytest.approx(qp.scale, rel=1e-12) and zp == qp.zero_point


# -- 04 percentile, KL ------------------------------------------------------------------------------
def test_percentile_accepts_observer_and_a_sorting_implementation():
    assert ex_cal.check_percentile_amax(
        lambda x, p: ql.ranges.observers.PercentileObserver(percentile=p, symmetric=True).fit(x).amax_).passed

    def by_sorting(x, percentile):  # linear interpolation between order statistics, by hand
        a = np.sort(np.abs(np.asarray(x, dtype=float)))
        pos = percentile / 100 * (a.size - 1)
        i = int(np.floor(pos))
        j = min(i + 1, a.size - 1)
        return a[i] + (pos - i) * (a[j] - a[i])

    assert ex_cal.check_percentile_amax(by_sorting).passed


def test_percentile_diagnoses():
    _rejects(ex_cal.check_percentile_amax, lambda x, p: np.abs(x).max(), "max|x|")
    _rejects(ex_cal.check_percentile_amax, lambda x, p: np.percentile(x, p), "percentile of x, not of |x|")
    _rejects(ex_cal.check_percentile_amax, lambda x, p: np.percentile(np.abs(x), p / 100),
             "divided the percentile by 100")
    _rejects(ex_cal.check_percentile_amax, lambda x, p: np.quantile(np.abs(x), p), "ValueError")
    _rejects(ex_cal.check_percentile_amax, lambda x, p: np.percentile(np.square(x), p), "x**2")


def test_kl_accepts_a_loop_implementation():
    def loop(P, Q):
        total = 0.0
        for p, q in zip(P, Q):
            if p > 0:
                if q == 0:
                    return math.inf
                total += p * math.log(p / q)
        return total

    assert ex_cal.check_kl_divergence(loop).passed


def test_kl_diagnoses():
    def log2(P, Q):
        P, Q = np.asarray(P), np.asarray(Q)
        m = P > 0
        return np.sum(P[m] * np.log2(P[m] / Q[m]))

    _rejects(ex_cal.check_kl_divergence, log2, "log base 2")

    def reversed_kl(P, Q):
        P, Q = np.asarray(P), np.asarray(Q)
        m = Q > 0
        with np.errstate(divide="ignore"):
            return np.sum(Q[m] * np.log(Q[m] / P[m]))

    _rejects(ex_cal.check_kl_divergence, reversed_kl, "KL(Q || P)")
    _rejects(ex_cal.check_kl_divergence, lambda P, Q: np.sum(np.asarray(P) * np.log(np.asarray(P) / np.asarray(Q))),
             "nan")

    def smoothed(P, Q):
        P, Q = np.asarray(P), np.asarray(Q)
        m = (P > 0) & (Q > 0)
        return np.sum(P[m] * np.log(P[m] / Q[m]))

    _rejects(ex_cal.check_kl_divergence, smoothed, "infinite")


# -- 05 SQNR ----------------------------------------------------------------------------------------
def test_sqnr_accepts_reference_and_a_mean_based_implementation():
    assert ex_snr.check_sqnr_db(ql.sqnr_db).passed

    def via_means(x, x_hat):
        x, x_hat = np.asarray(x, float), np.asarray(x_hat, float)
        noise = np.mean((x - x_hat) ** 2)
        return math.inf if noise == 0 else 20 * math.log10(math.sqrt(np.mean(x**2)) / math.sqrt(noise))

    assert ex_snr.check_sqnr_db(via_means).passed


def test_sqnr_diagnoses():
    def power(a):
        return float(np.sum(np.square(a)))

    _rejects(ex_snr.check_sqnr_db,
             lambda x, xh: 20 * np.log10(power(x) / max(power(np.subtract(x, xh)), 1e-300)), "20 log10")
    _rejects(ex_snr.check_sqnr_db,
             lambda x, xh: 10 * np.log10(max(power(np.subtract(x, xh)), 1e-300) / power(x)), "upside down")
    _rejects(ex_snr.check_sqnr_db,
             lambda x, xh: 10 * np.log10(np.var(x) / max(np.mean(np.square(np.subtract(x, xh))), 1e-300)),
             "variance")
    _rejects(ex_snr.check_sqnr_db, lambda x, xh: 10 * np.log10(power(x) / power(np.subtract(x, xh))), "np.inf")


# -- 06 Qm.n ----------------------------------------------------------------------------------------
def test_to_fixed_accepts_reference_and_an_integer_implementation():
    assert ex_fixed.check_to_fixed(
        lambda x, m, n: ql.numbers.fixed.quantize_fixed(x, ql.numbers.fixed.FixedFormat(1 + m + n, n))[0]).passed

    def with_ints(x, int_bits, frac_bits):
        out = []
        for v in np.asarray(x, dtype=float):
            q = round(v * (1 << frac_bits))  # Python's round: half to even
            top = (1 << (int_bits + frac_bits)) - 1
            q = max(-top - 1, min(top, q))
            out.append(q / (1 << frac_bits))
        return np.array(out)

    assert ex_fixed.check_to_fixed(with_ints).passed


def test_to_fixed_diagnoses():
    code = lambda x, n: np.rint(np.asarray(x, float) * 2.0**n)  # noqa: E731

    def wrap(x, m, n):
        w = 1 + m + n
        q = (code(x, n).astype(np.int64) + 2 ** (w - 1)) % 2**w - 2 ** (w - 1)
        return q / 2.0**n

    _rejects(ex_fixed.check_to_fixed, wrap, "wrap around")
    _rejects(ex_fixed.check_to_fixed, lambda x, m, n: np.clip(code(x, n) / 2.0**n, -(2.0**m), 2.0**m),
             "Your largest value is 2**int_bits")
    _rejects(ex_fixed.check_to_fixed,
             lambda x, m, n: np.clip(code(x, n) / 2.0**n, -(2.0**m - 2.0**-n), 2.0**m - 2.0**-n),
             "one more negative code")
    _rejects(ex_fixed.check_to_fixed,
             lambda x, m, n: np.clip(np.floor(np.asarray(x) * 2.0**n), -(2.0 ** (m + n)), 2.0 ** (m + n) - 1) / 2.0**n,
             "round down (floor)")

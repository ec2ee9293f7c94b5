"""qlearn.ranges.metrics: exact small cases and the textbook sine-wave SQNR."""
import math

import numpy as np
import pytest

from qlearn.ranges import affine
from qlearn.ranges.metrics import mse, sqnr_db, theoretical_sqnr_db


def test_mse_and_sqnr_exact():
    assert mse([1.0, 2.0], [1.0, 4.0]) == 2.0
    assert sqnr_db([3.0, 4.0], [3.0, 4.0]) == math.inf
    # signal power 25, noise power 0.25 -> 20 dB
    assert sqnr_db([3.0, 4.0], [3.5, 4.0]) == pytest.approx(10 * math.log10(25 / 0.25))


def test_theoretical_formula_is_6_02_n_plus_1_76():
    for n in range(1, 33):
        assert theoretical_sqnr_db(n) == pytest.approx(6.0206 * n + 1.7609, abs=1e-3 * n + 1e-3)


@pytest.mark.parametrize("bits", [12, 16])
def test_full_scale_sine_matches_theory(bits):
    # a full-scale sine (uniform random phase) through a mid-rise uniform quantizer; at low bit
    # widths the arcsine density piles samples into the edge bins and the error is no longer
    # uniform, so the textbook formula is checked where its assumption holds
    x = np.sin(2 * np.pi * np.random.default_rng(0).random(400_000))
    qp = affine.QParams(2.0 / 2**bits, 0, -(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    # mid-rise: shift by half a step so that levels sit at odd multiples of step/2
    x_hat = affine.fake_quantize(x - qp.scale / 2, qp) + qp.scale / 2
    assert sqnr_db(x, x_hat) == pytest.approx(theoretical_sqnr_db(bits), abs=0.05)


def test_bad_input():
    with pytest.raises(ValueError, match="same shape"):
        mse([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="empty"):
        mse([], [])
    with pytest.raises(ValueError, match="NaN or inf"):
        sqnr_db([1.0, np.nan], [1.0, 1.0])
    with pytest.raises(ValueError, match="all zeros"):
        sqnr_db([0.0, 0.0], [0.1, 0.0])
    with pytest.raises(ValueError, match=r"bits must be in \[1, 64\]"):
        theoretical_sqnr_db(0)
    with pytest.raises(TypeError, match="bits must be an integer"):
        theoretical_sqnr_db(8.5)

"""The numbers lessons 02 and 03 state, asserted outside Jupyter (an upgrade that moves them fails here)."""
import numpy as np
import pytest

import qlearn as ql
from qlearn import affine, rounding


def test_lesson02_error_statistics():
    x = np.linspace(0, 50, 10_001)
    s = {m: rounding.error_stats(x, m, rng=np.random.default_rng(0)) for m in ql.ROUNDING_MODES}
    assert s["half_even"]["rms"] == pytest.approx(12**-0.5, abs=1e-3)
    assert s["toward_zero"]["mean"] == pytest.approx(-0.5, abs=0.01)
    assert s["stochastic"]["rms"] == pytest.approx(6**-0.5, abs=0.01)
    halves = np.arange(-100, 100, 0.5)
    assert rounding.error_stats(halves, "half_even")["mean"] == 0.0
    assert rounding.error_stats(halves, "half_up")["mean"] == 0.25


def test_lesson02_accumulation():
    updates = np.full(2000, 0.1)
    assert rounding.accumulate(updates, mode="half_even")[-1] == 0.0
    assert rounding.accumulate(updates, mode="toward_zero")[-1] == 0.0
    st = rounding.accumulate(updates, mode="stochastic", rng=np.random.default_rng(1))[-1]
    assert abs(st - 200) < 5 * np.sqrt(2000 * 0.09)
    # exercise 2: 0.5 is a tie that rounds to even (0); 0.51 survives
    assert rounding.accumulate(np.full(10, 0.5), mode="half_even")[-1] == 0.0
    assert rounding.accumulate(np.full(10, 0.51), mode="half_even")[-1] == 10.0


def test_lesson03_numbers():
    qp = ql.compute_qparams(-1.0, 3.0, bits=8, signed=False)
    assert list(ql.quantize([-1.0, 0.0, 0.5, 3.0, 7.0], qp)) == [0, 64, 96, 255, 255]
    assert ql.compute_qparams(-0.3, 0.9, bits=8, signed=False).zero_point == 64
    data = np.random.default_rng(0).normal(size=100_000)
    mse = {c: affine.quantization_error(data, ql.compute_qparams(-c, c, bits=4, symmetric=True))["mse"]
           for c in (1.5, 2.5, 4.0)}
    assert min(mse, key=mse.get) == 2.5
    relu = np.maximum(np.random.default_rng(1).normal(size=100_000), 0)
    sym = ql.sqnr_db(relu, ql.fake_quantize(relu, affine.minmax_qparams(relu, symmetric=True)))
    asym = ql.sqnr_db(relu, ql.fake_quantize(relu, affine.minmax_qparams(relu)))
    # one bit of resolution is 20 log10(2) = 6.02 dB
    assert asym - sym == pytest.approx(6.02, abs=0.5)

"""The numbers lessons 02 and 03 state, asserted outside Jupyter (an upgrade that moves them fails here)."""
import numpy as np
import pytest

import qlearn as ql
from qlearn.numbers import rounding
from qlearn.ranges import affine


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


def test_lesson02_prose_figures():
    x = np.linspace(0, 50, 10_001)
    s = {m: rounding.error_stats(x, m) for m in ("half_even", "floor", "toward_zero")}
    # floor and truncation: the same uniform error shifted by half a step, so rms sqrt(1/3) = 2 / sqrt(12)
    for m in ("floor", "toward_zero"):
        assert s[m]["rms"] / s["half_even"]["rms"] == pytest.approx(2, abs=0.01)
    halves = np.arange(-100, 100, 0.5)
    assert rounding.error_stats(halves, "half_away")["mean"] == 0.0      # symmetric data only
    assert rounding.error_stats(halves[halves > 0], "half_away")["mean"] > 0
    lost = float(np.sum(ql.round_(x, "toward_zero")) - np.sum(x))
    assert lost / x.size == pytest.approx(-0.5, abs=0.01) and lost < -4900
    # past half a step, round-to-nearest moves a full step per update
    assert list(rounding.accumulate(np.full(10, 0.6), mode="half_even")) == list(range(1, 11))
    # truncate is toward zero, like a C cast (lesson 06 relies on this definition)
    assert list(ql.round_([-2.5, -1.7, 1.7, 2.5], "toward_zero")) == [-2, -1, 1, 2]


def test_lesson03_prose_figures():
    # the staircase explorer's default: 3 bits over [-1, 2.5]: 8 treads, step 3.5 / 7 = 0.5
    qp = ql.compute_qparams(-1.0, 2.5, bits=3)
    assert qp.scale == 0.5 and qp.qmax - qp.qmin + 1 == 8
    sym = ql.compute_qparams(-1.0, 2.5, bits=3, symmetric=True)
    assert sym.zero_point == 0 and sym.scale * sym.qmax == pytest.approx(2.5) and sym.scale > qp.scale
    assert ql.quantize(-1.0, sym) == -1 and sym.qmin == -4     # codes -4..-2 unused by this data
    with pytest.raises(ValueError, match="bits >= 2"):            # 1 bit symmetric signed: no positive code
        ql.compute_qparams(-1.0, 2.5, bits=1, symmetric=True)
    # a zero point of 63.75 would put 0.0 a quarter of a step away
    s = 4 / 255
    assert s * (round(1.0 / s) - 1.0 / s) == pytest.approx(0.25 * s, abs=1e-15)
    # mid-tread (this lesson) vs mid-rise (lessons 04, 05) steps for a 4-bit clip at +-2.5
    assert ql.compute_qparams(-2.5, 2.5, bits=4, symmetric=True).scale == pytest.approx(2.5 / 7)
    assert ql.ranges.snr.step_size(4, 2.5) == 5 / 16
    assert 0.0 in ql.fake_quantize(np.linspace(-2.5, 2.5, 101), ql.compute_qparams(-2.5, 2.5, bits=4, symmetric=True))
    assert 0.0 not in ql.ranges.snr.uniform_quantize(np.linspace(-2.5, 2.5, 101), 4, 2.5)
    data = np.random.default_rng(0).normal(size=100_000)
    e = {c: affine.quantization_error(data, ql.compute_qparams(-c, c, bits=4, symmetric=True)) for c in (1.5, 2.5, 4.0)}
    assert e[4.0]["rounding_mse"] > 2 * e[2.5]["mse"] and 0.08 < e[1.5]["clipped_fraction"] < 0.095

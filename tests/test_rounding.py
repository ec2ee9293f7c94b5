"""qlearn.numbers.rounding against Python's decimal module and exact fractions."""
import decimal
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qlearn.numbers.rounding import ROUNDING_MODES, round_

finite = st.one_of(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False),
                   st.floats(allow_nan=False, allow_infinity=False))

DECIMAL_MODE = {
    "half_even": decimal.ROUND_HALF_EVEN,
    "half_away": decimal.ROUND_HALF_UP,  # decimal's HALF_UP rounds ties away from zero
    "floor": decimal.ROUND_FLOOR,
    "ceil": decimal.ROUND_CEILING,
    "toward_zero": decimal.ROUND_DOWN,
}


def reference(x: float, mode: str) -> float:
    if mode == "half_up":  # ties toward +inf, exactly: floor(x + 1/2)
        return float(math.floor(Fraction(x) + Fraction(1, 2)))
    d = decimal.Decimal(x)  # exact binary value
    with decimal.localcontext() as ctx:
        ctx.prec = 400  # enough digits for any float64 integer part
        return float(d.quantize(decimal.Decimal(1), rounding=DECIMAL_MODE[mode]))


TIES = [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, 1e15 + 0.5]


@pytest.mark.parametrize("mode", [m for m in ROUNDING_MODES if m != "stochastic"])
def test_ties_and_simple_values_match_reference(mode):
    xs = TIES + [-1.7, -0.2, 0.0, 0.2, 1.7, 123.456, -1e-300]
    got = round_(np.array(xs), mode)
    want = [reference(x, mode) for x in xs]
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("mode", [m for m in ROUNDING_MODES if m != "stochastic"])
@given(x=finite)
def test_matches_reference_everywhere(mode, x):
    assert round_(x, mode) == reference(x, mode)


def test_known_values():
    np.testing.assert_array_equal(round_([0.5, 1.5, 2.5], "half_even"), [0, 2, 2])
    np.testing.assert_array_equal(round_([-0.5, 0.5], "half_up"), [0, 1])
    np.testing.assert_array_equal(round_([-0.5, 0.5], "half_away"), [-1, 1])


@given(x=finite, seed=st.integers(0, 2**32 - 1))
def test_stochastic_lands_on_a_neighbour(x, seed):
    r = round_(x, "stochastic", rng=np.random.default_rng(seed))
    assert r in (math.floor(x), math.ceil(x))


def test_stochastic_is_unbiased():
    rng = np.random.default_rng(0)
    x = np.full(200_000, 0.3)
    r = round_(x, "stochastic", rng=rng)
    # binomial: std of the mean = sqrt(0.3 * 0.7 / n) ~ 0.001; 5 sigma
    assert abs(r.mean() - 0.3) < 5 * math.sqrt(0.21 / x.size)
    # deterministic modes are biased on the same data
    assert round_(x, "half_even").mean() == 0.0


def test_stochastic_is_deterministic_given_seed():
    x = np.linspace(-3, 3, 101)
    a = round_(x, "stochastic", rng=np.random.default_rng(7))
    b = round_(x, "stochastic", rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)


def test_integers_are_fixed_points():
    x = np.arange(-5, 6, dtype=float)
    for mode in ROUNDING_MODES:
        np.testing.assert_array_equal(round_(x, mode, rng=np.random.default_rng(0)), x)


def test_bad_input():
    with pytest.raises(ValueError, match="mode must be one of"):
        round_(1.0, "nearest")
    with pytest.raises(ValueError, match="NaN or inf"):
        round_([1.0, np.nan])
    with pytest.raises(ValueError, match="NaN or inf"):
        round_(np.inf)
    with pytest.raises(ValueError, match="needs rng"):
        round_(0.5, "stochastic")
    with pytest.raises(TypeError, match="rng must be"):
        round_(0.5, "stochastic", rng=42)
    with pytest.raises(TypeError, match="x must be"):
        round_("abc")


def test_shape_preserved_and_scalar_returns_scalar():
    assert round_(np.zeros((3, 4))).shape == (3, 4)
    assert np.ndim(round_(1.2)) == 0
    assert round_(np.array([])).shape == (0,)


@pytest.mark.parametrize("mode", ROUNDING_MODES)
def test_sign_of_zero_is_kept(mode):
    # IEEE 754 roundToIntegral: a negative input that rounds to zero gives -0.0
    rng = np.random.default_rng(0)
    out = round_(np.array([-0.0, -0.3, 0.3, 0.0]), mode, rng=rng)
    zero = out == 0
    assert np.all(np.signbit(out[zero]) == np.signbit(np.array([-0.0, -0.3, 0.3, 0.0])[zero]))


@pytest.mark.parametrize("mode", [m for m in ROUNDING_MODES if m != "stochastic"])
def test_large_values_are_already_integers(mode):
    # every float64 at or above 2**52 is an integer; floor(x + 0.5) would wrongly round odd ones up
    x = np.array([2.0**52 + 1, 2.0**53 - 1, -(2.0**52) - 1, 4503599627370497.0, 1e300])
    np.testing.assert_array_equal(round_(x, mode), x)
    for v in x:
        assert round_(v, mode) == reference(float(v), mode)

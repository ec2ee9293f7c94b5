"""ADC and dither, the fixed-point IIR filter, image bit depth and Floyd-Steinberg, against plain references."""
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qlearn.numbers import signals
from qlearn.numbers.fixed import FixedFormat
from qlearn.ranges import snr


# -- ADC and dither -------------------------------------------------------------------------
def test_adc_without_dither_is_the_ideal_quantizer():
    x = np.linspace(-1.5, 1.5, 1001)
    np.testing.assert_array_equal(signals.adc(x, 4), snr.uniform_quantize(x, 4, 1.0))


@pytest.mark.parametrize("kind,ratio", [("rpdf", 2.0), ("tpdf", 3.0)])
def test_dither_noise_power_and_independence(kind, ratio):
    """Non-subtractive dither: total error power 2x (RPDF) or 3x (TPDF) Delta^2/12; with TPDF the
    error power no longer depends on the signal (Widrow & Kollar 2008, ch. 19)."""
    bits, d = 6, 2 / 64
    rng = np.random.default_rng(0)
    powers = []
    for level in (0.0, 0.25 * d, 0.5 * d, 0.3):  # constant inputs at different places in a step
        x = np.full(400_000, level)
        e = signals.adc(x, bits, dither=kind, rng=rng) - x
        powers.append(np.mean(e**2) / (d * d / 12))
        assert abs(np.mean(e)) < 0.01 * d  # the mean error (bias) is gone with either dither
    if kind == "tpdf":
        assert powers == pytest.approx([ratio] * 4, rel=0.03)
    else:
        assert np.mean(powers) == pytest.approx(ratio, rel=0.25)  # RPDF: power depends on the level
    no_dither = [np.mean((signals.adc(np.full(10, v), bits) - v) ** 2) for v in (0.0, 0.25 * d, 0.5 * d)]
    assert no_dither[0] != no_dither[1]  # without dither the error is a function of the input


def test_dither_linearises_a_small_sine():
    x = snr.sine(8192, amplitude=0.7 * 2 / 2**8, cycles_per_sample=0.01)  # 0.7 LSB amplitude, 8 bits
    plain = signals.adc(x, 8)
    assert np.unique(plain).size == 2  # a square wave: the sine is gone, harmonics appear
    avg = np.mean([signals.adc(x, 8, dither="tpdf", seed=s) for s in range(200)], axis=0)
    assert np.corrcoef(avg, x)[0, 1] > 0.98  # averaged dithered output follows the sine
    with pytest.raises(ValueError, match="dither must be one of"):
        signals.adc(x, 8, dither="gaussian")


def test_spectrum_peak_and_floor():
    f, p = signals.spectrum_db(np.sin(2 * np.pi * 0.2 * np.arange(1000)))
    assert f[np.argmax(p)] == pytest.approx(0.2, abs=1e-3) and p.max() == 0.0
    assert np.all(np.isfinite(p)) and p.min() >= -160
    f, p = signals.spectrum_db(np.ones(16))
    assert np.all(p == -160.0)


# -- IIR filter -------------------------------------------------------------------------------
def _round_fraction(v: Fraction, mode: str) -> int:
    return {"half_even": lambda: round(v), "floor": lambda: math.floor(v), "ceil": lambda: math.ceil(v),
            "toward_zero": lambda: math.trunc(v), "half_up": lambda: math.floor(v + Fraction(1, 2)),
            "half_away": lambda: int(math.copysign(math.floor(abs(v) + Fraction(1, 2)), v))}[mode]()


def _iir_reference(x, a, w, f, fc, y0, mode, overflow):
    """Plain Python ints and Fractions: y = wrap_or_saturate(round(a_q * y_prev) + x_q)."""
    lo, hi = -(2 ** (w - 1)), 2 ** (w - 1) - 1
    a_q = Fraction(round(Fraction(a) * 2**fc), 2**fc)  # round() on a Fraction: half to even

    def to_code(v):
        return min(max(round(Fraction(v) * 2**f), lo), hi)

    y, out = to_code(y0), []
    for v in x:
        s = _round_fraction(a_q * y, mode) + to_code(v)
        if overflow == "saturate":
            s = min(max(s, lo), hi)
        else:
            s = ((s - lo) % 2**w) + lo
        out.append(s)
        y = s
    return [Fraction(c, 2**f) for c in out]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.floats(-4, 4), min_size=1, max_size=40), st.floats(-0.999, 0.999),
       st.sampled_from(["half_even", "half_away", "half_up", "floor", "ceil", "toward_zero"]),
       st.sampled_from(["saturate", "wrap"]), st.integers(6, 16), st.data())
def test_iir_fixed_matches_python_int_simulation(x, a, mode, overflow, w, data):
    f = data.draw(st.integers(0, w - 2))
    fc = data.draw(st.integers(0, 20))
    y0 = data.draw(st.floats(-2, 2))
    fmt = FixedFormat(w, f)
    y, info = signals.iir_fixed(x, a, fmt, y0=y0, rounding=mode, overflow=overflow, coef_frac_bits=fc)
    assert [Fraction(v) for v in y] == _iir_reference(x, a, w, f, fc, y0, mode, overflow)


@pytest.mark.parametrize("a", [0.9, -0.9])
def test_zero_input_limit_cycle(a):
    fmt = FixedFormat(8, 0)  # integer steps: the dead band is in LSB
    y, _ = signals.iir_fixed(np.zeros(200), a, fmt, y0=40, rounding="half_even")
    tail = y[-50:]
    assert np.all(tail != 0)  # the float filter decays to 0; the fixed one never does
    assert np.all(np.abs(tail) <= signals.deadband(a))
    assert np.all(np.abs(tail) == np.abs(tail[0]))
    if a < 0:
        assert np.all(np.sign(tail[1:]) == -np.sign(tail[:-1]))  # it oscillates: a limit cycle
    else:
        assert np.all(tail == tail[0])  # it sticks
    ref = _iir_reference(np.zeros(200), a, 8, 0, 15, 40, "half_even", "saturate")
    assert [Fraction(v) for v in y] == ref
    assert abs(signals.iir_float(np.zeros(200), a, y0=40)[-1]) < 1e-6
    # truncation toward zero has no dead band: it always shrinks |y|
    yz, _ = signals.iir_fixed(np.zeros(200), a, fmt, y0=40, rounding="toward_zero")
    assert yz[-1] == 0.0


def test_deadband():
    assert [signals.deadband(a) for a in (0.5, 0.75, 0.9, -0.9, 0.95)] == [1, 2, 5, 5, 10]
    with pytest.raises(ValueError, match=r"\|a\| must be < 1"):
        signals.deadband(1.0)


@pytest.mark.parametrize("a", [0.6180339887, 0.8660254038, 0.9689583, 0.98994949])
def test_rounding_error_grows_through_feedback(a):
    """Output error power ~ (Delta^2/12) / (1 - a^2): each step's rounding error is fed back.

    Coefficients with many significant bits, so each step's error is close to uniform and
    uncorrelated (a = 0.5 would leave only {0, +-Delta/2}: power Delta^2/8, see below)."""
    fmt = FixedFormat(24, 16)
    x = np.random.default_rng(1).uniform(-0.2, 0.2, 20_000)
    x = np.round(x * 2**16) / 2**16  # inputs already exact in the format: only the feedback rounds
    y, info = signals.iir_fixed(x, a, fmt, coef_frac_bits=30)
    yf = signals.iir_float(x, info["a_q"])
    measured = np.mean((y - yf) ** 2) / (2.0**-32 / 12)
    assert measured == pytest.approx(1 / (1 - a * a), rel=0.15)


def test_coefficient_one_half_breaks_the_uniform_model():
    fmt = FixedFormat(24, 16)
    x = np.round(np.random.default_rng(1).uniform(-0.2, 0.2, 20_000) * 2**16) / 2**16
    y, info = signals.iir_fixed(x, 0.5, fmt)
    e = (y[1:] - 0.5 * y[:-1] - x[1:]) * 2**16  # each step's rounding error, in LSB
    assert set(np.unique(e)) <= {-0.5, 0.0, 0.5}
    assert np.var(e) == pytest.approx(1 / 8, rel=0.05)  # not 1/12


def test_iir_bad_input():
    with pytest.raises(TypeError, match="fmt must be a FixedFormat"):
        signals.iir_fixed([1.0], 0.5, (16, 8))
    with pytest.raises(ValueError, match="overflow must be"):
        signals.iir_fixed([1.0], 0.5, FixedFormat(16, 8), overflow="clip")
    with pytest.raises(ValueError, match="needs rng"):
        signals.iir_fixed([1.0], 0.5, FixedFormat(16, 8), rounding="stochastic")
    with pytest.raises(ValueError, match="NaN or inf"):
        signals.iir_fixed([np.nan], 0.5, FixedFormat(16, 8))


# -- images -----------------------------------------------------------------------------------
def _fs_reference(img, bits):
    """Floyd & Steinberg 1976, the textbook loop on a 2-D array (no tricks)."""
    L = 2**bits - 1
    a = np.clip(np.array(img, dtype=float), 0, 1) * L
    h, w = a.shape
    out = np.zeros_like(a)
    for r in range(h):
        for c in range(w):
            old = a[r, c]
            new = min(max(round(old), 0), L)
            out[r, c] = new
            err = old - new
            if c + 1 < w:
                a[r, c + 1] += err * 7 / 16
            if r + 1 < h:
                if c > 0:
                    a[r + 1, c - 1] += err * 3 / 16
                a[r + 1, c] += err * 5 / 16
                if c + 1 < w:
                    a[r + 1, c + 1] += err * 1 / 16
    return out / L


@pytest.mark.parametrize("bits", [1, 2, 3, 5])
def test_floyd_steinberg_matches_textbook_loop(bits):
    rng = np.random.default_rng(bits)
    img = 0.7 * signals.sky_image(24, 31) + 0.3 * rng.uniform(size=(24, 31))
    np.testing.assert_allclose(signals.floyd_steinberg(img, bits), _fs_reference(img, bits), atol=1e-12)


def test_floyd_steinberg_keeps_local_means_and_removes_bands():
    img = signals.sky_image()
    for bits in (2, 3, 4):
        banded = signals.reduce_bit_depth(img, bits)
        fs = signals.floyd_steinberg(img, bits)
        assert signals.count_levels(banded) <= 2**bits and signals.count_levels(fs) <= 2**bits
        assert abs(fs.mean() - img.mean()) < 0.5 / 2**bits / 10
        assert signals.blurred_error(img, fs) < signals.blurred_error(img, banded) / 3


def test_images_are_generated_and_deterministic():
    np.testing.assert_array_equal(signals.sky_image(seed=3), signals.sky_image(seed=3))
    assert not np.array_equal(signals.sky_image(seed=3), signals.sky_image(seed=4))
    g = signals.gradient_image(4, 256)
    assert signals.count_levels(signals.reduce_bit_depth(g, 3)) == 8
    assert signals.count_levels(g) == 256
    with pytest.raises(ValueError, match="img must be a 2-D gray image"):
        signals.floyd_steinberg(np.zeros(5), 3)
    with pytest.raises(ValueError, match=r"bits must be in \[1, 16\]"):
        signals.reduce_bit_depth(g, 0)
    with pytest.raises(ValueError, match="img and x_hat must be 2-D of the same shape"):
        signals.blurred_error(g, g[:2])


def test_lesson06_numbers():
    """The numbers notebooks/06_fixed_point.ipynb states."""
    from qlearn.numbers.fixed import propose_format, quantize_fixed

    q34 = FixedFormat(8, 4)
    assert quantize_fixed([9.0], q34, overflow="wrap")[0][0] == -7.0
    assert quantize_fixed([9.0], q34)[0][0] == 7.9375 and quantize_fixed([0.01], q34)[1].underflows == 1
    assert list(quantize_fixed([-1.25, 1.25], FixedFormat(8, 0), rounding="floor")[0]) == [-2.0, 1.0]
    rng = np.random.default_rng(0)
    run1 = signals.iir_float(rng.uniform(-0.5, 0.5, 2000), 0.9)
    run2 = signals.iir_float(rng.uniform(-0.5, 0.5, 2000), 0.9)
    fmt = propose_format(run1, 16)
    assert repr(fmt) == "Q2.13" and repr(propose_format(run1, 16, margin_bits=1)) == "Q3.12"
    assert quantize_fixed(run2, fmt)[1].overflows == 0
    imp = np.r_[6.0, np.zeros(119)]
    assert list(signals.iir_fixed(imp, -0.9, FixedFormat(12, 4))[0][-4:]) == [0.25, -0.25, 0.25, -0.25]
    assert list(signals.iir_fixed(imp, 0.9, FixedFormat(12, 4))[0][-4:]) == [0.25] * 4
    sky = signals.sky_image()
    b, d = signals.reduce_bit_depth(sky, 3), signals.floyd_steinberg(sky, 3)
    assert signals.count_levels(b) == 5
    assert np.sqrt(np.mean((d - sky) ** 2)) > np.sqrt(np.mean((b - sky) ** 2))
    assert abs(signals.blurred_error(sky, b) / signals.blurred_error(sky, d) - 6.4) < 0.1
    # the float filter after 120 steps: 6 * 0.9**119 in magnitude, about 2e-5; the limit cycle (4 steps) lies
    # inside the dead band floor(0.5 / (1 - 0.9)) = 5 steps
    assert abs(signals.iir_float(imp, -0.9)[-1]) == pytest.approx(6 * 0.9**119, rel=1e-9)
    assert round(6 * 0.9**119 * 1e5) == 2 and signals.deadband(-0.9) == 5
    # a truncating (toward zero) filter reaches 0: no dead band
    assert signals.iir_fixed(imp, -0.9, FixedFormat(12, 4), rounding="toward_zero")[0][-1] == 0.0

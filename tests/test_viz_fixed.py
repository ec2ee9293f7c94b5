"""Explorers of lesson 06 (qlearn.viz.numbers.fixed), driven in plain Python."""
import numpy as np

from qlearn.numbers import signals
from qlearn.numbers.fixed import FixedFormat, quantize_fixed
from qlearn.viz.numbers import fixed as V


def test_fixed_point_explorer_wrap_vs_saturate():
    ex = V.fixed_point_explorer()
    ex.controls["int_bits"].value = 2
    ex.controls["frac_bits"].value = 5
    ex.controls["overflow"].value = "saturate"
    x = np.array(ex.fig.data[1].x)
    np.testing.assert_array_equal(np.array(ex.fig.data[1].y), quantize_fixed(x, FixedFormat(8, 5))[0])
    assert max(ex.fig.data[1].y) == 4 - 2**-5 and "Q2.5" in ex.readout.value
    ex.controls["overflow"].value = "wrap"
    y = np.array(ex.fig.data[1].y)
    assert y.max() == 4 - 2**-5 and y[-1] < 0  # past the top it wraps to negative values
    assert "overflowed (wrap)" in ex.readout.value
    ex.controls["amplitude"].value = 0.5
    assert "0 of 400 samples overflowed" in ex.readout.value


def test_iir_explorer_limit_cycle_and_agreement():
    ex = V.iir_explorer()
    ex.controls["a"].value = -0.9
    ex.controls["input"].value = "impulse"
    ex.controls["rounding"].value = "half_even"
    y = np.array(ex.fig.data[1].y)
    assert np.all(y[-10:] != 0) and "limit cycle" in ex.readout.value
    ref, _ = signals.iir_fixed(np.r_[6.0, np.zeros(119)], -0.9, FixedFormat(12, 4))
    np.testing.assert_array_equal(y, ref)
    ex.controls["rounding"].value = "toward_zero"
    assert np.array(ex.fig.data[1].y)[-1] == 0 and "no limit cycle" in ex.readout.value
    ex.controls["a"].value = 0.99
    ex.controls["frac_bits"].value = 0
    assert ex.last_error is None


def test_image_dither_explorer():
    ex = V.image_dither_explorer(height=32, width=40)
    ex.controls["bits"].value = 2
    plain = np.array(ex.fig.data[1].z)
    assert plain.shape == (32, 40) and len(np.unique(plain)) <= 4
    # drawn as integer levels 0..3 on a colour scale from 0 to 3: the same gray as level / 3
    assert ex.fig.data[1].zmin == 0 and ex.fig.data[1].zmax == 3
    np.testing.assert_array_equal(plain / 3, signals.reduce_bit_depth(signals.sky_image(32, 40), 2))
    ex.controls["dither"].value = True
    fs = np.array(ex.fig.data[1].z) / ex.fig.data[1].zmax
    np.testing.assert_allclose(fs, signals.floyd_steinberg(signals.sky_image(32, 40), 2))
    ex.controls["image"].value = "gradient"
    np.testing.assert_allclose(np.array(ex.fig.data[0].z), signals.gradient_image(32, 40))
    assert "gray levels" in ex.readout.value


def test_the_staircase_drawn_step_by_step_is_every_sample_s_stored_value():
    """The transfer curve is sent as the points where the stored value changes (drawn "hv"): read
    back as a step function it gives every sample's stored value, in saturate and wrap modes."""
    ex = V.fixed_point_explorer()
    for m, n, overflow in [(3, 4, "wrap"), (2, 5, "saturate"), (0, 12, "wrap"), (8, 0, "saturate")]:
        ex.controls["int_bits"].value, ex.controls["frac_bits"].value = m, n
        ex.controls["overflow"].value = overflow
        xs, ys = np.array(ex.fig.data[1].x), np.array(ex.fig.data[1].y)
        assert ex.fig.data[1].line.shape == "hv" and len(xs) <= 1201
        if (m, n) == (3, 4):  # the lesson's start: 410 steps of 1/16 across +-12.8, not 1201 samples
            assert len(xs) < 420
        grid = np.linspace(-1.6 * 2.0**m, 1.6 * 2.0**m, 1201)
        drawn = ys[np.searchsorted(xs, grid, side="right") - 1]
        np.testing.assert_array_equal(drawn, quantize_fixed(grid, FixedFormat(1 + m + n, n), overflow=overflow)[0])
        assert list(ex.fig.data[0].x) == [grid[0], grid[-1]]

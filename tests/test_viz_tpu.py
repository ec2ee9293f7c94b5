"""Explorers of lessons 11 and 13, driven in plain Python."""
import numpy as np
import pytest

from qlearn.hardware import intops, tpu
from qlearn.viz.hardware.intops import accumulator_explorer, requantize_explorer
from qlearn.viz.hardware.tpu import capstone_explorer, tpu_roofline_explorer


def test_roofline_explorer_places_layers_under_the_roof():
    ex = tpu_roofline_explorer()
    assert ex.last_error is None
    for net in ("MLP0", "course"):
        ex.controls["network"].value = net
        for b in (1, 200, 4096):
            ex.controls["batch"].value = b
            xs, ys = np.asarray(ex.fig.data[2].x), np.asarray(ex.fig.data[2].y)
            assert np.all(ys <= tpu.roofline(xs) + 1e-9)
    ex.controls["network"].value = "MLP0"
    ex.controls["batch"].value = 200
    assert np.allclose(ex.fig.data[2].x, 200)


def test_capstone_explorer_matches_the_table():
    ex = capstone_explorer()
    rows = tpu.capstone_table(batch=200, benchmark="course")
    assert list(ex.fig.data[0].y) == pytest.approx([r["latency_us"] for r in rows])
    assert list(ex.fig.data[0].text)[0] == f"{100 * rows[0]['accuracy']:.1f}%"
    ex.controls["benchmark"].value = "MLP0"
    assert list(ex.fig.data[0].text)[0] == "n/a"


def test_requantize_explorer_gemmlowp_is_within_one_code():
    ex = requantize_explorer()
    assert ex.last_error is None
    d = np.asarray(ex.fig.data[2].y)
    assert np.abs(d).max() <= 1
    ex.controls["rounding"].value = "floor"
    assert np.asarray(ex.fig.data[2].y).min() <= -1        # floor (the plain shift) is biased downward
    m0, shift = intops.quantize_multiplier(0.0123)
    ex.controls["rounding"].value = "gemmlowp"
    assert f"m0 = <b>{m0}</b>, shift = <b>{shift}</b>" in ex.readout.value


def test_accumulator_explorer_16_vs_32_bits():
    ex = accumulator_explorer()
    assert max(ex.fig.data[0].y) > 0                  # 16 bits overflow on long random dot products
    ex.controls["bits"].value = 32
    assert max(ex.fig.data[0].y) == 0


def test_requantize_explorer_statements_of_lesson_11():
    """Lesson 11: the plain shift (floor) is low on about half the accumulators; gemmlowp differs on a handful."""
    ex = requantize_explorer()
    d = np.asarray(ex.fig.data[2].y)
    assert 0 < np.count_nonzero(d) <= 10
    ex.controls["rounding"].value = "floor"
    d = np.asarray(ex.fig.data[2].y)
    assert d.max() == 0 and 0.4 < np.count_nonzero(d) / d.size < 0.6
    ex.controls["rounding"].value = "q15"
    assert np.count_nonzero(ex.fig.data[2].y) <= 10


def test_capstone_explorer_shows_the_conv_network_where_calibration_matters():
    ex = capstone_explorer()
    ex.controls["benchmark"].value = "convnet"
    ex.controls["batch"].value = 200
    r = tpu.capstone_rows(tpu.capstone_table(batch=200, benchmark="convnet"))
    names = ["int8 per-tensor entropy", "int8 per-tensor mse", "int8 per-channel entropy", "int8 per-channel mse",
             "fp16 chip", "host fp32", "host int8"]
    assert list(ex.fig.data[0].y) == pytest.approx([r[k]["latency_us"] for k in names])
    assert list(ex.fig.data[0].text) == ["25.6%", "94.4%", "23.6%", "94.6%", "n/a", "94.4%", "n/a"]
    assert "68.8 points" in ex.readout.value


@pytest.mark.parametrize("rounding", ["gemmlowp", "floor", "q15"])
def test_requantize_explorer_draws_a_dot_on_every_differing_accumulator(rounding):
    """The bottom panel's dots are exactly the differing accumulators; the top's dots lie on the integer path."""
    ex = requantize_explorer()
    ex.controls["rounding"].value = rounding
    acc, d = np.asarray(ex.fig.data[2].x), np.asarray(ex.fig.data[2].y)
    np.testing.assert_array_equal(ex.fig.data[3].x, acc[d != 0])
    np.testing.assert_array_equal(ex.fig.data[3].y, d[d != 0])
    assert f"<b>{np.count_nonzero(d)}</b> of {acc.size}" in ex.readout.value
    top_x, top_y = np.asarray(ex.fig.data[1].x), np.asarray(ex.fig.data[1].y)
    assert 150 <= top_x.size <= 201 and top_x[0] == acc[0]
    ref = dict(zip(ex.fig.data[0].x.tolist(), ex.fig.data[0].y.tolist()))
    diff = dict(zip(acc.tolist(), d.tolist()))
    assert all(y - ref[a] == diff[a] for a, y in zip(top_x.tolist(), top_y.tolist()))

"""Explorers and figures of lesson 01 (qlearn.viz.numbers.formats), driven in plain Python."""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import pytest

from qlearn.numbers import formats as F
from qlearn.viz.numbers import formats as V


def set_code(ex, code, nbits):
    for i, ch in enumerate(format(code, f"0{nbits}b")):
        ex.controls[f"b{i}"].value = ch == "1"


def finite_figure(fig):
    for tr in fig.data:
        for attr in ("x", "y"):
            val = getattr(tr, attr, None)
            if val is not None and len(val):
                assert np.all(np.isfinite(np.asarray(val, dtype=float))), (tr.name, attr)


def test_bits_explorer_default_shows_bits_of_typed_value():
    ex = V.float_bits_explorer()
    bits = F.encode_bits(0.1, "bf16")
    assert "".join("1" if ex.controls[f"b{i}"].value else "0" for i in range(16)) == bits
    assert all(ex.controls[f"b{i}"].layout.display == "none" for i in range(16, 32))
    assert ex.last_error is None and "0.1000976562" in ex.readout.value
    # x_hat at 0, the typed x at (x - x_hat) / ulp, neighbours at integer ULP offsets
    assert list(ex.fig.data[1].x) == [0.0]
    assert ex.fig.data[2].x[0] == pytest.approx((0.1 - F.cast(0.1, "bf16")) / F.ulp(F.cast(0.1, "bf16"), "bf16"))
    assert list(ex.fig.data[0].x) == [-3, -2, -1, 0, 1, 2, 3]


def test_flipping_the_sign_bit_negates_and_writes_the_value():
    ex = V.float_bits_explorer()
    ex.controls["b0"].value = True
    assert ex.controls["value"].value == -F.cast(0.1, "bf16")
    assert ex.controls["b0"].value  # not undone by the write-back
    ex.controls["value"].value = 1.0
    assert "".join("1" if ex.controls[f"b{i}"].value else "0" for i in range(16)) == F.encode_bits(1.0, "bf16")


@pytest.mark.parametrize("name", ["fp8_e4m3", "fp8_e5m2", "int4", "uint8"])
def test_every_code_by_flipping_bits(name):
    """Visit all codes with one bit flip each (Gray code): never an error, figure always finite."""
    f = F.get_format(name)
    ex = V.float_bits_explorer(name, 0.0)
    for n in range(2**f.bits):
        g = n ^ (n >> 1)
        set_code(ex, g, f.bits)
        assert ex.last_error is None
        finite_figure(ex.fig)
        v = F.decode_bits(format(g, f"0{f.bits}b"), f)
        if math.isfinite(v):
            assert ex.controls["value"].value == v
            assert ex.fig.data[1].x == (0.0,)
        else:
            assert ("NaN" if math.isnan(v) else "infinity") in ex.readout.value
            assert len(ex.fig.data[1].x) == 0


def test_overflow_and_bad_values_show_in_readout():
    ex = V.float_bits_explorer("fp16", 1.0)
    ex.controls["value"].value = 70000.0
    assert "infinity" in ex.readout.value and "overflows" in ex.readout.value
    ex.controls["format"].value = "int8"
    ex.controls["value"].value = 200.0
    assert "-56" in ex.readout.value and "wrapped around" in ex.readout.value
    ex.controls["value"].value = float("nan")
    assert ex.last_error is not None and "NaN or inf" in ex.last_error


def test_neighbours_are_consecutive_representable_values():
    for name in ["fp8_e4m3", "fp8_e5m2", "int4", "bf16"]:
        v = F.representable_values(name)
        for i in [0, 1, len(v) // 3, len(v) // 2, len(v) - 2, len(v) - 1]:
            code = int(F.to_codes(v[i], name))
            nb = V.neighbours(code, name, 2)
            assert np.array_equal(nb, v[max(i - 2, 0): i + 3])


def test_range_explorer():
    ex = V.format_range_explorer()
    n = 6
    for i, name in enumerate(["fp32", "tf32", "bf16", "fp16", "fp8_e5m2", "fp8_e4m3"]):
        f = F.get_format(name)
        xs, rel = ex.fig.data[i].x, ex.fig.data[i].y
        assert xs[0] == pytest.approx(f.min_subnormal) and xs[-1] == pytest.approx(f.max_normal)
        # exact vertices: each binade's start and end (tested against ulp in test_formats.py)
        vx, vr = F.relative_spacing_vertices(name)
        np.testing.assert_array_equal(xs, vx)
        np.testing.assert_array_equal(rel, vr)
        starts = np.asarray(xs)[::2]  # a binade's first point is a value of the format: rel = ulp/x
        assert np.allclose(np.asarray(rel)[::2], F.ulp(starts, f) / starts)
    ex.controls["log10_x"].value = 0.0  # x = 1: exact in every format, no markers
    assert len(ex.fig.data[n + 1].x) == 0 and ex.fig.data[n].x == (1.0, 1.0)
    ex.controls["log10_x"].value = -5.0
    rel = np.asarray(ex.fig.data[n + 1].y)
    expected = [abs(F.cast(1e-5, nm) - 1e-5) / 1e-5 for nm in ["fp32", "tf32", "bf16", "fp16", "fp8_e5m2"]]
    assert np.allclose(rel, expected)  # fp8_e4m3 underflows at 1e-5: no marker
    assert "underflow to 0" in ex.readout.value
    ex.controls["log10_x"].value = 39.0
    assert ex.readout.value.count("overflow") == 6
    finite_figure(ex.fig)
    with pytest.raises(ValueError, match="float formats"):
        V.format_range_explorer(("int8",))


def test_figures():
    t = V.format_table_figure()
    assert isinstance(t, go.Figure)
    cells = t.data[0].cells.values
    assert list(cells[0]) == list(F.FORMATS)
    assert cells[4][list(F.FORMATS).index("fp8_e4m3")] == "448"
    r = V.format_range_figure()
    assert r.data[0].x == (F.get_format("fp32").min_subnormal, F.get_format("fp32").min_normal)
    m = V.memory_figure(7e9, ("fp32", "int8", "int4"))
    assert list(m.data[0].y) == [28.0, 7.0, 3.5]

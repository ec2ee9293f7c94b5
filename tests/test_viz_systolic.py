"""Explorers of lesson 12, driven in plain Python."""
import re

import numpy as np
import pytest

from qlearn.hardware import systolic
from qlearn.viz.hardware.systolic import dataflow_explorer, pe_grid, shape_for, systolic_explorer, tiling_explorer


def test_systolic_explorer_scrubs_the_simulated_trace():
    ex = systolic_explorer()
    assert ex.last_error is None
    c = ex.controls
    assert c["cycle"].max == systolic.cycle_count(4, 4, 4, 4, 4) - 1
    c["cycle"].value = 4 + 2            # WS: after the 4 load cycles, the wavefront is 3 diagonals deep
    xs, ys = list(ex.fig.data[1].x), list(ex.fig.data[1].y)
    centres = {(round(y + 0.44), round(x + 0.44)) for x, y in zip(xs[::6], ys[::6])}   # first corner of each box
    assert len(centres) == 6 and all(i + j <= 2 for i, j in centres)
    for size in (4, 8):
        for df in systolic.DATAFLOWS:
            for preset in ("square", "batch", "folded"):
                c["size"].value, c["dataflow"].value, c["shape"].value = size, df, preset
                M, K, N = shape_for(size, preset)
                assert c["cycle"].max == systolic.cycle_count(M, K, N, size, size, df) - 1
                c["cycle"].value = c["cycle"].max
                assert f"outputs done: {M * N} of {M * N}" in ex.readout.value
                assert np.asarray(ex.fig.data[0].z).shape == (size, size)
    assert ex.last_error is None


def test_systolic_explorer_keeps_one_colour_scale_for_the_whole_run():
    """The colour of a sum means the same at every cycle: the scale is the run's largest |sum| on
    both sides of 0 (the diverging scale's white), and every sum of the run lies inside it."""
    ex = systolic_explorer()
    c = ex.controls
    for size, df in ((4, "weight_stationary"), (8, "output_stationary")):
        c["size"].value, c["dataflow"].value = size, df
        ranges, sums = set(), []
        for t in range(c["cycle"].max + 1):
            c["cycle"].value = t
            ranges.add((ex.fig.data[0].zmin, ex.fig.data[0].zmax))
            sums.append(np.asarray(ex.fig.data[0].z))
        assert len(ranges) == 1
        (lo, hi), = ranges
        top = np.abs(np.stack(sums)).max()
        assert lo == -hi and hi == max(top, 1)
    assert ex.last_error is None


def test_dataflow_explorer_bars_are_the_closed_form():
    ex = dataflow_explorer()
    c = ex.controls
    c["array"].value, c["M"].value, c["K"].value, c["N"].value = 8, 10, 20, 30
    assert list(ex.fig.data[0].y) == [systolic.cycle_count(10, 20, 30, 8, 8, df) for df in systolic.DATAFLOWS]
    assert max(ex.fig.data[1].y) <= 100


def test_tiling_explorer_counts_folds():
    ex = tiling_explorer()
    c = ex.controls
    c["array"].value, c["K"].value, c["N"].value, c["fold"].value = 8, 20, 30, 64
    z = np.asarray(ex.fig.data[0].z)
    assert z.shape == (20, 30) and z.min() == 1 and z.max() == 3 * 4
    assert "fold <b>12</b> of 12" in ex.readout.value


def test_dataflow_explorer_names_every_dataflow_in_a_tie():
    """M = N: weight and input stationary take exactly the same cycles; the readout names both."""
    ex = dataflow_explorer()
    c = ex.controls
    c["array"].value, c["M"].value, c["K"].value, c["N"].value = 128, 300, 100, 300
    ws, os_, is_ = (systolic.cycle_count(300, 100, 300, 128, 128, df) for df in systolic.DATAFLOWS)
    assert ws == is_ < os_
    assert f"tie for fewest cycles: <b>weight stationary</b> and <b>input stationary</b> ({ws})" in ex.readout.value
    c["M"].value, c["K"].value, c["N"].value = 256, 256, 256      # all three tie on a square problem
    assert "<b>weight stationary</b> and <b>output stationary</b> and <b>input stationary</b>" in ex.readout.value
    c["M"].value = 1024                                          # a long batch: weight stationary alone
    assert "fewest cycles with <b>weight stationary</b>" in ex.readout.value


def test_pe_grid_shows_each_pe_under_its_row_and_column():
    out = pe_grid(np.array([[4, 5, 6], [5, 6, 7]]), caption="first <MAC>").data
    assert out.count("<tr>") == 3 and "<caption>first &lt;MAC&gt;</caption>" in out
    rows = re.findall(r"<tr><th scope='row'>(row \d)</th>(.*?)</tr>", out)
    assert [(r, re.findall(r"<td>(\d+)</td>", cells)) for r, cells in rows] == [
        ("row 0", ["4", "5", "6"]), ("row 1", ["5", "6", "7"])]
    assert re.findall(r"<th scope='col'>(col \d)</th>", out) == ["col 0", "col 1", "col 2"]


@pytest.mark.parametrize("bad, err", [(np.zeros((0, 3), int), ValueError), (np.arange(4), ValueError),
                                      (np.ones((2, 2)), TypeError)])
def test_pe_grid_refuses_what_is_not_a_grid_of_integers(bad, err):
    with pytest.raises(err, match="values"):
        pe_grid(bad, caption="x")

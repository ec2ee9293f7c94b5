"""Lesson 02's rounding explorer: what the figure draws is round(x) and the error histogram, exactly."""
import numpy as np
import pytest

from qlearn.viz.numbers.rounding import MODE_LABELS, rounding_explorer

# numpy's own rounding functions as the reference (np.round rounds half to even)
REFERENCE = {"half_even": np.round, "floor": np.floor, "ceil": np.ceil, "toward_zero": np.trunc}


def _runs(x, y):
    """(first x, last x, y) of each flat segment of a None-separated line trace."""
    out, cur = [], []
    for a, b in zip(list(x) + [None], list(y) + [None]):
        if a is None:
            if cur:
                out.append((cur[0][0], cur[-1][0], cur[0][1]))
                assert cur[0][1] == cur[-1][1]
            cur = []
        else:
            cur.append((a, b))
    return out


@pytest.mark.parametrize("mode", sorted(REFERENCE))
def test_staircase_segments_are_round_x_on_every_grid_point(mode):
    ex = rounding_explorer()
    ex.controls["mode"].value = mode
    assert ex.last_error is None and ex.fig.data[1].mode == "lines"
    grid = np.linspace(-3, 3, 1201)
    covered = 0
    for a, b, v in _runs(ex.fig.data[1].x, ex.fig.data[1].y):
        inside = grid[(grid >= a) & (grid <= b)]
        covered += inside.size
        np.testing.assert_array_equal(REFERENCE[mode](inside), v)
    assert covered == grid.size                      # the segments cover every grid point once


@pytest.mark.parametrize("mode", sorted(REFERENCE))
def test_error_bars_are_the_histogram_of_round_x_minus_x(mode):
    ex = rounding_explorer()
    ex.controls["mode"].value = mode
    x = np.random.default_rng(0).uniform(-50, 50, 4000)   # the explorer's draws (seed 0, after the line grid)
    err = REFERENCE[mode](x) - x
    counts, edges = np.histogram(err, bins=40, range=(-1, 1))
    np.testing.assert_array_equal(ex.fig.data[2].y, counts)
    np.testing.assert_allclose(ex.fig.data[2].x, (edges[:-1] + edges[1:]) / 2, atol=1e-12)
    assert f"<b>{err.mean():+.3f}</b>" in ex.readout.value


def test_stochastic_dots_are_floor_or_ceil():
    ex = rounding_explorer()
    ex.controls["mode"].value = "stochastic"
    x, y = np.asarray(ex.fig.data[1].x), np.asarray(ex.fig.data[1].y)
    assert ex.fig.data[1].mode == "markers" and x.size == 401
    assert np.all((y == np.floor(x)) | (y == np.ceil(x)))
    assert set(MODE_LABELS) >= set(REFERENCE)

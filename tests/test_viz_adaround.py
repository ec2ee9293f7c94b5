"""Lesson 16's AdaRound explorer: the light-blue dots left out are hidden under a drawn one."""
import numpy as np

from qlearn.viz.networks import adaround as V


def test_distinct_dots_keeps_one_per_cell_and_every_dot_is_covered():
    rng = np.random.default_rng(0)
    x, y = rng.random(2000), np.round(rng.random(2000), 1)
    keep = V._distinct_dots(x, y)
    cells = {(round(a / 0.004), round(b / 0.01)) for a, b in zip(x, y)}
    assert keep.size == len(cells) < x.size
    assert np.all(np.diff(keep) > 0)


def test_every_weight_is_drawn_or_under_a_drawn_dot():
    ex = V.adaround_explorer()
    tr = ex.trajectory
    s = ex.controls["iteration"]
    for value in (0, 400, s.max):
        s.value = value
        i = tr.index(value)
        f = tr.flipped[i]
        np.testing.assert_array_equal(ex.fig.data[7].x, tr.frac[f])           # every pink diamond
        dx, dy = np.asarray(ex.fig.data[6].x), np.asarray(ex.fig.data[6].y)
        assert dx.size < (~f).sum()                                             # some hidden ones left out
        for a, b in zip(tr.frac[~f], tr.h[i][~f]):                              # each within a cell of a drawn dot
            assert np.min(np.maximum(np.abs(dx - a) / 0.004, np.abs(dy - b) / 0.01)) <= 1.0 + 1e-9

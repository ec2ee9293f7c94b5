"""Explorers of lesson 18, driven in plain Python."""
import numpy as np

from qlearn.viz.modern.llm import SQ_ALPHAS, smoothquant_explorer


def test_smoothquant_explorer_keeps_one_scale_for_every_alpha():
    """The channel maxima move on a fixed log axis as alpha moves (the axis does not follow them):
    one range for every alpha, holding every value plotted at any alpha, with room at both ends."""
    ex = smoothquant_explorer()
    axis = ex.fig.layout.yaxis
    assert axis.type == "log" and axis.range is not None
    lo, hi = axis.range
    plotted = []
    for a in SQ_ALPHAS:
        ex.controls["alpha"].value = float(a)
        assert tuple(ex.fig.layout.yaxis.range) == (lo, hi)
        for trace in ex.fig.data[:2]:
            plotted.append(np.log10(np.asarray(trace.y, dtype=float)))
    plotted = np.concatenate(plotted)
    assert lo < plotted.min() and plotted.max() < hi
    assert plotted.min() - lo < 0.2 * (hi - lo) and hi - plotted.max() < 0.2 * (hi - lo)
    assert ex.last_error is None

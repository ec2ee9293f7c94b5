"""The lesson-16 explorer and figure, driven in plain Python: traces equal qlearn.modern.block_formats' results."""
import numpy as np

from qlearn.modern import block_formats as B
from qlearn.viz.modern import block_formats as V


def test_explorer_traces_are_the_core_results():
    ex = V.block_format_explorer()
    x = V.tensors()["heavy"]
    for scheme in V.SCHEME_LABELS:
        for k in V.BLOCK_SIZES:
            ex.controls["tensor"].value = "heavy"
            ex.controls["scheme"].value = scheme
            ex.controls["block_size"].value = k
            ex.controls["window"].value = 5
            x_hat, bpw = B.quantize_dequantize(x, scheme, block_size=k)
            np.testing.assert_array_equal(ex.fig.data[3].y, x[640:768])
            np.testing.assert_array_equal(ex.fig.data[4].y, x_hat[640:768])
            assert ex.tradeoff.data[-1].x == (bpw,)
            assert bpw in ex.tradeoff.data[list(V.SCHEME_LABELS).index(scheme)].x
            assert f"{bpw:.4g} bits per weight" in ex.readout.value
            # every x_hat in the window lies on a grid line drawn for its block
            grid = {round(float(y), 12) for y in ex.fig.data[0].y if y is not None}
            assert all(round(float(v), 12) in grid for v in x_hat[640:768])
            # block boundaries at multiples of k inside the window
            bounds = sorted({b for b in ex.fig.data[2].x if b is not None})
            assert bounds == [b - 0.5 for b in range(640 + k - 640 % k, 768, k) if b > 640]


def test_moving_the_window_redraws_only_the_window():
    """The trade-off is its own figure: a window step sends it nothing to redraw."""
    ex = V.block_format_explorer()
    sent = {"window": 0, "tradeoff": 0}
    ex.fig.observe(lambda _: sent.__setitem__("window", sent["window"] + 1), names="_py2js_update")
    ex.tradeoff.observe(lambda _: sent.__setitem__("tradeoff", sent["tradeoff"] + 1), names="_py2js_update")
    ex.controls["window"].value = 3
    assert sent["window"] > 0 and sent["tradeoff"] == 0
    ex.controls["block_size"].value = 64
    assert sent["tradeoff"] > 0


def test_tradeoff_figure_has_both_tensors():
    fig = V.tradeoff_figure()
    names = {t.name for t in fig.data if t.name}
    assert set(V.SCHEME_LABELS.values()) <= names
    assert len([t for t in fig.data if t.mode == "lines+markers+text"]) == 2 * len(V.SCHEME_LABELS)

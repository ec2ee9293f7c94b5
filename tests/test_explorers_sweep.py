"""Every explorer in qlearn.viz, driven in plain Python over its controls' whole ranges.

Discovered, not listed: an explorer added in any ``qlearn/viz/`` module (a function whose
name ends in ``_explorer``) is swept without touching this file. It must build with no
arguments, never raise, and never put NaN or inf into its figure.
"""
import importlib
import inspect
import pkgutil

import ipywidgets as widgets
import numpy as np
import pytest

import qlearn.viz


def _explorers():
    found = []
    for info in pkgutil.walk_packages(qlearn.viz.__path__, "qlearn.viz."):
        mod = importlib.import_module(info.name)
        for name, fn in inspect.getmembers(mod, inspect.isfunction):
            if name.endswith("_explorer") and fn.__module__ == mod.__name__:
                found.append(pytest.param(fn, id=f"{info.name.removeprefix('qlearn.viz.')}.{name}"))
    return found


def _sweep_values(c):
    """Values a learner can set with this control, from one end of its range to the other."""
    if isinstance(c, (widgets.IntRangeSlider, widgets.FloatRangeSlider)):
        lo, hi = c.min, c.max
        mid = lo + (hi - lo) / 2
        if isinstance(c, widgets.IntRangeSlider):
            mid = int(mid)
        return [(lo, hi), (lo, lo), (hi, hi), (lo, mid), (mid, hi), (mid, mid)]
    if isinstance(c, (widgets.IntSlider, widgets.Play, widgets.BoundedIntText)):
        vals = range(c.min, c.max + 1, max(c.step, 1))
        vals = list(vals)
        return vals if len(vals) <= 24 else sorted({int(v) for v in np.linspace(c.min, c.max, 24)})
    if isinstance(c, (widgets.FloatSlider, widgets.BoundedFloatText)):
        return list(np.linspace(c.min, c.max, 13))
    if isinstance(c, widgets.FloatLogSlider):
        return list(c.base ** np.linspace(c.min, c.max, 9))
    if isinstance(c, (widgets.Dropdown, widgets.ToggleButtons, widgets.RadioButtons, widgets.Select,
                      widgets.SelectionSlider)):
        return [opt[1] if isinstance(opt, tuple) else opt for opt in c.options]
    if isinstance(c, (widgets.Checkbox, widgets.ToggleButton)):
        return [True, False]
    if isinstance(c, widgets.FloatText):
        return [0.0, -0.0, 1.0, -1.0, 1e-45, 3.4e38, -3.4e38, 1e300, 65504.0, 70000.0, 448.0, 1e-8]
    if isinstance(c, widgets.IntText):
        return [0, 1, -1, 2**31 - 1, -(2**31)]
    return []


def _assert_figure_finite(ex, where):
    figs = [ex.fig] if ex.fig is not None else []
    figs += list(getattr(ex, "extra_figs", []))
    for fig in figs:
        for i, trace in enumerate(fig.data):
            for attr in ("x", "y", "z"):
                val = getattr(trace, attr, None)
                if val is None:
                    continue
                arr = np.asarray(val, dtype=object).ravel()
                nums = [v for v in arr if isinstance(v, (int, float, np.number)) and not isinstance(v, bool)]
                if nums:
                    a = np.asarray(nums, dtype=float)
                    assert np.all(np.isfinite(a)), f"{where}: trace {i} ({trace.name}) .{attr} has NaN/inf"


def _assert_views_start_from_current_state(ex):
    """What a browser view starts from (the synced state) is what Python holds: no lost first update."""
    for fig in ex.figures():
        assert len(fig._widget_data) == len(fig.data), "synced trace count differs from the figure's"
        for synced, trace in zip(fig._widget_data, fig.data):
            for attr in ("x", "y", "z"):
                mine = trace[attr] if attr in trace else None
                if mine is not None and attr in synced:
                    np.testing.assert_array_equal(np.asarray(synced[attr], dtype=object),
                                                  np.asarray(mine, dtype=object))


def _assert_display_keeps_trace_ids(widget, figs):
    """Displaying (the page's widget state plus its server-rendered preview) leaves every trace's
    uid in the state a browser view starts from: the browser reports its redraws by uid, and an
    unknown one is an error in the kernel on every redraw (plotly's to_json once popped them)."""
    widget._repr_mimebundle_()
    for fig in figs:
        state = fig.get_state()["_widget_data"]
        assert [t.get("uid") for t in state] == [t.uid for t in fig.data]
        assert all(t.uid for t in fig.data)


@pytest.mark.parametrize("builder", _explorers())
def test_explorer_sweeps_every_control(builder):
    ex = builder()
    assert isinstance(ex, qlearn.viz.Explorer)
    assert ex.controls, "an explorer needs at least one control"
    _assert_figure_finite(ex, "initial state")
    _assert_views_start_from_current_state(ex)
    _assert_display_keeps_trace_ids(ex, ex.figures())
    defaults = ex.values
    for name, c in ex.controls.items():
        for value in _sweep_values(c):
            c.value = value
            _assert_figure_finite(ex, f"{name}={value!r}")
        c.value = defaults[name]
    # random combinations of all controls at once (seeded)
    rng = np.random.default_rng(0)
    options = {n: _sweep_values(c) for n, c in ex.controls.items()}
    for _ in range(12):
        for name, c in ex.controls.items():
            if options[name]:
                c.value = options[name][rng.integers(len(options[name]))]
        _assert_figure_finite(ex, f"combination {ex.values}")


def test_discovery_finds_the_explorers():
    names = {p.id for p in _explorers()}
    assert {"ranges.affine.staircase_explorer", "numbers.rounding.rounding_explorer",
            "modern.llm.gptq_explorer"} <= names


def test_figure_box_keeps_trace_ids():
    import plotly.graph_objects as go

    from qlearn.viz.explorer import FigureBox

    box = FigureBox(go.FigureWidget([go.Scatter(x=[0, 1], y=[1, 2]), go.Bar(x=[0], y=[3])]))
    _assert_display_keeps_trace_ids(box, [box.fig])


def test_browser_redraw_reports_are_ignored():
    """What plotly.js reports after a redraw (defaults it filled in, keyed by trace uid) is not
    merged into the figure: with an id the kernel does not know, or NumPy properties (plotly.py
    issue 4160), plotly's merge raised in the kernel on every redraw."""
    import numpy as np
    import plotly.graph_objects as go

    from qlearn.viz.explorer import FigureBox

    box = FigureBox(go.FigureWidget([go.Bar(x=[0, 1], y=[3, 4], marker_color=np.array([1.0, 2.0]))]))
    fig = box.fig
    fig._js2py_traceDeltas = {"trace_deltas": [{"uid": "unknown", "marker": {"color": {"a": 1}}}],
                              "trace_edit_id": fig._last_trace_edit_id}
    fig._js2py_layoutDelta = {"layout_delta": {"xaxis": {"range": [0, 1]}},
                              "layout_edit_id": fig._last_layout_edit_id}
    assert fig.layout.xaxis.range is None  # nothing merged
    FigureBox(fig)  # the same figure in a second box: no error either

"""Figures and explorers for lesson ``02_rounding``."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from qlearn.numbers import rounding
from qlearn.viz import controls as C
from qlearn.viz.explorer import Explorer
from qlearn.viz.style import COLORS, CYCLE, base_layout

MODE_LABELS = {
    "half_even": "nearest, ties to even",
    "half_away": "nearest, ties away from 0",
    "half_up": "nearest, ties up",
    "floor": "floor (toward -inf)",
    "ceil": "ceil (toward +inf)",
    "toward_zero": "truncate (toward 0)",
    "stochastic": "stochastic",
}


def _segments(x: np.ndarray, y: np.ndarray) -> tuple[list, list, str]:
    """A piecewise-constant ``y(x)`` as its flat runs: (first x, last x) per run, None between runs.

    >>> _segments(np.array([0.0, 0.4, 0.6, 1.0]), np.array([0.0, 0.0, 1.0, 1.0]))
    ([0.0, 0.4, None, 0.6, 1.0, None], [0.0, 0.0, None, 1.0, 1.0, None], 'lines')
    """
    starts = np.concatenate([[0], np.flatnonzero(np.diff(y)) + 1])
    ends = np.concatenate([starts[1:] - 1, [y.size - 1]])
    xs, ys = [], []
    for a, b in zip(starts, ends):
        xs += [float(x[a]), float(x[b]), None]
        ys += [float(y[a]), float(y[b]), None]
    return xs, ys, "lines"


def rounding_explorer(*, n: int = 4000, seed: int = 0) -> Explorer:
    """The rounding function of each mode and the distribution of its error.

    Left: ``round(x)`` against ``x`` on ``[-3, 3]``: a staircase of flat segments for the
    deterministic modes; for stochastic rounding, one random draw per point (dots, every third
    grid point: the cloud reads the same and the browser redraws 401 markers, not 1201).
    Right: histogram of ``round(x) - x`` for ``x`` uniform on ``[-50, 50]`` (binned here, 40 bars
    of 0.05 steps), with the bias (mean error) in the readout.
    """
    rng = np.random.default_rng(seed)
    x_line = np.linspace(-3, 3, 1201)
    x_data = rng.uniform(-50, 50, n)
    u_line, u_data = rng.random(x_line.size), rng.random(n)  # fixed draws: the figure does not flicker

    def apply(x, u, mode):
        if mode == "stochastic":
            lo = np.floor(x)
            return lo + (u < x - lo)
        return rounding.round_(x, mode)

    fig = go.FigureWidget(make_subplots(rows=1, cols=2, subplot_titles=("round(x)", "error round(x) - x")))
    fig.add_scatter(x=[-3, 3], y=[-3, 3], name="x", mode="lines", line=dict(color=COLORS["float"], dash="dot"),
                    row=1, col=1)
    fig.add_scatter(x=x_line, y=x_line, name="round(x)", mode="markers",
                    marker=dict(color=COLORS["quant"], size=3), line=dict(color=COLORS["quant"], width=3),
                    row=1, col=1)
    edges = np.linspace(-1, 1, 41)  # 40 bins of 0.05 steps; errors lie in (-1, 1)
    fig.add_bar(x=(edges[:-1] + edges[1:]) / 2, y=np.zeros(40), width=0.05, name="error",
                marker=dict(color=COLORS["error"], line_width=0), row=1, col=2)
    fig.add_scatter(x=[0, 0], y=[0, 1], yaxis="y2", name="bias", mode="lines",
                    line=dict(color=COLORS["dark"], width=3), row=1, col=2)
    base_layout(fig, height=360)
    fig.update_xaxes(range=[-1.05, 1.05], row=1, col=2, title_text="error (steps)")
    fig.update_xaxes(title_text="x (steps)", row=1, col=1)

    controls = {"mode": C.dropdown("rounding", [(v, k) for k, v in MODE_LABELS.items()], "half_even")}

    def update(v):
        mode = v["mode"]
        y = apply(x_line, u_line, mode)
        if mode == "stochastic":
            xs, ys, draw = x_line[::3], y[::3], "markers"
        else:  # a step function: one flat segment per output level, None between them (one SVG path)
            xs, ys, draw = _segments(x_line, y)
        fig.data[1].update(x=xs, y=ys, mode=draw)
        err = apply(x_data, u_data, mode) - x_data
        fig.data[2].y = np.histogram(err, bins=edges)[0]
        bias = float(err.mean())
        fig.data[3].x = [bias, bias]
        fig.data[3].y = [0, n / 40 * 1.1]
        return (f"bias (mean error) = <b>{bias:+.3f}</b> steps &nbsp; rms error = {np.sqrt(np.mean(err**2)):.3f}"
                f" &nbsp; max |error| = {np.abs(err).max():.3f}")

    return Explorer(controls, fig, update)


def accumulation_explorer(*, n_steps: int = 2000, seed: int = 0) -> Explorer:
    """Many small updates added to a register that keeps only multiples of one step.

    Every mode runs on the same updates; the exact sum is drawn for reference. With updates
    smaller than half a step, round-to-nearest never moves, truncation drifts, and stochastic
    rounding follows the exact sum on average.
    """
    modes = ("half_even", "toward_zero", "floor", "stochastic")
    steps = np.arange(1, n_steps + 1)
    fig = go.FigureWidget()
    fig.add_scatter(x=steps, y=np.zeros(n_steps), name="exact sum", line=dict(color=COLORS["float"], width=4))
    for i, m in enumerate(modes):
        fig.add_scatter(x=steps, y=np.zeros(n_steps), name=MODE_LABELS[m], line=dict(color=CYCLE[i + 1]))
    base_layout(fig, xaxis_title="number of updates", yaxis_title="register value (steps)", height=380)

    controls = {
        "update": C.float_slider("mean update (steps)", min=-0.5, max=1.0, value=0.1, step=0.01),
        "noise": C.float_slider("update noise (steps)", min=0.0, max=1.0, value=0.0, step=0.05),
    }

    def update(v):
        rng = np.random.default_rng(seed)
        inc = v["update"] + v["noise"] * rng.standard_normal(n_steps)
        fig.data[0].y = np.cumsum(inc)
        finals = []
        for i, m in enumerate(modes):
            y = rounding.accumulate(inc, step=1.0, mode=m, rng=np.random.default_rng(seed + 1))
            fig.data[i + 1].y = y
            finals.append(f"{MODE_LABELS[m]}: {y[-1]:.0f}")
        return f"after {n_steps} updates: exact {np.sum(inc):.1f}; " + "; ".join(finals)

    return Explorer(controls, fig, update)

"""The AdaRound explorer for lesson ``16_ptq_repairs``: scrub through one layer's optimisation.

The optimisation runs once when the explorer is built (:func:`qlearn.networks.adaround.convnet_layer`,
about a second); the slider only indexes the recorded snapshots.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from qlearn.networks import adaround as A
from qlearn.networks import convnet
from qlearn.viz import controls as C
from qlearn.viz.explorer import Explorer
from qlearn.viz.style import COLORS, base_layout

#: Snapshots recorded along the run (the slider's positions): every ``ITERS / (SNAPSHOTS - 1)`` iterations.
SNAPSHOTS = 51


class Trajectory:
    """Everything the explorer shows, precomputed per snapshot from one
    :func:`qlearn.networks.adaround.adaround_layer` run.

    Attributes: ``result`` (the :class:`~qlearn.networks.adaround.AdaRoundResult`), ``iteration``, ``frac``
    (``W / s - floor(W / s)``, flattened), ``h`` (snapshots, weights), ``q`` (hard codes ``h >= 0.5``
    per snapshot), ``flipped`` (codes that differ from RTN), ``row_error`` (snapshots, out) and
    ``row_error_rtn`` (out,): per-output-channel output errors on the calibration inputs.
    """

    def __init__(self, W, X, X_float=None, *, bits=4, per_channel=False, iters=A.ITERS, seed=0):
        r = A.adaround_layer(W, X, X_float=X_float, bits=bits, per_channel=per_channel, iters=iters, seed=seed,
                             snapshots=SNAPSHOTS)
        self.result = r
        hist = r.history
        self.iteration = hist["iteration"]
        lo = np.floor(W / r.scale)
        self.frac = (W / r.scale - lo).ravel()
        self.h = hist["h"].reshape(len(self.iteration), -1)
        q = np.clip(lo[None] + (hist["h"] >= 0.5), r.qmin, r.qmax)
        self.q = q.reshape(len(self.iteration), -1).astype(np.int64)
        self.flipped = self.q != r.q_rtn.ravel()[None]
        self.row_error = np.array([A.output_error_per_row(W, r.scale * qi, X, X_float=X_float) for qi in q])
        self.row_error_rtn = A.output_error_per_row(W, r.scale * r.q_rtn, X, X_float=X_float)

    def index(self, iteration) -> int:
        """The snapshot nearest to ``iteration``."""
        return int(np.argmin(np.abs(self.iteration - iteration)))


def _distinct_dots(x: np.ndarray, y: np.ndarray, dx: float = 0.004, dy: float = 0.01) -> np.ndarray:
    """Indices of the dots that show: one per ``dx`` x ``dy`` cell (about 2 px in the h panel).

    Dots that fall in the same cell draw on top of each other (6 px markers); sending one of them
    leaves the picture as it is and saves the browser a marker each (issue 15: redraw per key press).

    >>> _distinct_dots(np.array([0.1, 0.1001, 0.5]), np.array([0.0, 0.0, 1.0])).tolist()
    [0, 2]
    """
    cells = np.stack([np.round(x / dx), np.round(y / dy)], axis=1)
    _, first = np.unique(cells, axis=0, return_index=True)
    return np.sort(first)


def trajectory_figure(tr: Trajectory, index: int = -1) -> go.Figure:
    """A pure figure of snapshot ``index``: loss curves, regularizer, ``h`` vs ``frac(W/s)``, error per channel."""
    r, hist = tr.result, tr.result.history
    it = tr.iteration
    fig = make_subplots(rows=2, cols=2, vertical_spacing=0.24, horizontal_spacing=0.12,
                        subplot_titles=("output error (calibration set)", "regularizer",
                                        "h(V) vs frac(W / s), every weight", "error per output channel"))
    top = max(float(np.max(hist["rec"])), float(np.max(hist["error_hard"])), r.error_rtn) * 1.05
    fig.add_scatter(x=it, y=hist["rec"], mode="lines", name="soft weights (the objective)",
                    line=dict(color=COLORS["float"]), row=1, col=1)
    fig.add_scatter(x=it, y=hist["error_hard"], mode="lines", name="rounded at h >= 0.5",
                    line=dict(color=COLORS["quant"]), row=1, col=1)
    fig.add_scatter(x=[it[0], it[-1]], y=[r.error_rtn, r.error_rtn], mode="lines", name="round-to-nearest",
                    line=dict(color=COLORS["grid"], dash="dash"), row=1, col=1)
    i = int(index) % len(it)
    fig.add_scatter(x=[it[i], it[i]], y=[0, top], mode="lines", name="now", showlegend=False,
                    line=dict(color=COLORS["dark"], width=1), row=1, col=1)
    fig.add_scatter(x=it, y=hist["reg"], mode="lines", name="regularizer", showlegend=False,
                    line=dict(color=COLORS["accent"]), row=1, col=2)
    reg_top = max(float(np.max(hist["reg"])), 1.0) * 1.05
    fig.add_scatter(x=[it[i], it[i]], y=[0, reg_top], mode="lines", showlegend=False,
                    line=dict(color=COLORS["dark"], width=1), row=1, col=2)
    f = tr.flipped[i]
    same = np.flatnonzero(~f)[_distinct_dots(tr.frac[~f], tr.h[i][~f])]
    fig.add_scatter(x=tr.frac[same], y=tr.h[i][same], mode="markers", name="same code as RTN",
                    marker=dict(color=COLORS["muted"], size=6), row=2, col=1)
    fig.add_scatter(x=tr.frac[f], y=tr.h[i][f], mode="markers", name="rounded the other way",
                    marker=dict(color=COLORS["clip"], size=8, symbol="diamond"), row=2, col=1)
    ch = np.arange(tr.row_error_rtn.size)
    fig.add_bar(x=ch, y=tr.row_error_rtn, name="RTN", marker_color=COLORS["grid"], row=2, col=2)
    fig.add_bar(x=ch, y=tr.row_error[i], name="AdaRound now", marker_color=COLORS["quant"], row=2, col=2)
    base_layout(fig, height=720)
    fig.update_layout(barmode="group")
    fig.update_xaxes(title_text="iteration", nticks=4, tickangle=0, row=1, col=1)  # upright on a phone
    fig.update_xaxes(title_text="iteration", nticks=4, tickangle=0, row=1, col=2)
    fig.update_yaxes(range=[0, top], row=1, col=1)
    fig.update_yaxes(range=[0, reg_top], row=1, col=2)
    fig.update_xaxes(title_text="frac(W / s): RTN rounds up right of 0.5", range=[-0.02, 1.02], row=2, col=1)
    fig.update_yaxes(title_text="h(V): up if >= 0.5", range=[-0.05, 1.05], row=2, col=1)
    fig.update_xaxes(title_text="output channel", row=2, col=2)
    return fig


def adaround_explorer(*, layer: int = 4, bits: int = 4, per_channel: bool = False) -> Explorer:
    """Scrub through AdaRound's optimisation on one weight layer of lesson 15's network.

    Introduced in lesson ``16_ptq_repairs``. The slider picks an iteration. Top left: the
    objective's reconstruction term (soft weights), the output error of rounding at ``h >= 0.5``
    right now, and round-to-nearest's; top right: the regularizer (zero in the warm start, then
    falling as ``beta`` anneals and ``h`` is pushed to 0 or 1); bottom left: every weight's ``h(V)``
    against the fractional part of ``W / s`` (RTN's decision), the weights rounded away from RTN
    highlighted (light-blue dots that would hide each other, within about 2 px, are sent once; every
    pink diamond is drawn); bottom right: the output error of each output channel, RTN vs AdaRound now.
    The run is computed once at build time (:func:`qlearn.networks.adaround.convnet_layer`).
    """
    W, Xq, Xf = A.convnet_layer_problem(layer, bits=bits, per_channel=per_channel)
    tr = Trajectory(W, Xq, Xf, bits=bits, per_channel=per_channel)
    r = tr.result
    last = int(tr.iteration[-1])
    fig = go.FigureWidget(trajectory_figure(tr, -1))
    step = max(int(tr.iteration[1] - tr.iteration[0]), 1)
    controls = {"iteration": C.int_slider("iteration", min=0, max=last, value=last, step=step)}
    kind = convnet.pretrained().quant_layers()[layer].kind
    scheme = "per-channel" if per_channel else "per-tensor"

    def update(v):
        i = tr.index(v["iteration"])
        it = int(tr.iteration[i])
        f = tr.flipped[i]
        fig.data[3].x = [it, it]
        fig.data[5].x = [it, it]
        same = np.flatnonzero(~f)[_distinct_dots(tr.frac[~f], tr.h[i][~f])]  # overlapping light-blue dots: one
        fig.data[6].x, fig.data[6].y = tr.frac[same], tr.h[i][same]
        fig.data[7].x, fig.data[7].y = tr.frac[f], tr.h[i][f]
        fig.data[9].y = tr.row_error[i]
        beta = r.history["beta"][i]
        stage = "warm start (no regularizer)" if np.isnan(beta) else f"beta = {beta:.1f}"
        undecided = float(np.mean((tr.h[i] > 0) & (tr.h[i] < 1)))
        err = float(r.history["error_hard"][i])
        return (f"layer {layer} ({kind}, W {W.shape[0]}x{W.shape[1]} as a GEMM), {bits}-bit {scheme}; "
                f"iteration {it}, {stage}: <b>{int(f.sum())}</b> of {f.size} codes rounded away from RTN, "
                f"{undecided:.0%} of h still strictly between 0 and 1<br>output error with h >= 0.5 rounding "
                f"<b>{err:.4g}</b> vs round-to-nearest {r.error_rtn:.4g} ({err / r.error_rtn:.0%} of RTN's)")

    ex = Explorer(controls, fig, update)
    ex.trajectory = tr
    return ex

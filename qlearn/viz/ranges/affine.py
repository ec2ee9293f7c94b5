"""Figures and explorers for lesson ``03_scale_zero_point``."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from qlearn.ranges import affine
from qlearn.viz import controls as C
from qlearn.viz.explorer import Explorer
from qlearn.viz.style import COLORS, base_layout


def staircase(x, qp: affine.QParams) -> go.Figure:
    """The quantizer's staircase ``x -> x_hat`` and its error ``x_hat - x`` (a pure figure) over
    ``[min(x), max(x)]``, drawn exactly from :func:`qlearn.ranges.affine.staircase_vertices`."""
    x = np.asarray(x, dtype=float)
    span = [float(x.min()), float(x.max())]
    x, x_hat = affine.staircase_vertices(*span, qp)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.68, 0.32], vertical_spacing=0.06)
    fig.add_scatter(x=span, y=span, name="x (ideal)", line=dict(color=COLORS["float"], dash="dot"), row=1, col=1)
    fig.add_scatter(x=x, y=x_hat, name="x_hat = dequantize(quantize(x))", line=dict(color=COLORS["quant"]),
                    row=1, col=1)
    fig.add_scatter(x=x, y=x_hat - x, name="error", line=dict(color=COLORS["error"]), row=2, col=1)
    lo, hi = qp.range
    fig.add_scatter(x=[lo, hi], y=[lo, hi], name="codes qmin, qmax", mode="markers",
                    marker=dict(color=COLORS["clip"], size=11, symbol="diamond"), row=1, col=1)
    fig.add_scatter(x=[0.0], y=[float(affine.fake_quantize(0.0, qp))], name="zero", mode="markers",
                    marker=dict(color=COLORS["dark"], size=9), row=1, col=1)
    base_layout(fig, height=460)
    fig.update_yaxes(title_text="x_hat", row=1, col=1)
    fig.update_yaxes(title_text="error", row=2, col=1)
    fig.update_xaxes(title_text="real value x", row=2, col=1)
    return fig


def staircase_explorer(*, bits: int = 3, x_range=(-1.0, 2.5), symmetric: bool = False,
                       seed: int = 0) -> Explorer:
    """Range, bits and mode controls on the affine quantizer's staircase.

    The readout prints scale, zero point and the integer range, and splits the mean squared
    error of a Gaussian sample (mean 0.5, std 1) into rounding and clipping parts.
    """
    data = np.random.default_rng(seed).normal(0.5, 1.0, 20_000)
    qp0 = affine.compute_qparams(*x_range, bits=bits, symmetric=symmetric)
    fig = go.FigureWidget(staircase([-4.0, 4.0], qp0))
    controls = {
        "bits": C.int_slider("bits", min=1, max=8, value=bits),
        "range": C.range_slider("range [x_min, x_max]", min=-4.0, max=4.0, value=tuple(x_range)),
        "symmetric": C.toggle("symmetric", symmetric),
        "signed": C.toggle("signed codes", True),
        "narrow_range": C.toggle("narrow range", False),
    }

    def update(v):
        lo, hi = v["range"]
        qp = affine.compute_qparams(lo, hi, bits=v["bits"], symmetric=v["symmetric"], signed=v["signed"],
                                    narrow_range=v["narrow_range"])
        xs, x_hat = affine.staircase_vertices(-4.0, 4.0, qp)
        fig.data[1].x, fig.data[1].y = xs, x_hat
        fig.data[2].x, fig.data[2].y = xs, x_hat - xs
        rlo, rhi = qp.range
        fig.data[3].x = fig.data[3].y = [rlo, rhi]
        fig.data[4].y = [float(affine.fake_quantize(0.0, qp))]
        e = affine.quantization_error(data, qp)
        return (f"scale = <b>{qp.scale:.4g}</b>, zero_point = <b>{qp.zero_point}</b>, codes {qp.qmin}..{qp.qmax}"
                f" ({qp.qmax - qp.qmin + 1} levels), representable [{rlo:.3g}, {rhi:.3g}]<br>"
                f"Gaussian data: MSE = {e['mse']:.2e} = rounding {e['rounding_mse']:.2e}"
                f" + clipping {e['clipping_mse']:.2e} ({100 * e['clipped_fraction']:.1f}% of samples clipped)")

    return Explorer(controls, fig, update)


def grid_explorer(*, bits: int = 3, seed: int = 0) -> Explorer:
    """Where the integer codes land on the real line, over a histogram of data.

    Moving the range shows the trade-off: a wide range covers outliers with coarse steps, a
    narrow one resolves the bulk finely and clips the tails.
    """
    rng = np.random.default_rng(seed)
    data = rng.normal(0.0, 1.0, 20_000)
    counts, edges = np.histogram(data, bins=200, range=(-5, 5))  # binned once, here, not in the browser
    fig = go.FigureWidget()
    fig.add_bar(x=(edges[:-1] + edges[1:]) / 2, y=counts, width=edges[1] - edges[0], name="data",
                marker=dict(color=COLORS["muted"], line=dict(width=0)), opacity=0.6)
    fig.add_scatter(x=[], y=[], mode="markers", name="grid levels",
                    marker=dict(color=COLORS["quant"], size=9, symbol="line-ns-open", line=dict(width=2)))
    fig.add_scatter(x=[], y=[], mode="lines", name="clip", line=dict(color=COLORS["clip"], dash="dash"))
    base_layout(fig, xaxis_title="real value", yaxis_title="count", height=340)
    fig.update_xaxes(range=[-5, 5])
    controls = {
        "bits": C.int_slider("bits", min=2, max=8, value=bits),
        "clip": C.float_slider("clip at +-", min=0.25, max=5.0, value=3.0, step=0.05),
    }
    peak = float(counts.max())

    def update(v):
        qp = affine.compute_qparams(-v["clip"], v["clip"], bits=v["bits"], symmetric=True)
        codes = np.arange(qp.qmin, qp.qmax + 1)
        levels = affine.dequantize(codes, qp)
        fig.data[1].x = levels
        fig.data[1].y = np.full(levels.size, peak * 1.05)
        lo, hi = qp.range
        fig.data[2].x = [lo, lo, None, hi, hi]
        fig.data[2].y = [0, peak * 1.1, None, 0, peak * 1.1]
        e = affine.quantization_error(data, qp)
        return (f"step = {qp.scale:.3g}; MSE = rounding {e['rounding_mse']:.2e} + clipping {e['clipping_mse']:.2e}"
                f" = <b>{e['mse']:.2e}</b>")

    return Explorer(controls, fig, update)

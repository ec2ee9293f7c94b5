"""Figures and explorers for lesson ``17_block_formats``: blocks, shared scales, element grids, the trade-off."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from qlearn.modern import block_formats as B
from qlearn.numbers import formats as F
from qlearn.ranges.metrics import sqnr_db
from qlearn.viz import controls as C
from qlearn.viz.explorer import Explorer
from qlearn.viz.style import COLORS, CYCLE, base_layout

#: The schemes the explorer offers, with their labels.
SCHEME_LABELS = {"mxfp4": "MXFP4 (E2M1 + E8M0 scale)", "mxfp6_e2m3": "MXFP6 E2M3", "mxfp8_e4m3": "MXFP8 E4M3",
                 "nvfp4": "NVFP4 (E2M1 + E4M3 scale + FP32)", "int_asym": "int4 per group (scale + zero point)"}
TENSOR_LABELS = {"real": "course MLP, layer 1 W (64 x 64, real)",
                 "heavy": "heavy-tailed synthetic (0.05 * Student t, df 3, seed 0)"}
BLOCK_SIZES = (16, 32, 64, 128)
WINDOW = 128  # values shown at once: two rows of the MLP's 64 x 64 W


@lru_cache(maxsize=1)
def tensors() -> dict:
    """The two tensors of lesson 17, flattened row by row to 4096 values (a group of 128 spans two rows of W)."""
    from qlearn.networks import nn

    return {"real": nn.pretrained().layers[0].W.reshape(-1).copy(),
            "heavy": B.heavy_tailed_weights(4096, rng=np.random.default_rng(0))}


def _quantize(x, scheme, k):
    """x_hat, bits per weight, and per block (levels grid, scale shown in the readout)."""
    if scheme in B.MX_ELEMENTS:
        t = B.mx_quantize(x, B.MX_ELEMENTS[scheme], block_size=k)
        grid = F.representable_values(B.MX_ELEMENTS[scheme])
        levels = [s * grid for s in t.scales]
        scales = t.scales
    elif scheme == "nvfp4":
        t = B.nvfp4_quantize(x, block_size=k)
        grid = F.representable_values("fp4_e2m1")
        scales = t.block_scales * t.tensor_scale
        levels = [s * grid for s in scales]
    else:
        t = B.group_quantize(x, bits=4, group_size=k)
        codes = np.arange(16)
        levels = [s * (codes - z) for s, z in zip(t.scale, t.zero_point)]
        scales = t.scale
    return t.dequantize(), t.bits_per_weight, levels, np.asarray(scales, dtype=float)


@lru_cache(maxsize=2)
def _precomputed(name: str) -> dict:
    x = tensors()[name]
    out = {}
    for s in SCHEME_LABELS:
        for k in BLOCK_SIZES:
            x_hat, bpw, levels, scales = _quantize(x, s, k)
            out[s, k] = dict(x_hat=x_hat, bpw=bpw, levels=levels, scales=scales, sqnr=sqnr_db(x, x_hat))
    return out


def tradeoff_figure() -> go.Figure:
    """SQNR vs bits per weight for each scheme over block sizes 16-128, on the real and the synthetic tensor.

    MXFP4 at 32, NVFP4 at 16 and int4 at group 128 (the common deployments) are ringed.
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=[TENSOR_LABELS["real"], TENSOR_LABELS["heavy"]],
                        horizontal_spacing=0.1)
    common = {("mxfp4", 32), ("nvfp4", 16), ("int_asym", 128)}
    for col, name in enumerate(("real", "heavy"), start=1):
        pre = _precomputed(name)
        for i, s in enumerate(SCHEME_LABELS):
            pts = [(pre[s, k]["bpw"], pre[s, k]["sqnr"], k) for k in BLOCK_SIZES]
            fig.add_scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="lines+markers+text",
                            text=[str(p[2]) for p in pts], textposition="top center", name=SCHEME_LABELS[s],
                            line=dict(color=CYCLE[i]), showlegend=col == 1, legendgroup=s, row=1, col=col)
            ring = [(b, q) for b, q, k in pts if (s, k) in common]
            if ring:
                fig.add_scatter(x=[ring[0][0]], y=[ring[0][1]], mode="markers", showlegend=False,
                                marker=dict(size=18, color="rgba(0,0,0,0)", line=dict(color=CYCLE[i], width=2)),
                                legendgroup=s, row=1, col=col)
    base_layout(fig, height=460)
    fig.update_xaxes(title_text="bits per weight (scales included)", type="log")
    fig.update_yaxes(title_text="SQNR (dB)", row=1, col=1)
    fig.update_layout(legend=dict(y=-0.25, yanchor="top", x=0, xanchor="left"), margin=dict(b=140))
    return fig


def block_format_explorer() -> Explorer:
    """A window of 128 weights with its blocks, each block's scale and element grid; the trade-off below.

    First figure (``explorer.fig``): the weights ``x`` (blue) and ``x_hat`` (orange) in the window,
    dashed lines between blocks, each block's grid of representable values (grey) and its largest
    level (thick). Second (``explorer.tradeoff``): SQNR vs bits per weight of every scheme over block
    sizes 16-128 (the whole tensor), the current choice ringed. Everything is precomputed at build
    time (2 tensors x 5 schemes x 4 sizes).
    """
    data = tensors()
    pre = {name: _precomputed(name) for name in data}
    # Two figures, not two panels of one: moving the window redraws only the window, the
    # trade-off below does not change (plotly.js redraws every panel of a figure on any update).
    fig = go.FigureWidget()
    fig.add_scatter(x=[], y=[], mode="lines", name="element grid (scale x values)", hoverinfo="skip",
                    line=dict(color=COLORS["grid"], width=0.6))
    fig.add_scatter(x=[], y=[], mode="lines", name="largest level of the block",
                    line=dict(color=COLORS["clip"], width=2.5))
    fig.add_scatter(x=[], y=[], mode="lines", name="block boundary",
                    line=dict(color=COLORS["dark"], dash="dash", width=1), hoverinfo="skip")
    fig.add_scatter(x=[], y=[], mode="markers", name="x", marker=dict(color=COLORS["float"], size=6))
    fig.add_scatter(x=[], y=[], mode="markers", name="x_hat", marker=dict(color=COLORS["quant"], size=6, symbol="x"))
    base_layout(fig, xaxis_title="index in the flattened tensor", yaxis_title="weight", height=400)
    trade = go.FigureWidget()
    for i, s in enumerate(SCHEME_LABELS):
        trade.add_scatter(x=[], y=[], mode="lines+markers", name=SCHEME_LABELS[s], line=dict(color=CYCLE[i]))
    trade.add_scatter(x=[], y=[], mode="markers", name="current choice",
                      marker=dict(size=18, color="rgba(0,0,0,0)", line=dict(color=COLORS["dark"], width=2.5)))
    base_layout(trade, xaxis_title="bits per weight (scales included)", yaxis_title="SQNR (dB), whole tensor",
                height=380)
    trade.update_xaxes(type="log")
    controls = {
        "tensor": C.dropdown("tensor", [(v, k) for k, v in TENSOR_LABELS.items()], "real"),
        "scheme": C.dropdown("format", [(v, k) for k, v in SCHEME_LABELS.items()], "mxfp4"),
        "block_size": C.dropdown("block / group size", list(BLOCK_SIZES), 32),
        "window": C.int_slider("window (128 values)", min=0, max=4096 // WINDOW - 1, value=0),
    }

    def update(v):
        x = data[v["tensor"]]
        p = pre[v["tensor"]]
        s, k = v["scheme"], int(v["block_size"])
        r = p[s, k]
        lo = int(v["window"]) * WINDOW
        idx = np.arange(lo, lo + WINDOW)
        xs, xh = x[idx], r["x_hat"][idx]
        span = 1.15 * float(np.max(np.abs(xs)))
        gx, gy, tx, ty, bx, by = [], [], [], [], [], []
        first, last = lo // k, (lo + WINDOW - 1) // k
        for b in range(first, last + 1):
            a0, a1 = max(b * k, lo) - 0.5, min((b + 1) * k, lo + WINDOW) - 0.5
            lev = r["levels"][b]
            lev = lev[np.abs(lev) <= span]
            for y in lev:
                gx += [a0, a1, None]
                gy += [float(y), float(y), None]
            top = float(np.max(np.abs(r["levels"][b])))
            for y in (top, -top):
                tx += [a0, a1, None]
                ty += [y, y, None]
            if b * k > lo:
                bx += [b * k - 0.5, b * k - 0.5, None]
                by += [-span, span, None]
        fig.data[0].x, fig.data[0].y = gx, gy
        fig.data[1].x, fig.data[1].y = tx, ty
        fig.data[2].x, fig.data[2].y = bx, by
        fig.data[3].x, fig.data[3].y = idx, xs
        fig.data[4].x, fig.data[4].y = idx, xh
        with trade.batch_update():
            for i, sch in enumerate(SCHEME_LABELS):
                trade.data[i].x = [p[sch, kk]["bpw"] for kk in BLOCK_SIZES]
                trade.data[i].y = [p[sch, kk]["sqnr"] for kk in BLOCK_SIZES]
            trade.data[-1].x, trade.data[-1].y = [r["bpw"]], [r["sqnr"]]
        scales = r["scales"][first:last + 1]
        note = " (the MX spec fixes 32)" if s in B.MX_ELEMENTS and k != 32 else ""
        note += " (NVFP4 uses 16)" if s == "nvfp4" and k != 16 else ""
        return (f"<b>{SCHEME_LABELS[s]}</b>, block {k}{note}: <b>{r['bpw']:.4g} bits per weight</b>, "
                f"SQNR over the whole tensor <b>{r['sqnr']:.1f} dB</b>; window SQNR {sqnr_db(xs, xh):.1f} dB. "
                f"Scales of the blocks shown: {', '.join(f'{sc:.3g}' for sc in scales)}")

    ex = Explorer(controls, fig, update, extra=[trade])
    ex.tradeoff = trade
    return ex


__all__ = ["block_format_explorer", "tradeoff_figure", "tensors", "SCHEME_LABELS", "TENSOR_LABELS", "BLOCK_SIZES"]

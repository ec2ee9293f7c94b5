"""Figures and explorers for lesson ``18_llm_weights``: GPTQ, AWQ, LLM.int8() and SmoothQuant.

The layers here are *synthetic* (seeded, labelled so in every figure): a small correlated layer for
GPTQ's column-by-column view, a layer with a few salient input channels for AWQ, and a layer with
planted outlier channels for LLM.int8() and SmoothQuant. Everything an explorer shows is
precomputed at build time; moving a control only picks a precomputed result.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from qlearn.modern import awq as A
from qlearn.modern import gptq as G
from qlearn.modern import outliers as O
from qlearn.modern import smoothquant as S
from qlearn.ranges.metrics import sqnr_db
from qlearn.viz import controls as C
from qlearn.viz.explorer import Explorer
from qlearn.viz.style import COLORS, base_layout

GPTQ_BITS = (2, 3, 4)
AWQ_BITS = (3, 4)
AWQ_GROUP = 32
THRESHOLDS = tuple(np.round(np.arange(1.0, 40.01, 0.5), 2).tolist())
SQ_ALPHAS = tuple(np.round(np.arange(0.0, 1.0001, 0.05), 2).tolist())
SYNTH = "synthetic, seeded"


# ---------------------------------------------------------------------------------------------
# the synthetic layers (seeded; the lesson states their numbers)
# ---------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def gptq_layer():
    """GPTQ's small layer: ``gptq.synthetic_layer(8, 24, 256)`` with seed 0."""
    return G.synthetic_layer(8, 24, 256, rng=np.random.default_rng(0))


@lru_cache(maxsize=1)
def awq_layer():
    """AWQ's layer: 64 x 128, inputs whose channel sizes span a factor of about 100 (lognormal), seed 1."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(256, 128)) * np.exp(1.2 * rng.normal(size=128))
    W = rng.normal(size=(64, 128)) / np.sqrt(128)
    return W, X


@lru_cache(maxsize=1)
def outlier_layer():
    """The planted-outlier layer: ``outliers.planted_outlier_layer(64, 128, 256)``, 4 channels of ~30, seed 0."""
    return O.planted_outlier_layer(64, 128, 256, n_outliers=4, magnitude=30.0, rng=np.random.default_rng(0))


def output_sqnr_db(Y_hat, Y) -> float:
    """SQNR of the layer's output, ``10 log10(||Y||^2 / ||Y_hat - Y||^2)`` in dB (lesson 05)."""
    return sqnr_db(Y, Y_hat)


# ---------------------------------------------------------------------------------------------
# GPTQ
# ---------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def gptq_precomputed() -> dict:
    """Per bits: GPTQ's history on :func:`gptq_layer` (per-channel scales), output errors per step, RTN's."""
    W, X = gptq_layer()
    out = {}
    for b in GPTQ_BITS:
        W_hat, h = G.gptq_quantize(W, X, bits=b, group_size=None, return_history=True)
        rtn = G.rtn_quantize(W, bits=b, group_size=None)
        # GPTQ after k steps: the working matrix (k columns quantized, the others corrected so far);
        # RTN after k columns: the first k rounded, the others untouched. Both end at their final errors.
        steps = len(h.order)
        partial = [G.output_error(W, h.weights[k], X) for k in range(steps + 1)]
        partial_rtn = [G.output_error(W, np.where(np.arange(W.shape[1]) < k, rtn, W), X) for k in range(steps + 1)]
        out[b] = dict(W_hat=W_hat, history=h, rtn=rtn, err_gptq=G.output_error(W, W_hat, X),
                      err_rtn=G.output_error(W, rtn, X), partial=np.array(partial), partial_rtn=np.array(partial_rtn))
    return out


def gptq_explorer() -> Explorer:
    """GPTQ on a small synthetic layer (8 x 24), one column per step.

    Top: ``weights[k] - W``, how far each weight has moved after ``k`` steps: the quantized columns
    (left of the dashed line) hold their rounding, the columns to the right hold the error pushed
    into them so far. Middle: the update the current step pushed into the columns not yet quantized,
    for every output row. Bottom: the layer's output error after ``k`` steps: GPTQ's working matrix
    (``k`` columns quantized, the rest corrected) against RTN with its first ``k`` columns rounded.
    """
    W, X = gptq_layer()
    pre = gptq_precomputed()
    out_f, in_f = W.shape
    fig = go.FigureWidget(make_subplots(rows=3, cols=1, row_heights=[0.38, 0.3, 0.32], vertical_spacing=0.17,
                                        subplot_titles=[f"moved so far: W_k - W (8 x 24 layer, {SYNTH})",
                                                        "pushed by this step into the columns not yet quantized",
                                                        "output error ||(W - W_k) X^T||^2 / n after k steps"]))
    fig.add_heatmap(z=np.zeros((out_f, in_f)), colorscale="RdBu", zmid=0, colorbar=dict(len=0.35, y=0.82),
                    row=1, col=1)
    fig.add_scatter(x=[], y=[], mode="lines", line=dict(color=COLORS["dark"], dash="dash"), name="next column",
                    showlegend=False, row=1, col=1)
    fig.add_heatmap(z=np.zeros((out_f, in_f)), colorscale="RdBu", zmid=0, showscale=False, row=2, col=1)
    fig.add_scatter(x=[], y=[], mode="lines", line=dict(color=COLORS["dark"], dash="dash"), showlegend=False,
                    row=2, col=1)
    fig.add_scatter(x=[], y=[], mode="lines", name="GPTQ", line=dict(color=COLORS["float"]), row=3, col=1)
    fig.add_scatter(x=[], y=[], mode="lines", name="round-to-nearest", line=dict(color=COLORS["quant"], dash="dot"),
                    row=3, col=1)
    fig.add_scatter(x=[], y=[], mode="markers", name="step k", marker=dict(size=11, color=COLORS["dark"]),
                    row=3, col=1)
    base_layout(fig, height=760)
    for r in (1, 2):
        fig.update_xaxes(title_text="input column", row=r, col=1)
        fig.update_yaxes(title_text="output row", autorange="reversed", row=r, col=1)
    fig.update_xaxes(title_text="columns quantized (k)", row=3, col=1)
    fig.update_yaxes(title_text="output error", type="log", dtick=1, row=3, col=1)  # powers of ten only
    controls = {"step": C.int_slider("step k (columns done)", min=0, max=in_f, value=0),
                "bits": C.dropdown("bits", list(GPTQ_BITS), 3)}

    def update(v):
        p = pre[int(v["bits"])]
        h = p["history"]
        k = int(v["step"])
        moved = h.weights[k] - W
        pushed = h.pushed[k - 1] if k > 0 else np.zeros_like(W)
        lim = float(np.max(np.abs(h.weights - W))) or 1.0
        ks = np.arange(in_f + 1)
        with fig.batch_update():
            fig.data[0].z, fig.data[0].zmin, fig.data[0].zmax = moved, -lim, lim
            fig.data[1].x, fig.data[1].y = [k - 0.5, k - 0.5], [-0.5, out_f - 0.5]
            plim = float(np.max(np.abs(pushed))) or 1.0
            fig.data[2].z, fig.data[2].zmin, fig.data[2].zmax = pushed, -plim, plim
            fig.data[3].x, fig.data[3].y = [k - 0.5, k - 0.5], [-0.5, out_f - 0.5]
            fig.data[4].x, fig.data[4].y = ks, p["partial"]
            fig.data[5].x, fig.data[5].y = ks, p["partial_rtn"]
            fig.data[6].x, fig.data[6].y = [k], [p["partial"][k]]
        if k == 0:
            step = "nothing quantized yet: move the slider"
        else:
            j = int(h.order[k - 1])
            step = (f"step {k} quantized column {j} (rounding error {np.linalg.norm(h.rounding_error[k - 1]):.3g}) "
                    f"and pushed an update of size {np.linalg.norm(pushed):.3g} into columns {j + 1}-{in_f - 1}")
        return (f"{step}. Output error with {k} columns quantized: GPTQ <b>{p['partial'][k]:.3g}</b>, "
                f"round-to-nearest {p['partial_rtn'][k]:.3g}. Final ({v['bits']} bits, per-channel): "
                f"GPTQ <b>{p['err_gptq']:.3g}</b> vs RTN <b>{p['err_rtn']:.3g}</b> "
                f"({p['err_gptq'] / p['err_rtn']:.0%}).")

    return Explorer(controls, fig, update)


# ---------------------------------------------------------------------------------------------
# AWQ
# ---------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def awq_precomputed() -> dict:
    """Per bits: AWQ's objective on the grid (20 alphas), the chosen alpha, and the scales at every alpha."""
    W, X = awq_layer()
    m = np.mean(np.abs(X), axis=0)
    out = {}
    for b in AWQ_BITS:
        alphas, losses = A.awq_losses(W, X, bits=b, group_size=AWQ_GROUP)
        s, alpha, _ = A.awq_search(W, X, bits=b, group_size=AWQ_GROUP)
        out[b] = dict(alphas=alphas, losses=losses, alpha=alpha,
                      scales=[A.awq_scales(m, a) for a in alphas])
    return out


def awq_explorer() -> Explorer:
    """AWQ's search on a synthetic 64 x 128 layer (int3/int4, groups of 32): the alpha slider.

    Left: the objective ``mean (W X^T - Q(W s)(X/s)^T)^2`` over the grid, its minimum ringed, the
    current alpha marked (alpha = 0 is round-to-nearest). Right: the scale ``s_c`` of each input
    channel against the channel's mean ``|X_c|`` (log-log): the slope is alpha.
    """
    W, X = awq_layer()
    pre = awq_precomputed()
    m = np.mean(np.abs(X), axis=0)
    fig = go.FigureWidget(make_subplots(rows=1, cols=2, horizontal_spacing=0.14,
                                        subplot_titles=[f"AWQ objective (64 x 128 layer, {SYNTH})",
                                                        "scale s_c of each input channel"]))
    fig.add_scatter(x=[], y=[], mode="lines+markers", name="objective", line=dict(color=COLORS["float"]), row=1, col=1)
    fig.add_scatter(x=[], y=[], mode="markers", name="minimum (AWQ's choice)",
                    marker=dict(size=16, color="rgba(0,0,0,0)", line=dict(color=COLORS["error"], width=3)),
                    row=1, col=1)
    fig.add_scatter(x=[], y=[], mode="markers", name="current alpha", marker=dict(size=10, color=COLORS["quant"]),
                    row=1, col=1)
    fig.add_scatter(x=m, y=np.ones_like(m), mode="markers", name="s_c", marker=dict(size=5, color=COLORS["quant"]),
                    showlegend=False, row=1, col=2)
    base_layout(fig, height=430)
    fig.update_xaxes(title_text="alpha", row=1, col=1)
    fig.update_yaxes(title_text="mean squared output error", type="log", row=1, col=1)
    fig.update_xaxes(title_text="mean |X_c| of the channel", type="log", row=1, col=2)
    # minor ticks at 2 and 5 only: a 280 px panel has no room for 0.6 0.7 0.8 0.9 (they ran together)
    fig.update_yaxes(title_text="s_c", type="log", dtick="D2", row=1, col=2)
    controls = {"alpha": C.float_slider("alpha", min=0.0, max=0.95, value=0.0, step=0.05),
                "bits": C.dropdown("bits", list(AWQ_BITS), 3)}

    def update(v):
        p = pre[int(v["bits"])]
        k = int(round(float(v["alpha"]) * 20))
        best = int(np.argmin(p["losses"]))
        with fig.batch_update():
            fig.data[0].x, fig.data[0].y = p["alphas"], p["losses"]
            fig.data[1].x, fig.data[1].y = [p["alphas"][best]], [p["losses"][best]]
            fig.data[2].x, fig.data[2].y = [p["alphas"][k]], [p["losses"][k]]
            fig.data[3].y = p["scales"][k]
        s = p["scales"][k]
        return (f"alpha = {p['alphas'][k]:.2f}: objective <b>{p['losses'][k]:.3g}</b> "
                f"({p['losses'][k] / p['losses'][0]:.0%} of round-to-nearest's {p['losses'][0]:.3g}); "
                f"scales from {s.min():.3g} to {s.max():.3g}. AWQ picks alpha = <b>{p['alpha']:.2f}</b> "
                f"({p['losses'][best] / p['losses'][0]:.0%} of RTN).")

    return Explorer(controls, fig, update)


# ---------------------------------------------------------------------------------------------
# LLM.int8()
# ---------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def outlier_precomputed() -> dict:
    """Per threshold: LLM.int8()'s output SQNR (dB) and the number of columns kept in FP16."""
    W, X, _ = outlier_layer()
    Y = X @ W.T
    errs, ncols = [], []
    for t in THRESHOLDS:
        Yq, n = O.llm_int8_matmul(X, W, threshold=t)
        errs.append(output_sqnr_db(Yq, Y))
        ncols.append(n)
    plain = output_sqnr_db(O.vectorwise_int8_matmul(X, W), Y)
    return dict(thresholds=np.array(THRESHOLDS), sqnr=np.array(errs), n_columns=np.array(ncols),
                plain=plain, col_max=np.max(np.abs(X), axis=0))


def outlier_explorer() -> Explorer:
    """LLM.int8() on the planted-outlier layer (synthetic): the threshold slider.

    Left: the largest ``|x|`` of each input column, the threshold, the columns kept in FP16
    highlighted. Right: output SQNR (left axis) and the fraction of columns in FP16
    (the cost) against the threshold; plain vector-wise int8 dashed.
    """
    p = outlier_precomputed()
    in_f = p["col_max"].size
    fig = go.FigureWidget(make_subplots(rows=1, cols=2, horizontal_spacing=0.16,
                                        specs=[[{}, {"secondary_y": True}]],
                                        subplot_titles=[f"max |x| per input column (planted outliers, {SYNTH})",
                                                        "error and cost against the threshold"]))
    fig.add_bar(x=np.arange(in_f), y=p["col_max"], marker_color=COLORS["float"], name="int8 column", row=1, col=1)
    fig.add_bar(x=[], y=[], marker_color=COLORS["quant"], name="kept in FP16", row=1, col=1)
    fig.add_scatter(x=[-0.5, in_f - 0.5], y=[6, 6], mode="lines", name="threshold",
                    line=dict(color=COLORS["dark"], dash="dash"), row=1, col=1)
    fig.add_scatter(x=p["thresholds"], y=p["sqnr"], mode="lines", name="output SQNR (dB)",
                    line=dict(color=COLORS["float"]), row=1, col=2)
    fig.add_scatter(x=p["thresholds"], y=np.full(p["thresholds"].size, p["plain"]), mode="lines",
                    name="int8 without decomposition", line=dict(color=COLORS["quant"], dash="dot"), row=1, col=2)
    fig.add_scatter(x=[], y=[], mode="markers", name="current", marker=dict(size=10, color=COLORS["dark"]),
                    row=1, col=2)
    fig.add_scatter(x=p["thresholds"], y=p["n_columns"] / in_f, mode="lines", name="fraction of columns in FP16",
                    line=dict(color=COLORS["error"]), row=1, col=2, secondary_y=True)
    base_layout(fig, height=430)
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(title_text="input column", row=1, col=1)
    fig.update_yaxes(title_text="max |x|", type="log", row=1, col=1)
    fig.update_xaxes(title_text="threshold", row=1, col=2)
    fig.update_yaxes(title_text="output SQNR (dB)", row=1, col=2, secondary_y=False)
    # its own round ticks (plotly.js lines an overlaying axis's ticks up with the left one's grid:
    # 0.011, 0.142, ... 0.931), no grid of its own
    fig.update_yaxes(title_text="columns in FP16", range=[0, 1], tickmode="linear", tick0=0, dtick=0.25,
                     tickformat=".0%", showgrid=False, row=1, col=2, secondary_y=True)
    controls = {"threshold": C.float_slider("threshold", min=THRESHOLDS[0], max=THRESHOLDS[-1], value=6.0,
                                            step=0.5, readout_format=".1f")}

    def update(v):
        k = int(np.argmin(np.abs(p["thresholds"] - float(v["threshold"]))))
        t = float(p["thresholds"][k])
        keep = np.flatnonzero(p["col_max"] >= t)
        with fig.batch_update():
            fig.data[1].x, fig.data[1].y = keep, p["col_max"][keep]
            fig.data[2].y = [t, t]
            fig.data[5].x, fig.data[5].y = [t], [p["sqnr"][k]]
        n = int(p["n_columns"][k])
        return (f"threshold {t:g}: <b>{n}</b> of {in_f} columns ({n / in_f:.1%}) in FP16, output SQNR "
                f"<b>{p['sqnr'][k]:.1f} dB</b>; vector-wise int8 without the decomposition: {p['plain']:.1f} dB.")

    return Explorer(controls, fig, update)


# ---------------------------------------------------------------------------------------------
# SmoothQuant
# ---------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def smoothquant_precomputed() -> dict:
    """Per alpha and granularity: W8A8's output SQNR (dB) on the planted-outlier layer; channel maxima."""
    W, X, _ = outlier_layer()
    Y = X @ W.T
    m = np.max(np.abs(X), axis=0)
    out = {"x_max": {}, "w_max": {}}
    for g in S.GRANULARITIES:
        out[g] = np.array([output_sqnr_db(S.smoothed_w8a8_linear(X, W, a, granularity=g), Y) for a in SQ_ALPHAS])
        out[g + "_plain"] = output_sqnr_db(S.w8a8_linear(X, W, granularity=g), Y)
    for a in SQ_ALPHAS:
        W_s, s = S.smooth(W, m, a)
        out["x_max"][a] = m / s
        out["w_max"][a] = np.max(np.abs(W_s), axis=0)
    return out


def smoothquant_explorer() -> Explorer:
    """SmoothQuant's alpha on the planted-outlier layer (synthetic): who carries the range.

    Left: per input channel, ``max |X_j / s_j|`` (activation difficulty) and ``max |W_j s_j|``
    (weight difficulty), on one log scale for every alpha. Right: W8A8's output SQNR against
    alpha, per-tensor and per-token activation scales; without smoothing dotted.
    """
    p = smoothquant_precomputed()
    in_f = next(iter(p["x_max"].values())).size
    fig = go.FigureWidget(make_subplots(rows=1, cols=2, horizontal_spacing=0.14,
                                        subplot_titles=[f"range per input channel after smoothing ({SYNTH})",
                                                        "W8A8 output SQNR against alpha"]))
    fig.add_scatter(x=np.arange(in_f), y=np.ones(in_f), mode="markers", name="activation max |X_j / s_j|",
                    marker=dict(size=5, color=COLORS["float"]), row=1, col=1)
    fig.add_scatter(x=np.arange(in_f), y=np.ones(in_f), mode="markers", name="weight max |W_j s_j|",
                    marker=dict(size=5, color=COLORS["quant"], symbol="x"), row=1, col=1)
    styles = {"per_tensor": COLORS["float"], "per_token": COLORS["error"]}
    for g in S.GRANULARITIES:
        fig.add_scatter(x=SQ_ALPHAS, y=p[g], mode="lines+markers", name=f"smoothed, {g.replace('_', '-')}",
                        line=dict(color=styles[g]), row=1, col=2)
        fig.add_scatter(x=[0, 1], y=[p[g + "_plain"]] * 2, mode="lines", name=f"no smoothing, {g.replace('_', '-')}",
                        line=dict(color=styles[g], dash="dot"), row=1, col=2)
    fig.add_scatter(x=[], y=[], mode="markers", name="current", marker=dict(size=11, color=COLORS["dark"]),
                    row=1, col=2)
    base_layout(fig, height=430)
    fig.update_xaxes(title_text="input channel", row=1, col=1)
    # one scale for every alpha (plotly's log ranges are in decades): the maxima move on a fixed axis
    # instead of the axis following them, and the axis is not drawn again on every step
    every = np.concatenate([np.ravel(p[key][a]) for key in ("x_max", "w_max") for a in SQ_ALPHAS])
    decades = np.log10(every[every > 0])
    pad = 0.05 * max(float(decades.max() - decades.min()), 1.0)
    fig.update_yaxes(title_text="max |value|", type="log", row=1, col=1,
                     range=[float(decades.min()) - pad, float(decades.max()) + pad])
    fig.update_xaxes(title_text="alpha (migration strength)", row=1, col=2)
    fig.update_yaxes(title_text="output SQNR (dB)", row=1, col=2)
    controls = {"alpha": C.float_slider("alpha", min=0.0, max=1.0, value=0.5, step=0.05),
                "granularity": C.dropdown("activation scale", [("per tensor", "per_tensor"),
                                                               ("per token", "per_token")], "per_tensor")}

    def update(v):
        k = int(round(float(v["alpha"]) * 20))
        a = SQ_ALPHAS[k]
        g = v["granularity"]
        with fig.batch_update():
            fig.data[0].y = p["x_max"][a]
            fig.data[1].y = p["w_max"][a]
            fig.data[6].x, fig.data[6].y = [a], [p[g][k]]
        xm, wm = p["x_max"][a], p["w_max"][a]
        return (f"alpha {a:.2f}: activation channel maxima span {xm.max() / xm.min():.3g}x, weight column maxima "
                f"{wm.max() / wm.min():.3g}x. W8A8 ({g.replace('_', '-')}): output SQNR <b>{p[g][k]:.1f} dB</b>, "
                f"without smoothing {p[g + '_plain']:.1f} dB.")

    return Explorer(controls, fig, update)


def method_figure(rows) -> go.Figure:
    """Perplexity against bits per weight, one marker per row of :func:`qlearn.modern.gptq.method_table`."""
    fig = go.Figure()
    families = {"float": COLORS["dark"], "rtn": COLORS["quant"], "mxfp4": COLORS["clip"], "nvfp4": COLORS["clip"],
                "gptq": COLORS["float"], "awq": COLORS["error"], "smoothquant": COLORS["accent"],
                "llm_int8": COLORS["muted"]}
    for fam, color in families.items():
        rs = [r for r in rows if G.METHODS[r["method"]][1] == fam]
        if not rs:
            continue
        fig.add_scatter(x=[r["bits_per_weight"] for r in rs], y=[r["perplexity"] for r in rs], mode="markers+text",
                        text=[r["label"] for r in rs], textposition="middle right", name=fam,
                        marker=dict(size=9, color=color), textfont=dict(size=10))
    base_layout(fig, height=520, xaxis_title="bits per weight (scales included)",
                yaxis_title="validation perplexity (lower is better)")
    fig.update_xaxes(type="log")
    return fig


__all__ = ["method_figure", "gptq_explorer", "awq_explorer", "outlier_explorer", "smoothquant_explorer",
           "gptq_layer", "awq_layer", "outlier_layer", "gptq_precomputed", "awq_precomputed", "outlier_precomputed",
           "smoothquant_precomputed", "output_sqnr_db"]

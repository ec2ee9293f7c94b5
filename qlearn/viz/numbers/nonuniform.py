"""Figures and explorers for lesson ``10_nonuniform_and_binary``."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from qlearn.networks.data import load_digits
from qlearn.networks.nn import pretrained
from qlearn.numbers import nonuniform as nu
from qlearn.viz import controls as C
from qlearn.viz.explorer import Explorer
from qlearn.viz.style import COLORS, base_layout

METHOD_LABELS = [("uniform (min/max)", "uniform"), ("k-means (shared)", "kmeans"), ("log2 (shifts)", "log2"),
                 ("binary (XNOR)", "binary"), ("ternary (TWN)", "ternary")]


def _levels(W_hat):
    vals, counts = np.unique(np.round(W_hat, 12), return_counts=True)
    return vals, counts


def codebook_explorer(*, layer: int = 0, method: str = "kmeans", bits: int = 2) -> Explorer:
    """A layer's weight histogram with the levels a code allows, and what the code does to the model.

    Introduced in lesson ``10_nonuniform_and_binary``. Every (layer, method, bits) is
    precomputed at build time: decoded levels, weight SQNR, and the test accuracy and
    size of the whole model with that code on every layer (no retraining).
    """
    model, data = pretrained(), load_digits()
    bits_axis = list(range(2, 7))
    layer_tab, model_tab = {}, {}
    for m in [v for _, v in METHOD_LABELS]:
        for b in bits_axis:
            if m in ("binary", "ternary") and b != bits_axis[0]:
                model_tab[m, b] = model_tab[m, bits_axis[0]]
                for li in range(len(model.layers)):
                    layer_tab[li, m, b] = layer_tab[li, m, bits_axis[0]]
                continue
            c = nu.compress_model(model, m, b)
            model_tab[m, b] = (c.accuracy(data.X_test, data.y_test), c.size_bytes)
            for li, (L, Lc) in enumerate(zip(model.layers, c.model.layers, strict=True)):
                err = np.sum((L.W - Lc.W) ** 2)
                sq = 10 * np.log10(np.sum(L.W**2) / err) if err > 0 else 120.0
                layer_tab[li, m, b] = (*_levels(Lc.W), sq)
    f_acc, f_size = model.accuracy(data.X_test, data.y_test), model.size_bytes(32)
    fig = go.FigureWidget()
    fig.add_histogram(x=model.layers[layer].W.ravel(), name="weights", marker_color=COLORS["muted"],
                      opacity=0.7, nbinsx=80)
    # a bar 0.006 wide is ~4 px on a laptop but under 1 px on a phone: an outline of fixed pixels keeps it seen
    fig.add_bar(x=[0.0], y=[0], name="weights sharing each level", marker_color=COLORS["quant"], width=0.006,
                marker_line=dict(color=COLORS["quant"], width=2), yaxis="y2")
    base_layout(fig, xaxis_title="weight value", yaxis_title="count (histogram)", height=380)
    fig.update_layout(yaxis2=dict(title="weights per level", overlaying="y", side="right", showgrid=False),
                      barmode="overlay")
    controls = {
        "layer": C.dropdown("layer", [(f"layer {i}: W {L.W.shape}", i) for i, L in enumerate(model.layers)], layer),
        "method": C.dropdown("code", METHOD_LABELS, method),
        "bits": C.int_slider("bits", min=bits_axis[0], max=bits_axis[-1], value=bits),
    }

    def update(v):
        li, m, b = v["layer"], v["method"], v["bits"]
        fig.data[0].x = model.layers[li].W.ravel()
        vals, counts, sq = layer_tab[li, m, b]
        fig.data[1].x, fig.data[1].y = vals, counts
        acc, size = model_tab[m, b]
        eff = {"binary": "1 bit (bits slider ignored)", "ternary": "2 bits, 3 levels (bits slider ignored)"}.get(
            m, f"{b} bits")
        return (f"{m}, {eff}: layer {li} uses <b>{vals.size}</b> distinct values, weight SQNR <b>{sq:.1f} dB</b><br>"
                f"whole model with this code on every layer: test accuracy <b>{acc:.1%}</b> "
                f"(float {f_acc:.1%}), size <b>{size:,} bytes</b> ({f_size / size:.1f}x smaller)")

    return Explorer(controls, fig, update)

"""Figures and explorers for lesson ``16_ptq_repairs``: cross-layer equalization and the repairs table.

The equalization of the shipped network (:func:`qlearn.networks.equalization.equalize`, about 0.2 s) is
computed once per session with every sweep's ranges; the accuracy table is the shipped
:func:`qlearn.networks.bias_correction.load_repair_table`. Callbacks only index precomputed arrays.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import plotly.graph_objects as go

from qlearn.networks import bias_correction, convnet, equalization
from qlearn.viz import controls as C
from qlearn.viz.explorer import Explorer
from qlearn.viz.style import COLORS, base_layout, wrap_text


@lru_cache(maxsize=1)
def shipped_equalization() -> equalization.Equalization:
    """:func:`qlearn.networks.equalization.equalize` of the shipped folded network, once per session."""
    return equalization.equalize(convnet.pretrained().fold())


def pair_names() -> list:
    """``'layer a (kind) -> layer b (kind)'`` for every equalized pair, numbered as :meth:`ConvNet.quant_layers`."""
    eq = shipped_equalization()
    weight_idx = [k for k, layer in enumerate(eq.model.layers) if isinstance(layer, (convnet.Conv, convnet.Linear))]
    names = []
    for i, j in eq.pairs:
        a, b = weight_idx.index(i), weight_idx.index(j)
        names.append(f"layer {a} ({eq.model.layers[i].kind}) -> layer {b} ({eq.model.layers[j].kind})")
    return names


def pair_ranges_figure(pair: int = 2, sweep: int = 0) -> go.Figure:
    """A pure figure: per-channel ranges ``r1`` (first layer's output channels), ``r2`` (second's input channels)."""
    r1, r2 = shipped_equalization().history[sweep][pair]
    x = np.arange(r1.size)
    fig = go.Figure()
    fig.add_bar(x=x, y=r1, name="r1: first layer, output channel max |W|", marker_color=COLORS["float"])
    fig.add_bar(x=x, y=r2, name="r2: second layer, input channel max |W|", marker_color=COLORS["quant"])
    fig.add_scatter(x=[-0.5, r1.size - 0.5], y=[r1.max(), r1.max()], mode="lines",
                    name="first layer's per-tensor range", line=dict(color=COLORS["clip"], dash="dash"))
    base_layout(fig, xaxis_title="channel", yaxis_title="max |W|", height=420)
    fig.update_layout(barmode="group")
    fig.update_yaxes(rangemode="tozero")
    return fig


def cle_explorer(*, pair: int = 2, sweep: int = 0) -> Explorer:
    """Per-channel weight ranges of one layer pair of lesson 15's folded network, sweep by sweep of CLE.

    Introduced in lesson ``16_ptq_repairs``. Controls: the pair of consecutive weight layers,
    and how many sweeps of cross-layer equalization have run (0: the folded network). Bars:
    ``r1`` (each output channel's ``max |W|`` in the first layer) and ``r2`` (each input
    channel's in the second); dashed: the range one per-tensor scale of the first layer must
    cover. Readout: the spread ``max r1 / min r1`` and the largest ``r1 / r2`` mismatch.
    """
    eq = shipped_equalization()
    fig = go.FigureWidget(pair_ranges_figure(pair, sweep))
    controls = {
        "pair": C.dropdown("layer pair", [(name, k) for k, name in enumerate(pair_names())], pair),
        "sweep": C.int_slider("sweeps of equalization", min=0, max=eq.sweeps, value=sweep),
    }

    def update(v):
        r1, r2 = eq.history[v["sweep"]][v["pair"]]
        x = np.arange(r1.size)
        with fig.batch_update():
            fig.data[0].x, fig.data[0].y = x, r1
            fig.data[1].x, fig.data[1].y = x, r2
            fig.data[2].x, fig.data[2].y = [-0.5, r1.size - 0.5], [r1.max(), r1.max()]
        mismatch = float(np.max(np.maximum(r1 / r2, r2 / r1)))
        return (f"after {v['sweep']} sweep(s): first layer's channel ranges span "
                f"<b>{r1.max() / r1.min():.2f}x</b> (max / min); largest r1 / r2 mismatch {mismatch:.4f}x; "
                f"whole network's pair mismatch {np.exp(eq.mismatch[v['sweep']]):.4f}x")

    return Explorer(controls, fig, update)


def repairs_figure(bits: int = 4) -> go.Figure:
    """A pure figure: test accuracy after each repair (:data:`qlearn.networks.bias_correction.REPAIRS`) at ``bits``
    bits."""
    t = bias_correction.load_repair_table()
    names = list(bias_correction.REPAIRS)
    # wrapped, so the labels leave a phone's bars most of the width
    labels = [wrap_text(bias_correction.REPAIR_LABELS[n], 26) for n in names]
    acc = [100 * t[n, bits] for n in names]
    colors = [COLORS["muted"] if n.startswith("per_channel") else COLORS["quant"] for n in names]
    fig = go.Figure()
    fig.add_bar(x=acc, y=labels, orientation="h", marker_color=colors, name="test accuracy",
                text=[f"{a:.1f}%" for a in acc], textposition="auto", cliponaxis=False)
    fl = 100 * t["float_folded"]
    fig.add_scatter(x=[fl, fl], y=[labels[0], labels[-1]], mode="lines", name=f"float {fl:.1f}%",
                    line=dict(color=COLORS["float"], dash="dash"))
    base_layout(fig, xaxis_title="test accuracy (%)", height=520)
    fig.update_xaxes(range=[0, 105])
    fig.update_yaxes(autorange="reversed", tickfont=dict(size=13))
    return fig


def repairs_explorer(*, bits: int = 4) -> Explorer:
    """Test accuracy of lesson 15's network after each PTQ repair, per-tensor weights (per-channel for comparison).

    Introduced in lesson ``16_ptq_repairs``. Control: the weight bits (activations 8 bits).
    Figures from the shipped :func:`qlearn.networks.bias_correction.repair_table` (exact integer paths).
    """
    t = bias_correction.load_repair_table()
    names = list(bias_correction.REPAIRS)
    fig = go.FigureWidget(repairs_figure(bits))
    controls = {"bits": C.dropdown("weight bits", list(bias_correction.TABLE_BITS), bits)}
    n = t["n_test"]

    def update(v):
        acc = [100 * t[name, v["bits"]] for name in names]
        with fig.batch_update():
            fig.data[0].x = acc
            fig.data[0].text = [f"{a:.1f}%" for a in acc]
        best = max(names, key=lambda name: (t[name, v["bits"]], -names.index(name)))
        return (f"W{v['bits']}A8: folded per-tensor <b>{t['folded', v['bits']]:.1%}</b> "
                f"({round(t['folded', v['bits']] * n)} of {n}); best: {bias_correction.REPAIR_LABELS[best]} "
                f"<b>{t[best, v['bits']]:.1%}</b> ({round(t[best, v['bits']] * n)}); float {t['float_folded']:.1%}")

    return Explorer(controls, fig, update)

"""Figures and the explorer for lesson ``15_convolutions_and_folding``: channel ranges before and after folding.

Everything is computed once when the explorer is built (the network's accuracy table takes a
few seconds, cached for the session); callbacks only index precomputed arrays.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from qlearn.networks import convnet
from qlearn.viz import controls as C
from qlearn.viz.explorer import Explorer
from qlearn.viz.style import COLORS, base_layout

#: Weight bit widths the explorer offers (those of :data:`qlearn.networks.convnet.TABLE_BITS`).
BITS = convnet.TABLE_BITS


@lru_cache(maxsize=1)
def shipped_table() -> dict:
    """:func:`qlearn.networks.convnet.accuracy_table` of the shipped network, computed once per session."""
    return convnet.accuracy_table()


@lru_cache(maxsize=1)
def _layers():
    net = convnet.pretrained()
    return net.quant_layers(), net.fold().quant_layers()


def layer_names() -> list:
    """``'i: kind W shape'`` for every weight layer of the shipped network."""
    return [f"{i}: {L.kind} {L.W.shape}" for i, L in enumerate(_layers()[0])]


def channel_ranges_figure(layer: int = 3, *, folded: bool = True, bits: int = 8,
                          per_channel: bool = False) -> go.Figure:
    """A pure figure: each output channel's ``max |W|`` (top) and the levels its codes span (bottom)."""
    W = _layers()[bool(folded)][layer].W
    r = convnet.channel_ranges(W)
    lv = convnet.levels_used(W, bits=bits, per_channel=per_channel)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.1, row_heights=[0.5, 0.5])
    x = np.arange(r.size)
    fig.add_bar(x=x, y=r, name="channel max |W|", marker_color=COLORS["float"], row=1, col=1)
    fig.add_scatter(x=[-0.5, r.size - 0.5], y=[r.max(), r.max()], mode="lines", name="per-tensor range",
                    line=dict(color=COLORS["clip"], dash="dash"), row=1, col=1)
    fig.add_bar(x=x, y=lv, name="levels the channel spans", marker_color=COLORS["quant"], row=2, col=1)
    full = 2 * (2 ** (bits - 1) - 1) + 1
    fig.add_scatter(x=[-0.5, r.size - 0.5], y=[full, full], mode="lines", name="all levels",
                    line=dict(color=COLORS["grid"], dash="dot"), row=2, col=1)
    base_layout(fig, height=500)
    fig.update_yaxes(title_text="max |W|", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="levels used", rangemode="tozero", row=2, col=1)
    fig.update_xaxes(title_text="output channel", row=2, col=1)
    return fig


def folding_explorer(*, layer: int = 3, folded: bool = True, bits: int = 4, per_channel: bool = False) -> Explorer:
    """Per-channel weight ranges of lesson 15's network, before and after batch-norm folding.

    Introduced in lesson ``15_convolutions_and_folding``. Controls: the weight layer, folded
    or not, per-tensor or per-channel scales, weight bits. Top: every output channel's
    ``max |W|`` and the one range a per-tensor scale must cover; bottom: how many of the
    symmetric narrow-range levels each channel's codes span. Readout: the range ratio,
    the fewest levels a channel gets, and the whole network's test accuracy with every
    weight layer at that setting (activations 8 bits; precomputed by
    :func:`qlearn.networks.convnet.accuracy_table`).
    """
    unfolded, folded_layers = _layers()
    table = shipped_table()
    cache = {}
    for f, layers in ((False, unfolded), (True, folded_layers)):
        for i, L in enumerate(layers):
            r = convnet.channel_ranges(L.W)
            for b in BITS:
                for pc in (False, True):
                    cache[f, i, b, pc] = (r, convnet.levels_used(L.W, bits=b, per_channel=pc))
    fig = go.FigureWidget(channel_ranges_figure(layer, folded=folded, bits=bits, per_channel=per_channel))
    controls = {
        "layer": C.dropdown("layer", [(name, i) for i, name in enumerate(layer_names())], layer),
        "folded": C.toggle("batch norm folded into the weights", folded),
        "per_channel": C.buttons("scales", [("per-tensor", False), ("per-channel", True)], per_channel),
        "bits": C.dropdown("weight bits", list(BITS), bits),
    }

    def update(v):
        r, lv = cache[v["folded"], v["layer"], v["bits"], v["per_channel"]]
        x = np.arange(r.size)
        full = 2 * (2 ** (v["bits"] - 1) - 1) + 1
        fig.data[0].x, fig.data[0].y = x, r
        fig.data[1].x, fig.data[1].y = [-0.5, r.size - 0.5], [r.max(), r.max()]
        fig.data[2].x, fig.data[2].y = x, lv
        fig.data[3].x, fig.data[3].y = [-0.5, r.size - 0.5], [full, full]
        acc = table[v["folded"], v["per_channel"], v["bits"]]
        scheme = "per-channel" if v["per_channel"] else "per-tensor"
        state = "folded" if v["folded"] else "unfolded (batch norm kept in float)"
        return (f"layer {layer_names()[v['layer']]}, {state}: channel ranges {r.min():.3f} .. {r.max():.3f} "
                f"(ratio {r.max() / r.min():.1f}); the narrowest channel spans <b>{int(lv.min())}</b> of "
                f"{full} levels<br>whole network, every weight layer {scheme} at {v['bits']} bits "
                f"(activations 8 bits): <b>{acc:.1%}</b> (float {table['float']:.1%})")

    return Explorer(controls, fig, update)

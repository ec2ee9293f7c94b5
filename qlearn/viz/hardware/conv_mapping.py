"""Explorer for lesson 15: a convolution mapped onto a systolic array (im2col -> products -> folds -> cycles)."""
from __future__ import annotations

import plotly.graph_objects as go

from qlearn.hardware import conv_mapping as cm
from qlearn.viz import controls as C
from qlearn.viz.explorer import Explorer
from qlearn.viz.style import COLORS, base_layout, wrap_text

ARRAY_SIZES = (8, 16, 32, 64, 128, 256)
DATAFLOWS = [("weight stationary", "weight_stationary"), ("output stationary", "output_stationary"),
             ("input stationary", "input_stationary")]


def conv_mapping_explorer() -> Explorer:
    """Utilization of a square systolic array on each example layer; the chosen layer's products and cycles.

    Horizontal bars (log scale): useful MACs / (cycles x array cells) for every layer of
    :data:`qlearn.hardware.conv_mapping.EXAMPLES` at the chosen array size, dataflow and batch; the chosen
    layer is highlighted and described in the readout.
    """
    names = [e.name for e in cm.EXAMPLES]
    # horizontal bars: the layer names on short lines at the left (slanted names under vertical bars
    # ran into the axis title, and on a phone into each other)
    labels = [wrap_text(n, 24) for n in names]
    fig = go.Figure()
    fig.add_bar(y=labels, x=[1.0] * len(names), orientation="h", marker_color=[COLORS["muted"]] * len(names),
                text=[""] * len(names), textposition="outside", cliponaxis=False, name="utilization")
    base_layout(fig, height=90 + 46 * len(names), xaxis_title="array busy<br>(% of cells x cycles)")
    fig.update_xaxes(type="log", range=[-3.3, 2.6], tickvals=[0.001, 0.01, 0.1, 1, 10, 100],
                     ticktext=["0.001%", "0.01%", "0.1%", "1%", "10%", "100%"])
    fig.update_yaxes(autorange="reversed", tickfont=dict(size=13))
    fig.update_layout(showlegend=False)
    controls = {
        "layer": C.dropdown("layer", [(n, i) for i, n in enumerate(names)], 3),
        "size": C.dropdown("array", [(f"{s} x {s}", s) for s in ARRAY_SIZES], 128),
        "dataflow": C.dropdown("dataflow", DATAFLOWS, "weight_stationary"),
        "batch": C.dropdown("batch", [1, 8, 32], 1),
    }

    def update(v):
        s = v["size"]
        runs = [cm.conv_on_array(e, s, s, batch=v["batch"], dataflow=v["dataflow"]) for e in cm.EXAMPLES]
        pct = [100 * r["utilization"] for r in runs]
        fig.data[0].x = pct
        fig.data[0].text = [f"{p:.2g}%" for p in pct]
        fig.data[0].marker.color = [COLORS["quant"] if i == v["layer"] else COLORS["muted"] for i in range(len(runs))]
        e, r = cm.EXAMPLES[v["layer"]], runs[v["layer"]]
        g = r["gemm"]
        prod = (f"{g.groups} products (one per channel) of" if g.groups > 1 else "one product")
        return (f"<b>{e.name}</b>: {e.C_in} x {e.H} x {e.W} input, {e.C_out} filters of {e.kernel} x {e.kernel}"
                f"{', depthwise' if e.depthwise else ''} &#8594; {prod} ({g.M:,} x {g.K}) @ ({g.K} x {g.N}) &#8594; "
                f"{r['folds']:,} folds on the {s} x {s} array, <b>{r['cycles']:,} cycles</b>, "
                f"{g.macs:,} MACs: the array is <b>{100 * r['utilization']:.3g}%</b> busy.")

    fig = go.FigureWidget(fig)
    return Explorer(controls, fig, update)

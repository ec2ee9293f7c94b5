"""Figures and explorers for lesson ``13_tpu_v1_capstone``: the TPU v1 roofline and the capstone table."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from qlearn import tpu
from qlearn.viz import controls as C
from qlearn.viz.explorer import Explorer
from qlearn.viz.style import COLORS, CYCLE, base_layout

BATCHES = [1, 2, 4, 8, 16, 32, 64, 100, 128, 200, 256, 512, 1024, 1350, 2048, 4096]


def _course_shapes():
    from qlearn import nn
    return [(layer.W.shape[1], layer.W.shape[0]) for layer in nn.pretrained().layers]


def tpu_roofline_explorer() -> Explorer:
    """The TPU v1 roofline (log-log) with the layers of a network placed on it at a batch size.

    x: MACs per weight byte (the paper's operational intensity, = batch for dense layers);
    y: TOPS the layer model achieves. The line is ``min(92 TOPS, 2 x intensity x 34 GB/s)``.
    """
    x = np.logspace(0, 4.5, 200)
    fig = go.Figure()
    fig.add_scatter(x=x, y=tpu.roofline(x), name="roofline (DDR3 34 GB/s, 92 TOPS)",
                    line=dict(color=COLORS["dark"], width=3))
    fig.add_scatter(x=[tpu.TPU_V1.ridge_point], y=[tpu.TPU_V1.peak_tops], mode="markers+text",
                    text=[f"ridge ≈ {tpu.TPU_V1.ridge_point:.0f}"], textposition="bottom right",
                    marker=dict(size=10, color=COLORS["grid"]), name="ridge point")
    fig.add_scatter(x=[1.0], y=[1.0], mode="markers", name="layers (model)",
                    marker=dict(size=13, color=COLORS["quant"], line=dict(width=1, color="white")))
    base_layout(fig, height=420, xaxis_title="MACs per weight byte", yaxis_title="TOPS")
    fig.update_xaxes(type="log")
    fig.update_yaxes(type="log", range=[-2, 2.1])
    shapes = {"MLP0": tpu.mlp0_layers(), "course": None}
    controls = {
        "network": C.dropdown("network", [("MLP0 (paper, Table 1)", "MLP0"), ("course MLP", "course")],
                              "MLP0"),
        "batch": C.dropdown("batch", BATCHES, 200),
        "per_channel": C.toggle("per-channel rescale", False),
        "bits16": C.dropdown("operands", [("8 x 8 bit", (8, 8)), ("8 x 16 bit", (8, 16)), ("16 x 16 bit", (16, 16))],
                             (8, 8)),
    }

    def update(v):
        net = v["network"]
        if shapes.get(net) is None:
            shapes[net] = _course_shapes()
        ab, wb = v["bits16"]
        cost = tpu.model_cost(shapes[net], v["batch"], per_channel=v["per_channel"], activation_bits=ab,
                              weight_bits=wb)
        xs = [c.ops_per_weight_byte for c in cost.layers]
        ys = [max(2 * c.macs / c.seconds / 1e12, 1e-3) for c in cost.layers]
        fig.data[2].x = xs
        fig.data[2].y = ys
        bound = cost.layers[0].bound
        return (f"batch {v['batch']}: latency <b>{cost.latency_s * 1e6:.1f} µs</b>, {cost.tops:.2f} TOPS "
                f"({100 * cost.mxu_utilization:.1f}% of the matrix unit), {cost.power_w:.1f} W, "
                f"<b>{cost.tops_per_watt:.3f} TOPS/W</b>; first layer bound by {bound}")

    fig = go.FigureWidget(fig)  # Explorer syncs the first update into the widget state
    return Explorer(controls, fig, update)


def capstone_explorer() -> Explorer:
    """The capstone table as bars: latency and performance per watt per configuration, accuracy in the labels.

    Accuracy (the course model, digits test set) is computed once at build time: it does
    not depend on batch size. Latency and perf/W come from :func:`qlearn.tpu.capstone_table`'s
    models at the chosen batch.
    """
    base = {b: tpu.capstone_table(batch=200, benchmark=b) for b in ("course", "MLP0")}
    labels = [f"{r['scheme']}<br>{r['calibration']}" for r in base["course"][:-1]]
    labels.append("FP32 on the host<br>(TPU v1: no float)")
    fig = go.Figure(make_subplots(rows=1, cols=2, subplot_titles=("end-to-end latency (µs)",
                                                                        "inferences per joule")))
    fig.add_bar(x=labels, y=[0] * len(labels), marker_color=CYCLE[: len(labels)], text=[""] * len(labels),
                textposition="outside", name="latency", row=1, col=1)
    fig.add_bar(x=labels, y=[0] * len(labels), marker_color=CYCLE[: len(labels)], name="inferences/J", row=1, col=2)
    base_layout(fig, height=440)
    fig.update_layout(showlegend=False)
    fig.update_yaxes(rangemode="tozero", row=1, col=1)
    fig.update_yaxes(rangemode="tozero", row=1, col=2)
    controls = {
        "benchmark": C.dropdown("network", [("course MLP", "course"), ("MLP0 (paper, Table 1)", "MLP0")], "course"),
        "batch": C.dropdown("batch", BATCHES, 200),
    }
    acc = {b: [r["accuracy"] for r in rows] for b, rows in base.items()}

    def update(v):
        b = v["benchmark"]
        shapes = _course_shapes() if b == "course" else tpu.mlp0_layers()
        B = v["batch"]
        lat, ipj = [], []
        for pc in (False, True):
            c = tpu.model_cost(shapes, B, per_channel=pc)
            lat += [c.latency_s * 1e6] * 2
            ipj += [c.inferences_per_joule] * 2
        h = tpu.host_fp32_cost(shapes, B)
        lat.append(h["latency_s"] * 1e6)
        ipj.append(h["inferences_per_joule"])
        fig.data[0].y = lat
        fig.data[0].text = ["n/a" if a is None else f"{100 * a:.1f}%" for a in acc[b]]
        fig.data[1].y = ipj
        return (f"batch {B}: TPU v1 int8 per-tensor {lat[0]:.1f} µs, per-channel {lat[2]:.1f} µs "
                f"(+{lat[2] - lat[0]:.3f} µs); FP32 on the Haswell host (roofline, optimistic) {lat[-1]:.1f} µs. "
                f"Calibration (histogram vs MSE) is offline: same hardware cost. Labels: test accuracy.")

    fig = go.FigureWidget(fig)  # Explorer syncs the first update into the widget state
    return Explorer(controls, fig, update)

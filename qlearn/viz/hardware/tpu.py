"""Figures and explorers for lesson ``13_tpu_v1_capstone``: the TPU v1 roofline and the capstone table."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from qlearn.hardware import tpu
from qlearn.viz import controls as C
from qlearn.viz.explorer import Explorer
from qlearn.viz.style import COLORS, CYCLE, base_layout

BATCHES = [1, 2, 4, 8, 16, 32, 64, 100, 128, 200, 256, 512, 1024, 1350, 2048, 4096]


def _course_shapes():
    from qlearn.networks import nn
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
                f"({100 * cost.mxu_utilization:.1f}% of the matrix unit), {cost.power_w:.0f} W at full load, "
                f"<b>{cost.tops_per_watt:.3f} TOPS/W</b>; first layer bound by {bound}")

    fig = go.FigureWidget(fig)  # Explorer syncs the first update into the widget state
    return Explorer(controls, fig, update)


#: The capstone explorer's bars, by row name (:func:`qlearn.hardware.tpu.capstone_rows`).
CAPSTONE_BARS = ("int8 per-tensor entropy", "int8 per-tensor mse", "int8 per-channel entropy", "int8 per-channel mse",
                 "fp16 chip", "host fp32", "host int8")


def _convnet_gemms():
    from qlearn.networks import convnet
    return convnet.gemm_shapes(convnet.pretrained())


def _costs(benchmark, batch):
    if benchmark == "convnet":
        return tpu.gemm_hardware_costs(_convnet_gemms(), batch, in_values=tpu.CONVNET_IO[0],
                                       out_values=tpu.CONVNET_IO[1])
    return tpu.hardware_costs(_course_shapes() if benchmark == "course" else tpu.mlp0_layers(), batch)


def capstone_explorer() -> Explorer:
    """The capstone table as bars: latency and inferences per joule per configuration, accuracy in the labels.

    Accuracy (the course MLP or lesson 15's conv network, digits test set) is computed once at build
    time (the conv network's is shipped): it does not depend on batch size. Latency and inferences per
    joule come from :func:`qlearn.hardware.tpu.hardware_costs` (:func:`qlearn.hardware.tpu.gemm_hardware_costs` for the
    conv network) at the chosen batch, at full load: the die alone and with the host server's share of
    power (Table 2).
    """
    base = {b: tpu.capstone_rows(tpu.capstone_table(batch=200, benchmark=b)) for b in ("course", "MLP0", "convnet")}
    labels = [f"{base['course'][k]['scheme']}<br>{base['course'][k]['calibration']}" for k in CAPSTONE_BARS[:4]]
    labels += ["FP16, same chip<br>no int8 (assumed)", "FP32 on the host<br>(TPU v1: no float)",
               "8-bit on the host<br>(Sec. 8: ~3.5x)"]
    n = len(labels)
    fig = go.Figure(make_subplots(rows=1, cols=2, subplot_titles=("end-to-end latency (µs)",
                                                                        "inferences per joule (log)")))
    fig.add_bar(x=labels, y=[0] * n, marker_color=CYCLE[:n], text=[""] * n,
                textposition="outside", name="latency", row=1, col=1)
    fig.add_bar(x=labels, y=[1] * n, marker_color=COLORS["quant"], name="die only", row=1, col=2)
    fig.add_bar(x=labels, y=[1] * n, marker_color=COLORS["grid"], name="with host share", row=1, col=2)
    base_layout(fig, height=460)
    fig.update_layout(barmode="group", legend=dict(orientation="h", y=-0.35))
    fig.update_yaxes(rangemode="tozero", row=1, col=1)
    fig.update_yaxes(type="log", row=1, col=2)
    controls = {
        "benchmark": C.dropdown("network", [("course MLP", "course"), ("MLP0 (paper, Table 1)", "MLP0"),
                                            ("conv network (lesson 15)", "convnet")], "course"),
        "batch": C.dropdown("batch", BATCHES, 200),
    }
    acc = {b: [rows[k]["accuracy"] for k in CAPSTONE_BARS] for b, rows in base.items()}
    keys = ["int8 per-tensor"] * 2 + ["int8 per-channel"] * 2 + ["fp16 chip", "host fp32", "host int8"]

    def update(v):
        b = v["benchmark"]
        B = v["batch"]
        hw = _costs(b, B)
        rows = [hw[k] for k in keys]
        lat = [r["latency_us"] for r in rows]
        fig.data[0].y = lat
        fig.data[0].text = ["n/a" if a is None else f"{100 * a:.1f}%" for a in acc[b]]
        fig.data[1].y = [r["inferences_per_joule"] for r in rows]
        fig.data[2].y = [r["inferences_per_joule_total"] for r in rows]
        ratio = rows[0]["inferences_per_joule"] / rows[5]["inferences_per_joule"]
        same_chip = rows[0]["inferences_per_joule"] / rows[4]["inferences_per_joule"]
        return (f"batch {B}: TPU v1 int8 per-tensor {lat[0]:.1f} µs, per-channel {lat[2]:.1f} µs; "
                f"FP32 on the Haswell host (roofline, optimistic) {lat[5]:.1f} µs. Inferences per joule (die): "
                f"int8 TPU / FP32 host <b>{ratio:.1f}x</b>, of which int8 / FP16 on the same chip "
                f"<b>{same_chip:.2f}x</b>. Calibration (histogram vs MSE) is offline: same hardware cost. "
                f"Labels: test accuracy" + (": KL vs MSE at int8 differs by <b>"
                                            f"{100 * (acc[b][1] - acc[b][0]):.1f} points</b> per tensor."
                                            if b == "convnet" else "."))

    fig = go.FigureWidget(fig)  # Explorer syncs the first update into the widget state
    return Explorer(controls, fig, update)

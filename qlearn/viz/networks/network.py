"""Figures and explorers for lessons ``07_per_channel`` to ``09_quantization_aware_training``.

Everything heavy (PTQ grids, QAT runs) is precomputed: shipped in ``qlearn/data`` or
computed once at build time; callbacks only index arrays and assign trace data.
"""
from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from qlearn.networks import ptq, qat
from qlearn.networks.data import load_digits
from qlearn.networks.nn import pretrained
from qlearn.ranges import affine
from qlearn.viz import controls as C
from qlearn.viz.explorer import Explorer
from qlearn.viz.style import COLORS, base_layout

SQNR_CAP_DB = 120.0  # an exact reconstruction has infinite SQNR: drawn at this cap


def channel_sqnr_db(W, W_hat) -> np.ndarray:
    """SQNR of every output channel (row) of ``W`` in dB, capped at ``SQNR_CAP_DB``."""
    W, W_hat = np.asarray(W, float), np.asarray(W_hat, float)
    signal = np.sum(W**2, axis=1)
    noise = np.sum((W - W_hat) ** 2, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        db = 10 * np.log10(signal / noise)
    return np.where(np.isfinite(db), np.minimum(db, SQNR_CAP_DB), SQNR_CAP_DB)


def channel_ranges(W, *, bits: int = 4) -> go.Figure:
    """Each output channel's ``max |W|`` (sorted) and its SQNR per-tensor vs per-channel (a pure figure)."""
    W = np.asarray(W, float)
    order = np.argsort(np.abs(W).max(axis=1))
    r = np.abs(W).max(axis=1)[order]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, row_heights=[0.45, 0.55])
    fig.add_bar(x=np.arange(r.size), y=r, name="channel max |W|", marker_color=COLORS["float"], row=1, col=1)
    fig.add_scatter(x=[0, r.size - 1], y=[r.max(), r.max()], mode="lines", name="per-tensor range",
                    line=dict(color=COLORS["clip"], dash="dash"), row=1, col=1)
    sq = {}
    for pc in (False, True):
        qp = ptq.weight_qparams(W, bits=bits, per_channel=pc)
        sq[pc] = channel_sqnr_db(W, affine.fake_quantize(W, qp))[order]
    fig.add_scatter(x=np.arange(r.size), y=sq[False], name="SQNR, one scale per tensor", mode="lines+markers",
                    line=dict(color=COLORS["quant"]), row=2, col=1)
    fig.add_scatter(x=np.arange(r.size), y=sq[True], name="SQNR, one scale per channel", mode="lines+markers",
                    line=dict(color=COLORS["error"]), row=2, col=1)
    base_layout(fig, height=480)
    fig.update_yaxes(title_text="max |W| of the row", row=1, col=1)
    fig.update_yaxes(title_text="SQNR (dB)", row=2, col=1)
    fig.update_xaxes(title_text="output channel (sorted by range)", row=2, col=1)
    return fig


def per_channel_explorer(*, layer: int = 0, bits: int = 4) -> Explorer:
    """Per-channel vs per-tensor weight scales on a real layer of the course MLP.

    Introduced in lesson ``07_per_channel``. Top: every output channel's range against the
    one per-tensor range. Bottom: each channel's SQNR with one scale for the whole tensor
    vs one per channel. Readout: the model's test accuracy with every layer's weights at
    ``bits`` bits, both ways (activations float; precomputed from the shipped grid).
    """
    model = pretrained()
    grid = ptq.load_ptq_grid()
    wo = list(grid["modes"]).index("weight_only")
    bits_axis = list(grid["bits"])
    # precompute every layer x bits once
    cache = {}
    for li, L in enumerate(model.layers):
        order = np.argsort(np.abs(L.W).max(axis=1))
        r = np.abs(L.W).max(axis=1)[order]
        for b in bits_axis:
            s = {}
            for pc in (False, True):
                qp = ptq.weight_qparams(L.W, bits=b, per_channel=pc)
                s[pc] = channel_sqnr_db(L.W, affine.fake_quantize(L.W, qp))[order]
            cache[li, b] = (r, s[False], s[True])
    fig = go.FigureWidget(channel_ranges(model.layers[layer].W, bits=bits))
    fig.update_yaxes(range=[0, 80], row=2, col=1)
    controls = {
        "layer": C.dropdown("layer", [(f"layer {i}: W {L.W.shape}", i) for i, L in enumerate(model.layers)], layer),
        "bits": C.int_slider("bits", min=min(bits_axis), max=max(bits_axis), value=bits),
    }

    def update(v):
        r, s_pt, s_pc = cache[v["layer"], v["bits"]]
        x = np.arange(r.size)
        fig.data[0].x, fig.data[0].y = x, r
        fig.data[1].x, fig.data[1].y = [0, r.size - 1], [r.max(), r.max()]
        fig.data[2].x, fig.data[2].y = x, s_pt
        fig.data[3].x, fig.data[3].y = x, s_pc
        bi = bits_axis.index(v["bits"])
        a_pt, a_pc = grid["accuracy"][wo, 0, 0, bi], grid["accuracy"][wo, 0, 1, bi]
        return (f"layer {v['layer']}: channel ranges {r.min():.3f} .. {r.max():.3f} (ratio {r.max() / r.min():.1f}); "
                f"mean SQNR per-tensor <b>{s_pt.mean():.1f} dB</b>, per-channel <b>{s_pc.mean():.1f} dB</b><br>"
                f"whole model, all weights at {v['bits']} bits: per-tensor <b>{a_pt:.1%}</b>, "
                f"per-channel <b>{a_pc:.1%}</b> (float {float(grid['float_accuracy']):.1%})")

    return Explorer(controls, fig, update)


def ptq_explorer(*, mode: str = "full_integer", bits: int = 4, calibration: str = "minmax",
                 per_channel: bool = False) -> Explorer:
    """Post-training quantization of the course MLP: mode, bits, calibrator, per-channel.

    Introduced in lesson ``08_post_training_quantization``. Scrubs the shipped grid
    (:func:`qlearn.networks.ptq.load_ptq_grid`): accuracy vs bits for the chosen settings, per-tensor
    and per-channel, the float reference, and the current point; the readout gives
    accuracy, size and agreement with the float model.
    """
    g = ptq.load_ptq_grid()
    modes, cals, bits_axis = list(g["modes"]), list(g["calibrations"]), list(g["bits"])
    f_acc, f_size = float(g["float_accuracy"]), int(g["float_size_bytes"])
    fig = go.FigureWidget()
    fig.add_scatter(x=bits_axis, y=[f_acc] * len(bits_axis), name="float32", mode="lines",
                    line=dict(color=COLORS["float"], dash="dot"))
    fig.add_scatter(x=bits_axis, y=g["accuracy"][0, 0, 0], name="per-tensor", mode="lines+markers",
                    line=dict(color=COLORS["quant"]))
    fig.add_scatter(x=bits_axis, y=g["accuracy"][0, 0, 1], name="per-channel", mode="lines+markers",
                    line=dict(color=COLORS["error"]))
    fig.add_scatter(x=[bits], y=[0.0], name="current", mode="markers",
                    marker=dict(color=COLORS["dark"], size=16, symbol="circle-open", line=dict(width=3)))
    base_layout(fig, xaxis_title="bits", yaxis_title="test accuracy", height=380)
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%")
    controls = {
        "mode": C.dropdown("mode", modes, mode),
        "bits": C.int_slider("bits", min=min(bits_axis), max=max(bits_axis), value=bits),
        "calibration": C.dropdown("activation calibration", cals, calibration),
        "per_channel": C.toggle("per-channel weight scales", per_channel),
    }

    def update(v):
        mi, ci, bi, pc = modes.index(v["mode"]), cals.index(v["calibration"]), bits_axis.index(v["bits"]), int(
            v["per_channel"])
        fig.data[1].y = g["accuracy"][mi, ci, 0]
        fig.data[2].y = g["accuracy"][mi, ci, 1]
        acc, size, agree = g["accuracy"][mi, ci, pc, bi], int(g["size_bytes"][mi, ci, pc, bi]), g["agreement"][
            mi, ci, pc, bi]
        fig.data[3].x, fig.data[3].y = [v["bits"]], [acc]
        note = ""
        if v["mode"] in ("float16", "bfloat16"):
            note = " (16-bit floats: the bits slider does not apply)"
        elif v["mode"] == "weight_only":
            note = " (activations stay float: the calibrator does not apply)"
        elif v["mode"] == "dynamic_range":
            note = " (activations quantized per image at run time: no calibrator)"
        return (f"{v['mode']}{note}: test accuracy <b>{acc:.1%}</b> (float {f_acc:.1%}), "
                f"size <b>{size:,} bytes</b> ({f_size / size:.1f}x smaller than float32), "
                f"same prediction as float on <b>{agree:.1%}</b> of test images")

    return Explorer(controls, fig, update)


def ste_explorer(*, bits: int = 3, clip: float = 1.0) -> Explorer:
    """The fake quantizer forward (a staircase) and the straight-through gradient backward.

    Introduced in lesson ``09_quantization_aware_training``. The true derivative of the
    staircase is 0 except at the jumps; the STE uses 1 inside the range and 0 outside.
    """
    x = np.linspace(-2.0, 2.0, 1601)  # where the gradient is evaluated; the figure draws exact vertices
    ends = [-2.0, 2.0]
    fig = go.FigureWidget(make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                                        row_heights=[0.6, 0.4]))
    fig.add_scatter(x=ends, y=ends, name="x", line=dict(color=COLORS["float"], dash="dot"), row=1, col=1)
    fig.add_scatter(x=ends, y=ends, name="forward: fake_quantize(x)", line=dict(color=COLORS["quant"]), row=1, col=1)
    fig.add_scatter(x=ends, y=[0.0, 0.0], name="true derivative (0 between jumps)",
                    line=dict(color=COLORS["grid"], dash="dash"), row=2, col=1)
    fig.add_scatter(x=ends, y=[1.0, 1.0], name="backward: STE gradient", line=dict(color=COLORS["error"], width=3,
                                                                                   shape="hv"), row=2, col=1)
    base_layout(fig, height=460)
    fig.update_yaxes(title_text="value", row=1, col=1)
    fig.update_yaxes(title_text="d out / d x", range=[-0.1, 1.2], row=2, col=1)
    fig.update_xaxes(title_text="x", row=2, col=1)
    controls = {
        "bits": C.int_slider("bits", min=2, max=6, value=bits),
        "clip": C.float_slider("range +-", min=0.25, max=1.75, value=clip, step=0.05),
    }

    def update(v):
        qp = affine.compute_qparams(-v["clip"], v["clip"], bits=v["bits"], symmetric=True, narrow_range=True)
        fig.data[1].x, fig.data[1].y = affine.staircase_vertices(-2.0, 2.0, qp)
        g = qat.ste_grad(x, qp)
        change = np.flatnonzero(np.diff(g)) + 1  # a step function: its first point and each change
        keep = np.concatenate([[0], change, [x.size - 1]])
        fig.data[3].x, fig.data[3].y = x[keep], g[keep]  # drawn with shape "hv": exact at the samples
        inside = x[g > 0]
        return (f"{qp.qmax - qp.qmin + 1} levels, step {qp.scale:.3g}; gradient passes for x in "
                f"[{inside.min():.3g}, {inside.max():.3g}] (codes that were not clipped), 0 outside")

    return Explorer(controls, fig, update)


def qat_curves(results: dict, bits: int, per_channel: bool) -> go.Figure:
    """Test accuracy and loss per QAT epoch, with the PTQ starting point and float (a pure figure)."""
    key = qat._key(bits, per_channel)
    ep, acc, loss = (results[f"{key}_{k}"] for k in ("epoch", "test_accuracy", "loss"))
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08, row_heights=[0.62, 0.38])
    f_acc = float(ptq.load_ptq_grid()["float_accuracy"])
    fig.add_scatter(x=ep, y=np.full(ep.size, f_acc), name="float32", line=dict(color=COLORS["float"], dash="dot"),
                    row=1, col=1)
    fig.add_scatter(x=ep, y=np.full(ep.size, acc[0]), name="PTQ (no training)",
                    line=dict(color=COLORS["quant"], dash="dash"), row=1, col=1)
    fig.add_scatter(x=ep, y=acc, name="QAT", mode="lines+markers", line=dict(color=COLORS["error"]), row=1, col=1)
    fig.add_scatter(x=[ep[-1]], y=[acc[-1]], name="epoch", mode="markers",
                    marker=dict(color=COLORS["dark"], size=15, symbol="circle-open", line=dict(width=3)), row=1, col=1)
    fig.add_scatter(x=ep, y=loss, name="training loss (fake-quantized)", mode="lines+markers",
                    line=dict(color=COLORS["accent"]), row=2, col=1)
    base_layout(fig, height=460)
    fig.update_yaxes(title_text="test accuracy", range=[0, 1.02], tickformat=".0%", row=1, col=1)
    fig.update_yaxes(title_text="loss", row=2, col=1)
    fig.update_xaxes(title_text="epoch of fine-tuning (0 = PTQ)", row=2, col=1)
    return fig


def qat_explorer(*, bits: int = 2, per_channel: bool = False) -> Explorer:
    """Scrub the shipped QAT runs: accuracy per epoch vs PTQ and float, at 4 or 2 bits.

    Introduced in lesson ``09_quantization_aware_training``.
    """
    r = qat.load_qat_results()
    fig = go.FigureWidget(qat_curves(r, bits, per_channel))
    n_epochs = int(r[f"{qat._key(bits, per_channel)}_epoch"][-1])
    controls = {
        "bits": C.buttons("bits", [4, 2], bits),
        "per_channel": C.toggle("per-channel weight scales", per_channel),
        "epoch": C.int_slider("epoch", min=0, max=n_epochs, value=n_epochs),
    }

    def update(v):
        key = qat._key(v["bits"], v["per_channel"])
        ep, acc, loss = (r[f"{key}_{k}"] for k in ("epoch", "test_accuracy", "loss"))
        fig.data[1].y = np.full(ep.size, acc[0])
        fig.data[2].y = acc
        fig.data[4].y = loss
        e = min(v["epoch"], int(ep[-1]))
        fig.data[3].x, fig.data[3].y = [e], [acc[e]]
        return (f"int{v['bits']} {'per-channel' if v['per_channel'] else 'per-tensor'}: PTQ <b>{acc[0]:.1%}</b>"
                f" &rarr; after {e} epoch(s) of QAT <b>{acc[e]:.1%}</b>")

    return Explorer(controls, fig, update)


def regularization_figure(study: dict | None = None) -> go.Figure:
    """PTQ minus float test accuracy, in test images, for every seed and width (a pure figure)."""
    s = ptq.load_regularization_study() if study is None else study
    n_test = len(load_digits().y_test)
    d = np.round(s["delta"] * n_test).astype(int)
    fig = go.Figure()
    for k, seed in enumerate(s["seeds"]):
        jitter = (k - (len(s["seeds"]) - 1) / 2) * 0.06
        fig.add_scatter(x=s["bits"] + jitter, y=d[k], mode="markers", name=f"seed {seed}",
                        marker=dict(size=9), showlegend=False)
    fig.add_scatter(x=s["bits"], y=d.mean(axis=0), mode="lines+markers", name="mean over seeds",
                    line=dict(color=COLORS["dark"], width=3))
    fig.add_hline(y=0, line_dash="dot", line_color=COLORS["grid"])
    base_layout(fig, xaxis_title="bits (full integer PTQ)", yaxis_title="PTQ - float (test images)", height=360)
    return fig


class Progress(widgets.IntProgress):
    """A progress bar that is also a training callback: ``train(..., callback=bar)``.

    Accepts the per-epoch dicts of :func:`qlearn.networks.nn.train` / :func:`qlearn.networks.qat.qat_finetune`
    (``epoch``, ``epochs``) or ``(done, total)`` pairs.
    """

    def __call__(self, info, total=None):
        if isinstance(info, dict):
            self.max, self.value = max(int(info["epochs"]), 1), int(info["epoch"])
        else:
            self.max, self.value = max(int(total), 1), int(info)
        self.description = f"{self.value}/{self.max}"


def progress(description: str = "training") -> Progress:
    """A :class:`Progress` bar to display, then pass as ``callback=``."""
    return Progress(value=0, min=0, max=1, description=description, style={"description_width": "initial"})

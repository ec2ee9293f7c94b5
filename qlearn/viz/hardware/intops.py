"""Figures and explorers for lesson ``11_integer_inference``: fixed-point rescaling and accumulators."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from qlearn.hardware import intops
from qlearn.viz import controls as C
from qlearn.viz.explorer import Explorer
from qlearn.viz.style import COLORS, base_layout

ROUNDINGS = [("gemmlowp: SRDHM + RoundingDivideByPOT", "gemmlowp"),
             ("arithmetic shift (floor, no rounding)", "floor"),
             ("Q15 multiplier (16-bit m0)", "q15")]


def _rescale(acc, M, how, zp):
    m0, shift = intops.quantize_multiplier(M)
    if how == "gemmlowp":
        return intops.requantize(acc, m0, shift, zp), m0, shift
    if how == "floor":                            # floor(acc * m0 / 2**(31 - shift)): an arithmetic shift
        y = (acc * m0) >> (31 - shift)
        return np.clip(y + zp, -128, 127), m0, shift
    m15 = int(round(m0 / 2**16))                  # a 16-bit multiplier: 15 fractional bits
    y = np.floor(acc * m15 / 2.0 ** (15 - shift) + 0.5).astype(np.int64)
    return np.clip(y + zp, -128, 127), m15, shift


def requantize_explorer(*, n: int = 801) -> Explorer:
    """int32 accumulators to int8 codes: the fixed-point multiplier against the real one.

    Top: output code against the accumulator for the integer path (dots at about 200 of the
    accumulators: one code is about a pixel there, the bottom panel shows the differences) and
    the real-valued reference ``round(acc * M) + z``; bottom: their difference in codes for
    every accumulator (a thin line, with a dot on each accumulator that differs). The readout
    shows ``m0``, ``shift`` and how many accumulators land on a different code. Fewer markers
    keep the browser's redraw per key press cheap (issue 15).
    """
    fig = go.Figure(make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.65, 0.35],
                                        vertical_spacing=0.08))
    fig.add_scatter(x=[], y=[], name="real M (reference)", line=dict(color=COLORS["float"], width=3), row=1, col=1)
    fig.add_scatter(x=[], y=[], name="integer path", mode="markers", marker=dict(color=COLORS["quant"], size=4),
                    row=1, col=1)
    fig.add_scatter(x=[], y=[], name="integer - reference (codes)", mode="lines", legendgroup="diff",
                    line=dict(color=COLORS["error"], width=1), row=2, col=1)
    fig.add_scatter(x=[], y=[], name="integer - reference (codes)", mode="markers", legendgroup="diff",
                    showlegend=False, marker=dict(color=COLORS["error"], size=4), row=2, col=1)
    base_layout(fig, height=460)
    fig.update_xaxes(title_text="int32 accumulator", row=2, col=1)
    fig.update_yaxes(title_text="int8 code", row=1, col=1)
    fig.update_yaxes(title_text="diff", range=[-2.5, 2.5], row=2, col=1)
    controls = {
        "multiplier": C.float_slider("M = s_x s_w / s_y", min=0.001, max=0.1, value=0.0123, step=0.0005,
                                     readout_format=".4f"),
        "zero_point": C.int_slider("output zero point", min=-128, max=127, value=0),
        "span": C.int_slider("accumulator span ±", min=100, max=20000, value=2000, step=100),
        "rounding": C.dropdown("rescale", ROUNDINGS, "gemmlowp"),
    }

    def update(v):
        M, zp, span, how = v["multiplier"], v["zero_point"], v["span"], v["rounding"]
        acc = np.unique(np.linspace(-span, span, n).round().astype(np.int64))
        ref = intops.real_requantize(acc, M, zp)
        y, m0, shift = _rescale(acc, M, how, zp)
        diff = y - ref
        # int32 (exact: the span stays far inside it, the codes are int8): plotly sends int32 arrays
        # to the browser as binary, int64 ones as JSON text (JavaScript has no int64 array)
        acc32 = acc.astype(np.int32)
        fig.data[0].x = acc32
        fig.data[0].y = ref.astype(np.int32)
        every = -(-acc.size // 200)                     # dots on about 200 accumulators
        fig.data[1].x = acc32[::every]
        fig.data[1].y = y[::every].astype(np.int32)
        d32 = np.clip(diff, -2, 2).astype(np.int32)
        fig.data[2].x = acc32
        fig.data[2].y = d32
        fig.data[3].x = acc32[d32 != 0]
        fig.data[3].y = d32[d32 != 0]
        wrong = int(np.count_nonzero(diff))
        approx = m0 * 2.0 ** (shift - (31 if how != "q15" else 15))
        return (f"m0 = <b>{m0}</b>, shift = <b>{shift}</b> (M ≈ {approx:.8f})"
                f" &nbsp; codes different from round(acc·M)+z: <b>{wrong}</b> of {acc.size}"
                f" (largest |diff| {int(np.abs(diff).max())})")

    fig = go.FigureWidget(fig)  # Explorer syncs the first update into the widget state
    return Explorer(controls, fig, update)


def accumulator_explorer(*, seed: int = 0) -> Explorer:
    """How many int8 x int8 products an accumulator of a given width can sum before it overflows.

    Random int8 dot products of length K summed in ``bits``-bit accumulators: the share that
    overflow, against the worst case :func:`qlearn.hardware.intops.accumulator_bits_needed`.
    """
    rng = np.random.default_rng(seed)
    Ks = np.unique(np.logspace(0, 4, 40).astype(int))
    a = rng.integers(-128, 128, (64, Ks.max()))
    b = rng.integers(-128, 128, (Ks.max(), 1))
    part = np.cumsum(a * b[:, 0][None, :], axis=1)          # running sums: (64, Kmax)
    run_hi = np.maximum.accumulate(part, axis=1)[:, Ks - 1]  # largest partial sum within the first K terms
    run_lo = np.minimum.accumulate(part, axis=1)[:, Ks - 1]
    worst = np.array([intops.accumulator_bits_needed(int(k)) for k in Ks])
    fig = go.Figure()
    fig.add_scatter(x=Ks, y=np.zeros(Ks.size), name="random dot products overflowing (%)",
                    line=dict(color=COLORS["quant"], width=3))
    fig.add_scatter(x=Ks, y=worst, name="bits needed (worst case)", yaxis="y2", line=dict(color=COLORS["dark"]))
    fig.add_scatter(x=[Ks[0], Ks[-1]], y=[16, 16], name="accumulator bits", yaxis="y2", mode="lines",
                    line=dict(color=COLORS["accent"], dash="dash", width=3))
    base_layout(fig, height=380, xaxis_title="K (products summed)", yaxis_title="% overflowing")
    fig.update_xaxes(type="log")
    fig.update_layout(yaxis=dict(range=[0, 100]), yaxis2=dict(overlaying="y", side="right", title="bits",
                                                                 range=[14, 34], dtick=2))
    controls = {"bits": C.int_slider("accumulator bits", min=16, max=32, value=16)}

    def update(v):
        bits = v["bits"]
        lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
        over = ((run_lo < lo) | (run_hi > hi)).mean(axis=0) * 100
        fig.data[0].y = over
        fig.data[2].y = [bits, bits]
        kmax = max((int(k) for k in Ks if intops.accumulator_bits_needed(int(k)) <= bits), default=0)
        return (f"{bits}-bit accumulator: safe for any int8 data up to K = <b>{kmax}</b> (of the K shown); "
                f"random data first overflows at K = {int(Ks[np.argmax(over > 0)]) if over.max() > 0 else '—'}")

    fig = go.FigureWidget(fig)  # Explorer syncs the first update into the widget state
    return Explorer(controls, fig, update)

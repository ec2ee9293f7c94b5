"""Figures and explorers for lesson ``06_fixed_point``: Qm.n, the IIR filter, image bit depth."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from qlearn.numbers import signals
from qlearn.numbers.fixed import FixedFormat, quantize_fixed
from qlearn.viz import controls as C
from qlearn.viz.explorer import Explorer
from qlearn.viz.style import COLORS, base_layout

_ROUNDINGS = [("nearest, ties to even", "half_even"), ("nearest, ties away", "half_away"),
              ("floor (drop the low bits)", "floor"), ("truncate (toward zero)", "toward_zero")]


def _steps(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The samples of a step function where its value changes, and its last one: drawn with
    ``line.shape="hv"`` they give the same staircase as every sample, in a fraction of the points
    (a browser redraws the figure on every slider step).

    >>> _steps(np.arange(6.0), np.array([0, 0, 1, 1, 1, 2.0]))
    (array([0., 2., 5.]), array([0., 1., 2.]))
    """
    keep = np.r_[0, np.flatnonzero(np.diff(y)) + 1, len(y) - 1]
    keep = keep[np.r_[True, np.diff(keep) > 0]]
    return x[keep], y[keep]


def fixed_point_explorer(*, int_bits: int = 3, frac_bits: int = 4) -> Explorer:
    """A signed Qm.n format: its transfer curve (top) and a sine that may overflow it (bottom).

    The word is ``1 + m + n`` bits; ``wrap`` vs ``saturate`` shows what overflow does to
    a signal, and the readout counts overflows and underflows (nonzero values
    flushed to 0).
    """
    n_curve, n_sig = 1201, 400
    t = np.arange(n_sig)
    fig = go.FigureWidget(make_subplots(rows=2, cols=1, row_heights=[0.5, 0.5], vertical_spacing=0.14))
    fig.add_scatter(x=[], y=[], mode="lines", name="x (ideal)", line=dict(color=COLORS["float"], dash="dot"),
                    row=1, col=1)
    fig.add_scatter(x=[], y=[], mode="lines", name="stored value", line=dict(color=COLORS["quant"], shape="hv"),
                    row=1, col=1)
    fig.add_scatter(x=t, y=np.zeros(n_sig), mode="lines", name="signal", line=dict(color=COLORS["float"]),
                    row=2, col=1)
    fig.add_scatter(x=t, y=np.zeros(n_sig), mode="lines", name="in Qm.n", line=dict(color=COLORS["quant"]),
                    row=2, col=1)
    fig.add_scatter(x=[], y=[], mode="lines", name="range", line=dict(color=COLORS["clip"], dash="dash"),
                    row=2, col=1)
    base_layout(fig, height=540)
    fig.update_xaxes(title_text="x", row=1, col=1)
    fig.update_yaxes(title_text="stored", row=1, col=1)
    fig.update_xaxes(title_text="sample", row=2, col=1)
    controls = {
        "int_bits": C.int_slider("integer bits m", min=0, max=8, value=int_bits),
        "frac_bits": C.int_slider("fraction bits n", min=0, max=12, value=frac_bits),
        "overflow": C.buttons("overflow", ["saturate", "wrap"], "wrap"),
        "rounding": C.dropdown("rounding", _ROUNDINGS, "half_even"),
        "amplitude": C.float_slider("sine amplitude / range", min=0.1, max=2.0, value=1.3, step=0.05),
    }

    def update(v):
        fmt = FixedFormat(1 + v["int_bits"] + v["frac_bits"], v["frac_bits"])
        top = 2.0 ** v["int_bits"]
        x = np.linspace(-1.6 * top, 1.6 * top, n_curve)
        y, _ = quantize_fixed(x, fmt, overflow=v["overflow"], rounding=v["rounding"])
        fig.data[0].x = fig.data[0].y = x[[0, -1]]  # a straight line: its two ends
        fig.data[1].x, fig.data[1].y = _steps(x, y)
        sig = v["amplitude"] * top * np.sin(2 * np.pi * t / 97.3) * np.exp(-t / 300)
        ys, rep = quantize_fixed(sig, fmt, overflow=v["overflow"], rounding=v["rounding"])
        fig.data[2].y, fig.data[3].y = sig, ys
        fig.data[4].x = [0, n_sig, None, 0, n_sig]
        fig.data[4].y = [fmt.max, fmt.max, None, fmt.min, fmt.min]
        return (f"<b>{fmt!r}</b>: {fmt.word_bits}-bit word, range [{fmt.min:g}, {fmt.max:g}], "
                f"resolution {fmt.resolution:g}<br>sine: {rep.overflows} of {rep.size} samples overflowed "
                f"({v['overflow']}), {rep.underflows} underflowed to 0, max error {rep.max_abs_error:.3g}")

    return Explorer(controls, fig, update)


def iir_explorer(*, n: int = 120, frac_bits: int = 4) -> Explorer:
    """``y[n] = a y[n-1] + x[n]`` in float and in fixed point: error fed back, limit cycles.

    Inputs: an impulse (zero input afterwards: watch for a limit cycle), a step, or
    noise. The fixed-point filter uses a Q7.n word and a Q0.15 coefficient.
    """
    rng = np.random.default_rng(0)
    inputs = {
        "impulse": np.r_[1.0, np.zeros(n - 1)] * 6.0,
        "step": np.full(n, 0.3),
        "noise": rng.uniform(-0.5, 0.5, n),
    }
    k = np.arange(n)
    fig = go.FigureWidget(make_subplots(rows=2, cols=1, row_heights=[0.62, 0.38], shared_xaxes=True,
                                        vertical_spacing=0.08))
    fig.add_scatter(x=k, y=np.zeros(n), mode="lines", name="float64", line=dict(color=COLORS["float"]),
                    row=1, col=1)
    fig.add_scatter(x=k, y=np.zeros(n), mode="lines+markers", name="fixed point",
                    line=dict(color=COLORS["quant"], shape="hv"), marker=dict(size=4), row=1, col=1)
    fig.add_scatter(x=[], y=[], mode="lines", name="dead band", line=dict(color=COLORS["clip"], dash="dash"),
                    row=1, col=1)
    fig.add_scatter(x=k, y=np.zeros(n), mode="lines", name="fixed - float", line=dict(color=COLORS["error"]),
                    row=2, col=1)
    base_layout(fig, height=520)
    fig.update_yaxes(title_text="y", row=1, col=1)
    fig.update_yaxes(title_text="error", row=2, col=1)
    fig.update_xaxes(title_text="n", row=2, col=1)
    controls = {
        "a": C.float_slider("a", min=-0.99, max=0.99, value=0.9, step=0.01),
        "frac_bits": C.int_slider("fraction bits", min=0, max=12, value=frac_bits),
        "rounding": C.dropdown("rounding", _ROUNDINGS, "half_even"),
        "input": C.buttons("input", list(inputs), "impulse"),
    }

    def update(v):
        x = inputs[v["input"]]
        fmt = FixedFormat(8 + v["frac_bits"], v["frac_bits"])
        y, info = signals.iir_fixed(x, v["a"], fmt, rounding=v["rounding"])
        yf = signals.iir_float(x, v["a"])
        fig.data[0].y, fig.data[1].y = yf, y
        fig.data[3].y = y - yf
        a = info["a_q"]
        if abs(a) < 1:
            db = signals.deadband(a) * fmt.resolution
            fig.data[2].x = [0, n - 1, None, 0, n - 1]
            fig.data[2].y = [db, db, None, -db, -db]
            band = f"dead band |y| &lt;= {signals.deadband(a)} steps = {db:g}"
        else:
            fig.data[2].x, fig.data[2].y = [], []
            band = "|a| rounds to 1: no dead band"
        tail = y[-10:]
        stuck = v["input"] == "impulse" and np.any(tail != 0)
        return (f"{fmt!r}, coefficient a stored as {a:.6f}; {band}<br>"
                f"RMS error {np.sqrt(np.mean((y - yf) ** 2)):.3g} (one step = {fmt.resolution:g}); "
                + ("<b>limit cycle: zero input, output never reaches 0</b>" if stuck else "no limit cycle"))

    return Explorer(controls, fig, update)


class _ImageCache:
    """Quantized and dithered images per (image, bits), computed once."""

    def __init__(self, size):
        self.size = size
        self.images = {}
        self.results = {}

    def image(self, name):
        if name not in self.images:
            h, w = self.size
            self.images[name] = signals.sky_image(h, w) if name == "sky" else signals.gradient_image(h, w)
        return self.images[name]

    def get(self, name, bits, dither):
        key = (name, bits, dither)
        if key not in self.results:
            img = self.image(name)
            self.results[key] = (signals.floyd_steinberg(img, bits) if dither
                                 else signals.reduce_bit_depth(img, bits))
        return self.results[key]


def image_dither_explorer(*, height: int = 128, width: int = 128, bits: int = 3) -> Explorer:
    """A generated image at reduced bit depth: false contours, and Floyd-Steinberg dithering.

    Left: the original (8-bit-like smooth). Right: ``2**bits`` gray levels, plain rounding
    or error diffusion, drawn as the integer levels ``0 .. 2**bits - 1`` (``zmax`` follows the bit
    width, so the picture is the same). Each (image, bits, dither) result is computed once.
    """
    cache = _ImageCache((height, width))
    fig = go.FigureWidget(make_subplots(rows=1, cols=2, subplot_titles=("original", "quantized"),
                                        horizontal_spacing=0.04))
    for col in (1, 2):
        fig.add_heatmap(z=np.zeros((height, width)), colorscale="gray", zmin=0, zmax=1, showscale=False,
                        row=1, col=col)
    base_layout(fig, height=400)
    fig.update_yaxes(autorange="reversed", showticklabels=False, scaleanchor="x")
    fig.update_xaxes(showticklabels=False)
    controls = {
        "image": C.dropdown("image", [("sky", "sky"), ("gradient", "gradient")], "sky"),
        "bits": C.int_slider("bits per pixel", min=1, max=8, value=bits),
        "dither": C.toggle("Floyd-Steinberg dithering", False),
    }

    shown = {"image": None}

    def update(v):
        img = cache.image(v["image"])
        q = cache.get(v["image"], v["bits"], v["dither"])
        if shown["image"] != v["image"]:  # the original only changes with the image
            fig.data[0].z = img
            shown["image"] = v["image"]
        # the quantized image as its integer gray levels 0..L (the same picture with zmax = L): a
        # 2-D z goes to the browser as JSON text, where "3" is 16x shorter than "0.42857142857142855"
        top = 2 ** int(v["bits"]) - 1
        fig.data[1].z = np.rint(q * top).astype(np.int64)
        fig.data[1].zmax = top
        fig.data[1].hovertemplate = f"gray level %{{z}} of {top}<extra></extra>"
        return (f"{signals.count_levels(q)} gray levels; RMS error {np.sqrt(np.mean((q - img) ** 2)):.4f}; "
                f"error after a 5x5 blur (what the eye sees) <b>{signals.blurred_error(img, q):.4f}</b>")

    return Explorer(controls, fig, update)

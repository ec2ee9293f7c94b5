"""Figures and explorers for lesson ``05_snr``: SQNR per bit, and dither."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from qlearn.numbers import signals
from qlearn.ranges import snr
from qlearn.viz import controls as C
from qlearn.viz.explorer import Explorer
from qlearn.viz.style import COLORS, base_layout

#: Signals of unit standard deviation compared in :func:`sqnr_bits_explorer`.
SIGNALS = ("sine", "uniform", "gaussian", "laplace")
_COLOURS = {"sine": COLORS["float"], "uniform": COLORS["accent"], "gaussian": COLORS["error"],
            "laplace": COLORS["quant"]}


def unit_signals(n: int = 8192, *, seed: int = 0) -> dict:
    """The four signals, each scaled to standard deviation 1 (so a clip of ``k`` means ``k`` sigma)."""
    out = {"sine": np.sqrt(2) * snr.sine(n)}
    for kind in ("uniform", "gaussian", "laplace"):
        out[kind] = snr.sample_distribution(kind, n, seed=seed)
    return out


def sqnr_table(x, bits_list, clips) -> np.ndarray:
    """Measured SQNR (dB) of ``x`` for every (clip, bits) pair: shape ``(len(clips), len(bits_list))``.

    The same quantizer as :func:`qlearn.ranges.snr.uniform_quantize` (mid-rise), vectorised over bits.
    """
    x = np.asarray(x, dtype=np.float64)
    b = np.asarray(bits_list, dtype=np.int64)[:, None]
    kmin, kmax = -(2.0 ** (b - 1)), 2.0 ** (b - 1) - 1
    power = float(np.mean(x * x))
    out = np.empty((len(clips), b.size))
    for i, c in enumerate(clips):
        step = 2.0 * float(c) / 2.0**b
        x_hat = step * (np.clip(np.floor(x[None, :] / step), kmin, kmax) + 0.5)
        noise = np.mean((x[None, :] - x_hat) ** 2, axis=1)
        out[i] = 10 * np.log10(power / np.maximum(noise, 1e-300))
    return out


def sqnr_bits_explorer(*, n: int = 8192, seed: int = 0) -> Explorer:
    """Measured SQNR vs bits for a sine, uniform, Gaussian and Laplace signal, against 6.02 dB per bit.

    The clip is in standard deviations (each signal has sigma = 1): the full-scale sine
    is clipped at sqrt(2) = 1.41, the uniform signal at sqrt(3) = 1.73. "best clip"
    picks, for each signal and bit width, the clip of highest SQNR on the grid.
    The whole table (signals x clips x bits) is computed once.
    """
    bits_list = np.arange(1, 17)
    clips = np.round(np.arange(1.0, 10.001, 0.25), 2)
    sigs = unit_signals(n, seed=seed)
    table = {k: sqnr_table(x, bits_list, clips) for k, x in sigs.items()}
    full = {k: sqnr_table(x, bits_list, [float(np.abs(x).max())])[0] for k, x in sigs.items()}

    fig = go.FigureWidget()
    for k in SIGNALS:
        fig.add_scatter(x=bits_list, y=np.zeros(bits_list.size), mode="lines+markers", name=k,
                        line=dict(color=_COLOURS[k]))
    fig.add_scatter(x=bits_list, y=[snr.sine_sqnr_db(b) for b in bits_list], mode="lines",
                    name="6.02 N + 1.76 (full-scale sine)", line=dict(color=COLORS["grid"], dash="dot"))
    fig.add_scatter(x=bits_list, y=np.zeros(bits_list.size), mode="lines",
                    name="6.02 N + 4.77 - 20 log10 k (granular only)", line=dict(color=COLORS["dark"], dash="dash"))
    base_layout(fig, xaxis_title="bits N", yaxis_title="SQNR (dB)", height=420)
    controls = {
        "clip": C.dropdown("clip", [("full scale: max |x| of each signal", "full"),
                                    ("k standard deviations (slider)", "k"),
                                    ("best clip per signal and bits", "best")], "k"),
        "k": C.float_slider("k (std devs)", min=1.0, max=10.0, value=4.0, step=0.25),
    }

    def update(v):
        i = int(np.argmin(np.abs(clips - v["k"])))
        k = clips[i]
        lines = []
        for t, name in enumerate(SIGNALS):
            if v["clip"] == "full":
                y = full[name]
            elif v["clip"] == "best":
                y = table[name].max(axis=0)
            else:
                y = table[name][i]
            fig.data[t].y = np.clip(y, -50.0, 200.0)
            slope = np.polyfit(bits_list[7:], y[7:], 1)[0]
            lines.append(f"{name}: {y[7]:.1f} dB at 8 bits, slope {slope:.2f} dB/bit over 8-16 bits")
        fig.data[5].y = [snr.clipped_sqnr_db(int(b), k) for b in bits_list]
        fig.data[5].visible = v["clip"] == "k"
        return "<br>".join(lines)

    return Explorer(controls, fig, update)


def dither_explorer(*, n: int = 4096, seed: int = 0) -> Explorer:
    """A quiet sine (amplitude in LSB) through an ADC with no dither, RPDF or TPDF dither.

    Top: the first 200 samples, input and output. Bottom: the output spectrum. Without
    dither a sine below a few LSB turns into a square-ish wave with harmonics; with
    dither the harmonics dissolve into a flat noise floor.
    """
    bits = 8
    lsb = 2.0 / 2**bits
    t = np.arange(n)
    f0 = 1 / 64 + 1 / n * 0.37  # not a divisor of n: the error pattern does not repeat exactly
    show = 200
    fig = go.FigureWidget(make_subplots(rows=2, cols=1, row_heights=[0.5, 0.5], vertical_spacing=0.14))
    fig.add_scatter(x=t[:show], y=np.zeros(show), mode="lines", name="input x (LSB)",
                    line=dict(color=COLORS["float"]), row=1, col=1)
    fig.add_scatter(x=t[:show], y=np.zeros(show), mode="lines", name="ADC output (LSB)",
                    line=dict(color=COLORS["quant"], shape="hv"), row=1, col=1)
    fig.add_scatter(x=[], y=[], mode="lines", name="output spectrum", line=dict(color=COLORS["dark"], width=1),
                    row=2, col=1)
    base_layout(fig, height=520)
    fig.update_xaxes(title_text="sample", row=1, col=1)
    fig.update_yaxes(title_text="LSB", row=1, col=1)
    fig.update_xaxes(title_text="frequency (cycles per sample)", row=2, col=1)
    fig.update_yaxes(title_text="dB", range=[-100, 5], row=2, col=1)
    controls = {
        "amplitude": C.float_slider("amplitude (LSB)", min=0.2, max=8.0, value=0.7, step=0.1),
        "dither": C.buttons("dither", [("none", "none"), ("RPDF", "rpdf"), ("TPDF", "tpdf")], "none"),
    }

    def update(v):
        amp = v["amplitude"] * lsb
        x = amp * np.sin(2 * np.pi * f0 * t)
        kind = None if v["dither"] == "none" else v["dither"]
        y = signals.adc(x, bits, dither=kind, seed=seed)
        fig.data[0].y = x[:show] / lsb
        fig.data[1].y = y[:show] / lsb
        f, p = signals.spectrum_db(y, floor_db=-150.0)
        fig.data[2].x, fig.data[2].y = f, p
        e = y - x
        harm = [p[np.argmin(np.abs(f - h * f0))] for h in (3, 5)]
        corr = float(np.corrcoef(e, x)[0, 1]) if np.std(e) > 0 else 0.0
        return (f"error power = {np.mean(e**2) / (lsb**2 / 12):.2f} x Delta^2/12; "
                f"3rd / 5th harmonic at {harm[0]:.0f} / {harm[1]:.0f} dB; "
                f"correlation of error with signal {corr:+.2f}")

    return Explorer(controls, fig, update)

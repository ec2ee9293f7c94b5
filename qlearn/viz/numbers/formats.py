"""Figures and explorers for lesson ``01_number_formats``: bits, range and precision of number formats."""
from __future__ import annotations

import html
import math

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from qlearn.numbers import formats as F
from qlearn.viz import controls as C
from qlearn.viz.explorer import Explorer
from qlearn.viz.style import COLORS, CYCLE, base_layout

MAX_BITS = 32  # one checkbox per bit of the widest format
FIELD_COLORS = {"sign": "#CC79A7", "exponent": "#0072B2", "mantissa": "#009E73", "int": "#333333"}


def _fmt_num(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+inf" if v > 0 else "-inf"
    return f"{v:.10g}"


def colored_bits(bits: str, fmt) -> str:
    """HTML for a bit string with sign, exponent and mantissa in their colours (integers in one colour).

    >>> colored_bits("0111", "int4")
    "<span style='font-family:monospace;font-size:1.2em'><span style='color:#333333'>0111</span></span>"
    """
    f = F.get_format(fmt)
    if f.kind == "int":
        parts = [("int", bits)]
    else:
        parts = [("sign", bits[0]), ("exponent", bits[1:1 + f.exp_bits]), ("mantissa", bits[1 + f.exp_bits:])]
    inner = "&thinsp;".join(f"<span style='color:{FIELD_COLORS[k]}'>{b}</span>" for k, b in parts)
    return f"<span style='font-family:monospace;font-size:1.2em'>{inner}</span>"


def _ordinal(code: int, f) -> int:
    """Position of a code on the number line (sign-magnitude codes -> signed integers)."""
    if f.kind == "int":
        return int(F.from_codes(code, f))
    mag = code & ((1 << (f.bits - 1)) - 1)
    return -mag if code >> (f.bits - 1) else mag


def _code_of_ordinal(o: int, f) -> int:
    if f.kind == "int":
        return o % (1 << f.bits)
    return o if o >= 0 else (1 << (f.bits - 1)) | -o


def neighbours(code: int, fmt, k: int = 3) -> np.ndarray:
    """The finite values of up to ``k`` codes on each side of ``code`` (ascending, no NaN/inf).

    >>> neighbours(0x38, "fp8_e4m3", 2).tolist()  # around 1.0: the gap below 1 is half the gap above
    [0.875, 0.9375, 1.0, 1.125, 1.25]
    """
    f = F.get_format(fmt)
    o = _ordinal(int(code), f)
    if f.kind == "int":
        lo, hi = f.qmin, f.qmax
    else:
        lo, hi = -(2 ** (f.bits - 1) - 1), 2 ** (f.bits - 1) - 1
    ords = [j for j in range(o - k, o + k + 1) if lo <= j <= hi]
    vals = F.from_codes([_code_of_ordinal(j, f) for j in ords], f)
    return np.unique(vals[np.isfinite(vals)])


def float_bits_explorer(fmt: str = "bf16", value: float = 0.1, *, k: int = 3) -> Explorer:
    """Type a number or flip bits, in any format of :data:`qlearn.numbers.formats.FORMATS`.

    Controls: ``format`` (dropdown), ``value`` (the typed number x), and one checkbox per bit,
    ``b0`` (leftmost: the sign bit, or an integer's most significant bit) to ``b31``; boxes past
    the format's width are hidden and ignored. Typing a number sets the bits of its cast;
    flipping a bit writes the new value into the number box (except NaN and inf codes,
    which the readout names). The figure shows the ``k`` representable values on each side
    of x_hat, positioned in ULPs of x_hat, and where the typed x falls among them.
    """
    fmt = F.get_format(fmt).name
    controls = {
        "format": C.dropdown("format", list(F.FORMATS), fmt),
        "value": widgets.FloatText(value=float(value), description="x", style={"description_width": "initial"},
                                   layout=widgets.Layout(width="220px")),
    }
    for i in range(MAX_BITS):
        cb = C.toggle("", False)
        cb.layout = widgets.Layout(width="20px", margin="0 1px")
        controls[f"b{i}"] = cb

    fig = go.FigureWidget()
    fig.add_scatter(x=[0.0], y=[0.0], mode="markers+text", name="representable values", text=[""],
                    textposition="top center", textfont=dict(size=12),
                    marker=dict(color=COLORS["grid"], size=11, symbol="line-ns-open",
                                line=dict(width=3)))
    fig.add_scatter(x=[0.0], y=[0.0], mode="markers", name="x_hat (stored value)",
                    marker=dict(color=COLORS["quant"], size=14))
    fig.add_scatter(x=[0.0], y=[0.0], mode="markers", name="x (typed)",
                    marker=dict(color=COLORS["float"], size=12, symbol="diamond"))
    fig.add_scatter(x=[0.0, 1.0], y=[-0.8, -0.8], mode="lines+text", name="1 ULP at x_hat",
                    text=["", "1 ULP"], textposition="middle right", line=dict(color=COLORS["dark"], width=4))
    base_layout(fig, xaxis_title="distance from x_hat (ULPs of x_hat)", height=280)
    fig.update_yaxes(visible=False, range=[-1.0, 0.9])
    fig.update_xaxes(zeroline=False)

    state = {"fmt": None, "value": None, "code": None, "syncing": False}

    def set_quietly(name, val):
        state["syncing"] = True
        try:
            controls[name].value = val
        finally:
            state["syncing"] = False

    def show_bits(f, code):
        bits = format(code, f"0{f.bits}b")
        for i in range(MAX_BITS):
            cb = controls[f"b{i}"]
            if i < f.bits:
                if cb.value != (bits[i] == "1"):
                    set_quietly(f"b{i}", bits[i] == "1")
                cb.layout.display = None
            else:
                cb.layout.display = "none"

    def update(v):
        if state["syncing"]:
            return None
        f = F.get_format(v["format"])
        x = float(v["value"])
        if v["format"] != state["fmt"] or repr(x) != state["value"] or state["code"] is None:
            code = int(F.to_codes(x, f))  # ValueError (NaN/inf in an int format) goes to the readout
            show_bits(f, code)
        else:  # a bit was flipped
            code = int("".join("1" if v[f"b{i}"] else "0" for i in range(f.bits)), 2)
            x_new = float(F.from_codes(code, f))
            if math.isfinite(x_new) and repr(x_new) != repr(x):
                set_quietly("value", x_new)
                x = x_new
        state.update(fmt=f.name, value=repr(x), code=code)
        bits = format(code, f"0{f.bits}b")
        x_hat = float(F.from_codes(code, f))
        special = not math.isfinite(x_hat)
        if special:
            for i in range(3):
                fig.data[i].x, fig.data[i].y = [], []
            fig.data[0].text = []
        else:
            u = float(F.ulp(x_hat, f))
            nb = neighbours(code, f, k)
            pos = (nb - x_hat) / u
            fig.data[0].x, fig.data[0].y = pos, np.zeros(nb.size)
            fig.data[0].text = [f"{w:.6g}" for w in nb]
            # every other value's label under its tick: on a phone seven labels in a row run together
            centre = int(np.argmin(np.abs(pos)))
            fig.data[0].textposition = ["top center" if (i - centre) % 2 == 0 else "bottom center"
                                        for i in range(nb.size)]
            fig.data[1].x, fig.data[1].y = [0.0], [0.0]
            lim = float(np.max(np.abs(pos))) + 0.5 if pos.size else 1.0
            if math.isfinite(x):
                fig.data[2].x, fig.data[2].y = [float(np.clip((x - x_hat) / u, -lim, lim))], [-0.5]
            else:
                fig.data[2].x, fig.data[2].y = [], []
            fig.layout.xaxis.range = [-lim - 0.5, lim + 0.5]  # room for the outer values' labels
        head = (f"<b>{html.escape(f.name)}</b> bits: {colored_bits(bits, f)} &nbsp; code {code} "
                f"(0x{code:0{(f.bits + 3) // 4}X})")
        if special:
            what = "NaN (not a number)" if math.isnan(x_hat) else f"{_fmt_num(x_hat)} (infinity)"
            note = ""
            if math.isfinite(x) and abs(x) > f.max_normal:
                note = (f"<br>typed x = {_fmt_num(x)} is beyond the largest finite {f.name} value "
                        f"{_fmt_num(f.max_normal)}: it overflows (cast(..., saturate=True) would give the max).")
            return f"{head}<br>this code is <b>{what}</b>: a valid code, not a number you can plot.{note}"
        err = x_hat - x
        u = float(F.ulp(x_hat, f))
        if f.kind == "float":
            d = F.fields(x_hat, f)
            kind = "subnormal" if d["is_subnormal"] else ("zero" if d["is_zero"] else "normal")
            lead = "0" if d["is_subnormal"] or d["is_zero"] else "1"
            formula = (f"(-1)<sup>{d['sign']}</sup> &times; {lead}.M &times; 2<sup>{d['unbiased_exponent']}</sup>"
                       f" = (-1)<sup>{d['sign']}</sup> &times; {d['significand']:.10g} &times; "
                       f"2<sup>{d['unbiased_exponent']}</sup> ({kind})")
        else:
            formula = "two's complement integer" if f.signed else "unsigned integer"
            if not f.qmin <= x <= f.qmax:
                formula += (f" &mdash; typed x is outside [{f.qmin}, {f.qmax}]: it wrapped around modulo "
                            f"2<sup>{f.bits}</sup> (overflow; saturating would give {f.qmin if x < 0 else f.qmax})")
        rel = f", relative {abs(err) / abs(x):.3g}" if x != 0 and math.isfinite(err) else ""
        return (f"{head}<br>x_hat = <b>{_fmt_num(x_hat)}</b> = {formula}<br>"
                f"typed x = {_fmt_num(x)}; rounding error x_hat - x = {_fmt_num(err)}"
                f" ({err / u:+.3g} ULP{rel}); ULP at x_hat = {_fmt_num(u)}")

    return Explorer(controls, fig, update)


def format_range_explorer(names=("fp32", "tf32", "bf16", "fp16", "fp8_e5m2", "fp8_e4m3"), *,
                          log10_x: float = -5.0) -> Explorer:
    """Range against precision: the relative gap ``ulp(x) / x`` of each float format on a log axis.

    Move ``log10 |x|`` to see, for each format, the value stored for ``x = 10**log10_x`` and
    its relative rounding error (drawn when it is not 0), or whether it underflows to 0 or
    overflows. The curves are computed once; the slider moves a line and a few markers.
    """
    names = tuple(F.get_format(n).name for n in names)
    if not names or any(F.get_format(n).kind != "float" for n in names):
        raise ValueError(f"names must be float formats from {F.FLOAT_FORMATS}, got {names!r}")
    fig = go.FigureWidget()
    for i, name in enumerate(names):
        xs, rel = F.relative_spacing_vertices(name)  # the exact saw-tooth, two points a binade
        fig.add_scatter(x=xs, y=rel, name=name, mode="lines", line=dict(color=CYCLE[i % len(CYCLE)], width=2))
    fig.add_scatter(x=[1.0, 1.0], y=[1e-8, 2.0], name="x", mode="lines",
                    line=dict(color=COLORS["dark"], dash="dash"))
    fig.add_scatter(x=[], y=[], name="|x_hat - x| / |x|", mode="markers",
                    marker=dict(color=[], size=11, symbol="x", line=dict(width=1)))
    base_layout(fig, xaxis_title="|x|", yaxis_title="relative spacing ulp(x) / x", height=400)
    fig.update_xaxes(type="log", exponentformat="power")
    fig.update_yaxes(type="log", exponentformat="power", range=[-8.5, 0.5])
    n_line = len(names)
    controls = {"log10_x": C.float_slider("log10 |x|", min=-46.0, max=39.0, value=float(log10_x), step=0.05)}

    def update(v):
        x = 10.0 ** v["log10_x"]
        fig.data[n_line].x = [x, x]
        px, py, pc, rows = [], [], [], []
        for i, name in enumerate(names):
            f = F.get_format(name)
            x_hat = float(F.cast(x, f))
            if math.isnan(x_hat) or math.isinf(x_hat):
                status, rel = "overflow: " + _fmt_num(x_hat), None
            elif x_hat == 0:
                status, rel = "underflow to 0", None
            else:
                rel = abs(x_hat - x) / x
                status = "subnormal" if x_hat < f.min_normal else "normal"
            if rel is not None and rel > 0:
                px.append(x)
                py.append(max(rel, 1e-12))
                pc.append(CYCLE[i % len(CYCLE)])
            rel_txt = "—" if rel is None else f"{rel:.2e}"
            rows.append(f"<tr><td>{name}</td><td>{_fmt_num(x_hat)}</td><td>{rel_txt}</td><td>{status}</td></tr>")
        fig.data[n_line + 1].x, fig.data[n_line + 1].y = px, py
        fig.data[n_line + 1].marker.color = pc
        return (f"x = 10<sup>{v['log10_x']:.2f}</sup> = {x:.6g}<table style='font-size:0.95em'>"
                "<tr><th>format</th><th>stored x_hat</th><th>relative error</th><th></th></tr>"
                + "".join(rows) + "</table>")

    return Explorer(controls, fig, update)


def format_table_figure(names=None) -> go.Figure:
    """A table of the formats' bit counts and limits (values from :func:`qlearn.numbers.formats.format_table`)."""
    rows = F.format_table(names)

    def cell(v, kind="g"):
        if v is None:
            return "—"
        if isinstance(v, bool):
            return "yes" if v else "no"
        if isinstance(v, int):
            return str(v)
        if float(v).is_integer() and abs(v) < 1e7:
            return str(int(v))
        return f"{v:.4g}" if kind == "g" else f"{v:.2f}"

    cols = [("format", "name", "s"), ("bits", "bits", "g"), ("exponent", "exp_bits", "g"),
            ("mantissa", "man_bits", "g"), ("max", "max", "g"), ("min normal", "min_normal", "g"),
            ("min subnormal", "min_subnormal", "g"), ("eps", "eps", "g"), ("decimal digits", "decimal_digits", "f"),
            ("inf", "has_inf", "g"), ("NaN", "has_nan", "g")]
    values = [[r[key] if kind == "s" else cell(r[key], kind) for r in rows] for _, key, kind in cols]
    fig = go.Figure(go.Table(header=dict(values=[c[0] for c in cols], fill_color="#e8eef6", align="left"),
                             cells=dict(values=values, align="left", height=26)))
    base_layout(fig, height=60 + 28 * len(rows))
    fig.update_layout(margin=dict(l=10, r=10, t=10, b=10))
    return fig


def format_range_figure(names=("fp32", "bf16", "fp16", "fp8_e5m2", "fp8_e4m3", "int8")) -> go.Figure:
    """Positive range of each format on a log axis: subnormals (light) then normals (dark) up to the max."""
    fig = go.Figure()
    for i, name in enumerate(names):
        f = F.get_format(name)
        color = CYCLE[i % len(CYCLE)]
        if f.kind == "float":
            segs = [(f.min_subnormal, f.min_normal, 0.35, "subnormal"), (f.min_normal, f.max_normal, 1.0, "normal")]
        else:
            segs = [(1.0, float(f.qmax), 1.0, "integers")]
        for lo, hi, op, label in segs:
            fig.add_scatter(x=[lo, hi], y=[name, name], mode="lines", opacity=op, showlegend=False,
                            line=dict(color=color, width=14), hovertemplate=f"{name} {label}: %{{x:.3g}}")
    base_layout(fig, xaxis_title="|x| (log scale): smallest positive value to largest finite value",
                height=80 + 45 * len(names))
    fig.update_xaxes(type="log", exponentformat="power")
    fig.update_yaxes(autorange="reversed")
    return fig


def memory_figure(n_params: float = 7e9, names=("fp32", "bf16", "fp16", "fp8_e4m3", "int8", "int4")) -> go.Figure:
    """Bar chart of the bytes needed to store ``n_params`` parameters in each format (GB = 1e9 bytes)."""
    gb = [F.model_bytes(n_params, n) / 1e9 for n in names]
    fig = go.Figure(go.Bar(x=list(names), y=gb, text=[f"{g:.3g} GB" for g in gb], textposition="outside",
                           marker_color=[CYCLE[i % len(CYCLE)] for i in range(len(names))]))
    base_layout(fig, xaxis_title="format", yaxis_title="weights (GB)", height=340)
    fig.update_yaxes(range=[0, max(gb) * 1.2 if gb and max(gb) > 0 else 1])
    return fig


__all__ = ["float_bits_explorer", "format_range_explorer", "format_table_figure", "format_range_figure",
           "memory_figure", "neighbours", "colored_bits"]

"""Figures and explorers for lesson ``12_systolic_array``: the array clock by clock, cycles, tiling."""
from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from qlearn.hardware import systolic
from qlearn.viz import controls as C
from qlearn.viz.explorer import Explorer
from qlearn.viz.style import COLORS, CYCLE, base_layout

DATAFLOW_LABELS = [("weight stationary", "weight_stationary"), ("output stationary", "output_stationary"),
                   ("input stationary", "input_stationary")]
SHAPES = [("square: M = K = N = size", "square"), ("long batch: M = 2 x size", "batch"),
          ("folded: K = N = 1.5 x size", "folded")]
#: What each register means, per dataflow: (stationary, moving right, moving down)
REG_NAMES = {"weight_stationary": ("w", "x", "Σ"), "input_stationary": ("x", "w", "Σ"),
             "output_stationary": ("Σ", "a", "b")}


#: A pale red-white-blue scale: dark text stays readable on every cell.
LIGHT_DIVERGING = [[0.0, "#ef8a62"], [0.5, "#f7f7f7"], [1.0, "#67a9cf"]]


def _outlines(rows, cols, half: float = 0.44):
    """Closed rectangles around cells ``(rows[i], cols[i])`` as one line trace (None separates them)."""
    xs, ys = [], []
    for i, j in zip(rows, cols):
        xs += [j - half, j + half, j + half, j - half, j - half, None]
        ys += [i - half, i - half, i + half, i + half, i - half, None]
    return xs, ys


def shape_for(size: int, preset: str) -> tuple[int, int, int]:
    """(M, K, N) of a shape preset for an array of ``size x size``."""
    if preset == "square":
        return size, size, size
    if preset == "batch":
        return 2 * size, size, size
    if preset == "folded":
        return size, size + size // 2, size + size // 2
    raise ValueError(f"shape must be one of {[s for _, s in SHAPES]}, got {preset!r}")


def systolic_explorer(*, seed: int = 0) -> Explorer:
    """The systolic array animated cycle by cycle (Play + cycle slider, linked in the browser).

    Each cell is a PE: colour = the partial sum it holds (one scale for the whole run: a colour
    means the same sum at every cycle); text = its stationary value, the
    operand passing through it and its sum; a ring marks the PEs doing a useful MAC this
    cycle (the diagonal wavefront). The trace is simulated once per (size, dataflow, shape)
    with :class:`qlearn.hardware.systolic.SystolicArray` and the slider only scrubs it.
    """
    rng = np.random.default_rng(seed)
    cache: dict = {}
    mats: dict = {}

    def get(size, dataflow, preset):
        key = (size, dataflow, preset)
        if key not in cache:
            M, K, N = shape_for(size, preset)
            if (M, K, N) not in mats:
                mats[(M, K, N)] = (rng.integers(-4, 5, (M, K)), rng.integers(-4, 5, (K, N)))
            A, B = mats[(M, K, N)]
            cache[key] = (systolic.SystolicArray(size, size, dataflow=dataflow).matmul(A, B, trace=True), A, B)
        return cache[key]

    size0 = 4
    res0, _, _ = get(size0, "weight_stationary", "square")
    n0 = res0.cycles
    fig = go.Figure()
    fig.add_heatmap(z=np.zeros((size0, size0)), text=np.full((size0, size0), ""), texttemplate="%{text}",
                    colorscale=LIGHT_DIVERGING, zmid=0, showscale=True, colorbar=dict(title="sum"), name="PE",
                    hoverinfo="skip", xgap=3, ygap=3, textfont=dict(color=COLORS["dark"]))
    fig.add_scatter(x=[], y=[], mode="lines", name="MAC this cycle",
                    line=dict(color=COLORS["accent"], width=4))
    base_layout(fig, height=520, xaxis_title="array column j", yaxis_title="array row i")
    fig.update_yaxes(autorange="reversed", dtick=1)
    fig.update_xaxes(dtick=1)

    controls = {
        "size": C.dropdown("array", [("4 x 4", 4), ("8 x 8", 8)], 4),
        "dataflow": C.dropdown("dataflow", DATAFLOW_LABELS, "weight_stationary"),
        "shape": C.dropdown("matmul", SHAPES, "square"),
        "cycle": C.int_slider("cycle", min=0, max=n0 - 1, value=0),
        "play": widgets.Play(value=0, min=0, max=n0 - 1, interval=350, description="play"),
    }
    widgets.jslink((controls["play"], "value"), (controls["cycle"], "value"))
    state = {"key": None, "text": ""}

    def update(v):
        size, df, preset = v["size"], v["dataflow"], v["shape"]
        res, A, B = get(size, df, preset)
        tr = res.trace
        last = tr.cycles - 1
        if controls["cycle"].max != last:
            controls["cycle"].max = last
            controls["play"].max = last
        t = int(min(max(v["cycle"], 0), last))
        key = (size, df, preset, t)
        if state["key"] == key:
            return state["text"]
        state["key"] = key
        s_name, h_name, v_name = REG_NAMES[df]
        st_, h, vv, ps = tr.stationary[t], tr.horizontal[t], tr.vertical[t], tr.psum[t]
        hv, vvld = tr.horizontal_valid[t], tr.vertical_valid[t]
        text = np.empty((size, size), dtype=object)
        small = size > 4
        for i in range(size):
            for j in range(size):
                parts = [f"{s_name} {st_[i, j]}"]
                if df == "output_stationary":
                    parts += [f"{h_name} {h[i, j]}" if hv[i, j] else f"{h_name} ·",
                              f"{v_name} {vv[i, j]}" if vvld[i, j] else f"{v_name} ·"]
                else:
                    parts += [f"{h_name} {h[i, j]}" if hv[i, j] else f"{h_name} ·",
                              f"Σ {ps[i, j]}" if vvld[i, j] else "Σ ·"]
                text[i, j] = "<br>".join(parts) if not small else "<br>".join(parts[1:] if df != "output_stationary"
                                                                            else parts[:1] + parts[1:2])
        # one colour scale for the whole run (its largest |sum|): a colour means the same sum at every
        # cycle, and the colour bar stays put while the slider moves
        top = float(max(np.abs(tr.psum).max(), 1))
        fig.data[0].zmin, fig.data[0].zmax = -top, top
        fig.data[0].z = ps.astype(float)
        fig.data[0].text = text
        fig.data[0].x = list(range(size))
        fig.data[0].y = list(range(size))
        ai, aj = np.nonzero(tr.active[t])
        bx, by = _outlines(ai, aj)
        fig.data[1].x = bx
        fig.data[1].y = by
        M, K, N = A.shape[0], A.shape[1], B.shape[1]
        macs_so_far = int(tr.active[: t + 1].sum())
        util = macs_so_far / (size * size * (t + 1))
        state["text"] = (f"cycle <b>{t}</b> of {tr.cycles} &nbsp; phase <b>{html.escape(str(tr.phase[t]))}</b> "
                         f"(fold {int(tr.fold[t]) + 1} of {res.folds}) &nbsp; A is {M}x{K}, B is {K}x{N} &nbsp; "
                         f"MACs this cycle: {len(ai)} &nbsp; outputs done: {int(tr.outputs_done[t])} of {M * N} &nbsp; "
                         f"utilization so far: {100 * util:.0f}% (whole run {100 * res.utilization:.0f}%)")
        return state["text"]

    fig = go.FigureWidget(fig)  # Explorer syncs the first update into the widget state
    return Explorer(controls, fig, update)


def dataflow_explorer() -> Explorer:
    """Cycles and utilization of the three dataflows as the matmul shape and the array size change.

    Closed forms of :func:`qlearn.hardware.systolic.cycle_count` (checked against the register
    model in the tests): bars per dataflow, cycles on the left, utilization on the right.
    """
    from plotly.subplots import make_subplots
    labels = [lab for lab, _ in DATAFLOW_LABELS]
    fig = go.Figure(make_subplots(rows=1, cols=2, subplot_titles=("cycles", "utilization (%)")))
    fig.add_bar(x=labels, y=[0, 0, 0], marker_color=CYCLE[:3], name="cycles", row=1, col=1)
    fig.add_bar(x=labels, y=[0, 0, 0], marker_color=CYCLE[:3], name="utilization", row=1, col=2)
    base_layout(fig, height=380)
    fig.update_layout(showlegend=False)
    fig.update_yaxes(range=[0, 100], row=1, col=2)
    controls = {
        "array": C.dropdown("array", [("8 x 8", 8), ("32 x 32", 32), ("128 x 128", 128), ("256 x 256 (TPU v1)", 256)],
                            128),
        "M": C.int_slider("M (batch)", min=1, max=1024, value=256),
        "K": C.int_slider("K (in)", min=1, max=1024, value=256),
        "N": C.int_slider("N (out)", min=1, max=1024, value=256),
        "overlap": C.toggle("overlap stationary loads (WS/IS)", False),
    }

    def update(v):
        R = v["array"]
        M, K, N = v["M"], v["K"], v["N"]
        cyc, util = [], []
        for _, df in DATAFLOW_LABELS:
            ov = v["overlap"] and df != "output_stationary"
            c = systolic.cycle_count(M, K, N, R, R, df, overlap=ov)
            cyc.append(c)
            util.append(100 * M * K * N / (R * R * c))
        fig.data[0].y = cyc
        fig.data[1].y = util
        best = [lab for lab, c in zip(labels, cyc) if c == min(cyc)]
        who = (f"fewest cycles with <b>{best[0]}</b>" if len(best) == 1
               else "tie for fewest cycles: " + " and ".join(f"<b>{b}</b>" for b in best))
        return (f"{M}x{K} @ {K}x{N} on {R}x{R}: {who} ({min(cyc)}); "
                f"utilization {min(util):.1f}% to {max(util):.1f}%")

    fig = go.FigureWidget(fig)  # Explorer syncs the first update into the widget state
    return Explorer(controls, fig, update)


def tiling_explorer() -> Explorer:
    """A big weight matrix ``B (K x N)`` folded onto a small weight-stationary array, fold by fold.

    Colour = the fold in which each weight is on the array; the outlined tile is the
    current fold; the readout gives that fold's cycles and the running total (SCALE-Sim).
    """
    fig = go.Figure()
    fig.add_heatmap(z=np.zeros((2, 2)), colorscale="Viridis", colorbar=dict(title="fold"), hoverinfo="skip",
                    name="fold")
    fig.add_scatter(x=[], y=[], mode="lines", line=dict(color=COLORS["quant"], width=4), name="current fold")
    base_layout(fig, height=440, xaxis_title="n (output column of B)", yaxis_title="k (row of B)")
    fig.update_yaxes(autorange="reversed")
    controls = {
        "array": C.dropdown("array", [("4 x 4", 4), ("8 x 8", 8), ("16 x 16", 16)], 8),
        "K": C.int_slider("K", min=1, max=64, value=20),
        "N": C.int_slider("N", min=1, max=64, value=30),
        "M": C.int_slider("M (batch)", min=1, max=64, value=16),
        "fold": C.int_slider("fold", min=1, max=64, value=1),
    }

    def update(v):
        R = v["array"]
        K, N, M = v["K"], v["N"], v["M"]
        kt, nt = -(-K // R), -(-N // R)
        folds = kt * nt
        f = min(v["fold"], folds) - 1
        kk, nn = np.meshgrid(np.arange(K), np.arange(N), indexing="ij")
        z = (kk // R) * nt + (nn // R) + 1          # fold number, 1-based like the slider
        fig.data[0].z = z.astype(float)
        fig.data[0].x = np.arange(N)
        fig.data[0].y = np.arange(K)
        k0, n0 = (f // nt) * R, (f % nt) * R
        k1, n1 = min(k0 + R, K), min(n0 + R, N)
        fig.data[1].x = [n0 - 0.5, n1 - 0.5, n1 - 0.5, n0 - 0.5, n0 - 0.5]
        fig.data[1].y = [k0 - 0.5, k0 - 0.5, k1 - 0.5, k1 - 0.5, k0 - 0.5]
        per_fold = 2 * R + R + M - 2
        total = systolic.cycle_count(M, K, N, R, R)
        used = (k1 - k0) * (n1 - n0)
        return (f"fold <b>{f + 1}</b> of {folds} ({kt} along K x {nt} along N): {used} of {R * R} PEs hold a "
                f"weight; each fold costs 2R + C + M - 2 = {per_fold} cycles; total {total} cycles, "
                f"utilization {100 * systolic.utilization(M, K, N, R, R):.1f}%")

    fig = go.FigureWidget(fig)  # Explorer syncs the first update into the widget state
    return Explorer(controls, fig, update)


def pe_grid(values, *, caption: str):
    """A rows x cols integer array shown as the array of PEs it describes: an HTML table with
    the PE's row and column as headers (what a notebook shows instead of a NumPy matrix repr).

    Parameters
    ----------
    values : array-like of int, 2-D, at least 1 x 1
    caption : str
        What each number is (shown above the table).

    Returns
    -------
    IPython.display.HTML
    """
    from IPython.display import HTML

    a = np.asarray(values)
    if a.ndim != 2 or a.size == 0:
        raise ValueError(f"values must be a non-empty 2-D array (rows x cols of PEs), got shape {a.shape}")
    if not np.issubdtype(a.dtype, np.integer):
        raise TypeError(f"values must be integers (one per PE), got dtype {a.dtype}")
    head = "".join(f"<th scope='col'>col {j}</th>" for j in range(a.shape[1]))
    body = "".join(f"<tr><th scope='row'>row {i}</th>" + "".join(f"<td>{int(v)}</td>" for v in row) + "</tr>"
                   for i, row in enumerate(a))
    return HTML(f"<table class='qlearn-pe-grid'><caption>{html.escape(caption)}</caption>"
                f"<thead><tr><th></th>{head}</tr></thead><tbody>{body}</tbody></table>")

"""Figures of lesson ``14_onnx_runtime``: measured float32 vs int8 speed."""
from __future__ import annotations

import plotly.graph_objects as go

from qlearn.viz.style import CYCLE, base_layout


def speed_figure(rows) -> go.Figure:
    """Grouped horizontal bars of :func:`qlearn.hardware.onnx_export.speed_table`: microseconds per pass, log scale.

    One group per (network, batch), one bar per method; within each engine the float32 bar
    comes first and its int8 bars follow, so "shorter than its float32 neighbour" reads as
    "int8 was faster here".
    """
    from qlearn.hardware.onnx_export import SPEED_METHODS
    rows = list(rows)
    if not rows:
        raise ValueError("rows is empty: pass the list returned by qlearn.hardware.onnx_export.speed_table")
    missing = [m for m in SPEED_METHODS if m not in rows[0]]
    if missing:
        raise ValueError(f"rows must come from speed_table (missing columns {missing})")
    # horizontal bars: the group names sit on two short lines at the left, where a phone's narrow
    # figure keeps them upright (vertical bars turned them sideways and left the bars 60 px tall)
    groups = [f"{r['network'].split()[0]} {r['network'].split()[-1]}<br>batch {r['batch']}" for r in rows]
    fig = go.Figure()
    for k, method in enumerate(SPEED_METHODS):
        fig.add_trace(go.Bar(name=method, y=groups, x=[r[method] * 1e6 for r in rows], orientation="h",
                             marker_color=CYCLE[k],
                             hovertemplate="%{y}, " + method + ": %{x:.1f} us<extra></extra>"))
    fig.update_layout(barmode="group")
    base_layout(fig, title="Measured on this machine: microseconds per forward pass",
                xaxis_title="µs per pass (log scale)", height=120 + 26 * len(SPEED_METHODS) * len(rows))
    fig.update_xaxes(type="log")
    fig.update_yaxes(autorange="reversed")  # the table's order, top to bottom
    return fig

"""Figures of lesson ``14_onnx_runtime``: measured float32 vs int8 speed."""
from __future__ import annotations

import plotly.graph_objects as go

from qlearn.viz.style import CYCLE, base_layout


def speed_figure(rows) -> go.Figure:
    """Grouped bars of :func:`qlearn.hardware.onnx_export.speed_table`: microseconds per forward pass, log scale.

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
    groups = [f"{r['network'].split()[0]} {r['network'].split()[-1]}, batch {r['batch']}" for r in rows]
    fig = go.Figure()
    for k, method in enumerate(SPEED_METHODS):
        fig.add_trace(go.Bar(name=method, x=groups, y=[r[method] * 1e6 for r in rows], marker_color=CYCLE[k],
                             hovertemplate="%{x}<br>" + method + ": %{y:.1f} us<extra></extra>"))
    fig.update_layout(barmode="group")
    fig.update_yaxes(type="log")
    return base_layout(fig, title="Measured on this machine: microseconds per forward pass (log scale)",
                       yaxis_title="microseconds", height=430)

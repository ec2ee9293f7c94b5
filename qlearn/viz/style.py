"""One look for every figure: colours, sizes and the base layout."""
from __future__ import annotations

import plotly.graph_objects as go

#: Colour of each role, the same in every lesson (colour-blind safe, Okabe-Ito).
COLORS = {
    "float": "#0072B2",      # the real value x
    "quant": "#D55E00",      # the quantized value x_hat
    "error": "#009E73",      # x_hat - x
    "clip": "#CC79A7",       # clipping range / clipped samples
    "grid": "#999999",       # integer grid levels
    "accent": "#E69F00",
    "muted": "#56B4E9",
    "dark": "#333333",
}
#: A longer cycle for figures with many series.
CYCLE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#333333"]

HEIGHT = 380
FONT_SIZE = 15  # readable on a projector


def base_layout(fig: go.Figure, *, title: str = "", xaxis_title: str = "", yaxis_title: str = "",
                height: int = HEIGHT) -> go.Figure:
    """Apply the course layout to ``fig`` in place and return it."""
    fig.update_layout(
        title=dict(text=title, x=0.01, xanchor="left"),
        template="plotly_white",
        height=height,
        margin=dict(l=60, r=20, t=50 if title else 20, b=50),
        font=dict(size=FONT_SIZE),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="right", x=1),
        uirevision="keep",  # user zoom survives trace updates
    )
    if xaxis_title:
        fig.update_xaxes(title_text=xaxis_title)
    if yaxis_title:
        fig.update_yaxes(title_text=yaxis_title)
    return fig


#: plotly.js config of every figure the course shows. ``responsive``: the figure fills its output's
#: width and follows it when the window (or the Voila page, which lays cells out while hidden)
#: changes size; the ``qlearn`` page template announces such changes (see index.html.j2). The
#: height stays fixed (``HEIGHT``), so nothing below a figure jumps when it is drawn.
FIGURE_CONFIG = {"responsive": True, "displaylogo": False}


def make_responsive(fig):
    """Give a FigureWidget the course's plotly.js config (in place) and return it."""
    fig._config = {**(fig._config or {}), **FIGURE_CONFIG}
    return fig

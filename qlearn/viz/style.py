"""One look for every figure: colours, sizes and the base layout."""
from __future__ import annotations

import textwrap

import plotly.graph_objects as go
import plotly.io as pio

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


#: The course's plotly template: plotly's white one, with a log axis's minor ticks labelled in whole
#: numbers. plotly's default ("small digits") labels them with their first digit only: between 10
#: and 100 a learner reads "2 3 4" where the axis means 20 30 40 (lesson 18's outlier panel).
TEMPLATE = go.layout.Template(pio.templates["plotly_white"])
TEMPLATE.layout.xaxis.minorloglabels = "complete"
TEMPLATE.layout.yaxis.minorloglabels = "complete"


def base_layout(fig: go.Figure, *, title: str = "", xaxis_title: str = "", yaxis_title: str = "",
                height: int = HEIGHT) -> go.Figure:
    """Apply the course layout to ``fig`` in place and return it."""
    fig.update_layout(
        title=dict(text=title, x=0.01, xanchor="left"),
        template=TEMPLATE,
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


#: Every axis's ``ticklabeloverflow``. plotly.js's default for a linear or log axis, "hide past
#: div", checks each tick label against every other after placing each one (``n**2`` bounding boxes
#: per axis per redraw): a third of the time a slider step took to redraw lesson 17's two-panel
#: explorer. The course's margins keep tick labels inside the figure, so there is nothing to hide.
TICKLABEL_OVERFLOW = "allow"


def make_responsive(fig):
    """Give a FigureWidget the course's plotly.js config and axes (in place, with :func:`fit_text`)
    and return it."""
    fig._config = {**(fig._config or {}), **FIGURE_CONFIG}
    fig.update_xaxes(ticklabeloverflow=TICKLABEL_OVERFLOW)
    fig.update_yaxes(ticklabeloverflow=TICKLABEL_OVERFLOW)
    own_ticks(fig)
    fit_text(fig)
    return fig


def own_ticks(fig):
    """Give each overlaying axis (a second y axis on the right) round tick values of its own (in
    place; returns ``fig``). plotly.js's default for such an axis, ``tickmode="sync"``, puts its ticks
    at the left axis's grid lines, labelled with whatever values fall there (lesson 10 showed 201, 401,
    603, 803 weights per level). An axis that sets its ticks keeps them."""
    lay = fig.layout
    for name in lay:
        ax = lay[name]
        if name.startswith(("xaxis", "yaxis")) and ax.overlaying and ax.tickmode is None:
            ax.tickmode = "auto"
    return fig


#: Characters per line of a panel's title and x-axis title, by panels side by side, at
#: :data:`FONT_SIZE`: one panel on a phone (390 px, figures ~340 px wide); side-by-side panels each
#: have at least 280 px of the page's width, as the page template stacks them on anything narrower
#: (index.html.j2, qlearn-narrow's PANEL_MIN), where 26 characters stay clear of the next panel's
#: title (tests/browser: checked at the narrowest side-by-side width). Wrapping for a phone's half
#: width (18) put five-line titles over a projector's panels.
LINE_CHARS = {1: 40, 2: 26, 3: 26}
#: ... and of a figure's title (a larger font).
TITLE_CHARS = 32
#: Pixels a line of figure text takes.
LINE_PX = 20


def wrap_text(text: str, width: int) -> str:
    """``text`` broken into lines of at most ``width`` characters (plotly's ``<br>``), between words.

    Examples
    --------
    >>> wrap_text("output error on the calibration set", 18)
    'output error on<br>the calibration<br>set'
    >>> wrap_text("regularizer", 18)
    'regularizer'
    """
    if not text or "<br>" in text or len(text) <= width:
        return text
    return "<br>".join(textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False))


def _lines(text) -> int:
    return (text or "").count("<br>") + 1 if text else 0


def fit_text(fig):
    """Make ``fig``'s texts fit the narrowest width they are drawn at and stay clear of each other
    (in place; returns it).

    Panel titles (``make_subplots(subplot_titles=...)``) and x-axis titles are wrapped to
    :data:`LINE_CHARS` per line for the number of panels side by side, the figure's top margin grows
    to hold the top row's titles, and when the top holds titles (a figure title or panel titles) the
    legend moves below the bottom axes, where it cannot cover them (plotly grows the bottom margin
    for it). A figure without titles keeps its legend above the plot.
    """
    lay = fig.layout
    axes = [k for k in lay if k.startswith("xaxis")]
    starts = {round(float(lay[k].domain[0]), 3) for k in axes if lay[k].domain is not None} or {0.0}
    across = max(1, len(starts))
    width = LINE_CHARS.get(across, min(LINE_CHARS.values()))
    titles = [a for a in (lay.annotations or ()) if a.xref == "paper" and a.yref == "paper"
              and a.showarrow is False and a.yanchor == "bottom" and a.text]
    for a in titles:
        a.text = wrap_text(a.text, width)
        a.font.size = FONT_SIZE
    for k in axes:
        t = lay[k].title.text
        if t:
            lay[k].title.text = wrap_text(t, width)
    top_titles = [a for a in titles if float(a.y) >= 0.999]
    has_title = bool(lay.title.text)
    if has_title:
        lay.title.text = wrap_text(lay.title.text, TITLE_CHARS)
    if top_titles or has_title:
        top = max((_lines(a.text) for a in top_titles), default=0) * LINE_PX + 10
        if has_title:
            top += _lines(lay.title.text) * LINE_PX + 16
        lay.margin.t = max(lay.margin.t or 0, top)
        # at the figure's bottom edge (container coordinates): plotly grows the bottom margin to hold
        # it under the tick labels and x-axis titles, however many rows it wraps into at this width
        # (a paper-relative y drifts as that margin grows: seen overlapping the x titles on another machine)
        lay.legend.update(orientation="h", x=0, xanchor="left", yref="container", y=0, yanchor="bottom")
    return fig

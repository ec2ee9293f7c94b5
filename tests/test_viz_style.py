"""qlearn.viz.style.fit_text: figure texts that fit a phone and stay clear of each other.

The browser checks what is drawn (tests/browser/pagecheck.py, text_overlaps); these check the layout
fit_text writes, without a browser.
"""
import plotly.graph_objects as go
import pytest
from plotly.subplots import make_subplots

from qlearn.viz.style import LINE_CHARS, base_layout, fit_text, make_responsive, wrap_text


def _two_panels():
    fig = make_subplots(rows=1, cols=2, subplot_titles=("max |x| per input column (planted outliers)", "short"))
    fig.add_scatter(x=[0, 1], y=[0, 1], name="a", row=1, col=1)
    fig.add_scatter(x=[0, 1], y=[1, 0], name="b", row=1, col=2)
    base_layout(fig, height=430)
    fig.update_xaxes(title_text="fraction of columns kept in 16-bit float", row=1, col=1)
    return fig


def test_panel_titles_and_axis_titles_are_wrapped_to_the_panel_width():
    fig = fit_text(_two_panels())
    long, short = fig.layout.annotations
    assert short.text == "short"
    lines = long.text.split("<br>")
    assert len(lines) > 1 and all(len(line) <= LINE_CHARS[2] for line in lines)
    assert " ".join(lines) == "max |x| per input column (planted outliers)"  # only spaces became breaks
    assert all(len(line) <= LINE_CHARS[2] for line in fig.layout.xaxis.title.text.split("<br>"))


def test_the_legend_leaves_the_top_to_the_titles():
    fig = fit_text(_two_panels())
    legend = fig.layout.legend  # at the figure's bottom edge, below the axes, whatever the margins
    assert (legend.yref, legend.y, legend.yanchor) == ("container", 0, "bottom")
    lines = max(a.text.count("<br>") + 1 for a in fig.layout.annotations)
    assert fig.layout.margin.t >= 20 * lines  # the top row's titles are inside the figure


def test_a_figure_without_titles_keeps_its_legend_above():
    fig = base_layout(go.Figure(go.Scatter(x=[0, 1], y=[0, 1], name="a")), xaxis_title="x")
    before = fig.layout.legend.to_plotly_json()
    fit_text(fig)
    assert fig.layout.legend.to_plotly_json() == before


def test_fit_text_is_idempotent_and_every_explorer_figure_gets_it():
    fig = fit_text(_two_panels())
    once = fig.to_plotly_json()["layout"]
    assert fit_text(fig).to_plotly_json()["layout"] == once
    w = make_responsive(go.FigureWidget(_two_panels()))
    assert w.layout.legend.yref == "container" and "<br>" in w.layout.annotations[0].text


@pytest.mark.parametrize("width", [5, 18, 40])
def test_wrap_text_keeps_words_whole(width):
    text = "h(V) vs frac(W / s), every weight"
    out = wrap_text(text, width)
    assert out.replace("<br>", " ") == text
    assert all(len(line) <= width or " " not in line for line in out.split("<br>"))

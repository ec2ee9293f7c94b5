"""What a lesson page shows before its live widgets arrive, computed without a browser:
explorers' previews (qlearn.viz.explorer.Explorer.preview) and formulas as MathML
(qlearn.server.mathml). The browser side is tests/browser/test_first_paint.py."""
import json
import re

import ipywidgets as widgets
import nbformat
import numpy as np
import plotly.graph_objects as go
import pytest

from qlearn.server import mathml
from qlearn.viz.explorer import PREVIEW_MIME, WIDGET_VIEW, Explorer
from qlearn.viz.ranges.snr import sqnr_bits_explorer


def _explorer():
    fig = go.FigureWidget(data=[go.Scatter(x=[0.0, 1.0], y=[0.0, 0.0], name="line")])
    controls = {"bits": widgets.IntSlider(value=4, min=2, max=8, description="bits"),
                "signed": widgets.Checkbox(value=True, description="signed"),
                "mode": widgets.Dropdown(options=[("per tensor", "t"), ("per channel", "c")], value="t",
                                         description="scales"),
                "k": widgets.FloatSlider(value=2.5, min=1, max=4, step=0.5, description="k",
                                         readout_format=".2f")}

    def update(v):
        fig.data[0].y = np.array([0.0, float(v["bits"])])
        return f"<b>{v['bits']}</b> bits"

    return Explorer(controls, fig, update), fig


def test_preview_is_the_explorer_as_it_stands():
    ex, fig = _explorer()
    bundle = ex._repr_mimebundle_()
    assert WIDGET_VIEW in bundle and PREVIEW_MIME in bundle
    p = json.loads(json.dumps(bundle[PREVIEW_MIME]))  # JSON as sent to the page
    assert p["controls"] == [["bits", "4"], ["signed", "\u2713"], ["scales", "per tensor"], ["k", "2.50"]]
    assert p["readout"] == "<b>4</b> bits"
    (spec,) = p["figures"]
    assert spec["data"][0]["y"] == [0.0, 4.0] and spec["data"][0]["name"] == "line"
    assert spec["config"]["responsive"] is True
    # a control moved: the next display shows the new state
    ex.controls["bits"].value = 7
    ex.controls["signed"].value = False
    ex.controls["mode"].value = "c"
    p = ex._repr_mimebundle_()[PREVIEW_MIME]
    assert p["controls"][:3] == [["bits", "7"], ["signed", "\u2717"], ["scales", "per channel"]]
    assert json.loads(json.dumps(p["figures"][0]["data"][0]["y"])) == [0.0, 7.0]
    assert p["readout"] == "<b>7</b> bits"


def test_a_lesson_explorer_preview_matches_its_figure():
    ex = sqnr_bits_explorer()
    p = json.loads(json.dumps(ex.preview()))
    assert len(p["figures"]) == len(ex.figures()) == 1
    sent = p["figures"][0]["data"]
    assert [t.get("name") for t in sent] == [t.name for t in ex.fig.data]
    for t_sent, t_fig in zip(sent, ex.fig.data):
        y = t_sent["y"]
        if isinstance(y, dict):  # plotly's typed-array encoding of numpy data
            import base64

            y = np.frombuffer(base64.b64decode(y["bdata"]), dtype=np.dtype(y["dtype"]))
        np.testing.assert_array_equal(np.asarray(y, dtype=float), np.asarray(t_fig.y, dtype=float))
    assert p["figures"][0]["layout"]["height"] == ex.fig.layout.height


# ----------------------------------------------------------------------------- formulas


def test_tex_to_mathml_structure():
    """latex2mathml is the reference; this checks what qlearn asks of it and its fallbacks."""
    frac = mathml.tex_to_mathml(r"\frac{\Delta^2}{12}")
    assert frac.startswith("<math") and "<mfrac>" in frac and "<msup>" in frac and 'display="inline"' in frac
    assert 'display="block"' in mathml.tex_to_mathml(r"x_{i}", display=True)
    assert "&#x00394;" in frac or "\u0394" in frac  # the Delta itself, not the word
    assert mathml.tex_to_mathml(r"\frac{1}{") is None  # broken TeX: left to MathJax, not an error box
    with pytest.raises(TypeError, match="tex"):
        mathml.tex_to_mathml(3)
    # sized delimiters: latex2mathml 2.x writes "\Big\lceil" out as the text "\lceil"
    ceil = mathml.tex_to_mathml(r"\Big\lceil \frac{a}{b} \Big\rceil \bigl\lvert x \bigr\rvert")
    assert "\\" not in ceil and "\u2308" in ceil and "\u2309" in ceil and ceil.count(">|<") == 2
    assert mathml._RAW_COMMAND.search('<mo minsize="1.6em">\\lceil</mo>')


def _render(markdown: str) -> str:
    from nbconvert.filters.markdown_mistune import MarkdownWithMath

    r = mathml.MathMLMarkdownRenderer(contents_manager=None, escape=False, attachments={})
    return MarkdownWithMath(renderer=r).render(markdown)


def test_markdown_math_becomes_mathml_and_bad_tex_stays_for_mathjax():
    html = _render(r"A step $\Delta = 2A/2^N$ and $$\mathrm{SQNR} = 6.02N + 1.76$$ and $\frac{1}{$ end")
    assert html.count("<math") == 2
    assert r"$\frac{1}{$" in html  # kept as TeX
    assert "$$" not in html


def test_every_formula_of_every_lesson_converts():
    """The whole course's Markdown through the server's renderer: no formula left as TeX."""
    from pathlib import Path

    from qlearn.course import LESSONS

    nb_dir = Path(__file__).resolve().parents[1] / "notebooks"
    left = []
    total = 0
    for le in LESSONS:
        nb = nbformat.read(nb_dir / le.file, as_version=4)
        for cell in nb.cells:
            if cell.cell_type != "markdown":
                continue
            html = _render(cell.source)
            total += html.count("<math")
            left += [(le.file, m) for m in re.findall(r"\$[^$]+\$", html)]
            # a command the converter wrote out as text (drawn as "\lceil" on the page)
            left += [(le.file, m) for m in re.findall(r"<math.*?</math>", html, re.S) if "\\" in m]
    assert not left, left[:5]
    assert total > 800


def test_a_static_figure_also_sends_its_preview():
    """ql.viz.widget(fig): no controls, so the preview has none (no 'controls connecting')."""
    import qlearn.viz as qv

    fig = go.Figure(go.Bar(x=["a", "b"], y=[1, 2]))
    box = qv.widget(fig)
    assert box.fig.data[0].type == "bar" and box.fig._config["responsive"] is True
    p = json.loads(json.dumps(box._repr_mimebundle_()[PREVIEW_MIME]))
    assert p["controls"] == [] and p["readout"] == ""
    assert p["figures"][0]["data"][0]["x"] == ["a", "b"]

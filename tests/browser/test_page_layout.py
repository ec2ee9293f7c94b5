"""Figures fit the screen: every explorer's figure fills its output's width, at a laptop, a phone
and a projector width, and follows the window when it is resized (issue: figures drawn at plotly's
default 700 px while Voila laid the cells out hidden)."""
from __future__ import annotations

import pytest
from qbrowser import RENDER_TIMEOUT_MS, PageGuard, lesson_names, open_lesson

pytestmark = pytest.mark.browser

FIGURE_WIDTHS_JS = """() => Array.from(document.querySelectorAll('.qlearn-explorer .js-plotly-plot'))
    .filter(p => p.querySelector('.main-svg')).map(p => {
    const svg = p.querySelector('.main-svg');
    const box = p.closest('.qlearn-explorer').getBoundingClientRect();
    return {figure: svg ? svg.getBoundingClientRect().width : 0, box: box.width,
            right: svg ? svg.getBoundingClientRect().right : 0};
})"""


def _lessons():
    names = lesson_names()
    wanted = [n for n in names if n.startswith("03_")]  # the staircase explorer: a figure in every width
    return wanted or [n for n in names if n != "00_index.ipynb"][:1]


def _assert_fit(page, where):
    page.wait_for_function("() => document.querySelector('.qlearn-explorer .js-plotly-plot .main-svg') !== null",
                           timeout=RENDER_TIMEOUT_MS)
    # the resize is announced debounced (60 ms) and plotly redraws: on a loaded machine that can take
    # seconds, so wait (up to 20 s) until every figure fits, then check and report what is there
    try:
        page.wait_for_function(f"() => {{ const w = ({FIGURE_WIDTHS_JS})(); return w.length > 0 && "
                               f"w.every(f => Math.abs(f.figure - f.box) <= 4 && f.right <= window.innerWidth + 1); }}",
                               timeout=20_000, polling=200)
    except Exception:
        pass  # the assertions below say which figure does not fit
    widths = page.evaluate(FIGURE_WIDTHS_JS)
    assert widths, f"{where}: no explorer figure"
    viewport = page.viewport_size["width"]
    for i, w in enumerate(widths):
        assert abs(w["figure"] - w["box"]) <= 4, (
            f"{where}: figure {i} is {w['figure']:.0f} px in a {w['box']:.0f} px box")
        assert w["right"] <= viewport + 1, f"{where}: figure {i} runs past the screen ({w['right']:.0f} > {viewport})"


@pytest.mark.parametrize("lesson", _lessons())
def test_figures_fill_their_box_at_every_width(lesson, lesson_server, pw_browser):
    context = pw_browser.new_context(viewport={"width": 390, "height": 844})  # a phone first
    PageGuard(context)
    try:
        page, _ = open_lesson(context, lesson_server.url, lesson)
        _assert_fit(page, f"{lesson} at 390 px")
        for w, h in ((1366, 768), (1920, 1080)):  # a laptop / a projector, then a wide screen
            page.set_viewport_size({"width": w, "height": h})
            _assert_fit(page, f"{lesson} resized to {w} px")
    finally:
        context.close()

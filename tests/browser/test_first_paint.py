"""The server-rendered first view (qlearn template, `qlearn-ssr`): a lesson is readable, formulas
set and explorers' figures drawn before Voila's front end has run; the live page then takes over
without a jump and without a second copy of anything; a page without figures never fetches plotly.

One `qlearn serve` on the course's own notebooks, lesson 05 (two explorers, formulas) pre-heated.
"""
from __future__ import annotations

import re

import pytest
from qbrowser import PageGuard, lessons_source_dir, start_qlearn_serve

LESSON = "05_snr.ipynb"
BUNDLE = re.compile(r"/qlearn/static/plotly-widget-[^/]+\.js$")

# Everything the first view must show, read from the page in one go.
FIRST_VIEW_JS = """() => {
  const cells = document.getElementById('rendered_cells');
  const text = cells ? cells.innerText : '';
  const previews = Array.from(document.querySelectorAll('.qlearn-ssr-explorer'));
  const figs = Array.from(document.querySelectorAll('.qlearn-ssr-fig'));
  const drawn = figs.map(f => {
    const p = f.querySelector('.js-plotly-plot');
    return p && p.data && p.data.length ? [p.getBoundingClientRect().width, f.getBoundingClientRect().width,
                                           p.data.length] : null;
  });
  return {visible: !!cells && cells.offsetHeight > 0, text: text,
          first_view: document.documentElement.classList.contains('qlearn-first-view'),
          maths: document.querySelectorAll('math').length,
          previews: previews.length, figs: figs.length, drawn: drawn,
          controls: previews.map(p => p.querySelector('.qlearn-ssr-controls').innerText),
          live: document.querySelectorAll('.qlearn-explorer').length,
          statics: Array.from(document.querySelectorAll('.qlearn-ssr-static')).map(s => ({
            text: s.innerText, inputs: s.querySelectorAll('input, button').length,
            enabled: s.querySelectorAll('input:not([disabled]), button:not([disabled])').length})),
          preload: Array.from(document.querySelectorAll('link[rel=modulepreload]')).map(l => l.href)};
}"""


def _widget_cells(lesson: str) -> int:
    """Code cells of ``lesson`` that show a prediction or the quiz (each sends a static preview)."""
    import nbformat

    nb = nbformat.read(lessons_source_dir() / lesson, as_version=4)
    return sum(1 for c in nb.cells if c.cell_type == "code"
               and ("lesson_prediction(" in c.source or "lesson_quiz(" in c.source))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("first-paint") / "serve.log"
    srv = start_qlearn_serve(lessons_source_dir(), log, "--preheat", LESSON)
    yield srv
    srv.stop()


def _context(pw_browser, width=1366, height=768):
    ctx = pw_browser.new_context(viewport={"width": width, "height": height})
    return ctx, PageGuard(ctx)


def test_lesson_readable_before_voila_runs(pw_browser, server):
    """With Voila's front end held back (voila.js never arrives), the page still shows its text,
    formulas as MathML (no TeX left), and every explorer's figures drawn at the output's width."""
    ctx, guard = _context(pw_browser)
    try:
        ctx.route(re.compile(r".*/voila/static/voila\.js$"), lambda route: route.abort())
        page = ctx.new_page()
        page.goto(server.url + "voila/render/" + LESSON, wait_until="domcontentloaded", timeout=120_000)
        page.wait_for_function(
            "() => { const f = Array.from(document.querySelectorAll('.qlearn-ssr-fig'));"
            " return f.length > 0 && f.every(x => { const p = x.querySelector('.js-plotly-plot');"
            " return p && p.data && p.data.length; }); }", timeout=60_000)
        v = page.evaluate(FIRST_VIEW_JS)
        assert v["visible"] and "Quantization noise" in v["text"]
        # cells off screen were left unlaid-out only until the first figure was drawn: the whole
        # lesson is laid out now, down to its last cell
        assert not v["first_view"] and "Score: 0 of" in v["text"], (v["first_view"], v["text"][-300:])
        assert v["maths"] > 20, v["maths"]
        tex = re.findall(r"\$[^$\n]{1,40}\$|\\(?:frac|Delta|sigma|log)\b", v["text"])
        assert not tex, tex[:5]
        assert v["live"] == 0  # nothing here came from Voila's front end
        assert v["previews"] == 2 and v["figs"] == 2, v
        for d in v["drawn"]:
            assert d is not None, v["drawn"]
            plot_w, box_w, traces = d
            assert abs(plot_w - box_w) <= 2 and box_w > 1000, d  # the output's width, not plotly's 700 px
            assert traces >= 1
        # the controls' state is stated in words until the live controls arrive
        controls = v["controls"]
        assert all("connecting" in c for c in controls) and "k (std devs) 4.00" in controls[0], controls
        # predictions and the quiz: their questions, choices and buttons, disabled until live
        statics = v["statics"]
        assert len(statics) == _widget_cells(LESSON), statics
        for st in statics:
            assert st["inputs"] >= 2 and st["enabled"] == 0 and "connecting" in st["text"], st
        assert any("Predict:" in st["text"] for st in statics)
        assert "Check yourself" in statics[-1]["text"] and "Score: 0 of" in statics[-1]["text"]
        # plotly's module is asked for from the head of a page with figures
        assert len(v["preload"]) == 1 and BUNDLE.search(v["preload"][0]), v["preload"]
    finally:
        ctx.close()


def test_live_page_replaces_the_preview_without_a_jump(pw_browser, server):
    """Normal load: the first figure comes from the preview, then every preview is replaced by its
    live explorer (one figure per figure, none left behind) and the layout shifts less than the
    'good' threshold of Web Vitals (0.1)."""
    ctx, guard = _context(pw_browser)
    try:
        page = ctx.new_page()
        page.add_init_script("""
          window.__shift = 0;
          new PerformanceObserver(l => {
            for (const e of l.getEntries()) { if (!e.hadRecentInput) window.__shift += e.value; }
          }).observe({type: 'layout-shift', buffered: true});
        """)
        page.goto(server.url + "voila/render/" + LESSON, wait_until="commit", timeout=120_000)
        page.wait_for_function(
            "() => document.querySelectorAll('.qlearn-ssr').length === 0 &&"
            " document.querySelectorAll('.qlearn-explorer').length === 2 &&"
            " Array.from(document.querySelectorAll('.qlearn-explorer .js-plotly-plot'))"
            ".every(p => p.data && p.data.length)", timeout=120_000)
        page.wait_for_timeout(1500)
        counts = page.evaluate(
            "() => [document.querySelectorAll('.js-plotly-plot').length,"
            " document.querySelectorAll('.qlearn-explorer .js-plotly-plot').length,"
            " document.querySelectorAll('.qlearn-pending').length, window.__shift]")
        plots, live_plots, pending, shift = counts
        assert plots == live_plots == 2 and pending == 0, counts
        assert shift < 0.1, f"cumulative layout shift {shift:.3f}"
        marks = page.evaluate("() => performance.getEntriesByType('mark').map(m => m.name)")
        assert "qlearn-preview-drawn" in marks
        assert marks.index("qlearn-preview-drawn") < marks.index("qlearn-voila-start")
        # plotly's module fetched once: the response's Link header, the head's modulepreload and the
        # figures' import() are one request (a second would be 1.3 MB parsed twice)
        fetched = [u for u in guard.requests if BUNDLE.search(u)]
        assert len(fetched) == 1, fetched
        guard.assert_clean()
    finally:
        ctx.close()


def test_page_without_figures_never_fetches_plotly(pw_browser, server):
    """The course map has widgets but no figure: plotly's 1.5 MB module is not requested."""
    ctx, guard = _context(pw_browser)
    try:
        page = ctx.new_page()
        page.goto(server.url + "voila/render/00_index.ipynb", wait_until="commit", timeout=120_000)
        page.wait_for_function("() => document.querySelectorAll('.jupyter-widgets').length > 0"
                               " && document.querySelectorAll('.qlearn-pending').length === 0", timeout=120_000)
        page.wait_for_timeout(1000)
        fetched = [u for u in guard.requests if BUNDLE.search(u)]
        assert not fetched, fetched
        assert page.evaluate("() => document.querySelectorAll('link[rel=modulepreload]').length") == 0
    finally:
        ctx.close()

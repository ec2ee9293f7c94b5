"""What a rendered lesson page shows, and what a reader should never see on it (issue 15).

``page_facts(page)`` reads a Voila page after its cells ran (widgets drawn, MathJax done): the
lesson navigation bars, the headings, the rendered text outside code and maths, and the text of the
outputs. ``content_problems(facts)`` lists what is wrong: raw markdown or TeX left in the text,
a heading twice, Python reprs (``np.float64(``, dict dumps, ``QParams(``) in outputs.

The per-lesson browser test (test_lessons.py) records every lesson's facts in ``PAGE_FACTS`` from
the page it loads anyway, so test_page_content.py and test_navigation.py check every lesson without
rendering it a second time; run on their own, they load the pages themselves. Likewise the figure
widths of :func:`layout_lessons` (``check_layout``: opened at phone width, then resized), kept in
``LAYOUT_RESULTS`` for test_page_layout.py.
"""
from __future__ import annotations

import re
import warnings
from html.parser import HTMLParser
from pathlib import Path

#: notebook file name -> facts, filled by test_lessons.py (one page load per lesson for the suite).
PAGE_FACTS: dict[str, dict] = {}
#: notebook file name -> None (every figure fit its box at every width) or what did not fit; filled by
#: test_lessons.py for :func:`layout_lessons` (it opens those at phone width), read by test_page_layout.py.
LAYOUT_RESULTS: dict[str, str | None] = {}

#: Where text is code, maths, a figure or a control, not prose: never checked for raw markdown.
NOT_PROSE = ("code, pre, kbd, samp, script, style, svg, input, textarea, select, option, "
             "mjx-container, .MathJax, .MathJax_Display, .MathJax_Preview, .MathJax_SVG, .katex, "
             ".js-plotly-plot, .qlearn-nav, .anchor-link, .jp-InternalAnchorLink")

FACTS_JS = """([notProse]) => {
  const root = document.getElementById('rendered_cells') || document.body;
  const text = el => (el.innerText || el.textContent || '').replace(/\\u00b6/g, '').trim();
  const navs = Array.from(document.querySelectorAll('nav.qlearn-nav')).map(n => ({
    where: n.getAttribute('data-qlearn-nav'), label: n.getAttribute('aria-label'),
    inCells: root.contains(n),
    links: Array.from(n.querySelectorAll('a')).map(a => ({
      cls: a.className, rel: a.getAttribute('rel'), href: a.getAttribute('href'), url: a.href,
      text: text(a), aria: a.getAttribute('aria-label')}))}));
  const headings = Array.from(root.querySelectorAll('h1, h2, h3, h4, h5, h6'))
    .filter(h => !h.closest('.qlearn-nav')).map(h => text(h)).filter(t => t);
  // prose: text nodes outside code/maths/figures, gathered per block element
  const blocks = new Map();
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const BLOCK = 'p, li, td, th, h1, h2, h3, h4, h5, h6, blockquote, dt, dd, label, button, div';
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest(notProse)) { continue; }
    const block = parent.closest(BLOCK) || parent;
    blocks.set(block, (blocks.get(block) || '') + node.nodeValue);
  }
  const prose = Array.from(blocks.values()).map(t => t.replace(/\\s+/g, ' ').trim()).filter(t => t);
  // outputs: their text nodes one per line (an <h3> then a <p> must not run together), figures left out
  const outputs = Array.from(root.querySelectorAll('.jp-OutputArea-output')).map(o => {
    const parts = [];
    const w = document.createTreeWalker(o, NodeFilter.SHOW_TEXT);
    for (let n = w.nextNode(); n; n = w.nextNode()) {
      if (!n.parentElement || !n.parentElement.closest('.js-plotly-plot, svg, script, style')) {
        parts.push(n.nodeValue);
      }
    }
    return parts.join('\\n').trim();
  }).filter(t => t);
  return {url: location.href, navs, headings, prose, outputs,
          mathjax: document.querySelectorAll('mjx-container, .MathJax').length};
}"""

#: A line of markdown source that the renderer did not turn into HTML.
RAW_MARKDOWN = (
    (re.compile(r"^#{1,6}\s"), "markdown heading marker '#'"),
    (re.compile(r"\|\s*:?-{3,}:?\s*\|"), "markdown table separator '| --- |'"),
    (re.compile(r"\*\*[^*\s][^*]*\*\*"), "'**bold**' markers"),
    (re.compile(r"\$\$"), "'$$' display-maths delimiters"),
    # pandoc's rule for inline TeX: '$' then a non-space ... a non-space then '$' not before a digit
    # (so "$5 and $6" is not maths, "$|x|$" and "$x_q$" are)
    (re.compile(r"(?<!\$)\$(?=[^\s$])[^$\n]{0,200}?(?<=[^\s$])\$(?![\d$])"), "unrendered TeX '$...$'"),
)

#: Python reprs a learner should never see in an output: a number or object printed raw.
RAW_REPR = (
    (re.compile(r"\bnp\.(?:float|int|uint|bool|complex|str)\w*\("), "numpy scalar repr 'np.float64(...)'"),
    (re.compile(r"\barray\(\["), "numpy 'array([...])' repr"),
    (re.compile(r"dtype="), "'dtype=' from a numpy repr"),
    (re.compile(r"\{'[^']*':"), "dict dump \"{'key': ...}\""),
    (re.compile(r"\b(?:QParams|FloatFormat|Lesson|Question)\("), "qlearn object repr"),
    (re.compile(r"<[\w.]+ object at 0x[0-9a-f]+>"), "default object repr '<... object at 0x...>'"),
)


def wait_for_maths(page, timeout_ms: int = 15_000) -> None:
    """Wait until MathJax has typeset the page: no markdown cell still shows raw '$...$' (or until
    ``timeout_ms``; a page that really shows raw TeX is then reported by :func:`content_problems`)."""
    try:
        page.wait_for_function(
            """() => !Array.from(document.querySelectorAll('.jp-MarkdownOutput, .jp-RenderedMarkdown'))
                 .some(m => /\\$(?=\\S)[^$\\n]{0,200}?\\S\\$/.test(
                     Array.from(m.childNodes).filter(n => n.nodeType === 3 || !(n.matches &&
                       n.matches('mjx-container, .MathJax, script, code, pre'))).map(n => n.textContent).join('')))""",
            timeout=timeout_ms)
    except Exception:  # reported by content_problems, with the text
        pass


def page_facts(page, maths_timeout_ms: int = 15_000) -> dict:
    """The facts :func:`content_problems` and the navigation test read, from a drawn lesson page."""
    wait_for_maths(page, maths_timeout_ms)
    return page.evaluate(FACTS_JS, [NOT_PROSE])


def record(notebook: str, page) -> dict:
    """Read ``page``'s facts (with its :func:`text_overlaps`) and keep them for the content and
    navigation tests."""
    facts = page_facts(page)
    facts["overlaps"] = text_overlaps(page)
    PAGE_FACTS[notebook] = facts
    return facts


def content_problems(facts: dict) -> list[str]:
    """What a reader should not see on the page, one message each (empty: nothing wrong).

    Examples
    --------
    >>> content_problems({"headings": ["Summary", "Quiz"], "prose": ["A **b** c", "fine"],
    ...                   "outputs": ["x = np.float64(0.5)"]})  # doctest: +NORMALIZE_WHITESPACE
    ["markdown: '**bold**' markers in 'A **b** c'",
     "output: numpy scalar repr 'np.float64(...)' in 'x = np.float64(0.5)'"]
    >>> content_problems({"headings": ["Check yourself", "Check yourself"], "prose": [], "outputs": []})
    ["heading 'Check yourself' appears 2 times"]
    """
    problems = []
    for text in facts.get("prose", []):
        for pattern, what in RAW_MARKDOWN:
            if pattern.search(text):
                problems.append(f"markdown: {what} in {_excerpt(text, pattern)!r}")
    seen: dict[str, int] = {}
    for h in facts.get("headings", []):
        key = " ".join(h.split()).casefold()
        seen[key] = seen.get(key, 0) + 1
    for h in dict.fromkeys(" ".join(h.split()) for h in facts.get("headings", [])):
        n = seen[h.casefold()]
        if n > 1:
            problems.append(f"heading {h!r} appears {n} times")
    for text in facts.get("outputs", []):
        for pattern, what in RAW_REPR:
            if pattern.search(text):
                problems.append(f"output: {what} in {_excerpt(text, pattern)!r}")
    problems += [f"drawn: {p}" for p in facts.get("overlaps", [])]
    return problems


def _excerpt(text: str, pattern, width: int = 60) -> str:
    m = pattern.search(text)
    a, b = max(0, m.start() - width), min(len(text), m.end() + width)
    return ("..." if a else "") + text[a:b] + ("..." if b < len(text) else "")


# ----------------------------------------------------------------------------- navigation

def expected_nav(notebook: str, files) -> dict:
    """The neighbours ``notebook`` must link to: previous and next in ``qlearn.course.LESSONS``
    among ``files`` (the notebooks served), and the course map unless it is the page itself or its
    previous lesson. Written from the course list directly, not through qlearn.serve."""
    from qlearn.course import LESSONS

    order = [le.file for le in LESSONS if le.file in set(files)]
    if notebook not in order:
        return {"prev": None, "map": "00_index.ipynb" if "00_index.ipynb" in order else None, "next": None}
    i = order.index(notebook)
    prev = order[i - 1] if i > 0 else None
    nxt = order[i + 1] if i + 1 < len(order) else None
    home = "00_index.ipynb" if "00_index.ipynb" in order and notebook != "00_index.ipynb" \
        and prev != "00_index.ipynb" else None
    return {"prev": prev, "map": home, "next": nxt}


def nav_targets(nav: dict) -> dict:
    """``{"prev": href, "map": href, "next": href}`` of one navigation bar from :func:`page_facts`."""
    out = {"prev": None, "map": None, "next": None}
    for link in nav["links"]:
        for kind in out:
            if f"qlearn-nav-{kind}" in link["cls"].split():
                assert out[kind] is None, f"two '{kind}' links in one bar: {nav}"
                out[kind] = link["href"]
    return out


class _NavParser(HTMLParser):
    """The navigation bars of a page's HTML, shaped like :func:`page_facts`'s ``navs``."""

    def __init__(self):
        super().__init__()
        self.navs: list[dict] = []
        self._nav = None
        self._link = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "nav" and "qlearn-nav" in (a.get("class") or "").split():
            self._nav = {"where": a.get("data-qlearn-nav"), "label": a.get("aria-label"), "links": []}
        elif tag == "a" and self._nav is not None:
            self._link = {"cls": a.get("class") or "", "rel": a.get("rel"), "href": a.get("href"),
                          "aria": a.get("aria-label"), "text": ""}

    def handle_data(self, data):
        if self._link is not None:
            self._link["text"] += data

    def handle_endtag(self, tag):
        if tag == "a" and self._link is not None:
            self._link["text"] = " ".join(self._link["text"].split())
            self._nav["links"].append(self._link)
            self._link = None
        elif tag == "nav" and self._nav is not None:
            self.navs.append(self._nav)
            self._nav = None


def navs_in_html(html: str) -> list[dict]:
    """The lesson navigation bars in a page's HTML source (no browser needed)."""
    p = _NavParser()
    p.feed(html)
    return p.navs


def served_files(lesson_dir) -> list[str]:
    return sorted(p.name for p in Path(lesson_dir).glob("*.ipynb"))


# ----------------------------------------------------------------------------- figure widths

#: The phone every layout check starts on; then the narrowest window where two panels stand side by
#: side (each gets the page template's PANEL_MIN, 280 px: their titles are closest there), a
#: laptop / a projector, then a wide screen.
PHONE = {"width": 390, "height": 844}
LAYOUT_RESIZES = ((620, 900), (1366, 768), (1920, 1080))

FIGURE_WIDTHS_JS = """() => Array.from(document.querySelectorAll('.qlearn-explorer .js-plotly-plot'))
    .filter(p => p.querySelector('.main-svg')).map(p => {
    const svg = p.querySelector('.main-svg');
    const box = p.closest('.qlearn-explorer').getBoundingClientRect();
    return {figure: svg ? svg.getBoundingClientRect().width : 0, box: box.width,
            right: svg ? svg.getBoundingClientRect().right : 0};
})"""


#: Lessons checked at phone width and resized: 03 (the staircase explorer), 05 (a prediction whose
#: choices wrap on a phone, two-panel figures), 16 (long bar labels, a 2x2 figure) and 18 (five
#: two-panel figures, stacked on a phone, side by side again when resized).
LAYOUT_PREFIXES = ("03_", "05_", "16_", "18_")
#: Narrowest a figure's panel may be drawn at phone width (side-by-side panels are stacked there).
MIN_PANEL_PX = 150

PANEL_WIDTHS_JS = r"""() => Array.from(document.querySelectorAll('.js-plotly-plot')).flatMap((g, i) => {
  const fl = g._fullLayout;
  if (!fl || !fl._subplots || !g.getBoundingClientRect().width) { return []; }
  return (fl._subplots.cartesian || []).map(id => {
    const xa = fl[id.replace(/y\d*$/, '').replace('x', 'xaxis')];
    return {figure: i, panel: id, width: Math.round(xa ? xa._length : 0)};
  });
})"""


#: Figures the page template drew with stacked panels (index.html.j2, qlearn-narrow).
STACKED_JS = "Array.from(document.querySelectorAll('.js-plotly-plot')).map((g, i) => g._qlearnStacked ? i : -1)" \
             ".filter(i => i >= 0)"


def narrow_panels(page, min_px: int = MIN_PANEL_PX) -> list[str]:
    """Figure panels on ``page`` narrower than ``min_px``: side-by-side panels left unstacked on a
    phone, or a plot squeezed by its axis labels."""
    return [f"figure {p['figure']}: panel {p['panel']} is {p['width']} px wide (under {min_px})"
            for p in page.evaluate(PANEL_WIDTHS_JS) if p["width"] < min_px]


FIT_STATE_JS = """() => ({visibility: document.visibilityState, innerWidth: window.innerWidth,
    figures: Array.from(document.querySelectorAll('.qlearn-explorer .js-plotly-plot')).map(g => ({
        width: g._fullLayout && g._fullLayout.width, layoutWidth: g.layout && g.layout.width,
        autosize: g.layout && g.layout.autosize, responsive: !!(g._context && g._context.responsive),
        handler: !!g._responsiveChartHandler, stacked: !!g._qlearnStacked, follows: g._qlearnAuto,
        pendingPromises: (g._promises || []).length, hidden: getComputedStyle(g).display,
        computedWidth: getComputedStyle(g).width, resizeTimer: !!g._redrawTimer,
        resizePending: !!g._resolveResize, initialAutoSize: g._initialAutoSize || null,
        replotting: !!(g._fullLayout && g._fullLayout._replotting), transitioning: !!g._transitioning})),
    resizeEvents: window.qlearnResizeEvents, trace: window.qlearnFigureTrace})"""


def fit_state(page) -> str:
    """What the page's figures hold (FIT_STATE_JS) and the errors the page raised, for a message."""
    guard = getattr(page.context, "qlearn_guard", None)
    return f"{page.evaluate(FIT_STATE_JS)}; {guard.errors() if guard else 'no PageGuard'}"


def layout_lessons(names) -> list[str]:
    """The lessons whose figures are checked at every width (:data:`LAYOUT_PREFIXES`), else the
    first lesson that is not the course map."""
    wanted = [n for n in names if n.startswith(LAYOUT_PREFIXES)]
    return wanted or [n for n in names if n != "00_index.ipynb"][:1]


def assert_figures_fit(page, where: str, timeout_ms: int = 150_000) -> None:
    """Every explorer figure on ``page`` is as wide as its explorer box and inside the window."""
    page.wait_for_function("() => document.querySelector('.qlearn-explorer .js-plotly-plot .main-svg') !== null",
                           timeout=timeout_ms)
    # the resize is announced debounced (60 ms) and plotly redraws: on a loaded machine that can take
    # seconds, so wait (up to 20 s) until every figure fits, then check and report what is there.
    # The boxes must have their new width first. Playwright's set_viewport_size returns when the page
    # has the new window.innerWidth; the page's "resize" event follows at the next frame, and Voila's
    # shell (Lumino) sets its panels' widths in pixels a frame after that. Until then the figures
    # "fit" boxes still at the old width (seen on CI and locally, 2026-12-02: the wait ended 4 ms
    # after a resize to 1920 px, the figure then 1336 px in a 1890 px box). So the figures must fit
    # at the new innerWidth, and still fit a few frames later.
    viewport = page.viewport_size["width"]
    fits = (f"() => {{ if (window.innerWidth !== {viewport}) {{ return false; }} "
            f"const w = ({FIGURE_WIDTHS_JS})(); return w.length > 0 && "
            f"w.every(f => Math.abs(f.figure - f.box) <= 4 && f.right <= window.innerWidth + 1); }}")
    frames = "() => new Promise(r => { let n = 0; const f = () => (++n < 4 ? requestAnimationFrame(f) : r()); f(); })"
    try:
        page.wait_for_function(fits, timeout=20_000, polling=200)
        page.evaluate(frames)
        page.wait_for_function(fits, timeout=20_000, polling=200)
    except Exception:
        pass  # the assertions below say which figure does not fit, and what the page held
    fallbacks = page.evaluate("() => window.qlearnResizeFallbacks || 0")
    if fallbacks:  # the page fitted a figure plotly.js's own resize had left (index.html.j2, ensureFits)
        warnings.warn(f"{where}: the page's fallback fitted {fallbacks} figure(s) plotly.js's resize did not; "
                      f"{fit_state(page)}", stacklevel=2)
    widths = page.evaluate(FIGURE_WIDTHS_JS)
    assert widths, f"{where}: no explorer figure"
    for i, w in enumerate(widths):
        assert abs(w["figure"] - w["box"]) <= 4, (
            f"{where}: figure {i} is {w['figure']:.0f} px in a {w['box']:.0f} px box; "
            f"the page's figures: {fit_state(page)}")
        assert w["right"] <= viewport + 1, f"{where}: figure {i} runs past the screen ({w['right']:.0f} > {viewport})"


def check_layout(page, lesson: str) -> None:
    """``page``, opened at :data:`PHONE` width and drawn: the figures fit there, their texts and the
    radio choices do not collide (:func:`text_overlaps`), no panel is squeezed (:func:`narrow_panels`:
    side-by-side panels are stacked), and the figures fit again after each resize in
    :data:`LAYOUT_RESIZES` (they follow the window), their panels side by side again."""
    assert_figures_fit(page, f"{lesson} at {PHONE['width']} px")
    overlaps = text_overlaps(page) + narrow_panels(page)
    assert not overlaps, f"{lesson} at {PHONE['width']} px: " + "; ".join(overlaps)
    for w, h in LAYOUT_RESIZES:
        page.set_viewport_size({"width": w, "height": h})
        assert_figures_fit(page, f"{lesson} resized to {w} px")
        try:  # the template's resize handler (debounced) puts stacked panels side by side again
            page.wait_for_function(STACKED_JS + ".length === 0", timeout=10_000, polling=200)
        except Exception:
            pass
        stacked = page.evaluate(STACKED_JS)
        assert not stacked, f"{lesson} resized to {w} px: figures {stacked} still have their panels stacked"
        overlaps = text_overlaps(page) + narrow_panels(page)
        assert not overlaps, f"{lesson} resized to {w} px: " + "; ".join(overlaps)


def record_layout(lesson: str, page) -> None:
    """:func:`check_layout` on a page test_lessons.py loaded at phone width; the outcome is kept in
    ``LAYOUT_RESULTS`` for test_page_layout.py (a figure that does not fit fails that test, not this one)."""
    try:
        check_layout(page, lesson)
    except Exception as e:  # noqa: BLE001 - reported by test_page_layout.py, with its message
        LAYOUT_RESULTS[lesson] = f"{type(e).__name__}: {e}"
    else:
        LAYOUT_RESULTS[lesson] = None


# ----------------------------------------------------------------------------- text that collides

#: Texts a reader must be able to read: in each figure its title, subplot titles and other
#: annotations, axis titles, legend entries and tick labels; on the page each choice of a radio list.
#: Two that overlap (by more than 2 px both ways), or a figure text cut by the figure's edge, is a defect.
OVERLAPS_JS = """() => {
  const rect = e => e.getBoundingClientRect();
  const hit = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > 2
                     && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 2;
  const problems = [];
  const label = e => (e.textContent || '').trim().slice(0, 40);
  document.querySelectorAll('.js-plotly-plot').forEach((plot, i) => {
    const svg = plot.querySelector('.main-svg');
    if (!svg || !svg.getBoundingClientRect().width) { return; }
    const box = rect(svg);
    const texts = Array.from(plot.querySelectorAll(
        '.g-gtitle text, .annotation-text, .g-xtitle text, .g-ytitle text, .g-x2title text, '
        + '.g-y2title text, [class*="title"] > text.xtitle, [class*="title"] > text.ytitle, .legendtext'))
      .filter((e, k, all) => all.indexOf(e) === k && label(e) && rect(e).width > 0);
    for (const e of texts) {
      const r = rect(e);
      if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1) {
        problems.push(`figure ${i}: "${label(e)}" is cut by the figure's edge`);
      }
    }
    for (let a = 0; a < texts.length; a++) {
      for (let b = a + 1; b < texts.length; b++) {
        if (hit(rect(texts[a]), rect(texts[b]))) {
          problems.push(`figure ${i}: "${label(texts[a])}" overlaps "${label(texts[b])}"`);
        }
      }
    }
    // tick labels (plotly keeps them clear of each other, not of the titles and legend)
    const ticks = Array.from(plot.querySelectorAll('.xaxislayer-above text, .yaxislayer-above text'))
      .filter(e => label(e) && rect(e).width > 0);
    for (const t of ticks) {
      const hitBy = texts.find(e => hit(rect(t), rect(e)));
      if (hitBy) { problems.push(`figure ${i}: tick label "${label(t)}" overlaps "${label(hitBy)}"`); }
    }
  });
  document.querySelectorAll('.widget-radio-box, .qlearn-w-radio').forEach((list, i) => {
    const items = Array.from(list.querySelectorAll('label')).filter(l => rect(l).height > 0);
    for (const l of items) {
      if (l.scrollHeight > l.clientHeight + 2) {
        problems.push(`radio list ${i}: "${label(l)}" is taller than its line`);
      }
      const dot = l.querySelector('input');
      if (dot && rect(dot).left > rect(l).left + 12) {
        problems.push(`radio list ${i}: the button of "${label(l)}" is not before its text`);
      }
    }
    for (let k = 0; k + 1 < items.length; k++) {
      if (hit(rect(items[k]), rect(items[k + 1]))) {
        problems.push(`radio list ${i}: "${label(items[k])}" overlaps "${label(items[k + 1])}"`);
      }
    }
  });
  return problems;
}"""


def text_overlaps(page, settle_s: float = 1.5) -> list[str]:
    """What on ``page`` cannot be read as drawn: figure texts that overlap or are cut, radio choices
    that run into each other (:data:`OVERLAPS_JS`). A figure being redrawn (after a resize) can be
    caught half-way: what is found is measured again ``settle_s`` later, and that is the answer."""
    found = page.evaluate(OVERLAPS_JS)
    if found:
        page.wait_for_timeout(settle_s * 1000)
        found = page.evaluate(OVERLAPS_JS)
    return found

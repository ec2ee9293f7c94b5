"""What every lesson page shows a reader after its cells ran, in headless Chromium (issue 15).

No raw markdown or TeX in the rendered text (a line starting with '#', a '| --- |' table separator,
'**' pairs, '$$' or an unrendered '$...$' outside code and maths), no heading twice on a page, and
no Python repr in an output (``np.float64(``, ``array([``, a dict dump, ``QParams(``,
``FloatFormat(``). The checks are in pagecheck.py. The page is the one test_lessons.py already
loads for the lesson (its facts are kept in pagecheck.PAGE_FACTS right after the cells ran), so the
suite renders each lesson once; run alone, this file loads each lesson itself.
"""
from __future__ import annotations

import pytest
from pagecheck import PAGE_FACTS, content_problems, page_facts, record
from qbrowser import PageGuard, open_lesson

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def reader(pw_browser):
    context = pw_browser.new_context(viewport={"width": 1280, "height": 900})
    PageGuard(context)
    yield context
    context.close()


def test_page_content(notebook, lesson_server, reader):
    facts = PAGE_FACTS.get(notebook)
    if facts is None:
        page, _ = open_lesson(reader, lesson_server.url, notebook)
        try:
            facts = record(notebook, page)
        finally:
            page.close()
    assert facts["prose"] or facts["outputs"], f"{notebook}: no text read from the page"
    problems = content_problems(facts)
    assert not problems, f"{notebook}: " + "\n  ".join(["what a reader should not see:", *problems])


SYNTHETIC = """<!doctype html><html><body><div id="rendered_cells">
<div class="jp-RenderedMarkdown"><h1>Lesson</h1>
<p>## Not a heading</p><p>| a | b | | --- | --- |</p><p>a **bold** word</p><p>$$s = 1$$</p>
<p>the range $|x|$ here</p><h2>Check yourself</h2>
<p>fine: <code>**kwargs</code>, <code># comment</code>, <mjx-container>x</mjx-container>, it costs $5 or $6</p>
</div>
<div class="jp-OutputArea-output"><pre>x = np.float64(0.25)</pre></div>
<div class="jp-OutputArea-output"><pre>{'bits': 8}</pre></div>
<div class="jp-OutputArea-output"><div><h3>Check yourself</h3><p>QParams(scale=0.1)</p></div></div>
<div class="jp-OutputArea-output"><pre>scale = 0.0157 (8 bits)</pre></div>
</div></body></html>"""


def test_the_checks_catch_each_defect(reader):
    """The same reading and checks on a page holding one of each defect, and text that is fine."""
    page = reader.new_page()
    try:
        page.set_content(SYNTHETIC)
        problems = content_problems(page_facts(page, maths_timeout_ms=200))
    finally:
        page.close()
    found = "\n".join(problems)
    for what in ("heading marker '#'", "table separator", "'**bold**'", "'$$'", "unrendered TeX '$...$' in "
                 "'the range $|x|$ here'", "heading 'Check yourself' appears 2 times", "np.float64",
                 "dict dump", "qlearn object repr"):
        assert what in found, f"not caught: {what}\n{found}"
    assert len(problems) == 9, found  # nothing from the code, the maths, "$5 or $6" or the clean output

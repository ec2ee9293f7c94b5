"""Figures fit the screen: every explorer's figure fills its output's width, at a laptop, a phone
and a projector width, and follows the window when it is resized (issue: figures drawn at plotly's
default 700 px while Voila laid the cells out hidden).

The lesson (pagecheck.layout_lessons) is opened at phone width first, then resized to a laptop and a
wide screen. In the whole suite test_lessons.py does this on the page it loads for the lesson anyway
(pagecheck.LAYOUT_RESULTS), so the lesson renders once; run alone, this file loads the page itself.
"""
from __future__ import annotations

import pytest
from pagecheck import LAYOUT_RESULTS, PHONE, check_layout, layout_lessons
from qbrowser import PageGuard, lesson_names, open_lesson

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("lesson", layout_lessons(lesson_names()))
def test_figures_fill_their_box_at_every_width(lesson, lesson_server, pw_browser):
    if lesson in LAYOUT_RESULTS:  # checked on test_lessons.py's page for the lesson
        problem = LAYOUT_RESULTS[lesson]
        assert problem is None, problem
        return
    context = pw_browser.new_context(viewport=PHONE)  # a phone first
    PageGuard(context)
    try:
        page, _ = open_lesson(context, lesson_server.url, lesson)
        check_layout(page, lesson)
    finally:
        context.close()

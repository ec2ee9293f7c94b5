"""Committed predictions and build-it-yourself checks in a Voila page, driven in headless Chromium.

The small widget course (qbrowser.write_widget_course, served once for this file and
test_progress.py) has a page holding a numeric and a multiple-choice prediction, and a task's
scaffold with its check: the explanation is hidden until the learner commits, unreadable input is
refused with a message, and the committed guess appears next to the measured value; the unedited
scaffold's check renders its "Not written yet" diagnosis, not an error.
"""
from __future__ import annotations

import pytest
from qbrowser import PREDICT_PAGE, PageGuard, error_outputs, open_lesson

pytestmark = pytest.mark.browser

def test_predictions_and_checks_in_voila(widget_course_server, pw_browser):
    context = pw_browser.new_context(viewport={"width": 1280, "height": 900})
    guard = PageGuard(context)
    page, _ = open_lesson(context, widget_course_server.url, PREDICT_PAGE)
    try:
        assert not error_outputs(page)
        preds = page.locator(".qlearn-predict")
        assert preds.count() == 2
        numeric, choice = preds.nth(0), preds.nth(1)
        reveal = numeric.locator(".qlearn-predict-reveal")
        assert reveal.count() == 0 or not reveal.first.is_visible()  # folded before committing

        box = numeric.locator("input").first
        box.fill("0,5")
        box.press("Tab")
        numeric.locator("button", has_text="Commit my prediction").click()
        page.wait_for_function("p => /Use a point for decimals/.test(p.innerText)",
                               arg=numeric.element_handle(), timeout=30_000)
        assert numeric.locator(".qlearn-predict-reveal").count() == 0

        box.fill("48")
        box.press("Tab")
        numeric.locator("button", has_text="Commit my prediction").click()
        page.wait_for_function("p => /measured by qlearn/.test(p.innerText)", arg=numeric.element_handle(),
                               timeout=30_000)
        text = numeric.inner_text()
        assert "48 dB" in text and "6.02 N + 1.76." in text and "below the measured value" in text

        choice.locator("input[type=radio]").first.check()
        choice.locator("button", has_text="Commit my prediction").click()
        page.wait_for_function("p => /The measurement says/.test(p.innerText)", arg=choice.element_handle(),
                               timeout=30_000)
        assert "biased down" in choice.inner_text()

        check = page.locator(".qlearn-check")
        assert check.count() == 1 and "Not written yet" in check.first.inner_text()
        guard.assert_clean()
    finally:
        page.close()
        context.close()

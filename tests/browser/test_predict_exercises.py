"""Committed predictions and build-it-yourself checks in a Voila page, driven in headless Chromium.

A two-notebook course in a temporary directory (the course map and one page holding a numeric and a
multiple-choice prediction, and a task's scaffold with its check) served by `qlearn serve`: the
explanation is hidden until the learner commits, unreadable input is refused with a message, and the
committed guess appears next to the measured value; the unedited scaffold's check renders its
"Not written yet" diagnosis, not an error.
"""
from __future__ import annotations

import nbformat
import pytest
from qbrowser import PageGuard, error_outputs, open_lesson, start_qlearn_serve

pytestmark = pytest.mark.browser

PAGE = "01_predict.ipynb"


def _write_course(directory):
    from qlearn.exercises import notebook_cells

    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell

    def nb(cells):
        n = nbformat.v4.new_notebook()
        n.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        n.cells = cells
        return n

    task = []
    for c in notebook_cells("02_rounding.ipynb"):
        cell = md(c["source"]) if c["cell_type"] == "markdown" else code(c["source"])
        cell.metadata.update(c["metadata"])
        task.append(cell)
    lesson = nb([md("# Predictions"), code("import numpy as np\nimport qlearn as ql"),
                 code("ql.viz.predict.predict('SQNR of a full-scale sine at 8 bits, in dB?', "
                      "measured=ql.snr.sine_sqnr_db(8), unit='dB', explanation='6.02 N + 1.76.')"),
                 code("ql.viz.predict.predict('Truncation is...', measured='mean error -0.5 step', "
                      "choices=['unbiased', 'biased down'], answer='biased down', explanation='Always down.')"),
                 *task])
    index = nb([md(f"# Course\n\n* [predictions]({PAGE})"), code("import qlearn as ql")])
    nbformat.write(index, directory / "00_index.ipynb")
    nbformat.write(lesson, directory / PAGE)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    d = tmp_path_factory.mktemp("predict_course")
    _write_course(d)
    srv = start_qlearn_serve(d, tmp_path_factory.mktemp("logs") / "serve.log")
    yield srv
    srv.stop()


def test_predictions_and_checks_in_voila(server, pw_browser):
    context = pw_browser.new_context(viewport={"width": 1280, "height": 900})
    guard = PageGuard(context)
    page, _ = open_lesson(context, server.url, PAGE)
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

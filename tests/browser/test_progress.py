"""Progress kept in the browser, in Voila pages driven in headless Chromium.

The small widget course (qbrowser.write_widget_course, served once for this file and
test_predict_exercises.py): the course map's progress table (`ql.viz.progress.course_progress()`)
and lesson 02's quiz (`ql.viz.lesson_quiz("02_rounding")`).
A question answered right is saved in localStorage under the page's base path; after a reload the
quiz says what was kept (and shows no answer); the course map shows it; "Reset my progress" erases
it. A browser that refuses storage gets a message instead, and the page has no error.
"""
from __future__ import annotations

import nbformat
import pytest
from qbrowser import PROGRESS_LESSON, PageGuard, error_outputs, new_notebook, open_lesson

from qlearn.quizzes import lesson_questions

pytestmark = pytest.mark.browser

LESSON = PROGRESS_LESSON
KEY = "qlearn-progress/v1|/|" + LESSON  # qlearn serve's base path is "/"

DENY_STORAGE = """Object.defineProperty(window, 'localStorage', {configurable: true,
  get() { throw new DOMException('The operation is insecure.', 'SecurityError'); }});"""


def _wait_text(page, locator, pattern, timeout_ms=30_000):
    page.wait_for_function("([el, re]) => new RegExp(re).test(el.innerText)",
                           arg=[locator.element_handle(), pattern], timeout=timeout_ms)
    return locator.inner_text()


def test_progress_survives_a_reload_and_shows_on_the_course_map(widget_course_server, pw_browser):
    first = lesson_questions(LESSON)[0]
    context = pw_browser.new_context(viewport={"width": 1280, "height": 900})
    guard = PageGuard(context)
    page, _ = open_lesson(context, widget_course_server.url, f"{LESSON}.ipynb")
    try:
        assert not error_outputs(page)
        quiz = page.locator(".qlearn-quiz")
        status = quiz.locator(".qlearn-progress")
        _wait_text(page, status, "saved in this browser")        # nothing stored yet
        pred = page.locator(".qlearn-predict").first
        pred.locator("input").first.fill("-0.5")
        pred.locator("input").first.press("Tab")
        pred.locator("button", has_text="Commit my prediction").click()
        _wait_text(page, pred, "measured by qlearn")
        q = quiz.locator(".qlearn-question").first
        q.scroll_into_view_if_needed()
        q.get_by_label(first["answer"], exact=True).check()
        q.locator("button", has_text="Check").click()
        _wait_text(page, q, "Correct")
        _wait_text(page, status, "Saved in this browser: 1 of 3 quiz questions answered right, 1 of 2 predictions")
        stored = page.evaluate("k => JSON.parse(window.localStorage.getItem(k))", KEY)
        assert stored["quiz"] == {"total": 3, "right": [0]}, stored
        assert stored["predictions"] == {"total": 2, "committed": [0]}, stored

        page.reload(wait_until="commit")                           # a new visit: a new kernel
        page.wait_for_selector("#rendered_cells", state="visible")
        quiz = page.locator(".qlearn-quiz")
        status = quiz.locator(".qlearn-progress")
        text = _wait_text(page, status, "Last time you answered 1 of 3 right")
        assert "answer again" in text
        q = quiz.locator(".qlearn-question").first
        assert "Correct" not in q.inner_text()                     # no answer is shown again
        assert q.locator("input[type=radio]:checked").count() == 0
        page.close()

        page, _ = open_lesson(context, widget_course_server.url, "00_index.ipynb")
        row = page.locator(".qlearn-progress-table tr[data-lesson='02_rounding']")
        cells = row.locator("td")
        _wait_text(page, row, "1 / 3")
        assert cells.nth(1).inner_text() == "1 / 3"                # quiz right
        assert cells.nth(2).inner_text() == "1 / 2"                # predictions (lesson 02 has two)
        assert cells.nth(3).inner_text() == "0 / 1"                # tasks
        other = page.locator(".qlearn-progress-table tr[data-lesson='03_scale_zero_point'] td").nth(1)
        assert other.inner_text() == "0 / 3"

        box = page.locator(".qlearn-course-progress")
        box.locator("button", has_text="Reset my progress").click()
        box.locator("button", has_text="Yes, erase my progress").click()
        _wait_text(page, row, "0 / 3")
        keys = page.evaluate("() => Object.keys(window.localStorage)")
        assert [k for k in keys if k.startswith("qlearn-progress")] == []
        assert "Nothing saved yet" in box.inner_text()
        assert not error_outputs(page)
        guard.assert_clean()
    finally:
        page.close()
        context.close()


def test_a_browser_without_storage_is_told_progress_is_not_kept(widget_course_server, pw_browser):
    context = pw_browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(DENY_STORAGE)
    guard = PageGuard(context)
    page, _ = open_lesson(context, widget_course_server.url, f"{LESSON}.ipynb")
    try:
        status = page.locator(".qlearn-quiz .qlearn-progress")
        _wait_text(page, status, "Progress is not kept in this browser")
        q = page.locator(".qlearn-question").first
        q.get_by_label(lesson_questions(LESSON)[0]["answer"], exact=True).check()
        q.locator("button", has_text="Check").click()
        _wait_text(page, q, "Correct")                             # the quiz works without storage
        assert not error_outputs(page)
        guard.assert_clean()
    finally:
        page.close()
        context.close()


# ----------------------------------------------------------------------------- JupyterLab

def _run_menu(page, menu: str, item: str) -> None:
    page.locator("li.lm-MenuBar-item", has_text=menu).click()
    page.locator(".lm-Menu-item", has_text=item).first.click()


def test_progress_in_jupyterlab(tmp_path, pw_browser):
    """The same widgets in JupyterLab: a committed prediction and a right answer are saved, the
    course map in the same notebook updates, and after a kernel restart the quiz says what was kept."""
    import sys

    from qbrowser import LOOPBACK, RENDER_TIMEOUT_MS, Server, free_port

    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    n = new_notebook([md("# Lab"), code("import qlearn as ql"), code(f'ql.viz.predict.lesson_prediction("{LESSON}")'),
                      code(f'ql.viz.lesson_quiz("{LESSON}")'), code("ql.viz.progress.course_progress()"),
                      code("from qlearn.exercises.solutions.rounding import round_half_even\n"
                           "ql.exercises.rounding.check_round_half_even(round_half_even)")])
    nbformat.write(n, tmp_path / "t.ipynb")
    port = free_port()
    lab = Server([sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", f"--port={port}",
                  f"--ServerApp.ip={LOOPBACK}", "--IdentityProvider.token=qlearn-test", "--LabApp.news_url=None",
                  f"--ServerApp.root_dir={tmp_path}"], f"http://{LOOPBACK}:{port}/", tmp_path / "lab.log")
    context = pw_browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_default_timeout(RENDER_TIMEOUT_MS)
    try:
        lab.wait_ready("api/status?token=qlearn-test", timeout=120)
        page.goto(lab.url + "lab/tree/t.ipynb?token=qlearn-test")
        page.locator(".jp-Notebook").first.wait_for()
        page.wait_for_function("() => /Idle/.test(document.body.innerText)")
        _run_menu(page, "Run", "Run All Cells")
        quiz = page.locator(".qlearn-quiz")
        _wait_text(page, quiz, "[Ss]aved in this browser", RENDER_TIMEOUT_MS)
        pred = page.locator(".qlearn-predict").first
        pred.locator("input").first.fill("-0.5")
        pred.locator("input").first.press("Tab")
        pred.locator("button", has_text="Commit my prediction").click()
        q = quiz.locator(".qlearn-question").first
        q.get_by_label(lesson_questions(LESSON)[0]["answer"], exact=True).check()
        q.locator("button", has_text="Check").click()
        _wait_text(page, quiz.locator(".qlearn-progress"),
                   "Saved in this browser: 1 of 3 quiz questions answered right, 1 of 2 predictions committed")
        row = page.locator(".qlearn-progress-table tr[data-lesson='02_rounding']")
        _wait_text(page, row, "1 / 3\\s+1 / 2\\s+1 / 1")          # the map in the same page redraws (the
        #                                                          task was passed by the last cell)
        stored = page.evaluate("k => JSON.parse(window.localStorage.getItem(k))", KEY)
        assert stored["quiz"]["right"] == [0] and stored["predictions"]["committed"] == [0]
        assert stored["exercises"] == {"total": 1, "passed": ["round_half_even"]}

        _run_menu(page, "Kernel", "Restart Kernel and Run All Cells")
        page.locator(".jp-Dialog button", has_text="Restart").click()
        page.wait_for_function(  # the quiz is drawn anew (a new element): look it up on every poll
            "() => /Last time you answered 1 of 3 right/.test("
            "(document.querySelector('.qlearn-quiz .qlearn-progress') || {}).innerText || '')")
        text = page.locator(".qlearn-quiz .qlearn-progress").inner_text()
        assert "1 of 2 predictions committed" in text and "answer again" in text
        assert not errors, errors
    finally:
        page.close()
        context.close()
        lab.stop()

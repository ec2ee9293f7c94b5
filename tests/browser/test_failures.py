"""What a learner sees when something goes wrong: a clear page, never a spinner forever.

* a cell that raises: the page finishes, shows a plain message, no traceback, no source; the server
  log has the lesson's name and the traceback;
* the lesson's kernel goes away (culled, crashed): a banner says so and offers a reload;
* the server goes away: the same banner.
"""
from __future__ import annotations

import nbformat
import pytest
from qbrowser import PageGuard, open_lesson, start_qlearn_serve

pytestmark = pytest.mark.browser


def _nb(*sources):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# A page")] + [nbformat.v4.new_code_cell(s) for s in sources]
    return nb


@pytest.fixture(scope="module")
def failing_server(tmp_path_factory):
    d = tmp_path_factory.mktemp("failing_notebooks")
    nbformat.write(_nb("x = 1", "print('ready')"), d / "00_index.ipynb")
    nbformat.write(_nb("secret_name = 'do-not-show'", "raise RuntimeError('internal detail 42')", "print('after')"),
                   d / "98_broken.ipynb")
    server = start_qlearn_serve(d, tmp_path_factory.mktemp("logs") / "serve.log", "--preheat", "none")
    yield server
    server.stop()


def test_failing_cell_gives_a_clear_page(failing_server, pw_browser):
    context = pw_browser.new_context()
    guard = PageGuard(context)
    page, _ = open_lesson(context, failing_server.url, "98_broken.ipynb")
    text = page.inner_text("#rendered_cells")
    assert "could not run" in text and "teacher" in text
    for leak in ("internal detail 42", "Traceback", "RuntimeError", "secret_name", "--show_tracebacks"):
        assert leak not in text
    assert page.locator("#loading").count() == 0 or not page.locator("#loading").is_visible()
    assert not guard.external and not guard.page_errors
    context.close()
    # the teacher finds it in the server log: the lesson, the cell and the traceback
    log = failing_server.log_path.read_text(encoding="utf-8", errors="replace")
    line = next((ln for ln in log.splitlines() if "qlearn: cell" in ln and "98_broken.ipynb" in ln), None)
    assert line is not None, log[-3000:]
    assert "RuntimeError" in line and "internal detail 42" in line
    after = log[log.index(line):]
    assert "Traceback" in after and "raise RuntimeError('internal detail 42')" in after


SHUTDOWN_JS = """async () => {
    const c = JSON.parse(document.getElementById('jupyter-config-data').textContent);
    const xsrf = (document.cookie.match(/_xsrf=([^;]+)/) || [])[1];
    const r = await fetch(c.baseUrl + 'voila/api/shutdown/' + c.kernelId,
                          {method: 'POST', headers: xsrf ? {'X-XSRFToken': xsrf} : {}});
    return r.status;
}"""


def test_banner_when_the_kernel_is_gone(failing_server, pw_browser):
    context = pw_browser.new_context()
    page, _ = open_lesson(context, failing_server.url, "00_index.ipynb")
    status = page.evaluate(SHUTDOWN_JS)  # the kernel goes away, as when the culler shuts it down
    assert status in (200, 204), status
    page.evaluate("window.qlearn_check_kernel()")  # the page also checks by itself every 10 s
    banner = page.wait_for_selector("#qlearn-banner", timeout=30_000)
    assert "stopped" in banner.inner_text() or "died" in banner.inner_text()
    assert page.locator("#qlearn-banner button", has_text="Reload").count() == 1
    context.close()


def test_closing_the_tab_frees_the_kernel(failing_server, pw_browser):
    """Voila's page asks for its kernel's shutdown on close; qlearn serve sets the cookie that
    request needs (plain Voila refuses it, and the kernel lingers until culled)."""
    import time
    import urllib.error
    import urllib.request

    context = pw_browser.new_context()
    page, _ = open_lesson(context, failing_server.url, "00_index.ipynb")
    kernel_id = page.evaluate("JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId")
    url = failing_server.url + "api/kernels/" + kernel_id
    # the page's widget manager (which asks for the shutdown on close) is connected to the kernel
    import json

    deadline = time.monotonic() + 60
    while True:
        with urllib.request.urlopen(url, timeout=10) as r:
            assert r.status == 200
            if json.load(r).get("connections", 0) >= 1 or time.monotonic() > deadline:
                break
        time.sleep(0.2)
    page.close(run_before_unload=True)
    deadline = time.monotonic() + 30
    gone = False
    while time.monotonic() < deadline and not gone:
        try:
            urllib.request.urlopen(url, timeout=10).close()
            time.sleep(0.5)
        except urllib.error.HTTPError as e:
            gone = e.code == 404
    context.close()
    assert gone, "the kernel of a closed tab is still running"


def test_banner_when_the_server_is_gone(failing_server, pw_browser):
    """Last in this file: it stops the module's server (one server start fewer than a server of its own)."""
    context = pw_browser.new_context()
    try:
        page, _ = open_lesson(context, failing_server.url, "00_index.ipynb")
        failing_server.stop()
        page.evaluate("window.qlearn_check_kernel()")
        banner = page.wait_for_selector("#qlearn-banner", timeout=30_000)
        assert "cannot be reached" in banner.inner_text()
    finally:
        context.close()

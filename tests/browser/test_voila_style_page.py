"""Voila's styles arrive as a stylesheet (qlearn.server.voila_style): the same CSS rules, in the same
order, as Voila's voila-style.js adds when it runs, and a served lesson links the stylesheet and
does not run the script (which held up the page's parsing and first paint for ~0.25 s)."""
from __future__ import annotations

import functools
import http.server
import shutil
import threading
import urllib.request

import pytest
from qbrowser import lesson_names

from qlearn.server import voila_style as vs

pytestmark = pytest.mark.browser

RULES_JS = """() => Array.from(document.styleSheets).flatMap(s => Array.from(s.cssRules).map(r => r.cssText))"""


def test_the_stylesheet_gives_the_page_the_rules_the_script_gives(pw_browser, tmp_path):
    shutil.copy(vs.installed_script(), tmp_path / "voila-style.js")
    shutil.copy(vs.STYLESHEET, tmp_path / "voila-style.css")
    (tmp_path / "script.html").write_text('<!doctype html><head><script src="voila-style.js"></script></head>')
    (tmp_path / "sheet.html").write_text('<!doctype html><head><link rel="stylesheet" href="voila-style.css"></head>')
    quiet = type("Quiet", (http.server.SimpleHTTPRequestHandler,), {"log_message": lambda *a: None})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(quiet, directory=tmp_path))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}/"  # a file:// stylesheet's rules cannot be read
    page = pw_browser.new_page()
    try:
        page.goto(base + "script.html")
        by_script = page.evaluate(RULES_JS)
        page.goto(base + "sheet.html")
        by_sheet = page.evaluate(RULES_JS)
    finally:
        page.close()
        server.shutdown()
    assert len(by_script) > 1000
    # the script writes its fonts' URLs whole, the stylesheet beside itself: the same files
    assert by_sheet == [rule.replace(base, "") for rule in by_script]


def test_a_served_lesson_links_the_stylesheet_instead_of_running_the_script(lesson_server):
    lesson = lesson_names()[0]  # the course map, or the first demo notebook when notebooks/ is empty
    with urllib.request.urlopen(lesson_server.url + "voila/render/" + lesson, timeout=120) as r:
        html = r.read().decode("utf-8")
    assert "static/voila-style.css" in html
    assert "static/voila-style.js" not in html

"""Previous / course map / next on every lesson page served by `qlearn serve` (issue 15).

* Every lesson: a navigation bar at the top and one at the bottom, named for assistive technology,
  whose links go to the lesson's neighbours in ``qlearn.course.LESSONS`` (among the notebooks
  served) and to the course map. Read from the page test_lessons.py loads anyway (pagecheck.PAGE_FACTS,
  the browser's DOM after the cells ran); run alone, from each page's HTML over HTTP.
* Real navigation, three page loads only: lesson 02's bottom "Course map" is clicked at phone
  width, then on the course map Tab then Enter follows "next". Each time the right page loads and
  reveals its cells; the top bar does not move when the cells appear; at 390 px the bars fit
  without sideways scrolling.
"""
from __future__ import annotations

import urllib.request

import pytest
from pagecheck import PAGE_FACTS, expected_nav, nav_targets, navs_in_html, served_files
from qbrowser import RENDER_TIMEOUT_MS, PageGuard, start_lesson

pytestmark = pytest.mark.browser

TOP_RECT_JS = """() => { const r = document.querySelector('nav.qlearn-nav-top').getBoundingClientRect();
                         return {top: r.top, left: r.left, right: r.right, height: r.height}; }"""
#: The page's first frame is on screen: the head's stylesheets are in by then (they hold up painting,
#: not parsing: a bar measured before them was measured unstyled, as no one ever sees it).
FIRST_PAINT_JS = "() => performance.getEntriesByType('paint').length > 0"


def _course(lesson_dir) -> list[str]:
    from qlearn.course import LESSONS

    files = set(served_files(lesson_dir))
    return [le.file for le in LESSONS if le.file in files]


def _label(file: str) -> str:
    from qlearn.course import lesson

    return lesson(file).title


def test_nav_on_every_lesson(notebook, lesson_server, lesson_dir):
    facts = PAGE_FACTS.get(notebook)
    if facts is not None:  # the browser's view of the page test_lessons.py loaded
        navs = facts["navs"]
    else:
        with urllib.request.urlopen(lesson_server.url + "voila/render/" + notebook,
                                    timeout=RENDER_TIMEOUT_MS / 1000) as r:
            navs = navs_in_html(r.read().decode("utf-8"))
    assert [n["where"] for n in navs] == ["top", "bottom"], f"{notebook}: navigation bars {navs}"
    if facts is not None:
        top, bottom = navs
        assert not top["inCells"] and bottom["inCells"], "top bar above the spinner, bottom bar after the cells"
    want = expected_nav(notebook, served_files(lesson_dir))
    for nav in navs:
        assert nav["label"], f"{notebook}: a navigation bar without aria-label"
        assert nav_targets(nav) == want, f"{notebook} ({nav['where']}): links {nav['links']}"
        for link in nav["links"]:
            assert "/" not in link["href"], f"{notebook}: not a relative link {link['href']!r}"
            target = link["href"]
            assert _label(target) in link["text"], f"{notebook}: link to {target} reads {link['text']!r}"
            assert link["aria"], f"{notebook}: link to {target} without aria-label"
        rel = {link["rel"]: link["href"] for link in nav["links"] if link["rel"]}
        assert rel == {k: v for k, v in (("prev", want["prev"]), ("next", want["next"])) if v}


def _wait_revealed(page, notebook):
    page.wait_for_url("**/voila/render/" + notebook, timeout=RENDER_TIMEOUT_MS)
    page.wait_for_selector("#rendered_cells", state="visible", timeout=RENDER_TIMEOUT_MS)
    assert page.locator("#qlearn-banner").count() == 0


def _assert_no_shift(page, before, where):
    after = page.evaluate(TOP_RECT_JS)
    assert abs(after["top"] - before["top"]) <= 1 and abs(after["height"] - before["height"]) <= 1, (
        f"{where}: the top bar moved when the cells appeared: {before} -> {after}")


def _bar_fits(page, where):
    """At phone width nothing in the bars runs past the screen's edge, and the top bar is one row
    (lesson numbers only)."""
    overflow = page.evaluate("""() => Array.from(document.querySelectorAll('nav.qlearn-nav a'))
        .map(a => a.getBoundingClientRect()).filter(r => r.right > window.innerWidth + 1 || r.left < -1).length""")
    assert overflow == 0, f"{where}: a navigation link runs off a {page.viewport_size['width']} px screen"
    assert page.evaluate("() => document.querySelector('nav.qlearn-nav-top').scrollWidth"
                         " <= document.querySelector('nav.qlearn-nav-top').clientWidth + 1"), where
    rows = page.evaluate("""() => Array.from(document.querySelectorAll('nav.qlearn-nav-top a'))
        .map(a => Math.round(a.getBoundingClientRect().top))""")
    assert rows and max(rows) - min(rows) <= 2, f"{where}: the top bar takes more than one row: {rows}"


def test_following_the_links_loads_the_neighbours(lesson_server, lesson_dir, pw_browser):
    """Three page loads: lesson 02, its bottom "Course map" (mouse, phone width), the map's "next"
    (keyboard: the first Tab stop, then Enter)."""
    course = _course(lesson_dir)
    if len(course) < 3 or course[0] != "00_index.ipynb":
        pytest.skip("needs the course map and two lessons of qlearn.course.LESSONS in the served directory")
    home, first, second = course[:3]
    context = pw_browser.new_context(viewport={"width": 1366, "height": 768})
    guard = PageGuard(context)
    try:
        page, _ = start_lesson(context, lesson_server.url, second)
        page.wait_for_selector("nav.qlearn-nav-top", state="attached")
        page.wait_for_function(FIRST_PAINT_JS)
        before = page.evaluate(TOP_RECT_JS)  # drawn from the first bytes, above Voila's spinner
        _wait_revealed(page, second)
        _assert_no_shift(page, before, second)

        # a phone: the bars wrap inside the screen; the mouse, at the end of the lesson: "Course map"
        page.set_viewport_size({"width": 390, "height": 844})
        _bar_fits(page, f"{second} at 390 px")
        link = page.locator("nav.qlearn-nav-bottom a.qlearn-nav-map")
        link.scroll_into_view_if_needed()
        link.click()
        page.wait_for_url("**/voila/render/" + home, timeout=RENDER_TIMEOUT_MS)
        page.wait_for_selector("nav.qlearn-nav-top", state="attached")
        page.wait_for_function(FIRST_PAINT_JS)
        before = page.evaluate(TOP_RECT_JS)
        _wait_revealed(page, home)
        _assert_no_shift(page, before, f"{home} at 390 px")
        _bar_fits(page, f"{home} at 390 px")

        # the keyboard: the first Tab stop of the page is the top bar's first link ("next" on the map)
        page.keyboard.press("Tab")
        focused = page.evaluate("() => [document.activeElement.className, document.activeElement.getAttribute('href')]")
        assert focused == ["qlearn-nav-next", first], f"first Tab stop on {home}: {focused}"
        page.keyboard.press("Enter")
        _wait_revealed(page, first)
        assert page.locator("nav.qlearn-nav-top a.qlearn-nav-prev").get_attribute("href") == home
        assert page.locator("h1").first.inner_text().strip(), f"{first}: no title after following 'next'"
        assert not guard.external, f"requests off the machine: {guard.external}"
        assert not guard.page_errors, f"uncaught errors: {guard.page_errors}"
    finally:
        context.close()

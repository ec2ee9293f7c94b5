"""Previous / course map / next on every lesson page (issue 15), without a browser.

The links come from ``qlearn.course.LESSONS`` through ``qlearn.serve.course_nav`` (handed to the
page template as ``resources.qlearn.nav``) and are drawn by the template's ``nav.macro.html.j2``.
Here the macro is rendered with Jinja for the first, a middle and the last lesson, and the data is
checked against the course list read directly; the served pages are checked in
tests/browser/test_navigation.py.
"""
from __future__ import annotations

import html
import re
from urllib.parse import urljoin

import jinja2
import pytest

from qlearn import serve
from qlearn.course import LESSONS, Lesson

TEMPLATE_DIR = serve.template_root() / "voila" / "templates" / serve.TEMPLATE
FILES = [le.file for le in LESSONS]


def render_nav(nav, where):
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)))
    tpl = env.from_string("{% from 'nav.macro.html.j2' import lesson_nav %}{{ lesson_nav(nav, where) }}")
    return tpl.render(nav=nav, where=where)


def links(markup):
    """(class, rel, href, aria-label, link text) of every <a> in ``markup`` (the "Previous"/"Next"
    caption, shown only in the bottom bar, and the number-only text of a phone's top bar left out)."""
    out = []
    markup = re.sub(r'<span class="qlearn-nav-(?:kind|short)"[^>]*>[^<]*</span>', "", markup)
    for m in re.finditer(r"<a ([^>]*)>(.*?)</a>", markup, re.S):
        attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', m.group(1)))
        text = html.unescape(re.sub(r"<[^>]+>", "", m.group(2))).replace("\xa0", " ")
        out.append((attrs.get("class"), attrs.get("rel"), attrs.get("href"), html.unescape(attrs.get("aria-label", "")),
                    " ".join(text.split())))
    return out


def stem(file):
    return file.removesuffix(".ipynb")


def label(le):
    return le.title if le.file == "00_index.ipynb" else f"{le.file[:2]} · {le.title}"


def link(le):
    return {"href": le.file, "label": label(le), "short": "Course map" if le.file == "00_index.ipynb" else le.file[:2]}


@pytest.fixture(scope="module")
def nav():
    return serve.course_nav()["pages"]


def test_every_lesson_has_its_neighbours_in_course_order(nav):
    assert list(nav) == [stem(f) for f in FILES]
    for i, le in enumerate(LESSONS):
        entry = nav[stem(le.file)]
        prev = LESSONS[i - 1] if i > 0 else None
        nxt = LESSONS[i + 1] if i + 1 < len(LESSONS) else None
        assert entry["prev"] == (None if prev is None else link(prev)), le.file
        assert entry["next"] == (None if nxt is None else link(nxt)), le.file
        # the course map, except on itself and where "previous" already is the course map
        want_map = i > 1
        assert (entry["map"] == link(LESSONS[0])) is want_map, le.file
        assert want_map or entry["map"] is None


def test_first_middle_and_last_lesson_render(nav):
    first, middle, last = LESSONS[0], LESSONS[len(LESSONS) // 2], LESSONS[-1]
    i = len(LESSONS) // 2
    for where in ("top", "bottom"):
        out = render_nav(nav[stem(first.file)], where)
        assert f'aria-label="{"Lessons" if where == "top" else "Lessons, end of page"}"' in out
        assert links(out) == [("qlearn-nav-next", "next", LESSONS[1].file, f"Next lesson: {label(LESSONS[1])}",
                               f"{label(LESSONS[1])} →")]

        out = render_nav(nav[stem(middle.file)], where)
        assert links(out) == [
            ("qlearn-nav-prev", "prev", LESSONS[i - 1].file, f"Previous lesson: {label(LESSONS[i - 1])}",
             f"← {label(LESSONS[i - 1])}"),
            ("qlearn-nav-map", None, "00_index.ipynb", "Course map: all lessons", "Course map"),
            ("qlearn-nav-next", "next", LESSONS[i + 1].file, f"Next lesson: {label(LESSONS[i + 1])}",
             f"{label(LESSONS[i + 1])} →"),
        ]
        out = render_nav(nav[stem(last.file)], where)
        assert [x[0] for x in links(out)] == ["qlearn-nav-prev", "qlearn-nav-map"]  # no dead "next"
        assert links(out)[0][2] == LESSONS[-2].file
        assert out.count("<nav ") == 1 and out.count("</nav>") == 1


def test_links_resolve_under_qlearn_serve_and_under_a_hub(nav):
    """hrefs are bare file names: relative to the page's URL, whatever the prefix."""
    i = len(LESSONS) // 2
    page = LESSONS[i].file
    for base in ("http://127.0.0.1:8866/voila/render/", "https://hub.example/user/ada/voila/render/"):
        for _, _, href, _, _ in links(render_nav(nav[stem(page)], "top")):
            assert "/" not in href and ":" not in href
            assert urljoin(base + page, href) == base + href
        assert urljoin(base + page, nav[stem(page)]["next"]["href"]) == base + LESSONS[i + 1].file


def test_a_new_lesson_gets_links_with_no_other_change():
    """A lesson added to the course list (as 16 and 18 will be) is linked both ways."""
    course = list(LESSONS)
    new = Lesson("16_new_lesson.ipynb", "A new lesson", "", "")
    at = next(k for k, le in enumerate(course) if le.file > new.file)
    course.insert(at, new)
    nav = serve.course_nav(course)["pages"]
    assert nav["16_new_lesson"]["prev"]["href"] == course[at - 1].file
    assert nav["16_new_lesson"]["next"]["href"] == course[at + 1].file
    assert nav[stem(course[at - 1].file)]["next"] == {"href": new.file, "label": "16 · A new lesson", "short": "16"}
    assert nav[stem(course[at + 1].file)]["prev"]["href"] == new.file


def test_missing_notebooks_are_skipped_not_linked():
    present = {"00_index.ipynb", FILES[1], FILES[3]}
    nav = serve.course_nav(available=present)["pages"]
    assert sorted(nav) == sorted(stem(f) for f in present)
    assert nav[stem(FILES[1])]["next"]["href"] == FILES[3]
    assert nav[stem(FILES[3])]["prev"]["href"] == FILES[1] and nav[stem(FILES[3])]["next"] is None


def test_a_page_outside_the_course_links_to_the_course_map_only():
    other = serve.course_nav()["other"]
    assert other == {"prev": None, "map": link(LESSONS[0]), "next": None}
    assert [x[2] for x in links(render_nav(other, "bottom"))] == ["00_index.ipynb"]
    assert render_nav({"prev": None, "map": None, "next": None}, "top").strip() == ""  # no empty bar


def test_a_phones_top_bar_has_the_numbers_too(nav):
    """The top bar carries each neighbour's number alone (shown instead of the title below 600 px);
    the course map keeps its name."""
    out = render_nav(nav[stem(LESSONS[2].file)], "top")
    assert '<span class="qlearn-nav-short" aria-hidden="true">01</span>' in out
    assert '<span class="qlearn-nav-short" aria-hidden="true">03</span>' in out
    out = render_nav(nav[stem(LESSONS[1].file)], "top")  # previous is the course map: its name, once
    assert out.count("Course map</a>") == 1 and out.count("qlearn-nav-short") == 1


def test_labels_are_escaped():
    nav = {"prev": {"href": "01_a.ipynb", "label": "<b>&"}, "map": None, "next": None}
    out = render_nav(nav, "top")
    assert "<b>" not in out and "&lt;b&gt;&amp;" in out


def test_the_served_configuration_carries_the_links(tmp_path):
    """qlearn serve (from the notebooks present), the hub's and Binder's server extension (all)."""
    for name in ("00_index.ipynb", FILES[2]):
        (tmp_path / name).write_text("{}")
    q = serve.voila_config(serve.ServeOptions(), tmp_path).VoilaConfiguration.resources["qlearn"]
    assert sorted(q["nav"]["pages"]) == ["00_index", stem(FILES[2])]
    assert q["nav"]["pages"][stem(FILES[2])]["prev"]["href"] == "00_index.ipynb"
    ext = serve.server_extension_config().VoilaConfiguration.resources["qlearn"]
    assert list(ext["nav"]["pages"]) == [stem(f) for f in FILES]


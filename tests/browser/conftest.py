"""Fixtures for the browser tests: a headless Chromium and `qlearn serve` on a free loopback port.

Helpers (finding Chromium, the page guard, driving explorers and quizzes) are in qbrowser.py.
Chromium: Debian's (`/usr/bin/chromium`, see scripts/ensure_chromium.sh), Playwright's own
(`python -m playwright install chromium`) or `$QLEARN_CHROMIUM`. Missing: skipped on a developer's
machine, a FAILURE on CI (`CI=true`).
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from qbrowser import (  # noqa: E402
    CHROMIUM_ARGS,
    course_notebooks,
    find_chromium,
    lesson_names,
    lessons_source_dir,
    missing,
    start_qlearn_serve,
    write_demo_notebooks,
    write_widget_course,
)


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.browser)


def pytest_generate_tests(metafunc):
    if "notebook" in metafunc.fixturenames:
        names = lesson_names()
        metafunc.parametrize("notebook", names, ids=[n.removesuffix(".ipynb") for n in names])


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = find_chromium()
    if path is None:
        missing("no Chromium found: run scripts/ensure_chromium.sh (Debian, as root) or "
                "`python -m playwright install chromium`")
    return path


@pytest.fixture(scope="session")
def pw_browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def lesson_dir(tmp_path_factory) -> Path:
    """notebooks/ when it holds any notebook; else two demo notebooks in a temporary directory."""
    if course_notebooks():
        return lessons_source_dir()
    d = tmp_path_factory.mktemp("demo_notebooks")
    write_demo_notebooks(d)
    return d


@pytest.fixture(scope="session")
def lesson_server(lesson_dir, tmp_path_factory):
    server = start_qlearn_serve(lesson_dir, tmp_path_factory.mktemp("logs") / "qlearn-serve.log")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def widget_course_server(tmp_path_factory):
    """`qlearn serve` over the three small pages of qbrowser.write_widget_course (progress, predictions,
    tasks), shared by test_progress.py and test_predict_exercises.py."""
    d = tmp_path_factory.mktemp("widget_course")
    write_widget_course(d)
    server = start_qlearn_serve(d, tmp_path_factory.mktemp("logs") / "widget-course.log")
    yield server
    server.stop()

"""No console warnings on lesson pages (issue 15): every front-end extension a page loads is built for
the JupyterLab core that Voila's page shares, and the page guard fails on any console warning.

Every lesson page is checked in test_lessons.py (``PageGuard.assert_clean`` after the page ran and
was driven); here, one page's console and, without a server, the installed extensions' version ranges
against Voila's core, and the provenance of the widget manager qlearn loads in place of Voila's own.
"""
from __future__ import annotations

import json

import pytest
from qbrowser import PageGuard, open_lesson, start_qlearn_serve, write_demo_notebooks
from sharedscope import (
    extension_dir,
    extension_requirements,
    installed_voila_extension_dir,
    page_core_versions,
    same_code,
    unsatisfied,
)

from qlearn import serve

pytestmark = pytest.mark.browser

MANAGER = "@voila-dashboards/widgets-manager8"


def test_every_extension_a_page_loads_is_built_for_the_pages_core():
    """ipywidgets' manager, Voila's widget manager and anywidget ask nothing of the page's core that it
    lacks (jupyterlab_widgets 3.0.14 and later ask ^4.4-^4.6 of a 4.2.5 core: nine warnings on every
    page; Voila 0.5.9-0.5.13's own widget manager build asks ^4.4.5-^4.5.10: eleven)."""
    core = page_core_versions()
    assert core["@jupyterlab/services"].startswith("7."), core
    for ext in serve.FRONTEND_EXTENSIONS:
        assert extension_requirements(ext), f"no shared-module requirement read from {ext}'s remoteEntry"
    assert extension_requirements(MANAGER)["@jupyterlab/services"] == "^7.2.5"
    bad = unsatisfied(serve.FRONTEND_EXTENSIONS)
    assert bad == [], "an extension built against a newer JupyterLab than Voila's page:\n" + "\n".join(map(str, bad))


def test_the_page_loads_qlearns_widget_manager_which_is_voilas_code():
    """The widget manager the page loads is qlearn's copy (qlearn/labextensions: Voila 0.5.8's build),
    and it holds the installed Voila's code, chunk by chunk, up to webpack's module numbers: only the
    version ranges its remoteEntry declares differ. If a Voila upgrade changes the manager's code, this
    fails: see qlearn/labextensions/README.md."""
    ours = extension_dir(MANAGER)
    assert ours.resolve() == (serve.labextensions_root() / MANAGER).resolve(), ours
    voilas = installed_voila_extension_dir(MANAGER)
    assert voilas.resolve() != ours.resolve()
    assert same_code(ours, voilas), f"{ours} and {voilas} hold different code"
    pkg = json.loads((ours / "package.json").read_text(encoding="utf-8"))
    assert pkg["name"] == MANAGER and pkg["version"] == "0.5.8", pkg.get("version")
    # the same shared modules on both sides, only the ranges differ
    assert set(extension_requirements(MANAGER)) == set(_requirements_of(voilas))


def _requirements_of(d):
    """extension_requirements for a directory that is not where the page looks (Voila's own copy)."""
    import sharedscope

    original = sharedscope.extension_dir
    sharedscope.extension_dir = lambda name: d
    try:
        return sharedscope.extension_requirements.__wrapped__("voila's own " + MANAGER)
    finally:
        sharedscope.extension_dir = original


def test_same_code_tells_builds_apart(tmp_path):
    """same_code sees a changed statement, and ignores only webpack's numbers."""
    import shutil

    ours = serve.labextensions_root() / MANAGER
    copy = tmp_path / "copy"
    shutil.copytree(ours, copy)
    assert same_code(ours, copy)
    chunk = max((p for p in (copy / "static").glob("*.js") if "remoteEntry" not in p.name),
                key=lambda p: p.stat().st_size)
    text = chunk.read_text(encoding="utf-8")
    chunk.write_text(text.replace("=>", "=>  ", 1), encoding="utf-8")
    assert not same_code(ours, copy)


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    d = tmp_path_factory.mktemp("console_demo")
    names = write_demo_notebooks(d)
    server = start_qlearn_serve(d, tmp_path_factory.mktemp("logs") / "console.log", "--preheat", "none")
    yield server, names
    server.stop()


def test_a_lesson_page_logs_no_console_warning(pw_browser, demo_server):
    """A served lesson with an explorer (slider and figure) and a quiz, its slider moved: not one
    console warning or error; its widget manager is qlearn's copy."""
    server, names = demo_server
    lesson = next(n for n in names if not n.startswith("00"))
    context = pw_browser.new_context()
    guard = PageGuard(context)
    try:
        page, n = open_lesson(context, server.url, lesson)
        assert n >= 1
        assert page.evaluate("() => JSON.parse(document.getElementById('jupyter-config-data').textContent)"
                             ".federated_extensions.find(e => e.name === '" + MANAGER + "').load") \
            == _load_of(serve.labextensions_root() / MANAGER)
        slider = page.locator(".widget-slider").first
        slider.locator(".noUi-handle, .slider-handle, input").first.focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_timeout(1000)  # the redraw, and console events arrive asynchronously
        guard.assert_clean()
    finally:
        context.close()


def _load_of(d):
    return json.loads((d / "package.json").read_text(encoding="utf-8"))["jupyterlab"]["_build"]["load"]


def test_the_guard_fails_on_a_console_warning(pw_browser):
    context = pw_browser.new_context()
    guard = PageGuard(context)
    page = context.new_page()
    try:
        page.set_content("<p>page</p>")
        page.evaluate("() => { console.warn('Unsatisfied version 4.2.5 from _JUPYTERLAB.CORE_OUTPUT of shared "
                      "singleton module @jupyterlab/console (required ^4.5.10)'); "
                      "console.log('fine'); console.info('fine'); }")
        page.wait_for_timeout(200)  # console events arrive asynchronously
        assert guard.console_warnings and "Unsatisfied version" in guard.console_warnings[0]
        with pytest.raises(AssertionError, match="console warnings"):
            guard.assert_clean()
        guard.reset()
        guard.assert_clean()
    finally:
        context.close()

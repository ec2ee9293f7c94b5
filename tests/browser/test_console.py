"""No console warnings on lesson pages (issue 15): the front-end extensions a page loads are built for
the JupyterLab core that Voila's page shares, and the page guard fails on any other console warning.

Every lesson page is checked in test_lessons.py (``PageGuard.assert_clean`` after the page ran and
was driven); here, without a server: the installed extensions' version ranges against Voila's core,
and the guard's verdict on a page that logs warnings.
"""
from __future__ import annotations

import pytest
from qbrowser import PageGuard
from sharedscope import VOILA_OWN, allowed_console_warning, extension_requirements, page_core_versions, unsatisfied

pytestmark = pytest.mark.browser


def test_the_extensions_qlearn_chooses_are_built_for_the_pages_core():
    """ipywidgets' manager and anywidget ask nothing of the page's core that it lacks (jupyterlab_widgets
    3.0.14 and later ask ^4.4-^4.6 of a 4.2.5 core: nine warnings on every page)."""
    from qlearn.serve import FRONTEND_EXTENSIONS

    core = page_core_versions()
    assert core["@jupyterlab/services"].startswith("7."), core
    for ext in FRONTEND_EXTENSIONS:
        assert extension_requirements(ext), f"no shared-module requirement read from {ext}'s remoteEntry"
    ours = [u for u in unsatisfied(FRONTEND_EXTENSIONS) if not u[0].startswith(VOILA_OWN)]
    assert ours == [], "an extension built against a newer JupyterLab than Voila's page:\n" + "\n".join(map(str, ours))


def test_only_voilas_own_mismatches_are_allowed():
    own = [u for u in unsatisfied() if u[0].startswith(VOILA_OWN)]
    for _ext, module, have, want in own:
        assert allowed_console_warning(f"Unsatisfied version {have} from _JUPYTERLAB.CORE_OUTPUT of shared "
                                       f"singleton module {module} (required {want})")
        assert allowed_console_warning(f"No satisfying version ({want}) of shared module {module} found in shared "
                                       f"scope default.\nAvailable versions: {have} from _JUPYTERLAB.CORE_OUTPUT")
    # the warnings jupyterlab_widgets 3.0.17 caused, another version, and any other text: not allowed
    for text in ("Unsatisfied version 4.2.5 from _JUPYTERLAB.CORE_OUTPUT of shared singleton module "
                 "@jupyterlab/console (required ^4.6.2)",
                 "No satisfying version (^4.6.2) of shared module @jupyterlab/outputarea found in shared scope "
                 "default.\nAvailable versions: 4.2.5 from _JUPYTERLAB.CORE_OUTPUT",
                 "Unsatisfied version 4.2.4 from _JUPYTERLAB.CORE_OUTPUT of shared singleton module "
                 "@jupyterlab/statedb (required ^4.5.10)",
                 "r.setData is not a function", ""):
        assert not allowed_console_warning(text), text


def test_the_guard_fails_on_a_console_warning(pw_browser):
    context = pw_browser.new_context()
    guard = PageGuard(context)
    page = context.new_page()
    try:
        page.set_content("<p>page</p>")
        page.evaluate("() => { console.warn('something odd'); console.log('fine'); console.info('fine'); }")
        page.wait_for_timeout(200)  # console events arrive asynchronously
        assert guard.console_warnings and "something odd" in guard.console_warnings[0]
        with pytest.raises(AssertionError, match="console warnings"):
            guard.assert_clean()
        guard.reset()
        guard.assert_clean()
    finally:
        context.close()

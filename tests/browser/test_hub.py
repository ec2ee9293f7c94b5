"""The class server: deploy/jupyterhub_config.py on loopback with the test authenticator.

Three students log in; each gets their own single-user server (local processes), lands on the
Voila landing page, and opens a lesson whose explorer responds, all through the hub's proxy and
with nothing requested from outside 127.0.0.1.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

import pytest
from qbrowser import (
    LOOPBACK,
    REPO,
    PageGuard,
    Server,
    busiest_lesson,
    check_explorer,
    error_outputs,
    free_port,
    missing,
    open_lesson,
)

pytestmark = pytest.mark.browser

CONFIG = REPO / "deploy" / "jupyterhub_config.py"
STUDENTS = ("ada", "grace", "alan")


def _hub_binaries() -> tuple[str, str]:
    if importlib.util.find_spec("jupyterhub") is None:
        missing("jupyterhub is not installed (pip install jupyterhub)")
    hub = Path(sys.executable).with_name("jupyterhub")
    if not hub.exists():
        hub = shutil.which("jupyterhub")
    chp = REPO / "deploy" / "node_modules" / ".bin" / "configurable-http-proxy"
    if not chp.exists() and not shutil.which("configurable-http-proxy"):
        missing("configurable-http-proxy is not installed (npm install --prefix deploy)")
    return str(hub), str(chp)


@pytest.fixture(scope="module")
def hub(lesson_dir, tmp_path_factory):
    hub_exe, _ = _hub_binaries()
    data = tmp_path_factory.mktemp("hub")
    port, api_port = free_port(), free_port()
    while abs(api_port - port) < 2:
        api_port = free_port()
    env = dict(os.environ, QLEARN_HUB_AUTH="dummy", QLEARN_HUB_PORT=str(port), QLEARN_HUB_API_PORT=str(api_port),
               QLEARN_NOTEBOOKS=str(lesson_dir), QLEARN_HUB_DATA=str(data))
    server = Server([hub_exe, "-f", str(CONFIG)], f"http://{LOOPBACK}:{port}/", data / "hub.log", env=env, cwd=data)
    try:
        server.wait_ready("hub/login", timeout=120, need_ok=True)
        yield server
    finally:
        server.stop(timeout=60)


@pytest.mark.load  # also alone: `make test-load`
def test_three_students_each_reach_the_landing_page_and_a_lesson(hub, pw_browser, lesson_dir):
    lesson = busiest_lesson(lesson_dir)
    students = []
    for name in STUDENTS:  # all three log in before anyone's server is ready
        ctx = pw_browser.new_context(viewport={"width": 1280, "height": 900})
        guard = PageGuard(ctx)
        page = ctx.new_page()
        page.set_default_timeout(180_000)
        resp = page.goto(hub.url + "hub/login")
        assert resp is not None and resp.ok, (resp.status if resp else None, page.url, hub.log_tail())
        page.fill("input[name=username]", name)
        page.fill("input[name=password]", "any password")
        page.click("[type=submit]")
        students.append((name, ctx, guard, page))
    try:
        for name, ctx, guard, page in students:
            page.wait_for_url(f"**/user/{name}/voila/render/00_index.ipynb*", timeout=180_000)
            page.close()
            base = f"{hub.url}user/{name}/"
            landing, _ = open_lesson(ctx, base, "00_index.ipynb")
            assert not error_outputs(landing)
            assert f"/user/{name}/" in landing.url
            landing.close()
            page, _ = open_lesson(ctx, base, lesson)
            assert not error_outputs(page)
            explorers = page.locator(".qlearn-explorer")
            if explorers.count():
                check_explorer(page, explorers.first)
            guard.assert_clean()
            page.close()
    finally:
        for _name, ctx, _guard, _page in students:
            ctx.close()

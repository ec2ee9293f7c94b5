"""Binder: `binder/start` in front of a plain Jupyter Server, as repo2docker runs it.

The course's Voila pages then use the qlearn template (offline, with the watchdog), qlearn's Voila
settings, and plotly.js as one static file; a lesson renders and responds with nothing requested
from outside 127.0.0.1.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from qbrowser import (
    LOOPBACK,
    REPO,
    PageGuard,
    Server,
    check_explorer,
    error_outputs,
    free_port,
    lesson_names,
    open_lesson,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def binder_server(tmp_path_factory):
    port = free_port()
    cmd = [str(REPO / "binder" / "start"), str(Path(sys.executable).with_name("jupyter-server")), "--no-browser",
           f"--ServerApp.ip={LOOPBACK}", f"--ServerApp.port={port}", "--ServerApp.token=",
           f"--ServerApp.root_dir={REPO}", "--ServerApp.port_retries=0"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("JUPYTER_CONFIG_PATH", None)
    server = Server(cmd, f"http://{LOOPBACK}:{port}/", tmp_path_factory.mktemp("binder") / "server.log",
                    env=env, cwd=REPO)
    try:
        server.wait_ready("api/status", timeout=120, need_ok=True)
        yield server
    finally:
        server.stop()


def test_binder_start_serves_lessons_with_the_qlearn_template(binder_server, pw_browser):
    names = [n for n in lesson_names() if n != "00_index.ipynb"] or lesson_names()
    lesson = names[0]
    ctx = pw_browser.new_context(viewport={"width": 1280, "height": 900})
    guard = PageGuard(ctx)
    try:
        page, _ = open_lesson(ctx, binder_server.url, "notebooks/" + lesson)
        html = page.content()
        assert "qlearn-watchdog" in html and "qlearn-module-deadline" in html, "not the qlearn template"
        assert not error_outputs(page)
        bundle = [u for u in guard.requests if "/static/qlearn/plotly-widget-" in u]
        assert bundle, "plotly's module was not loaded from the server's static file"
        explorers = page.locator(".qlearn-explorer")
        if explorers.count():
            check_explorer(page, explorers.first)
        guard.assert_clean()
    finally:
        ctx.close()

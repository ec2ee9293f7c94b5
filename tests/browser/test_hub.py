"""The class server: deploy/jupyterhub_config.py on loopback, as a class would run it.

As root (CI): one Unix account per student, created by the hub from the students file and removed
again at the end. If the Python that runs the hub lives where other accounts cannot reach it
(pyenv under /root, mode 0700), the hub runs in a private mount namespace where /root shows only
that Python (nothing changes outside the namespace). As another user: the shared-account spawner
on loopback; the test that needs separate accounts is skipped.

Three students log in with their own passwords; each lands on the Voila landing page and opens a
lesson whose explorer responds, all through the hub's proxy with nothing requested from outside
127.0.0.1. Then one student attacks: another's name, a terminal, JupyterLab, writes through the
contents API (a new 00_index.ipynb), code sent to their own kernel, another student's server; the
other students still get the lessons as they were.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import importlib.util
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import uuid
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
    free_port_pair,
    missing,
    start_lesson,
    wait_lesson,
)

pytestmark = pytest.mark.browser

CONFIG = REPO / "deploy" / "jupyterhub_config.py"
STUDENTS = ("qlt-ada", "qlt-grace", "qlt-alan")  # qlt-: accounts of this test, removed at the end
ADA, GRACE = STUDENTS[0], STUDENTS[1]
AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _hub_module():
    spec = importlib.util.spec_from_file_location("qlearn_hub", REPO / "deploy" / "qlearn_hub.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


qlearn_hub = _hub_module()


def _hub_binaries() -> str:
    if importlib.util.find_spec("jupyterhub") is None:
        missing("jupyterhub is not installed (pip install jupyterhub)")
    hub = Path(sys.executable).with_name("jupyterhub")
    if not hub.exists():
        hub = shutil.which("jupyterhub")
    chp = REPO / "deploy" / "node_modules" / ".bin" / "configurable-http-proxy"
    if not chp.exists() and not shutil.which("configurable-http-proxy"):
        missing("configurable-http-proxy is not installed (npm install --prefix deploy)")
    return str(hub)


# A private mount namespace in which BLOCKED (a directory other accounts cannot search, like
# /root) is an empty 0755 tmpfs showing only BLOCKED/CHILD (the Python installation).
NAMESPACE_SCRIPT = """set -e
keep=$(mktemp -d)
mount --bind "$1/$2" "$keep"
mount -t tmpfs -o mode=755 tmpfs "$1"
mkdir "$1/$2"
mount --bind "$keep" "$1/$2"
shift 2
exec "$@"
"""


def _reachable_command(cmd: list[str]) -> list[str]:
    """``cmd`` itself, or wrapped in a mount namespace that lets student accounts reach Python."""
    import voila

    import qlearn

    for path in (Path(voila.__file__), Path(qlearn.__file__), CONFIG):
        problem = qlearn_hub.path_problem(path)
        if problem:
            missing(f"student accounts cannot read the course: {problem}")
    python = Path(sys.executable).resolve()
    blocked = [d for d in reversed(python.parents) if not d.stat().st_mode & stat.S_IXOTH]
    if not blocked:
        return cmd
    if len(blocked) > 1 or not shutil.which("unshare"):
        missing(f"student accounts cannot run {python} ({blocked[0]} is not searchable) and no mount "
                "namespace can expose it here")
    child = python.relative_to(blocked[0]).parts[0]
    wrapped = ["unshare", "--mount", "--propagation", "private", "sh", "-c", NAMESPACE_SCRIPT, "sh",
               str(blocked[0]), child, *cmd]
    probe = subprocess.run(wrapped[:-len(cmd)] + ["true"], capture_output=True, text=True)
    if probe.returncode:
        missing(f"student accounts cannot run {python} ({blocked[0]} is not searchable) and a mount "
                f"namespace is not allowed here: {probe.stderr.strip()}")
    return wrapped


def _remove_test_accounts(existed_before: set[str], group_existed: bool) -> None:
    import grp
    import pwd

    for name in (*STUDENTS, "qlt-teacher"):
        try:
            uid = pwd.getpwnam(name).pw_uid
        except KeyError:
            continue
        if name in existed_before and not qlearn_hub._in_student_group(name):
            continue  # not ours
        for pid in os.listdir("/proc"):  # processes the hub started for this account
            if pid.isdigit():
                try:
                    if os.stat(f"/proc/{pid}").st_uid == uid:
                        os.kill(int(pid), signal.SIGKILL)
                except (FileNotFoundError, ProcessLookupError):
                    pass
        subprocess.run(["userdel", "--remove", "--force", name], capture_output=True)
    try:
        group = grp.getgrnam(qlearn_hub.STUDENT_GROUP)
    except KeyError:
        return
    if not group_existed and not group.gr_mem:
        subprocess.run(["groupdel", qlearn_hub.STUDENT_GROUP], capture_output=True)


class Hub:
    def __init__(self, server: Server, state: Path, passwords: dict[str, str]):
        self.server, self.state, self.passwords = server, state, passwords
        self.url = server.url
        self.lessons = state / "lessons"
        self.sessions = {}  # name -> logged-in requests session (each login renders the landing page)


@pytest.fixture(scope="module")
def hub(lesson_dir, tmp_path_factory):
    import grp
    import pwd

    hub_exe = _hub_binaries()
    logs = tmp_path_factory.mktemp("hub")
    # Under /tmp, not pytest's 0700 directory: student accounts must reach the lessons' copy.
    state = Path(tempfile.mkdtemp(prefix="qlearn-hub-test-"))
    os.chmod(state, 0o755)
    names = logs / "names.txt"
    names.write_text("\n".join(STUDENTS) + "\n")
    passwords = qlearn_hub.write_passwords(list(STUDENTS), state / "students.tsv", admins=("qlt-teacher",))
    existed = set()
    group_existed = False
    cmd = [hub_exe, "-f", str(CONFIG)]
    if AS_ROOT:
        existed = {n for n in (*STUDENTS, "qlt-teacher") if _exists(pwd.getpwnam, n)}
        group_existed = _exists(grp.getgrnam, qlearn_hub.STUDENT_GROUP)
        cmd = _reachable_command(cmd)
    server = None
    try:
        # The proxy's API listens on the hub API port + 1, a port nobody reserved: another process
        # (a kernel's ZMQ socket) can hold it, and the hub then exits with "Failed to start proxy"
        # (seen once in CI). Ports are chosen free in a block and a failed start is retried.
        for attempt in range(3):
            port, api_port = free_port(), free_port_pair()
            env = dict(os.environ, QLEARN_HUB_PORT=str(port), QLEARN_HUB_API_PORT=str(api_port),
                       QLEARN_NOTEBOOKS=str(lesson_dir), QLEARN_HUB_STATE=str(state))
            server = Server(cmd, f"http://{LOOPBACK}:{port}/", logs / f"hub-{attempt}.log", env=env, cwd=logs)
            try:
                server.wait_ready("hub/login", timeout=120, need_ok=True)
                break
            except RuntimeError:
                server.stop(timeout=60)
                if attempt == 2 or "Failed to start proxy" not in server.log_tail(n=10**7):
                    raise
        yield Hub(server, state, passwords)
    finally:
        if server is not None:
            server.stop(timeout=60)
        if AS_ROOT:
            _remove_test_accounts(existed, group_existed)
        shutil.rmtree(state, ignore_errors=True)


def _exists(lookup, name) -> bool:
    try:
        lookup(name)
        return True
    except KeyError:
        return False


# ----------------------------------------------------------------------------- HTTP as a student

def login(hub: Hub, name: str, password: str):
    """A requests session after the hub's login form; returns (session, final response)."""
    import requests

    s = requests.Session()
    r = s.get(hub.url + "hub/login", timeout=30)
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', r.text).group(1)
    r = s.post(hub.url + "hub/login?next=", data={"username": name, "password": password, "_xsrf": xsrf},
               timeout=180)
    return s, r


def student_session(hub: Hub, name: str):
    """Logged in as ``name`` with their password, their server running, its landing page loaded."""
    if name in hub.sessions:
        return hub.sessions[name]
    s, r = login(hub, name, hub.passwords[name])
    deadline = time.monotonic() + 150
    while "/voila/render/" not in r.url and time.monotonic() < deadline:
        time.sleep(1)
        r = s.get(f"{hub.url}user/{name}/", timeout=180)
    assert r.ok and f"/user/{name}/voila/render/" in r.url, (r.status_code, r.url, hub.server.log_tail())
    hub.sessions[name] = s
    return s


def xsrf_headers(session, name: str) -> dict:
    return {"X-XSRFToken": session.cookies.get("_xsrf", path=f"/user/{name}/") or ""}


def tree_digest(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


# ----------------------------------------------------------------------------- tests

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
        assert resp is not None and resp.ok, (resp.status if resp else None, page.url, hub.server.log_tail())
        page.fill("input[name=username]", name)
        page.fill("input[name=password]", hub.passwords[name])
        page.click("[type=submit]")
        students.append((name, ctx, guard, page))
    try:
        for name, _ctx, _guard, page in students:  # the hub sends each to their own landing page
            page.wait_for_url(f"**/user/{name}/voila/render/00_index.ipynb*", timeout=180_000)
            page.wait_for_selector("#rendered_cells", state="visible", timeout=180_000)
            assert page.locator("#qlearn-banner").count() == 0
            assert not error_outputs(page)
            assert page.locator("a[href*='.ipynb']").count() > 0  # the links to the lessons
        opened = [(name, ctx, guard, *start_lesson(ctx, f"{hub.url}user/{name}/", lesson))  # all three at once
                  for name, ctx, guard, _page in students]
        for name, _ctx, guard, page, resp in opened:
            wait_lesson(page, resp)
            assert f"/user/{name}/" in page.url
            assert not error_outputs(page)
            explorers = page.locator(".qlearn-explorer")
            if explorers.count():
                check_explorer(page, explorers.first)
            guard.assert_clean()
    finally:
        for _name, ctx, _guard, _page in students:
            ctx.close()


def test_a_student_cannot_log_in_under_another_name(hub):
    ada_password = hub.passwords[ADA]
    for name, password in ((GRACE, ada_password), ("qlt-eve", ada_password), (GRACE, ""),
                           ("qlt-teacher", ada_password)):
        s, r = login(hub, name, password)
        assert r.status_code == 403 and r.url.startswith(hub.url + "hub/login"), (name, r.status_code, r.url)
        assert s.get(f"{hub.url}hub/api/user", timeout=30).status_code == 403
    s, r = login(hub, ADA, ada_password)  # the positive control: her own name works
    assert r.ok and s.get(f"{hub.url}hub/api/user", timeout=30).json()["name"] == ADA


def test_a_student_gets_no_terminal_no_lab_and_cannot_write_the_lessons(hub):
    before = tree_digest(hub.lessons)
    s = student_session(hub, ADA)
    api = f"{hub.url}user/{ADA}/api/"
    h = xsrf_headers(s, ADA)
    assert s.get(api + "contents/00_index.ipynb", headers=h, timeout=30).status_code == 200  # reading works
    assert s.post(api + "terminals", headers=h, timeout=30).status_code in (403, 404)
    assert s.get(f"{hub.url}user/{ADA}/lab", timeout=30).status_code == 404
    assert s.get(f"{hub.url}user/{ADA}/terminals/1", timeout=30).status_code == 404
    planted = {"type": "notebook", "format": "json", "content": {
        "cells": [{"cell_type": "code", "execution_count": None, "id": "planted", "metadata": {}, "outputs": [],
                   "source": "open('/tmp/qlearn-hub-planted', 'w').write('ran')"}],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5}}
    attempts = {
        "PUT 00_index": s.put(api + "contents/00_index.ipynb", json=planted, headers=h, timeout=30),
        "PUT new": s.put(api + "contents/planted.ipynb", json=planted, headers=h, timeout=30),
        "POST untitled": s.post(api + "contents", json={"type": "notebook"}, headers=h, timeout=30),
        "PATCH rename": s.patch(api + "contents/00_index.ipynb", json={"path": "x.ipynb"}, headers=h, timeout=30),
        "DELETE": s.delete(api + "contents/00_index.ipynb", headers=h, timeout=30),
        "checkpoint": s.post(api + "contents/00_index.ipynb/checkpoints", headers=h, timeout=30),
    }
    assert {k: r.status_code for k, r in attempts.items()} == {k: 403 for k in attempts}
    # refused by the read-only contents manager, not by a missing XSRF token
    assert all("read-only" in r.json().get("message", "") for r in attempts.values()), \
        {k: r.text[:200] for k, r in attempts.items()}
    assert tree_digest(hub.lessons) == before
    # Grace still gets the course's landing page, not anything Ada tried to plant.
    g = student_session(hub, GRACE)
    r = g.get(f"{hub.url}user/{GRACE}/voila/render/00_index.ipynb", timeout=180)
    assert r.ok and "planted" not in r.text
    assert not os.path.exists("/tmp/qlearn-hub-planted")


V1 = "v1.kernel.websocket.jupyter.org"


def _message_parts(msg_type: str, content: dict) -> list[bytes]:
    header = {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "username": "", "session": uuid.uuid4().hex,
              "version": "5.3", "date": ""}
    return [json.dumps(part).encode() for part in (header, {}, {}, content)]


async def _read_types(ws, seconds: float, until: str | None = None) -> tuple[list[str], bool]:
    """Message types received within ``seconds`` (or until ``until`` arrives); and whether the
    server closed the connection."""
    from jupyter_server.services.kernels.connection.base import deserialize_msg_from_ws_v1

    seen, deadline = [], time.monotonic() + seconds
    while until not in seen:
        try:
            raw = await asyncio.wait_for(ws.read_message(), max(0.01, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            return seen, False
        if raw is None:
            return seen, True
        if isinstance(raw, bytes):
            seen.append(json.loads(deserialize_msg_from_ws_v1(raw)[1][0])["msg_type"])
        else:
            seen.append(json.loads(raw)["header"]["msg_type"])
    return seen, False


async def _kernel_attacks(url: str, cookie: str, origin: str, code: str) -> dict:
    """What a student's own kernel websocket does with widget traffic, code and a forged frame."""
    import struct

    from jupyter_server.services.kernels.connection.base import serialize_msg_to_ws_v1
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    def connect(subprotocols):
        return websocket_connect(HTTPRequest(url, headers={"Cookie": cookie, "Origin": origin}),
                                 subprotocols=subprotocols)

    execute = {"code": code, "silent": False, "store_history": False, "user_expressions": {},
               "allow_stdin": False, "stop_on_error": True}
    out = {}
    ws = await connect([V1])  # what a lesson page speaks
    await ws.write_message(serialize_msg_to_ws_v1(_message_parts("kernel_info_request", {}), "shell"), binary=True)
    out["v1 kernel_info"] = await _read_types(ws, 30, until="kernel_info_reply")
    await ws.write_message(serialize_msg_to_ws_v1(_message_parts("execute_request", execute), "shell"), binary=True)
    out["v1 execute"] = await _read_types(ws, 5, until="execute_reply")
    ws.close()
    ws = await connect(None)  # the legacy JSON protocol
    header, parent, metadata, content = (json.loads(p) for p in _message_parts("execute_request", execute))
    legacy = {"header": header, "parent_header": parent, "metadata": metadata, "content": content,
              "channel": "shell", "buffers": []}
    try:
        await ws.write_message(json.dumps(legacy))
        out["legacy execute"] = await _read_types(ws, 5, until="execute_reply")
    except Exception as e:  # the server may close the connection at once
        out["legacy execute"] = ([], type(e).__name__)
    ws.close()
    ws = await connect([V1])  # issue 16: a part count of 2**63 - 1 made the server allocate without end
    await ws.write_message(struct.pack("<Q", 2**63 - 1), binary=True)
    out["forged part count"] = await _read_types(ws, 10)
    ws.close()
    return out


def test_a_student_cannot_run_code_in_their_kernel(hub):
    s = student_session(hub, ADA)
    kernels = s.get(f"{hub.url}user/{ADA}/api/kernels", headers=xsrf_headers(s, ADA), timeout=30).json()
    assert kernels, "the landing page's kernel"
    marker = Path(tempfile.gettempdir()) / f"qlearn-hub-ran-{uuid.uuid4().hex}"  # a place she could write
    url = f"ws://{LOOPBACK}:{hub.url.rsplit(':', 1)[1].strip('/')}/user/{ADA}/api/kernels/{kernels[0]['id']}/channels"
    cookie = "; ".join(f"{c.name}={c.value}" for c in s.cookies if c.path in ("/", f"/user/{ADA}/"))
    code = f"open({str(marker)!r}, 'w').write('x')"
    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # Playwright's loop runs in this thread
        out = pool.submit(asyncio.run, _kernel_attacks(url, cookie, hub.url.rstrip("/"), code)).result()
    assert "kernel_info_reply" in out["v1 kernel_info"][0], out  # the channel works for what pages send
    for attempt in ("v1 execute", "legacy execute"):
        seen = out[attempt][0]
        assert "execute_reply" not in seen and "execute_input" not in seen, (attempt, out)
    assert out["forged part count"][1] is True, out  # that connection closed at once
    t0 = time.monotonic()
    assert s.get(f"{hub.url}user/{ADA}/api/status", timeout=30).status_code == 200  # her server still answers
    print(f"her server answered {time.monotonic() - t0:.2f} s after the forged frame")
    time.sleep(2)  # had the code run, the file would be there by now
    assert not marker.exists()


def test_a_student_cannot_open_another_students_server(hub):
    s = student_session(hub, ADA)
    student_session(hub, GRACE)  # her server is running
    for path in ("voila/render/00_index.ipynb", "api/contents", "api/kernels"):
        r = s.get(f"{hub.url}user/{GRACE}/{path}", timeout=60)  # redirects followed (the hub's OAuth)
        assert r.status_code == 403, (path, r.status_code, r.url)


@pytest.mark.skipif(not AS_ROOT, reason="one Unix account per student needs the hub to run as root; "
                                        "as another user the hub uses the shared-account spawner on loopback")
def test_each_student_runs_as_their_own_account_that_cannot_touch_the_lessons_or_others(hub):
    import pwd

    student_session(hub, ADA)
    student_session(hub, GRACE)
    ada, grace = pwd.getpwnam(ADA), pwd.getpwnam(GRACE)
    owners = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            uid = os.stat(f"/proc/{pid}").st_uid
        except OSError:
            continue
        if "jupyterhub-singleuser" in cmdline and str(CONFIG.parent) in cmdline:
            owners.setdefault(uid, 0)
            owners[uid] += 1
    assert ada.pw_uid in owners and grace.pw_uid in owners and 0 not in owners, owners
    assert stat.S_IMODE(os.stat(ada.pw_dir).st_mode) == 0o700
    startup = Path(ada.pw_dir) / ".qlearn-ipython" / "profile_default" / "startup" / "00-qlearn-plotly.py"
    assert startup.stat().st_uid == ada.pw_uid  # her kernels' IPython directory is hers (IPython needs it writable)
    # Whatever Ada might run, it runs as her account: try the writes as that account.
    targets = [hub.lessons / "00_index.ipynb", hub.lessons / "planted.ipynb",
               Path(grace.pw_dir) / "planted", hub.state / "hub" / "planted", Path(grace.pw_dir) / ".qlearn-ipython"
               / "profile_default" / "startup" / "00-qlearn-plotly.py"]
    for target in targets:
        r = subprocess.run(["sh", "-c", 'echo "print(1)" >> "$1"', "sh", str(target)], user=ada.pw_uid,
                           group=ada.pw_gid, extra_groups=[], capture_output=True, text=True)
        assert r.returncode != 0 and "ermission denied" in r.stderr, (target, r.returncode, r.stderr)
    r = subprocess.run(["cat", str(hub.state / "students.tsv")], user=ada.pw_uid, group=ada.pw_gid,
                       extra_groups=[], capture_output=True, text=True)
    assert r.returncode != 0 and "ermission denied" in r.stderr

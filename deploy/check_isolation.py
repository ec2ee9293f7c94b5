"""Try the class server's isolation the way a student would: run it on the hub's machine.

    .venv/bin/python deploy/check_isolation.py https://127.0.0.1:8000 ada ADA_PASSWORD grace GRACE_PASSWORD

Student A (ada) tries to log in under B's name and an unlisted one with A's password, opens a
terminal and JupyterLab, PUTs a new 00_index.ipynb (whose code would write a marker file in /tmp)
through the contents API, sends code to A's kernel websocket, and uses A's cookies on B's server;
then B opens the landing page. Prints what happened at each step (docs/hosting.md has the figures
for the old and the current config). On a hub that does not isolate students this really plants
that notebook: use a copy of the lessons. Needs requests and tornado (installed with JupyterHub).
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid

import requests
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect


def login(base: str, name: str, password: str):
    s = requests.Session()
    s.verify = False  # a self-signed certificate on the teacher's own machine
    r = s.get(base + "/hub/login", timeout=60)
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', r.text).group(1)
    r = s.post(base + "/hub/login?next=", data={"username": name, "password": password, "_xsrf": xsrf}, timeout=180)
    return s, r


def session(base: str, name: str, password: str):
    s, r = login(base, name, password)
    deadline = time.monotonic() + 150
    while "/voila/render/" not in r.url and time.monotonic() < deadline:
        time.sleep(1)
        r = s.get(f"{base}/user/{name}/", timeout=180)
    return s


async def execute(ws_url: str, cookie: str, origin: str, code: str) -> tuple[list[str], list[str]]:
    """Over the v1 protocol lesson pages speak: kernel_info_request (what a page may send), then
    execute_request. Returns the message types received after each."""
    from jupyter_server.services.kernels.connection.base import deserialize_msg_from_ws_v1, serialize_msg_to_ws_v1

    ws = await websocket_connect(HTTPRequest(ws_url, headers={"Cookie": cookie, "Origin": origin},
                                             validate_cert=False), subprotocols=["v1.kernel.websocket.jupyter.org"])

    def frame(msg_type, content):
        header = {"msg_id": uuid.uuid4().hex, "msg_type": msg_type, "username": "", "session": uuid.uuid4().hex,
                  "version": "5.3", "date": ""}
        return serialize_msg_to_ws_v1([json.dumps(x).encode() for x in (header, {}, {}, content)], "shell")

    async def read(until):
        seen = []
        try:
            while until not in seen:
                raw = await asyncio.wait_for(ws.read_message(), 10)
                if raw is None:
                    seen.append("(connection closed)")
                    break
                seen.append(json.loads(deserialize_msg_from_ws_v1(raw)[1][0])["msg_type"])
        except asyncio.TimeoutError:
            pass
        return seen

    await ws.write_message(frame("kernel_info_request", {}), binary=True)
    info = await read("kernel_info_reply")
    await ws.write_message(frame("execute_request", {"code": code, "silent": False, "store_history": False,
                                                     "user_expressions": {}, "allow_stdin": False,
                                                     "stop_on_error": True}), binary=True)
    executed = await read("execute_reply")
    ws.close()
    return info, executed


def main(argv: list[str]) -> int:
    if len(argv) != 5:
        print(__doc__)
        return 2
    base, a, a_password, b, b_password = argv
    base = base.rstrip("/")
    import urllib3

    urllib3.disable_warnings()
    for name, label in ((b, f"B ({b})"), ("qlt-nobody-listed", "an unlisted name")):
        s, r = login(base, name, a_password)
        print(f"log in as {label} with A's password: {r.status_code} {r.url.replace(base, '')}")
    sa = session(base, a, a_password)
    api = f"{base}/user/{a}/api/"
    headers = {"X-XSRFToken": sa.cookies.get("_xsrf", path=f"/user/{a}/") or ""}
    print("POST /api/terminals:", sa.post(api + "terminals", headers=headers, timeout=60).status_code)
    print("GET /lab:", sa.get(f"{base}/user/{a}/lab", timeout=60).status_code)
    marker = os.path.join(tempfile.gettempdir(), f"qlearn-planted-{uuid.uuid4().hex[:8]}")
    planted = {"type": "notebook", "content": {
        "cells": [{"cell_type": "code", "execution_count": None, "id": "planted", "metadata": {}, "outputs": [],
                   "source": f"import os; open({marker!r}, 'w').write(str(os.getuid()))"}],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5}}
    r = sa.put(api + "contents/00_index.ipynb", json=planted, headers=headers, timeout=60)
    print("PUT /api/contents/00_index.ipynb (planted code):", r.status_code)
    sb = session(base, b, b_password)
    r = sb.get(f"{base}/user/{b}/voila/render/00_index.ipynb", timeout=180)
    time.sleep(2)
    ran = open(marker).read() if os.path.exists(marker) else None
    print(f"B opens the landing page: {r.status_code}; planted code ran: {ran is not None}"
          + (f" (uid {ran})" if ran else ""))
    kernels = sa.get(api + "kernels", headers=headers, timeout=60).json()
    cookie = "; ".join(f"{c.name}={c.value}" for c in sa.cookies if c.path in ("/", f"/user/{a}/"))
    ws_base = base.replace("http", "ws", 1)
    if kernels:
        info, seen = asyncio.run(execute(f"{ws_base}/user/{a}/api/kernels/{kernels[0]['id']}/channels", cookie,
                                         base, f"open({marker + '-exec'!r}, 'w').write('x')"))
        time.sleep(2)
        print(f"kernel_info_request on A's kernel: kernel_info_reply {'kernel_info_reply' in info}; then "
              f"execute_request: execute_reply {'execute_reply' in seen}, code ran {os.path.exists(marker + '-exec')}"
              f"{', connection closed' if '(connection closed)' in seen else ''}")
    r = sa.get(f"{base}/user/{b}/api/contents", timeout=60)
    print(f"A's cookies on B's /api/contents: {r.status_code} {r.url.replace(base, '')}")
    ps = subprocess.run(["ps", "-eo", "user:20,args"], capture_output=True, text=True).stdout.splitlines()
    owners = sorted({line.split()[0] for line in ps if "jupyterhub-singleuser" in line})
    print("accounts running student servers:", owners)
    for path in (marker, marker + "-exec"):
        if os.path.exists(path):
            os.remove(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

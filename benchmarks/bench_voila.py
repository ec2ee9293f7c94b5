"""Serving figures: plain `voila` (default configuration) against `qlearn serve`, side by side.

For each server, in headless Chromium on loopback:
  * time to first render of each lesson: navigation start to the first figure drawn (or, on a
    page without figures, to the page revealed), one browser profile going through the lessons,
    each opened once the server is quiet (the previous lesson's pool refilled, as it is when a
    learner has spent minutes on a lesson); the page's own pool refill runs while it loads;
  * the same first figure as a static page (its data and layout taken from the served page, plotly.js
    served from loopback by a static file server), in a second profile, each static load right after
    a served one (`--repeats` loads per lesson, medians), twice: with plotly.min.js (the full
    plotly.js, as plotly's `write_html` makes a page) and with the plotly module `qlearn serve` sends
    (trimmed to the course's trace types: qlearn.server.plotly_bundle); the ratio served / static is
    the figure that matters on a shared machine;
  * key press on a slider to redrawn figure, in the page (keydown event to plotly_afterplot),
    median and p95 over 20 presses, for every explorer with a slider, once the server is quiet
    again after the page was opened (the pool's replacement kernel has executed the lesson: it
    runs 1-5 s after a page takes its kernel, for several seconds, on the same cores);
  * bytes the browser receives for a first lesson and then a second lesson (HTTP bodies as sent,
    i.e. compressed when compressed, plus websocket frames);
  * resident memory of each kernel (RSS) after the lessons were opened;
  * simultaneous first loads: N learners open the same lesson at once (N = 5, 10, 30 by default),
    in the browser (N pages in the one Chromium, on the same 2 cores as the server) and server side
    (N page requests, no browser);
  * the same simultaneous loads against `qlearn serve --preheat LESSON --pool-size 30`, how a
    teacher sets up a class opening one lesson together;
  * 1st, 2nd and 3rd tab on the same lesson (navigation to first figure, per tab), one after another
    and 3 at once, with `qlearn serve` as it is and with `--pool-burst 1` (one ready kernel per
    lesson, as before), with `--tabs` (about 10 more minutes); `--tabs-only` runs just that.

    .venv/bin/python benchmarks/bench_voila.py [--notebooks DIR] [--concurrency 5 10 30]
        [--servers voila qlearn] [--keys 20] [--class-pool 30] [--tabs-only]

The numbers depend on the machine and on what else runs on it: run it on an idle machine. The
browser runs on the same cores as the server, so the concurrency figures are pessimistic.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "browser"))

from qbrowser import (  # noqa: E402
    CHROMIUM_ARGS,
    LOOPBACK,
    Server,
    explorer_weight,
    find_chromium,
    free_port,
)


def start(kind: str, notebooks: Path, log_dir: Path, *extra: str) -> tuple[Server, float]:
    """Start a server; returns it and the seconds until it was ready, pre-heated pools filled."""
    port = free_port()
    if kind == "voila":
        cmd = [str(Path(sys.executable).with_name("voila")), str(notebooks), "--no-browser", f"--port={port}",
               f"--Voila.ip={LOOPBACK}"]
    elif kind in ("qlearn", "qlearn-inline", "qlearn-class"):
        cmd = [sys.executable, "-m", "qlearn.cli", "serve", "--no-browser", "--port", str(port),
               "--notebooks", str(notebooks), *extra]
        if kind == "qlearn-inline":
            cmd.append("--plotly-inline")
    else:
        raise ValueError(kind)
    t0 = time.perf_counter()
    log = log_dir / f"{kind}.log"
    server = Server(cmd, f"http://{LOOPBACK}:{port}/", log)
    server.wait_ready("voila/tree" if kind == "voila" else "")
    if kind == "voila":
        time.sleep(3)
        return server, time.perf_counter() - t0
    # qlearn serve: wait until every pre-heated kernel is ready ("Kernel pool of X is filled with N")
    import re

    pools = preheated(extra, notebooks)
    while time.perf_counter() - t0 < 600:
        text = log.read_text(errors="replace")
        wanted = {m.group(1): int(m.group(2)) for m in re.finditer(r"Kernel pool of (\S+) is filled with (\d+)", text)}
        if all(wanted.get(nb, 0) >= size for nb, size in pools.items()):
            break
        time.sleep(0.5)
    return server, time.perf_counter() - t0


def preheated(extra: tuple, notebooks: Path) -> dict[str, int]:
    """The pools `qlearn serve` with these flags fills: {notebook: kernels}."""
    from qlearn import cli

    o = cli.options_from_args(cli.build_parser().parse_args(["serve", *extra]), notebooks)
    return {nb: o.pool_size for nb in o.preheat} if o.pool_size else {}


class Bytes:
    """Bytes received by one page: HTTP (encoded, as on the wire) + websocket frames."""

    def __init__(self, context, page):
        self.http = 0
        self.ws = 0
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.on("Network.loadingFinished", lambda e: self._http(e))
        cdp.on("Network.webSocketFrameReceived", lambda e: self._ws(e))
        self.cdp = cdp

    def _http(self, e):
        self.http += int(e.get("encodedDataLength", 0))

    def _ws(self, e):
        self.ws += len(e.get("response", {}).get("payloadData", ""))

    @property
    def total(self):
        return self.http + self.ws


GIVE_UP_MS = 60_000


def first_render(context, url: str, timeout_ms: int = 180_000):
    """Open a lesson; returns (seconds to the first figure drawn, seconds to every widget and figure
    drawn, page, byte meter). On a page without figures the first time is None."""
    page = context.new_page()
    page.set_default_timeout(timeout_ms)
    page.errors = []
    page.breakdown = None
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    meter = Bytes(context, page)
    t0 = time.perf_counter()
    resp = page.goto(url, wait_until="commit")
    n_widgets = resp.text().count("application/vnd.jupyter.widget-view+json")  # the whole page arrived
    page.wait_for_function(
        "n => document.querySelectorAll('.jp-OutputArea-output > .jupyter-widgets').length >= n || "
        "Array.from(document.querySelectorAll('.js-plotly-plot')).some(p => p.data && p.data.length > 0)",
        arg=n_widgets, polling="raf")
    t_first = t_all = None
    count_js = ("() => { const ps = Array.from(document.querySelectorAll('.js-plotly-plot'));"
                " return [ps.length, ps.filter(p => p.data && p.data.length > 0).length,"
                " document.querySelectorAll('.qlearn-explorer').length]; }")
    try:
        n_figures, _, n_explorers = page.evaluate(count_js)
        if n_explorers > 0 or n_figures > 0:
            page.wait_for_function(
                "() => Array.from(document.querySelectorAll('.js-plotly-plot'))"
                ".some(p => p.data && p.data.length > 0)", polling="raf", timeout=GIVE_UP_MS)
            t_first = time.perf_counter() - t0
            page.breakdown = page.evaluate(BREAKDOWN_JS, SERVED_MARKS)
        # every figure drawn: as many drawn figures as figures, unchanged for a second
        last, t_change = None, time.perf_counter()
        while time.perf_counter() - t0 < GIVE_UP_MS / 1000:
            now = page.evaluate(count_js)
            if now != last:
                last, t_change = now, time.perf_counter()
            elif now[0] == now[1] and time.perf_counter() - t_change > 1.0:
                t_all = t_change - t0
                break
            time.sleep(0.05)
        if t_all is None:
            page.errors.append(f"{last[0] - last[1]} of {last[0]} figure(s) not drawn within {GIVE_UP_MS // 1000} s")
    except Exception as exc:  # a figure that never draws (e.g. anywidget's 2 s module deadline missed)
        page.errors.append(f"gave up: {type(exc).__name__}")
    return t_first, t_all, page, meter


BREAKDOWN_JS = """(names) => {
    const n = performance.getEntriesByType('navigation')[0];
    const at = (k) => { const e = performance.getEntriesByName(k); return e.length ? e[0].startTime / 1000 : null; };
    return [n ? n.responseStart / 1000 : null].concat(names.map(at));
}"""
SERVED_MARKS = ["qlearn-plotly-module", "qlearn-preview-drawn", "figure-frame"]
STATIC_MARKS = ["plotly-ready", "drawn", "figure-frame"]
#: Run in every page (served and static alike) before its own scripts: marks "figure-frame" in the
#: first animation frame in which a figure has been drawn (plotly laid it out and made its SVG), i.e.
#: the frame that puts it on screen. The probe from outside (wait_for_function) needs the page's main
#: thread too, and on a served page Voila's front end starts right after the first figure: the probe
#: can then lag the screen by up to a second, the in-page frame does not.
FIGURE_FRAME_JS = """(() => {
  const drawn = () => Array.from(document.querySelectorAll('.js-plotly-plot'))
    .some(p => p.data && p.data.length > 0 && p._fullLayout && p.querySelector('.main-svg'));
  const tick = () => { if (drawn()) { performance.mark('figure-frame'); } else { requestAnimationFrame(tick); } };
  requestAnimationFrame(tick);
})();"""


def frame_median(runs) -> float | None:
    """Median "figure-frame" mark (s) of ``runs``, ``(seconds, marks)`` pairs; None if none has it."""
    fr = [m[3] for _, m in runs if m and m[3] is not None]
    return statistics.median(fr) if fr else None


FIGURE_JSON_JS = """() => {
    const p = Array.from(document.querySelectorAll('.js-plotly-plot')).find(p => p.data && p.data.length > 0);
    if (!p) return null;
    const plain = (k, v) => (ArrayBuffer.isView(v) ? Array.from(v) : v);
    const layout = Object.assign({}, p.layout);
    return JSON.stringify({data: p.data, layout: layout, width: p.clientWidth, height: p.clientHeight}, plain);
}"""

STATIC_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><link rel="icon" href="data:,"><script src="plotly.min.js"></script>
<script>performance.mark("plotly-ready");</script></head>
<body style="margin: 0 auto; max-width: 1200px; font-family: sans-serif">
<h1>{title}</h1><div id="figure" style="width: 100%; height: {height}px"></div>
<script>
const f = {figure};
Plotly.newPlot("figure", f.data, f.layout, {{responsive: true}}).then(() => performance.mark("drawn"));
</script></body></html>
"""


#: The same static page with the plotly.js that ``qlearn serve`` sends (its widget module, which sets
#: ``window.Plotly``: the trimmed one, qlearn.server.plotly_bundle), imported as the served page does.
STATIC_MODULE_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><link rel="icon" href="data:,"><link rel="modulepreload" href="plotly-served.js"></head>
<body style="margin: 0 auto; max-width: 1200px; font-family: sans-serif">
<h1>{title}</h1><div id="figure" style="width: 100%; height: {height}px"></div>
<script>
const f = {figure};
import("./plotly-served.js").then(() => {{
  performance.mark("plotly-ready");
  return Plotly.newPlot("figure", f.data, f.layout, {{responsive: true}});
}}).then(() => performance.mark("drawn"));
</script></body></html>
"""
#: The static pages, by the suffix of their file name: plotly.min.js (the full plotly.js, as plotly's
#: ``write_html`` makes a page) and the module qlearn serve sends.
STATIC_KINDS = {"static": "", "static-served-module": "-module"}


def static_pages(figures: dict[str, str], out: Path) -> None:
    """Write two static pages per lesson with that lesson's first figure (:data:`STATIC_KINDS`), and
    the two plotly.js files beside them."""
    import json
    import shutil

    import plotly

    from qlearn import serve

    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", out / "plotly.min.js")
    if not (out / "plotly-served.js").exists():
        (out / "plotly-served.js").write_bytes(serve.served_plotly_bundle())
    for name, fig_json in figures.items():
        height = max(200, int(json.loads(fig_json).get("height") or 450))
        for template, suffix in ((STATIC_PAGE, ""), (STATIC_MODULE_PAGE, "-module")):
            (out / (Path(name).stem + suffix + ".html")).write_text(
                template.format(title=Path(name).stem, figure=fig_json, height=height))


def serve_static(directory: Path):
    """A static file server on loopback in a thread; returns (base URL, server)."""
    import functools
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(directory))
    httpd = http.server.ThreadingHTTPServer((LOOPBACK, free_port()), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return f"http://{LOOPBACK}:{httpd.server_address[1]}/", httpd


def static_first_figure(context, url: str, timeout_ms: int = 60_000) -> tuple[float, list]:
    """Seconds from navigation to the static page's figure drawn (the same test as first_render),
    and the page's own marks (first byte, plotly.js evaluated, figure drawn; seconds)."""
    page = context.new_page()
    t0 = time.perf_counter()
    page.goto(url, wait_until="commit", timeout=timeout_ms)
    page.wait_for_function("() => Array.from(document.querySelectorAll('.js-plotly-plot'))"
                           ".some(p => p.data && p.data.length > 0)", polling="raf", timeout=timeout_ms)
    t = time.perf_counter() - t0
    marks = page.evaluate(BREAKDOWN_JS, STATIC_MARKS)
    page.close()
    return t, marks


def settle(page, meter, quiet_s: float = 2.0, limit_s: float = 60.0) -> None:
    """Wait until no more bytes arrive for quiet_s (all widgets rendered)."""
    last, t_last, t0 = -1, time.perf_counter(), time.perf_counter()
    while time.perf_counter() - t0 < limit_s:
        page.wait_for_timeout(250)
        if meter.total != last:
            last, t_last = meter.total, time.perf_counter()
        elif time.perf_counter() - t_last > quiet_s:
            return


KEY_INIT_JS = """ex => {
    const t = {key: [], after: []};
    ex.__qlearn_t = t;
    ex.addEventListener('keydown', () => t.key.push(performance.now()), true);
    for (const p of ex.querySelectorAll('.js-plotly-plot')) {
        p.on('plotly_afterplot', () => t.after.push(performance.now()));
    }
}"""


def slider_key(handle, key: str) -> str:
    """The arrow key that moves a slider's handle on from where it is: ``key`` (the last one),
    reversed at either end of the range."""
    now, top, bottom = (float(handle.get_attribute(a)) for a in ("aria-valuenow", "aria-valuemax", "aria-valuemin"))
    if now >= top:
        return "ArrowLeft"
    if now <= bottom:
        return "ArrowRight"
    return key


def key_latency(page, explorer, n: int = 20, window_ms: int = 600) -> list[float]:
    """Seconds from a key press on the explorer's first slider to its figure redrawn, measured in
    the page: the keydown event to the last ``plotly_afterplot`` of the explorer's figures within
    ``window_ms`` (a press at the end of the slider's range changes nothing and is not counted)."""
    explorer.scroll_into_view_if_needed()
    handle = explorer.locator(".widget-slider .noUi-handle").first
    explorer.evaluate(KEY_INIT_JS)
    out = []
    key = "ArrowRight"
    for _ in range(n):
        key = slider_key(handle, key)
        explorer.evaluate("ex => { ex.__qlearn_t.key.length = 0; ex.__qlearn_t.after.length = 0; }")
        handle.focus()
        page.keyboard.press(key)
        page.wait_for_timeout(window_ms)
        t = explorer.evaluate("ex => ex.__qlearn_t")
        if t["key"] and t["after"]:
            out.append((max(t["after"]) - t["key"][0]) / 1000)
    return out


def lesson_key_latencies(page, n: int = 20) -> dict[int, list[float]]:
    """key_latency for every explorer on the page that has a slider and a figure, by position."""
    explorers = page.locator(".qlearn-explorer:has(.widget-slider):has(.js-plotly-plot)")
    return {i: key_latency(page, explorers.nth(i), n) for i in range(explorers.count())}


def kernel_rss_mb(server: Server) -> list[float]:
    """Resident memory of each kernel the server started (its direct ipykernel children)."""
    import psutil

    from qlearn.server.kernels import kernel_processes

    try:
        kernels = kernel_processes(server.proc.pid)
    except psutil.NoSuchProcess:
        return []
    out = []
    for ch in kernels:
        try:
            out.append(ch.memory_info().rss / 2**20)
        except psutil.Error:
            pass
    return out


def concurrent_loads(browser, url: str, n: int, timeout_s: float = 180.0) -> list[float]:
    contexts = [browser.new_context() for _ in range(n)]
    pages = [c.new_page() for c in contexts]
    t0 = time.perf_counter()
    for p in pages:
        p.goto(url, wait_until="commit", timeout=timeout_s * 1000)
    done: dict[int, float] = {}
    js = ("() => { const c = document.getElementById('rendered_cells');"
          " const ok = c && c.style.display !== 'none';"
          " const figs = document.documentElement.innerHTML.includes('FigureModel');"
          " return ok && (!figs || Array.from(document.querySelectorAll('.js-plotly-plot'))"
          ".some(p => Array.isArray(p.data) && p.data.length > 0)); }")
    while len(done) < n and time.perf_counter() - t0 < timeout_s:
        for i, p in enumerate(pages):
            if i not in done:
                try:
                    if p.evaluate(js):
                        done[i] = time.perf_counter() - t0
                except Exception:
                    pass
        time.sleep(0.2)
    for c in contexts:
        c.close()
    return [done.get(i, float("inf")) for i in range(n)]


async def _server_load(base: str, notebook: str, timeout_s: float) -> float:
    """One learner's first load as the server sees it, without a browser: seconds until the
    lesson's whole page arrived. Voila sends the end of the page only after the notebook ran on the
    learner's kernel (a pre-heated one, or one started for this request), so this is the server's
    share of a first load; the widget state fetched afterwards over the websocket is small and
    already computed."""
    from tornado.httpclient import AsyncHTTPClient

    t0 = time.perf_counter()
    resp = await AsyncHTTPClient().fetch(base + "voila/render/" + notebook, request_timeout=timeout_s)
    page = resp.body.decode()
    if "</html>" not in page or "jupyter-config-data" not in page:
        return float("inf")
    return time.perf_counter() - t0


def server_loads(base: str, notebook: str, n: int, timeout_s: float = 180.0) -> list[float]:
    """n simultaneous first loads of a lesson, protocol only (no browser on the 2 cores)."""
    import asyncio

    from tornado.httpclient import AsyncHTTPClient

    AsyncHTTPClient.configure(None, max_clients=max(10, n))

    async def one():
        try:
            return await _server_load(base, notebook, timeout_s)
        except Exception:
            return float("inf")

    async def run():
        return await asyncio.gather(*(one() for _ in range(n)))

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:  # its own event loop: Playwright's sync API owns this thread's
        return list(pool.submit(asyncio.run, run()).result())


FIRST_FIGURE_JS = ("() => Array.from(document.querySelectorAll('.js-plotly-plot'))"
                   ".some(p => p.data && p.data.length > 0)")


def settled(server: Server, seconds: float = 8.0, limit: float = 400.0, busy_pct: float = 15.0) -> float:
    """Wait until the server and its kernels have started no kernel and used less than ``busy_pct``
    of a core together for ``seconds`` (pre-heated kernels started and their lessons executed; a
    pool entry is handed out as soon as its kernel started, so an executing lesson would otherwise
    be timed as a slow page); returns the seconds waited."""
    import psutil

    t0 = time.perf_counter()
    last, t_calm = None, time.perf_counter()
    procs: dict[int, psutil.Process] = {}
    while time.perf_counter() - t0 < limit:
        try:
            root = psutil.Process(server.proc.pid)
            for p in [root, *root.children(recursive=True)]:
                if p.pid not in procs:
                    procs[p.pid] = p
                    p.cpu_percent(None)
        except psutil.Error:
            break
        time.sleep(1.0)
        busy = 0.0
        for pid, p in list(procs.items()):
            try:
                busy += p.cpu_percent(None)
            except psutil.Error:
                del procs[pid]
        n = server.log_path.read_text(errors="replace").count("Kernel started")
        if n != last or busy > busy_pct:
            last, t_calm = n, time.perf_counter()
        elif time.perf_counter() - t_calm > seconds:
            break
    return time.perf_counter() - t0


def tabs_one_after_another(context, url: str, n: int = 3, timeout_s: float = 120.0) -> list[float]:
    """n tabs of one browser on the same lesson, each opened as soon as the previous one drew its first
    figure (the tabs stay open): seconds from navigation to the first figure drawn, per tab."""
    out = []
    for _ in range(n):
        page = context.new_page()
        t0 = time.perf_counter()
        try:
            page.goto(url, wait_until="commit", timeout=timeout_s * 1000)
            page.wait_for_function(FIRST_FIGURE_JS, polling="raf", timeout=timeout_s * 1000)
            out.append(time.perf_counter() - t0)
        except Exception:
            out.append(float("inf"))
    return out


def tabs_at_once(context, url: str, n: int = 3, timeout_s: float = 120.0) -> list[float]:
    """n tabs of one browser opened on the same lesson at the same moment: seconds from navigation
    to each tab's first figure drawn."""
    pages = [context.new_page() for _ in range(n)]
    t0 = time.perf_counter()
    for p in pages:
        p.goto(url, wait_until="commit", timeout=timeout_s * 1000)
    done: dict[int, float] = {}
    while len(done) < n and time.perf_counter() - t0 < timeout_s:
        for i, p in enumerate(pages):
            if i not in done:
                try:
                    if p.evaluate(FIRST_FIGURE_JS):
                        done[i] = time.perf_counter() - t0
                except Exception:
                    pass
        time.sleep(0.05)
    return [done.get(i, float("inf")) for i in range(n)]


def server_pages_one_after_another(base: str, notebook: str, n: int = 3, timeout_s: float = 180.0) -> list[float]:
    """n page requests for a lesson, each sent when the previous page was complete, no browser:
    seconds until each whole page arrived (the server's share of a first load)."""
    return [server_loads(base, notebook, 1, timeout_s)[0] for _ in range(n)]


def same_lesson_tabs(browser, notebooks: Path, log_dir: Path, extra: tuple, landing: str, nxt: str, after: str,
                     other: str, plain: tuple[str, str]) -> dict:
    """1st, 2nd and 3rd tab on one lesson, for `qlearn serve` with the flags ``extra``: the learner
    arrives on ``landing``, then opens ``nxt`` (the lesson after it) in 3 tabs one after another, then
    ``after`` (the lesson after that) in 3 tabs at once, then ``other`` (a lesson nobody opened yet,
    not next to one) in 3 tabs one after another. Between steps the server is left to settle (no
    kernel started and the server's processes idle for 8 s): a learner reads before moving on.
    Then, without a browser (the server's share alone), 3 page requests one after another for
    ``plain[0]`` and 3 at once for ``plain[1]``, two lessons nobody opened yet. With ``browser``
    None, the server's share only, for all of these lessons."""
    r = {}
    log_dir = log_dir / (f"tabs-{os.getpid()}" + "".join(extra).replace("-", "_"))
    log_dir.mkdir(parents=True, exist_ok=True)
    server, r["start_s"] = start("qlearn", notebooks, log_dir, *extra)
    try:
        r["settle_s"] = [settled(server)]
        base = server.url + "voila/render/"
        if browser is None:  # the server's share only: whole pages, no browser on the cores
            server_loads(server.url, landing, 1)
            r["settle_s"].append(settled(server))
            r[f"server side, one after another: {nxt}"] = server_pages_one_after_another(server.url, nxt)
            r["settle_s"].append(settled(server))
            r[f"server side, at once: {after}"] = server_loads(server.url, after, 3)
            r["settle_s"].append(settled(server))
            r[f"server side, one after another: {plain[0]}"] = server_pages_one_after_another(server.url, plain[0])
            r["settle_s"].append(settled(server))
            r[f"server side, at once: {plain[1]}"] = server_loads(server.url, plain[1], 3)
            r["kernels"] = len(kernel_rss_mb(server))
            r["rss_mb"] = kernel_rss_mb(server)
            return r
        ctx = browser.new_context(viewport={"width": 1280, "height": 900})
        page = ctx.new_page()  # the learner arrives (plotly.js in the browser's cache from here on)
        page.goto(base + landing, wait_until="load", timeout=120_000)
        r["settle_s"].append(settled(server))
        r[f"one after another: {nxt}"] = tabs_one_after_another(ctx, base + nxt)
        r["settle_s"].append(settled(server))
        r[f"at once: {after}"] = tabs_at_once(ctx, base + after)
        r["settle_s"].append(settled(server))
        r[f"one after another: {other}"] = tabs_one_after_another(ctx, base + other)
        ctx.close()
        r["settle_s"].append(settled(server))
        r[f"server side, one after another: {plain[0]}"] = server_pages_one_after_another(server.url, plain[0])
        r["settle_s"].append(settled(server))
        r[f"server side, at once: {plain[1]}"] = server_loads(server.url, plain[1], 3)
        time.sleep(2)
        r["kernels"] = len(kernel_rss_mb(server))
        r["rss_mb"] = kernel_rss_mb(server)
    finally:
        server.stop()
    return r


def fmt_mb(b: float) -> str:
    return f"{b / 2**20:.2f} MB"


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notebooks", default=str(REPO / "notebooks"))
    ap.add_argument("--servers", nargs="+", default=["voila", "qlearn"],
                    choices=["voila", "qlearn", "qlearn-inline"])
    ap.add_argument("--concurrency", nargs="*", type=int, default=[5, 10, 30])
    ap.add_argument("--lessons", nargs="*", default=None, help="notebook names (default: all)")
    ap.add_argument("--static", action=argparse.BooleanOptionalAction, default=True,
                    help="also time each lesson's first figure as a static page (served by qlearn's figure)")
    ap.add_argument("--keys", type=int, default=20, help="key presses per explorer (0: skip)")
    ap.add_argument("--repeats", type=int, default=3,
                    help="first-figure loads per lesson, each followed by its static page (medians)")
    ap.add_argument("--tabs", action=argparse.BooleanOptionalAction, default=False,
                    help="also time the 1st, 2nd and 3rd tab on the same lesson (one after another and at "
                         "once) with `qlearn serve` as it is and with --pool-burst 1 (one ready kernel per "
                         "lesson); two more server starts, about 10 minutes")
    ap.add_argument("--tabs-only", action="store_true", help="only the same-lesson tabs measurement")
    ap.add_argument("--tabs-server-only", action="store_true",
                    help="only the same-lesson tabs measurement, server side (whole pages, no browser)")
    ap.add_argument("--class-pool", type=int, default=30,
                    help="also measure `qlearn serve --preheat HEAVIEST --pool-size N`, a class opening "
                         "one lesson together (0: skip)")
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    notebooks = Path(args.notebooks).resolve()
    names = args.lessons or sorted(p.name for p in notebooks.glob("*.ipynb"))
    if not names:
        print(f"no notebooks in {notebooks}")
        return 1
    heavy = max(names, key=lambda n: (explorer_weight(notebooks / n), n != "00_index.ipynb"))
    second = next((n for n in names if n not in (heavy, "00_index.ipynb")), names[0])
    first = "00_index.ipynb" if "00_index.ipynb" in names else names[0]
    chromium = find_chromium()
    if chromium is None:
        print("no Chromium: run scripts/ensure_chromium.sh")
        return 1
    log_dir = Path("/tmp") / "qlearn-bench-voila"
    log_dir.mkdir(exist_ok=True)
    results = {}
    figures: dict[str, str] = {}  # lesson -> its first figure as drawn by qlearn serve (JSON)
    tabs = {}
    if args.tabs_server_only:
        args.tabs_only = True
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        if args.tabs or args.tabs_only:
            figured = [n for n in names if n != first and explorer_weight(notebooks / n) > 0]
            if len(figured) >= 3:
                # a lesson after the landing page and the one after it (kept ready by --pool-burst once
                # the previous one is opened), the last lesson (nobody opened a lesson next to it), and
                # for the server-side runs two lessons in the middle, away from those
                nxt, after, other = figured[0], figured[1], figured[-1]
                middle = [n for n in figured[3:-2:2] if n not in (nxt, after, other)]
                plain = (middle[0], middle[-1]) if len(middle) >= 2 else (other, other)
                configs = (("qlearn serve (default)", ()), ("qlearn serve --pool-burst 1", ("--pool-burst", "1")))
                for label, extra in configs:
                    tabs[label] = same_lesson_tabs(None if args.tabs_server_only else browser, notebooks, log_dir,
                                                   extra, first, nxt, after, other, plain)
        if args.tabs_only:
            args.servers, args.class_pool, args.static = [], 0, False
        for kind in args.servers:
            r = results[kind] = {}
            server, r["start_s"] = start(kind, notebooks, log_dir)
            try:
                base = server.url + "voila/render/"
                # bytes: landing page, then the heaviest lesson, then a third page, in one profile
                ctx = browser.new_context(viewport={"width": 1280, "height": 900})
                _, _, page, meter = first_render(ctx, base + first)
                settle(page, meter)
                r["bytes_first"] = meter.total
                r["bytes_first_http"] = meter.http
                page.close()
                _, _, page, meter = first_render(ctx, base + heavy)
                settle(page, meter)
                r["errors"] = list(page.errors)
                r["bytes_second"] = meter.total
                r["bytes_second_http"] = meter.http
                page.close()
                _, _, page, meter = first_render(ctx, base + second)
                settle(page, meter)
                r["bytes_third"] = meter.total
                page.close()
                ctx.close()
                # time to first render, lesson by lesson, one learner going through the course
                # (browser cache warm after the first page); then every explorer's key latency
                ctx = browser.new_context(viewport={"width": 1280, "height": 900})
                ctx.add_init_script(FIGURE_FRAME_JS)
                r["render_s"], r["all_s"], r["key_ms"] = {}, {}, {}
                runs, static_runs = {}, {}
                paired = kind == "qlearn" and args.static
                if paired:  # the static page of each lesson, loaded right after the served one
                    static_dir = log_dir / "static"
                    static_dir.mkdir(parents=True, exist_ok=True)
                    static_base, httpd = serve_static(static_dir)
                    static_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
                    static_ctx.add_init_script(FIGURE_FRAME_JS)
                for name in names:
                    for rep in range(args.repeats if paired else 1):
                        # a learner spends minutes on a lesson: the server has finished refilling the
                        # previous page's pool (and executing it) before the next page is opened
                        settled(server)
                        t_first, t_all, page, meter = first_render(ctx, base + name)
                        if t_first is not None:
                            runs.setdefault(name, []).append((t_first, page.breakdown))
                            if paired and name not in figures:
                                fig_json = page.evaluate(FIGURE_JSON_JS)
                                if fig_json:
                                    figures[name] = fig_json
                                    static_pages({name: fig_json}, static_dir)
                        if rep == 0:
                            r["all_s"][name] = t_all if t_all is not None else float("inf")
                        r["errors"] += page.errors
                        if args.keys and rep == 0:
                            settle(page, meter, quiet_s=1.0)
                            # the learner reads before touching a slider: the kernel that replaces
                            # the one this page took (started 1-5 s after it, executing the lesson:
                            # seconds of CPU on the cores the browser also uses here) has finished
                            settled(server)
                            for i, lat in lesson_key_latencies(page, args.keys).items():
                                if lat:
                                    r["key_ms"][f"{name.split('_')[0]}#{i}"] = [x * 1000 for x in lat]
                        page.close()
                        if paired and name in figures:  # the same figure as a static page, same conditions
                            for kind_s, suffix in STATIC_KINDS.items():
                                settled(server)
                                static_runs.setdefault(kind_s, {}).setdefault(name, []).append(
                                    static_first_figure(static_ctx, static_base + Path(name).stem + suffix + ".html"))
                        elif paired:
                            break  # a page without figures: nothing to compare
                for name, rs in runs.items():  # the run with the median time (its marks with it)
                    t, marks = sorted(rs, key=lambda x: x[0])[(len(rs) - 1) // 2]
                    r["render_s"][name] = t
                    r.setdefault("marks", {})[name] = marks
                    r.setdefault("render_runs", {})[name] = [x[0] for x in rs]
                    if (fr := frame_median(rs)) is not None:
                        r.setdefault("frame_s", {})[name] = fr
                if paired:
                    static_ctx.close()
                    httpd.shutdown()
                    for kind_s, by_lesson in static_runs.items():
                        rk = results[kind_s] = {"render_s": {}, "marks": {}, "render_runs": {}}
                        for name, rs in by_lesson.items():
                            t, marks = sorted(rs, key=lambda x: x[0])[(len(rs) - 1) // 2]
                            rk["render_s"][name] = t
                            rk["marks"][name] = marks
                            rk["render_runs"][name] = [x[0] for x in rs]
                            if (fr := frame_median(rs)) is not None:
                                rk.setdefault("frame_s", {})[name] = fr
                ctx.close()
                time.sleep(2)
                r["rss_mb"] = kernel_rss_mb(server)
                r["concurrent"], r["server_loads"] = {}, {}
                for n in args.concurrency:
                    r["concurrent"][n] = concurrent_loads(browser, base + heavy, n)
                    time.sleep(5)
                    r["server_loads"][n] = server_loads(server.url, heavy, n)
                    time.sleep(5)
            finally:
                server.stop()
        if args.class_pool and "qlearn" in args.servers:
            r = results["qlearn-class"] = {"concurrent": {}, "server_loads": {}}
            server, r["start_s"] = start("qlearn-class", notebooks, log_dir, "--preheat", heavy,
                                         "--pool-size", str(args.class_pool))
            try:
                for n in [n for n in args.concurrency if n <= args.class_pool]:
                    r["server_loads"][n] = server_loads(server.url, heavy, n)
                    time.sleep(5)
                server.stop()
                server, r["start_s"] = start("qlearn-class", notebooks, log_dir, "--preheat", heavy,
                                             "--pool-size", str(args.class_pool))
                for n in [n for n in args.concurrency if n <= args.class_pool]:
                    r["concurrent"][n] = concurrent_loads(browser, server.url + "voila/render/" + heavy, n)
                    time.sleep(5)
                r["rss_mb"] = kernel_rss_mb(server)
            finally:
                server.stop()
        browser.close()

    print(f"notebooks: {notebooks}  (heaviest lesson: {heavy}; bytes: {first} -> {heavy} -> {second})")
    for label, r in tabs.items():
        print(f"\n== 1st, 2nd, 3rd tab on the same lesson: navigation -> first figure drawn (s), {label}")
        print(f"server ready, pools filled: {r['start_s']:.1f} s; waits for the server to settle (s): "
              + ", ".join(f"{t:.0f}" for t in r["settle_s"]))
        for key, ts in r.items():
            if key.startswith(("one after another", "at once", "server side")):
                print(f"  {key}: " + ", ".join(f"tab {i + 1} {t:.1f}" for i, t in enumerate(ts)))
        if r.get("rss_mb"):
            print(f"  kernels at the end: {r['kernels']}, {sum(r['rss_mb']) / 1024:.2f} GB RSS in all "
                  f"(median {statistics.median(r['rss_mb']):.0f} MB)")
    for kind_s in [k for k in STATIC_KINDS if k in results and results.get("qlearn", {}).get("render_s")]:
        served, static = results["qlearn"]["render_s"], results[kind_s]["render_s"]
        ratios = {n: served[n] / static[n] for n in static if n in served}
        which = ("plotly.min.js, the full plotly.js, as plotly's write_html makes a page" if kind_s == "static"
                 else "the plotly module qlearn serve sends, imported as the served page does")
        print(f"\n== first figure: qlearn serve / the same figure as a static page with {which} (same browser, "
              f"one run; per lesson the median of {args.repeats} loads, each served load followed by the static ones)")
        print("  per lesson (served s / static s = ratio): " + ", ".join(
            f"{n.split('_')[0]} {served[n]:.2f}/{static[n]:.2f}={ratios[n]:.2f}" for n in ratios))
        print(f"  median ratio {statistics.median(ratios.values()):.2f}, max {max(ratios.values()):.2f}; "
              f"lessons within 1.25x: {sum(v <= 1.25 for v in ratios.values())}/{len(ratios)}")
        sm, tm = results["qlearn"].get("marks", {}), results[kind_s].get("marks", {})

        def marks(m):
            return "/".join("-" if x is None else f"{x:.2f}" for x in (m or [None] * 4))
        print("  where the time goes, in the page (s from navigation: first byte / plotly.js evaluated / "
              "figure drawn / first frame with it), served vs static: " + ", ".join(
                  f"{n.split('_')[0]} {marks(sm.get(n))} vs {marks(tm.get(n))}" for n in ratios))
        sf, tf = results["qlearn"].get("frame_s", {}), results[kind_s].get("frame_s", {})
        frames = {n: (sf[n], tf[n]) for n in ratios if n in sf and n in tf}
        if frames:
            fr = {n: a / b for n, (a, b) in frames.items()}
            print("  in-page first frame with a figure drawn, s from navigation (served/static = ratio; "
                  f"median of the {args.repeats} loads): " + ", ".join(
                f"{n.split('_')[0]} {a:.2f}/{b:.2f}={fr[n]:.2f}" for n, (a, b) in frames.items()))
            print(f"  in-page ratio: median {statistics.median(fr.values()):.2f}, max {max(fr.values()):.2f}; "
                  f"lessons within 1.25x: {sum(v <= 1.25 for v in fr.values())}/{len(fr)}")
    for kind, r in results.items():
        if kind in STATIC_KINDS:
            continue
        print(f"\n== {kind}")
        print(f"server ready, pre-heated pools filled: {r['start_s']:.1f} s")
        rs, alls = r.get("render_s", {}), r.get("all_s", {})
        if rs:
            print("navigation -> first figure drawn (s): "
                  + ", ".join(f"{n.split('_')[0]} {t:.1f}" for n, t in rs.items()))
            print(f"  median {statistics.median(rs.values()):.1f} s, max {max(rs.values()):.1f} s")
        if alls:
            print("navigation -> every widget and figure drawn (s): "
                  + ", ".join(f"{n.split('_')[0]} {t:.1f}" for n, t in alls.items()))
            print(f"  median {statistics.median(alls.values()):.1f} s, max {max(alls.values()):.1f} s")
        if "errors" in r:
            print(f"page errors: {len(r['errors'])} {sorted(set(r['errors']))[:3]}")
        if r.get("key_ms"):
            every = [x for k in r["key_ms"].values() for x in k]
            p95s = {e: pct(k, 0.95) for e, k in r["key_ms"].items()}
            print(f"key press -> figure redrawn (in the page), {len(p95s)} explorers, {len(every)} presses: "
                  f"median {statistics.median(every):.0f} ms, p95 {pct(every, 0.95):.0f} ms; explorers with "
                  f"p95 under 100 ms: {sum(v < 100 for v in p95s.values())}/{len(p95s)}")
            print("  per explorer (lesson#index: median/p95 ms): " + ", ".join(
                f"{e} {statistics.median(k):.0f}/{p95s[e]:.0f}" for e, k in r["key_ms"].items()))
        if "bytes_first" in r:
            print(f"bytes: first page {fmt_mb(r['bytes_first'])} (HTTP {fmt_mb(r['bytes_first_http'])}), "
                  f"second {fmt_mb(r['bytes_second'])} (HTTP {fmt_mb(r['bytes_second_http'])}), "
                  f"third {fmt_mb(r['bytes_third'])}")
        if r.get("rss_mb"):
            print(f"kernel RSS: median {statistics.median(r['rss_mb']):.0f} MB, max {max(r['rss_mb']):.0f} MB "
                  f"over {len(r['rss_mb'])} kernels")
        for label, key in (("in the browser", "concurrent"), ("server side, page complete", "server_loads")):
            for n, ts in r.get(key, {}).items():
                ok = sum(t <= 15 for t in ts)
                finite = [t for t in ts if t != float("inf")]
                print(f"{n} simultaneous first loads ({label}): {ok}/{n} within 15 s; median "
                      f"{statistics.median(ts):.1f} s, max {max(finite) if finite else float('nan'):.1f} s, "
                      f"{n - len(finite)} not done in 180 s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

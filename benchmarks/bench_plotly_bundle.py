"""plotly's widget module, full (plotly's own) against trimmed (qlearn.server.plotly_bundle), in Chromium.

Each page imports one module (as a served lesson does: the previews' ``import()``) and draws one
course figure with that module's own widget view; printed per module: the median time from
navigation to the module evaluated and to the figure drawn, over ``--repeats`` loads alternated
A/B/A/B in one browser (a fresh page each, the module from the HTTP cache after the first), and the
ratio trimmed / full. The same loopback file server serves both.

Run: .venv/bin/python benchmarks/bench_plotly_bundle.py [--repeats 10]
"""
from __future__ import annotations

import argparse
import functools
import http.server
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "browser"))

PAGE = """<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">
<link rel="modulepreload" href="{module}"></head>
<body style="margin: 0 auto; max-width: 1200px; font-family: sans-serif"><h1>{title}</h1>
<div id="figure" style="width: 100%; height: {height}px"></div>
<script>
const spec = {figure};
import("./{module}").then((mod) => {{
  performance.mark("module");
  const state = {{_widget_data: spec.data, _widget_layout: spec.layout, _config: {{}},
                  _last_layout_edit_id: 0, _last_trace_edit_id: 0}};
  const model = {{get: (k) => state[k], set() {{}}, on() {{}}, off() {{}}, save_changes() {{}}, send() {{}}}};
  const w = typeof mod.default === "function" ? mod.default() : mod.default;
  w.initialize({{model}});
  const el = document.getElementById("figure");
  w.render({{el, model}});
  // the view draws into el itself (Plotly.newPlot(el, ...)); drawn once plotly has laid it out
  const poll = () => (el._fullLayout && el.querySelector(".main-svg")
                      ? performance.mark("drawn") : requestAnimationFrame(poll));
  requestAnimationFrame(poll);
}});
</script></body></html>
"""


def course_figure() -> dict:
    """A figure the course draws: lesson 18's GPTQ explorer (two heatmaps and line panels)."""
    from qlearn.viz.modern.llm import gptq_explorer

    fig = gptq_explorer().fig
    return json.loads(fig.to_json())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--timeout", type=float, default=60)
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright
    from qbrowser import CHROMIUM_ARGS, find_chromium

    from qlearn import serve
    from qlearn.server import plotly_bundle as pb

    if not pb.trimmed_matches():
        print("the trimmed module was not built from the installed plotly: nothing to compare")
        return 1
    work = Path(tempfile.mkdtemp(prefix="qlearn-bench-bundle-"))
    modules = {"full": pb.plotly_widget_bundle(), "trimmed": pb.TRIMMED}
    fig = course_figure()
    height = int(fig["layout"].get("height") or 450)
    for name, path in modules.items():
        (work / f"{name}.js").write_text(serve.quiet_plotly_bundle(path.read_text("utf-8")), "utf-8")
        (work / f"{name}.html").write_text(PAGE.format(module=f"{name}.js", title=name, height=height,
                                                        figure=json.dumps(fig)))

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def end_headers(self):
            self.send_header("Cache-Control", "public, max-age=3600")
            super().end_headers()

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(work)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}/"
    runs = {name: [] for name in modules}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        for _ in range(args.repeats):
            for name in modules:
                page = context.new_page()
                page.on("pageerror", lambda e: print("page error:", e))
                page.goto(base + f"{name}.html")
                page.wait_for_function("performance.getEntriesByName('drawn').length > 0", polling="raf",
                                       timeout=args.timeout * 1000)
                runs[name].append(page.evaluate(
                    "['module', 'drawn'].map(k => performance.getEntriesByName(k)[0].startTime / 1000)"))
                page.close()
                time.sleep(0.5)
        browser.close()
    httpd.shutdown()

    print(f"plotly widget module, {args.repeats} loads each, alternated; medians (s from navigation)")
    med = {}
    for name, path in modules.items():
        ev = statistics.median(r[0] for r in runs[name])
        dr = statistics.median(r[1] for r in runs[name])
        med[name] = (ev, dr)
        print(f"  {name:8s} {path.stat().st_size / 1e6:4.2f} MB   module evaluated {ev:5.2f} s   "
              f"figure drawn {dr:5.2f} s   (drawn, all: {', '.join(f'{r[1]:.2f}' for r in runs[name])})")
    print(f"  trimmed / full: module {med['trimmed'][0] / med['full'][0]:.2f}, figure drawn "
          f"{med['trimmed'][1] / med['full'][1]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

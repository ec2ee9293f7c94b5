"""Where a key press goes: the kernel and the wire, or plotly.js redrawing the figure.

For every explorer with a slider and a figure (the ones ``bench_voila.py --keys`` times), presses
its first slider's arrow key N times and splits each press, measured in the page:

* **kernel+wire**: ``keydown`` to the moment the page calls ``Plotly.update`` with the figure's
  new data (the slider's message to the kernel, the explorer's callback, the update back, and the
  frame the page draws for the slider's own move before it takes the message);
* **plotly**: from that call to the figure's last ``plotly_afterplot`` (plotly.js redrawing);
* with ``--compare``, every other press is drawn by plotly.js's full redraw
  (``window.qlearnFullRedraw``) and the rest by the data-only redraw the served plotly module
  uses (``tools/plotly_bundle/data_redraw.js``): both in one page, one run, side by side;
* with ``--messages``, each press's websocket messages: when the page handled each and when the
  kernel stamped it (its header ``date``), in ms after the key.

Starts its own ``qlearn serve`` and waits until the server and its kernels are quiet before each
lesson (opening a page makes the server execute the lesson again in a new pool kernel, seconds of
CPU on the cores the browser uses). Prints median / p95 per explorer.

    .venv/bin/python benchmarks/bench_key_split.py [--lessons 17_block_formats.ipynb ...] [--presses 20]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "browser"))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_voila import KEY_INIT_JS, settled, slider_key, start  # noqa: E402
from qbrowser import CHROMIUM_ARGS, find_chromium, open_lesson  # noqa: E402

#: Every websocket message the page receives, with the kernel's stamp when the header shows one.
WEBSOCKET_JS = r"""(() => {
  window.__qlearn_ws = [];
  const Native = window.WebSocket, text = new TextDecoder();
  window.WebSocket = function (...args) {
    const ws = new Native(...args);
    ws.addEventListener('message', (e) => {
      const d = e.data;
      const s = typeof d === 'string' ? d : (d instanceof ArrayBuffer ? text.decode(d.slice(0, 4000)) : '');
      const type = s.match(/"msg_type":\s*"(\w+)"/), state = s.match(/"execution_state":\s*"(\w+)"/);
      const date = s.match(/"date":\s*"([^"]+)"/);
      let stamp = null;
      if (date) {  // ISO with microseconds; Date.parse keeps milliseconds
        const us = date[1].match(/\.\d{3}(\d{3})/);
        stamp = Date.parse(date[1]) + (us ? +us[1] / 1000 : 0) - performance.timeOrigin;
      }
      window.__qlearn_ws.push({t: performance.now(), type: type ? type[1] : '?', state: state ? state[1] : '',
                               bytes: d.byteLength || d.length || 0, stamp});
    });
    return ws;
  };
  window.WebSocket.prototype = Native.prototype;
  Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
})()"""

#: Wraps the plotly.js functions a figure update can call, recording when each was entered.
PLOTLY_JS = """() => {
  if (window.__qlearn_calls) return;
  window.__qlearn_calls = [];
  for (const name of ['update', 'restyle', 'relayout', 'react', 'animate']) {
    const orig = window.Plotly[name];
    window.Plotly[name] = function (...a) {
      window.__qlearn_calls.push(performance.now());
      return orig.apply(this, a);
    };
  }
}"""

#: How the served plotly module drew updates (tools/plotly_bundle/data_redraw.js); zeros when the page
#: has plotly's own module (QLEARN_FULL_PLOTLY=1), which has no data-only redraw.
COUNTS_JS = "JSON.parse(JSON.stringify(window.qlearnDataRedraws || {data: 0, full: 0, why: {}}))"

RESET_JS = ("ex => { ex.__qlearn_t.key.length = 0; ex.__qlearn_t.after.length = 0; "
            "window.__qlearn_calls.length = 0; window.__qlearn_ws.length = 0; }")


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * (len(xs) - 1)))]


def split_presses(page, explorer, n: int, window_ms: int = 600, compare: bool = False) -> list[dict]:
    explorer.scroll_into_view_if_needed()
    handle = explorer.locator(".widget-slider .noUi-handle").first
    explorer.evaluate(KEY_INIT_JS)
    out, key = [], "ArrowRight"
    for press in range(n):
        key = slider_key(handle, key)
        full = compare and press % 2 == 1
        page.evaluate(f"window.qlearnFullRedraw = {'true' if full else 'false'}")
        explorer.evaluate(RESET_JS)
        handle.focus()
        page.keyboard.press(key)
        page.wait_for_timeout(window_ms)
        t = explorer.evaluate("ex => ex.__qlearn_t")
        calls = page.evaluate("window.__qlearn_calls")
        if not (t["key"] and t["after"] and calls):
            continue  # the end of the slider's range: nothing changed
        k0, k1, c0 = t["key"][0], max(t["after"]), min(calls)
        msgs = [(round(m["t"] - k0), None if m["stamp"] is None else round(m["stamp"] - k0), m["type"], m["state"],
                 m["bytes"]) for m in page.evaluate("window.__qlearn_ws")]
        out.append({"total": k1 - k0, "kernel_wire": c0 - k0, "plotly": k1 - c0, "messages": msgs, "full": full})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--notebooks", default=str(REPO / "notebooks"))
    ap.add_argument("--lessons", nargs="*", default=None, help="notebook names (default: all)")
    ap.add_argument("--presses", type=int, default=20)
    ap.add_argument("--messages", action="store_true", help="print each press's websocket messages")
    ap.add_argument("--compare", action="store_true",
                    help="alternate plotly.js's full redraw and the data-only redraw, press by press")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    notebooks = Path(args.notebooks)
    names = args.lessons or sorted(p.name for p in notebooks.glob("[0-9][0-9]_*.ipynb") if not p.name.startswith("00"))
    log_dir = Path(tempfile.mkdtemp(prefix="qlearn-bench-split-"))
    server, ready = start("qlearn", notebooks, log_dir)
    print(f"server ready in {ready:.1f} s; log {log_dir}", flush=True)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
            ctx = browser.new_context(viewport={"width": 1280, "height": 900})
            ctx.add_init_script(WEBSOCKET_JS)
            print("lesson#explorer: median / p95 ms (presses)")
            for name in names:
                settled(server)
                page, _ = open_lesson(ctx, server.url, name)
                settled(server)  # the pool kernel that replaces this page's has executed the lesson
                page.evaluate(PLOTLY_JS)
                explorers = page.locator(".qlearn-explorer:has(.widget-slider):has(.js-plotly-plot)")
                for i in range(explorers.count()):
                    before = page.evaluate(COUNTS_JS)
                    rows = split_presses(page, explorers.nth(i), args.presses, compare=args.compare)
                    if not rows:
                        continue
                    after = page.evaluate(COUNTS_JS)
                    why = {k: n - before["why"].get(k, 0) for k, n in after["why"].items()}
                    why = ", ".join(f"{k}: {n}" for k, n in why.items() if n)
                    drawn = (f"data-only redraws {after['data'] - before['data']}, "
                             f"full {after['full'] - before['full']}" + (f" ({why})" if why else ""))
                    modes = [("", rows)] if not args.compare else [
                        (" full redraw", [r for r in rows if r["full"]]),
                        (" data-only  ", [r for r in rows if not r["full"]])]
                    for mode, sel in modes:
                        parts = []
                        for k, label in (("total", "total"), ("kernel_wire", "kernel+wire"), ("plotly", "plotly")):
                            xs = [r[k] for r in sel]
                            parts.append(f"{label} {statistics.median(xs):4.0f} / {pct(xs, .95):4.0f}")
                        print(f"{name[:2]}#{i}{mode}: " + "   ".join(parts) + f"   ({len(sel)})", flush=True)
                    print(f"    {drawn}", flush=True)
                    if args.messages:
                        for r in rows:
                            shown = ", ".join(f"{t}/{'-' if s is None else s} {ty}{(' ' + st) if st else ''} {b}B"
                                              for t, s, ty, st, b in r["messages"])
                            print(f"    {r['total']:5.0f} ms; messages (handled/kernel stamp ms): {shown}")
                page.close()
            browser.close()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Kernel side of a key press, per explorer: control change -> callback -> messages serialized.

Every explorer the course can show (discovered as ``tests/test_explorers_sweep.py`` does) is
built with its defaults, then every control is stepped through its range the way a learner's
arrow keys do (one step at a time, to the end and back). Each step is timed from the assignment
``control.value = v`` until the widget messages it causes are serialized: the explorer callback
(``Explorer.refresh`` -> the lesson's update inside ``fig.batch_update()``), plotly's diff, the
ipywidgets state serialization and the JSON encoding a kernel would do before sending. The
messages are captured (not sent) and their size counted (JSON text + binary buffers).

Columns: ``points`` numbers held by the figure's traces (x/y/z/text...), ``steps`` control
changes timed, ``median``/``p95``/``max`` wall-clock ms per step, ``cpu med``/``cpu p95`` the
process CPU time per step (steadier than wall clock on a loaded machine), ``KB med``/``KB max`` bytes sent per step,
``worst control`` the control with the highest p95. A key press in the page costs this plus the
websocket round trip and plotly.js's redraw (``benchmarks/bench_voila.py --keys`` measures that).

``--redraw``: the browser half without a server. Each explorer's figure is drawn in headless
Chromium from a static page (plotly.js from the plotly package, the course's config, 1000 px
wide), and the ``Plotly.update`` calls its FigureWidget sent for every step above are replayed in
order, as the widget's front end does on each message: ``redraw med``/``redraw p95`` ms from the
call to the next animation frame after its promise resolved (plotly.js has drawn), ``rd cpu
med``/``rd cpu p95`` the renderer main thread's CPU time for it (Chrome's ThreadTime metric, the
steadier figure on a loaded machine); each step's figures are the smallest of 2 replays. Not included: the websocket,
the widget's own
trace/layout delta it sends back after each update.

Run: .venv/bin/python benchmarks/bench_explorer_callbacks.py [--only llm decode] [--controls]
     [--layout] [--sliders] [--redraw]  (``--controls``: a row per control; ``--layout``: which
     layout keys each control's updates send, to spot whole-annotation/shape reassignments;
     ``--sliders``: only the slider controls, what a key press moves)
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import comm
import numpy as np
import plotly.io as pio
from plotly.basewidget import BaseFigureWidget

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import median_ms, p95_ms, table  # noqa: E402
from test_explorers_sweep import _explorers, _sweep_values  # noqa: E402

_SENT: list[tuple[dict, list]] = []


def _capture(self, msg_type, data=None, metadata=None, buffers=None, **keys):
    # what jupyter_client's Session does with a message before it goes on the wire: JSON-encode it
    text = json.dumps(data, default=str)
    _SENT.append((data, [len(memoryview(b).cast("B")) for b in (buffers or [])], len(text)))


comm.DummyComm.publish_msg = _capture

_UPDATES: list | None = None  # Plotly.update calls, recorded with --redraw
_orig_send_update = BaseFigureWidget._send_update_msg


def _record_update(self, restyle_data, relayout_data, trace_indexes=None, source_view_id=None):
    if _UPDATES is not None:
        _UPDATES.append((self, restyle_data, relayout_data, self._normalize_trace_indexes(trace_indexes)))
    return _orig_send_update(self, restyle_data, relayout_data, trace_indexes, source_view_id)


BaseFigureWidget._send_update_msg = _record_update


def _points(ex) -> int:
    n = 0
    for fig in ex.figures():
        for tr in fig.data:
            for attr in ("x", "y", "z", "text", "customdata"):
                v = getattr(tr, attr, None) if attr in tr else None
                if v is not None and not isinstance(v, str):
                    n += int(np.asarray(v, dtype=object).size)
    return n


def _layout_keys(sent) -> set[str]:
    keys = set()
    for data, _b, _n in sent:
        upd = (data or {}).get("state", {}).get("_py2js_update") or {}
        keys |= {k.split(".")[0].split("[")[0] for k in (upd.get("layout_data") or {})}
        rel = (data or {}).get("state", {}).get("_py2js_relayout") or {}
        keys |= {k.split(".")[0].split("[")[0] for k in (rel.get("relayout_data") or {})}
    return keys


def _steps(values: list, start) -> list:
    """A learner's arrow-key path: from the current value to one end, to the other end, back."""
    if len(values) < 2:
        return []
    try:
        i = values.index(start)
    except ValueError:
        i = 0
    path = values[i + 1:] + values[::-1][1:] + values[1:i + 1]
    return path


def _js(obj) -> str:
    """JSON for plotly.js, plotly's Undefined (leave this trace alone) as the string the page maps back."""

    from plotly.basedatatypes import Undefined

    def fix(o):
        if o is Undefined:
            return "__undefined__"
        if isinstance(o, dict):
            return {k: fix(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [fix(v) for v in o]
        return o
    from plotly.io.json import to_json_plotly

    return to_json_plotly(fix(obj), engine="json")


def bench(builder, *, only_sliders: bool = False):
    global _UPDATES
    ex = builder()
    _points_n = _points(ex)
    per_control = {}
    figs = ex.figures()
    ex.sync_figure_state()
    ex._bench_initial = [pio.to_json({"data": f._widget_data, "layout": f._widget_layout,
                                      "config": dict(f._config or {})}, validate=False, engine="json")
                         for f in figs]
    ex._bench_updates = []  # (control, step, figure index, update json)
    for name, c in ex.controls.items():
        if only_sliders and "Slider" not in type(c).__name__:
            continue
        default = c.value
        times, cpu, sizes, layout = [], [], [], set()
        for v in _steps(_sweep_values(c), default):
            _SENT.clear()
            _UPDATES = []
            t, tc = time.perf_counter(), time.process_time()
            c.value = v
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - tc)
            for f, rs, rl, ti in _UPDATES:
                ex._bench_updates.append((name, len(times), figs.index(f) if f in figs else 0,
                                          _js([rs, rl, ti])))
            _UPDATES = None
            sizes.append(sum(n + sum(b) for _d, b, n in _SENT))
            layout |= _layout_keys(_SENT)
        c.value = default
        if times:
            per_control[name] = (times, sizes, layout, cpu)
    return ex, _points_n, per_control


PAGE = """<!doctype html><html><head><meta charset="utf-8"><script>{plotly}</script>
<style>body{{margin:0;font-family:sans-serif}} .f{{width:1000px}}</style></head><body></body></html>"""

SETUP_JS = """async ([initial, steps]) => {
    const und = o => o === '__undefined__' ? undefined : Array.isArray(o) ? o.map(und)
        : (o && typeof o === 'object') ? Object.fromEntries(Object.entries(o).map(([k, v]) => [k, und(v)])) : o;
    document.body.innerHTML = '';
    const gds = [];
    for (const spec of initial) {
        const s = JSON.parse(spec);
        const gd = document.createElement('div'); gd.className = 'f'; document.body.appendChild(gd);
        await Plotly.newPlot(gd, s.data, s.layout, s.config);
        gds.push(gd);
    }
    const msgs = steps.map(step => step.map(([fi, m]) => [gds[fi], und(JSON.parse(m))]));
    window.__step = async i => {
        const t = performance.now();
        for (const [gd, [style, layout, traces]] of msgs[i]) await Plotly.update(gd, style, layout, traces);
        await new Promise(r => requestAnimationFrame(() => r()));
        return performance.now() - t;
    };
}"""


def redraw_times(page, cdp, ex, passes: int = 2) -> dict[str, tuple[list[float], list[float]]]:
    """Replay ``ex``'s recorded Plotly.update calls in ``page``, step by step, ``passes`` times.

    Returns, per control, (wall seconds, renderer main-thread CPU seconds) per step, each the
    smallest over the passes (the step path ends where it started, so every pass redraws the same
    states; the machine's other load only ever adds time).
    """
    steps, keys = [], []
    for control, step, fi, msg in ex._bench_updates:
        if not keys or keys[-1] != (control, step):
            keys.append((control, step))
            steps.append([])
        steps[-1].append([fi, msg])
    page.evaluate(SETUP_JS, [ex._bench_initial, steps])

    def thread_time():
        return next(m["value"] for m in cdp.send("Performance.getMetrics")["metrics"] if m["name"] == "ThreadTime")

    wall = [float("inf")] * len(steps)
    cpu = [float("inf")] * len(steps)
    for _ in range(passes):
        for i in range(len(steps)):
            t0 = thread_time()
            ms = page.evaluate("i => window.__step(i)", i)
            cpu[i] = min(cpu[i], thread_time() - t0)
            wall[i] = min(wall[i], ms / 1000)
    out: dict[str, tuple[list[float], list[float]]] = {}
    for (control, _s), w, c in zip(keys, wall, cpu):
        out.setdefault(control, ([], []))
        out[control][0].append(w)
        out[control][1].append(c)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", default=None, help="substrings of explorer ids to keep")
    ap.add_argument("--controls", action="store_true", help="a row per control")
    ap.add_argument("--layout", action="store_true", help="list the layout keys each control sends")
    ap.add_argument("--sliders", action="store_true", help="only slider controls (what bench_voila presses)")
    ap.add_argument("--redraw", action="store_true", help="replay the updates in headless Chromium")
    args = ap.parse_args()
    page = None
    if args.redraw:
        from playwright.sync_api import sync_playwright

        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "browser"))
        from qbrowser import CHROMIUM_ARGS, find_chromium

        pw = sync_playwright().start()
        browser = pw.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        plotly_js = (Path(pio.__file__).resolve().parent.parent / "package_data" / "plotly.min.js").read_text()
        page.set_content(PAGE.format(plotly=plotly_js))
        cdp = page.context.new_cdp_session(page)
        cdp.send("Performance.enable")
    rows, all_times, all_cpu, all_redraw, all_redraw_cpu = [], [], [], [], []
    for p in _explorers():
        if args.only and not any(s in p.id for s in args.only):
            continue
        ex, pts, per = bench(p.values[0], only_sliders=args.sliders)
        if not per:
            continue
        redraw = redraw_times(page, cdp, ex) if page is not None else {}
        rd = [t for ts, _c in redraw.values() for t in ts]
        rc = [t for _t, cs in redraw.values() for t in cs]
        all_redraw += rd
        all_redraw_cpu += rc
        times = [t for ts, *_ in per.values() for t in ts]
        cpu = [t for *_, cs in per.values() for t in cs]
        sizes = [s for _t, ss, *_ in per.values() for s in ss]
        all_times += times
        all_cpu += cpu
        worst = max(per, key=lambda k: p95_ms(per[k][3]))
        rows.append((p.id, pts, len(times), f"{median_ms(times):.1f}", f"{p95_ms(times):.1f}",
                     f"{1000 * max(times):.1f}", f"{median_ms(cpu):.1f}", f"{p95_ms(cpu):.1f}",
                     f"{np.median(sizes) / 1024:.1f}",
                     f"{max(sizes) / 1024:.1f}", f"{median_ms(rd):.1f}" if rd else "-",
                     f"{p95_ms(rd):.1f}" if rd else "-", f"{median_ms(rc):.1f}" if rc else "-",
                     f"{p95_ms(rc):.1f}" if rc else "-", f"{worst} ({p95_ms(per[worst][3]):.1f})"))
        if args.controls or args.layout:
            for name, (ts, ss, lk, cs) in per.items():
                extra = " ".join(sorted(lk)) if args.layout else ""
                rows.append(("  " + name, "", len(ts), f"{median_ms(ts):.1f}", f"{p95_ms(ts):.1f}",
                             f"{1000 * max(ts):.1f}", f"{median_ms(cs):.1f}", f"{p95_ms(cs):.1f}",
                             f"{np.median(ss) / 1024:.1f}",
                             f"{max(ss) / 1024:.1f}",
                             *([f"{median_ms(redraw[name][0]):.1f}", f"{p95_ms(redraw[name][0]):.1f}",
                                f"{median_ms(redraw[name][1]):.1f}", f"{p95_ms(redraw[name][1]):.1f}"]
                               if redraw.get(name) else ["-"] * 4), extra))
    print(table(rows, ("explorer", "points", "steps", "median ms", "p95 ms", "max ms", "cpu med",
                       "cpu p95", "KB med", "KB max", "redraw med", "redraw p95", "rd cpu med", "rd cpu p95",
                       "worst control (cpu p95 ms)")))
    if all_times:
        print(f"\nall steps: {len(all_times)}, median {median_ms(all_times):.1f} ms, "
              f"p95 {p95_ms(all_times):.1f} ms, max {1000 * max(all_times):.1f} ms; CPU time: median "
              f"{median_ms(all_cpu):.1f} ms, p95 {p95_ms(all_cpu):.1f} ms")
    if all_redraw:
        print(f"plotly.js redraw: median {median_ms(all_redraw):.1f} ms, p95 {p95_ms(all_redraw):.1f} ms; "
              f"renderer CPU: median {median_ms(all_redraw_cpu):.1f} ms, p95 {p95_ms(all_redraw_cpu):.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

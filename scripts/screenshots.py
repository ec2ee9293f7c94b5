"""Screenshots of lessons as a learner sees them, at laptop and phone widths, for a person to read.

    .venv/bin/python scripts/screenshots.py [LESSON ...] [--out DIR] [--widths 1366x768,390x844]

Serves notebooks/ with ``qlearn serve`` on a free loopback port, opens each lesson (default: all) in
headless Chromium at each viewport, waits until every figure is drawn, and writes a full-page PNG per
lesson and viewport to ``--out`` (default ``/tmp/qlearn-shots``). Also prints, per page, the error
outputs Voila showed and what a reader should not see (raw markdown or TeX, a heading twice, a repr such
as ``np.float64(``: the checks of tests/browser/test_page_content.py, in tests/browser/pagecheck.py),
and the figure texts or radio choices that collide (``pagecheck.text_overlaps``).
Uses the browser tests' helpers (tests/browser/qbrowser.py). Nothing leaves the machine.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "browser"))

from pagecheck import content_problems, page_facts, text_overlaps  # noqa: E402
from qbrowser import (  # noqa: E402
    CHROMIUM_ARGS,
    NOTEBOOKS_DIR,
    error_outputs,
    find_chromium,
    open_lesson,
    start_qlearn_serve,
)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("lessons", nargs="*", help="notebook names or prefixes (e.g. 04 09_quant...); default all")
    ap.add_argument("--out", default="/tmp/qlearn-shots")
    ap.add_argument("--widths", default="1366x768,390x844", help="comma-separated WxH viewports")
    ap.add_argument("--tiles", action="store_true", help="also write the page in viewport-sized pieces")
    ap.add_argument("--figures", action="store_true", help="also write each figure as drawn in the page")
    args = ap.parse_args(argv)
    names = sorted(p.name for p in NOTEBOOKS_DIR.glob("*.ipynb"))
    if args.lessons:
        names = [n for n in names if any(n.startswith(a) for a in args.lessons)]
    if not names:
        ap.error("no lesson matches")
    viewports = [tuple(int(v) for v in w.split("x")) for w in args.widths.split(",")]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    chromium = find_chromium()
    if chromium is None:
        print("no Chromium: run scripts/ensure_chromium.sh", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    log = Path(tempfile.mkdtemp(prefix="qlearn-shots-")) / "serve.log"
    server = start_qlearn_serve(NOTEBOOKS_DIR, log, "--preheat", "none")
    problems = 0
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
            for name in names:
                for w, h in viewports:
                    ctx = browser.new_context(viewport={"width": w, "height": h})
                    page, _ = open_lesson(ctx, server.url, name)
                    page.wait_for_timeout(500)
                    # Voila scrolls inside a container, which a full-page screenshot does not expand:
                    # grow the viewport to the content's height instead (capped at 30,000 px).
                    tall = page.evaluate("() => Math.max(...Array.from(document.querySelectorAll('*'))"
                                         ".map(e => e.scrollHeight))")
                    page.set_viewport_size({"width": w, "height": min(max(h, tall), 30_000)})
                    page.wait_for_timeout(800)
                    height = min(max(h, tall), 30_000)
                    path = out / f"{name.removesuffix('.ipynb')}_{w}x{h}.png"
                    page.screenshot(path=str(path), full_page=True)
                    if args.tiles:  # pieces a person (or an image viewer) can read at full size
                        for k, y in enumerate(range(0, height, h)):
                            page.screenshot(path=str(path.with_suffix(f".{k:02d}.png")),
                                            clip={"x": 0, "y": y, "width": w, "height": min(h, height - y)})
                    if args.figures:  # each figure on its own, as drawn in the page (not an element shot)
                        rects = page.evaluate("() => Array.from(document.querySelectorAll('.js-plotly-plot'))"
                                              ".map(g => g.getBoundingClientRect()).filter(r => r.width > 0)"
                                              ".map(r => ({x: r.x, y: r.y, width: r.width, height: r.height}))")
                        for k, r in enumerate(rects):
                            page.screenshot(path=str(path.with_suffix(f".fig{k:02d}.png")),
                                            clip={"x": max(0, r["x"] - 8), "y": max(0, r["y"] - 8),
                                                  "width": min(w, r["width"] + 16), "height": r["height"] + 16})
                    raw = content_problems(page_facts(page, maths_timeout_ms=5_000))  # as test_page_content
                    errors = error_outputs(page)
                    drawn = text_overlaps(page)  # figure texts or radio choices that collide
                    problems += bool(raw or errors or drawn)
                    print(f"{path}  errors={errors or 'none'}  raw={raw or 'none'}  collisions={len(drawn)}")
                    for d in drawn:
                        print(f"    {d}")
                    ctx.close()
            browser.close()
    finally:
        server.stop()
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

"""Helpers for the browser tests (fixtures are in conftest.py): finding Chromium, starting
`qlearn serve` on a free loopback port, and helpers that drive the course's pages (explorers,
quizzes) the way a learner would.

Chromium: Debian's (`/usr/bin/chromium`, installed by `scripts/ensure_chromium.sh`), or the one
`python -m playwright install chromium` put in Playwright's cache, or `$QLEARN_CHROMIUM`.
Without one the tests are skipped on a developer's machine and FAIL on CI (`CI=true`).

The lesson tests run over whatever `notebooks/*.ipynb` exist; while there are none, over two small
demo notebooks written to a temporary directory (the same kinds of widget the course uses).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS_DIR = REPO / "notebooks"
CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
LOOPBACK = "127.0.0.1"
# Generous: other processes share the 2 cores; Voila's own per-cell timeout is 60 s.
RENDER_TIMEOUT_MS = 150_000
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


# ----------------------------------------------------------------------------- browser discovery

def find_chromium() -> str | None:
    """Path of a Chromium Playwright can drive, or None."""
    env = os.environ.get("QLEARN_CHROMIUM")
    if env and Path(env).is_file():
        return env
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    try:  # the browser `python -m playwright install chromium` downloads
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            path = p.chromium.executable_path
        if path and Path(path).is_file():
            return path
    except Exception:
        pass
    return None


def missing(what: str):
    """Skip on a developer's machine, fail on CI: CI must never pass by skipping."""
    if CI:
        pytest.fail(f"{what} (CI=true: a missing dependency of the browser tests is a failure)")
    pytest.skip(what)


# ----------------------------------------------------------------------------- notebooks

def lessons_source_dir() -> Path:
    """notebooks/, or $QLEARN_TEST_NOTEBOOKS (to try the suite on another set of notebooks)."""
    return Path(os.environ.get("QLEARN_TEST_NOTEBOOKS") or NOTEBOOKS_DIR)


def course_notebooks() -> list[Path]:
    return sorted(lessons_source_dir().glob("*.ipynb"))


def _code(src):
    import nbformat

    return nbformat.v4.new_code_cell(src)


def new_notebook(cells):
    """A notebook holding ``cells`` with the python3 kernelspec (what Voila needs to run it)."""
    import nbformat

    n = nbformat.v4.new_notebook()
    n.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    n.cells = list(cells)
    return n


def write_demo_notebooks(directory: Path) -> list[str]:
    """Two small notebooks shaped like the course's: a landing page and a lesson with an explorer
    (slider + FigureWidget), a second explorer driven by a dropdown, and a quiz."""
    import nbformat

    nb = new_notebook
    md = nbformat.v4.new_markdown_cell
    explorer = (
        "import numpy as np\nimport plotly.graph_objects as go\n"
        "x = np.linspace(-1, 1, 201)\n"
        "fig = go.FigureWidget(go.Scatter(x=x, y=x))\n"
        "def update(v):\n"
        "    step = 2.0 / (2 ** v['bits'] - 1)\n"
        "    fig.data[0].y = np.round(x / step) * step\n"
        "    return f\"step = {step:.4f}\"\n"
        "ql.viz.Explorer({'bits': ql.viz.controls.int_slider('bits', min=2, max=8, value=3)}, fig, update)"
    )
    explorer2 = (  # traces added after the FigureWidget is built, as most course explorers do
        "fig2 = go.FigureWidget()\n"
        "fig2.add_bar(x=['a', 'b'], y=[1, 2])\n"
        "def update2(v):\n"
        "    fig2.data[0].y = [1, 2] if v['mode'] == 'up' else [2, 1]\n"
        "ql.viz.Explorer({'mode': ql.viz.controls.dropdown('mode', ['up', 'down'])}, fig2, update2)"
    )
    quiz = ("ql.viz.quiz(ql.viz.Question('Which is wider, int4 or int8?', answer='int8', "
            "choices=['int4', 'int8'], explanation='8 bits hold 256 codes.'))")
    index = nb([md("# Demo course\n\n* [lesson](01_demo.ipynb)\n\nMaths: $x_q = \\mathrm{round}(x/s)$"),
                _code("import qlearn as ql"), _code(quiz)])
    lesson = nb([md("# Demo lesson\n\n$$s = \\frac{x_{max} - x_{min}}{2^b - 1}$$"),
                 _code("import qlearn as ql"), _code(explorer), _code(explorer2), _code(quiz)])
    directory.mkdir(parents=True, exist_ok=True)
    nbformat.write(index, directory / "00_index.ipynb")
    nbformat.write(lesson, directory / "01_demo.ipynb")
    return ["00_index.ipynb", "01_demo.ipynb"]


DEMO_NAMES = ["00_index.ipynb", "01_demo.ipynb"]

#: The widget course (:func:`write_widget_course`): a lesson with the real lesson 02's predictions and
#: quiz, and a page of hand-made predictions and a build-it-yourself task.
PROGRESS_LESSON = "02_rounding"
PREDICT_PAGE = "01_predict.ipynb"


def write_widget_course(directory: Path) -> list[str]:
    """Three small pages for the learner-state tests (test_progress.py, test_predict_exercises.py),
    served once by the ``widget_course_server`` fixture:

    * ``00_index``: the course map's progress table (``ql.viz.progress.course_progress()``);
    * ``02_rounding``: lesson 02's committed predictions and quiz (``lesson_prediction``, ``lesson_quiz``);
    * ``01_predict``: a numeric and a multiple-choice prediction, and lesson 02's task scaffold with its check.
    """
    import nbformat

    from qlearn.exercises import notebook_cells

    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    task = []
    for c in notebook_cells("02_rounding.ipynb"):
        cell = md(c["source"]) if c["cell_type"] == "markdown" else code(c["source"])
        cell.metadata.update(c["metadata"])
        task.append(cell)
    pages = {
        "00_index.ipynb": [md(f"# Course map\n\n* [predictions]({PREDICT_PAGE})\n"
                              f"* [rounding]({PROGRESS_LESSON}.ipynb)"),
                           code("import qlearn as ql"), code("ql.viz.progress.course_progress()")],
        f"{PROGRESS_LESSON}.ipynb": [md("# Rounding"), code("import qlearn as ql"),
                                     code(f'ql.viz.predict.lesson_prediction("{PROGRESS_LESSON}")'),
                                     code(f'ql.viz.lesson_quiz("{PROGRESS_LESSON}")')],
        PREDICT_PAGE: [md("# Predictions"), code("import numpy as np\nimport qlearn as ql"),
                       code("ql.viz.predict.predict('SQNR of a full-scale sine at 8 bits, in dB?', "
                            "measured=ql.ranges.snr.sine_sqnr_db(8), unit='dB', explanation='6.02 N + 1.76.')"),
                       code("ql.viz.predict.predict('Truncation is...', measured='mean error -0.5 step', "
                            "choices=['unbiased', 'biased down'], answer='biased down', explanation='Always down.')"),
                       *task],
    }
    directory.mkdir(parents=True, exist_ok=True)
    for name, cells in pages.items():
        nbformat.write(new_notebook(cells), directory / name)
    return sorted(pages)


def lesson_names() -> list[str]:
    names = [p.name for p in course_notebooks()]
    return names or DEMO_NAMES


def explorer_weight(path: Path) -> int:
    """How many code cells build an explorer (statically, from the source)."""
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError):
        return 0
    n = 0
    for c in cells:
        src = "".join(c.get("source", "")) if c.get("cell_type") == "code" else ""
        if "_explorer(" in src or "Explorer(" in src:
            n += 1
    return n


def busiest_lesson(lesson_dir: Path) -> str:
    """The notebook with the most explorers (the heaviest page), for the load and hub tests."""
    paths = sorted(Path(lesson_dir).glob("*.ipynb"))
    best = max(paths, key=lambda p: (explorer_weight(p), p.name != "00_index.ipynb"))
    return best.name


# ----------------------------------------------------------------------------- servers

def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def free_port_pair() -> int:
    """A port p such that p and p + 1 were both free at once (for a service that also takes p + 1)."""
    for _ in range(200):
        with socket.socket() as a, socket.socket() as b:
            a.bind((LOOPBACK, 0))
            p = a.getsockname()[1]
            try:
                b.bind((LOOPBACK, p + 1))
            except OSError:
                continue
            return p
    raise RuntimeError("no two adjacent free ports on loopback")


class _KeepRedirects(urllib.request.HTTPRedirectHandler):
    """Not followed: urllib then raises HTTPError with the 3xx status."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class Server:
    """A subprocess serving HTTP on loopback; stopped with SIGTERM (Voila then shuts its kernels down)."""

    def __init__(self, cmd: list[str], url: str, log_path: Path, env: dict | None = None, cwd=None):
        self.cmd, self.url, self.log_path = cmd, url, log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                     start_new_session=True)

    def wait_ready(self, path: str = "", timeout: float = 120.0, need_ok: bool = False) -> None:
        """Until ``path`` answers: any status below 500, or (``need_ok``) a success after redirects.

        Without ``need_ok`` a redirect is an answer and is not followed: following ``qlearn serve``'s
        ``/`` would render the landing page, starting (or taking the pre-heated) kernel for a page that
        never connects, which then runs beside the tests until the server frees it.
        """
        opener = urllib.request.build_opener() if need_ok else urllib.request.build_opener(_KeepRedirects)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with opener.open(self.url + path, timeout=5) as r:
                    if r.status < 500:
                        return
            except urllib.error.HTTPError as e:
                if e.code < 500 and not need_ok:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"server not ready after {timeout} s:\n{self.log_tail()}")

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_since(self, offset: int) -> str:
        """The server log written after ``offset`` bytes (see :meth:`log_size`)."""
        try:
            return self.log_path.read_bytes()[offset:].decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_bytes()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        try:  # children the server left behind (a proxy, a kernel) are in its process group
            os.killpg(self.proc.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
        if not self._log.closed:
            self._log.close()


def start_qlearn_serve(notebooks_dir: Path, log_path: Path, *extra: str) -> Server:
    port = free_port()
    cmd = [sys.executable, "-m", "qlearn.cli", "serve", "--no-browser", "--host", LOOPBACK,
           "--port", str(port), "--notebooks", str(notebooks_dir), *extra]
    server = Server(cmd, f"http://{LOOPBACK}:{port}/", log_path)
    try:
        server.wait_ready()
    except Exception:
        server.stop()
        raise
    return server


# ----------------------------------------------------------------------------- page helpers

#: For failure messages (pagecheck.FIT_STATE_JS): what each explorer figure went through, as
#: ``window.qlearnFigureTrace`` (the last 120 entries: ms since navigation, figure index, event, the
#: width plotly drew at, the width of its box). The window's "resize" events; plotly's
#: ``plotly_autosize`` (its resize timer fired and a relayout measured the box), ``plotly_relayout``
#: (that relayout finished), ``plotly_update`` and ``plotly_afterplot``; and, sampled every 100 ms,
#: changes of whether a resize is pending (``_resolveResize``), whether the layout has a fixed width,
#: and whether the plot area is drawn at other margins than plotly recorded.
FIGURE_TRACE_JS = r"""(() => {
  const trace = window.qlearnFigureTrace = [];
  const figures = [];
  const add = (i, what, gd) => {
    const box = gd && gd.parentElement ? Math.round(gd.parentElement.getBoundingClientRect().width) : null;
    trace.push([Math.round(performance.now()), i, what, gd && gd._fullLayout ? gd._fullLayout.width : null, box]);
    if (trace.length > 120) { trace.shift(); }
  };
  window.addEventListener('resize', () => add(-1, 'window resize ' + window.innerWidth, null), true);
  setInterval(() => {
    document.querySelectorAll('.qlearn-explorer .js-plotly-plot').forEach(gd => {
      if (!gd.on || !gd._fullLayout) { return; }
      let i = figures.indexOf(gd);
      if (i < 0) {
        i = figures.push(gd) - 1;
        ['plotly_autosize', 'plotly_relayout', 'plotly_update', 'plotly_afterplot']
          .forEach(ev => gd.on(ev, () => add(i, ev, gd)));
        add(i, 'seen', gd);
      }
      // the plot area as drawn (plotly's drag rectangle) against the margins plotly records
      const drag = gd.querySelector('rect.nsewdrag'), size = gd._fullLayout._size || {};
      const drawn = drag ? [+drag.getAttribute('x'), +drag.getAttribute('y')] : null;
      const state = (gd._resolveResize ? 'resize pending' : 'no resize pending') +
        (gd.layout && gd.layout.width ? ', layout.width ' + gd.layout.width : '') +
        (drawn && (drawn[0] !== size.l || drawn[1] !== size.t) ?
          ', plot area drawn at ' + drawn + ', margins l, t ' + [size.l, size.t] : '') +
        (gd.isConnected ? '' : ', detached');
      if (state !== gd.__qlearnTraceState) { gd.__qlearnTraceState = state; add(i, state, gd); }
    });
  }, 100);
})();"""


class PageGuard:
    """Records every request of a browser context; aborts and records any not to 127.0.0.1.

    Also records uncaught page errors, console errors and console warnings; any of them fails
    :meth:`assert_clean` (no warning is allowed: tests/browser/test_console.py).
    """

    def __init__(self, context):
        self.external: list[str] = []
        self.requests: list[str] = []
        self.console_errors: list[str] = []
        self.console_warnings: list[str] = []
        self.page_errors: list[str] = []
        # blob:/data: URLs stay on the machine by construction; routing them through Python delays
        # anywidget's import of the 5 MB plotly module past anywidget's own 2 s initialisation limit.
        context.route(re.compile(r"^(?!blob:|data:)"), self._route)
        context.on("page", self.watch)
        # for failure messages (pagecheck.FIT_STATE_JS): how many "resize" events the window saw
        context.add_init_script("window.qlearnResizeEvents = 0;"
                                "window.addEventListener('resize', () => { window.qlearnResizeEvents++; }, true);")
        context.add_init_script(FIGURE_TRACE_JS)
        context.qlearn_guard = self  # pagecheck reads the page's errors through it

    @staticmethod
    def _local(url: str) -> bool:
        if url.startswith(("data:", "blob:", "about:")):
            return True
        return urlsplit(url).hostname == LOOPBACK

    def _route(self, route):
        url = route.request.url
        self.requests.append(url)
        if self._local(url):
            route.continue_()
        else:
            self.external.append(url)
            route.abort()

    def _console(self, m) -> None:
        if m.type in ("error", "assert"):
            self.console_errors.append(f"{m.text} [{(m.location or {}).get('url', '')}]")
        elif m.type == "warning":
            self.console_warnings.append(f"{m.text} [{(m.location or {}).get('url', '')}]")

    def watch(self, page):
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.page_errors.append(str(e)))
        page.on("websocket", lambda ws: None if self._local(ws.url) else self.external.append(ws.url))
        return page

    def errors(self) -> str:
        """The page errors and console errors recorded so far, for a failure message."""
        return f"page errors: {self.page_errors}; console errors: {self.console_errors}"

    def reset(self) -> None:
        """Forget what earlier pages did (one guard, many lessons)."""
        self.external.clear()
        self.console_errors.clear()
        self.console_warnings.clear()
        self.page_errors.clear()

    def assert_clean(self) -> None:
        assert not self.external, f"requests to hosts other than {LOOPBACK}: {self.external}"
        assert not self.page_errors, f"uncaught errors in the page: {self.page_errors}"
        assert not self.console_errors, f"console errors: {self.console_errors}"
        assert not self.console_warnings, f"console warnings: {self.console_warnings}"


def start_lesson(context, base_url: str, notebook: str, timeout_ms: int = RENDER_TIMEOUT_MS, viewport=None):
    """Open a page and start navigating to a lesson; returns ``(page, response)`` at first byte.
    ``viewport`` (``{"width": w, "height": h}``): the page's size from the start, else the context's."""
    page = context.new_page()
    page.set_default_timeout(timeout_ms)
    if viewport is not None:
        page.set_viewport_size(viewport)
    resp = page.goto(base_url + "voila/render/" + notebook, wait_until="commit", timeout=timeout_ms)
    assert resp is not None and resp.ok, f"{notebook}: HTTP {resp.status if resp else None}"
    return page, resp


def wait_lesson(page, resp, timeout_ms: int = RENDER_TIMEOUT_MS) -> int:
    """Wait until Voila revealed the lesson and every widget output is drawn (figures included).

    Returns the number of widget outputs on the page.
    """
    n_widgets = resp.text().count("application/vnd.jupyter.widget-view+json")  # waits for the whole body
    page.wait_for_selector("#rendered_cells", state="visible", timeout=timeout_ms)
    banner = page.locator("#qlearn-banner")
    assert banner.count() == 0, banner.inner_text()
    page.wait_for_function(
        # a box renders as .jupyter-widgets; a FigureWidget displayed on its own as .js-plotly-plot
        "n => document.querySelectorAll('.jp-OutputArea-output > .jupyter-widgets,"
        " .jp-OutputArea-output > .js-plotly-plot').length >= n",
        arg=n_widgets, timeout=timeout_ms)
    page.wait_for_function(
        """() => Array.from(document.querySelectorAll('.qlearn-explorer .js-plotly-plot'))
                 .every(p => Array.isArray(p.data) && p.data.length > 0 && p._fullLayout !== undefined)""",
        timeout=timeout_ms)
    # The qlearn page is readable before Voila's front end runs (server-rendered first view): wait
    # until Voila's app has started and rendered every output (it replaces each output's JSON
    # <script>; its plugins, among them the widget manager's page-close handler that frees the
    # kernel, are active by then) and every preview has handed over to its live output.
    page.wait_for_function(
        "() => document.querySelectorAll('script[type=\"application/vnd.voila.cell-output+json\"]').length === 0"
        " && document.querySelectorAll('.qlearn-pending').length === 0",
        timeout=timeout_ms)
    return n_widgets


def open_lesson(context, base_url: str, notebook: str, timeout_ms: int = RENDER_TIMEOUT_MS, viewport=None):
    """Navigate to a lesson and wait until it is fully drawn; returns ``(page, n_widget_outputs)``."""
    page, resp = start_lesson(context, base_url, notebook, timeout_ms, viewport)
    return page, wait_lesson(page, resp, timeout_ms)


def error_outputs(page) -> list[str]:
    """Texts of error or stderr outputs on the page (Voila shows a cell failure as stderr)."""
    return page.eval_on_selector_all(
        "[data-mime-type='application/vnd.jupyter.stderr'], [data-mime-type='application/vnd.jupyter.error'],"
        " .jp-OutputArea-output.jp-mod-error, .widget-error, .jupyter-widgets-error-widget",
        "els => els.map(e => e.innerText.slice(0, 300))")


FIGURE_STATE_JS = """el => JSON.stringify({
    readout: (el.lastElementChild || {}).innerHTML || '',
    figs: Array.from(el.querySelectorAll('.js-plotly-plot')).map(p => ({
        data: p.data, shapes: (p.layout || {}).shapes, annotations: (p.layout || {}).annotations}))
})"""


def move_first_control(page, explorer) -> str:
    """Change an explorer's first control the way a learner would; returns what was done."""
    controls = explorer.locator(":scope > .widget-hbox").first.locator(":scope > *").first
    cls = controls.get_attribute("class") or ""
    if "widget-slider" in cls:
        handle = controls.locator(".noUi-handle").first
        now, top = handle.get_attribute("aria-valuenow"), handle.get_attribute("aria-valuemax")
        key = "ArrowLeft" if now is not None and top is not None and float(now) >= float(top) else "ArrowRight"
        handle.focus()
        page.keyboard.press(key)
        return f"slider {key}"
    if "widget-dropdown" in cls:
        select = controls.locator("select")
        options = select.locator("option").all_inner_texts()
        current = select.evaluate("s => s.options[s.selectedIndex] ? s.options[s.selectedIndex].text : null")
        other = next(o for o in options if o != current)
        select.select_option(label=other)
        return f"dropdown -> {other}"
    if "widget-toggle-buttons" in cls:
        button = controls.locator("button:not(.mod-active)").first
        button.click()
        return "toggle button"
    if "widget-checkbox" in cls:
        controls.locator("input[type=checkbox]").click()
        return "checkbox"
    if "widget-button" in cls or controls.evaluate("e => e.tagName") == "BUTTON":
        controls.click()
        return "button"
    if "widget-radio" in cls:
        controls.locator("input[type=radio]:not(:checked)").first.click()
        return "radio"
    if "widget-text" in cls or "widget-inline-hbox" in cls:
        box = controls.locator("input").first
        box.fill(str(float(box.input_value() or 0) + 1))
        box.press("Enter")
        return "text"
    raise AssertionError(f"unknown first control with class {cls!r}")


def check_explorer(page, explorer, timeout_ms: int = 30_000) -> str:
    """Move the first control and wait until the figure (or, without one, the readout) changes."""
    explorer.scroll_into_view_if_needed()
    before = explorer.evaluate(FIGURE_STATE_JS)
    action = move_first_control(page, explorer)
    page.wait_for_function("([el, before]) => (" + FIGURE_STATE_JS + ")(el) !== before",
                           arg=[explorer.element_handle(), before], timeout=timeout_ms)
    return action


REDRAW_JS = """async gd => {
  await window.Plotly.redraw(gd);
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
}"""

SETTLE_JS = """async el => {
  await Promise.all(Array.from(el.querySelectorAll('.js-plotly-plot')).map(gd => Promise.all(gd._promises || [])));
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
}"""

#: Two PNG pictures (base64) decoded by the page: how many pixels differ by more than `tolerance`
#: in a colour channel (0-255), and the largest difference.
PIXELS_JS = """async ([a, b, tolerance]) => {
  const pixels = async (s) => {
    const bytes = Uint8Array.from(atob(s), c => c.charCodeAt(0));
    const img = await createImageBitmap(new Blob([bytes], {type: 'image/png'}));
    const ctx = new OffscreenCanvas(img.width, img.height).getContext('2d');
    ctx.drawImage(img, 0, 0);
    return ctx.getImageData(0, 0, img.width, img.height);
  };
  const [A, B] = await Promise.all([pixels(a), pixels(b)]);
  if (A.width !== B.width || A.height !== B.height) return {differ: -1, worst: 255};
  let differ = 0, worst = 0;
  for (let i = 0; i < A.data.length; i += 4) {
    const d = Math.max(Math.abs(A.data[i] - B.data[i]), Math.abs(A.data[i + 1] - B.data[i + 1]),
                       Math.abs(A.data[i + 2] - B.data[i + 2]));
    if (d > tolerance) differ++;
    if (d > worst) worst = d;
  }
  return {differ, worst};
}"""

#: Text drawn at a position that differs by a fraction of a pixel can differ by a few levels in
#: its anti-aliased edge; a misplaced mark, line, label or legend differs by far more.
PIXEL_TOLERANCE = 16


def differing_pixels(page, a: bytes, b: bytes, tolerance: int = PIXEL_TOLERANCE) -> dict:
    """``{'differ': pixels differing by more than tolerance (-1: sizes differ), 'worst': largest}``."""
    import base64

    return page.evaluate(PIXELS_JS, [base64.b64encode(a).decode(), base64.b64encode(b).decode(), tolerance])


def assert_same_picture(page, a: bytes, b: bytes, what: str) -> None:
    """Fails, saving both pictures, when any pixel differs by more than PIXEL_TOLERANCE."""
    found = differing_pixels(page, a, b)
    if found["differ"]:
        import tempfile

        out = Path(tempfile.mkdtemp(prefix="qlearn-redraw-"))
        (out / "updated.png").write_bytes(a)
        (out / "full-redraw.png").write_bytes(b)
        raise AssertionError(f"{what}: {found['differ']} pixels differ (by up to {found['worst']}/255); "
                             f"pictures in {out}")


GEOMETRY_JS = """gd => {
  const fl = gd._fullLayout || {}, r = gd.getBoundingClientRect(), round = v => Math.round(v * 100) / 100;
  const axes = {};
  Object.keys(fl).filter(k => /^[xy]axis\\d*$/.test(k)).forEach(k => { axes[k] = (fl[k].range || []).map(round); });
  return {box: [round(r.left), round(r.width)], width: fl.width, height: fl.height,
          size: fl._size ? ['l', 'r', 't', 'b', 'w', 'h'].map(k => round(fl._size[k])) : null, axes: axes};
}"""


def assert_drawn_as_full_redraw(explorer) -> None:
    """Each figure of the explorer, as its last update drew it, is what plotly.js's full redraw of
    the same data draws (the served plotly module draws data-only updates its own shorter way:
    tools/plotly_bundle/data_redraw.js)."""
    explorer.evaluate(SETTLE_JS)
    figures = explorer.locator(".js-plotly-plot")
    for j in range(figures.count()):
        fig = figures.nth(j)
        state = fig.evaluate(GEOMETRY_JS)
        svg_updated = fig.evaluate(SVG_JS)
        updated = fig.screenshot(animations="disabled")
        fig.evaluate(REDRAW_JS)
        redrawn = fig.screenshot(animations="disabled")
        # said with a failure: the figure's geometry after the update and after the redraw, where the
        # two SVGs differ, and what the page's figures went through (how lesson 16's 1 px margin,
        # docs/hosting.md "An intermittent picture check", was found)
        geometry = f"geometry after the update {state}, after the redraw {fig.evaluate(GEOMETRY_JS)}"
        try:
            assert_same_picture(explorer.page, updated, redrawn,
                                f"figure {j}: the update drew something other than plotly.js's full redraw of "
                                f"its data ({geometry})")
        except AssertionError as e:
            trace = explorer.page.evaluate("() => window.qlearnFigureTrace")
            raise AssertionError(f"{e}; {svg_difference(svg_updated, fig.evaluate(SVG_JS))}; "
                                 f"what the page's figures went through: {trace}") from None


#: A figure's drawn SVG, for :func:`svg_difference` (its ids stay while the figure stands).
SVG_JS = """gd => Array.from(gd.querySelectorAll('svg.main-svg')).map(s => s.outerHTML).join('')"""


def svg_difference(a: str, b: str, limit: int = 12) -> str:
    """Where two drawings of a figure (:data:`SVG_JS`) differ, element by element, for a message."""
    import difflib

    def elements(svg: str) -> list[str]:
        return svg.replace("><", ">\n<").splitlines()
    ea, eb = elements(a), elements(b)
    lines = [line for line in difflib.unified_diff(ea, eb, "update", "full redraw", n=0, lineterm="")
             if not line.startswith(("---", "+++"))]
    if not lines:
        return f"the two SVGs are the same ({len(ea)} elements): the difference is in how they were painted"
    return f"the SVG after the update and after the full redraw differ in {len(lines)} diff lines; the first: " + \
        " | ".join(line[:300] for line in lines[:limit])


def check_question(page, question, timeout_ms: int = 30_000) -> None:
    """Answer a quiz question and wait for its feedback."""
    question.scroll_into_view_if_needed()
    radios = question.locator("input[type=radio]")
    if radios.count():
        radios.first.check()
    else:
        box = question.locator("input").first
        box.fill("1")
        box.press("Tab")
    question.locator("button", has_text="Check").click()
    page.wait_for_function(
        """q => /Correct|Not quite|Pick an answer/.test(q.innerText)""",
        arg=question.element_handle(), timeout=timeout_ms)

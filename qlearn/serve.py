"""Serve the course's notebooks as Voila apps: the configuration behind ``qlearn serve``.

Everything a classroom server needs is decided here, in one place, so that ``qlearn serve``,
the JupyterHub deployment (``deploy/jupyterhub_config.py``) and the tests use the same settings:

* a finite per-cell execution timeout (Voila waits forever by default, and a stuck cell then
  shows a spinner forever);
* idle kernels culled (every page load starts a kernel, and kernels outlive closed tabs);
* no tracebacks and no sources shown to viewers, with a plain-language message instead;
* every lesson's kernel pre-heated (``qlearn serve``'s default), the landing page's first, and 3
  ready for the landing page and the lesson in use and the next one (:mod:`qlearn.server.pools`);
* the ``qlearn`` page template: Voila's ``lab`` template without its CDN links, plus a watchdog
  that replaces an endless spinner by a message when the server or the kernel goes away.

Introduced for teachers in ``docs/hosting.md``; learners only ever see the pages.
"""
from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

LANDING = "00_index.ipynb"
TEMPLATE = "qlearn"

#: Seconds a single cell may run before Voila gives up on the page (finite, unlike Voila's default).
EXECUTE_TIMEOUT = 60
#: Milliseconds a page gives a widget's front-end module to load. anywidget (0.9 to 0.11, which
#: plotly's FigureWidget is built on) hard-codes 2000 ms, after which it drops the widget's messages
#: and the figure stays empty; a busy class server can need longer. The ``qlearn`` template
#: lengthens exactly that deadline to this value.
MODULE_DEADLINE_MS = 60_000
#: The JupyterLab front-end extensions a lesson page loads: ipywidgets' manager, Voila's widget
#: manager for ipywidgets 8 (it provides the widget registry), and anywidget (plotly's FigureWidget).
FRONTEND_EXTENSIONS = ("@jupyter-widgets/jupyterlab-manager", "@voila-dashboards/widgets-manager8", "anywidget")
#: Most kernels kept ready per pre-heated notebook (about 120 MB each: 64 is 7.5 GB).
MAX_POOL_SIZE = 64
#: Kernels kept ready for the landing page, for the lesson opened last (for 10 minutes) and for the
#: lesson after it (``--pool-burst``; others keep ``--pool-size``): a second and third learner on a
#: lesson then find executed kernels too (:mod:`qlearn.server.pools`).
POOL_BURST = 3
#: Upper bound of ``--max-kernels`` (a kernel is about 120-160 MB).
MAX_KERNELS = 1000
#: Seconds a sent page has to connect to its kernel before the kernel is freed (``--unconnected-timeout``;
#: a page connects within seconds of arriving; the reaper runs every 10 s, so such a kernel goes within a minute).
UNCONNECTED_TIMEOUT = 50
#: The server log's line format: time, then what Jupyter Server and Voila print.
LOG_FORMAT = "%(asctime)s.%(msecs)03d [%(name)s]%(highlevel)s %(message)s"
LOG_DATEFMT = "%Y-%m-%d %H:%M:%S"
#: Seconds a kernel may sit idle with no page connected before it is shut down.
CULL_IDLE_TIMEOUT = 600
#: Seconds between two culling passes.
CULL_INTERVAL = 60

ERROR_INSTRUCTION = ("This part of the lesson could not run. Reload the page; if it happens again, "
                     "tell your teacher (the server log has the details).")
TIMEOUT_INSTRUCTION = ("The lesson took too long to start, probably because the server is busy. "
                       "Reload the page in a minute.")


def template_root() -> Path:
    """The directory to put on ``JUPYTER_PATH`` so Voila finds the ``qlearn`` template.

    Voila looks templates up in ``<jupyter path>/voila/templates/<name>``; qlearn ships its
    template inside the package (``qlearn/templates/voila/templates/qlearn``), so the package's
    ``templates`` directory is the Jupyter path entry.
    """
    return Path(__file__).resolve().parent / "templates"


def labextensions_root() -> Path:
    """Front-end extensions Voila loads before its own (``VoilaConfiguration.extra_labextensions_path``).

    It holds Voila's ipywidgets 8 manager as built for the JupyterLab core Voila's page shares: the
    same code as the installed Voila's copy, whose build asks for a newer core and made every page log
    eleven version warnings (``qlearn/labextensions/README.md`` says where it comes from).
    """
    return Path(__file__).resolve().parent / "labextensions"


def jupyter_path_with_template(current: str | None = None) -> str:
    """``JUPYTER_PATH`` with :func:`template_root` prepended (kept once, order otherwise kept)."""
    root = str(template_root())
    parts = [p for p in (current or "").split(os.pathsep) if p and p != root]
    return os.pathsep.join([root, *parts])


# ----------------------------------------------------------------------------- lesson navigation

def lesson_label(file: str, title: str) -> str:
    """How a navigation link names a lesson: its number and title, as the lessons' own links do.

    Examples
    --------
    >>> lesson_label("14_onnx_runtime.ipynb", "ONNX Runtime, bit for bit")
    '14 · ONNX Runtime, bit for bit'
    >>> lesson_label(LANDING, "Course map")
    'Course map'
    """
    if file == LANDING:
        return title
    number = file.split("_", 1)[0]
    return f"{number} · {title}" if number.isdigit() else title


def course_nav(lessons=None, available=None) -> dict:
    """Previous / course map / next for every lesson page, keyed by notebook stem (Voila's
    ``resources.metadata.name``); the ``qlearn`` template draws them at the top and bottom of a page.

    Parameters
    ----------
    lessons : sequence of qlearn.course.Lesson or None
        The course in reading order (default ``qlearn.course.LESSONS``, read when the server starts,
        so a lesson added there gets its links with no other change).
    available : collection of str or None
        Notebook file names that exist; lessons not among them are skipped (no dead link). None
        keeps every lesson (the class hub and Binder serve the whole course).

    Returns
    -------
    dict
        ``{"pages": {stem: {"prev": link, "map": link, "next": link}}, "other": {...}}`` where a link
        is ``{"href": file, "label": text, "short": the lesson's number}`` or None. ``href`` is the bare
        file name: relative to the page's own URL (``.../voila/render/NN_x.ipynb``), so it works under
        any prefix (``/``, a hub's ``/user/<name>/``). "other" is for a page that is not in the course
        (course map only). The course map link is left out where the course map is the page itself or
        its previous lesson.

    Examples
    --------
    >>> from qlearn.course import Lesson
    >>> c = [Lesson("00_index.ipynb", "Course map", "", ""), Lesson("01_a.ipynb", "A", "", ""),
    ...      Lesson("02_b.ipynb", "B", "", "")]
    >>> nav = course_nav(c)["pages"]
    >>> nav["01_a"]["prev"]["label"], nav["01_a"]["map"], nav["01_a"]["next"]
    ('Course map', None, {'href': '02_b.ipynb', 'label': '02 · B', 'short': '02'})
    >>> nav["02_b"]["next"] is None, nav["02_b"]["map"]["href"]
    (True, '00_index.ipynb')
    >>> sorted(course_nav(c, available={"00_index.ipynb", "02_b.ipynb"})["pages"])
    ['00_index', '02_b']
    """
    if lessons is None:
        from .course import LESSONS as lessons
    course = [le for le in lessons if available is None or le.file in available]

    def link(le):
        label = lesson_label(le.file, le.title)
        return {"href": le.file, "label": label, "short": label.split(" · ", 1)[0]}

    home = next((link(le) for le in course if le.file == LANDING), None)
    pages = {}
    for i, le in enumerate(course):
        prev = link(course[i - 1]) if i > 0 else None
        nxt = link(course[i + 1]) if i + 1 < len(course) else None
        shown = home if home is not None and le.file != LANDING and home != prev else None
        pages[Path(le.file).stem] = {"prev": prev, "map": shown, "next": nxt}
    return {"pages": pages, "other": {"prev": None, "map": home, "next": None}}


# ----------------------------------------------------------------------------- plotly.js, sent once

#: URL path (under the server's base URL) where ``qlearn serve`` serves plotly's widget module.
BUNDLE_ROUTE = "qlearn/static/"
#: Environment variable that tells a kernel the bundle's file name (set by ``qlearn serve``).
BUNDLE_ENV = "QLEARN_PLOTLY_BUNDLE"


def plotly_bundle_file() -> Path:
    """The FigureWidget front-end module sent to browsers: plotly's own with only the trace types
    the course draws (1.3 MB; :mod:`qlearn.server.plotly_bundle`) when it was built from the
    installed plotly, else plotly's (about 5 MB: all of plotly.js)."""
    from .server.plotly_bundle import bundle_file

    return bundle_file()[0]


def served_plotly_bundle() -> bytes:
    """The bytes ``qlearn serve`` sends as plotly's widget module: :func:`plotly_bundle_file` with
    :func:`quiet_plotly_bundle` applied (read once per file version)."""
    path = plotly_bundle_file()
    st = path.stat()
    return _served_bundle(str(path), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=4)
def _served_bundle(path: str, mtime_ns: int, size: int) -> bytes:
    return quiet_plotly_bundle(Path(path).read_text("utf-8")).encode()


def plotly_bundle_name() -> str:
    """A file name that changes with the module's content, so the browser may cache it for good
    (``-t1``: the trimmed module; ``-q1``: with :func:`quiet_plotly_bundle` applied; then the first
    12 hex digits of the served bytes' SHA-256: a rebuilt module under an old name would be run
    from a learner's cache for a year)."""
    import hashlib

    import plotly

    from .server.plotly_bundle import bundle_file

    trimmed = "-t1" if bundle_file()[1] else ""
    digest = hashlib.sha256(served_plotly_bundle()).hexdigest()[:12]
    return f"plotly-widget-{plotly.__version__}{trimmed}-q1-{digest}.js"


#: The two methods of plotly's figure view that, after every redraw, diff the whole drawn figure
#: against the widget's state and send the difference to the kernel (``_js2py_traceDeltas``,
#: ``_js2py_layoutDelta``: the defaults plotly.js filled in), which the course's figures ignore
#: (:func:`qlearn.viz.explorer.ignore_browser_defaults`).
QUIET_METHODS = ("_sendTraceDeltas", "_sendLayoutDelta")


def quiet_plotly_bundle(source: str) -> str:
    """plotly's widget module with :data:`QUIET_METHODS` returning at once: on a served page each
    key press then costs the redraw only, not a diff of every trace and of the layout computed on
    the page's main thread before the redraw is reported, plus a 10-20 kB message. Raises
    ValueError when plotly's module no longer has each method exactly once (a plotly upgrade:
    ``tests/test_serve.py`` runs this on the installed module).

    Examples
    --------
    >>> quiet_plotly_bundle("class V{_sendTraceDeltas(e){work(e)}_sendLayoutDelta(t){work(t)}}")
    'class V{_sendTraceDeltas(e){return;work(e)}_sendLayoutDelta(t){return;work(t)}}'
    """
    import re

    for name in QUIET_METHODS:
        pattern = re.compile(re.escape(name) + r"\((\w+)\)\{")
        if len(pattern.findall(source)) != 1:
            raise ValueError(f"plotly's widget module: expected one method {name}(x){{, found "
                             f"{len(pattern.findall(source))}")
        source = pattern.sub(lambda m: m.group(0) + "return;", source)
    return source


def plotly_bundle_shim(path: str) -> str:
    """A few hundred bytes of ES module that imports the real module from the server by URL.

    Sent as a FigureWidget's ``_esm`` instead of the 5 MB bundle: the browser downloads and
    compiles plotly.js once, keeps it in its HTTP cache for the next lessons, and every figure
    on a page shares the one module instance.
    """
    return (
        "const el = document.getElementById('jupyter-config-data');\n"
        "const base = (el && JSON.parse(el.textContent).baseUrl) || '/';\n"
        f"const url = new URL(base.replace(/\\/?$/, '/') + '{path}', window.location.origin);\n"
        "const mod = await import(url.href);\n"
        "export default mod.default;\n"
    )


def use_cached_plotly_bundle(path: str | None = None) -> bool:
    """In a kernel started by ``qlearn serve``: make FigureWidgets load plotly.js by URL.

    Reads the bundle name from ``$QLEARN_PLOTLY_BUNDLE`` unless given; does nothing (returns
    False) when neither is set, e.g. in JupyterLab, where the default (module sent inline) is kept.
    """
    path = path or os.environ.get(BUNDLE_ENV)
    if not path:
        return False
    from plotly.basewidget import BaseFigureWidget

    BaseFigureWidget._esm = plotly_bundle_shim(path)
    return True


def bundle_static_dir(where: str | os.PathLike) -> tuple[Path, str]:
    """A directory for Jupyter Server's ``extra_static_paths`` holding plotly's module under a
    versioned name; returns it and the module's path relative to the server's base URL."""
    d = Path(where)
    target = d / "qlearn" / plotly_bundle_name()
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        target.write_bytes(served_plotly_bundle())
    return d, "static/qlearn/" + plotly_bundle_name()


#: Modules a served kernel never needs, blocked in its startup file because importing them is slow.
#: ``rfc3987_syntax`` compiles a Lark grammar on import (about 2 s of CPU here, measured with
#: ``python -X importtime``); jsonschema imports it only to check the ``iri`` string format, and
#: jsonschema itself is imported by ``nbformat``, which plotly imports for every FigureWidget.
#: jsonschema wraps that import in ``suppress(ImportError)``, so blocking it only drops that format.
SLOW_UNUSED_MODULES = ("rfc3987_syntax",)


def block_slow_imports(modules=SLOW_UNUSED_MODULES) -> list[str]:
    """Make ``import`` of each of ``modules`` raise ImportError in this process (unless already
    imported); returns the names blocked. For kernels started by ``qlearn serve`` only."""
    import sys

    blocked = []
    for name in modules:
        if name not in sys.modules:
            sys.modules[name] = None  # the import system's documented "not importable" marker
            blocked.append(name)
    return blocked


def kernel_startup_dir(where: str | os.PathLike | None = None) -> Path:
    """An IPython directory whose startup file runs :func:`block_slow_imports` and
    :func:`use_cached_plotly_bundle` in every kernel.

    Point a kernel's ``IPYTHONDIR`` at it (and set ``$QLEARN_PLOTLY_BUNDLE``). A new temporary
    directory unless ``where`` is given.
    """
    import tempfile

    d = Path(where) if where is not None else Path(tempfile.mkdtemp(prefix="qlearn-ipython-"))
    startup = d / "profile_default" / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "00-qlearn-plotly.py").write_text(
        "try:\n"
        "    from qlearn.serve import block_slow_imports, use_cached_plotly_bundle\n"
        "    block_slow_imports()\n"
        "    use_cached_plotly_bundle()\n"
        "except Exception:  # never stop a lesson over an optimisation\n"
        "    pass\n")
    return d


def find_notebooks_dir(explicit: str | os.PathLike | None = None, cwd: str | os.PathLike | None = None) -> Path:
    """Where the lessons are: ``explicit`` if given, else ``./notebooks`` if it exists.

    Parameters
    ----------
    explicit : path or None
        The ``--notebooks`` argument. Must be an existing directory.
    cwd : path or None
        Directory to look for ``notebooks/`` in (default: the current directory).

    Returns
    -------
    pathlib.Path
        The directory, resolved.

    Raises
    ------
    ValueError
        If ``explicit`` is not a directory, or no ``notebooks`` directory is found.

    Notes
    -----
    A wheel of qlearn does not ship the notebooks (they live in the repository), so there is no
    third fallback: run ``qlearn serve`` from a clone, or pass ``--notebooks``.
    """
    if explicit is not None:
        p = Path(explicit).expanduser()
        if not p.is_dir():
            raise ValueError(f"notebooks must be an existing directory, got {str(explicit)!r}")
        return p.resolve()
    here = Path(cwd) if cwd is not None else Path.cwd()
    p = here / "notebooks"
    if p.is_dir():
        return p.resolve()
    raise ValueError(f"no notebooks directory found: {str(p)!r} does not exist; pass --notebooks DIR "
                     "(run qlearn serve from a clone of the course repository)")


@dataclass
class ServeOptions:
    """What ``qlearn serve`` was asked for; :func:`voila_config` turns it into Voila settings.

    ``preheat`` lists the notebooks (relative to the notebooks directory) that get a kernel
    started and the notebook executed before anyone asks, ``pool_size`` kernels each.
    """

    host: str = "127.0.0.1"
    port: int = 8866
    open_browser: bool = True
    timeout: int = EXECUTE_TIMEOUT
    cull_idle_timeout: int = CULL_IDLE_TIMEOUT
    cull_interval: int = CULL_INTERVAL
    preheat: list[str] = field(default_factory=lambda: [LANDING])  # qlearn serve's default: all
    pool_size: int = 1
    #: Ready kernels for the landing page, a lesson in use and the lesson after it (qlearn.server.pools).
    pool_burst: int = POOL_BURST
    cached_plotly: bool = True
    #: plotly's widget module, relative to the base URL, when it is served as a file: the page
    #: template then starts loading it before any widget exists (see the ``qlearn`` template).
    plotly_module: str | None = None
    #: Host names the server answers to besides localhost, 127.0.0.1 and ::1 (``--allow-host``).
    allow_hosts: tuple = ()
    #: Most kernels at once, pre-heated pool included; 0 derives it from the machine's memory.
    max_kernels: int = 0
    #: Most kernels one client address holds at once; 0 for no limit. Not applied to 127.0.0.1 and ::1
    #: (this machine's browser, or a reverse proxy on it).
    max_kernels_per_client: int = 10
    #: Seconds a sent page has to connect to its kernel before the kernel is freed.
    unconnected_timeout: int = UNCONNECTED_TIMEOUT

    def __post_init__(self):
        if not isinstance(self.port, int) or not 1 <= self.port <= 65535:
            raise ValueError(f"port must be an integer in [1, 65535], got {self.port!r}")
        if not 1 <= self.timeout <= 3600:
            raise ValueError(f"timeout must be in [1, 3600] seconds, got {self.timeout!r}")
        if self.cull_idle_timeout < 0 or self.cull_interval <= 0:
            raise ValueError("cull_idle_timeout must be >= 0 and cull_interval > 0 seconds, got "
                             f"{self.cull_idle_timeout!r} and {self.cull_interval!r}")
        if not isinstance(self.pool_size, int) or not 0 <= self.pool_size <= MAX_POOL_SIZE:
            raise ValueError(f"pool_size must be an integer in [0, {MAX_POOL_SIZE}], got {self.pool_size!r}")
        if not isinstance(self.pool_burst, int) or not 1 <= self.pool_burst <= MAX_POOL_SIZE:
            raise ValueError(f"pool_burst must be an integer in [1, {MAX_POOL_SIZE}], got {self.pool_burst!r}")
        if not isinstance(self.unconnected_timeout, int) or not 1 <= self.unconnected_timeout <= 3600:
            raise ValueError(f"unconnected_timeout must be an integer in [1, 3600] seconds, "
                             f"got {self.unconnected_timeout!r}")
        if not isinstance(self.max_kernels, int) or not 0 <= self.max_kernels <= MAX_KERNELS:
            raise ValueError(f"max_kernels must be an integer in [0, {MAX_KERNELS}] (0: from memory), "
                             f"got {self.max_kernels!r}")
        if not isinstance(self.max_kernels_per_client, int) or not 0 <= self.max_kernels_per_client <= MAX_KERNELS:
            raise ValueError(f"max_kernels_per_client must be an integer in [0, {MAX_KERNELS}] (0: no limit), "
                             f"got {self.max_kernels_per_client!r}")
        from .server.hosts import normalize_allowed

        self.allow_hosts = normalize_allowed(self.allow_hosts)


def figure_pages(lessons=None) -> list[str]:
    """Stems of the lessons whose pages draw figures (their explorers, ``qlearn.course.Timing``).

    Examples
    --------
    >>> pages = figure_pages()
    >>> "00_index" in pages, "05_snr" in pages
    (False, True)
    """
    from .course import LESSONS

    return [Path(le.file).stem for le in (LESSONS if lessons is None else lessons)
            if le.time is not None and le.time.explorers > 0]


def voila_config(options: ServeOptions | None = None, notebooks_dir: str | os.PathLike | None = None):
    """The traitlets configuration ``qlearn serve`` hands to Voila.

    Parameters
    ----------
    options : ServeOptions or None
        Defaults: loopback, port 8866, landing page pre-heated.
    notebooks_dir : path or None
        Used to keep only the pre-heated notebooks that exist (a pool for a missing notebook
        would fail at start-up).

    Returns
    -------
    traitlets.config.Config

    Examples
    --------
    >>> c = voila_config(ServeOptions(open_browser=False))
    >>> c.VoilaConfiguration.template, c.VoilaConfiguration.show_tracebacks, c.VoilaExecutor.timeout
    ('qlearn', False, 60)
    """
    from traitlets.config import Config

    o = options or ServeOptions()
    c = Config()
    c.Voila.ip = o.host
    c.Voila.port = o.port
    c.Voila.port_retries = 0  # the URL a teacher hands out must be the one asked for
    c.Voila.open_browser = o.open_browser
    # Voila's default: no login. Kernels take no code from pages (only widget messages, checked by
    # qlearn.server.websocket), but anyone who reaches the server can use it: see docs/hosting.md.
    c.Voila.token = ""

    v = c.VoilaConfiguration
    v.template = TEMPLATE
    v.allow_template_override = "NO"  # a notebook's metadata cannot switch back to a CDN template
    v.theme = "light"
    v.show_tracebacks = False
    v.strip_sources = True
    v.file_denylist = [r".*\.(ipynb|py|pyc|json|yml|yaml|toml|cfg|env|sh)"]
    v.progressive_rendering = False  # incompatible with pre-heated kernels
    # Only the front-end extensions the lessons use. Voila loads every installed one into every
    # page otherwise: jupyterlab-plotly's renderer alone is a second 4.7 MB copy of plotly.js that
    # each page fetches and runs (the course's figures are FigureWidgets, drawn through anywidget).
    v.extension_allowlist = list(FRONTEND_EXTENSIONS)
    v.extra_labextensions_path = [str(labextensions_root())]  # looked in first (Voila >= 0.5.12)
    # Formulas as MathML from the server (readable at once, no reflow when MathJax would typeset).
    c.VoilaExporter.markdown_renderer_class = "qlearn.server.mathml.MathMLMarkdownRenderer"
    # Read by the qlearn template. The page lengthens anywidget's 2 s module deadline (see
    # MODULE_DEADLINE_MS) and, when plotly's module is a file, imports it with the first explorer's
    # server-rendered preview (qlearn.viz.explorer.Explorer.preview), not on figure-less pages.
    q = {"module_deadline_ms": MODULE_DEADLINE_MS}
    # Previous / course map / next on every page, from qlearn.course.LESSONS (see course_nav).
    available = None
    if notebooks_dir is not None:
        available = {p.name for p in Path(notebooks_dir).glob("*.ipynb")}
    q["nav"] = course_nav(available=available)
    # Voila's styles from a stylesheet, not from a parser-blocking script (qlearn.server.voila_style)
    from .server.voila_style import stylesheet_matches

    q["style_css"] = stylesheet_matches()
    if o.plotly_module:
        q["plotly_module"] = o.plotly_module
        # Lessons with explorers (qlearn.course, checked against the notebooks by tests/test_course.py)
        # fetch plotly's module from the page's head, before the text above their first figure.
        q["figure_pages"] = figure_pages()
    v.resources = {"qlearn": q}

    e = c.VoilaExecutor
    e.timeout = o.timeout
    e.interrupt_on_timeout = False  # stop the page with a message; do not run the rest half-set-up
    e.cell_error_instruction = ERROR_INSTRUCTION
    e.cell_timeout_instruction = TIMEOUT_INSTRUCTION

    if os.name == "posix":
        # Kernels talk to the server over Unix sockets beside their connection files (readable by
        # this account only), not loopback TCP ports any local account could listen to; ipykernel
        # warns about unencrypted TCP in the log at every kernel start.
        c.KernelManager.transport = "ipc"
    k = c.MappingKernelManager
    k.cull_idle_timeout = o.cull_idle_timeout
    k.cull_interval = o.cull_interval
    k.cull_connected = False  # a learner with the tab open keeps the kernel
    k.cull_busy = False

    preheat = list(o.preheat) if o.pool_size > 0 else []
    if notebooks_dir is not None:
        preheat = [nb for nb in preheat if (Path(notebooks_dir) / nb).is_file()]
    v.preheat_kernel = bool(preheat)
    if preheat:
        pools = {"default": {"pool_size": 0}}
        pools.update({nb: {"pool_size": o.pool_size} for nb in preheat})
        v.default_pool_size = 0
        c.VoilaKernelManager.kernel_pools_config = pools
        # A taken kernel's replacement waits 1 s (Voila's default) or, when a ready kernel is left for
        # the next learner, 5 s (about when the page is drawn): qlearn.server.pools.refill_delay.
    return c


def voila_cli_args(options: ServeOptions | None = None, *, server_extension: bool = False) -> list[str]:
    """The same settings as command-line flags, for ``voila`` or ``jupyterhub-singleuser``.

    With ``server_extension=True`` only the settings the Voila *server extension* reads are
    returned (no ``Voila.*`` app options, no pre-heating: that exists only in standalone Voila),
    plus the kernel culling that Jupyter Server applies itself. One more server setting is needed
    there and cannot be given as a flag: see ``deploy/singleuser_config.py`` (MathJax).

    Examples
    --------
    >>> "--VoilaExecutor.timeout=60" in voila_cli_args()
    True
    >>> any(a.startswith("--Voila.") for a in voila_cli_args(server_extension=True))
    False
    """
    c = server_extension_config(options) if server_extension else voila_config(options)
    args = []

    for section in sorted(c):
        for key in sorted(c[section]):
            value = c[section][key]
            if section == "VoilaConfiguration" and key == "resources":
                continue  # a nested dict is no flag: set in a config file (deploy/singleuser_config.py)
            if isinstance(value, (list, tuple)):  # traitlets appends one item per repeated flag
                args.extend(f"--{section}.{key}={item}" for item in value)
                continue
            if isinstance(value, dict):
                text = json.dumps(value)
            elif isinstance(value, (bool, str)):
                text = str(value)
            else:
                text = repr(value)
            args.append(f"--{section}.{key}={text}")
    return args


def guard_config(options: ServeOptions | None = None, base=None):
    """The settings that make ``qlearn serve`` safe in front of a class (standalone Voila only).

    The kernel websocket takes only well-formed v1 frames and the widget messages the lessons need
    (:mod:`qlearn.server.websocket`, which also keeps kernel errors' tracebacks and stderr in the
    server log); kernels are capped per server and per client and freed when their page never
    connects or goes away (:mod:`qlearn.server.kernels`); a failing cell is logged with its lesson
    (:func:`qlearn.server.logs.log_cell_error`). The cap is at least the pre-heated pool plus two.

    Examples
    --------
    >>> c = guard_config(ServeOptions(max_kernels=30, max_kernels_per_client=4))
    >>> c.QlearnKernelManager.max_kernels, c.QlearnKernelManager.max_kernels_per_client
    (30, 4)
    >>> c.Voila.kernel_websocket_connection_class.__name__
    'GuardedKernelConnection'
    """
    from traitlets.config import Config

    from .server.kernels import QlearnKernelManager, default_max_kernels
    from .server.logs import log_cell_error
    from .server.websocket import GuardedKernelConnection

    o = options or ServeOptions()
    pools = dict(base.VoilaKernelManager.get("kernel_pools_config", {})) if base is not None else {}
    pooled = sum(int(v.get("pool_size", 0)) for v in pools.values())
    c = Config()
    c.VoilaConfiguration.multi_kernel_manager_class = QlearnKernelManager
    c.Voila.kernel_websocket_connection_class = GuardedKernelConnection
    c.QlearnKernelManager.max_kernels = max(o.max_kernels or default_max_kernels(), pooled + 2)
    c.QlearnKernelManager.max_kernels_per_client = o.max_kernels_per_client
    c.QlearnKernelManager.unconnected_timeout = float(o.unconnected_timeout)
    c.QlearnKernelManager.check_interval = float(max(1, min(10, o.unconnected_timeout // 4)))
    c.VoilaExecutor.on_cell_error = log_cell_error
    return c


def _malformed_path_is_404(cls):
    """``cls`` (a tornado StaticFileHandler) answering 404, not 500, to a path it cannot use: a NUL
    byte (``%00.png``: ``os.stat`` raises ValueError) or a template path without ``/static/``
    (Voila's template handler asserts)."""
    from tornado.web import HTTPError

    class Guarded(cls):
        async def get(self, path, include_body=True):
            if "\x00" in path:
                raise HTTPError(404)
            try:
                return await super().get(path, include_body)
            except (ValueError, AssertionError):
                raise HTTPError(404) from None

    Guarded.__name__ = Guarded.__qualname__ = f"Guarded{cls.__name__}"
    return Guarded


def _remove_at_exit(path) -> None:
    import atexit
    import shutil

    atexit.register(shutil.rmtree, str(path), True)


def make_app(notebooks_dir: str | os.PathLike, options: ServeOptions | None = None):
    """A configured, initialised (not started) Voila application serving ``notebooks_dir``.

    Sets ``JUPYTER_PATH`` in this process so Voila finds the ``qlearn`` template.
    """
    from tornado.web import GZipContentEncoding, RequestHandler
    from voila.app import Voila
    from voila.tornado.handler import TornadoVoilaHandler

    nb_dir = Path(notebooks_dir).resolve()
    if not nb_dir.is_dir():
        raise ValueError(f"notebooks_dir must be an existing directory, got {str(notebooks_dir)!r}")
    os.environ["JUPYTER_PATH"] = jupyter_path_with_template(os.environ.get("JUPYTER_PATH"))

    class LandingHandler(RequestHandler):
        """``/`` goes to the landing lesson when it exists, else to Voila's file tree."""

        def get(self):
            base = self.settings.get("base_url", "/")
            if (nb_dir / LANDING).is_file():
                self.redirect(base + "voila/render/" + LANDING)
            else:
                self.redirect(base + "voila/tree")

    class LessonHandler(TornadoVoilaHandler):
        """Voila's page handler, plus the kernel limits and the ``_xsrf`` cookie.

        Before Voila starts or takes a kernel, :meth:`QlearnKernelManager.admit` decides whether this
        client may have one (else a 503 or 429 page, see :mod:`qlearn.server.kernels`); the kernel
        a page got is recorded, so that one whose page never connects is freed within a minute.

        On closing a tab, Voila's page asks the server to shut its kernel down, sending the
        ``_xsrf`` cookie as proof of origin; Voila never sets that cookie, so the request is refused
        (403) and the kernel lingers until culled. Setting it here frees the kernel at once.
        """

        async def prepare(self, *args, **kwargs):
            result = super().prepare(*args, **kwargs)
            if result is not None:
                await result
            self.xsrf_token  # noqa: B018 -- reading it sets the cookie

        async def get(self, path=None):
            from .server.kernels import CLIENT, KernelLimitReached, PageRequest, busy_page

            km = self.kernel_manager
            keeper = getattr(km, "qlearn_pool_keeper", None)
            if keeper is not None:
                keeper.mark_opened(str(path))
            pool = list(getattr(km, "_pools", {}).get(path, []))  # Voila's pre-heated kernels (0.5.x)
            head = pool[0] if pool else None
            takes_pool = head is not None and head.done() and self.get_argument("template", None) is None \
                and self.get_argument("theme", None) is None
            request = PageRequest(client=self.request.remote_ip, lesson=str(path))
            try:
                if hasattr(km, "admit"):
                    km.admit(request, has_ready_kernel=takes_pool)
                if takes_pool and hasattr(km, "record_handout") and not head.cancelled() \
                        and head.exception() is None:  # the page's from now on (not the idle culler's)
                    kid = head.result().get("kernel_id")
                    if kid:
                        km.record_handout(kid, request.client, request.lesson)
                        request.kernel_ids.append(kid)
                CLIENT.set(request)
                if Path(str(path)).stem in preload_pages:
                    # plotly's module requested from the response's header, not when the parser reaches
                    # the head's <link rel=modulepreload> (a trace of lesson 01: before the first parse
                    # task instead of with it; no gain measured on loopback, docs/hosting.md)
                    self.set_header("Link", f"<{self.settings.get('base_url', '/')}{o.plotly_module}>; "
                                            "rel=modulepreload")
                await super().get(path)
            except KernelLimitReached as e:
                if self._headers_written:
                    raise
                self.log.warning("qlearn: refused %s to %s: %s", path, request.client, e)
                title = "The lesson server is full" if e.status == 503 else "Too many lessons open"
                self.clear()
                self.set_status(e.status)
                self.set_header("Retry-After", "60")
                self.set_header("Content-Type", "text/html; charset=utf-8")
                self.set_header("Cache-Control", "no-store")
                self.finish(busy_page(title, str(e)))
                return
            finally:
                if head is not None and head.done() and not head.cancelled() and head.exception() is None \
                        and head not in getattr(km, "_pools", {}).get(path, []):
                    kid = head.result().get("kernel_id")
                    if kid and hasattr(km, "record_handout") and kid not in request.kernel_ids:
                        km.record_handout(kid, request.client, request.lesson)
                        request.kernel_ids.append(kid)
                for kid in request.kernel_ids:
                    if hasattr(km, "page_sent"):
                        km.page_sent(kid)
                if hasattr(km, "release"):
                    km.release(request)

    bundle_name, bundle_body = plotly_bundle_name(), served_plotly_bundle()  # the name is the body's

    class BundleHandler(RequestHandler):
        """plotly's widget module at a versioned URL, cacheable for a year."""

        def get(self, name):
            if name != bundle_name:
                self.set_status(404)
                return
            self.set_header("Content-Type", "text/javascript; charset=utf-8")
            self.set_header("Cache-Control", "public, max-age=31536000, immutable")
            self.set_header("Access-Control-Allow-Origin", "*")  # localhost vs 127.0.0.1 pages
            self.write(bundle_body)

    class QlearnVoila(Voila):
        name = "qlearn-serve"
        qlearn_warm_up: tuple = (None, [], {})
        qlearn_keeper_args: dict | None = None

        def init_settings(self):
            """Voila's settings; the kernel manager exists from here on, and gets its pool keeper."""
            settings = super().init_settings()
            km = getattr(self, "kernel_manager", None)
            if self.qlearn_keeper_args and km is not None and hasattr(km, "_pools"):
                from .server.pools import PoolKeeper

                km.qlearn_pool_keeper = PoolKeeper(km, **self.qlearn_keeper_args)
            return settings
        qlearn_allow_hosts: tuple = ()
        qlearn_temp_dirs: list = []

        async def _warm_up(self):
            """Fill the pre-heat pools one notebook after another, the first (landing) one first.

            Voila starts every pool's kernels at once: with 14 lessons on 2 cores the landing page
            would wait for all of them (about 30 s here) instead of about 3 s for its own. The next
            notebook starts when the previous one's kernel has started *and* executed the notebook
            (a pool entry is ready, and handed out, as soon as its kernel started: otherwise every
            lesson executed at once and the first learners' pages waited for that storm).
            """
            import asyncio

            first, later, pools = self.qlearn_warm_up
            km = self.kernel_manager
            running = getattr(km, "_pools", {})  # Voila's pool tasks (0.5.x); without it, no waiting

            async def executed(nb):
                started = await asyncio.gather(*list(running.get(nb, [])), return_exceptions=True)
                renders = [r.get("task") for r in started if isinstance(r, dict) and r.get("task") is not None]
                await asyncio.gather(*renders, return_exceptions=True)

            await executed(first)
            for nb in later:
                km.kernel_pools_config[nb] = pools[nb]
                km.fill_if_needed(delay=0, notebook_name=nb)
                await executed(nb)
            self._start_keeper()

        def _start_keeper(self):
            """Every second from now on: the landing page, a lesson in use and the next one get
            their extra ready kernels, one at a time (qlearn.server.pools)."""
            from tornado.ioloop import PeriodicCallback

            from .server.pools import INTERVAL

            keeper = getattr(self.kernel_manager, "qlearn_pool_keeper", None)
            if keeper is not None and not keeper.started:
                keeper.started = True
                self.qlearn_keeper_callback = PeriodicCallback(keeper.tick, 1000 * INTERVAL)
                self.qlearn_keeper_callback.start()

        def start(self):
            from tornado.ioloop import IOLoop

            if self.qlearn_warm_up[1]:
                IOLoop.current().add_callback(self._warm_up)
            else:
                IOLoop.current().add_callback(self._start_keeper)
            super().start()

        def init_handlers(self):
            from jupyter_server.services.kernels.handlers import KernelHandler
            from tornado.routing import Rule
            from tornado.web import StaticFileHandler
            from voila.request_info_handler import RequestInfoSocketHandler
            from voila.tornado.kernel_websocket_handler import VoilaKernelWebsocketHandler

            from .server.hosts import HostPolicy, RefusedHost, RefusedHostHandler
            from .server.kernels import page_kernel_handler
            from .server.websocket import GuardedKernelWebsocketHandler, GuardedRequestInfoHandler

            # gzip every HTTP response (plotly.js: 4.8 MB -> 1.5 MB). `compress_response` in
            # Voila.tornado_settings is applied after the tornado Application exists, too late to
            # install the transform, so it is added here (the app exists when handlers are built).
            if GZipContentEncoding not in self.app.transforms:
                self.app.transforms.append(GZipContentEncoding)
            # First rule of all: a request for a Host name the server does not answer to gets 403,
            # pages and kernel websocket alike (qlearn.server.hosts).
            policy = HostPolicy(listen=self.ip, allowed=self.qlearn_allow_hosts)
            self.app.default_router.rules.insert(0, Rule(RefusedHost(policy), RefusedHostHandler))
            handlers = [(self.server_url.rstrip("/") + "/" + BUNDLE_ROUTE + r"([^/]+\.js)", BundleHandler)]
            for h in super().init_handlers():
                if len(h) >= 2 and h[1] is TornadoVoilaHandler:
                    h = (h[0], LessonHandler, *h[2:])
                elif len(h) >= 2 and h[1] is KernelHandler:
                    h = (h[0], page_kernel_handler(KernelHandler), *h[2:])
                elif len(h) >= 2 and h[1] is VoilaKernelWebsocketHandler:
                    h = (h[0], GuardedKernelWebsocketHandler, *h[2:])
                elif len(h) >= 2 and h[1] is RequestInfoSocketHandler:
                    h = (h[0], GuardedRequestInfoHandler, *h[2:])
                elif len(h) >= 2 and isinstance(h[1], type) and issubclass(h[1], StaticFileHandler):
                    h = (h[0], _malformed_path_is_404(h[1]), *h[2:])
                handlers.append(h)
            return [(self.server_url.rstrip("/") + "/?", LandingHandler), *handlers]

        def _handle_signal_stop(self, sig, frame):
            """SIGTERM: shut every kernel down (at most 10 s), then stop; Voila only stopped the loop."""
            self.log.info("qlearn: signal %s, shutting the kernels down and stopping", sig)
            ioloop = getattr(self, "ioloop", None)
            if ioloop is None:
                return super()._handle_signal_stop(sig, frame)
            ioloop.add_callback_from_signal(self._shutdown_and_stop)

        async def _shutdown_and_stop(self):
            import asyncio

            km = self.kernel_manager
            callback = getattr(self, "qlearn_keeper_callback", None)
            if callback is not None:
                callback.stop()
            if hasattr(km, "closing"):
                km.closing = True
                km.stop_reaper()
            try:
                await asyncio.wait_for(km.shutdown_all(now=True), timeout=10)
            except Exception as e:  # a kernel that would not die: the process exits anyway
                self.log.warning("qlearn: shutting kernels down: %s", type(e).__name__)
            self.ioloop.stop()

        def stop(self):
            try:
                super().stop()
            finally:
                for d in self.qlearn_temp_dirs:
                    import shutil

                    shutil.rmtree(d, ignore_errors=True)

    o = options or ServeOptions()
    temp_dirs = []
    if o.cached_plotly:  # every kernel this process starts runs the startup file
        startup = kernel_startup_dir()
        temp_dirs.append(startup)
        _remove_at_exit(startup)
        os.environ["IPYTHONDIR"] = str(startup)
        os.environ[BUNDLE_ENV] = BUNDLE_ROUTE + bundle_name
        o = replace(o, plotly_module=BUNDLE_ROUTE + bundle_name)
    preload_pages = set(figure_pages()) if o.plotly_module else set()

    # Kernels confirm no widget change back to the page (ipywidgets' echo): a served kernel has one
    # page, which needs no confirmation of what it sent; each slider step was sent back (figures'
    # browser reports included, ~10 kB a step).
    os.environ.update(KERNEL_ENV)
    config = voila_config(o, nb_dir)
    config.merge(guard_config(o, config))
    # every line with its time: a teacher reading the log after a class can tell when a page waited
    config.Application.log_format = LOG_FORMAT
    config.Application.log_datefmt = LOG_DATEFMT
    from .server.logs import install_cell_logging

    install_cell_logging()  # a cell past its timeout, or whose kernel died, is logged with its lesson too
    first, later, pools = staged_pools(config)
    if later:  # Voila fills every pool at once; the others are warmed one by one once `first` is
        config.VoilaKernelManager.kernel_pools_config = {k: v for k, v in pools.items() if k not in later}
    app = QlearnVoila(config=config)
    app.qlearn_warm_up = (first, later, pools)
    app.qlearn_allow_hosts = tuple(o.allow_hosts)
    app.qlearn_temp_dirs = temp_dirs
    base = {nb: int(v.get("pool_size", 0)) for nb, v in pools.items() if nb != "default"}
    if base and o.pool_burst > o.pool_size:  # lessons are numbered: file-name order is the course's
        app.qlearn_keeper_args = dict(base=base, burst=o.pool_burst, landing=LANDING if LANDING in base else None,
                                      order=sorted(base))
    app.initialize([str(nb_dir)])
    app.log.addFilter(_not_trust_warning)
    import logging

    guard_log = logging.getLogger("qlearn.serve")  # refusals, kernel stderr, failing cells
    guard_log.handlers = list(app.log.handlers)
    guard_log.setLevel(logging.INFO)
    guard_log.propagate = False
    if o.cached_plotly:
        from .server.plotly_bundle import bundle_file

        if not bundle_file()[1]:  # still works, just slower: say so once, with the way back
            guard_log.warning("qlearn: the installed plotly's widget module is not the one the trimmed "
                              "module was built from: sending plotly's full module (about 5 MB, 1-2 s "
                              "more per page); rebuild it with tools/plotly_bundle (README there)")
    return app


def _not_trust_warning(record) -> bool:
    """False for Jupyter Server's "Notebook X is not trusted", logged at every page view: a notebook's
    trust signature covers the JavaScript and HTML outputs saved in the file (the course commits no
    outputs, and the server runs every lesson afresh), so it says nothing to whoever reads the log.

    Examples
    --------
    >>> import logging
    >>> _not_trust_warning(logging.makeLogRecord({"msg": "Notebook %s is not trusted", "args": ("a",)}))
    False
    """
    return record.msg != "Notebook %s is not trusted"


def staged_pools(config) -> tuple[str | None, list[str], dict]:
    """Split a configuration's pre-heat pools into the one to fill at start (the landing page when
    it is pre-heated) and the ones to fill after it, in order; returns ``(first, later, pools)``.

    Examples
    --------
    >>> c = voila_config(ServeOptions(preheat=["01_a.ipynb", LANDING, "02_b.ipynb"]))
    >>> staged_pools(c)[:2]
    ('00_index.ipynb', ['01_a.ipynb', '02_b.ipynb'])
    """
    pools = dict(config.VoilaKernelManager.get("kernel_pools_config", {}))
    names = [k for k in pools if k != "default"]
    if not names:
        return None, [], pools
    first = LANDING if LANDING in names else names[0]
    return first, sorted(n for n in names if n != first), pools


def serve(notebooks_dir: str | os.PathLike, options: ServeOptions | None = None) -> None:
    """Serve ``notebooks_dir`` until interrupted (Ctrl-C or SIGTERM shut every kernel down)."""
    from .server.hosts import is_loopback

    o = options or ServeOptions()
    app = make_app(notebooks_dir, o)
    n = len(list(Path(notebooks_dir).glob("*.ipynb")))
    app.log.info("qlearn: serving %d notebook(s) from %s at http://%s:%d/ (landing page %s)",
                 n, Path(notebooks_dir).resolve(), o.host, o.port, LANDING)
    caps = app.config.QlearnKernelManager
    app.log.info("qlearn: at most %d kernels (pre-heated ones included), %s per client address; "
                 "answering to Host %s", caps.max_kernels, caps.max_kernels_per_client or "no limit",
                 ", ".join(["localhost", "127.0.0.1", "::1", *o.allow_hosts]))
    if not is_loopback(o.host):
        app.log.warning(public_host_warning(o.host, o.port))
    app.start()


def public_host_warning(host: str, port: int) -> str:
    """The start-up warning for a ``--host`` other than loopback.

    Examples
    --------
    >>> "no login" in public_host_warning("0.0.0.0", 8866)
    True
    """
    bar = "!" * 78
    return (f"\n{bar}\n"
            f"qlearn serve is listening on {host}:{port}, not on this machine only.\n"
            "There is no login and no TLS: anyone who can reach this address can open lessons, and\n"
            "enough of them can take every kernel and the machine's memory (the kernel caps only turn\n"
            "that into a 'server is full' page for everyone else). Traffic, cookies included, crosses\n"
            "the network in clear. For a class, put it behind the class server (deploy/, JupyterHub)\n"
            "or an authenticating TLS reverse proxy, and name the host learners use with --allow-host.\n"
            f"{bar}")


# ----------------------------------------------------------------------------- Binder

def server_extension_config(options: ServeOptions | None = None):
    """The settings of :func:`voila_config` that Voila's *server extension* reads (page template,
    executor, culling): no ``Voila.*`` app options and no pre-heating, which exist only in
    standalone Voila. For Binder's config file (through ``binder/start``) and, as flags, for the
    JupyterHub servers (:func:`voila_cli_args` with ``server_extension=True``).

    Examples
    --------
    >>> c = server_extension_config()
    >>> c.VoilaConfiguration.template, "Voila" in c, "preheat_kernel" in c.VoilaConfiguration
    ('qlearn', False, False)
    """
    from traitlets.config import Config

    full = voila_config(replace(options or ServeOptions(), preheat=[]))
    c = Config()
    for section in ("VoilaConfiguration", "VoilaExecutor", "MappingKernelManager", "KernelManager"):
        if section not in full:
            continue
        c[section] = Config({k: v for k, v in full[section].items()
                             if k not in ("preheat_kernel", "default_pool_size")})
    return c


def binder_env(config_dir: str | os.PathLike, where: str | os.PathLike | None = None,
               environ: dict | None = None) -> dict[str, str]:
    """Environment variables ``binder/start`` exports before Binder's Jupyter server starts.

    ``config_dir`` holds the ``jupyter_server_config.py`` to add to ``JUPYTER_CONFIG_PATH``;
    plotly's module and the kernels' startup file are written under ``where`` (a new temporary
    directory by default).
    """
    import tempfile

    env = os.environ if environ is None else environ
    root = Path(where) if where is not None else Path(tempfile.mkdtemp(prefix="qlearn-binder-"))
    static_dir, bundle_path = bundle_static_dir(root / "static")
    config_path = [str(Path(config_dir).resolve())]
    config_path += [p for p in env.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep) if p and p not in config_path]
    return {
        "JUPYTER_PATH": jupyter_path_with_template(env.get("JUPYTER_PATH")),
        "JUPYTER_CONFIG_PATH": os.pathsep.join(config_path),
        "IPYTHONDIR": str(kernel_startup_dir(root / "ipython")),
        BUNDLE_ENV: bundle_path,
        STATIC_ENV: str(static_dir),
        **KERNEL_ENV,
    }


#: Environment of served kernels (``qlearn serve``, Binder, the class server): ipywidgets' echo off.
KERNEL_ENV = {"JUPYTER_WIDGETS_ECHO": "0"}

#: Environment variable naming the directory Jupyter Server serves plotly's module from (Binder).
STATIC_ENV = "QLEARN_STATIC_DIR"


def _main(argv: list[str] | None = None) -> int:
    """``python -m qlearn.serve --binder-env CONFIG_DIR``: print ``export`` lines for a shell."""
    import argparse
    import shlex

    ap = argparse.ArgumentParser(prog="python -m qlearn.serve")
    ap.add_argument("--binder-env", metavar="CONFIG_DIR", required=True)
    args = ap.parse_args(argv)
    for key, value in binder_env(args.binder_env).items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(_main())

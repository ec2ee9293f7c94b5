"""qlearn.serve: the Voila configuration behind `qlearn serve`, checked against Voila's own classes.

A misspelt section or trait name in a traitlets Config is silently ignored, so every setting is
read back through the class that consumes it (VoilaExecutor, the kernel managers, Voila).
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from struct import pack as struct_pack

import pytest

from qlearn import serve

TEMPLATE_DIR = serve.template_root() / "voila" / "templates" / serve.TEMPLATE


def test_defaults_are_safe_for_a_classroom():
    c = serve.voila_config()
    assert c.Voila.ip == "127.0.0.1" and c.Voila.port == 8866
    assert 30 <= c.VoilaExecutor.timeout <= 60
    assert c.VoilaConfiguration.show_tracebacks is False
    assert c.VoilaConfiguration.strip_sources is True
    assert c.VoilaConfiguration.template == "qlearn"
    assert c.VoilaConfiguration.allow_template_override == "NO"
    assert c.MappingKernelManager.cull_idle_timeout > 0 and c.MappingKernelManager.cull_interval > 0
    assert c.VoilaConfiguration.preheat_kernel is True
    assert c.VoilaKernelManager.kernel_pools_config == {"default": {"pool_size": 0},
                                                        serve.LANDING: {"pool_size": 1}}


def test_denylist_keeps_notebooks_and_code_private():
    deny = serve.voila_config().VoilaConfiguration.file_denylist
    for name in ("00_index.ipynb", "secret.py", "config.json", "a/b/c.yaml"):
        assert any(re.fullmatch(p, name) for p in deny), name
    assert not any(re.fullmatch(p, "figure.png") for p in deny)


def _voila_kernel_manager_class():
    from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
    from voila.voila_kernel_manager import voila_kernel_manager_factory

    return voila_kernel_manager_factory(AsyncMappingKernelManager, True, 0)


def test_every_setting_names_a_real_trait():
    from voila.app import Voila
    from voila.configuration import VoilaConfiguration
    from voila.execute import VoilaExecutor
    from voila.exporter import VoilaExporter

    classes = {"Voila": Voila, "VoilaConfiguration": VoilaConfiguration, "VoilaExecutor": VoilaExecutor,
               "VoilaKernelManager": _voila_kernel_manager_class(), "VoilaExporter": VoilaExporter}
    from jupyter_server.services.kernels.kernelmanager import MappingKernelManager

    classes["MappingKernelManager"] = MappingKernelManager
    from jupyter_client.manager import KernelManager

    classes["KernelManager"] = KernelManager
    c = serve.voila_config()
    for section in c:
        cls = classes[section]
        traits = cls.class_traits(config=True)
        for key in c[section]:
            assert key in traits, f"{section}.{key} is not a configurable trait of {cls.__name__}"


def test_settings_reach_the_objects_that_use_them():
    """Read back through instances: the executor, the kernel manager, Voila's configuration."""
    import nbformat
    from voila.configuration import VoilaConfiguration
    from voila.execute import VoilaExecutor

    c = serve.voila_config(serve.ServeOptions(timeout=45, cull_idle_timeout=300, cull_interval=30))
    ex = VoilaExecutor(nbformat.v4.new_notebook(), config=c)
    assert ex.timeout == 45 and ex.interrupt_on_timeout is False
    assert "teacher" in ex.cell_error_instruction and "--show_tracebacks" not in ex.cell_error_instruction
    from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager

    mkm = AsyncMappingKernelManager(config=c)
    assert (mkm.cull_idle_timeout, mkm.cull_interval, mkm.cull_connected) == (300, 30, False)
    vc = VoilaConfiguration(config=c)
    assert (vc.template, vc.show_tracebacks, vc.strip_sources) == ("qlearn", False, True)


def test_preheat_only_existing_notebooks(tmp_path):
    c = serve.voila_config(notebooks_dir=tmp_path)  # no 00_index.ipynb there
    assert c.VoilaConfiguration.preheat_kernel is False
    (tmp_path / serve.LANDING).write_text("{}")
    assert serve.voila_config(notebooks_dir=tmp_path).VoilaConfiguration.preheat_kernel is True
    none = serve.voila_config(serve.ServeOptions(preheat=[]), tmp_path)
    assert none.VoilaConfiguration.preheat_kernel is False


@pytest.mark.parametrize("kwargs, match", [
    (dict(port=0), "port"), (dict(port=70000), "port"), (dict(timeout=0), "timeout"),
    (dict(cull_interval=0), "cull_interval"), (dict(pool_size=serve.MAX_POOL_SIZE + 1), "pool_size"),
])
def test_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        serve.ServeOptions(**kwargs)


def test_find_notebooks_dir(tmp_path):
    with pytest.raises(ValueError, match="no notebooks directory"):
        serve.find_notebooks_dir(cwd=tmp_path)
    (tmp_path / "notebooks").mkdir()
    assert serve.find_notebooks_dir(cwd=tmp_path) == (tmp_path / "notebooks").resolve()
    other = tmp_path / "lessons"
    other.mkdir()
    assert serve.find_notebooks_dir(other, cwd=tmp_path) == other.resolve()
    with pytest.raises(ValueError, match="notebooks must be an existing directory"):
        serve.find_notebooks_dir(tmp_path / "missing")


def test_jupyter_path_prepends_template_once():
    root = str(serve.template_root())
    assert serve.jupyter_path_with_template(None) == root
    p = serve.jupyter_path_with_template(f"/a:{root}:/b")
    assert p.split(":") == [root, "/a", "/b"]


def test_template_found_by_voila_and_extends_lab():
    from jupyter_core.paths import jupyter_path
    from voila.paths import collect_template_paths

    assert json.loads((TEMPLATE_DIR / "conf.json").read_text())["base_template"] == "lab"
    paths = collect_template_paths(["voila", "nbconvert"], serve.TEMPLATE, prune=True,
                                   root_dirs=[str(serve.template_root()), *jupyter_path()])
    assert Path(paths[0]) == TEMPLATE_DIR
    assert any(p.endswith("voila/templates/lab") for p in paths)


def test_template_has_no_external_link():
    text = (TEMPLATE_DIR / "index.html.j2").read_text()
    text = re.sub(r"{%.*?%}|{#.*?#}", "", text, flags=re.S)  # the template's own filter names such links
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)


def test_cli_args_mirror_the_config():
    args = serve.voila_cli_args()
    assert "--VoilaExecutor.timeout=60" in args
    assert "--VoilaConfiguration.template=qlearn" in args
    assert "--VoilaConfiguration.show_tracebacks=False" in args
    ext = serve.voila_cli_args(server_extension=True)
    assert not any(a.startswith(("--Voila.", "--VoilaKernelManager.")) for a in ext)
    assert not any("preheat" in a for a in ext)
    assert "--MappingKernelManager.cull_idle_timeout=600" in ext


@pytest.mark.parametrize("server_extension", [False, True])
def test_cli_args_parse_back_to_the_same_settings(server_extension):
    """The flags handed to jupyterhub-singleuser / voila mean what voila_config means: parse them
    as Jupyter Server does, then read each value back through the class that consumes it."""
    import nbformat
    from jupyter_server.serverapp import ServerApp
    from voila.app import Voila
    from voila.configuration import VoilaConfiguration
    from voila.execute import VoilaExecutor
    from voila.exporter import VoilaExporter

    app = ServerApp()
    app.parse_command_line(serve.voila_cli_args(server_extension=server_extension))
    parsed, expected = app.config, serve.voila_config()
    from jupyter_client.ioloop.manager import AsyncIOLoopKernelManager
    from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager

    readers = {
        "Voila": lambda: Voila(config=parsed),
        "VoilaConfiguration": lambda: VoilaConfiguration(config=parsed),
        "VoilaExecutor": lambda: VoilaExecutor(nbformat.v4.new_notebook(), config=parsed),
        "MappingKernelManager": lambda: AsyncMappingKernelManager(config=parsed),
        "KernelManager": lambda: AsyncIOLoopKernelManager(config=parsed),
        "VoilaExporter": lambda: VoilaExporter(config=parsed),
    }
    seen = 0
    for section in parsed:
        for key in parsed[section]:
            if section == "VoilaKernelManager":  # built by Voila at run time; its one Dict is JSON
                value = json.loads(str(parsed[section][key])) if key == "kernel_pools_config" else None
                if value is None:
                    value = parsed[section][key]
                    value = type(expected[section][key])(str(value)) if hasattr(value, "get_value") else value
            else:
                value = getattr(readers[section](), key)
                if isinstance(value, type):  # a Type trait set by its import string
                    value = f"{value.__module__}.{value.__qualname__}"
            assert value == expected[section][key], (section, key, value)
            seen += 1

    assert seen >= 14


# ----------------------------------------------------------------------------- a real server, no browser

def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


@pytest.mark.slow
def test_served_page_is_offline_and_private(tmp_path):
    """`qlearn serve` on loopback: `/` lands on 00_index, the page links nothing external, a failing
    cell shows the plain message (no traceback, no source), the notebook file itself is not served."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# Landing"), nbformat.v4.new_code_cell("x = 'hidden source'"),
                nbformat.v4.new_code_cell("raise RuntimeError('internal detail 42')")]
    nbformat.write(nb, tmp_path / serve.LANDING)
    lesson = nbformat.v4.new_notebook()  # a lesson the course lists as drawing figures, by its name
    lesson.metadata["kernelspec"] = nb.metadata["kernelspec"]
    lesson.cells = [nbformat.v4.new_markdown_cell("# A lesson with figures")]
    figure_lesson = serve.figure_pages()[0] + ".ipynb"
    nbformat.write(lesson, tmp_path / figure_lesson)
    port = _free_port()
    log = open(tmp_path / "serve.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "qlearn.cli", "serve", "--no-browser", "--port", str(port),
                             "--notebooks", str(tmp_path)], stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/"
    try:
        opener = urllib.request.build_opener(_NoRedirect)
        deadline = time.monotonic() + 90
        while True:
            try:
                opener.open(base, timeout=5)
                raise AssertionError("/ should redirect")
            except urllib.error.HTTPError as e:
                if e.code in (301, 302):
                    assert e.headers["Location"].endswith("voila/render/" + serve.LANDING)
                    break
                raise
            except OSError:
                assert proc.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.3)
        with urllib.request.urlopen(base + "voila/render/" + serve.LANDING, timeout=120) as r:
            page = r.read().decode()
            assert r.headers["Link"] is None  # no figure: plotly's module is not preloaded
        # a lesson with figures: the module is asked for by the response's header (before the page
        # is parsed) and by its head, at the URL the figures import
        bundle_url = "/" + serve.BUNDLE_ROUTE + serve.plotly_bundle_name()
        with urllib.request.urlopen(base + "voila/render/" + figure_lesson, timeout=120) as r:
            assert r.headers["Link"] == f"<{bundle_url}>; rel=modulepreload"
            assert f'<link rel="modulepreload" href="{bundle_url}">' in r.read().decode()
        links = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)""", page)
        external = [u for u in links if re.match(r"(https?:)?//", u) and "127.0.0.1" not in u]
        assert not external, external
        assert "qlearn-watchdog" in page
        # anywidget's module deadline lengthened; plotly's module known to the page by the same URL
        # the figures' loader uses (one module instance per page), but not preloaded: this page has
        # no figure (tests/browser/test_first_paint.py checks it is never fetched); Voila's front end
        # started by the first-view script, not by a plain <script src>
        assert f"ms === 2000 ? {serve.MODULE_DEADLINE_MS} : ms" in page
        assert f'var plotlyUrl = "{bundle_url}";' in page
        assert "modulepreload" not in page
        assert 'window.qlearnStartVoila("/voila/static/voila.js", 4000);' in page
        assert not re.search(r'<script src="[^"]*voila\.js">', page)
        assert page.index("qlearn-module-deadline") < page.index("qlearn-ssr") < page.index("qlearnStartVoila(")
        config = json.loads(re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                                      page, re.S).group(1))
        loaded = {e["name"] for e in config.get("federated_extensions", [])}
        assert loaded == set(serve.FRONTEND_EXTENSIONS), loaded
        assert "hidden source" not in page and "internal detail 42" not in page and "Traceback" not in page
        assert "could not run" in page
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(base + "voila/files/" + serve.LANDING, timeout=10)
        assert err.value.code in (403, 404)
        # plotly's widget module: served once, cacheable, compressed on request
        req = urllib.request.Request(base + serve.BUNDLE_ROUTE + serve.plotly_bundle_name(),
                                     headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(req, timeout=30) as r:
            body = r.read()
            assert "immutable" in r.headers["Cache-Control"]
            assert r.headers["Content-Encoding"] == "gzip"
        import gzip

        served = serve.quiet_plotly_bundle(serve.plotly_bundle_file().read_text("utf-8"))
        assert gzip.decompress(body).decode() == served
        assert len(body) < 0.5 * serve.plotly_bundle_file().stat().st_size
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(base + serve.BUNDLE_ROUTE + "other.js", timeout=10)
        assert err.value.code == 404
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def test_cached_plotly_bundle_replaces_the_inline_module(monkeypatch):
    """FigureWidgets built after the switch carry a small loader instead of 5 MB of plotly.js."""
    import plotly.graph_objects as go
    from plotly.basewidget import BaseFigureWidget

    monkeypatch.setattr(BaseFigureWidget, "_esm", BaseFigureWidget._esm)  # restored after the test
    monkeypatch.delenv(serve.BUNDLE_ENV, raising=False)
    assert serve.use_cached_plotly_bundle() is False
    big = len(go.FigureWidget()._esm)
    assert big > 1_000_000
    monkeypatch.setenv(serve.BUNDLE_ENV, serve.BUNDLE_ROUTE + serve.plotly_bundle_name())
    assert serve.use_cached_plotly_bundle() is True
    esm = go.FigureWidget()._esm
    assert len(esm) < 1000 and serve.BUNDLE_ROUTE + serve.plotly_bundle_name() in esm
    assert "export default" in esm and "await import(" in esm


def test_page_loads_only_the_extensions_lessons_use():
    """(The served page's config is checked to list exactly these in the test above: an
    allow-listed name that is not installed would be missing there.)"""
    assert serve.voila_config().VoilaConfiguration.extension_allowlist == list(serve.FRONTEND_EXTENSIONS)
    assert "jupyterlab-plotly" not in serve.FRONTEND_EXTENSIONS  # a second plotly.js per page


def test_anywidget_still_has_the_deadline_the_template_lengthens():
    """The template rewrites AbortSignal.timeout(2000) calls: anywidget's front end must still make
    exactly that call, right before its "Failed to initialize model" error, and nothing else in the
    installed front-end extensions may call AbortSignal.timeout(2000). If an upgrade changes this,
    revisit the template's qlearn-module-deadline script."""
    share = Path(sys.prefix) / "share" / "jupyter" / "labextensions"
    calls = {}
    for js in share.rglob("*.js"):
        text = js.read_text(errors="replace")
        n = text.count("AbortSignal.timeout(2000)")
        if n:
            calls[js.relative_to(share).parts[0]] = calls.get(js.relative_to(share).parts[0], 0) + n
            i = text.index("AbortSignal.timeout(2000)")
            assert "Failed to initialize model" in text[i:i + 300], js
    assert set(calls) == {"anywidget"}, calls


def test_served_kernels_skip_the_slow_iri_grammar(tmp_path):
    """The kernel startup file blocks rfc3987_syntax (a 2 s Lark grammar compile on import that
    plotly -> nbformat -> jsonschema pulls in); jsonschema and FigureWidgets keep working."""
    d = serve.kernel_startup_dir(tmp_path)
    startup = d / "profile_default" / "startup" / "00-qlearn-plotly.py"
    code = (startup.read_text() + "\nimport sys, jsonschema, plotly.graph_objects as go\n"
            "go.FigureWidget()\n"
            "jsonschema.validate({'a': 'x'}, {'properties': {'a': {'type': 'string', 'format': 'iri'}}},"
            " format_checker=jsonschema.FormatChecker())\n"
            "print(sys.modules.get('rfc3987_syntax', 'absent'))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "None"  # blocked, and nothing failed for it
    assert serve.block_slow_imports(()) == []


# ----------------------------------------------------------------------------- hardening (issue 16)

def test_guard_settings_name_real_traits():
    from jupyter_server.services.kernels.kernelmanager import MappingKernelManager
    from voila.app import Voila
    from voila.configuration import VoilaConfiguration
    from voila.execute import VoilaExecutor

    from qlearn.server.kernels import QlearnKernelManager

    classes = {"Voila": Voila, "VoilaConfiguration": VoilaConfiguration, "VoilaExecutor": VoilaExecutor,
               "MappingKernelManager": MappingKernelManager, "QlearnKernelManager": QlearnKernelManager}
    c = serve.guard_config(serve.ServeOptions())
    for section in c:
        traits = classes[section].class_traits(config=True)
        for key in c[section]:
            assert key in traits, f"{section}.{key} is not a configurable trait"


def test_the_internals_the_guard_relies_on_exist():
    """qlearn.serve subclasses or reads these; a Voila or jupyter_server upgrade that renames one
    must fail here, not silently drop a protection."""
    import inspect

    import nbclient
    from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
    from tornado.web import Application
    from voila.app import Voila
    from voila.notebook_renderer import NotebookRenderer
    from voila.tornado.kernel_websocket_handler import VoilaKernelWebsocketHandler
    from voila.voila_kernel_manager import voila_kernel_manager_factory

    for name in ("handle_incoming_message", "_on_zmq_reply", "_on_error", "subprotocol"):
        assert hasattr(ZMQChannelsWebsocketConnection, name), name
    assert "VoilaKernelWebsocketHandler" in inspect.getsource(Voila.init_handlers)
    assert "TornadoVoilaHandler" in inspect.getsource(Voila.init_handlers)
    assert hasattr(VoilaKernelWebsocketHandler, "select_subprotocol")
    assert "_handle_signal_stop" in inspect.getsource(Voila) and hasattr(Voila, "stop")
    assert "kernel_websocket_connection_class" in Voila.class_traits(config=True)
    assert "notebook_path" in inspect.getsource(NotebookRenderer.__init__)
    assert "on_cell_error" in nbclient.NotebookClient.class_traits(config=True)
    assert "default_router" in inspect.getsource(Application.__init__)
    km = voila_kernel_manager_factory(serve_guard_km(), True, 0)
    assert "_pools" in inspect.getsource(km.__init__) and "pop(0)" in inspect.getsource(km.get_rendered_notebook)


def serve_guard_km():
    from qlearn.server.kernels import QlearnKernelManager

    return QlearnKernelManager


def _frame_ref(channel, parts):
    """A v1 frame built by jupyter_server's own serializer (the reference)."""
    from jupyter_server.services.kernels.connection.base import serialize_msg_to_ws_v1

    return serialize_msg_to_ws_v1(list(parts), channel)


def test_v1_frames_from_jupyter_server_parse_to_the_same_parts():
    from jupyter_server.services.kernels.connection.base import deserialize_msg_from_ws_v1

    from qlearn.server.frames import build_v1_frame, parse_v1_frame

    for n_buffers in range(0, 5):
        buffers = [bytes([i]) * i for i in range(n_buffers)]
        parts = [b'{"msg_type": "comm_msg"}', b"{}", b"{}", b'{"comm_id": "a"}', *buffers]
        frame = _frame_ref("shell", parts)
        assert build_v1_frame("shell", parts) == frame
        assert parse_v1_frame(frame) == deserialize_msg_from_ws_v1(frame) == ("shell", parts)


def test_every_truncation_or_extension_of_a_frame_is_refused():
    from qlearn.server.frames import FrameError, parse_v1_frame

    frame = _frame_ref("shell", [b"{}", b"{}", b"{}", b"{}", b"xyz"])
    for cut in range(len(frame)):
        with pytest.raises(FrameError):
            parse_v1_frame(frame[:cut])
    with pytest.raises(FrameError):
        parse_v1_frame(frame + b"\0")


@pytest.mark.parametrize("frame, match", [
    (struct_pack("<Q", 2**63 - 1), "part count"),
    (struct_pack("!i", 10**7) + b"\0" * 16, "part count"),
    (b"\x06" + b"\0" * 6, "no part count"),
    (struct_pack("<7Q", 6, 56, 61, 61, 61, 61, 10**12), "last offset"),
    (struct_pack("<7Q", 6, 56, 61, 60, 61, 61, 61) + b"shell", "decrease"),
    (struct_pack("<7Q", 6, 48, 61, 61, 61, 61, 61) + b"shell", "first offset"),
    ("{}", "text frame"),
])
def test_hostile_frames_are_refused_before_anything_is_allocated(frame, match):
    from qlearn.server.frames import FrameError, parse_v1_frame

    with pytest.raises(FrameError, match=match):
        parse_v1_frame(frame)


def test_random_bytes_never_crash_the_parser():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from qlearn.server.frames import FrameError, parse_v1_frame

    @settings(max_examples=300, deadline=None)
    @given(st.binary(max_size=200))
    def check(data):
        try:
            channel, parts = parse_v1_frame(data)
        except FrameError:
            return
        assert len(data) >= 56 and 4 <= len(parts) <= 20 and sum(map(len, parts)) + len(channel) <= len(data)

    check()


def _msg(msg_type, content, metadata=None):
    import json as _json

    return [_json.dumps(x).encode() for x in ({"msg_type": msg_type, "msg_id": "m1"}, {}, metadata or {}, content)]


CONTROL = {"comm_id": "c", "target_name": "jupyter.widget.control"}


@pytest.mark.parametrize("channel, parts, ok", [
    ("shell", _msg("comm_msg", {"comm_id": "a", "data": {"method": "update"}}), True),
    ("shell", _msg("comm_close", {"comm_id": "a"}), True),
    ("shell", _msg("kernel_info_request", {}), True),
    ("shell", _msg("comm_info_request", {}), True),
    ("shell", _msg("comm_open", CONTROL, {"version": "1.0.0"}), True),
    ("shell", _msg("comm_open", CONTROL), False),
    ("shell", _msg("comm_open", CONTROL, {"version": "2.0.0"}), False),
    ("shell", _msg("comm_open", {"comm_id": "c", "target_name": "jupyter.widget"}), False),
    ("shell", _msg("execute_request", {"code": "import os"}), False),
    ("shell", _msg("shutdown_request", {}), False),
    ("control", _msg("kernel_info_request", {}), False),
    ("iopub", _msg("comm_msg", {"comm_id": "a"}), False),
    ("", _msg("comm_msg", {"comm_id": "a"}), False),
    ("shell", [b"[]", b"{}", b"{}", b"{}"], False),
    ("shell", [b'{"msg_type": "comm_msg", "msg_id": "m", "pad": "' + b"x" * 5000 + b'"}', b"{}", b"{}", b"{}"], False),
    ("shell", _msg("comm_msg", {"comm_id": 5}), False),
    ("shell", _msg("comm_msg", {"data": {}}), False),
    ("shell", _msg("comm_msg", {"comm_id": "a", "data": [1]}), False),
    ("shell", [b'{"msg_type": "comm_info_request"}', b"{}", b"{}", b"{}"], False),
])
def test_message_policy(channel, parts, ok):
    from qlearn.server.frames import FrameError, check_message

    if ok:
        check_message(channel, parts)
    else:
        with pytest.raises(FrameError):
            check_message(channel, parts)


@pytest.mark.parametrize("host, listen, allowed, ok", [
    ("127.0.0.1:8866", "127.0.0.1", (), True), ("localhost:8866", "127.0.0.1", (), True),
    ("[::1]:8866", "127.0.0.1", (), True), ("127.0.0.1", "127.0.0.1", (), True),
    ("evil.example:8866", "127.0.0.1", (), False), ("localhost.evil.example:8866", "127.0.0.1", (), False),
    ("127.0.0.1.nip.io:8866", "127.0.0.1", (), False), ("10.0.0.5:8866", "127.0.0.1", (), False),
    ("", "127.0.0.1", (), False),
    ("class.example.org", "0.0.0.0", ("class.example.org",), True),
    ("CLASS.example.org:443", "0.0.0.0", ("class.example.org",), True),
    ("10.0.0.5:8866", "0.0.0.0", (), True), ("evil.example:8866", "0.0.0.0", ("class.example.org",), False),
])
def test_host_policy(host, listen, allowed, ok):
    from qlearn.server.hosts import HostPolicy

    assert HostPolicy(listen=listen, allowed=allowed).allows(host) is ok


def _km(**traits):
    from traitlets.config import Config

    from qlearn.server.kernels import QlearnKernelManager

    c = Config()
    for k, v in traits.items():
        setattr(c.QlearnKernelManager, k, v)
    return QlearnKernelManager(config=c)


def test_kernel_caps_count_pages_in_flight_and_running_kernels():
    from qlearn.server.kernels import KernelLimitReached, PageRequest

    km = _km(max_kernels=3, max_kernels_per_client=2)
    km.start_reaper = lambda: None  # no event loop here
    a1, a2, a3 = (PageRequest("10.0.0.1", "01.ipynb") for _ in range(3))
    km.admit(a1, has_ready_kernel=False)
    km.admit(a2, has_ready_kernel=False)
    with pytest.raises(KernelLimitReached) as e:
        km.admit(a3, has_ready_kernel=False)
    assert e.value.status == 429
    km.release(a1)
    km.admit(a3, has_ready_kernel=False)
    km._kernels.update({f"k{i}": object() for i in range(3)})  # the server holds 3 kernels: full
    with pytest.raises(KernelLimitReached) as e:
        km.admit(PageRequest("10.0.0.9", "01.ipynb"), has_ready_kernel=False)
    assert e.value.status == 503
    km.admit(PageRequest("10.0.0.9", "01.ipynb"), has_ready_kernel=True)  # a ready kernel adds none
    km._kernels.clear()
    local = [PageRequest("127.0.0.1", "01.ipynb") for _ in range(3)]
    for r in local:  # this machine's browser (or a proxy on it): only the server cap applies
        km.admit(r, has_ready_kernel=False)


def test_reaper_frees_unconnected_and_abandoned_kernels_only():
    km = _km(unconnected_timeout=45, disconnected_timeout=120)
    km._kernels.update({k: object() for k in ("never", "sending", "gone", "open", "fresh")})
    for k in ("never", "sending", "gone", "open", "fresh"):
        km.record_handout(k, "10.0.0.1", "01.ipynb")
        km._kernel_connections[k] = 0
    for k in ("never", "gone", "open", "fresh"):
        km.page_sent(k)
    for k in ("gone", "open"):
        km.notify_connect(k)
    km.notify_disconnect("gone")
    t0 = km._handouts["fresh"].sent
    km._handouts["fresh"].sent = t0 + 100  # sent 100 s after the others
    doomed = dict(km.doomed(now=t0 + 121))
    assert set(doomed) == {"never", "gone"}
    assert "never connected" in doomed["never"] and "went away" in doomed["gone"]
    assert km.lesson_of("open") == "01.ipynb" and km.lesson_of("unknown") == "?"


def test_reaper_keeps_a_slow_page_that_shows_signs_of_life():
    """A page that is open but slow to connect (a class opening one lesson at once on 2 cores:
    40-65 s from arriving to connecting) keeps its kernel while its watchdog asks about it or its
    handshake is in progress; once it falls silent it has unconnected_timeout like any page."""
    km = _km(unconnected_timeout=50, disconnected_timeout=120)
    names = ("silent", "pinging", "handshake", "pinged_then_gone")
    km._kernels.update({k: object() for k in names})
    for k in names:
        km.record_handout(k, "10.0.0.1", "18.ipynb")
        km._kernel_connections[k] = 0
        km.page_sent(k)
    t0 = km._handouts["silent"].sent
    for k in names:
        km._handouts[k].sent = t0
    km.page_seen("pinging")
    km._handouts["pinging"].seen = t0 + 45
    km.page_seen("pinged_then_gone")
    km._handouts["pinged_then_gone"].seen = t0 + 10
    km.connecting("handshake", +1)
    doomed = dict(km.doomed(now=t0 + 70))
    assert set(doomed) == {"silent", "pinged_then_gone"}, doomed
    assert "no sign of it for 60 s" in doomed["pinged_then_gone"]
    now = t0 + 70
    assert not km.awaiting_page("silent", now) and km.awaiting_page("pinging", now)
    assert km.awaiting_page("handshake", now)
    km.connecting("handshake", -1)  # the handshake failed: from then on, 50 s like any page
    km._handouts["handshake"].seen = t0 + 65
    assert "handshake" not in dict(km.doomed(now=t0 + 110))
    assert "handshake" in dict(km.doomed(now=t0 + 116))
    km.notify_connect("pinging")  # connected: signs of life no longer matter, the connection does
    km.page_seen("pinging")
    assert km._handouts["pinging"].seen == t0 + 45
    assert "pinging" not in dict(km.doomed(now=t0 + 1000))
    km.page_seen("unknown")
    km.connecting("unknown", +1)  # kernels never handed out (the pool's) are not tracked
    # signs of life without ever connecting (a client that only polls) keep a kernel 600 s at most
    km._handouts["handshake"].seen = t0 + 650
    # not at exactly t0 + 600: (t0 + 600) - t0 is 600 give or take a rounding of t0 (CI, t0 = 65055.35...)
    assert "handshake" not in dict(km.doomed(now=t0 + 599.5))
    assert "never connected (601 s after it was sent)" in dict(km.doomed(now=t0 + 601))["handshake"]


def test_kernel_model_request_is_a_sign_of_life():
    """GET /api/kernels/<id> (the page's watchdog) marks the page alive, then answers as before."""
    import asyncio

    from jupyter_server.services.kernels.handlers import KernelHandler

    from qlearn.server.kernels import page_kernel_handler

    assert issubclass(page_kernel_handler(KernelHandler), KernelHandler)
    km = _km(unconnected_timeout=50)
    km._kernels["k"] = object()
    km._kernel_connections["k"] = 0
    km.record_handout("k", "10.0.0.1", "18.ipynb")
    km.page_sent("k")
    calls = []

    class Base:  # stands in for KernelHandler: its get needs a running server
        kernel_manager = km

        async def get(self, kernel_id):
            calls.append((kernel_id, km._handouts[kernel_id].seen))
            return "model"

    assert km._handouts["k"].seen is None
    assert asyncio.run(page_kernel_handler(Base)().get("k")) == "model"
    assert calls[0][0] == "k" and calls[0][1] is not None  # marked before the base answered


def test_bounded_log_caps_what_a_client_can_write(caplog):
    import logging

    from qlearn.server.logs import BoundedLog, excerpt

    log = BoundedLog(logging.getLogger("qlearn.test.bounded"), max_records=5, window=3600)
    with caplog.at_level(logging.WARNING, logger="qlearn.test.bounded"):
        for _ in range(1000):
            log.warning("refused %s", excerpt(b"B" * 2**20, 100))
    assert len(caplog.records) == 5 and log.dropped == 995
    assert sum(len(r.getMessage()) for r in caplog.records) < 5 * 200


def test_static_handlers_answer_404_to_malformed_paths():
    from voila.static_file_handler import TemplateStaticFileHandler

    guarded = serve._malformed_path_is_404(TemplateStaticFileHandler)
    assert issubclass(guarded, TemplateStaticFileHandler)
    assert guarded.__name__ == "GuardedTemplateStaticFileHandler"


def test_quiet_bundle_applies_to_the_installed_plotly():
    """The served plotly module returns at once from the two redraw-report methods (each found once
    in the installed plotly's module: an upgrade that renames them fails here, not silently), and
    changes nothing else."""
    import re

    source = serve.plotly_bundle_file().read_text("utf-8")
    quiet = serve.quiet_plotly_bundle(source)
    for name in serve.QUIET_METHODS:
        assert len(re.findall(re.escape(name) + r"\(\w+\)\{return;", quiet)) == 1, name
    assert len(quiet) == len(source) + len("return;") * len(serve.QUIET_METHODS)
    assert quiet.replace("{return;", "{") == source
    with pytest.raises(ValueError, match="_sendTraceDeltas"):
        serve.quiet_plotly_bundle("class V{}")

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

    classes = {"Voila": Voila, "VoilaConfiguration": VoilaConfiguration, "VoilaExecutor": VoilaExecutor,
               "VoilaKernelManager": _voila_kernel_manager_class()}
    from jupyter_server.services.kernels.kernelmanager import MappingKernelManager

    classes["MappingKernelManager"] = MappingKernelManager
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

    app = ServerApp()
    app.parse_command_line(serve.voila_cli_args(server_extension=server_extension))
    parsed, expected = app.config, serve.voila_config()
    from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager

    readers = {
        "Voila": lambda: Voila(config=parsed),
        "VoilaConfiguration": lambda: VoilaConfiguration(config=parsed),
        "VoilaExecutor": lambda: VoilaExecutor(nbformat.v4.new_notebook(), config=parsed),
        "MappingKernelManager": lambda: AsyncMappingKernelManager(config=parsed),
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
        links = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)""", page)
        external = [u for u in links if re.match(r"(https?:)?//", u) and "127.0.0.1" not in u]
        assert not external, external
        assert "qlearn-watchdog" in page
        # anywidget's module deadline lengthened, plotly's module imported from the head, by the
        # same URL the figures' loader uses (one module instance per page)
        assert f"ms === 2000 ? {serve.MODULE_DEADLINE_MS} : ms" in page
        bundle_url = "/" + serve.BUNDLE_ROUTE + serve.plotly_bundle_name()
        assert f'<link rel="modulepreload" href="{bundle_url}">' in page
        assert f'import("{bundle_url}")' in page
        assert page.index("qlearn-module-deadline") < page.index("qlearn-plotly-preload") < page.index("voila.js")
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

        assert gzip.decompress(body) == serve.plotly_bundle_file().read_bytes()
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

"""The trimmed plotly widget module (qlearn.server.plotly_bundle): what it holds, when it is used,
and that the course draws no trace type it lacks (such a trace would silently draw nothing)."""
import inspect
import json
import re
import shutil
from pathlib import Path

import plotly.graph_objects as go
import pytest

from qlearn import serve
from qlearn.server import plotly_bundle as pb

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "tools" / "plotly_bundle"
#: every plotly trace type, by the name plotly.js knows it under, and its graph_objects class name
ALL_TYPES = dict(go.Figure()._data_validator.class_strs_map)


def test_the_trimmed_module_registers_exactly_the_listed_traces():
    entry = (RECIPE / "plotly-trimmed.js").read_text()
    registered = ["scatter"] + [t for t in re.findall(r"plotly\.js/lib/(\w+)'\)", entry) if t != "core"]
    assert tuple(registered) == pb.TRACES
    assert tuple(pb.manifest()["traces"]) == pb.TRACES
    assert set(pb.TRACES) <= set(ALL_TYPES)


def test_the_installed_plotly_gets_the_trimmed_module():
    """With the plotly pinned in binder/constraints.txt the recipe reproduces plotly's own module,
    so the trimmed one is sent. Fails after a plotly upgrade until tools/plotly_bundle is re-run."""
    pinned = re.search(r"^plotly==(\S+)$", (REPO / "binder" / "constraints.txt").read_text(), re.M).group(1)
    import plotly

    assert plotly.__version__ == pinned
    assert pb.trimmed_matches(), ("the installed plotly's widgetbundle.js is not the file "
                                  "tools/plotly_bundle reproduces: rebuild the trimmed module (README there)")
    path, trimmed = pb.bundle_file()
    assert trimmed and path == pb.TRIMMED
    assert serve.plotly_bundle_file() == pb.TRIMMED and "-t1-" in serve.plotly_bundle_name()
    # plotly's module has everything; the trimmed one about a quarter of it
    assert pb.TRIMMED.stat().st_size < 0.35 * pb.plotly_widget_bundle().stat().st_size
    # the same widget code: the quiet patch finds its two methods once each in both
    serve.quiet_plotly_bundle(pb.TRIMMED.read_text("utf-8"))
    assert pb.TRIMMED.read_text("utf-8").rstrip().endswith("*/")  # licences kept at the end
    assert "export{" in pb.TRIMMED.read_text("utf-8")


def test_any_other_plotly_module_gets_plotly_s_own(tmp_path, monkeypatch):
    other = tmp_path / "widgetbundle.js"
    shutil.copy(pb.plotly_widget_bundle(), other)
    assert pb.trimmed_matches(other)
    other.write_bytes(other.read_bytes() + b"\n")  # one byte more: another build
    assert not pb.trimmed_matches(other)
    assert not pb.trimmed_matches(tmp_path / "missing.js")
    monkeypatch.setattr(pb, "plotly_widget_bundle", lambda: other)
    assert pb.bundle_file() == (other, False)
    assert serve.plotly_bundle_file() == other and "-t1-" not in serve.plotly_bundle_name()


def test_the_full_module_on_request(monkeypatch):
    monkeypatch.setenv(pb.FULL_ENV, "1")
    assert pb.bundle_file() == (pb.plotly_widget_bundle(), False)


def test_a_trimmed_file_that_is_not_the_recorded_build_is_not_used(tmp_path, monkeypatch):
    fake = tmp_path / "widget-trimmed.js"
    fake.write_text("export default {};\n")
    monkeypatch.setattr(pb, "TRIMMED", fake)
    assert not pb.trimmed_matches()
    assert pb.bundle_file()[1] is False


def test_the_manifest_says_what_the_recipe_pins():
    m = pb.manifest()
    deps = json.loads((RECIPE / "package.json").read_text())["dependencies"]
    assert {k: m[k] for k in deps} == deps
    lock = json.loads((RECIPE / "package-lock.json").read_text())["packages"]
    for name, version in deps.items():
        assert lock[f"node_modules/{name}"]["version"] == version


# ----------------------------------------------------------------------------- the course's traces

def _code_sources():
    """Every piece of course code that could make a figure: qlearn's modules and the lessons' cells."""
    for path in sorted((REPO / "qlearn").rglob("*.py")):
        if "labextensions" not in path.parts:
            yield str(path.relative_to(REPO)), path.read_text("utf-8")
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text("utf-8"))
        code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
        yield str(path.relative_to(REPO)), code


def trace_types_named(code: str) -> set[str]:
    """Trace types a piece of code names: ``fig.add_bar(``, ``go.Heatmap(``, ``type="histogram"``.

    >>> sorted(trace_types_named('fig.add_scatter(x=1); go.Table(); fig.add_shape(); d = dict(type="bar")'))
    ['bar', 'scatter', 'table']
    """
    by_class = {cls: t for t, cls in ALL_TYPES.items()}
    found = {t for t in re.findall(r"\.add_(\w+)\(", code) if t in ALL_TYPES}
    found |= {by_class[c] for c in re.findall(r"\bgo\.(\w+)\(", code) if c in by_class}
    found |= {t for t in re.findall(r"""\btype\s*[=:]\s*["'](\w+)["']""", code) if t in ALL_TYPES}
    return found


def test_the_course_code_names_only_the_trimmed_module_s_traces():
    named = {}
    for where, code in _code_sources():
        for t in trace_types_named(code):
            named.setdefault(t, []).append(where)
    missing = {t: w for t, w in named.items() if t not in pb.TRACES}
    assert not missing, f"trace types not in the trimmed plotly module (add them to tools/plotly_bundle): {missing}"
    assert {"scatter", "bar", "heatmap", "histogram", "table"} <= set(named)  # the scan finds what is there


def _figure_functions():
    import importlib
    import pkgutil

    import qlearn.viz

    for info in pkgutil.walk_packages(qlearn.viz.__path__, "qlearn.viz."):
        mod = importlib.import_module(info.name)
        for name, fn in inspect.getmembers(mod, inspect.isfunction):
            if fn.__module__ != mod.__name__ or not name.endswith(("_figure", "_explorer")):
                continue
            if all(p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
                   for p in inspect.signature(fn).parameters.values()):
                yield f"{info.name}.{name}", fn


def _figures_of(obj) -> list:
    """The plotly figures a built object holds: a figure itself, or every FigureWidget in a widget
    (an Explorer, a plain box)."""
    from qlearn.viz.explorer import figure_widgets

    return [obj] if isinstance(obj, go.Figure) else figure_widgets(obj)


@pytest.fixture(scope="module")
def built_figures() -> list:
    """``(where, figure)`` for every figure of every explorer and figure function in qlearn.viz
    that needs no argument: built, not read."""
    return [(where, fig) for where, fn in _figure_functions() for fig in _figures_of(fn())]


def test_every_figure_the_course_builds_uses_only_the_trimmed_module_s_traces(built_figures):
    seen = {}
    for where, fig in built_figures:
        for trace in fig.data:
            seen.setdefault(trace.type, where)
    assert len(built_figures) > 40
    assert set(seen) <= set(pb.TRACES), {t: w for t, w in seen.items() if t not in pb.TRACES}


def test_every_live_figure_skips_plotly_s_quadratic_tick_label_check(built_figures):
    """A FigureWidget redraws on every slider step; plotly.js's default ``ticklabeloverflow``
    compares every tick label with every other after placing each (see qlearn.viz.style)."""
    from plotly.basewidget import BaseFigureWidget

    from qlearn.viz.style import TICKLABEL_OVERFLOW

    live = [(where, fig) for where, fig in built_figures if isinstance(fig, BaseFigureWidget)]
    assert len(live) > 30
    wrong = {where: name for where, fig in live for name, ax in fig.layout.to_plotly_json().items()
             if name.startswith(("xaxis", "yaxis")) and ax.get("ticklabeloverflow") != TICKLABEL_OVERFLOW}
    assert not wrong, wrong


def test_every_log_axis_labels_its_minor_ticks_in_whole_numbers(built_figures):
    """plotly's default labels a log axis's minor ticks with their first digit ("2 3 4" for 20 30 40
    between 10 and 100); the course's template asks for whole numbers (qlearn.viz.style.TEMPLATE)."""
    logs, wrong = 0, {}
    for where, fig in built_figures:
        lay = fig.layout
        for name in lay:
            if name.startswith(("xaxis", "yaxis")) and lay[name].type == "log":
                logs += 1
                own = lay[name].minorloglabels
                inherited = lay.template.layout[name[:5]].minorloglabels
                if (own or inherited) != "complete":
                    wrong[where] = name
    assert logs > 10
    assert not wrong, wrong


def test_every_overlaying_axis_has_round_ticks_of_its_own(built_figures):
    """plotly.js syncs an overlaying axis's ticks to the left axis's grid by default (tick values like
    201, 401, 603); every figure the course builds sets that axis's tick mode (qlearn.viz.style.own_ticks)."""
    overlaying, wrong = 0, {}
    for where, fig in built_figures:
        for name, ax in fig.layout.to_plotly_json().items():
            if name.startswith(("xaxis", "yaxis")) and ax.get("overlaying"):
                overlaying += 1
                if ax.get("tickmode", "sync") == "sync":
                    wrong[where] = name
    assert overlaying >= 3
    assert not wrong, wrong


def test_the_module_s_url_changes_with_its_content(tmp_path, monkeypatch):
    """Browsers keep the module for a year under its name (Cache-Control immutable): the name carries
    the served bytes' SHA-256, so a rebuilt module is fetched again instead of run stale from cache."""
    import hashlib

    name = serve.plotly_bundle_name()
    assert hashlib.sha256(serve.served_plotly_bundle()).hexdigest()[:12] in name
    assert serve.served_plotly_bundle() == serve.quiet_plotly_bundle(
        serve.plotly_bundle_file().read_text("utf-8")).encode()
    rebuilt = tmp_path / "widget-trimmed.js"  # the same module, one comment longer
    rebuilt.write_bytes(serve.plotly_bundle_file().read_bytes() + b"/* rebuilt */\n")
    monkeypatch.setattr(serve, "plotly_bundle_file", lambda: rebuilt)
    other = serve.plotly_bundle_name()
    assert other != name and other.split("-q1-")[0] == name.split("-q1-")[0]

"""plotly's widget front end, trimmed to the trace types the course draws.

Every served lesson with a figure runs plotly's FigureWidget module, which bundles all of plotly.js
(about 50 trace types, 5 MB). Evaluating it is most of the time to a lesson's first figure: in
headless Chromium on the 2-core development machine, 1.9-2.2 s before any figure can be drawn. The
course draws five trace types (:data:`TRACES`). ``tools/plotly_bundle`` rebuilds plotly's own
front end (plotly.py's ``widget.ts``, its esbuild options) with a plotly.js made of plotly.js's
``core`` and those five traces: 1.3 MB, evaluated in about 0.5 s on the same machine
(``benchmarks/bench_plotly_bundle.py``).

The same recipe with the full plotly.js reproduces the installed plotly package's
``widgetbundle.js`` byte for byte; the manifest beside the trimmed module records that file's
sha256. :func:`bundle_file` serves the trimmed module only when the installed file still has that
sha256 (the trimmed module was built from the same widget code and the same plotly.js), and plotly's
own module otherwise, e.g. after a plotly upgrade, until the trimmed one is rebuilt.
"""
from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path

#: The plotly.js trace types in the trimmed module (``tools/plotly_bundle/plotly-trimmed.js``).
#: A figure with any other type would draw nothing in it: ``tests/test_plotly_bundle.py`` checks
#: that the course's figures use only these.
TRACES = ("scatter", "bar", "heatmap", "histogram", "table")

HERE = Path(__file__).resolve().parent / "plotly"
TRIMMED = HERE / "widget-trimmed.js"
MANIFEST = HERE / "widget-trimmed.json"


def plotly_widget_bundle() -> Path:
    """The installed plotly package's FigureWidget module (about 5 MB: all of plotly.js)."""
    import plotly

    return Path(plotly.__file__).resolve().parent / "package_data" / "widgetbundle.js"


def manifest() -> dict:
    """What the trimmed module was built from (written by ``tools/plotly_bundle/build.mjs``)."""
    return json.loads(MANIFEST.read_text("utf-8"))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@lru_cache(maxsize=None)
def _matches(installed: str, trimmed: str, stats: tuple) -> bool:
    m = manifest()
    return _sha256(Path(installed)) == m["full_widgetbundle_sha256"] and _sha256(Path(trimmed)) == m["trimmed_sha256"]


def trimmed_matches(installed: Path | None = None) -> bool:
    """True when the trimmed module may stand in for ``installed`` (plotly's module by default):
    the installed file is the one the trimmed module's recipe reproduces, and the trimmed file is
    the one the recipe wrote. False when either file is missing or differs."""
    installed = plotly_widget_bundle() if installed is None else Path(installed)
    try:
        stats = tuple((st.st_size, st.st_mtime_ns) for st in (installed.stat(), TRIMMED.stat()))
        return _matches(str(installed), str(TRIMMED), stats)
    except (OSError, KeyError, ValueError):
        return False


#: Set to 1 to send plotly's full module anyway (to compare the two: benchmarks, screenshots).
FULL_ENV = "QLEARN_FULL_PLOTLY"


def bundle_file() -> tuple[Path, bool]:
    """The module to send to browsers, and whether it is the trimmed one."""
    if os.environ.get(FULL_ENV, "") not in ("1", "true", "yes") and trimmed_matches():
        return TRIMMED, True
    return plotly_widget_bundle(), False

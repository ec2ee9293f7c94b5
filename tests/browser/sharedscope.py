"""Which JupyterLab modules a Voila page shares, and which versions its front-end extensions ask for.

A Voila page is JupyterLab's core, bundled into Voila (``voila.js``), plus the federated front-end
extensions ``qlearn serve`` lets it load (``qlearn.serve.FRONTEND_EXTENSIONS``). Each extension's
``remoteEntry`` names, for every core module it uses, the version range it was built against; when the
page's core does not satisfy that range, webpack logs a console warning ("Unsatisfied version 4.2.5
from _JUPYTERLAB.CORE_OUTPUT of shared singleton module @jupyterlab/console (required ^4.6.2)") and
uses the page's copy anyway. This module reads both sides from the installed files, so the browser
tests can tell such a warning's source (:func:`unsatisfied`, :func:`allowed_console_warning`).

Why one source is allowed (and nothing else): Voila 0.5.9 to 0.5.13 ship their own widget manager
(``@voila-dashboards/widgets-manager8``) built against a newer JupyterLab than the 4.2.5 core they
bundle (voila-dashboards/voila#1539, open), so every page of those Voilas logs a few such warnings
for Voila's own extension. The one Voila whose manager matches its core, 0.5.8, lacks fixes a class
server needs (0.5.9-0.5.13 refuse template names holding a path and match the static-file deny-list
case-insensitively, so ``.IPYNB`` is refused like ``.ipynb``), and there is no newer Voila. The
extensions qlearn chooses (ipywidgets' ``jupyterlab_widgets``, anywidget) are pinned to builds the
core satisfies (pyproject.toml), and ``test_console.py`` checks that they are.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

#: Extensions shipped inside Voila itself: their mismatches with Voila's core are Voila's (see above).
VOILA_OWN = ("@voila-dashboards/",)

_PROVIDED = re.compile(r'"(@[\w-]+/[\w.-]+)","(\d+\.\d+\.\d+)"')
_NAME = re.compile(r'"(@[\w-]+/[\w.-]+)"')
# after a module's name: rspack/webpack 5 object form, or webpack's compact array form ([1,4,2,4] = ^4.2.4)
_REQ_STRING = re.compile(r'^[^"\[\]]{0,80}?requiredVersion:\s*"([^"]+)"')
_REQ_ARRAY = re.compile(r'^\s*,\s*(?:!\d|false|true)?\s*,?\s*\[(-?\d+(?:\s*,\s*-?\d+)+)\]')

#: the two warnings webpack's shared-module runtime logs when a range is not satisfied
WARNING_FORMS = (
    re.compile(r"^Unsatisfied version (?P<have>\S+) from \S+ of shared singleton module (?P<module>\S+) "
               r"\(required (?P<want>\S+)\)$"),
    re.compile(r"^No satisfying version \((?P<want>\S+)\) of shared module (?P<module>\S+) found in shared scope "
               r"\w+\.\s*Available versions: (?P<have>\S+) from \S+$"),
)


def _voila_static() -> Path:
    from jupyter_core.paths import jupyter_path

    for root in jupyter_path("voila", "templates", "base", "static"):
        if (Path(root) / "voila.js").is_file():
            return Path(root) / "voila.js"
    raise FileNotFoundError("Voila's voila.js (the page's JupyterLab core) is not installed")


@lru_cache(maxsize=1)
def page_core_versions() -> dict[str, str]:
    """Module -> version of every module the Voila page's core shares (read from ``voila.js``)."""
    found = dict(_PROVIDED.findall(_voila_static().read_text(encoding="utf-8", errors="replace")))
    if "@jupyterlab/services" not in found:
        raise AssertionError("could not read the shared modules from voila.js: its format changed")
    return found


def extension_dir(name: str) -> Path:
    """Where the page loads extension ``name`` from (Voila's own labextensions first, as Voila does)."""
    from voila.utils import get_voila_labextensions_path

    for root in get_voila_labextensions_path():
        if (Path(root) / name / "package.json").is_file():
            return Path(root) / name
    raise FileNotFoundError(f"front-end extension {name} is not installed")


def _compact_to_range(parts: list[int]) -> str:
    """webpack's compact range: [1, 4, 2, 4] is ^4.2.4, [2, ...] ~, [0, ...] >=; others are not used here."""
    kind, nums = parts[0], parts[1:]
    prefix = {0: ">=", 1: "^", 2: "~"}.get(kind)
    if prefix is None or not nums:
        raise ValueError(f"unexpected compact version range {parts}")
    return prefix + ".".join(str(n) for n in nums)


@lru_cache(maxsize=None)
def extension_requirements(name: str) -> dict[str, str]:
    """Module -> required range of every shared module extension ``name``'s remoteEntry consumes."""
    d = extension_dir(name)
    build = json.loads((d / "package.json").read_text(encoding="utf-8"))["jupyterlab"]["_build"]
    text = (d / build["load"]).read_text(encoding="utf-8", errors="replace")
    out: dict[str, str] = {}
    for m in _NAME.finditer(text):
        rest = text[m.end():m.end() + 120]
        s = _REQ_STRING.match(rest)
        a = None if s else _REQ_ARRAY.match(rest)
        if s:
            want = s.group(1)
        elif a:
            want = _compact_to_range([int(x) for x in a.group(1).split(",")])
        else:
            continue
        if out.setdefault(m.group(1), want) != want:
            raise AssertionError(f"{name}: two ranges for {m.group(1)}: {out[m.group(1)]} and {want}")
    return out


def _version(text: str) -> tuple[int, ...]:
    nums = tuple(int(x) for x in text.split("-")[0].split("."))
    return nums + (0,) * (3 - len(nums))


def satisfies(version: str, wanted: str) -> bool:
    """npm semver for the forms extensions use: ``^a.b.c``, ``~a.b.c``, ``>=a.b.c``, ``a.b.c``, ``*``.

    Examples
    --------
    >>> satisfies("4.2.5", "^4.2.4"), satisfies("4.2.5", "^4.6.2"), satisfies("6.0.10", "^6")
    (True, False, True)
    >>> satisfies("0.3.1", "^0.2.0"), satisfies("4.2.9", "~4.2.4"), satisfies("4.3.0", "~4.2.4")
    (False, True, False)
    """
    v = _version(version)
    if wanted in ("*", ""):
        return True
    for prefix in ("^", "~", ">="):
        if wanted.startswith(prefix):
            w = _version(wanted[len(prefix):])
            break
    else:
        return v == _version(wanted)
    if v < w:
        return False
    if prefix == ">=":
        return True
    if prefix == "~":
        return v[:2] == w[:2]
    fixed = next((i for i, n in enumerate(w) if n != 0), len(w) - 1)  # ^0.2.0 fixes the minor
    return v[:fixed + 1] == w[:fixed + 1]


def unsatisfied(extensions=None) -> list[tuple[str, str, str, str]]:
    """``(extension, module, page's version, required)`` for every range the page's core misses."""
    if extensions is None:
        from qlearn.serve import FRONTEND_EXTENSIONS as extensions
    core = page_core_versions()
    out = []
    for ext in extensions:
        for module, want in sorted(extension_requirements(ext).items()):
            if module in core and not satisfies(core[module], want):
                out.append((ext, module, core[module], want))
    return out


def allowed_console_warning(text: str) -> bool:
    """True only for webpack's version warning about a range that Voila's own bundled extension
    declares and Voila's own core misses (see the module docstring); False for anything else."""
    text = " ".join(text.split())
    for form in WARNING_FORMS:
        m = form.match(text)
        if m:
            own = {(module, have, want) for ext, module, have, want in unsatisfied() if ext.startswith(VOILA_OWN)}
            return (m["module"], m["have"], m["want"]) in own
    return False

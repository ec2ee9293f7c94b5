"""Which JupyterLab modules a Voila page shares, and which versions its front-end extensions ask for.

A Voila page is JupyterLab's core, bundled into Voila (``voila.js``), plus the federated front-end
extensions ``qlearn serve`` lets it load (``qlearn.serve.FRONTEND_EXTENSIONS``). Each extension's
``remoteEntry`` names, for every core module it uses, the version range it was built against; when the
page's core does not satisfy that range, webpack logs a console warning ("Unsatisfied version 4.2.5
from _JUPYTERLAB.CORE_OUTPUT of shared singleton module @jupyterlab/console (required ^4.6.2)") and
uses the page's copy anyway. This module reads both sides from the installed files, where the page
finds them (Voila's ``extra_labextensions_path`` first, as Voila does), so the tests can check that
every range is met: no console warning is allowed on a page.

Voila's own widget manager (``@voila-dashboards/widgets-manager8``) as built in Voila 0.5.9 to 0.5.13
asks ^4.4.5 to ^4.5.10 of the 4.2.5 core those Voilas bundle (voila-dashboards/voila#1539: eleven
warnings on every page). qlearn loads the 0.5.8 build of the same code instead
(``qlearn/labextensions``, see its README); :func:`same_code` is how the tests check that it is the
same code as the installed Voila's.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

_PROVIDED = re.compile(r'"(@[\w-]+/[\w.-]+)","(\d+\.\d+\.\d+)"')
_NAME = re.compile(r'"(@[\w-]+/[\w.-]+)"')
# after a module's name: rspack/webpack 5 object form, or webpack's compact array form ([1,4,2,4] = ^4.2.4)
_REQ_STRING = re.compile(r'^[^"\[\]]{0,80}?requiredVersion:\s*"([^"]+)"')
_REQ_ARRAY = re.compile(r'^\s*,\s*(?:!\d|false|true)?\s*,?\s*\[(-?\d+(?:\s*,\s*-?\d+)+)\]')

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


def labextensions_paths() -> list[str]:
    """Where the page's front-end extensions are looked up, in Voila's order: the configured
    ``extra_labextensions_path`` (``qlearn serve``'s), then Voila's defaults."""
    from voila.utils import get_voila_labextensions_path

    from qlearn.serve import voila_config

    extra = list(voila_config().VoilaConfiguration.extra_labextensions_path)
    return get_voila_labextensions_path(extra)


def extension_dir(name: str) -> Path:
    """Where the page loads extension ``name`` from (the first directory holding it, as Voila does)."""
    for root in labextensions_paths():
        if (Path(root) / name / "package.json").is_file():
            return Path(root) / name
    raise FileNotFoundError(f"front-end extension {name} is not installed")


def installed_voila_extension_dir(name: str) -> Path:
    """The copy of extension ``name`` the installed Voila ships (without ``extra_labextensions_path``)."""
    from voila.utils import get_voila_labextensions_path

    for root in get_voila_labextensions_path():
        if (Path(root) / name / "package.json").is_file():
            return Path(root) / name
    raise FileNotFoundError(f"Voila ships no {name}")


_NUMBERS = re.compile(r"\d+")


def _chunks(d: Path) -> dict[str, str]:
    """The built chunks of extension directory ``d`` by webpack chunk name (``324`` for
    ``324.<hash>.js``), module numbers and hashes blanked, the license-comment header dropped."""
    build = json.loads((d / "package.json").read_text(encoding="utf-8"))["jupyterlab"]["_build"]
    entry = (d / build["load"]).name
    out = {}
    for js in sorted((d / "static").glob("*.js")):
        if js.name in (entry, "style.js"):
            continue
        text = re.sub(r"^/\*!.*?\*/\s*", "", js.read_text(encoding="utf-8", errors="replace"), flags=re.S)
        out[js.name.split(".")[0]] = _NUMBERS.sub("0", text)
    return out


def same_code(a: Path, b: Path) -> bool:
    """True if extension directories ``a`` and ``b`` hold the same built code, chunk by chunk, up to
    the numbers webpack gives modules and files (which change from one build to the next)."""
    ca, cb = _chunks(a), _chunks(b)
    return bool(ca) and ca == cb


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

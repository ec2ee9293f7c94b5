"""Voila's page styles as a stylesheet instead of a script (see tools/voila_style/extract.py).

Voila's ``lab`` template adds its styles with ``voila-style.js``, a classic script in the page's head
that blocks parsing and first paint while it runs (~0.2-0.3 s on a 2-core machine). The ``qlearn``
template links :data:`STYLESHEET` instead, the same rules extracted from that script, when
:func:`stylesheet_matches` says it was made from the installed Voila's script; otherwise (Voila
upgraded, file not regenerated) it keeps the script.
"""
from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path

#: The extracted stylesheet, served by Voila from the ``qlearn`` template's static directory (next to
#: the fonts its rules name, which come from the base template's).
STYLESHEET = Path(__file__).resolve().parents[1] / "templates" / "voila" / "templates" / "qlearn" / "static" \
    / "voila-style.css"
SCRIPT = "voila-style.js"
_HEADER = re.compile(r"^/\* qlearn: .*? sha256 ([0-9a-f]{64})")


def header(sha256: str) -> str:
    """The first line of :data:`STYLESHEET`: what it was made from."""
    return (f"/* qlearn: the rules Voila's {SCRIPT} adds to a page, as a stylesheet "
            f"(tools/voila_style/extract.py); made from the script with sha256 {sha256} */\n")


def installed_script() -> Path | None:
    """The installed Voila's ``voila-style.js`` (its ``base`` template's), or None."""
    from jupyter_core.paths import jupyter_path

    for d in jupyter_path("voila", "templates", "base", "static"):
        p = Path(d) / SCRIPT
        if p.is_file():
            return p
    return None


def source_sha256(stylesheet: Path = STYLESHEET) -> str | None:
    """The sha256 of the script ``stylesheet`` was made from (its header), or None."""
    try:
        with open(stylesheet, encoding="utf-8") as f:
            m = _HEADER.match(f.readline())
    except OSError:
        return None
    return m.group(1) if m else None


@lru_cache(maxsize=None)
def stylesheet_matches(script: Path | None = None, stylesheet: Path = STYLESHEET) -> bool:
    """True when ``stylesheet`` was made from ``script`` (default: the installed Voila's)."""
    script = script if script is not None else installed_script()
    if script is None or not Path(script).is_file():
        return False
    made_from = source_sha256(stylesheet)
    return made_from is not None and made_from == hashlib.sha256(Path(script).read_bytes()).hexdigest()

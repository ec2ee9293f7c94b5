"""Math in lesson pages as MathML, rendered by the server: readable the moment the page arrives.

Voila sends a lesson's Markdown as HTML with its TeX left as ``$...$`` text, which MathJax (part of
Voila's front end) typesets only once that front end has loaded, seconds later; until then a
learner reads raw TeX, and the text reflows when it is typeset. ``qlearn serve`` renders the
Markdown with :class:`MathMLMarkdownRenderer` instead: every formula becomes MathML (via the
``latex2mathml`` library), which browsers draw natively (Chromium 109+, Firefox, Safari), so there
is nothing left for MathJax to do. A formula the converter cannot handle keeps its TeX, and MathJax
typesets it as before.
"""
from __future__ import annotations

import logging
import re

from latex2mathml.converter import convert
from voila.exporter import VoilaMarkdownRenderer

log = logging.getLogger("qlearn.serve")


#: Delimiters that latex2mathml (2.x) writes out as raw text, e.g. ``<mo>\\lceil</mo>``, after a size
#: command (``\\Big\\lceil``), though it converts them alone: given as their characters instead.
SIZED_DELIMITERS = {"lceil": "\u2308", "rceil": "\u2309", "lfloor": "\u230a", "rfloor": "\u230b",
                    "langle": "\u27e8", "rangle": "\u27e9", "lvert": "|", "rvert": "|", "vert": "|",
                    "lVert": "\u2016", "rVert": "\u2016", "Vert": "\u2016"}
_SIZED = re.compile(r"(\\(?:big|Big|bigg|Bigg)[lrm]?)\s*\\(" + "|".join(sorted(SIZED_DELIMITERS, key=len, reverse=True))
                    + r")(?![A-Za-z])")
#: A TeX command left as text inside a MathML element: the converter did not know it.
_RAW_COMMAND = re.compile(r">\s*\\[A-Za-z]+\s*<")


def tex_to_mathml(tex: str, *, display: bool = False) -> str | None:
    """One formula as a ``<math>`` element, or None if it cannot be converted.

    Examples
    --------
    >>> tex_to_mathml(r"\\Delta = 2^{-3}")[:37]
    '<math xmlns="http://www.w3.org/1998/M'
    >>> 'display="block"' in tex_to_mathml(r"x", display=True)
    True
    """
    if not isinstance(tex, str):
        raise TypeError(f"tex must be a str, got {type(tex).__name__}")
    source = _SIZED.sub(lambda m: m.group(1) + SIZED_DELIMITERS[m.group(2)], tex)
    try:
        out = convert(source, display="block" if display else "inline")
    except Exception as exc:  # the converter's errors are of many kinds; keep the TeX for MathJax
        log.warning("qlearn: formula left to MathJax (%s: %s): %.80s", type(exc).__name__, exc, tex)
        return None
    if "<merror" in out or _RAW_COMMAND.search(out):
        log.warning("qlearn: formula left to MathJax (converter error): %.80s", tex)
        return None
    return out


class MathMLMarkdownRenderer(VoilaMarkdownRenderer):
    """Voila's Markdown renderer with formulas as MathML (``$...$``, ``$$...$$``, environments)."""

    def inline_math(self, body: str) -> str:
        return tex_to_mathml(body) or super().inline_math(body)

    def block_math(self, body: str) -> str:
        return tex_to_mathml(body, display=True) or super().block_math(body)

    def latex_environment(self, name: str, body: str) -> str:
        tex = f"\\begin{{{name}}}{body}\\end{{{name}}}"
        return tex_to_mathml(tex, display=True) or super().latex_environment(name, body)

"""Reading a learner's typed answer honestly, and checking it against a tolerance.

Used by the "Check yourself" quizzes (``qlearn.viz.quiz``): a number box that silently turned
"abc" into 0, "0,02" into 2 or "2.54/127" into 2.54127 would mark a learner wrong for what they
did not write. Here every input is either read exactly as a person means it or refused with a
message that says what could not be read and how to write it.

Examples
--------
>>> parse_number(" 2.54/127 ")
0.02
>>> parse_number("1.5e-5"), parse_number("−3")
(1.5e-05, -3.0)
>>> parse_number("0,02")
Traceback (most recent call last):
...
ValueError: Use a point for decimals: write 0.02, not 0,02.
>>> is_close(1.57e-5, 1.5686e-5, rel_tolerance=0.01)
True
>>> precision_note(16, tolerance=0), precision_note(0.02, tolerance=1e-4), precision_note(1.5686e-5, rel_tolerance=0.01)
('(exact value)', '(to within ±0.0001)', '(to within 1%)')
"""
from __future__ import annotations

import math
import re

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_NUMBER_RE = re.compile(rf"^{_NUMBER}$")
_FRACTION_RE = re.compile(rf"^({_NUMBER})\s*/\s*({_NUMBER})$")
_DECIMAL_COMMA_RE = re.compile(r"^[+-]?\d*,\d+$")
EXAMPLES = "e.g. 0.02, -3, 1.5e-5 or 2.54/127"


def _finite(value: float, text: str) -> float:
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is too large to be an answer here: write a finite number ({EXAMPLES}).")
    return value


def parse_number(text) -> float:
    """The number a learner typed, or a ``ValueError`` whose message says what to write instead.

    Accepted: a decimal number with an optional exponent (``0.02``, ``-3``, ``1.5e-5``), with a
    typographic minus (``−``) read as ``-``, and a fraction of two such numbers (``2.54/127``).
    Refused with a specific message: an empty box, a decimal comma (``0,02``), a percent sign,
    ``inf``/``nan`` and anything too large to be finite (``1e999``), and anything else.

    Parameters
    ----------
    text : str
        What the learner typed.

    Returns
    -------
    float
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str (what the learner typed), got {type(text).__name__}")
    s = text.strip().replace("\u2212", "-").replace("\u00a0", "").replace(" ", "")
    if not s:
        raise ValueError("Type a number first.")
    if _DECIMAL_COMMA_RE.match(s):
        raise ValueError(f"Use a point for decimals: write {s.replace(',', '.')}, not {s}.")
    if s.endswith("%"):
        raise ValueError(f"Write the number without the % sign ({EXAMPLES}).")
    if _NUMBER_RE.match(s):
        return _finite(float(s), text.strip())
    m = _FRACTION_RE.match(s)
    if m:
        num, den = float(m.group(1)), float(m.group(2))
        if den == 0:
            raise ValueError(f"{text.strip()!r} divides by zero.")
        return _finite(num / den, text.strip())
    raise ValueError(f"Could not read {text.strip()!r} as a number: write a single number ({EXAMPLES}).")


def is_close(value: float, answer: float, *, tolerance: float = 0.0, rel_tolerance: float = 0.0) -> bool:
    """``|value - answer| <= max(tolerance, rel_tolerance * |answer|)``, for finite ``value``."""
    for name, t in (("tolerance", tolerance), ("rel_tolerance", rel_tolerance)):
        if not (isinstance(t, (int, float)) and math.isfinite(t) and t >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {t!r}")
    value, answer = float(value), float(answer)
    if not math.isfinite(value):
        return False
    return abs(value - answer) <= max(tolerance, rel_tolerance * abs(answer))


def precision_note(answer: float, *, tolerance: float = 0.0, rel_tolerance: float = 0.0) -> str:
    """The precision a question asks for, in words a learner reads next to the question."""
    if rel_tolerance > 0 and rel_tolerance * abs(answer) >= tolerance:
        pct = rel_tolerance * 100
        return f"(to within {pct:.3g}%)"
    if tolerance > 0:
        return f"(to within ±{tolerance:.3g})"
    return "(exact value)"

"""Checking a learner's function against qlearn's reference, and saying what is wrong with it.

Shared by every build-it-yourself task in :mod:`qlearn.exercises` (lessons 02-17).

A check runs the learner's function on fixed edge cases (ties, zero ranges, negative numbers,
saturation) and on seeded random cases, compares each answer with qlearn's own function, and on the
first disagreement *diagnoses* it: it runs a list of known wrong implementations (the mistakes
learners make: ties away from zero, dividing by 128 where qmax is 127, clipping before adding the
zero point...) on every case, and names the one whose answers are the learner's. The learner's
function is never trusted: an exception inside it, an answer of the wrong shape, or ``None`` (the
scaffold's ``...`` body) becomes a diagnosis, never an error in the check.

Examples
--------
>>> import numpy as np
>>> task = Task("double", lesson="02_rounding.ipynb", title="Double it", reference=lambda x: 2 * x,
...             cases=[Case("two numbers", (np.array([1.0, -2.0]),))],
...             mistakes=[Mistake(lambda x: x + 2, "you added 2 instead of multiplying by 2")])
>>> task.check(lambda x: 2.0 * x).passed
True
>>> print(task.check(lambda x: x + 2).diagnosis)
you added 2 instead of multiplying by 2
>>> print(task.check(lambda x: ...).diagnosis)        # the unedited scaffold
Not written yet: replace the `...` in your function's body with your code, run that cell, then run this one again.
"""
from __future__ import annotations

import contextlib
import html
import inspect
import signal
import textwrap
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

#: What a check says about the unedited scaffold (its body is ``...``, so it returns None).
NOT_WRITTEN = ("Not written yet: replace the `...` in your function's body with your code, "
               "run that cell, then run this one again.")

#: Every task, by name (filled by the lesson modules when they are imported).
TASKS: dict[str, "Task"] = {}

#: Whether each task checked in this kernel has passed (once passed, it stays True).
RESULTS: dict[str, bool] = {}
#: Called as ``listener(task, result)`` after every check (``qlearn.viz.progress`` records passes).
LISTENERS: list = []


class _Raised:
    """What a call to the learner's function gave when it raised: kept, never re-raised."""

    def __init__(self, exc: BaseException):
        self.exc = exc

    def __repr__(self):
        return f"{type(self.exc).__name__}: {self.exc}"


#: Seconds one call of a learner's function may take before the check stops it (an endless loop).
TIME_LIMIT_S = 10.0


class TimeLimitExceeded(Exception):
    """A learner's function ran longer than :data:`TIME_LIMIT_S` on one case."""


@contextlib.contextmanager
def _time_limit(seconds: float):
    """Raise :class:`TimeLimitExceeded` in the main thread after ``seconds`` (POSIX timers; a
    kernel runs cells in its main thread). Elsewhere (Windows, another thread) no limit applies."""
    if (seconds is None or not hasattr(signal, "setitimer")
            or threading.current_thread() is not threading.main_thread()):
        yield
        return

    def stop(signum, frame):
        raise TimeLimitExceeded(f"it ran for more than {seconds:g} s on one case: an endless loop, or a loop "
                                f"over every element where numpy can do the whole array at once?")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def call(fn: Callable, args: tuple, kwargs: dict | None = None, *, time_limit: float | None = None):
    """``fn(*args, **kwargs)``, or a :class:`_Raised` holding the exception (never raises).

    Arrays are copied first so a function that writes into its input cannot change the case.
    The call is stopped after ``time_limit`` seconds (default :data:`TIME_LIMIT_S`), and that
    too comes back as a :class:`_Raised`.
    """
    args = tuple(np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args)
    try:
        # numpy's warnings (divide by zero, invalid value) are part of what the diagnosis explains
        with _time_limit(TIME_LIMIT_S if time_limit is None else time_limit), warnings.catch_warnings(), \
                np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return fn(*args, **(kwargs or {}))
    except Exception as exc:  # the learner's bug is reported, not raised
        return _Raised(exc)


def fmt(value, *, precision: int = 6) -> str:
    """A short readable form of a case's input or output."""
    if isinstance(value, (_Raised, Approx)):
        return repr(value)
    if isinstance(value, tuple):
        return "(" + ", ".join(fmt(v, precision=precision) for v in value) + ")"
    if isinstance(value, (np.ndarray, list)) and not isinstance(value, str):
        try:
            a = np.asarray(value)
            if a.dtype.kind in "biuf":
                return np.array2string(a, precision=precision, threshold=12, edgeitems=2 if a.ndim > 1 else 3,
                                       max_line_width=100, floatmode="maxprec")
        except Exception:
            pass
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.{precision + 3}g}"
    return repr(value)


def as_float_array(value) -> np.ndarray | None:
    """``value`` as a float64 array, or None if it cannot be read as numbers."""
    if value is None or isinstance(value, _Raised):
        return None
    try:
        a = np.asarray(value, dtype=np.float64)
    except Exception:
        return None
    return a


class Approx:
    """An expected number known to within ``tol`` (qlearn's histogram estimate of a percentile, say)."""

    def __init__(self, value: float, tol: float):
        self.value, self.tol = float(value), float(tol)

    def __repr__(self):
        return f"{self.value:.6g} (within {self.tol:.2g})"


def same_numbers(expected, got, *, rtol: float = 1e-9, atol: float = 1e-12) -> bool:
    """Equal shapes and values within tolerance (tuples compared element by element; NaN never equal)."""
    if isinstance(expected, Approx):
        g = as_float_array(got)
        return g is not None and g.shape == () and bool(abs(float(g) - expected.value) <= expected.tol)
    if isinstance(expected, tuple):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return False
        return all(same_numbers(e, g, rtol=rtol, atol=atol) for e, g in zip(expected, got))
    e, g = as_float_array(expected), as_float_array(got)
    if e is None or g is None or e.shape != g.shape:
        return False
    both_inf = np.isinf(e) & np.isinf(g) & (np.sign(e) == np.sign(g))
    with np.errstate(invalid="ignore"):
        close = np.isclose(g, e, rtol=rtol, atol=atol)
    return bool(np.all(close | both_inf))


def same_answers(a, b) -> bool:
    """Two answers are the same (NaN equal to NaN): how a learner's answer is matched to a known mistake's."""
    if isinstance(a, tuple) or isinstance(b, tuple):
        if not isinstance(a, (tuple, list)) or not isinstance(b, (tuple, list)) or len(a) != len(b):
            return False
        return all(same_answers(x, y) for x, y in zip(a, b))
    x, y = as_float_array(a), as_float_array(b)
    if x is None or y is None or x.shape != y.shape:
        return False
    with np.errstate(invalid="ignore"):
        return bool(np.all(np.isclose(x, y, rtol=1e-12, atol=1e-15, equal_nan=True) | (x == y)))


@dataclass(frozen=True)
class Case:
    """One input of a check: a short label a learner reads (``"ties at .5"``) and the arguments."""

    label: str
    args: tuple
    kwargs: dict = field(default_factory=dict)
    note: str = ""  # said when the learner's function raises or fails on this case

    def describe(self, names: list[str] | None = None) -> str:
        parts = []
        for i, a in enumerate(self.args):
            name = names[i] if names and i < len(names) else f"arg{i}"
            parts.append(f"{name}={fmt(a, precision=4)}")
        parts += [f"{k}={fmt(v)}" for k, v in self.kwargs.items()]
        return ", ".join(parts)


@dataclass(frozen=True)
class Mistake:
    """A known wrong implementation and the diagnosis to give when the learner's answers are its answers."""

    fn: Callable
    diagnosis: str


@dataclass
class CheckResult:
    """The outcome of a check: ``passed``, a ``diagnosis`` in plain words and, if it failed, an example.

    Shows itself as text (``repr``) and as HTML in a notebook (``_repr_html_``).
    """

    task: str
    passed: bool
    diagnosis: str
    case: str | None = None
    expected: Any = None
    got: Any = None
    cases_run: int = 0
    solution_hint: str = ""

    def __bool__(self):
        return self.passed

    def __repr__(self):
        mark = "PASSED" if self.passed else "NOT YET"
        lines = [f"{self.task}: {mark}. {self.diagnosis}"]
        if self.case is not None:
            lines.append(f"  case:     {self.case}")
            lines.append(f"  expected: {fmt(self.expected)}")
            lines.append(f"  got:      {fmt(self.got)}")
        if not self.passed and self.solution_hint:
            lines.append(f"  {self.solution_hint}")
        return "\n".join(lines)

    def _repr_html_(self):
        color = "#007a3d" if self.passed else "#b00020"
        mark = "&#10004; Passed." if self.passed else "&#10008; Not yet."
        if self.diagnosis == NOT_WRITTEN:  # nothing to mark wrong yet
            color, mark = "#555", "&#9998; Your turn."
        out = [f"<div class='qlearn-check'><b>{html.escape(self.task)}</b>: "
               f"<span style='color:{color}'>{mark}</span> {html.escape(self.diagnosis)}"]
        if self.case is not None:
            out.append("<table style='margin-top:4px'>")
            for k, v in (("case", self.case), ("expected", fmt(self.expected)), ("got", fmt(self.got))):
                out.append(f"<tr><td style='text-align:left'><i>{k}</i></td>"
                           f"<td style='text-align:left'><code>{html.escape(str(v))}</code></td></tr>")
            out.append("</table>")
        if not self.passed and self.solution_hint:
            out.append(f"<div style='color:#555'>{html.escape(self.solution_hint)}</div>")
        out.append("</div>")
        return "".join(out)


@dataclass
class Task:
    """A build-it-yourself task: a reference, its cases, and the known mistakes that explain failures.

    Parameters
    ----------
    name : str
        The function the learner writes (also the key in :data:`TASKS`).
    lesson : str
        The notebook the task belongs to.
    title : str
    reference : callable
        qlearn's own function, wrapped to the task's signature.
    cases : list of Case
        Edge cases first (they make the first failure easy to read), then random ones.
    mistakes : list of Mistake
        Tried in order; the first whose answers are the learner's on every case names the bug.
    compare : callable, optional
        ``compare(expected, got) -> bool``; :func:`same_numbers` by default.
    explain : callable, optional
        ``explain(case, expected, got) -> str or None``: a diagnosis from the answer itself
        (not an integer, wrong shape...) when no known mistake matches.
    arg_names : list of str, optional
        Names of the arguments, to print the failing case.
    scaffold : str
        The code cell the learner starts from (signature, docstring, ``...``).
    solution : callable
        A correct implementation written as a learner would (``qlearn/exercises/solutions/``).
    intro : str
        What the task asks and why, shown above the scaffold in the lesson.
    reference_name : str
        The qlearn function the check compares with.
    """

    name: str
    lesson: str
    title: str
    reference: Callable
    cases: list
    mistakes: list = field(default_factory=list)
    compare: Callable = same_numbers
    explain: Callable | None = None
    arg_names: list | None = None
    scaffold: str = ""
    solution: Callable | None = None
    intro: str = ""           # the markdown a lesson shows above the scaffold
    reference_name: str = ""  # the qlearn function the check compares with, as a learner would call it

    def __post_init__(self):
        TASKS[self.name] = self

    def _result(self, passed, diagnosis, case=None, expected=None, got=None, n=0):
        hint = f"Stuck? ql.exercises.solution('{self.name}') shows a solution (try first)."
        result = CheckResult(self.name, passed, diagnosis, case, expected, got, n, hint)
        RESULTS[self.name] = RESULTS.get(self.name, False) or bool(passed)
        for listener in list(LISTENERS):
            try:
                listener(self, result)
            except Exception:  # progress tracking never breaks a check
                pass
        return result

    def check(self, learner_fn) -> CheckResult:
        """Run ``learner_fn`` on every case; a :class:`CheckResult` (never raises on the learner's bugs)."""
        if isinstance(learner_fn, CheckResult) or not callable(learner_fn):
            return self._result(False, f"Pass your function itself, without calling it: "
                                       f"check_{self.name}({self.name}), not check_{self.name}({self.name}(...)); "
                                       f"got a {type(learner_fn).__name__}.")
        if _unwritten(learner_fn):
            return self._result(False, NOT_WRITTEN)
        expected = [self.reference(*c.args, **c.kwargs) for c in self.cases]
        got = []
        for i, c in enumerate(self.cases):
            g = call(learner_fn, c.args, c.kwargs)
            got.append(g)
            where = c.describe(self.arg_names)
            if i == 0 and (g is None or g is Ellipsis):
                return self._result(False, NOT_WRITTEN if _body_is_ellipsis(learner_fn) else
                                    "Your function returned None: it needs a `return` line with its answer.",
                                    f"{c.label}: {where}", expected[i], g, i + 1)
            if isinstance(g, _Raised):
                text = f"Your function raised {type(g.exc).__name__}: {g.exc} (on the case '{c.label}')."
                if c.note:
                    text += " " + c.note
                return self._result(False, text, f"{c.label}: {where}", expected[i], g, i + 1)
            if not self.compare(expected[i], g):
                # run the rest so a mistake can be matched on every case, then diagnose
                for c2 in self.cases[i + 1:]:
                    got.append(call(learner_fn, c2.args, c2.kwargs))
                return self._result(False, self._diagnose(i, expected, got), f"{c.label}: {where}",
                                    expected[i], g, i + 1)
        return self._result(True, f"Your {self.name} agrees with qlearn's on all {len(self.cases)} cases "
                                  f"(edge cases and seeded random ones).", n=len(self.cases))

    def _diagnose(self, i: int, expected: list, got: list) -> str:
        scores = []
        for m in self.mistakes:
            answers = [call(m.fn, c.args, c.kwargs) for c in self.cases]
            agree = [not isinstance(g, _Raised) and not isinstance(a, _Raised)
                     and (self.compare(a, g) or same_answers(a, g)) for a, g in zip(answers, got)]
            comparable = [not isinstance(g, _Raised) for g in got]
            if all(a for a, ok in zip(agree, comparable) if ok) and agree[i]:
                return m.diagnosis
            scores.append((sum(agree), agree[i], m))
        if self.explain is not None:
            text = self.explain(self.cases[i], expected[i], got[i])
            if text:
                return text
        if self.cases[i].note:
            return "Your answer differs from qlearn's on the case below. " + self.cases[i].note
        best = max((s for s in scores if s[1]), key=lambda s: s[0], default=None)
        if best is not None:
            return (f"Closest known mistake (it gives your answers on {best[0]} of {len(self.cases)} cases, "
                    f"this one included; something else differs too): {best[2].diagnosis}")
        return "Your answers differ from qlearn's on the case below; compare them number by number."


def _stub_doc():
    """A docstring."""
    ...


def _stub_plain():
    ...


def _body_is_ellipsis(fn) -> bool:
    """True if the function's body is only a docstring and ``...`` (the scaffold as given)."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return False
    if code.co_code in (_stub_doc.__code__.co_code, _stub_plain.__code__.co_code):
        return True  # the same bytecode as a body of only a docstring and `...`
    try:
        src = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):  # source not available (exec, some consoles)
        return False
    import ast

    try:
        tree = ast.parse(src)
    except SyntaxError:
        return False
    fdef = next((n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.Lambda))), None)
    if fdef is None:
        return False
    if isinstance(fdef, ast.Lambda):
        return isinstance(fdef.body, ast.Constant) and fdef.body.value is Ellipsis
    body = [n for n in fdef.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)
                                         and isinstance(n.value.value, str))]
    return all(isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant) and n.value.value is Ellipsis
               for n in body) or (len(body) == 1 and isinstance(body[0], ast.Raise)
                                  and "NotImplementedError" in ast.dump(body[0]))


def _unwritten(fn) -> bool:
    return _body_is_ellipsis(fn)


class Solution:
    """A reference solution, folded away: the learner opens it on purpose (HTML ``<details>``)."""

    def __init__(self, name: str, source: str):
        self.name, self.source = name, source

    def __repr__(self):
        return f"Solution of {self.name}:\n\n{self.source}"

    def _repr_html_(self):
        return (f"<details class='qlearn-solution'><summary>Show a solution of <code>{html.escape(self.name)}</code> "
                f"(try it yourself first)</summary><pre>{html.escape(self.source)}</pre></details>")


def solution(name: str) -> Solution:
    """A solution of the task ``name``, collapsed until the learner opens it.

    Examples
    --------
    >>> import qlearn.exercises
    >>> print(qlearn.exercises.solution("round_half_even").source.splitlines()[0])
    def round_half_even(x):
    """
    import qlearn.exercises  # noqa: F401  (fills TASKS)

    if name not in TASKS:
        raise ValueError(f"name must be one of {sorted(TASKS)}, got {name!r}")
    fn = TASKS[name].solution
    return Solution(name, textwrap.dedent(inspect.getsource(fn)))

"""A "Check yourself" quiz: multiple-choice and numeric questions with immediate feedback.

Built from plain ipywidgets (no ``interact``, no ``Output``), so it works in Voila. A numeric
answer is typed as text and read by :func:`qlearn.answers.parse_number`, which either reads it as a
person means it or says what it could not read (an empty box, ``0,02``, ``abc``, ``1e999``); it is
never silently turned into another number. Each question states the precision it asks for. A wrong
choice can have its own feedback (the misconception it reveals); after two wrong tries the answer
and its explanation are shown. The quiz keeps a score.

A lesson's quiz (:func:`lesson_quiz`) also reports into the lesson's progress
(:mod:`qlearn.viz.progress`), which the browser keeps in localStorage: under the heading it says how
many questions were answered right on an earlier visit, never which answers. A question counts as
answered right when it was solved before its answer was revealed.
"""
from __future__ import annotations

import html
import math

import ipywidgets as widgets

from qlearn import answers
from qlearn.viz.static import StaticPreview

#: Wrong tries after which a question shows its answer.
REVEAL_AFTER = 2


class Question(widgets.VBox):
    """One question. ``choices`` makes it multiple choice; ``tolerance``/``rel_tolerance`` numeric.

    Parameters
    ----------
    prompt : str
    answer : the right choice, or the number
    choices : list, optional
        Multiple choice.
    tolerance, rel_tolerance : float, optional
        Numeric: accepted when ``|value - answer| <= max(tolerance, rel_tolerance * |answer|)``.
        Use ``rel_tolerance`` for small answers (``1.5686e-5`` with 1% accepts ``1.57e-5``).
    explanation : str
        Shown when right, and with the answer after two wrong tries.
    hint : str
        Shown after a wrong try that has no specific feedback.
    feedback : dict, optional
        Multiple choice: for a wrong choice, what that choice reveals (shown instead of the hint).
    """

    def __init__(self, prompt: str, *, answer, choices: list | None = None, tolerance: float | None = None,
                 rel_tolerance: float | None = None, explanation: str = "", hint: str = "",
                 feedback: dict | None = None):
        numeric = tolerance is not None or rel_tolerance is not None
        if choices is None and not numeric:
            raise ValueError("a Question needs choices= (multiple choice) or tolerance=/rel_tolerance= (numeric)")
        if choices is not None and numeric:
            raise ValueError("a Question is either multiple choice (choices=) or numeric (tolerance=), not both")
        if choices is not None and answer not in choices:
            raise ValueError(f"answer {answer!r} is not one of the choices")
        for name, t in (("tolerance", tolerance), ("rel_tolerance", rel_tolerance)):
            if t is not None and (not isinstance(t, (int, float)) or not math.isfinite(t) or t < 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {t!r}")
        feedback = dict(feedback or {})
        if feedback and choices is None:
            raise ValueError("feedback= is per wrong choice: it needs choices=")
        unknown = [k for k in feedback if k not in choices] if feedback else []
        if unknown or answer in feedback:
            raise ValueError(f"feedback keys must be wrong choices; got {unknown or [answer]}")
        self.answer, self.choices = answer, choices
        self.tolerance = float(tolerance or 0.0) if numeric else None
        self.rel_tolerance = float(rel_tolerance or 0.0) if numeric else None
        self.explanation, self.hint, self.choice_feedback = explanation, hint, feedback
        self.tries, self.solved, self.revealed = 0, False, False
        self.on_result = None  # set by quiz(): called after every check
        note = ""
        if numeric:
            note = " " + answers.precision_note(float(answer), tolerance=self.tolerance,
                                                rel_tolerance=self.rel_tolerance)
        self.prompt = widgets.HTML(f"<b>{html.escape(prompt)}</b>{html.escape(note)}")
        if choices is not None:
            self.input = widgets.RadioButtons(options=list(choices), value=None, layout=widgets.Layout(width="auto"))
        else:
            self.input = widgets.Text(value="", placeholder="type a number", description="answer:",
                                      layout=widgets.Layout(width="240px"))
        self.button = widgets.Button(description="Check", button_style="primary")
        self.feedback = widgets.HTML()
        self.button.on_click(lambda _: self.check())
        super().__init__([self.prompt, self.input, widgets.HBox([self.button, self.feedback])],
                         layout=widgets.Layout(margin="0 0 12px 0"))
        self.add_class("qlearn-question")

    @property
    def numeric(self) -> bool:
        return self.choices is None

    def read(self):
        """The learner's answer: the choice, or the parsed number (``ValueError`` with a message if unreadable)."""
        if not self.numeric:
            if self.input.value is None:
                raise ValueError("Pick an answer first.")
            return self.input.value
        return answers.parse_number(self.input.value)

    def is_correct(self) -> bool:
        try:
            v = self.read()
        except ValueError:
            return False
        if not self.numeric:
            return v == self.answer
        return answers.is_close(v, float(self.answer), tolerance=self.tolerance, rel_tolerance=self.rel_tolerance)

    def check(self) -> bool:
        """Show feedback for the current answer and return whether it is right."""
        try:
            value = self.read()
        except ValueError as e:  # unreadable input is not a wrong answer: say what could not be read
            self.feedback.value = f"<span style='color:#555'>{html.escape(str(e))}</span>"
            return False
        ok = self.is_correct()
        self.tries += 1
        if ok:
            self.solved = True
            text = f"<span style='color:#007a3d'>&#10004; Correct.</span> {html.escape(self.explanation)}"
        else:
            specific = self.choice_feedback.get(value) if not self.numeric else None
            text = "<span style='color:#b00020'>&#10008; Not quite.</span> "
            text += html.escape(specific or (f"Hint: {self.hint}" if self.hint else "Try again."))
            if self.tries >= REVEAL_AFTER and not self.solved:
                self.revealed = True
                shown = self.answer if not self.numeric else f"{float(self.answer):.6g}"
                text += (f"<br><span style='color:#555'>The answer: <b>{html.escape(str(shown))}</b>. "
                         f"{html.escape(self.explanation)}</span>")
        self.feedback.value = text
        if self.on_result is not None:
            self.on_result()
        return ok


class QuizBox(StaticPreview, widgets.VBox):
    """The box :func:`quiz` returns (a VBox that also sends a server-rendered preview)."""


def quiz(*questions: Question, lesson: str | None = None) -> widgets.VBox:
    """Stack questions under a heading with a score line; returns a VBox with ``questions`` and ``score``.

    With ``lesson`` (``"02_rounding"``) the answers right are recorded in that lesson's progress
    (:func:`qlearn.viz.progress.tracker`), shown under the heading, and the box has ``progress``.
    """
    if not questions:
        raise ValueError("quiz needs at least one Question")
    for i, q in enumerate(questions):
        if not isinstance(q, Question):
            raise TypeError(f"questions[{i}] must be a Question, got {type(q).__name__}")
    score = widgets.HTML()
    progress = None
    if lesson is not None:
        from qlearn.viz.progress import tracker

        progress = tracker(lesson)

    def update():
        solved = sum(q.solved for q in questions)
        first = sum(q.solved and q.tries == 1 for q in questions)
        score.value = (f"<span class='qlearn-score'>Score: {solved} of {len(questions)} answered "
                       f"({first} on the first try).</span>")
        if progress is not None:  # solved before the answer was shown
            progress.record_quiz([i for i, q in enumerate(questions) if q.solved and not q.revealed],
                                 len(questions))

    for q in questions:
        q.on_result = update
    update()
    head = [widgets.HTML("<h3>Check yourself</h3>")] + ([progress] if progress is not None else [])
    box = QuizBox([*head, *questions, score])
    box.add_class("qlearn-quiz")  # browser tests find quizzes by this class
    box.questions = list(questions)
    box.score = score
    box.progress = progress
    return box


def lesson_quiz(lesson: str) -> widgets.VBox:
    """The "Check yourself" quiz of a lesson, built from ``qlearn/data/quizzes.json``.

    The questions, answers and explanations live there (:mod:`qlearn.quizzes`), not in the
    lesson's code cell, so a learner reading the notebook does not see the answers next to the
    questions.
    """
    from qlearn.quizzes import lesson_questions

    return quiz(*(Question(**q) for q in lesson_questions(lesson)), lesson=lesson)

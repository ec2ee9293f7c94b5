"""A "Check yourself" quiz: multiple-choice and numeric questions with immediate feedback.

Built from plain ipywidgets (no ``interact``, no ``Output``), so it works in Voila.
"""
from __future__ import annotations

import html
import math

import ipywidgets as widgets


class Question(widgets.VBox):
    """One question. ``choices`` makes it multiple choice; ``tolerance`` makes it numeric."""

    def __init__(self, prompt: str, *, answer, choices: list | None = None, tolerance: float | None = None,
                 explanation: str = "", hint: str = ""):
        if choices is None and tolerance is None:
            raise ValueError("a Question needs choices= (multiple choice) or tolerance= (numeric)")
        if choices is not None and answer not in choices:
            raise ValueError(f"answer {answer!r} is not one of the choices")
        if tolerance is not None and (not math.isfinite(float(tolerance)) or tolerance < 0):
            raise ValueError(f"tolerance must be a finite number >= 0, got {tolerance!r}")
        self.answer = answer
        self.tolerance = tolerance
        self.explanation = explanation
        self.hint = hint
        self.prompt = widgets.HTML(f"<b>{prompt}</b>")
        if choices is not None:
            self.input = widgets.RadioButtons(options=list(choices), value=None,
                                              layout=widgets.Layout(width="auto"))
        else:
            self.input = widgets.FloatText(value=0.0, description="answer:",
                                           layout=widgets.Layout(width="220px"))
        self.button = widgets.Button(description="Check", button_style="primary")
        self.feedback = widgets.HTML()
        self.button.on_click(lambda _: self.check())
        super().__init__([self.prompt, self.input, widgets.HBox([self.button, self.feedback])],
                         layout=widgets.Layout(margin="0 0 12px 0"))
        self.add_class("qlearn-question")

    def is_correct(self) -> bool:
        v = self.input.value
        if self.tolerance is None:
            return v == self.answer
        try:
            return math.isfinite(float(v)) and abs(float(v) - float(self.answer)) <= self.tolerance
        except (TypeError, ValueError):
            return False

    def check(self) -> bool:
        """Show feedback for the current answer and return whether it is right."""
        if self.tolerance is None and self.input.value is None:
            self.feedback.value = "<span style='color:#555'>Pick an answer first.</span>"
            return False
        ok = self.is_correct()
        mark = ("<span style='color:#007a3d'>&#10004; Correct.</span>" if ok
                else "<span style='color:#b00020'>&#10008; Not quite.</span>")
        if ok:
            text = self.explanation
        else:
            text = f"Hint: {self.hint}" if self.hint else "Try again."
        self.feedback.value = f"{mark} {html.escape(text)}"
        return ok


def quiz(*questions: Question) -> widgets.VBox:
    """Stack questions under a heading; returns a VBox with a ``questions`` attribute."""
    if not questions:
        raise ValueError("quiz needs at least one Question")
    box = widgets.VBox([widgets.HTML("<h3>Check yourself</h3>"), *questions])
    box.add_class("qlearn-quiz")  # browser tests find quizzes by this class
    box.questions = list(questions)
    return box

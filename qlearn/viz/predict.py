"""Committed predictions: the learner commits a guess before the lesson shows what happens.

A :class:`Prediction` asks a question (a choice, or a number typed as text and read by
:func:`qlearn.answers.parse_number`); the explanation stays folded until the learner commits, then
unfolds and shows their guess next to the value qlearn measured. A committed guess is kept (the box
is disabled), so the comparison is honest. Built from plain ipywidgets (no ``interact``, no
``Output``), so it works in Voila; nothing a learner types makes it raise.

Examples
--------
>>> p = predict("SQNR of an 8-bit full-scale sine, in dB?", measured=49.93, unit="dB",
...             explanation="6.02 dB per bit plus 1.76 dB.")
>>> p.reveal.value
''
>>> p.input.value = "48"
>>> p.button.click()
>>> p.committed, "48" in p.reveal.value and "49.93" in p.reveal.value
(True, True)
"""
from __future__ import annotations

import html
import math
import numbers

import ipywidgets as widgets

from qlearn import answers


def _fmt(value, unit: str = "") -> str:
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        v = float(value)
        text = f"{v:.6g}" if math.isfinite(v) else str(v)
    else:
        text = str(value)
    return f"{text} {unit}".strip()


class Prediction(widgets.VBox):
    """A committed prediction. Build it with :func:`predict`.

    Attributes
    ----------
    input : RadioButtons (choices) or Text (a number)
    button : Button ("Commit my prediction")
    message : HTML
        What could not be read (an empty box, ``0,02``), before committing.
    reveal : HTML
        Empty and hidden until the learner commits; then the guess, the measured value and the
        explanation.
    committed : bool
    guess : the committed choice or number (None before)
    """

    def __init__(self, question: str, *, measured, choices=None, answer=None, explanation: str = "",
                 unit: str = "", tolerance: float | None = None, rel_tolerance: float | None = None):
        if not isinstance(question, str) or not question.strip():
            raise ValueError("question must be a non-empty str")
        if choices is not None:
            choices = list(choices)
            if len(choices) < 2:
                raise ValueError(f"choices must hold at least two options, got {choices!r}")
            if answer is not None and answer not in choices:
                raise ValueError(f"answer {answer!r} is not one of the choices {choices!r}")
            if tolerance is not None or rel_tolerance is not None:
                raise ValueError("tolerance/rel_tolerance apply to a numeric prediction (choices=None)")
        else:
            if answer is not None:
                raise ValueError("answer= names the right choice; a numeric prediction compares with measured=")
            try:
                m = float(measured)
            except (TypeError, ValueError):
                raise TypeError(f"measured must be a number for a numeric prediction, got {measured!r}") from None
            if not math.isfinite(m):
                raise ValueError(f"measured must be finite, got {measured!r}")
        for name, t in (("tolerance", tolerance), ("rel_tolerance", rel_tolerance)):
            if t is not None and (not isinstance(t, numbers.Real) or not math.isfinite(t) or t < 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {t!r}")
        self.question, self.measured, self.choices, self.answer = question, measured, choices, answer
        self.explanation, self.unit = explanation, unit
        self.tolerance, self.rel_tolerance = tolerance, rel_tolerance
        self.committed, self.guess = False, None
        self.prompt = widgets.HTML(f"<b>Predict:</b> {html.escape(question)}")
        if choices is not None:
            self.input = widgets.RadioButtons(options=choices, value=None, layout=widgets.Layout(width="auto"))
        else:
            self.input = widgets.Text(value="", placeholder="your guess", description="guess:",
                                      layout=widgets.Layout(width="240px"))
        self.button = widgets.Button(description="Commit my prediction", button_style="info",
                                     layout=widgets.Layout(width="auto"))
        self.message = widgets.HTML()
        self.reveal = widgets.HTML(layout=widgets.Layout(display="none"))
        self.button.on_click(self._on_click)
        super().__init__([self.prompt, self.input, widgets.HBox([self.button, self.message]), self.reveal],
                         layout=widgets.Layout(margin="0 0 12px 0", border="1px solid #ddd", padding="6px"))
        self.add_class("qlearn-predict")  # browser tests find predictions by this class

    @property
    def numeric(self) -> bool:
        return self.choices is None

    def _on_click(self, _button=None):
        try:
            self.commit()
        except Exception as exc:  # a widget callback must never raise into the page
            self.message.value = f"<span style='color:#555'>Could not record that: {html.escape(str(exc))}</span>"

    def commit(self) -> bool:
        """Read and record the learner's guess, then unfold the explanation. False if nothing readable."""
        if self.committed:
            return True
        if self.numeric:
            try:
                guess = answers.parse_number(self.input.value if isinstance(self.input.value, str) else "")
            except ValueError as e:
                self.message.value = f"<span style='color:#555'>{html.escape(str(e))}</span>"
                return False
        else:
            guess = self.input.value
            if guess is None:
                self.message.value = "<span style='color:#555'>Pick one first.</span>"
                return False
        self.guess, self.committed = guess, True
        self.input.disabled = True
        self.button.disabled = True
        self.button.description = "Committed"
        self.message.value = ""
        self.reveal.value = self._reveal_html()
        self.reveal.layout.display = "block"
        return True

    def _verdict(self) -> str:
        if not self.numeric:
            if self.answer is None:
                return ""
            if self.guess == self.answer:
                return "<span style='color:#007a3d'>&#10004; Your prediction matches what was measured.</span> "
            return (f"<span style='color:#b00020'>&#10008; The measurement says "
                    f"<b>{html.escape(str(self.answer))}</b>.</span> ")
        m, g = float(self.measured), float(self.guess)
        if self.tolerance is not None or self.rel_tolerance is not None:
            if answers.is_close(g, m, tolerance=self.tolerance or 0.0, rel_tolerance=self.rel_tolerance or 0.0):
                return "<span style='color:#007a3d'>&#10004; Close enough.</span> "
        diff = g - m
        if diff == 0:
            return "<span style='color:#007a3d'>&#10004; Exactly.</span> "
        way = "above" if diff > 0 else "below"
        return f"Yours is {html.escape(_fmt(abs(diff), self.unit))} {way} the measured value. "

    def _reveal_html(self) -> str:
        rows = (f"<tr><td><i>your prediction</i></td><td><b>{html.escape(_fmt(self.guess, self.unit))}</b></td></tr>"
                f"<tr><td><i>measured by qlearn</i></td><td><b>{html.escape(_fmt(self.measured, self.unit))}</b>"
                "</td></tr>")
        return (f"<div class='qlearn-predict-reveal'><table>{rows}</table>{self._verdict()}"
                f"{html.escape(self.explanation)}</div>")


def predict(question: str, *, measured, choices=None, answer=None, explanation: str = "", unit: str = "",
            tolerance: float | None = None, rel_tolerance: float | None = None) -> Prediction:
    """A committed-prediction widget: the learner commits, then sees their guess next to ``measured``.

    Parameters
    ----------
    question : str
    measured : number, or the observed choice
        The value qlearn computed in the notebook (never typed by hand).
    choices : list, optional
        Multiple choice; without it the learner types a number (read by
        :func:`qlearn.answers.parse_number`: ``2.54/127``, ``1.5e-5``; ``0,02`` is refused with a message).
    answer : optional
        Multiple choice: the choice the measurement supports (marked right or wrong after committing).
    explanation : str
        Unfolds after the learner commits.
    unit : str
        Shown after numbers (``"dB"``).
    tolerance, rel_tolerance : float, optional
        Numeric: a guess within ``max(tolerance, rel_tolerance * |measured|)`` is called close.

    Returns
    -------
    Prediction
    """
    return Prediction(question, measured=measured, choices=choices, answer=answer, explanation=explanation,
                      unit=unit, tolerance=tolerance, rel_tolerance=rel_tolerance)

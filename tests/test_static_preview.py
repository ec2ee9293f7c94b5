"""Predictions and quizzes send a static HTML preview (qlearn.viz.static) that a served page shows
until the live widget is drawn: the question and inputs, disabled, and never what the learner is
about to find out (the measured value, the answer, the explanation)."""
from __future__ import annotations

import html
import re

import ipywidgets as widgets
import pytest

from qlearn.quizzes import lesson_questions, load_quizzes
from qlearn.viz import predict
from qlearn.viz.quiz import lesson_quiz
from qlearn.viz.static import PREVIEW_MIME, WIDGET_VIEW, static_html


def _preview(w) -> str:
    bundle = w._repr_mimebundle_()
    assert WIDGET_VIEW in bundle
    return bundle[PREVIEW_MIME]["html"]


def _visible_text(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", markup))


def _all_predictions():
    for lesson, makers in sorted(predict.LESSON_PREDICTIONS.items()):
        for k in range(len(makers)):
            yield lesson, k


@pytest.mark.parametrize("lesson,k", list(_all_predictions()))
def test_prediction_preview_asks_without_telling(lesson, k):
    p = predict.lesson_prediction(lesson, k)
    markup = _preview(p)
    text = _visible_text(markup)
    assert p.question.split()[0] in text and "connecting" in text
    # every input and button is disabled until the live widget replaces it
    assert markup.count("<input") + markup.count("<button") >= 2
    assert len(re.findall(r"<(?:input|button)\b[^>]*\bdisabled\b", markup)) == \
        markup.count("<input") + markup.count("<button")
    if p.explanation:
        assert html.escape(p.explanation) not in markup
    assert "measured by qlearn" not in text  # the reveal stays on the server until committed


@pytest.mark.parametrize("lesson", sorted(load_quizzes()))
def test_quiz_preview_has_every_question_and_no_answer(lesson):
    questions = lesson_questions(lesson)
    markup = _preview(lesson_quiz(lesson))
    text = _visible_text(markup)
    assert "Check yourself" in text
    for q in questions:
        assert html.unescape(html.escape(q["prompt"])) in text
        for choice in q.get("choices") or []:
            assert str(choice) in text
        for secret in (q.get("explanation"), q.get("hint"), *(q.get("feedback") or {}).values()):
            if secret:
                assert html.escape(secret) not in markup, secret
    assert "<script" not in markup.lower()


def test_hidden_and_unknown_widgets_are_left_out():
    box = widgets.VBox([widgets.HTML("shown"), widgets.HTML("secret", layout=widgets.Layout(display="none")),
                        widgets.IntSlider(5)])
    out = static_html(box)
    assert "shown" in out and "secret" not in out and "5" not in _visible_text(out)
    assert static_html(widgets.VBox([widgets.HTML("x", layout=widgets.Layout(display="none"))])) == ""


def test_text_is_escaped_and_layout_values_filtered():
    t = widgets.Text(value='"><script>', placeholder="<b>", description="a<b")
    out = static_html(t)
    assert "<script>" not in out and "&lt;b&gt;" in out and "a&lt;b" in out
    box = widgets.VBox([widgets.HTML("x")], layout=widgets.Layout(border='1px solid red"><script>'))
    assert "script" not in static_html(box)


def test_not_a_widget_is_a_type_error():
    with pytest.raises(TypeError, match="w must be an ipywidgets Widget"):
        static_html("<b>text</b>")


def test_a_widget_may_give_its_own_static_form():
    from qlearn.viz.progress import tracker

    out = static_html(widgets.VBox([widgets.HTML("head"), tracker("05_snr")]))
    assert "qlearn-w-reserve" in out and "head" in out

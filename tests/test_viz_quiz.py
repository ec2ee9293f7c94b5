"""The quiz widget, driven in plain Python as a learner would: honest input, feedback, reveal, score."""
import pytest

from qlearn.viz.quiz import REVEAL_AFTER, Question, quiz


def _numeric(**kw):
    return Question("Bias scale s_x * s_w?", answer=1.5686e-5, rel_tolerance=0.01,
                    explanation="the accumulator's scale", hint="multiply the two scales", **kw)


def test_numeric_box_starts_empty_and_states_its_precision():
    q = _numeric()
    assert q.input.value == ""
    assert "to within 1%" in q.prompt.value


@pytest.mark.parametrize("typed, says", [("", "Type a number first"), ("abc", "Could not read"),
                                         ("0,02", "Use a point for decimals"), ("1e999", "too large")])
def test_unreadable_input_is_explained_and_not_counted_as_a_try(typed, says):
    q = _numeric()
    q.input.value = typed
    assert q.check() is False
    assert says in q.feedback.value and "Not quite" not in q.feedback.value
    assert q.tries == 0


def test_small_answers_use_a_relative_tolerance():
    q = _numeric()
    q.input.value = "1.57e-5"
    assert q.check() and "Correct" in q.feedback.value


def test_a_fraction_is_read_as_a_fraction():
    q = Question("s = max|x| / qmax?", answer=0.02, tolerance=1e-4)
    q.input.value = "2.54/127"
    assert q.check()


def test_wrong_choices_get_their_own_feedback_and_the_answer_is_revealed_after_two_tries():
    q = Question("Which rounding is unbiased on ties?", answer="half to even",
                 choices=["half away from zero", "half to even", "truncation"],
                 feedback={"truncation": "Truncation is biased toward zero for every value, not only ties."},
                 hint="Look at the mean error column.", explanation="Ties go up and down equally often.")
    q.input.value = "truncation"
    assert not q.check()
    assert "biased toward zero" in q.feedback.value and "The answer" not in q.feedback.value
    q.input.value = "half away from zero"
    assert not q.check()
    assert q.tries == REVEAL_AFTER and q.revealed
    assert "Hint: Look at the mean error" in q.feedback.value and "The answer: <b>half to even</b>" in q.feedback.value


def test_pick_an_answer_first():
    q = Question("?", answer="a", choices=["a", "b"])
    assert not q.check() and "Pick an answer first" in q.feedback.value and q.tries == 0


def test_quiz_keeps_score():
    a = Question("?", answer="a", choices=["a", "b"])
    b = Question("n?", answer=3, tolerance=0)
    box = quiz(a, b)
    assert "0 of 2" in box.score.value
    a.input.value = "a"
    a.check()
    b.input.value = "2"
    b.check()
    b.input.value = "3"
    b.check()
    assert "2 of 2 answered (1 on the first try)" in box.score.value


@pytest.mark.parametrize("kw, message", [
    (dict(answer=1), "needs choices="),
    (dict(answer="c", choices=["a", "b"]), "not one of the choices"),
    (dict(answer=1.0, tolerance=-1), "tolerance must be a finite number >= 0"),
    (dict(answer=1.0, rel_tolerance=float("nan")), "rel_tolerance must be a finite number >= 0"),
    (dict(answer="a", choices=["a", "b"], tolerance=0.1), "not both"),
    (dict(answer="a", choices=["a", "b"], feedback={"a": "x"}), "feedback keys must be wrong choices"),
    (dict(answer="a", choices=["a", "b"], feedback={"z": "x"}), "feedback keys must be wrong choices"),
    (dict(answer=1.0, tolerance=0.1, feedback={"1": "x"}), "needs choices="),
])
def test_bad_questions_are_refused(kw, message):
    with pytest.raises(ValueError, match=message):
        Question("?", **kw)


def test_quiz_needs_questions():
    with pytest.raises(ValueError, match="at least one"):
        quiz()
    with pytest.raises(TypeError, match=r"questions\[0\] must be a Question"):
        quiz("not a question")

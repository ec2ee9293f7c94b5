"""The committed-prediction widget, driven in plain Python: the explanation stays folded until the learner
commits, then shows their guess next to the measured value; unreadable input is refused with a message;
nothing a learner types makes it raise."""
import html
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qlearn as ql
from qlearn.viz.predict import LESSON_PREDICTIONS, Prediction, lesson_prediction, predict


def _sine_8bit():
    return ql.ranges.snr.sine_sqnr_db(8)  # measured by qlearn, not typed here


def test_numeric_prediction_unfolds_after_commit_with_guess_and_measured():
    m = _sine_8bit()
    p = predict("SQNR of a full-scale sine at 8 bits?", measured=m, unit="dB", explanation="6.02 N + 1.76.")
    assert isinstance(p, Prediction) and "qlearn-predict" in p._dom_classes
    assert p.reveal.value == "" and p.reveal.layout.display == "none"
    p.input.value = "48"
    p.button.click()
    assert p.committed and p.guess == 48.0
    assert p.reveal.layout.display == "block"
    assert "48 dB" in p.reveal.value and f"{m:.6g} dB" in p.reveal.value
    assert f"{m - 48:.6g} dB below" in p.reveal.value
    assert "6.02 N + 1.76." in p.reveal.value
    assert p.input.disabled and p.button.disabled


def test_a_committed_guess_cannot_be_changed():
    p = predict("How many codes?", measured=256)
    p.input.value = "255"
    p.button.click()
    p.input.value = "256"
    p.button.click()
    assert p.guess == 255.0 and "255" in p.reveal.value


@pytest.mark.parametrize("typed, says", [("", "Type a number first."), ("0,02", "Use a point for decimals"),
                                         ("abc", "Could not read"), ("1e999", "too large"), ("5%", "% sign")])
def test_unreadable_input_is_refused_and_nothing_unfolds(typed, says):
    p = predict("A number?", measured=0.02)
    p.input.value = typed
    p.button.click()
    assert not p.committed and p.reveal.value == "" and p.reveal.layout.display == "none"
    assert html.escape(says) in p.message.value or says in p.message.value


def test_a_fraction_is_read_as_a_person_means_it():
    qp = ql.compute_qparams(-2.54, 2.54, bits=8, symmetric=True)
    p = predict("The scale?", measured=qp.scale, rel_tolerance=0.01)
    p.input.value = "2.54/127"
    p.button.click()
    assert p.guess == pytest.approx(0.02) and "Close enough" in p.reveal.value


def test_choice_prediction_marks_the_choice_the_measurement_supports():
    stats = ql.numbers.rounding.error_stats([0.5, 1.5, 2.5, 3.5], "half_away")
    biased = "biased up" if stats["mean"] > 0 else "unbiased"
    p = predict("Half-away on positive ties is...", measured=f"mean error {stats['mean']:+.2f}",
                choices=["unbiased", "biased up", "biased down"], answer=biased, explanation="Ties all go up.")
    p.button.click()
    assert not p.committed and "Pick one first." in p.message.value
    p.input.value = "unbiased"
    p.button.click()
    assert p.committed and "The measurement says" in p.reveal.value and "biased up" in p.reveal.value
    assert "mean error +0.50" in p.reveal.value
    q = predict("Again", measured="x", choices=["unbiased", "biased up"], answer="biased up")
    q.input.value = "biased up"
    q.button.click()
    assert "matches what was measured" in q.reveal.value


def test_html_in_text_is_escaped():
    p = predict("<script>?", measured=1.0, explanation="<b>bold</b>")
    assert "<script>" not in p.prompt.value
    p.input.value = "1"
    p.button.click()
    assert "<b>bold</b>" not in p.reveal.value and "Exactly." in p.reveal.value


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=20))
def test_nothing_typed_makes_it_raise(typed):
    p = predict("A number?", measured=3.0)
    p.input.value = typed
    p.button.click()  # never raises
    assert p.committed == (p.guess is not None)


def test_author_errors_are_named():
    with pytest.raises(ValueError, match="question"):
        predict("", measured=1.0)
    with pytest.raises(ValueError, match="at least two"):
        predict("q", measured=1.0, choices=["a"])
    with pytest.raises(ValueError, match="not one of the choices"):
        predict("q", measured=1.0, choices=["a", "b"], answer="c")
    with pytest.raises(TypeError, match="measured must be a number"):
        predict("q", measured="many")
    with pytest.raises(ValueError, match="finite"):
        predict("q", measured=float("nan"))
    with pytest.raises(ValueError, match="tolerance"):
        predict("q", measured=1.0, tolerance=-1)


# -- the lessons' predictions ------------------------------------------------------------------------
NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def _commit(p, value):
    if p.numeric:
        p.input.value = str(value)
    else:
        p.input.value = value
    p.button.click()
    return p.reveal.value


@pytest.mark.parametrize("lesson", sorted(LESSON_PREDICTIONS))
def test_each_lesson_prediction_builds_and_its_anchor_is_in_the_lesson(lesson):
    nb = json.loads((NOTEBOOKS / f"{lesson}.ipynb").read_text(encoding="utf-8"))
    text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    for k, (anchor, _) in enumerate(LESSON_PREDICTIONS[lesson]):
        assert anchor in text, f"{lesson}: the Predict paragraph {anchor!r} is gone"
        p = lesson_prediction(lesson, k)
        assert p.reveal.value == ""
        if not p.numeric and p.answer is not None:
            assert "matches what was measured" in _commit(p, p.answer)


def test_lesson_predictions_measure_what_an_independent_computation_gives():
    x = np.linspace(0, 50, 10_001)
    assert lesson_prediction("02_rounding").measured == pytest.approx(float(np.mean(np.trunc(x) - x)), abs=1e-12)
    assert lesson_prediction("03_scale_zero_point").measured == 2**3
    assert lesson_prediction("06_fixed_point").measured == (9 * 16 - 256) / 16
    n = next(n for n in range(2, 64) if 2 ** (n - 1) - 1 >= 64 * 2 ** (9 + 8 - 2))
    assert lesson_prediction("11_integer_inference", 1).measured == n
    # Jouppi et al. 2017: 256 x 256 MACs at 700 MHz, 34 GB/s; batch 200 = 200 MACs per weight byte. The
    # lesson's latency model adds fixed costs, so it reaches a little less than the roofline.
    roof = 100 * 2 * 200 * 34e9 / (2 * 256 * 256 * 700e6)
    assert 0.95 * roof < lesson_prediction("13_tpu_v1_capstone").measured <= roof
    assert "two or more tie" == lesson_prediction("12_systolic_array", 1).answer  # OS and IS: 1276 cycles each
    assert lesson_prediction("04_histograms_calibration", 1).answer == "3 sigma"
    assert lesson_prediction("02_rounding", 1).measured == 0.0  # every +0.1 is rounded away
    # one more row and column: ceil(129 / 128) ** 2 = 4 folds of the same length instead of one
    assert lesson_prediction("12_systolic_array", 2).measured == 4.0
    assert lesson_prediction("09_quantization_aware_training", 0).measured == pytest.approx(1.5, abs=0.002)
    assert lesson_prediction("06_fixed_point", 2).answer == "the dithered one"


def test_lesson_prediction_arguments_are_checked():
    with pytest.raises(ValueError, match="lesson must be one of"):
        lesson_prediction("99_nothing")
    with pytest.raises(ValueError, match="index must be in"):
        lesson_prediction("02_rounding", 2)
    assert lesson_prediction("02_rounding.ipynb").numeric


@pytest.mark.parametrize("lesson", sorted(LESSON_PREDICTIONS))
def test_each_lesson_shows_its_prediction_right_after_the_predict_paragraph(lesson):
    cells = json.loads((NOTEBOOKS / f"{lesson}.ipynb").read_text(encoding="utf-8"))["cells"]
    for k, (anchor, _) in enumerate(LESSON_PREDICTIONS[lesson]):
        call = f'ql.viz.predict.lesson_prediction("{lesson}"' + (f", {k})" if k else ")")
        at = next(i for i, c in enumerate(cells) if c["cell_type"] == "markdown" and anchor in "".join(c["source"]))
        nxt = cells[at + 1]
        assert nxt["cell_type"] == "code" and "".join(nxt["source"]).strip() == call, \
            f"{lesson}: {call} not after {anchor!r}"

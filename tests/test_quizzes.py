"""Every lesson's quiz builds, every question is answerable, and no lesson prints its answers."""
import json
from pathlib import Path

import pytest

from qlearn import quizzes
from qlearn.course import LESSONS
from qlearn.viz.quiz import Question, lesson_quiz

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def _lesson_code(name):
    nb = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text(encoding="utf-8"))
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")


@pytest.mark.parametrize("lesson", [le.file.removesuffix(".ipynb") for le in LESSONS[1:]])
def test_every_lesson_shows_its_quiz_from_the_data_file(lesson):
    code = _lesson_code(lesson)
    assert f'ql.viz.lesson_quiz("{lesson}")' in code
    assert "ql.viz.Question(" not in code and "answer=" not in code, "quiz answers in a learner's code cell"
    box = lesson_quiz(lesson)
    assert len(box.questions) == len(quizzes.lesson_questions(lesson)) >= 1


@pytest.mark.parametrize("lesson", sorted(quizzes.load_quizzes()))
def test_every_question_accepts_its_own_answer_and_rejects_another(lesson):
    for q in lesson_quiz(lesson).questions:
        assert isinstance(q, Question)
        if q.numeric:
            q.input.value = repr(float(q.answer))
            assert q.check(), q.prompt.value
            wrong = float(q.answer) * 1.5 + 1.0
            q.input.value = repr(wrong)
            assert not q.check(), f"{q.prompt.value}: accepts {wrong}"
        else:
            q.input.value = q.answer
            assert q.check(), q.prompt.value
            q.input.value = next(c for c in q.choices if c != q.answer)
            assert not q.check()


def test_the_data_file_is_checked():
    assert set(quizzes.load_quizzes()) == {le.file.removesuffix(".ipynb") for le in LESSONS[1:]}
    with pytest.raises(ValueError, match="lesson must be one of"):
        quizzes.lesson_questions("99_nothing")
    with pytest.raises(ValueError, match="lesson must be one of"):
        lesson_quiz("99_nothing")


def _answer(lesson, prompt_start):
    (q,) = [q for q in quizzes.lesson_questions(lesson) if q["prompt"].startswith(prompt_start)]
    return q["answer"]


def test_numeric_answers_are_what_qlearn_and_references_compute():
    """The quiz file holds numbers; each is recomputed here, by qlearn or an outside reference."""
    import math

    import ml_dtypes
    import numpy as np

    import qlearn as ql

    assert _answer("01_number_formats", "What is the largest finite value of FP8 E4M3") == float(
        ml_dtypes.finfo(ml_dtypes.float8_e4m3fn).max)
    assert _answer("01_number_formats", "How many GB") == 7e9 * 4 / 8 / 1e9
    assert _answer("02_rounding", "Round-to-nearest") == round(12 ** -0.5, 2)
    assert math.isclose(_answer("03_scale_zero_point", "Symmetric int8"),
                        ql.compute_qparams(-2.54, 2.54, bits=8, symmetric=True).scale, rel_tol=1e-12)
    assert _answer("04_histograms_calibration", "At 4 bits with clip alpha") == 2 / 2**4
    assert _answer("05_snr", "How many dB") == round(20 * math.log10(2), 2)
    assert _answer("06_fixed_point", "How many bits is a signed Q1.14") == 1 + 1 + 14
    assert _answer("07_per_channel", "At 4 bits, symmetric narrow range") == 2 * (2 ** 3 - 1) + 1
    assert _answer("07_per_channel", "Row c has a range 4 times") == round(20 * math.log10(4), 1)
    assert math.isclose(_answer("08_post_training_quantization", "A layer's input scale"), (1 / 255) * 0.004)
    d = ql.networks.data.load_digits()
    study = ql.networks.ptq.load_regularization_study()
    gain = int(np.round(study["delta"][:, list(study["bits"]).index(8)] * len(d.y_test)).max())
    assert _answer("09_quantization_aware_training", "Over the 8 models") == gain
    assert _answer("10_nonuniform_and_binary", "A layer has 4096 weights") == 4096 * 2 // 8 + 4 * 4
    assert _answer("11_integer_inference", "How many signed bits") == ql.hardware.intops.accumulator_bits_needed(1)
    expected = ql.hardware.intops.quantize_multiplier(0.25)[1]
    assert _answer("11_integer_inference", "quantize_multiplier(0.25)") == expected
    assert _answer("12_systolic_array", "Cycles for M=10, K=8, N=8") == ql.hardware.systolic.cycle_count(
        10, 8, 8, 8, 8, "weight_stationary")
    assert abs(_answer("13_tpu_v1_capstone", "Where is the roofline ridge") - ql.hardware.tpu.TPUv1().ridge_point) <= 1
    assert _answer("14_onnx_runtime", "ORT's requantization gives 2.5") == int(np.round(2.5))

"""Lessons 16 and 18 tasks: each check accepts qlearn's reference and a second correct implementation written
differently, and rejects seeded wrong implementations with the right diagnosis."""
import math

import numpy as np
from exercise_checks import rejects
from hypothesis import given, settings
from hypothesis import strategies as st

from qlearn.exercises import repairs as ex_rep
from qlearn.exercises import smoothing as ex_sm
from qlearn.exercises import tasks_of
from qlearn.exercises.solutions import repairs as sol_rep
from qlearn.exercises.solutions import smoothing as sol_sm
from qlearn.modern import smoothquant
from qlearn.networks import equalization


def test_the_two_lessons_have_their_tasks():
    assert [t.name for t in tasks_of("16_ptq_repairs.ipynb")] == ["equalization_scales"]
    assert [t.name for t in tasks_of("18_llm_weights.ipynb")] == ["smoothing_scales"]


# -- 16: equalization_scales -------------------------------------------------------------------------
def test_equalization_scales_accepts_reference_solution_and_a_loop():
    assert ex_rep.check_equalization_scales(equalization.equalization_scales).passed
    assert ex_rep.check_equalization_scales(sol_rep.equalization_scales).passed

    def loop(r1, r2):  # one channel at a time, with math
        return np.array([1.0 if a == 0 or b == 0 else math.sqrt(a * b) / b for a, b in zip(r1, r2)])

    assert ex_rep.check_equalization_scales(loop).passed


def test_equalization_scales_diagnoses():
    def sqrt_r2_r1(r1, r2):
        with np.errstate(all="ignore"):
            return np.sqrt(np.asarray(r2) / np.asarray(r1))

    rejects(ex_rep.check_equalization_scales, sqrt_r2_r1, "upside down")
    rejects(ex_rep.check_equalization_scales, lambda r1, r2: np.where(np.asarray(r2) > 0, np.asarray(r1) / np.where(
        np.asarray(r2) > 0, r2, 1), 1.0), "square root")
    rejects(ex_rep.check_equalization_scales, lambda r1, r2: np.sqrt(np.asarray(r1) * np.asarray(r2)),
            "common range")
    rejects(ex_rep.check_equalization_scales, lambda r1, r2: [1.0], "shape")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(1e-3, 1e3), st.floats(1e-3, 1e3)), min_size=1, max_size=8))
def test_the_scales_equalize_the_ranges(pairs):
    r1, r2 = (np.array(v) for v in zip(*pairs))
    s = sol_rep.equalization_scales(r1, r2)
    np.testing.assert_allclose(r1 / s, r2 * s, rtol=1e-12)
    np.testing.assert_allclose(r1 / s, np.sqrt(r1 * r2), rtol=1e-12)


# -- 18: smoothing_scales ----------------------------------------------------------------------------
def test_smoothing_scales_accepts_reference_solution_and_logs():
    assert ex_sm.check_smoothing_scales(sol_sm.smoothing_scales).passed

    def via_logs(x_absmax, w_absmax, alpha):  # exp(alpha log x - (1 - alpha) log w), floors kept
        x, w = np.asarray(x_absmax, float), np.maximum(np.asarray(w_absmax, float), 1e-5)
        with np.errstate(divide="ignore"):
            s = np.exp(alpha * np.log(x) - (1 - alpha) * np.log(w))
        if alpha == 0:
            s = 1 / w ** (1 - alpha)
        return np.maximum(s, 1e-5)

    res = ex_sm.check_smoothing_scales(via_logs)
    # exp/log round differently from ** in the last bits; the check's tolerance is 1e-12 relative
    assert res.passed, res


def test_smoothing_scales_diagnoses():
    rejects(ex_sm.check_smoothing_scales,
            lambda x, w, a: np.maximum(np.asarray(x) ** a * np.maximum(w, 1e-5) ** (1 - a), 1e-5), "multiplied")
    rejects(ex_sm.check_smoothing_scales,
            lambda x, w, a: np.maximum(np.asarray(x) ** (1 - a) / np.maximum(w, 1e-5) ** a, 1e-5), "swapped")
    rejects(ex_sm.check_smoothing_scales,
            lambda x, w, a: np.maximum(np.asarray(x) / np.maximum(w, 1e-5), 1e-5) ** a, "ratio")


def test_the_scales_keep_the_product_and_balance_the_maxima():
    rng = np.random.default_rng(0)
    X, W = rng.normal(size=(20, 6)) * [1, 1, 30, 1, 1, 1], rng.normal(size=(4, 6))
    s = sol_sm.smoothing_scales(np.abs(X).max(0), np.abs(W).max(0), 0.5)
    np.testing.assert_allclose((X / s) @ (W * s).T, X @ W.T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.abs(X / s).max(0), np.abs(W * s).max(0), rtol=1e-12)  # alpha 0.5: maxima meet
    np.testing.assert_allclose(s, smoothquant.smooth(W, np.abs(X).max(0), 0.5)[1], rtol=1e-12)

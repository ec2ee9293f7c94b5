"""The checking engine of the build-it-yourself tasks: it never raises on a learner's bug, says what
the unedited scaffold is, reports exceptions with the case, and folds solutions away."""
import html
import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qlearn as ql
from qlearn.exercises import TASKS, checking, notebook_cells, solution, tasks_of
from qlearn.exercises.checking import NOT_WRITTEN, CheckResult

LESSONS_WITH_TASKS = [f"{n:02d}" for n in range(2, 19)]


def _scaffold_fn(task):
    ns = {"np": np}
    exec(task.scaffold, ns)
    return ns[task.name]


def test_every_lesson_from_02_to_13_has_one_to_three_tasks():
    from qlearn.course import LESSONS

    for prefix in LESSONS_WITH_TASKS:
        lesson = next(le.file for le in LESSONS if le.file.startswith(prefix))
        assert 1 <= len(tasks_of(lesson)) <= 3, lesson


def test_ql_exercises_is_reachable_from_the_package():
    assert ql.exercises.rounding.check_round_half_even is not None


@pytest.mark.parametrize("name", sorted(TASKS))
def test_the_unedited_scaffold_is_not_written_yet(name):
    task = TASKS[name]
    fn = _scaffold_fn(task)
    res = task.check(fn)
    assert isinstance(res, CheckResult) and not res.passed
    assert res.diagnosis == NOT_WRITTEN
    assert "Your turn." in res._repr_html_() and "Not yet." not in res._repr_html_()


@pytest.mark.parametrize("name", sorted(TASKS))
def test_scaffolds_have_a_signature_a_docstring_and_dots(name):
    src = TASKS[name].scaffold
    assert src.startswith(f"def {name}(")
    assert '"""' in src and src.rstrip().endswith("...")
    assert "assert" not in src


@pytest.mark.parametrize("name", sorted(TASKS))
def test_the_solution_passes_and_is_folded(name):
    task = TASKS[name]
    assert task.check(task.solution).passed
    sol = solution(name)
    assert sol.source.startswith(f"def {name}(")
    page = sol._repr_html_()
    assert page.startswith("<details") and "<details open" not in page  # closed until the learner opens it
    assert html.escape(sol.source.splitlines()[0]) in page


@pytest.mark.parametrize("name", sorted(TASKS))
def test_a_learner_exception_is_reported_with_its_case(name):
    task = TASKS[name]

    def broken(*args, **kwargs):
        raise KeyError("oops")

    res = task.check(broken)
    assert not res.passed
    assert res.diagnosis.startswith("Your function raised KeyError: 'oops' (on the case ")
    assert res.case is not None and res.case.startswith(task.cases[0].label)


@pytest.mark.parametrize("name", sorted(TASKS))
def test_forgetting_return_is_named(name):
    def no_return(*args, **kwargs):
        args[0]  # works, but returns nothing

    res = TASKS[name].check(no_return)
    assert not res.passed and "returned None" in res.diagnosis


def test_passing_the_result_of_a_call_instead_of_the_function():
    res = ql.exercises.rounding.check_round_half_even(np.array([1.0]))
    assert not res.passed and "without calling it" in res.diagnosis


junk = st.one_of(st.none(), st.text(max_size=5), st.floats(allow_nan=True, allow_infinity=True),
                 st.lists(st.floats(allow_nan=True), max_size=4), st.dictionaries(st.text(max_size=2), st.integers(),
                                                                                   max_size=2),
                 st.tuples(st.floats(), st.text(max_size=2)), st.just(Ellipsis), st.just(np.array([[np.nan]])))


@settings(max_examples=40, deadline=None)
@given(answer=junk, name=st.sampled_from(sorted(TASKS)))
def test_a_check_never_raises_whatever_the_learner_returns(answer, name):
    res = TASKS[name].check(lambda *a, **k: answer)
    assert isinstance(res, CheckResult) and not res.passed
    assert res.diagnosis
    repr(res)
    res._repr_html_()


def test_result_reads_as_text_and_html():
    res = ql.exercises.rounding.check_round_half_even(lambda x: np.floor(np.asarray(x) + 0.5))
    text = repr(res)
    assert text.startswith("round_half_even: NOT YET. Ties go up")
    assert "expected:" in text and "got:" in text and "case:" in text
    page = res._repr_html_()
    assert "&#10008; Not yet." in page and "<table" in page
    assert not bool(res)
    ok = ql.exercises.rounding.check_round_half_even(ql.exercises.solutions.rounding.round_half_even)
    assert bool(ok) and "PASSED" in repr(ok) and "&#10004; Passed." in ok._repr_html_()


def test_a_function_that_writes_into_its_input_cannot_change_the_cases():
    def vandal(x):
        x[...] = 0.0
        return np.rint(x)

    ql.exercises.rounding.check_round_half_even(vandal)
    ok = ql.exercises.rounding.check_round_half_even(ql.exercises.solutions.rounding.round_half_even)
    assert ok.passed


def test_solution_names_are_checked():
    with pytest.raises(ValueError, match="name must be one of"):
        solution("no_such_task")


def test_a_compound_bug_gets_the_closest_mistake():
    # divides by 128 AND forgets the zero channel: no single known mistake, the closest is named
    wrong = lambda W, bits: np.abs(np.asarray(W)).max(axis=1) / 2 ** (bits - 1)  # noqa: E731
    res = ql.exercises.per_channel.check_per_channel_scales(wrong)
    assert res.diagnosis.startswith("Closest known mistake") and "128" in res.diagnosis


def test_numpy_warnings_of_the_learner_are_silenced():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = ql.exercises.calibration.check_kl_divergence(
            lambda P, Q: float(np.sum(np.asarray(P) * np.log(np.asarray(P) / np.asarray(Q)))))
    assert not res.passed and re.search(r"nan", res.diagnosis)


@pytest.mark.parametrize("name", sorted(TASKS))
def test_the_checks_own_reference_passes(name):
    task = TASKS[name]

    def reference(*args, **kwargs):
        out = task.reference(*args, **kwargs)
        return out.value if isinstance(out, checking.Approx) else out

    assert task.check(reference).passed


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_task_knows_at_least_three_mistakes_and_each_is_wrong_somewhere(name):
    task = TASKS[name]
    assert len(task.mistakes) >= 3
    for m in task.mistakes:  # a "mistake" that agrees with the reference everywhere would be a false diagnosis
        assert not task.check(m.fn).passed, m.diagnosis


# -- the lessons show their tasks (cells built by notebook_cells, inserted once) ----------------------
NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


@pytest.mark.parametrize("lesson", sorted({t.lesson for t in TASKS.values()}))
def test_each_lesson_shows_its_tasks(lesson):
    cells = json.loads((NOTEBOOKS / lesson).read_text(encoding="utf-8"))["cells"]
    have = [(c["cell_type"], "".join(c["source"]), "exercise" in c.get("metadata", {}).get("tags", []))
            for c in cells]
    want = [(c["cell_type"], c["source"], "exercise" in c["metadata"].get("tags", [])) for c in notebook_cells(lesson)]
    assert any(have[i:i + len(want)] == want for i in range(len(have))), f"{lesson}: task cells missing or edited"


def test_an_endless_loop_in_the_learners_function_is_stopped_and_named(monkeypatch):
    monkeypatch.setattr(checking, "TIME_LIMIT_S", 0.5)

    def forever(x):
        while True:
            pass

    t0 = time.monotonic()
    res = ql.exercises.rounding.check_round_half_even(forever)
    assert time.monotonic() - t0 < 5
    assert not res.passed and "TimeLimitExceeded" in res.diagnosis and "endless loop" in res.diagnosis
    # the timer is gone afterwards: a correct function still passes, and nothing fires later
    assert ql.exercises.rounding.check_round_half_even(ql.exercises.solutions.rounding.round_half_even).passed
    time.sleep(0.7)

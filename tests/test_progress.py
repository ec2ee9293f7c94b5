"""Progress kept in the browser (qlearn.viz.progress): the Python side, driven as a learner would.

The quiz, the committed predictions and the build-it-yourself checks report into one tracker per
lesson, whose synced ``session`` trait the browser merges into localStorage. The browser side's
JavaScript is run here too, under Node with a stand-in localStorage (skipped without Node); the
real browser is driven in tests/browser/test_progress.py.
"""
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from qlearn.course import LESSONS
from qlearn.exercises import checking
from qlearn.viz import progress
from qlearn.viz.predict import lesson_prediction
from qlearn.viz.quiz import REVEAL_AFTER, lesson_quiz

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    """Every test starts as a new kernel would: no trackers, no checks run."""
    monkeypatch.setattr(progress, "_TRACKERS", {})
    monkeypatch.setattr(checking, "RESULTS", {})


def _answer(q, value):
    q.input.value = value
    return q.check()


def _wrong(q):
    if q.numeric:
        return str(float(q.answer) * 3 + 7)
    return next(c for c in q.choices if c != q.answer)


def _right(q):
    return q.answer if not q.numeric else repr(float(q.answer))


def test_quiz_records_questions_answered_right_before_the_answer_is_shown():
    box = lesson_quiz("02_rounding")
    t = box.progress
    assert t is progress.tracker("02_rounding") and t in box.children
    q0, q1, q2 = box.questions
    assert t.session["quiz"] == {"total": 3, "right": []}   # the totals are known from the start
    assert t.session["predictions"] == {"total": 2, "committed": []}
    assert _answer(q0, _right(q0))
    assert t.session["quiz"] == {"total": 3, "right": [0]}
    for _ in range(REVEAL_AFTER):          # two wrong tries: the answer is shown ...
        _answer(q1, _wrong(q1))
    assert q1.revealed
    assert _answer(q1, _right(q1))          # ... so copying it does not count
    assert t.session["quiz"]["right"] == [0]
    _answer(q2, _wrong(q2))                 # one wrong try, then right: counts
    assert _answer(q2, _right(q2))
    assert t.session["quiz"] == {"total": 3, "right": [0, 2]}


def test_unreadable_input_records_nothing():
    box = lesson_quiz("01_number_formats")
    numeric = [q for q in box.questions if q.numeric]
    assert numeric, "lesson 01's quiz has a numeric question"
    _answer(numeric[0], "0,5")
    assert box.progress.session["quiz"]["right"] == []


def test_predictions_record_which_were_committed():
    p0 = lesson_prediction("06_fixed_point", 0)
    p2 = lesson_prediction("06_fixed_point", 2)
    t = progress.tracker("06_fixed_point")
    assert t.session["predictions"] == {"total": 3, "committed": []}
    p0.input.value = "abc"                  # unreadable: not committed, not recorded
    p0.button.click()
    assert not p0.committed and t.session["predictions"]["committed"] == []
    p2.input.value = p2.choices[0]
    p2.button.click()
    p0.input.value = "-7"
    p0.button.click()
    assert t.session["predictions"] == {"total": 3, "committed": [0, 2]}
    p0.button.click()                       # committing again changes nothing
    assert t.session["predictions"] == {"total": 3, "committed": [0, 2]}


def test_exercise_passes_are_recorded_and_kept():
    from qlearn.exercises import rounding
    from qlearn.exercises.solutions import rounding as solutions

    rounding.check_round_half_even(lambda x: x)  # wrong before the tracker exists
    assert checking.RESULTS == {"round_half_even": False}
    t = progress.tracker("02_rounding")
    assert t.session["exercises"] == {"total": 1, "passed": []}
    assert rounding.check_round_half_even(solutions.round_half_even).passed
    assert t.session["exercises"] == {"total": 1, "passed": ["round_half_even"]}
    assert not rounding.check_round_half_even(lambda x: x).passed  # a later failure keeps the pass
    assert t.session["exercises"]["passed"] == ["round_half_even"]


def test_a_pass_before_the_tracker_exists_is_picked_up():
    from qlearn.exercises import affine
    from qlearn.exercises.solutions import affine as solutions

    assert affine.check_quantize(solutions.quantize).passed
    assert progress.tracker("03_scale_zero_point.ipynb").session["exercises"] == {"total": 2, "passed": ["quantize"]}


def test_recording_never_raises():
    t = progress.tracker("02_rounding")
    t.record_quiz(["x"], 3)
    t.record_prediction(None, 2)
    t.record_exercise(object(), True, "many")
    assert t.session["quiz"]["right"] == [] and t.session["predictions"]["committed"] == []
    p = lesson_prediction("06_fixed_point")
    p.on_commit = lambda: 1 / 0
    p.input.value = "1"
    p.button.click()
    assert p.committed and "measured by qlearn" in p.reveal.value


@pytest.mark.parametrize("bad", ["", "  ", 3, None])
def test_a_lesson_must_be_named(bad):
    with pytest.raises(ValueError, match="lesson must be"):
        progress.tracker(bad)


def test_one_tracker_per_lesson():
    assert progress.tracker("02_rounding") is progress.tracker("02_rounding.ipynb")
    assert progress.tracker("02_rounding") is not progress.tracker("03_scale_zero_point")


def test_course_map_totals_are_what_the_lessons_hold():
    """Counted from the notebooks' own cells, not from the tables the widget uses."""
    totals = {t["lesson"]: t for t in progress.lesson_totals()}
    assert list(totals) == [le.file.removesuffix(".ipynb") for le in LESSONS[1:]]
    for le in LESSONS[1:]:
        nb = json.loads((NOTEBOOKS / le.file).read_text(encoding="utf-8"))
        code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
        t = totals[le.file.removesuffix(".ipynb")]
        assert t["title"] == le.title and t["number"] == le.file[:2]
        assert t["predictions"] == len(re.findall(r"lesson_prediction\(", code)), le.file
        assert t["exercises"] == len(re.findall(r"ql\.exercises\.\w+\.check_\w+\(", code)), le.file
        assert t["quiz"] == le.time.questions, le.file  # the quiz count the lesson's time was estimated with
    w = progress.course_progress().progress
    assert w.lessons == progress.lesson_totals() and w.kind == "course" and w.entries == {}


def test_the_course_map_shows_progress():
    nb = json.loads((NOTEBOOKS / "00_index.ipynb").read_text(encoding="utf-8"))
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    assert "ql.viz.progress.course_progress()" in code


def test_the_widgets_load_nothing_from_the_network():
    assert not re.search(r"https?:|//cdn|\bimport\s", progress._ESM)


def test_describe():
    assert progress.describe({}) == ""
    entry = {"quiz": {"total": 4, "right": [0, 1, 3]}, "predictions": {"total": 2, "committed": [1]},
             "exercises": {"total": 1, "passed": []}}
    assert progress.describe(entry) == ("3 of 4 quiz questions answered right, 1 of 2 predictions committed, "
                                        "0 of 1 build-it-yourself tasks passed")


# ----------------------------------------------------------------------------- the JavaScript, under Node

_NODE_HARNESS = r"""
const esm = process.argv[2], scenario = JSON.parse(process.argv[3]);
const items = new Map(Object.entries(scenario.storage || {}));
const storage = {
  getItem: k => items.has(k) ? items.get(k) : null,
  setItem: (k, v) => { if (scenario.refuse) { throw new Error("QuotaExceededError"); } items.set(k, String(v)); },
  removeItem: k => { items.delete(k); },
};
globalThis.window = {location: {pathname: scenario.path || "/"}, addEventListener() {}, removeEventListener() {}};
Object.defineProperty(globalThis.window, "localStorage", {get() {
  if (scenario.denied) { throw new Error("SecurityError"); } return storage; }});
globalThis.document = {getElementById: id => id === "jupyter-config-data" && scenario.config
                         ? {textContent: JSON.stringify(scenario.config)} : null};
function fakeModel(state) {
  const handlers = {};
  return {
    get: k => state[k], set: (k, v) => { state[k] = v; }, save_changes() {},
    on(ev, f) { (handlers[ev] = handlers[ev] || []).push(f); }, off() {},
    fire(ev) { (handlers[ev] || []).forEach(f => f()); }, state,
  };
}
const mod = (await import("data:text/javascript;base64," + Buffer.from(esm).toString("base64"))).default;
const model = fakeModel({kind: "lesson", lesson: scenario.lesson, session: scenario.session || {}});
mod.initialize({model});
for (const s of scenario.later || []) { model.set("session", s); model.fire("change:session"); }
console.log(JSON.stringify({state: model.state, storage: Object.fromEntries(items)}));
"""


def _run_js(tmp_path, scenario):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    harness = tmp_path / "harness.mjs"
    harness.write_text(_NODE_HARNESS, encoding="utf-8")
    out = subprocess.run([node, str(harness), progress._ESM, json.dumps(scenario)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _session(right=(), committed=(), passed=()):
    return {"quiz": {"total": 3, "right": list(right)}, "predictions": {"total": 2, "committed": list(committed)},
            "exercises": {"total": 1, "passed": list(passed)}}


def test_js_keys_by_base_path_and_merges_visits(tmp_path):
    key = progress.STORAGE_PREFIX + "|/user/ada/|02_rounding"
    old = {key: json.dumps({"quiz": {"total": 3, "right": [1]}, "predictions": {"total": 2, "committed": [0]},
                            "exercises": {"total": 1, "passed": []}})}
    other = progress.STORAGE_PREFIX + "|/user/bob/|02_rounding"
    old[other] = json.dumps({"quiz": {"total": 3, "right": [0, 1, 2]}})
    r = _run_js(tmp_path, {"lesson": "02_rounding", "config": {"baseUrl": "/user/ada/"}, "storage": old,
                           "path": "/user/ada/voila/render/02_rounding.ipynb",
                           "later": [_session(right=[0]), _session(right=[0, 2], passed=["round_half_even"])]})
    st = r["state"]
    assert st["storage"] == "local"
    assert st["stored"]["quiz"]["right"] == [1]           # what this browser had for ada, not bob's
    saved = json.loads(r["storage"][key])
    assert sorted(saved["quiz"]["right"]) == [0, 1, 2]    # an earlier right answer is never dropped
    assert saved["predictions"]["committed"] == [0] and saved["exercises"]["passed"] == ["round_half_even"]
    assert json.loads(r["storage"][other]) == {"quiz": {"total": 3, "right": [0, 1, 2]}}  # bob's untouched
    assert st["saved"]["quiz"]["right"] == saved["quiz"]["right"]


def test_js_base_path_from_the_address_without_page_config(tmp_path):
    r = _run_js(tmp_path, {"lesson": "05_snr", "path": "/user/eve/lab/tree/notebooks/05_snr.ipynb",
                           "later": [_session(committed=[0])]})
    assert list(r["storage"]) == [progress.STORAGE_PREFIX + "|/user/eve/|05_snr"]
    r = _run_js(tmp_path, {"lesson": "05_snr", "path": "/voila/render/05_snr.ipynb",
                           "later": [_session(committed=[0])]})
    assert list(r["storage"]) == [progress.STORAGE_PREFIX + "|/|05_snr"]


def test_js_an_empty_visit_writes_nothing(tmp_path):
    r = _run_js(tmp_path, {"lesson": "05_snr", "later": [_session()]})
    assert r["storage"] == {} and r["state"]["storage"] == "local"


@pytest.mark.parametrize("how", ["denied", "refuse"])
def test_js_without_storage_says_so_and_does_not_throw(tmp_path, how):
    r = _run_js(tmp_path, {"lesson": "05_snr", how: True, "later": [_session(right=[0])]})
    assert r["state"]["storage"] == "unavailable" and r["storage"] == {}

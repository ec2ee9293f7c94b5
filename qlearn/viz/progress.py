"""Progress kept in the learner's browser: quiz answers, committed predictions, passed tasks.

Two small `anywidget <https://anywidget.dev>`_ widgets (their JavaScript is inline here, nothing is
loaded from a CDN):

* :class:`LessonProgress`, one per lesson and kernel (:func:`tracker`). The quiz
  (:mod:`qlearn.viz.quiz`), the committed predictions (:mod:`qlearn.viz.predict`) and the
  build-it-yourself checks (:mod:`qlearn.exercises.checking`) report into it; Python keeps this
  visit's record in the synced ``session`` trait, and the browser side merges it into
  ``localStorage``. Shown under a lesson's quiz, it says what was kept from an earlier visit ("last
  time you answered 3 of 4 right"): it never shows an answer.
* :class:`CourseProgress` (:func:`course_progress`), on the course map: every lesson's entry, read
  from ``localStorage``, and a "Reset my progress" button.

Where it is stored
------------------
One ``localStorage`` item per lesson, named ``qlearn-progress/v1|<base path>|<lesson>``, holding
JSON: ``{"quiz": {"total": 4, "right": [0, 2]}, "predictions": {"total": 2, "committed": [0]},
"exercises": {"total": 1, "passed": ["round_half_even"]}, "updated": "<ISO time>"}``. A visit adds
to what is stored (a question answered right once stays counted), so a reload or a later visit never
loses progress; only the reset button erases it.

``localStorage`` belongs to an *origin* (scheme, host, port). Under ``qlearn serve`` every lesson
is on one origin, so the lessons and the course map share it. On the class JupyterHub every student
has their own server under ``/user/<name>/``, but all of them are on the hub's one origin: two
students who use the same browser (a lab computer) would see and overwrite each other's progress.
So the key holds the page's base path (``/user/<name>/`` on the hub, ``/`` under ``qlearn serve``),
read from the page's ``jupyter-config-data`` (Voila and JupyterLab both write it), or else from the
address. The same student in JupyterLab and in Voila on one server shares one record.

Where the browser refuses storage (some private windows, storage blocked by policy) the widgets say
"progress is not kept in this browser" and everything else works. Nothing here raises into a page:
Python-side recording is wrapped, and the JavaScript catches its own errors.

Examples
--------
>>> t = LessonProgress(lesson="02_rounding")
>>> t.record_quiz([0, 2], 3)
>>> t.record_prediction(1, 2)
>>> t.session["quiz"], t.session["predictions"]
({'total': 3, 'right': [0, 2]}, {'total': 2, 'committed': [1]})
"""
from __future__ import annotations

import anywidget
import traitlets

#: Prefix of every localStorage item qlearn writes (the version lets a later format coexist).
STORAGE_PREFIX = "qlearn-progress/v1"

_ESM = r"""
const PREFIX = "qlearn-progress/v1";

function basePath() {
  try {
    const el = document.getElementById("jupyter-config-data");
    if (el) {
      const base = JSON.parse(el.textContent || "{}").baseUrl;
      if (typeof base === "string" && base) { return base; }
    }
  } catch (e) { /* fall back to the address */ }
  const m = (window.location.pathname || "/").match(/^(.*?\/user\/[^/]+\/)/);
  return m ? m[1] : "/";
}

function keyPrefix() { return PREFIX + "|" + basePath() + "|"; }

function store() {  // window.localStorage, or null where the browser refuses it
  try {
    const s = window.localStorage;
    const probe = PREFIX + "|probe";
    s.setItem(probe, "1");
    s.removeItem(probe);
    return s;
  } catch (e) { return null; }
}

function readEntry(s, lesson) {
  if (!s) { return null; }
  try {
    const raw = s.getItem(keyPrefix() + lesson);
    const v = raw ? JSON.parse(raw) : null;
    return v && typeof v === "object" ? v : null;
  } catch (e) { return null; }
}

function list(x) { return Array.isArray(x) ? x : []; }
function union(a, b) { return Array.from(new Set(list(a).concat(list(b)))); }

function merge(old, now) {  // what is stored after this visit: nothing learned is ever dropped
  old = old || {};
  now = now || {};
  const out = {};
  const parts = [["quiz", "right"], ["predictions", "committed"], ["exercises", "passed"]];
  for (const [part, field] of parts) {
    const o = old[part] || {}, n = now[part] || {};
    const total = Number(n.total) > 0 ? Number(n.total) : (Number(o.total) || 0);
    out[part] = {total: total};
    out[part][field] = union(o[field], n[field]);
  }
  out.updated = new Date().toISOString();
  return out;
}

function hasAny(entry) {
  if (!entry) { return false; }
  return list((entry.quiz || {}).right).length + list((entry.predictions || {}).committed).length +
         list((entry.exercises || {}).passed).length > 0;
}

function count(entry, part, field) {
  const p = (entry || {})[part] || {};
  return [list(p[field]).length, Number(p.total) || 0];
}

function summary(entry, withoutQuiz) {
  const parts = [];
  const [qr, qt] = withoutQuiz ? [0, 0] : count(entry, "quiz", "right");
  const [pc, pt] = count(entry, "predictions", "committed");
  const [ep, et] = count(entry, "exercises", "passed");
  if (qt) { parts.push(qr + " of " + qt + " quiz questions answered right"); }
  if (pt) { parts.push(pc + " of " + pt + " predictions committed"); }
  if (et) { parts.push(ep + " of " + et + " build-it-yourself tasks passed"); }
  return parts.join(", ");
}

function text(tag, cls, content) {
  const el = document.createElement(tag);
  if (cls) { el.className = cls; }
  if (content !== undefined) { el.textContent = content; }
  return el;
}

const NOT_KEPT = "Progress is not kept in this browser: it does not allow this page to store data " +
                 "(a private window, or storage blocked). Everything else works.";

// ------------------------------------------------------------------ one lesson
function saveSession(model, s) {
  const session = model.get("session") || {};
  if (!s || !hasAny(session)) { return; }
  const lesson = model.get("lesson");
  const entry = merge(readEntry(s, lesson), session);
  try { s.setItem(keyPrefix() + lesson, JSON.stringify(entry)); } catch (e) { return; }
  model.set("saved", entry);
  model.save_changes();
  // a course map in this same document (JupyterLab) redraws; other tabs get the "storage" event
  try { window.dispatchEvent(new CustomEvent("qlearn-progress")); } catch (e) { /* never raise */ }
}

function initializeLesson(model) {
  const s = store();
  const before = readEntry(s, model.get("lesson"));
  model.set("storage", s ? "local" : "unavailable");
  model.set("stored", before || {});
  model.save_changes();
  saveSession(model, s);
  model.on("change:session", () => { try { saveSession(model, store()); } catch (e) { /* never raise */ } });
}

function renderLesson(model, el) {
  const box = text("div", "qlearn-progress");
  el.appendChild(box);
  const draw = () => {
    box.textContent = "";
    if (model.get("storage") === "unavailable") {
      box.appendChild(text("span", "qlearn-progress-off", NOT_KEPT));
      return;
    }
    const before = model.get("stored") || {};
    if (hasAny(before)) {
      const [qr, qt] = count(before, "quiz", "right");
      const rest = summary(before, qt > 0);
      const last = (qt ? "Last time you answered " + qr + " of " + qt + " right. " : "") +
                   (rest ? "Kept from an earlier visit: " + rest + ". " : "");
      box.appendChild(text("div", "qlearn-progress-last",
        last + "The answers are not shown: answer again to check yourself."));
    }
    const saved = model.get("saved") || {};
    if (hasAny(saved)) {
      box.appendChild(text("div", "qlearn-progress-now", "Saved in this browser: " + summary(saved) + "."));
    } else if (!hasAny(before)) {
      box.appendChild(text("div", "qlearn-progress-now",
        "Your answers here are saved in this browser and shown on the course map."));
    }
  };
  model.on("change:stored", draw);
  model.on("change:saved", draw);
  model.on("change:storage", draw);
  draw();
  return () => {
    model.off("change:stored", draw);
    model.off("change:saved", draw);
    model.off("change:storage", draw);
  };
}

// ------------------------------------------------------------------ the course map
function readAll(model, s) {
  const out = {};
  for (const le of list(model.get("lessons"))) {
    const e = readEntry(s, le.lesson);
    if (e) { out[le.lesson] = e; }
  }
  return out;
}

function renderCourse(model, el) {
  const box = text("div", "qlearn-course-progress");
  el.appendChild(box);
  let confirming = false;
  const draw = () => {
    box.textContent = "";
    const s = store();
    if (!s) { box.appendChild(text("p", "qlearn-progress-off", NOT_KEPT)); return; }
    const entries = readAll(model, s);
    const table = text("table", "qlearn-progress-table");
    const head = table.insertRow();
    for (const h of ["lesson", "quiz right", "predictions", "tasks passed"]) {
      head.appendChild(text("th", "", h));
    }
    for (const le of list(model.get("lessons"))) {
      const e = entries[le.lesson];
      const row = table.insertRow();
      row.dataset.lesson = le.lesson;
      row.insertCell().textContent = le.number + " " + le.title;
      const cells = [["quiz", "right", le.quiz], ["predictions", "committed", le.predictions],
                     ["exercises", "passed", le.exercises]];
      for (const [part, field, total] of cells) {
        const cell = row.insertCell();
        const done = e ? list((e[part] || {})[field]).length : 0;
        cell.textContent = total ? done + " / " + total : "";
        if (total && done >= total) { cell.className = "qlearn-progress-done"; }
      }
    }
    box.appendChild(table);
    const n = Object.keys(entries).length;
    box.appendChild(text("p", "qlearn-progress-note", n
      ? "Kept in this browser only (not on the server); another browser or computer starts empty."
      : "Nothing saved yet: answer a quiz or commit a prediction in a lesson and it shows here."));
    const reset = text("button", "jupyter-button qlearn-progress-reset",
                       confirming ? "Yes, erase my progress" : "Reset my progress");
    reset.onclick = () => {
      if (!confirming) { confirming = true; draw(); return; }
      confirming = false;
      try {
        for (const le of list(model.get("lessons"))) { s.removeItem(keyPrefix() + le.lesson); }
      } catch (e) { /* never raise */ }
      model.set("resets", (model.get("resets") || 0) + 1);
      model.save_changes();
      draw();
    };
    box.appendChild(reset);
    if (confirming) {
      const cancel = text("button", "jupyter-button", "Keep it");
      cancel.onclick = () => { confirming = false; draw(); };
      box.appendChild(cancel);
    }
    model.set("entries", entries);
    model.save_changes();
  };
  const onStorage = (ev) => { if (!ev.key || ev.key.startsWith(PREFIX)) { draw(); } };
  const onShow = () => { if (document.visibilityState === "visible") { draw(); } };
  const onSaved = () => draw();
  window.addEventListener("storage", onStorage);
  window.addEventListener("qlearn-progress", onSaved);
  document.addEventListener("visibilitychange", onShow);
  model.on("change:lessons", draw);
  try { draw(); } catch (e) { box.textContent = "Progress could not be read."; }
  return () => {
    window.removeEventListener("storage", onStorage);
    window.removeEventListener("qlearn-progress", onSaved);
    document.removeEventListener("visibilitychange", onShow);
    model.off("change:lessons", draw);
  };
}

function safe(fn) {
  return (ctx) => {
    try { return fn(ctx.model, ctx.el); } catch (e) {
      if (ctx.el) { ctx.el.textContent = "Progress is not available here."; }
      return undefined;
    }
  };
}

export default {
  initialize({model}) {
    try { if (model.get("kind") === "lesson") { initializeLesson(model); } } catch (e) { /* never raise */ }
  },
  render: safe((model, el) => model.get("kind") === "lesson" ? renderLesson(model, el) : renderCourse(model, el)),
};
"""

_CSS = """
.qlearn-progress { color: #444; font-size: 0.92em; margin: 4px 0 8px 0; }
.qlearn-progress-off { color: #8a5a00; }
.qlearn-progress-table { border-collapse: collapse; margin: 4px 0; }
.qlearn-progress-table th, .qlearn-progress-table td { padding: 2px 10px; text-align: left;
  border-bottom: 1px solid #e4e4e4; }
.qlearn-progress-done { color: #007a3d; font-weight: bold; }
.qlearn-progress-note { color: #555; font-size: 0.92em; }
.qlearn-course-progress button { margin-right: 8px; }
"""


def _empty_session() -> dict:
    return {"quiz": {"total": 0, "right": []}, "predictions": {"total": 0, "committed": []},
            "exercises": {"total": 0, "passed": []}}


def _lesson_stem(lesson) -> str:
    if not isinstance(lesson, str) or not lesson.strip():
        raise ValueError(f"lesson must be a notebook name such as '02_rounding', got {lesson!r}")
    return lesson.strip().removesuffix(".ipynb")


class LessonProgress(anywidget.AnyWidget):
    """One lesson's progress in this visit (``session``), saved by the browser into localStorage.

    Traits synced with the browser: ``lesson``; ``session`` (set here: this visit's record);
    ``stored`` (set by the browser: what localStorage held when the page loaded); ``saved`` (set by
    the browser: the merged entry it wrote); ``storage`` (``"unknown"`` until the browser answers,
    then ``"local"`` or ``"unavailable"``).
    """

    _esm = _ESM
    _css = _CSS
    kind = traitlets.Unicode("lesson").tag(sync=True)

    def static_html(self) -> str:
        """Its place in a served page before it is live (qlearn.viz.static): what it will say
        depends on this browser's storage, so only its one line's height is kept."""
        return '<div class="qlearn-w-reserve" style="min-height: 44px"></div>'

    lesson = traitlets.Unicode("").tag(sync=True)
    session = traitlets.Dict().tag(sync=True)
    stored = traitlets.Dict().tag(sync=True)
    saved = traitlets.Dict().tag(sync=True)
    storage = traitlets.Unicode("unknown").tag(sync=True)

    def __init__(self, **kwargs):
        if "lesson" in kwargs:
            kwargs["lesson"] = _lesson_stem(kwargs["lesson"])
        kwargs.setdefault("session", _empty_session())
        super().__init__(**kwargs)
        self.add_class("qlearn-progress-widget")

    def _update(self, part: str, field: str, values, total: int) -> None:
        session = {k: dict(v) for k, v in (self.session or _empty_session()).items()}
        entry = session.setdefault(part, {"total": 0, field: []})
        entry["total"] = int(total)
        entry[field] = list(values)
        self.session = session  # a new dict: traitlets sends it to the browser

    def record_quiz(self, right, total: int) -> None:
        """The quiz's questions answered right (indices) out of ``total``. Never raises."""
        try:
            self._update("quiz", "right", sorted({int(i) for i in right}), total)
        except Exception:  # recording progress must never break a lesson
            pass

    def record_prediction(self, index: int, total: int) -> None:
        """Prediction ``index`` (of ``total`` in the lesson) was committed. Never raises."""
        try:
            done = set(self.session.get("predictions", {}).get("committed", [])) | {int(index)}
            self._update("predictions", "committed", sorted(done), total)
        except Exception:
            pass

    def record_exercise(self, name: str, passed: bool, total: int) -> None:
        """A build-it-yourself check ran; a pass is added (a later failure does not remove it). Never raises."""
        try:
            done = list(self.session.get("exercises", {}).get("passed", []))
            if passed and name not in done:
                done.append(str(name))
            self._update("exercises", "passed", done, total)
        except Exception:
            pass


_TRACKERS: dict[str, LessonProgress] = {}


def tracker(lesson: str) -> LessonProgress:
    """The :class:`LessonProgress` of ``lesson`` in this kernel (made on first use, then the same one).

    Build-it-yourself checks already passed in this kernel are added when it is made.
    """
    stem = _lesson_stem(lesson)
    t = _TRACKERS.get(stem)
    if t is None:
        t = _TRACKERS[stem] = LessonProgress(lesson=stem)
        try:  # the totals are known from the start, so the browser can say "0 of 2"
            totals = _totals(stem)
            session = _empty_session()
            for part in session:
                session[part]["total"] = totals[part]
            t.session = session
        except Exception:
            pass
        try:
            from qlearn.exercises import checking

            for name, passed in checking.RESULTS.items():
                task = checking.TASKS.get(name)
                if task is not None and _lesson_stem(task.lesson) == stem:
                    t.record_exercise(name, passed, _exercise_total(stem))
        except Exception:
            pass
    return t


def _totals(stem: str) -> dict:
    """How many quiz questions, committed predictions and tasks lesson ``stem`` has."""
    from qlearn.quizzes import load_quizzes
    from qlearn.viz.predict import LESSON_PREDICTIONS

    return {"quiz": len(load_quizzes().get(stem, [])), "predictions": len(LESSON_PREDICTIONS.get(stem, [])),
            "exercises": _exercise_total(stem)}


def _exercise_total(stem: str) -> int:
    from qlearn.exercises import checking

    return sum(_lesson_stem(t.lesson) == stem for t in checking.TASKS.values())


def _on_check(task, result) -> None:
    """Listener registered with :mod:`qlearn.exercises.checking`: a check ran."""
    try:
        stem = _lesson_stem(task.lesson)
        tracker(stem).record_exercise(task.name, bool(result.passed), _exercise_total(stem))
    except Exception:
        pass


def _register() -> None:
    try:
        from qlearn.exercises import checking

        listeners = getattr(checking, "LISTENERS", None)
        if listeners is not None and _on_check not in listeners:
            listeners.append(_on_check)
    except Exception:
        pass


_register()


class CourseProgress(anywidget.AnyWidget):
    """Every lesson's progress as the browser has it, with a "Reset my progress" button.

    ``lessons`` (set here) lists each lesson with its number of quiz questions, predictions and tasks;
    ``entries`` (set by the browser) is what it read from localStorage; ``resets`` counts resets.
    """

    _esm = _ESM
    _css = _CSS
    kind = traitlets.Unicode("course").tag(sync=True)
    lessons = traitlets.List().tag(sync=True)
    entries = traitlets.Dict().tag(sync=True)
    resets = traitlets.Int(0).tag(sync=True)


def lesson_totals() -> list[dict]:
    """For every lesson after the course map: its stem, number, title and how many quiz questions,
    committed predictions and build-it-yourself tasks it has (what the course map counts against)."""
    from qlearn.course import LESSONS

    out = []
    for le in LESSONS[1:]:
        stem = le.file.removesuffix(".ipynb")
        out.append({"lesson": stem, "number": stem[:2], "title": le.title, **_totals(stem)})
    return out


def course_progress():
    """The course map's progress table: every lesson's entry, read from this browser's localStorage.

    Returns a VBox holding the :class:`CourseProgress` (as ``.progress``), so the page shows it as
    it shows every other widget output.
    """
    import ipywidgets as widgets

    box = widgets.VBox([CourseProgress(lessons=lesson_totals())])
    box.add_class("qlearn-course-progress-box")
    box.progress = box.children[0]
    return box


def describe(entry: dict) -> str:
    """A stored entry in words (the same words the browser writes), for tests and for Python users.

    >>> describe({"quiz": {"total": 4, "right": [0, 1, 3]}, "predictions": {"total": 0, "committed": []}})
    '3 of 4 quiz questions answered right'
    """
    parts = []
    for part, field, words in (("quiz", "right", "quiz questions answered right"),
                               ("predictions", "committed", "predictions committed"),
                               ("exercises", "passed", "build-it-yourself tasks passed")):
        p = (entry or {}).get(part) or {}
        if p.get("total"):
            parts.append(f"{len(p.get(field) or [])} of {int(p['total'])} {words}")
    return ", ".join(parts)

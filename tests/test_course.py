"""The course map, the notebooks folder and the index agree; every link in every lesson resolves."""
import json
import re
from pathlib import Path

from qlearn.course import LESSONS, lesson

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def _markdown(path: Path) -> str:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


def test_every_notebook_is_a_lesson_and_every_lesson_a_notebook():
    on_disk = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    assert on_disk == sorted(le.file for le in LESSONS)


def test_index_links_every_lesson_in_order():
    text = _markdown(NOTEBOOKS / "00_index.ipynb")
    linked = re.findall(r"\]\((\d\d_[a-z0-9_]+\.ipynb)\)", text)
    table = [f for f in dict.fromkeys(linked)]
    assert table[: len(LESSONS) - 1] == [le.file for le in LESSONS[1:]]


def test_every_relative_link_resolves():
    for path in NOTEBOOKS.glob("*.ipynb"):
        for target in re.findall(r"\]\(([^)#\s]+\.ipynb)", _markdown(path)):
            assert (NOTEBOOKS / target).exists(), f"{path.name} links to missing {target}"


def test_lessons_follow_the_template():
    for le in LESSONS[1:]:
        text = _markdown(NOTEBOOKS / le.file)
        for heading in ("You will learn", "Predict", "What you should see", "Summary", "Exercises", "References"):
            assert heading in text, f"{le.file} lacks '{heading}'"
        nb = json.loads((NOTEBOOKS / le.file).read_text(encoding="utf-8"))
        code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
        assert "ql.viz.lesson_quiz(" in code, f"{le.file} has no quiz"
        # the one exception: a build-it-yourself scaffold, a cell tagged "exercise", where the learner writes a def
        own = "\n".join("".join(c["source"]) for c in nb["cells"]
                        if c["cell_type"] == "code" and "exercise" not in c.get("metadata", {}).get("tags", []))
        assert not re.search(r"^\s*def ", own, re.M), f"{le.file} defines a function: it belongs in qlearn"
        assert "interact(" not in code and "widgets.Output" not in code, f"{le.file} uses interact/Output"
        # a bare go.Figure goes through plotly's mime renderer, which errors in Voila pages
        bare = re.findall(r"^(ql\.viz\.\w+\.\w+_figure\(.*)$", code, re.M)
        assert not bare, f"{le.file} displays a bare figure; wrap it: ql.viz.widget(...): {bare}"


def test_lesson_lookup():
    assert lesson("02_rounding.ipynb").title == "Rounding"


# ----------------------------------------------------------------------------- each lesson's time
# The times come from the timed run-through in docs/teaching.md; course.py, the course map's "min"
# column, each lesson's top line and the teacher's kit must say the same.

TEACHING = Path(__file__).resolve().parent.parent / "docs" / "teaching.md"
_ROW = re.compile(r"^\| (\d\d) [^|]+\| (\d+) \| ([\d.]+) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \|$", re.M)


def _teaching_rows() -> dict:
    """lesson number -> (words, cell seconds, reading min, explorers, quiz questions, tasks, total min)."""
    rows = {}
    for m in _ROW.finditer(TEACHING.read_text(encoding="utf-8")):
        n, words, cells, reading, explorers, questions, tasks, total = m.groups()
        rows[n] = (int(words), float(cells), int(reading), int(explorers), int(questions), int(tasks), int(total))
    return rows


def test_every_lesson_has_a_time():
    untimed = [le.file for le in LESSONS if le.time is None]
    assert not untimed, (f"{untimed} have no time: time them as docs/teaching.md says, add a row there and "
                         "time=Timing(...) in qlearn/course.py")


def test_times_agree_with_the_teachers_kit():
    rows = _teaching_rows()
    assert sorted(rows) == sorted(le.file[:2] for le in LESSONS), "docs/teaching.md's table vs qlearn.course"
    text = TEACHING.read_text(encoding="utf-8")
    for le in LESSONS:
        words, cells, reading, explorers, questions, tasks, total = rows[le.file[:2]]
        assert le.time == (total, explorers, questions, tasks), le.file
        # the total is the sum the kit describes: words at 150/min + measured cells + 3 min per explorer
        # + 1 per quiz question + 10 per task (so a typo in either the parts or the total fails here)
        assert round(words / 150 + cells / 60 + 3 * explorers + questions + 10 * tasks) == total, le.file
        assert round(words / 150) == reading, le.file
        if le.file != "00_index.ipynb":
            assert re.search(rf"^### {le.file[:2]} · .*\({total} min\)$", text, re.M), f"kit's heading for {le.file}"
    hours = sum(le.minutes for le in LESSONS) / 60
    stated = float(re.search(r"\*\*about ([\d.]+) hours\*\*", text).group(1))
    assert round(hours * 2) / 2 == stated, (hours, stated)


def test_times_count_what_the_lessons_hold():
    """What each time counts (explorers, quiz questions, tasks) is what the lesson has now."""
    from qlearn.exercises import tasks_of
    from qlearn.quizzes import load_quizzes

    quizzes = load_quizzes()
    for le in LESSONS[1:]:
        nb = json.loads((NOTEBOOKS / le.file).read_text(encoding="utf-8"))
        code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
        explorers = len(re.findall(r"_explorer\(", code))
        stem = le.file.removesuffix(".ipynb")
        now = (explorers, len(quizzes[stem]), len(tasks_of(le.file)))
        assert now == le.time[1:], (
            f"{le.file} changed since it was timed: it has (explorers, quiz questions, tasks) = {now}, its time "
            f"counts {tuple(le.time[1:])}; update its row in docs/teaching.md (3 min per explorer, 1 per question, "
            f"10 per task) and its Timing in qlearn/course.py")


def test_course_map_states_each_time():
    text = _markdown(NOTEBOOKS / "00_index.ipynb")
    rows = dict(re.findall(r"^\| \d\d \| \[[^\]]+\]\((\d\d_[a-z0-9_]+\.ipynb)\) \| (\d+) \|", text, re.M))
    assert rows == {le.file: str(le.minutes) for le in LESSONS[1:]}
    assert "| # | lesson | min | what you will see |" in text


def test_each_lesson_states_its_time_at_its_top():
    for le in LESSONS[1:]:
        nb = json.loads((NOTEBOOKS / le.file).read_text(encoding="utf-8"))
        first = nb["cells"][0]
        assert first["cell_type"] == "markdown", le.file
        lines = "".join(first["source"]).split("\n")
        assert lines[0].startswith("# ") and lines[2] == le.time.line(), (le.file, lines[:3])
        assert f"About {le.minutes} minutes" in lines[2]


def test_timing_line_wording():
    from qlearn.course import Timing

    assert Timing(5).line().startswith("*About 5 minutes: reading (an estimate;")
    assert "reading, 1 explorer and a 5-question quiz (" in Timing(22, explorers=1, questions=5).line()
    assert "3 explorers, a 3-question quiz and 2 build-it-yourself tasks (" in Timing(9, 3, 3, 2).line()

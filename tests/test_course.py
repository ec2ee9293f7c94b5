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

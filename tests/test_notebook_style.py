"""Lessons read as lessons: checks stay out of the learner's reading path.

A learner's code cell shows what they should read. The checks that keep every stated number
honest still run under nbval, but from *check cells*: code cells tagged ``check`` whose input is
collapsed in JupyterLab (``"jupyter": {"source_hidden": true}``), that hold only asserts and print
nothing (Voila hides every input, so a silent check cell is invisible there too). See
CONTRIBUTING.md, "Checks in notebooks".
"""
import ast
import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
CHECK_HEADER = "# check (hidden from learners; nbval runs it)"
OUTPUT_CALLS = {"print", "display", "pprint"}


def _code_cells(path: Path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            yield i, cell, "".join(cell["source"])


def _is_check(cell) -> bool:
    return "check" in cell.get("metadata", {}).get("tags", [])


def _parse(src: str) -> ast.Module:
    # IPython magics (%timeit, !cmd) are not Python: leave those lines out of the parse
    lines = [("pass" if ln.lstrip().startswith(("%", "!")) else ln) for ln in src.splitlines()]
    return ast.parse("\n".join(lines))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_learner_cells_hold_no_asserts_or_test_markers(path):
    for i, cell, src in _code_cells(path):
        if _is_check(cell):
            continue
        asserts = [n for n in ast.walk(_parse(src)) if isinstance(n, ast.Assert)]
        assert not asserts, f"{path.name} cell {i}: an assert in a learner's cell; move it to a check cell"
        assert "NBVAL_" not in src, f"{path.name} cell {i}: nbval marker in a learner's cell (--nbval-lax needs none)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_check_cells_are_hidden_silent_and_check_something(path):
    cells = list(_code_cells(path))
    for k, (i, cell, src) in enumerate(cells):
        if not _is_check(cell):
            continue
        where = f"{path.name} cell {i}"
        assert cell["metadata"].get("jupyter", {}).get("source_hidden") is True, f"{where}: check cell not collapsed"
        assert src.startswith(CHECK_HEADER), f"{where}: a check cell starts with {CHECK_HEADER!r}"
        assert k > 0 and not _is_check(cells[k - 1][1]), f"{where}: a check cell follows the cell it checks"
        tree = _parse(src)
        assert any(isinstance(n, ast.Assert) for n in ast.walk(tree)), f"{where}: a check cell that asserts nothing"
        calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        assert not calls & OUTPUT_CALLS, f"{where}: a check cell prints ({calls & OUTPUT_CALLS})"
        ends_in_expr = bool(tree.body) and isinstance(tree.body[-1], ast.Expr)
        assert not ends_in_expr, f"{where}: a check cell ends in an expression (it would display)"


def test_lessons_that_state_numbers_have_check_cells():
    """Lessons state numbers, so (all but the course map and at most one other) have check cells."""
    lessons_with_checks = sum(any(_is_check(c) for _, c, _ in _code_cells(p)) for p in NOTEBOOKS)
    assert lessons_with_checks >= len(NOTEBOOKS) - 2, "most lessons state numbers: they need check cells"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_markdown_heading_repeats_the_quiz_heading(path):
    """``lesson_quiz`` shows its own "Check yourself" heading; one in the markdown above it shows twice."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            assert not re.search(r"^#+\s*Check yourself\s*$", "".join(cell["source"]), re.M), path.name

"""Build-it-yourself tasks: the learner writes the function a lesson is about, a check says what is wrong.

One module per lesson (``rounding`` for 02, ``affine`` for 03, ...). Each holds a scaffold
(``SCAFFOLD_*``: signature, docstring, ``...``) and ``check_<task>(learner_fn)``, which runs the
learner's function against qlearn's own on edge cases and seeded random ones and answers with a
diagnosis (see :mod:`qlearn.exercises.checking`). Solutions: :func:`solution`, folded until opened,
and the files in ``qlearn/exercises/solutions/`` for a teacher.
"""
from __future__ import annotations

from qlearn.exercises import checking
from qlearn.exercises.checking import TASKS, CheckResult, solution

MODULES = ("rounding", "affine", "calibration", "snr", "fixed_point", "per_channel", "ptq", "qat", "binary",
           "intops", "systolic", "tpu", "onnx_runtime", "conv", "repairs", "block_formats", "smoothing")

from qlearn.exercises import (  # noqa: E402
    affine,
    binary,
    block_formats,
    calibration,
    conv,
    fixed_point,
    intops,
    onnx_runtime,
    per_channel,
    ptq,
    qat,
    repairs,
    rounding,
    smoothing,
    snr,
    systolic,
    tpu,
)


def tasks_of(lesson: str) -> list:
    """The tasks of a lesson notebook (``"02_rounding.ipynb"``), in order."""
    return [t for t in TASKS.values() if t.lesson == lesson]


def module_of(name: str) -> str:
    """The module of :mod:`qlearn.exercises` that holds ``check_<name>``.

    >>> module_of("round_half_even")
    'rounding'
    """
    import importlib

    for m in MODULES:
        if hasattr(importlib.import_module(f"qlearn.exercises.{m}"), f"check_{name}"):
            return m
    raise ValueError(f"name must be one of {sorted(TASKS)}, got {name!r}")


HEADING = "## Build it yourself"

_HOW = ("Write the function in the code cell below: replace the `...` with its body, run the cell, then run "
        "the check under it. The check runs your function and {ref} on edge cases and on seeded "
        "random cases, and says in words what differs; an error in your code is reported with the case "
        "that caused it. `numpy` is imported as `np`. Stuck after trying? "
        "`ql.exercises.solution(\"{name}\")` shows a solution, folded until you open it. (In the web-app "
        "view the code cells are hidden: open the lesson in JupyterLab to write the function.)")


def notebook_cells(lesson: str) -> list[dict]:
    """The cells a lesson shows for its tasks: per task a markdown cell, the scaffold (tagged
    ``exercise``) and the check call. The first markdown cell carries the section heading.

    Examples
    --------
    >>> [c["cell_type"] for c in notebook_cells("02_rounding.ipynb")]
    ['markdown', 'code', 'code']
    >>> notebook_cells("02_rounding.ipynb")[2]["source"]
    'ql.exercises.rounding.check_round_half_even(round_half_even)'
    """
    tasks = tasks_of(lesson)
    if not tasks:
        raise ValueError(f"lesson {lesson!r} has no build-it-yourself task")
    cells = []
    for k, t in enumerate(tasks):
        label = f"**Task{'' if len(tasks) == 1 else f' {k + 1}'}: {t.title}.**"
        # a qlearn function is named as such; another project's reference (ONNX's) by its own words
        ref = f"qlearn's `{t.reference_name}`" if t.reference_name.startswith("ql.") else t.reference_name
        text = f"{label} {t.intro} " + _HOW.format(ref=ref, name=t.name)
        if k == 0:
            text = f"{HEADING}\n\n{text}"
        cells.append({"cell_type": "markdown", "id": f"exercise-{t.name}-intro", "metadata": {}, "source": text})
        cells.append({"cell_type": "code", "execution_count": None, "id": f"exercise-{t.name}",
                      "metadata": {"tags": ["exercise"]}, "outputs": [], "source": t.scaffold.rstrip("\n")})
        cells.append({"cell_type": "code", "execution_count": None, "id": f"exercise-{t.name}-check",
                      "metadata": {}, "outputs": [],
                      "source": f"ql.exercises.{module_of(t.name)}.check_{t.name}({t.name})"})
    return cells


__all__ = ["checking", "TASKS", "CheckResult", "solution", "tasks_of", "module_of", "notebook_cells", "MODULES",
           "rounding", "affine", "calibration", "snr", "fixed_point", "per_channel", "ptq", "qat", "binary",
           "intops", "systolic", "tpu", "onnx_runtime", "conv", "repairs", "block_formats", "smoothing"]

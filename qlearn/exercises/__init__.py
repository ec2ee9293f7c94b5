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
           "intops", "systolic", "tpu")

from qlearn.exercises import (  # noqa: E402
    affine,
    binary,
    calibration,
    fixed_point,
    intops,
    per_channel,
    ptq,
    qat,
    rounding,
    snr,
    systolic,
    tpu,
)


def tasks_of(lesson: str) -> list:
    """The tasks of a lesson notebook (``"02_rounding.ipynb"``), in order."""
    return [t for t in TASKS.values() if t.lesson == lesson]


__all__ = ["checking", "TASKS", "CheckResult", "solution", "tasks_of", "MODULES",
           "rounding", "affine", "calibration", "snr", "fixed_point", "per_channel", "ptq", "qat", "binary",
           "intops", "systolic", "tpu"]

"""Each lesson's "Check yourself" questions, kept out of the learner's code cells.

A lesson shows its quiz with ``ql.viz.lesson_quiz("NN_name")``. The questions, answers,
explanations, hints and per-choice feedback are plain data in ``qlearn/data/quizzes.json``, so a
learner reading the notebook in JupyterLab does not find the answers printed next to the
questions. :func:`load_quizzes` reads and validates them (``tests/test_quizzes.py`` builds every
question).

Examples
--------
>>> q = load_quizzes()["01_number_formats"][0]
>>> q["prompt"], q["answer"]
('Which 16-bit format has (almost) the same range as FP32?', 'bf16')
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

QUIZ_FILE = Path(__file__).parent / "data" / "quizzes.json"
#: The keys a question may have (the keyword arguments of ``qlearn.viz.Question``).
FIELDS = ("prompt", "answer", "choices", "tolerance", "rel_tolerance", "explanation", "hint", "feedback")


@lru_cache(maxsize=1)
def _load() -> str:
    return QUIZ_FILE.read_text(encoding="utf-8")


def load_quizzes() -> dict[str, list[dict]]:
    """``{lesson: [question, ...]}``: a fresh copy, each question a dict of ``FIELDS``."""
    data = json.loads(_load())
    for lesson, questions in data.items():
        if not isinstance(questions, list) or not questions:
            raise ValueError(f"{QUIZ_FILE.name}: lesson {lesson!r} needs a non-empty list of questions")
        for i, q in enumerate(questions):
            unknown = set(q) - set(FIELDS)
            if unknown or "prompt" not in q or "answer" not in q:
                raise ValueError(f"{QUIZ_FILE.name}: {lesson}[{i}] needs prompt and answer; "
                                 f"unknown keys {sorted(unknown)} (allowed: {FIELDS})")
    return data


def lesson_questions(lesson: str) -> list[dict]:
    """The questions of ``lesson`` (a notebook name without ``.ipynb``)."""
    data = load_quizzes()
    if lesson not in data:
        raise ValueError(f"lesson must be one of {sorted(data)}, got {lesson!r}")
    return data[lesson]

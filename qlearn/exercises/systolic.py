"""Build it yourself, lesson 12: the cycles of a weight-stationary systolic array.

``ws_cycles(M, K, N, rows, cols)`` is checked against :func:`qlearn.hardware.systolic.cycle_count`
(``dataflow="weight_stationary"``, no overlap): SCALE-Sim's closed form.

Examples
--------
>>> from qlearn.exercises.solutions import systolic as sol
>>> check_ws_cycles(sol.ws_cycles).passed
True
>>> print(check_ws_cycles(lambda M, K, N, rows, cols: 2 * rows + cols + M - 2).diagnosis)  # doctest: +ELLIPSIS
You counted one fold...
"""
from __future__ import annotations

import numpy as np

from qlearn.exercises.checking import Case, CheckResult, Mistake, Task, same_numbers
from qlearn.exercises.solutions import systolic as _sol
from qlearn.hardware.systolic import cycle_count

SCAFFOLD_WS_CYCLES = '''def ws_cycles(M, K, N, rows, cols):
    """Cycles for (M x K) @ (K x N) on a rows x cols weight-stationary array, no overlap.
    K (the inputs) runs down the rows, N (the outputs) across the columns: the weights are cut
    into folds = ceil(K / rows) * ceil(N / cols) tiles, and each fold takes
    2 * rows + cols + M - 2 cycles (load the weights: rows; stream M rows of A through the skewed
    array: rows + cols + M - 2). Return an int.
    """
    ...
'''


def _ceil(a, b):
    return -(-a // b)


MISTAKES = [
    Mistake(lambda M, K, N, R, C: 2 * R + C + M - 2,
            "You counted one fold: when K > rows or N > cols the weights do not fit the array at once, and each of "
            "the ceil(K / rows) * ceil(N / cols) tiles (folds) takes its own 2 * rows + cols + M - 2 cycles."),
    Mistake(lambda M, K, N, R, C: (K // R) * (N // C) * (2 * R + C + M - 2),
            "You rounded the number of folds down (//): a partial tile still needs a whole fold; use "
            "ceil(K / rows) * ceil(N / cols)."),
    Mistake(lambda M, K, N, R, C: _ceil(N, R) * _ceil(K, C) * (2 * R + C + M - 2),
            "You spread N over the rows and K over the columns: weight-stationary holds W (K x N) with K (the "
            "inputs) down the rows and N (the outputs) across the columns, so folds = ceil(K / rows) * "
            "ceil(N / cols)."),
    Mistake(lambda M, K, N, R, C: _ceil(K, R) * _ceil(N, C) * (2 * R + C + M),
            "You are 2 cycles per fold too high: the last of the M rows enters at cycle M - 1 and needs rows + "
            "cols - 1 more to leave, so streaming takes rows + cols + M - 2."),
    Mistake(lambda M, K, N, R, C: _ceil(K, R) * _ceil(N, C) * (R + C + M - 2),
            "You left out the rows cycles that load each fold's weights into the array (without overlap, the "
            "array waits for them)."),
    Mistake(lambda M, K, N, R, C: _ceil(K, R) * _ceil(N, C) * M,
            "You counted only the M cycles of streaming: filling and draining the skewed array adds rows + cols - "
            "2, and loading the weights rows more, per fold."),
]


def _cases():
    rng = np.random.default_rng(15)
    cases = [
        Case("everything fits: 8 x 8 x 8 on 8 x 8", (8, 8, 8, 8, 8)),
        Case("TPU-like: 256^3 on 128 x 128", (256, 256, 256, 128, 128)),
        Case("K and N not multiples of the array", (100, 64, 10, 8, 8)),
        Case("K > rows but N < cols", (20, 300, 3, 16, 32)),
        Case("one row of A (batch 1)", (1, 64, 200, 32, 16)),
    ]
    for _ in range(6):
        M, K, N = (int(v) for v in rng.integers(1, 400, 3))
        R, C = (int(v) for v in rng.integers(2, 64, 2))
        cases.append(Case("seeded random shape", (M, K, N, R, C)))
    return cases


TASK = Task("ws_cycles", lesson="12_systolic_array.ipynb", title="Cycles of a weight-stationary array",
            reference=lambda M, K, N, rows, cols: cycle_count(M, K, N, rows, cols, "weight_stationary"),
            cases=_cases(), mistakes=MISTAKES, compare=lambda e, g: same_numbers(e, g, rtol=0, atol=0),
            arg_names=["M", "K", "N", "rows", "cols"], scaffold=SCAFFOLD_WS_CYCLES, solution=_sol.ws_cycles,
            intro="Write the cycle count of a weight-stationary array, folds included.",
            reference_name="ql.hardware.systolic.cycle_count")


def check_ws_cycles(learner_fn) -> CheckResult:
    """Check a learner's ``ws_cycles(M, K, N, rows, cols)`` against :func:`qlearn.hardware.systolic.cycle_count`."""
    return TASK.check(learner_fn)

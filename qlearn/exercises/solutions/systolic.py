"""Solution of lesson 12's task."""
import math


def ws_cycles(M, K, N, rows, cols):
    folds = math.ceil(K / rows) * math.ceil(N / cols)
    per_fold = rows + (rows + cols + M - 2)    # load the weights, then stream A through
    return folds * per_fold

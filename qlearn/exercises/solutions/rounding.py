"""Solution of lesson 02's task."""
import numpy as np


def round_half_even(x):
    x = np.asarray(x, dtype=float)
    lower = np.floor(x)
    fraction = x - lower                        # exact: no rounding of x + 0.5
    up = (fraction > 0.5) | ((fraction == 0.5) & (lower % 2 != 0))
    return lower + up

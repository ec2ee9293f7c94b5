"""Solutions of lesson 13's tasks."""
import numpy as np


def attainable_tops(intensity, peak_tops, bandwidth):
    memory_bound = 2 * np.asarray(intensity, dtype=float) * bandwidth / 1e12
    return np.minimum(peak_tops, memory_bound)


def ridge_point(peak_tops, bandwidth):
    return peak_tops * 1e12 / (2 * bandwidth)

"""Solutions of lesson 04's tasks."""
import numpy as np


def percentile_amax(x, percentile):
    return float(np.percentile(np.abs(np.asarray(x, dtype=float)), percentile))


def kl_divergence(P, Q):
    P, Q = np.asarray(P, dtype=float), np.asarray(Q, dtype=float)
    used = P > 0
    if np.any(Q[used] == 0):
        return np.inf
    return float(np.sum(P[used] * np.log(P[used] / Q[used])))

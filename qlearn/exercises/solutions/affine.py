"""Solutions of lesson 03's tasks."""
import numpy as np


def compute_qparams(x_min, x_max, bits=8, signed=True):
    if signed:
        qmin, qmax = -2 ** (bits - 1), 2 ** (bits - 1) - 1
    else:
        qmin, qmax = 0, 2**bits - 1
    lo, hi = min(x_min, 0.0), max(x_max, 0.0)
    scale = (hi - lo) / (qmax - qmin)
    if scale == 0:
        scale = 1.0
    zero_point = int(np.clip(np.rint(qmin - lo / scale), qmin, qmax))
    return scale, zero_point


def quantize(x, scale, zero_point, qmin, qmax):
    q = np.rint(np.asarray(x, dtype=float) / scale) + zero_point
    return np.clip(q, qmin, qmax).astype(np.int64)

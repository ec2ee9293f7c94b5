"""Solution of lesson 09's task."""
import numpy as np


def ste_grad(x, scale, zero_point, qmin, qmax):
    code = np.rint(np.asarray(x, dtype=float) / scale) + zero_point
    inside = (code >= qmin) & (code <= qmax)
    return inside.astype(float)

"""Solution of lesson 08's task."""
import numpy as np


def quantize_bias(b, x_scale, w_scale):
    accumulator_scale = x_scale * np.asarray(w_scale, dtype=float)
    return np.rint(np.asarray(b, dtype=float) / accumulator_scale).astype(np.int64)

"""Solutions of lesson 14's tasks."""
import numpy as np


def quantize_linear(x, scale, zero_point):
    info = np.iinfo(zero_point.dtype)                  # uint8: 0..255, int8: -128..127
    q = np.rint(x / scale).astype(np.int64)            # float32 / float32, ties to even
    q = np.clip(q + int(zero_point), info.min, info.max)
    return q.astype(zero_point.dtype)

"""Solution of lesson 07's task."""
import numpy as np


def per_channel_scales(W, bits=8):
    qmax = 2 ** (bits - 1) - 1
    amax = np.abs(np.asarray(W, dtype=float)).max(axis=1)
    return np.where(amax > 0, amax / qmax, 1.0)

"""Solution of lesson 06's task."""
import numpy as np


def to_fixed(x, int_bits, frac_bits):
    word = 1 + int_bits + frac_bits
    qmin, qmax = -(2 ** (word - 1)), 2 ** (word - 1) - 1
    q = np.rint(np.asarray(x, dtype=float) * 2.0**frac_bits)
    q = np.clip(q, qmin, qmax)
    return q * 2.0**-frac_bits

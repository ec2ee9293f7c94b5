"""Solutions of lesson 11's tasks."""
import math

import numpy as np


def quantize_multiplier(M):
    if M == 0:
        return 0, 0
    q, shift = math.frexp(M)                  # M = q * 2**shift, q in [0.5, 1)
    m0 = int(math.floor(q * 2**31 + 0.5))     # q > 0: half away from zero is floor(v + 0.5)
    if m0 == 2**31:
        m0 //= 2
        shift += 1
    return m0, shift


def rounding_divide_by_pot(x, exponent):
    x = np.asarray(x, dtype=np.int64)
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)

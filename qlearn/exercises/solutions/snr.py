"""Solution of lesson 05's task."""
import numpy as np


def sqnr_db(x, x_hat):
    x, x_hat = np.asarray(x, dtype=float), np.asarray(x_hat, dtype=float)
    signal = np.sum(x**2)
    noise = np.sum((x - x_hat) ** 2)
    if noise == 0:
        return np.inf
    return float(10 * np.log10(signal / noise))

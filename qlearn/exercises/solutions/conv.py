"""Solutions of lesson 15's tasks."""
import numpy as np


def fold_batchnorm(W, b, gamma, beta, mean, var, eps):
    k = gamma / np.sqrt(var + eps)                       # one factor per output channel
    k_axis0 = k.reshape((-1,) + (1,) * (W.ndim - 1))     # (out, 1) or (out, 1, 1, 1)
    return W * k_axis0, k * (b - mean) + beta


def conv_output_size(size, kernel, stride, padding):
    return (size + 2 * padding - kernel) // stride + 1

"""SmoothQuant: move the difficulty of quantizing activations into the weights, then run W8A8.

Introduced in lesson ``18_llm_weights``.

Activations of large language models have a few input channels far larger than the rest;
8-bit activations with one scale per tensor (or per token) lose the small channels. Xiao et
al. 2022 (arXiv:2211.10438) divide input channel ``j`` by

.. math::

    s_j = \\frac{\\max |X_j|^{\\alpha}}{\\max_i |W_{ij}|^{1-\\alpha}},

and multiply the matching column of ``W`` by it: ``(X / s)(W s)^T = X W^T`` in exact arithmetic (in
float, up to a few units in the last place). ``alpha`` sets how much of the difficulty moves: 0
leaves the activations alone (``s_j = 1 / max|W_j|``, so the weight columns are flattened instead),
1 flattens the activation channels completely and puts all their range into the weights; the paper
uses 0.5 for most models. As in the authors' code (github.com/mit-han-lab/smoothquant,
``smoothquant/smooth.py``): ``max|W_j|`` is clamped below at 1e-5, and so is ``s``.

``w8a8_linear`` simulates the 8-bit product: weights symmetric int8 per output channel, activations
symmetric int8 per tensor or per token (absmax / 127, scales clamped at 1e-5 as in the authors'
``fake_quant.py``), the integer dot products accumulated exactly in int64, then one float multiply
by the two scales.
"""
from __future__ import annotations

import numpy as np

from qlearn.modern.awq import check_alpha
from qlearn.modern.gptq import check_calibration, check_weight

GRANULARITIES = ("per_tensor", "per_token")


def smooth(W, X_absmax, alpha: float = 0.5):
    """``(W_scaled, s)``: SmoothQuant's migration; the activations become ``X / s``.

    Parameters
    ----------
    W : array_like (out, in)
    X_absmax : array_like (in,)
        ``max |X_j|`` of each input channel over the calibration tokens (finite, >= 0).
    alpha : float in [0, 1]

    Examples
    --------
    >>> W = np.array([[1.0, 0.5], [-2.0, 0.25]])
    >>> W_s, s = smooth(W, [16.0, 1.0], alpha=0.5)
    >>> np.round(s, 4).tolist(), np.round(W_s, 4).tolist()   # s = sqrt(16) / sqrt(2), sqrt(1) / sqrt(0.5)
    ([2.8284, 1.4142], [[2.8284, 0.7071], [-5.6569, 0.3536]])
    """
    W = check_weight(W)
    m = np.asarray(X_absmax, dtype=np.float64)
    if m.shape != (W.shape[1],):
        raise ValueError(f"X_absmax must have shape (in,) = ({W.shape[1]},) to match W (out, in), got {m.shape}")
    if not np.all(np.isfinite(m)) or np.any(m < 0):
        raise ValueError("X_absmax must hold finite values >= 0 (max |X_j| per input channel)")
    a = check_alpha(alpha)
    w_max = np.maximum(np.max(np.abs(W), axis=0), 1e-5)
    s = np.maximum(m**a / w_max ** (1.0 - a), 1e-5)
    return W * s, s


def _int8_absmax(A, axis):
    """Symmetric int8 codes and scales: ``scale = max(absmax, 1e-5) / 127`` along ``axis`` (None: tensor)."""
    amax = np.max(np.abs(A), axis=axis, keepdims=axis is not None)
    scale = np.maximum(amax, 1e-5) / 127.0
    q = np.clip(np.round(A / scale), -127, 127).astype(np.int64)
    return q, scale


def w8a8_linear(X, W, *, granularity: str = "per_token"):
    """``X W^T`` with int8 weights (per output channel) and int8 activations, int64 accumulation.

    Parameters
    ----------
    X : array_like (n, in)
    W : array_like (out, in)
    granularity : ``"per_token"`` (a scale per row of ``X``) or ``"per_tensor"`` (one scale)

    Returns
    -------
    ndarray (n, out)
        ``(q_X q_W^T) * scale_X * scale_W^T``; the integer product is exact.

    Examples
    --------
    >>> w8a8_linear([[1.0, -0.5]], [[0.5, 1.0]]).tolist()
    [[0.0]]
    >>> w8a8_linear([[127.0, 1.0]], [[1.0, 1.0]], granularity="per_tensor").tolist()
    [[128.0]]
    """
    W = check_weight(W)
    X = check_calibration(X, W.shape[1])
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {GRANULARITIES}, got {granularity!r}")
    qx, sx = _int8_absmax(X, 1 if granularity == "per_token" else None)
    qw, sw = _int8_absmax(W, 1)
    acc = qx @ qw.T  # int64: exact
    return acc * sx * sw.T


def smoothed_w8a8_linear(X, W, alpha: float = 0.5, *, granularity: str = "per_token", X_absmax=None):
    """W8A8 after smoothing: ``w8a8_linear(X / s, W * s)``; ``X_absmax`` defaults to ``max|X|`` of ``X`` itself.

    Examples
    --------
    >>> X = np.array([[20.0, 0.1, -0.2], [-15.0, 0.3, 0.1]]); W = np.array([[0.1, 1.0, -1.0]])
    >>> bool(abs(smoothed_w8a8_linear(X, W, 0.5) - X @ W.T).max() < abs(w8a8_linear(X, W) - X @ W.T).max())
    True
    """
    W = check_weight(W)
    X = check_calibration(X, W.shape[1])
    m = np.max(np.abs(X), axis=0) if X_absmax is None else X_absmax
    W_s, s = smooth(W, m, alpha)
    return w8a8_linear(X / s, W_s, granularity=granularity)


def difficulty(X, W):
    """``(max over channels of max|X_j|, max over channels of max|W_j|)``: the range each side must cover."""
    X = np.asarray(X, dtype=np.float64)
    W = np.asarray(W, dtype=np.float64)
    return float(np.max(np.abs(X))), float(np.max(np.abs(W)))


__all__ = ["smooth", "w8a8_linear", "smoothed_w8a8_linear", "difficulty", "GRANULARITIES"]

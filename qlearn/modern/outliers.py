"""LLM.int8(): int8 matrix products with the few outlier input features kept in 16-bit float.

Introduced in lesson ``18_llm_weights``.

Dettmers et al. 2022 (arXiv:2208.07339) found that transformers beyond a few billion parameters
develop a handful of hidden features (input columns of ``X``) whose values reach 20 or more while
the rest stay near 1; one int8 scale per token then rounds every ordinary value to zero. Their
*mixed-precision decomposition*:

.. math::

    X W^T = X_{:,O}\\, W_{:,O}^T \\;+\\; X_{:,\\bar O}\\, W_{:,\\bar O}^T,
    \\qquad O = \\{ j : \\max_t |X_{tj}| \\ge \\tau \\}\\ (\\tau = 6),

with the outlier part in 16-bit float and the rest in int8 with *vector-wise* scales: one absmax
scale per row of ``X`` (token) and one per row of ``W`` (output channel), the integer products
accumulated exactly (int64 here), then ``acc * scale_X[t] * scale_W[o]``. The cost is the fraction
of columns kept in 16 bits. Here the 16-bit part rounds ``X_{:,O}`` and ``W_{:,O}`` to FP16 and
accumulates in float64 (the GPU accumulates FP16 products in FP32). As in bitsandbytes, the
threshold applies to activations only, and ``threshold=inf`` gives plain vector-wise int8.
"""
from __future__ import annotations

import numbers

import numpy as np

from qlearn.modern.gptq import check_calibration, check_weight


def _check_threshold(threshold) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or np.isnan(threshold) \
            or threshold <= 0:
        raise ValueError(f"threshold must be a number > 0 (inf: no outlier columns), got {threshold!r}")
    return float(threshold)


def outlier_columns(X, threshold: float = 6.0) -> np.ndarray:
    """Indices ``j`` with any ``|X[:, j]| >= threshold``.

    Examples
    --------
    >>> outlier_columns([[0.5, 7.0, -6.0], [1.0, 0.0, 2.0]]).tolist()
    [1, 2]
    """
    X = np.asarray(X, dtype=np.float64)
    t = _check_threshold(threshold)
    return np.flatnonzero(np.max(np.abs(X), axis=0) >= t) if X.size else np.zeros(0, dtype=np.int64)


def vectorwise_int8_matmul(X, W) -> np.ndarray:
    """``X W^T`` in int8 with a scale per row of ``X`` and per row of ``W``; exact int64 accumulation.

    Examples
    --------
    >>> np.round(vectorwise_int8_matmul([[1.0, 2.0]], [[3.0, 4.0]]), 3).tolist()
    [[11.016]]
    """
    X = np.asarray(X, dtype=np.float64)
    W = np.asarray(W, dtype=np.float64)
    sx = np.max(np.abs(X), axis=1, keepdims=True) / 127.0 if X.shape[1] else np.ones((X.shape[0], 1))
    sw = np.max(np.abs(W), axis=1, keepdims=True) / 127.0 if W.shape[1] else np.ones((W.shape[0], 1))
    sx = np.where(sx > 0, sx, 1.0)
    sw = np.where(sw > 0, sw, 1.0)
    qx = np.clip(np.round(X / sx), -127, 127).astype(np.int64)
    qw = np.clip(np.round(W / sw), -127, 127).astype(np.int64)
    return (qx @ qw.T) * sx * sw.T


def llm_int8_matmul(X, W, *, threshold: float = 6.0):
    """``(Y, n_outlier_columns)``: LLM.int8()'s mixed-precision ``X W^T``.

    Parameters
    ----------
    X : array_like (n, in)
    W : array_like (out, in)
    threshold : float > 0
        A column of ``X`` with any ``|x| >= threshold`` is computed in 16-bit float (6.0 in the
        paper); ``inf``: none, plain vector-wise int8.

    Examples
    --------
    >>> X = np.array([[0.1, 20.0, -0.2], [0.3, -18.0, 0.1]]); W = np.array([[1.0, 0.01, -1.0]])
    >>> Y, n = llm_int8_matmul(X, W)
    >>> n, np.round(Y[:, 0], 3).tolist(), np.round(X @ W.T, 3)[:, 0].tolist()
    (1, [0.499, 0.021], [0.5, 0.02])
    >>> np.round(vectorwise_int8_matmul(X, W)[:, 0], 3).tolist()   # one int8 scale per token: 0.3 and 0.1 round to 0
    [0.472, 0.0]
    """
    W = check_weight(W)
    X = check_calibration(X, W.shape[1])
    cols = outlier_columns(X, threshold)
    rest = np.setdiff1d(np.arange(W.shape[1]), cols)
    f16 = lambda a: a.astype(np.float16).astype(np.float64)  # noqa: E731
    Y = f16(X[:, cols]) @ f16(W[:, cols]).T if cols.size else np.zeros((X.shape[0], W.shape[0]))
    if rest.size:
        Y = Y + vectorwise_int8_matmul(X[:, rest], W[:, rest])
    return Y, int(cols.size)


def planted_outlier_layer(out_features: int = 64, in_features: int = 128, n: int = 256, *,
                          n_outliers: int = 4, magnitude: float = 30.0, rng=None):
    """A *synthetic* layer ``(W, X)`` with ``n_outliers`` planted input channels of size ~``magnitude``.

    ``X`` is standard normal except the planted channels (the first ``n_outliers`` of a random
    permutation), whose values are ``magnitude * (1 + 0.1 N(0, 1))`` with random signs per token;
    ``W`` is ``N(0, 1) / sqrt(in)``. A stand-in for the emergent features of large models, not data
    from a model. ``rng`` defaults to ``np.random.default_rng(0)``.

    Examples
    --------
    >>> W, X, planted = planted_outlier_layer(8, 16, 32, n_outliers=2)
    >>> W.shape, X.shape, outlier_columns(X).tolist() == sorted(planted.tolist())
    ((8, 16), (32, 16), True)
    """
    from qlearn._validate import check_int, check_positive

    out_features = check_int(out_features, "out_features", 1, 1 << 16)
    in_features = check_int(in_features, "in_features", 1, 1 << 16)
    n = check_int(n, "n", 1, 1 << 20)
    n_outliers = check_int(n_outliers, "n_outliers", 0, in_features)
    magnitude = check_positive(magnitude, "magnitude")
    rng = np.random.default_rng(0) if rng is None else rng
    W = rng.normal(size=(out_features, in_features)) / np.sqrt(in_features)
    X = rng.normal(size=(n, in_features))
    planted = np.sort(rng.permutation(in_features)[:n_outliers])
    signs = rng.choice([-1.0, 1.0], size=(n, n_outliers))
    X[:, planted] = signs * magnitude * (1 + 0.1 * rng.normal(size=(n, n_outliers)))
    return W, X, planted


__all__ = ["llm_int8_matmul", "vectorwise_int8_matmul", "outlier_columns", "planted_outlier_layer"]

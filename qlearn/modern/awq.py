"""AWQ: scale up the weights of salient input channels before rounding them (activation-aware).

Introduced in lesson ``18_llm_weights``.

Lin et al. 2023 (arXiv:2306.00978) observe that the weights multiplying the input channels with
large activations matter most. Scaling input channel ``c`` of ``W`` by ``s_c > 1`` and the input by
``1 / s_c`` leaves the float product unchanged, ``W X^T = (W s)(X / s)^T``, but the rounding error
of the scaled weights is divided by ``s_c`` on the way back. AWQ picks

.. math::

    s_c = \\frac{m_c^{\\alpha}}{\\sqrt{\\max_c m_c^{\\alpha}\\,\\min_c m_c^{\\alpha}}}, \\quad m_c = \\overline{|X_c|},
    \\qquad \\alpha^* = \\arg\\min_{\\alpha \\in \\{0, 1/g, \\dots, (g-1)/g\\}}
    \\big\\| W X^T - Q(W s)\\,(X / s)^T \\big\\|^2,

where ``mean|X_c|`` is the mean magnitude of input channel ``c`` over the calibration tokens,
``g`` is the grid size (20) and ``Q`` per-group asymmetric integer quantization. As in the authors'
code (github.com/mit-han-lab/llm-awq, ``awq/quantize/auto_scale.py``, ``auto_scale_block``): the
scales are clamped below at ``1e-4`` before the normalisation, the loss is the mean squared output
difference, and the first alpha with the smallest loss wins. Not modelled: the per-block search
over several layers at once (here one linear layer), and AWQ's separate clipping search
(``auto_clip``). With ``alpha = 0`` every ``s_c = 1`` and AWQ is round-to-nearest exactly.

The quantized layer stores ``Q(W s)`` and folds ``1 / s`` into whatever produces ``X``
(the previous layer norm or linear layer); :func:`awq_search` returns ``W_hat = Q(W s) / s``, the
equivalent weights in the original basis.
"""
from __future__ import annotations

import numbers

import numpy as np

from qlearn._validate import check_int
from qlearn.modern import block_formats as B
from qlearn.modern.gptq import check_calibration, check_group_size, check_weight


def check_alpha(alpha, name: str = "alpha", *, closed: bool = True) -> float:
    """``alpha`` as a float in [0, 1] (``closed=False``: [0, 1))."""
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not np.isfinite(alpha):
        raise TypeError(f"{name} must be a number in [0, 1{']' if closed else ')'}, got {alpha!r}")
    a = float(alpha)
    if not (0.0 <= a <= 1.0 if closed else 0.0 <= a < 1.0):
        raise ValueError(f"{name} must be in [0, 1{']' if closed else ')'}, got {alpha!r}")
    return a


def awq_scales(x_mean_abs, alpha) -> np.ndarray:
    """AWQ's per-input-channel scales ``s = m**alpha`` clamped at 1e-4, divided by ``sqrt(max(s) min(s))``.

    Examples
    --------
    >>> np.round(awq_scales([1.0, 4.0], 0.5), 6).tolist()
    [0.707107, 1.414214]
    >>> awq_scales([1.0, 4.0], 0.0).tolist()
    [1.0, 1.0]
    """
    m = np.asarray(x_mean_abs, dtype=np.float64)
    if m.ndim != 1 or m.size == 0 or not np.all(np.isfinite(m)) or np.any(m < 0):
        raise ValueError("x_mean_abs must be a non-empty 1-D array of finite values >= 0")
    s = np.maximum(m ** check_alpha(alpha), 1e-4)
    return s / np.sqrt(s.max() * s.min())


def _quantize(W, bits, g):
    return B.group_quantize(W, bits=bits, group_size=g).dequantize()


def awq_losses(W, X, *, bits: int = 4, group_size: int | None = 128, grid: int = 20):
    """``(alphas, losses)``: AWQ's objective (mean squared output difference) at each grid alpha.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> alphas, losses = awq_losses(rng.normal(size=(4, 8)), rng.normal(size=(16, 8)), group_size=8, grid=4)
    >>> alphas.tolist(), losses.shape
    ([0.0, 0.25, 0.5, 0.75], (4,))
    """
    W = check_weight(W)
    X = check_calibration(X, W.shape[1])
    bits = check_int(bits, "bits", 2, 8)
    g = check_group_size(group_size, W.shape[1])
    grid = check_int(grid, "grid", 1, 1000)
    m = np.mean(np.abs(X), axis=0)
    Y = X @ W.T
    alphas = np.arange(grid) / grid
    losses = np.empty(grid)
    for k, a in enumerate(alphas):
        s = awq_scales(m, a)
        W_hat = _quantize(W * s, bits, g) / s
        D = Y - X @ W_hat.T
        losses[k] = np.mean(D * D)
    return alphas, losses


def awq_search(W, X, *, bits: int = 4, group_size: int | None = 128, grid: int = 20):
    """AWQ's grid search: ``(scales, alpha, W_hat)`` with ``W_hat = Q(W * scales) / scales``.

    Parameters
    ----------
    W : array_like (out, in)
    X : array_like (n, in)
        Calibration inputs of the layer.
    bits : int in [2, 8]
    group_size : int or None
        Must divide ``in``; None: per output channel.
    grid : int
        Number of alphas tried: ``0, 1/grid, ..., (grid - 1)/grid`` (AWQ's ``n_grid = 20``).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(64, 16)) * np.r_[10.0, np.ones(15)]    # one salient input channel
    >>> W = rng.normal(size=(8, 16))
    >>> s, alpha, W_hat = awq_search(W, X, bits=3, group_size=16)
    >>> bool(alpha > 0 and s[0] == s.max())
    True
    """
    alphas, losses = awq_losses(W, X, bits=bits, group_size=group_size, grid=grid)
    W = np.asarray(W, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    best = int(np.argmin(losses))  # the first of equal minima, as the authors' strict '<'
    s = awq_scales(np.mean(np.abs(X), axis=0), alphas[best])
    W_hat = _quantize(W * s, bits, check_group_size(group_size, W.shape[1])) / s
    return s, float(alphas[best]), W_hat


__all__ = ["awq_scales", "awq_losses", "awq_search", "check_alpha"]

"""Batch norm folded *during* quantization-aware training (Jacob et al. 2018, sec. 3.2; Krishnamoorthi 2018).

Lesson 15 folds a trained batch norm into the convolution before it, once, for inference. During
QAT the integer kernel that will run later is the *folded* one, so its weights must be the ones
fake-quantized while training; but the batch norm still needs this batch's statistics. The two
training graphs, for a layer ``z = W x`` (a dense layer; a convolution is the same after im2col)
followed by a batch norm ``(gamma, beta)`` with running statistics ``(mu, var)``:

* ``"batch"`` (Jacob et al. 2018, sec. 3.2 and fig. C.8): compute ``z = W x`` once in float to get
  the batch's ``mu_B`` and ``sigma_B = sqrt(var_B + eps)``; fold with them,
  ``W_fold = gamma W / sigma_B`` (per output channel), fake-quantize ``W_fold``, and output
  ``FQ(W_fold) x + beta - gamma mu_B / sigma_B``.
* ``"corrected"`` (Krishnamoorthi 2018, sec. 3.2.1): fold with the *running* ``sigma`` so the
  quantized weights do not jitter with every batch, then correct the output by
  ``c = sigma / sigma_B`` so it is still normalized by the batch:
  ``c FQ(gamma W / sigma) x + beta - gamma mu_B / sigma_B``.
* ``"frozen"`` (the same paper, after statistics are frozen late in training): running statistics
  only, ``FQ(gamma W / sigma) x + beta - gamma mu / sigma``: exactly the folded inference layer.

Without quantization (``bits=None``) the first two equal the training-mode batch norm of ``W x``
and the third equals its inference mode: folding changes what is quantized, not the function.
"""
from __future__ import annotations

import numpy as np

from qlearn import affine
from qlearn._validate import as_finite_array, check_int
from qlearn.batchnorm import EPS, MOMENTUM, check_variance

PHASES = ("batch", "corrected", "frozen")


def fake_quantize_weights(W, bits: int | None, *, per_channel: bool = True) -> np.ndarray:
    """Symmetric narrow-range fake quantization of ``W (out, in)`` (one scale per row, or one); ``bits=None``: ``W``."""
    W = as_finite_array(W, "W", allow_empty=False)
    if bits is None:
        return W.copy()
    bits = check_int(bits, "bits", 2, 16)
    qp = affine.minmax_qparams(W, bits=bits, symmetric=True, signed=True, narrow_range=True,
                               axis=0 if per_channel else None)
    return affine.dequantize(affine.quantize(W, qp), qp)


def folded_bn_forward(x, W, gamma, beta, running_mean, running_var, *, phase: str = "batch",
                      bits: int | None = 8, per_channel: bool = True, eps: float = EPS,
                      momentum: float = MOMENTUM) -> dict:
    """One training step's forward pass of a dense layer with its batch norm folded and fake-quantized.

    Parameters
    ----------
    x : ndarray (batch, in)
    W : ndarray (out, in)
        The layer's float weights (no bias: a bias before a batch norm is cancelled by its mean).
    gamma, beta, running_mean, running_var : ndarray (out,)
    phase : {'batch', 'corrected', 'frozen'}
        See the module's description.
    bits : int in [2, 16] or None
        Weight bits of the fake quantizer (symmetric, narrow range); None: no quantization.
    per_channel : bool
    eps, momentum : float
        Batch norm's epsilon, and the running averages' update ``new = (1 - m) old + m batch``.

    Returns
    -------
    dict
        ``y`` (batch, out); ``W_fold`` (the folded float weights that were fake-quantized) and
        ``W_q`` (after fake quantization); ``bias``; ``batch_mean``, ``batch_var``; ``correction``
        (``sigma / sigma_B``, ones unless ``phase='corrected'``); ``running_mean``, ``running_var``
        (updated from the batch unless ``phase='frozen'``).

    Examples
    --------
    >>> x = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]])
    >>> W = np.array([[1.0, -1.0], [0.5, 0.5]])
    >>> out = folded_bn_forward(x, W, np.ones(2), np.zeros(2), np.zeros(2), np.ones(2), bits=None, eps=0.0)
    >>> out["y"].round(6).tolist()          # the batch-normalized W x
    [[1.224745, -0.707107], [-1.224745, -0.707107], [0.0, 1.414214]]
    """
    if phase not in PHASES:
        raise ValueError(f"phase must be one of {PHASES}, got {phase!r}")
    x = as_finite_array(x, "x", allow_empty=False)
    W = as_finite_array(W, "W", allow_empty=False)
    if x.ndim != 2 or W.ndim != 2 or x.shape[1] != W.shape[1]:
        raise ValueError(f"x must be (batch, in) and W (out, in) with the same in; got {x.shape} and {W.shape}")
    if x.shape[0] < 2 and phase != "frozen":
        raise ValueError("x needs at least 2 rows: batch statistics of one sample have zero variance")
    c = W.shape[0]
    vecs = {}
    for name, v in (("gamma", gamma), ("beta", beta), ("running_mean", running_mean), ("running_var", running_var)):
        v = as_finite_array(v, name, allow_empty=False)
        if v.shape != (c,):
            raise ValueError(f"{name} must have shape ({c},) (one per output channel), got {v.shape}")
        vecs[name] = v
    eps = float(eps)
    if not eps >= 0:
        raise ValueError(f"eps must be >= 0, got {eps}")
    momentum = float(momentum)
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"momentum must be in [0, 1], got {momentum}")
    g, b = vecs["gamma"], vecs["beta"]
    sigma = check_variance(vecs["running_var"], eps, name="running_var")
    z = x @ W.T                                   # the float pass that gives the batch statistics
    mu_B, var_B = z.mean(axis=0), z.var(axis=0)
    if phase == "frozen":
        W_fold = W * (g / sigma)[:, None]
        bias = b - g * vecs["running_mean"] / sigma
        corr = np.ones(c)
    else:
        sigma_B = check_variance(var_B, eps, name="the batch variance")
        if phase == "batch":
            W_fold, corr = W * (g / sigma_B)[:, None], np.ones(c)
        else:
            W_fold, corr = W * (g / sigma)[:, None], sigma / sigma_B
        bias = b - g * mu_B / sigma_B
    W_q = fake_quantize_weights(W_fold, bits, per_channel=per_channel)
    y = (x @ W_q.T) * corr + bias
    if phase == "frozen":
        new_mean, new_var = vecs["running_mean"].copy(), vecs["running_var"].copy()
    else:
        n = x.shape[0]
        new_mean = (1 - momentum) * vecs["running_mean"] + momentum * mu_B
        new_var = (1 - momentum) * vecs["running_var"] + momentum * var_B * n / (n - 1)
    return dict(y=y, W_fold=W_fold, W_q=W_q, bias=bias, batch_mean=mu_B, batch_var=var_B, correction=corr,
                running_mean=new_mean, running_var=new_var)


def weight_code_changes(x_a, x_b, W, gamma, beta, running_mean, running_var, *, phase: str = "batch",
                        bits: int = 4, per_channel: bool = False, eps: float = EPS) -> int:
    """How many integer weight codes differ between the training steps on batches ``x_a`` and ``x_b``.

    The codes are ``round(W_q / step)`` of :func:`folded_bn_forward`'s fake-quantized folded weights
    (symmetric, narrow range: ``step = max|W_fold| / (2**(bits-1) - 1)``, per row if ``per_channel``).
    Folding with the batch's sigma moves them with every batch; the corrected fold does not.
    """
    bits = check_int(bits, "bits", 2, 16)
    qmax = 2 ** (bits - 1) - 1
    codes = []
    for x in (x_a, x_b):
        out = folded_bn_forward(x, W, gamma, beta, running_mean, running_var, phase=phase, bits=bits,
                                per_channel=per_channel, eps=eps)
        amax = np.abs(out["W_fold"]).max(axis=1, keepdims=True) if per_channel else np.abs(out["W_fold"]).max()
        codes.append(np.round(out["W_q"] / (amax / qmax)).astype(np.int64))
    return int((codes[0] != codes[1]).sum())

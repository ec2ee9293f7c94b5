"""Batch normalization (Ioffe & Szegedy 2015) and its folding into the preceding layer.

Introduced in lesson ``15_convolutions_and_folding``. Channel axis 1: ``x`` of shape
``(batch, channels)`` or ``(batch, channels, height, width)``; statistics are taken over
every other axis.

Training normalizes with the *batch's* mean and variance and keeps exponential running
averages of both; inference uses the running averages, so a batch-norm layer is then a
fixed per-channel affine map ``y = gamma (x - mean) / sqrt(var + eps) + beta``. A fixed
affine map right after a convolution can be multiplied into it (:func:`fold_batchnorm`):
the folded layer computes the same outputs with one weight tensor and one bias, which is
what an integer engine runs (Jacob et al. 2018, sec. 3.2).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qlearn._validate import as_finite_array

#: Default ``eps`` added to the variance (PyTorch's and Keras's defaults are 1e-5 and 1e-3).
EPS = 1e-5
#: Default weight of the newest batch in the running averages (PyTorch's ``momentum``).
MOMENTUM = 0.1


def _axes(x):
    return (0,) + tuple(range(2, x.ndim))


def _shape(x):
    return (1, -1) + (1,) * (x.ndim - 2)


def _check_x(x) -> np.ndarray:
    x = as_finite_array(x, "x")
    if x.ndim not in (2, 4):
        raise ValueError(f"x must be (batch, channels) or (batch, channels, height, width), got shape {x.shape}")
    if x.shape[0] == 0:
        raise ValueError("x is an empty batch (shape[0] == 0): batch statistics need at least one example")
    if x.size == 0:
        raise ValueError(f"x is empty (shape {x.shape})")
    return x


def _check_eps(eps) -> float:
    try:
        e = float(eps)
    except (TypeError, ValueError):
        raise TypeError(f"eps must be a number >= 0, got {eps!r}") from None
    if not np.isfinite(e) or e < 0:
        raise ValueError(f"eps must be a finite number >= 0, got {eps!r}")
    return e


def _check_channel_vector(v, name, c):
    v = as_finite_array(v, name)
    if v.shape != (c,):
        raise ValueError(f"{name} must have shape (channels,) = ({c},), got {v.shape}")
    return v


def check_variance(var, eps, name: str = "var") -> np.ndarray:
    """``sqrt(var + eps)`` after checking ``var >= 0`` and ``var + eps > 0`` (ValueError naming ``name``)."""
    var = np.asarray(var, dtype=np.float64)
    if np.any(var < 0):
        raise ValueError(f"{name} must be >= 0 (a variance), got min {float(var.min())!r}")
    if np.any(var + eps <= 0):
        i = int(np.argmax(var + eps <= 0))
        raise ValueError(f"{name}[{i}] is 0 and eps is 0: channel {i} would be divided by zero; use eps > 0")
    return np.sqrt(var + eps)


def batchnorm_inference(x, gamma, beta, mean, var, *, eps: float = EPS) -> np.ndarray:
    """``gamma (x - mean) / sqrt(var + eps) + beta`` per channel (axis 1), elementwise.

    Examples
    --------
    >>> batchnorm_inference(np.array([[1.0, 2.0]]), np.ones(2), np.zeros(2), np.array([0.0, 1.0]),
    ...                     np.array([4.0, 1.0]), eps=0.0)
    array([[0.5, 1. ]])
    >>> batchnorm_inference(np.ones((1, 2)), np.ones(2), np.zeros(2), np.zeros(2), np.array([1.0, -1.0]))
    Traceback (most recent call last):
    ...
    ValueError: var must be >= 0 (a variance), got min -1.0
    """
    x = _check_x(x)
    c = x.shape[1]
    gamma, beta = _check_channel_vector(gamma, "gamma", c), _check_channel_vector(beta, "beta", c)
    mean, var = _check_channel_vector(mean, "mean", c), _check_channel_vector(var, "var", c)
    sd = check_variance(var, _check_eps(eps))
    k = (gamma / sd).reshape(_shape(x))
    return (x - mean.reshape(_shape(x))) * k + beta.reshape(_shape(x))


def batchnorm_train(x, gamma, beta, *, eps: float = EPS):
    """Training-mode batch norm: normalize with this batch's statistics.

    Returns
    -------
    y : ndarray, the shape of ``x``
    cache : dict
        ``mean``, ``var`` (biased, over batch and pixels, as the normalization uses),
        ``x_hat`` and ``inv_sd``, for :func:`batchnorm_backward` and the running averages.

    Examples
    --------
    >>> y, cache = batchnorm_train(np.array([[0.0], [2.0]]), np.ones(1), np.zeros(1), eps=0.0)
    >>> y[:, 0], cache["mean"], cache["var"]
    (array([-1.,  1.]), array([1.]), array([1.]))
    """
    x = _check_x(x)
    c = x.shape[1]
    gamma, beta = _check_channel_vector(gamma, "gamma", c), _check_channel_vector(beta, "beta", c)
    eps = _check_eps(eps)
    ax = _axes(x)
    mean = x.mean(axis=ax)
    var = x.var(axis=ax)
    sd = check_variance(var, eps, name="the batch variance")
    inv_sd = 1.0 / sd
    x_hat = (x - mean.reshape(_shape(x))) * inv_sd.reshape(_shape(x))
    y = x_hat * gamma.reshape(_shape(x)) + beta.reshape(_shape(x))
    return y, dict(mean=mean, var=var, x_hat=x_hat, inv_sd=inv_sd, gamma=gamma)


def batchnorm_backward(dy, cache):
    """Gradients of :func:`batchnorm_train`: ``(dx, dgamma, dbeta)``.

    With ``m`` values per channel, ``dx = inv_sd / m * (m g - sum g - x_hat sum(g x_hat))``
    where ``g = dy * gamma`` (the batch statistics depend on ``x`` too).
    """
    dy = np.asarray(dy, dtype=np.float64)
    x_hat, inv_sd, gamma = cache["x_hat"], cache["inv_sd"], cache["gamma"]
    if dy.shape != x_hat.shape:
        raise ValueError(f"dy must have the shape of x {x_hat.shape}, got {dy.shape}")
    ax = _axes(dy)
    m = dy.size // dy.shape[1]
    dbeta = dy.sum(axis=ax)
    dgamma = (dy * x_hat).sum(axis=ax)
    g = dy * gamma.reshape(_shape(dy))
    dx = (inv_sd.reshape(_shape(dy)) / m) * (m * g - g.sum(axis=ax).reshape(_shape(dy))
                                              - x_hat * (g * x_hat).sum(axis=ax).reshape(_shape(dy)))
    return dx, dgamma, dbeta


@dataclass(eq=False)
class BatchNorm:
    """A batch-norm layer with learned ``gamma``, ``beta`` and running ``mean``, ``var``.

    Introduced in lesson ``15_convolutions_and_folding``. ``forward(x, train=True)``
    normalizes with the batch's statistics and updates the running averages
    (``running = (1 - momentum) running + momentum batch``; the variance update uses the
    unbiased batch variance, as PyTorch does); ``forward(x)`` uses the running averages.

    Examples
    --------
    >>> bn = BatchNorm.init(2)
    >>> x = np.array([[0.0, 10.0], [2.0, 30.0]])
    >>> _ = bn.forward(x, train=True)
    >>> bn.mean, bn.var          # 0.9 * (0, 1) + 0.1 * batch (mean (1, 20), unbiased var (2, 200))
    (array([0.1, 2. ]), array([ 1.1, 20.9]))
    """

    gamma: np.ndarray
    beta: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    eps: float = EPS
    momentum: float = MOMENTUM

    def __post_init__(self):
        self.gamma = as_finite_array(self.gamma, "gamma", allow_empty=False)
        if self.gamma.ndim != 1:
            raise ValueError(f"gamma must be 1-D (channels,), got shape {self.gamma.shape}")
        c = self.gamma.size
        self.beta = _check_channel_vector(self.beta, "beta", c)
        self.mean = _check_channel_vector(self.mean, "mean", c)
        self.var = _check_channel_vector(self.var, "var", c)
        self.eps = _check_eps(self.eps)
        check_variance(self.var, self.eps)
        if not 0 <= float(self.momentum) <= 1:
            raise ValueError(f"momentum must be in [0, 1], got {self.momentum!r}")
        self._cache = None

    @classmethod
    def init(cls, channels: int, *, eps: float = EPS, momentum: float = MOMENTUM) -> BatchNorm:
        """``gamma = 1, beta = 0``, running mean 0 and variance 1."""
        return cls(np.ones(channels), np.zeros(channels), np.zeros(channels), np.ones(channels), eps, momentum)

    @property
    def channels(self) -> int:
        return self.gamma.size

    def forward(self, x, *, train: bool = False) -> np.ndarray:
        if not train:
            return batchnorm_inference(x, self.gamma, self.beta, self.mean, self.var, eps=self.eps)
        y, cache = batchnorm_train(x, self.gamma, self.beta, eps=self.eps)
        m = y.size // y.shape[1]
        unbiased = cache["var"] * (m / (m - 1)) if m > 1 else cache["var"]
        self.mean = (1 - self.momentum) * self.mean + self.momentum * cache["mean"]
        self.var = (1 - self.momentum) * self.var + self.momentum * unbiased
        self._cache = cache
        return y

    def backward(self, dy):
        """``dx``; stores ``(dgamma, dbeta)`` in ``self.grads`` (after a ``train=True`` forward)."""
        if self._cache is None:
            raise ValueError("backward needs a forward(x, train=True) first")
        dx, dg, db = batchnorm_backward(dy, self._cache)
        self.grads = [dg, db]
        return dx

    def params(self) -> list:
        return [self.gamma, self.beta]

    def copy(self) -> BatchNorm:
        return BatchNorm(self.gamma.copy(), self.beta.copy(), self.mean.copy(), self.var.copy(), self.eps,
                         self.momentum)


def fold_batchnorm(W, b, gamma, beta, mean, var, *, eps: float = EPS):
    """Fold an inference-mode batch norm into the layer before it: ``(W_fold, b_fold)``.

    Introduced in lesson ``15_convolutions_and_folding``. For a layer ``z = W * x + b``
    (dense, convolution or depthwise: output channel on axis 0 of ``W``) followed by
    ``y = gamma (z - mean) / sqrt(var + eps) + beta``, with ``k = gamma / sqrt(var + eps)``:

    ``W_fold[c] = k[c] W[c]`` and ``b_fold[c] = k[c] (b[c] - mean[c]) + beta[c]``,

    so ``W_fold * x + b_fold = y`` exactly in real arithmetic (Jacob et al. 2018, sec. 3.2).
    ``k`` differs from channel to channel: folding is what spreads the channels' weight
    ranges apart.

    Examples
    --------
    >>> W = np.array([[1.0, 1.0], [1.0, -1.0]])
    >>> Wf, bf = fold_batchnorm(W, np.zeros(2), np.array([2.0, 0.5]), np.zeros(2), np.array([1.0, 0.0]),
    ...                         np.ones(2), eps=0.0)
    >>> Wf, bf
    (array([[ 2. ,  2. ],
           [ 0.5, -0.5]]), array([-2.,  0.]))
    """
    W = as_finite_array(W, "W", allow_empty=False)
    if W.ndim < 2:
        raise ValueError(f"W must have its output channels on axis 0 and at least 2 dimensions, got {W.shape}")
    c = W.shape[0]
    b = np.zeros(c) if b is None else _check_channel_vector(b, "b", c)
    gamma, beta = _check_channel_vector(gamma, "gamma", c), _check_channel_vector(beta, "beta", c)
    mean, var = _check_channel_vector(mean, "mean", c), _check_channel_vector(var, "var", c)
    k = gamma / check_variance(var, _check_eps(eps))
    return W * k.reshape((-1,) + (1,) * (W.ndim - 1)), k * (b - mean) + beta

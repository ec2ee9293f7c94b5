"""AdaRound: learn, weight by weight, whether to round up or down (Nagel et al. 2020).

Introduced in lesson ``16_ptq_repairs``. Round-to-nearest (RTN) makes each weight's error as
small as it can be on its own, but a layer is judged by its *output* ``W X^T``: the errors of
the weights feeding one output add up, and choosing to round some of them the "wrong" way can
cancel what the others did. AdaRound (Nagel, Amjad, van Baalen, Louizos & Blankevoort,
"Up or Down? Adaptive Rounding for Post-Training Quantization", ICML 2020) finds those choices
by gradient descent on a continuous relaxation, one layer at a time, on a few hundred
calibration inputs:

.. math::

    \\widetilde W = s \\cdot \\mathrm{clip}\\big(\\lfloor W / s \\rfloor + h(V),\\ q_{min},\\ q_{max}\\big),
    \\qquad h(V) = \\mathrm{clip}\\big(\\sigma(V)(\\zeta - \\gamma) + \\gamma,\\ 0,\\ 1\\big)

with :math:`\\zeta = 1.1, \\gamma = -0.1` (the rectified sigmoid of Louizos et al. 2018), and

.. math::

    \\min_V\\ \\tfrac1n \\lVert W X^T - \\widetilde W X^T \\rVert_F^2
    + \\lambda \\sum_{ij} \\big(1 - |2 h(V_{ij}) - 1|^{\\beta}\\big),

the regularizer pushing every ``h`` to 0 or 1 while ``beta`` is annealed from 20 to 2 after a
warm start (the first 20 % of the iterations without it). At the end a weight rounds up where
``h >= 0.5``: every code is ``floor(W / s)`` or ``floor(W / s) + 1``, never further (then clipped to
``[qmin, qmax]``, which only matters for a scale smaller than min/max's, such as a learned one).

Here ``W`` is a layer in GEMM form ``(out, in)`` and ``X`` its calibration inputs ``(n, in)``
(a convolution: its im2col patches, :func:`conv_gemm`); ``X`` may also be ``(out, n, in)``,
one input matrix per output row, which is how a depthwise convolution's channels each see only
their own input. The objective is computed from Gram matrices ``X^T X / n`` (exact algebra,
no sampling) unless ``batch_size`` asks for the paper's random minibatches (seeded).
:func:`adaround_convnet` quantizes lesson 15's network layer by layer, each layer seeing the
inputs produced by the layers already quantized before it (the paper's section 5), with the
scales and activation parameters of :func:`qlearn.networks.convnet.quantize`, and is evaluated on that
module's exact integer path. The paper also puts the activation function inside the
objective (its eq. 25); this module does not (the linear output is reconstructed).

The roundings come from a float optimisation (BLAS sums, which differ between CPUs), so a
weight whose ``h`` ends near 0.5 may round the other way elsewhere; accuracies obtained from
them are stated with :data:`ACCURACY_TOLERANCE`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qlearn._validate import as_finite_array, check_int, check_positive
from qlearn.networks import conv, convnet, ptq
from qlearn.ranges import affine

#: The rectified sigmoid's stretch (Louizos et al. 2018; Nagel et al. 2020, eq. 23).
ZETA, GAMMA = 1.1, -0.1
#: Regularizer weight, relative: ``lam = LAMBDA_REL * error_rtn / W.size`` unless ``lam`` is given. Nagel et al.
#: use an absolute 0.01, tuned to their networks' output scale; the reconstruction term grows with the square of
#: the layer's scale, so a fixed value binarizes ``h`` on one layer and leaves most of it near 0.5 on another
#: (then the final ``h >= 0.5`` is a coin toss). Relative to RTN's error per weight it is scale-free; 30 left
#: about 1 % of ``h`` undecided on the seeded random layers of ``tests/test_adaround.py``.
LAMBDA_REL = 30.0
#: Annealing of the regularizer's exponent: from ``BETA_START`` to ``BETA_END`` after ``WARMUP`` of the iterations.
BETA_START, BETA_END, WARMUP = 20.0, 2.0, 0.2
#: Iterations and Adam learning rate of the defaults: a layer of lesson 15's network in well under a second.
ITERS, LR = 2000, 0.01
#: A rounding learned in float may differ on another CPU for weights whose h ends near 0.5: accuracy
#: figures from :func:`adaround_convnet` are stated within this (5 of lesson 15's 539 test images).
ACCURACY_TOLERANCE = 5 / 539
#: Test accuracy of lesson 15's folded network with AdaRound weights (defaults, seed 0, activations 8 bits),
#: keyed ``(weight_bits, per_channel)``: stated within :data:`ACCURACY_TOLERANCE` (tests/test_adaround.py).
EXPECTED_ACCURACY = {(4, False): 501 / 539, (4, True): 508 / 539, (3, False): 430 / 539, (3, True): 488 / 539}
#: The same with round-to-nearest (:func:`qlearn.networks.convnet.quantize`): exact integer path, pinned exactly.
RTN_ACCURACY = {(4, False): 371 / 539, (4, True): 484 / 539, (3, False): 192 / 539, (3, True): 206 / 539}


def rectified_sigmoid(V) -> np.ndarray:
    """``h(V) = clip(sigmoid(V) (zeta - gamma) + gamma, 0, 1)``: reaches exactly 0 and 1 at finite ``V``.

    Examples
    --------
    >>> rectified_sigmoid([-10.0, 0.0, 10.0])
    array([0. , 0.5, 1. ])
    """
    V = as_finite_array(V, "V")
    return np.clip(_sigmoid(V) * (ZETA - GAMMA) + GAMMA, 0.0, 1.0)


def _sigmoid(V):
    return 0.5 * (1.0 + np.tanh(0.5 * V))  # no overflow warning for large |V|


def init_V(W, scale) -> np.ndarray:
    """The paper's start: ``V`` with ``h(V) = W / s - floor(W / s)``, so the soft weights equal ``W``.

    Examples
    --------
    >>> W = np.array([[0.25, -0.5, 0.9]])
    >>> np.allclose(rectified_sigmoid(init_V(W, 1.0)), W - np.floor(W))
    True
    """
    W = as_finite_array(W, "W")
    frac = W / scale - np.floor(W / scale)
    p = (frac - GAMMA) / (ZETA - GAMMA)  # in [1/12, 11/12]: a finite logit
    return np.log(p) - np.log1p(-p)


def weight_scale(W, *, bits: int = 4, per_channel: bool = False):
    """The symmetric narrow-range min/max scale :func:`qlearn.networks.convnet.quantize` uses, for ``W (out, in)``.

    Returns ``(scale, qmin, qmax)``; ``scale`` is a float, or ``(out, 1)`` per channel.

    Examples
    --------
    >>> s, qmin, qmax = weight_scale(np.array([[0.7, -0.1], [0.2, 0.35]]), bits=3)
    >>> round(s, 12), qmin, qmax                     # 0.7 / 3
    (0.233333333333, -3, 3)
    """
    W = _check_W(W)
    bits = check_int(bits, "bits", ptq.MIN_BITS, ptq.MAX_BITS)
    qp = affine.minmax_qparams(W, bits=bits, symmetric=True, signed=True, narrow_range=True,
                               axis=0 if per_channel else None)
    scale = np.asarray(qp.scale).reshape(-1, 1) if per_channel else float(qp.scale)
    return scale, qp.qmin, qp.qmax


def round_to_nearest(W, scale, qmin: int, qmax: int) -> np.ndarray:
    """RTN codes ``clip(round(W / s), qmin, qmax)`` (half to even, as :func:`qlearn.ranges.affine.quantize`)."""
    return np.clip(np.rint(_check_W(W) / scale), qmin, qmax).astype(np.int64)


def _check_W(W):
    W = as_finite_array(W, "W", allow_empty=False)
    if W.ndim != 2:
        raise ValueError(f"W must be 2-D (out, in) (a convolution: see conv_gemm), got shape {W.shape}")
    return W


def _check_X(X, W, name="X"):
    X = as_finite_array(X, name, allow_empty=False)
    out, n_in = W.shape
    if X.ndim == 2 and X.shape[1] == n_in:
        return X
    if X.ndim == 3 and X.shape[0] == out and X.shape[2] == n_in:
        return X
    raise ValueError(f"{name} must have shape (n, in) = (n, {n_in}) or (out, n, in) = ({out}, n, {n_in}) "
                     f"for W {W.shape}, got {X.shape}")


class _Grams:
    """``Gqq = X^T X / n``, ``Gfq = X_float^T X / n`` and ``tr`` of the target, shared ``(in, in)`` or per row."""

    def __init__(self, W, X, X_float=None):
        self.per_row = X.ndim == 3
        Xf = X if X_float is None else X_float
        if Xf.shape != X.shape:
            raise ValueError(f"X_float must have X's shape {X.shape}, got {Xf.shape}")
        n = X.shape[-2]
        if self.per_row:
            self.Gqq = np.einsum("oni,onj->oij", X, X) / n
            self.Gfq = np.einsum("oni,onj->oij", Xf, X) / n
            Gff = np.einsum("oni,onj->oij", Xf, Xf) / n
            self.const = float(np.einsum("oi,oij,oj->", W, Gff, W))
            self.WGfq = np.einsum("oi,oij->oj", W, self.Gfq)
        else:
            self.Gqq = X.T @ X / n
            self.Gfq = Xf.T @ X / n
            self.const = float(np.sum((W @ (Xf.T @ Xf / n)) * W))
            self.WGfq = W @ self.Gfq

    def error_and_grad(self, W_hat):
        """``||W Xf^T - W_hat X^T||^2 / n`` and its gradient with respect to ``W_hat``."""
        WG = np.einsum("oi,oij->oj", W_hat, self.Gqq) if self.per_row else W_hat @ self.Gqq
        err = self.const - 2.0 * float(np.sum(self.WGfq * W_hat)) + float(np.sum(WG * W_hat))
        return max(err, 0.0), 2.0 * (WG - self.WGfq)


def output_error(W, W_hat, X, *, X_float=None) -> float:
    """``||W X_float^T - W_hat X^T||_F^2 / n``: the layer's squared output error per calibration row.

    ``X_float`` (default ``X``) is what the float layer saw; ``X`` what the quantized one sees.

    Examples
    --------
    >>> W = np.array([[1.0, 1.0]])
    >>> X = np.array([[1.0, 0.0], [1.0, 1.0]])
    >>> output_error(W, np.array([[1.5, 0.5]]), X)   # errors 0.5 and 0 on the two rows
    0.125
    """
    return float(np.sum(output_error_per_row(W, W_hat, X, X_float=X_float)))


def soft_weights(W, V, scale, qmin: int, qmax: int) -> np.ndarray:
    """``s * clip(floor(W / s) + h(V), qmin, qmax)``: the relaxed weights AdaRound optimises."""
    return scale * np.clip(np.floor(W / scale) + rectified_sigmoid(V), qmin, qmax)


def regularizer(h, beta: float) -> float:
    """``sum(1 - |2h - 1|^beta)``: 0 when every ``h`` is 0 or 1, largest at ``h = 0.5``.

    Examples
    --------
    >>> float(regularizer(np.array([0.0, 0.5, 1.0]), 2.0))
    1.0
    """
    return float(np.sum(1.0 - np.abs(2.0 * np.asarray(h) - 1.0) ** beta))


def beta_schedule(t: int, iters: int, *, warmup: float = WARMUP, beta_start: float = BETA_START,
                  beta_end: float = BETA_END):
    """The regularizer's exponent at iteration ``t`` (0-based), or None during the warm start.

    Linear from ``beta_start`` to ``beta_end`` over the iterations after the warm start, as in
    the authors' and BRECQ's ``LinearTempDecay``.

    Examples
    --------
    >>> [beta_schedule(t, 100) for t in (0, 19, 20, 60, 99)]
    [None, None, 20.0, 11.0, 2.225]
    """
    start = int(warmup * iters)
    if t < start:
        return None
    rel = (t - start) / max(iters - start, 1)
    return round(beta_end + (beta_start - beta_end) * (1.0 - rel), 12)


def loss_and_grad(V, W, X, scale, *, qmin: int, qmax: int, lam: float = 0.01, beta=BETA_START,
                  X_float=None):
    """AdaRound's objective at ``V`` and its gradient: ``(reconstruction, regularizer, dV)``.

    The total loss is ``reconstruction + lam * regularizer`` (``beta=None``: reconstruction only).
    Gradients are written out by hand (chain rule through the clips: zero where a clip is active).

    Examples
    --------
    >>> W, X = np.array([[0.3, -0.6]]), np.array([[1.0, 2.0], [0.5, -1.0]])
    >>> rec, reg, dV = loss_and_grad(init_V(W, 0.25), W, X, 0.25, qmin=-7, qmax=7)
    >>> round(rec, 12), round(reg, 6), dV.shape     # the soft weights start equal to W
    (0.0, 1.999963, (1, 2))
    """
    W = _check_W(W)
    X = _check_X(X, W)
    V = as_finite_array(V, "V")
    g = _Grams(W, X, None if X_float is None else _check_X(X_float, W, "X_float"))
    return _loss_and_grad(V, W, g, scale, qmin, qmax, lam, beta)


def _loss_and_grad(V, W, g, scale, qmin, qmax, lam, beta):
    sig = _sigmoid(V)
    h_raw = sig * (ZETA - GAMMA) + GAMMA
    h = np.clip(h_raw, 0.0, 1.0)
    w_int = np.floor(W / scale) + h
    W_soft = scale * np.clip(w_int, qmin, qmax)
    rec, dWs = g.error_and_grad(W_soft)
    dh_dV = (ZETA - GAMMA) * sig * (1.0 - sig) * ((h_raw > 0.0) & (h_raw < 1.0))
    dh = dWs * scale * ((w_int >= qmin) & (w_int <= qmax))
    if beta is None:
        return rec, 0.0, dh * dh_dV
    u = 2.0 * h - 1.0
    reg = float(np.sum(1.0 - np.abs(u) ** beta))
    dreg_dh = -2.0 * beta * np.abs(u) ** (beta - 1.0) * np.sign(u)
    return rec, reg, (dh + lam * dreg_dh) * dh_dV


@dataclass
class AdaRoundResult:
    """One layer rounded by :func:`adaround_layer`.

    Attributes
    ----------
    q, q_rtn : ndarray of int64 (out, in)
        AdaRound's codes and round-to-nearest's.
    scale, qmin, qmax : the weight grid (``scale`` a float or ``(out, 1)``).
    error, error_rtn : float
        Output error :func:`output_error` of ``s * q`` and ``s * q_rtn`` on the calibration inputs.
    history : dict of ndarray
        Per recorded iteration: ``iteration``, ``rec`` (soft reconstruction term), ``reg`` (regularizer
        at the current beta, 0 in the warm start), ``beta`` (NaN in the warm start), ``error_hard``
        (output error of the rounding ``h >= 0.5`` at that point) and ``h`` (the ``h(V)`` snapshots);
        ``lam``: the regularizer weight used.
    """

    W: np.ndarray
    scale: float | np.ndarray
    qmin: int
    qmax: int
    q: np.ndarray
    q_rtn: np.ndarray
    error: float
    error_rtn: float
    history: dict = field(repr=False)

    @property
    def W_hat(self) -> np.ndarray:
        return self.scale * self.q

    @property
    def flipped(self) -> np.ndarray:
        """Where AdaRound's code differs from round-to-nearest's."""
        return self.q != self.q_rtn

    def __repr__(self):
        return (f"AdaRoundResult({self.W.shape}, {int(self.flipped.sum())} of {self.q.size} codes differ from RTN, "
                f"output error {self.error:.4g} vs RTN {self.error_rtn:.4g})")


def adaround_layer(W, X, *, bits: int = 4, per_channel: bool = False, X_float=None, scale=None,
                   iters: int = ITERS, lr: float = LR, lam: float | None = None, warmup: float = WARMUP,
                   batch_size: int | None = None, seed: int = 0, snapshots: int = 50) -> AdaRoundResult:
    """Learn up/down roundings of ``W (out, in)`` that reconstruct the layer's output on ``X``.

    Introduced in lesson ``16_ptq_repairs``.

    Parameters
    ----------
    W : ndarray (out, in)
    X : ndarray (n, in), or (out, n, in) when each output row has its own inputs (depthwise)
        The calibration inputs the *quantized* layer sees.
    bits, per_channel : the symmetric narrow-range grid of :func:`weight_scale` (unless ``scale`` is given).
    X_float : ndarray like ``X``, optional
        What the float layer saw (the target is ``W X_float^T``); default ``X``.
    scale : float or ndarray (out, 1), optional
        Use this scale instead of min/max (for example one learned by :mod:`qlearn.networks.lsq`).
    iters, lr, warmup : Adam iterations and learning rate on ``V``, warm-start fraction.
    lam : float, optional
        The regularizer's weight ``lambda``; default ``LAMBDA_REL * error_rtn / W.size`` (see :data:`LAMBDA_REL`).
    batch_size : int, optional
        None: the exact objective on all ``n`` rows (Gram matrices). An int: a random minibatch of
        rows per iteration, drawn with ``numpy.random.default_rng(seed)``, as in the paper.
    snapshots : int
        How many ``h(V)`` snapshots (and hard-rounding errors) to keep in ``history``.

    Returns
    -------
    AdaRoundResult

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> W, X = rng.normal(size=(8, 16)), rng.normal(size=(256, 16))
    >>> r = adaround_layer(W, X, bits=3, iters=500)
    >>> bool(r.error < r.error_rtn), bool(np.all(np.abs(r.q - W / r.scale) < 1))
    (True, True)
    """
    W = _check_W(W)
    X = _check_X(X, W)
    Xf = None if X_float is None else _check_X(X_float, W, "X_float")
    if Xf is not None and Xf.shape != X.shape:
        raise ValueError(f"X_float must have X's shape {X.shape}, got {Xf.shape}")
    iters = check_int(iters, "iters", 1, 10**7)
    lr = check_positive(lr, "lr")
    if lam is not None:
        lam = float(lam)
        if not np.isfinite(lam) or lam < 0:
            raise ValueError(f"lam must be a finite number >= 0, got {lam!r}")
    if not 0.0 <= float(warmup) < 1.0:
        raise ValueError(f"warmup must be in [0, 1), got {warmup!r}")
    snapshots = check_int(snapshots, "snapshots", 2, 10**4)
    if scale is None:
        scale, qmin, qmax = weight_scale(W, bits=bits, per_channel=per_channel)
    else:
        bits = check_int(bits, "bits", ptq.MIN_BITS, ptq.MAX_BITS)
        qmin, qmax = affine.qrange(bits, narrow_range=True)
        s = np.asarray(as_finite_array(scale, "scale"))
        if np.any(s <= 0) or s.ndim > 2 or (s.ndim and s.size not in (1, W.shape[0])):
            raise ValueError(f"scale must be > 0, a float or one per output row ({W.shape[0]}, 1)")
        scale = float(s.reshape(-1)[0]) if s.size == 1 else s.reshape(-1, 1)
    if batch_size is not None:
        batch_size = check_int(batch_size, "batch_size", 1, X.shape[-2])
    rng = np.random.default_rng(check_int(seed, "seed", 0, 2**63 - 1))

    full = _Grams(W, X, Xf)
    q_rtn = round_to_nearest(W, scale, qmin, qmax)
    floor = np.floor(W / scale)
    error_rtn = full.error_and_grad(scale * q_rtn)[0]
    if lam is None:
        lam = LAMBDA_REL * error_rtn / W.size

    def hard_error(V):
        q = np.clip(floor + (rectified_sigmoid(V) >= 0.5), qmin, qmax)
        return full.error_and_grad(scale * q)[0]

    V = init_V(W, scale)
    m, v = np.zeros_like(V), np.zeros_like(V)
    b1, b2, eps = 0.9, 0.999, 1e-8
    record = set(np.linspace(0, iters, snapshots).round().astype(int).tolist())
    hist = {k: [] for k in ("iteration", "rec", "reg", "beta", "error_hard", "h")}
    rows = X.shape[-2]
    for t in range(iters + 1):
        beta = beta_schedule(min(t, iters - 1), iters, warmup=warmup)
        if batch_size is None:
            g = full
        else:
            idx = rng.choice(rows, size=batch_size, replace=False)
            g = _Grams(W, X[..., idx, :], None if Xf is None else Xf[..., idx, :])
        rec, reg, dV = _loss_and_grad(V, W, g, scale, qmin, qmax, lam, beta)
        if t in record:
            hist["iteration"].append(t)
            hist["rec"].append(rec if batch_size is None else _loss_and_grad(V, W, full, scale, qmin, qmax,
                                                                             lam, beta)[0])
            hist["reg"].append(reg)
            hist["beta"].append(np.nan if beta is None else beta)
            hist["error_hard"].append(hard_error(V))
            hist["h"].append(rectified_sigmoid(V))
        if t == iters:
            break
        m = b1 * m + (1 - b1) * dV
        v = b2 * v + (1 - b2) * dV * dV
        V = V - lr * (m / (1 - b1 ** (t + 1))) / (np.sqrt(v / (1 - b2 ** (t + 1))) + eps)
    q = np.clip(floor + (rectified_sigmoid(V) >= 0.5), qmin, qmax).astype(np.int64)
    history = {k: np.array(val) for k, val in hist.items()}
    history["lam"] = np.array(lam)
    return AdaRoundResult(W, scale, qmin, qmax, q, q_rtn, full.error_and_grad(scale * q)[0],
                          error_rtn, history)


# ---------------------------------------------------------------------------------------------
# Lesson 15's network: layers as GEMMs, and the network rounded layer by layer.

def conv_gemm(layer, x):
    """A weight layer of :mod:`qlearn.networks.convnet` in GEMM form: ``(W (out, in), X)`` for its input ``x``.

    A convolution: ``W.reshape(out, -1)`` and the im2col patches ``(batch * oh * ow, in * kh * kw)``;
    a depthwise convolution: ``W (channels, kh * kw)`` and ``X (channels, batch * oh * ow, kh * kw)``
    (channel ``c``'s own patches: one GEMM per channel); the dense layer: ``W`` and the flattened ``x``.
    ``W @ X.T`` (per channel for a depthwise layer) is the layer's output without bias.

    Examples
    --------
    >>> net = convnet.pretrained().fold()
    >>> x = np.random.default_rng(0).normal(size=(2, 1, 8, 8))
    >>> W, X = conv_gemm(net.quant_layers()[0], x)
    >>> W.shape, X.shape
    ((8, 9), (128, 9))
    """
    if isinstance(layer, convnet.Linear):
        x = np.asarray(x, dtype=np.float64)
        return layer.W, x.reshape(x.shape[0], -1)
    if not isinstance(layer, convnet.Conv):
        raise TypeError(f"layer must be a qlearn.networks.convnet Conv or Linear, got {type(layer).__name__}")
    kh, kw = layer.W.shape[2:]
    if layer.depthwise:
        x = np.asarray(x, dtype=np.float64)
        X = np.stack([conv.im2col(x[:, c: c + 1], kh, kw, stride=layer.stride, padding=layer.padding)
                      for c in range(x.shape[1])])
        return layer.W.reshape(layer.W.shape[0], -1), X
    X = conv.im2col(np.asarray(x, dtype=np.float64), kh, kw, stride=layer.stride, padding=layer.padding)
    return layer.W.reshape(layer.W.shape[0], -1), X


class AdaRoundConvNet(convnet.QuantizedConvNet):
    """A :class:`qlearn.networks.convnet.QuantizedConvNet` whose weight codes AdaRound chose.

    ``results[k]`` is weight layer ``k``'s :class:`AdaRoundResult` (GEMM form); ``masks[k]``
    says which of its codes were rounded up (``q == floor(W / s) + 1``), in ``W``'s shape.
    """

    results: list
    masks: list


def _check_model(model):
    if not isinstance(model, convnet.ConvNet):
        raise TypeError(f"model must be a qlearn.networks.convnet.ConvNet, got {type(model).__name__}")
    if not model.folded:
        raise ValueError("model still has batch norms: fold it first (model.fold())")
    return model


def _quantized_inputs(qnet, images, k):
    """The input weight layer ``k`` of ``qnet`` receives, after its own activation quantization."""
    h = convnet._check_images(images)
    seen = 0
    for layer in qnet.layers:
        if isinstance(layer, convnet.QLayer):
            if seen == k:
                return affine.fake_quantize(h, layer.act_qp)
            seen += 1
        h = layer.forward(h)
    raise ValueError(f"the network has only {seen} weight layers")


def adaround_convnet(model, calib_images, *, weight_bits: int = 4, per_channel: bool = False, act_bits: int = 8,
                     iters: int = ITERS, lr: float = LR, lam: float | None = None, batch_size: int | None = None,
                     seed: int = 0, scales=None) -> AdaRoundConvNet:
    """Quantize a folded :class:`qlearn.networks.convnet.ConvNet` with AdaRound, one weight layer after the other.

    Introduced in lesson ``16_ptq_repairs``. Starts from :func:`qlearn.networks.convnet.quantize` (same
    weight scales, activation parameters and int32 biases) and replaces each layer's
    round-to-nearest codes by AdaRound's, learned on ``calib_images``: the target is the float
    layer's output on the float network's activations, the input is what the network
    quantized so far (AdaRound codes in every earlier layer, 8-bit activations) feeds it.

    ``scales`` (optional, one per weight layer, in GEMM form) replaces the min/max weight scales
    (for example :func:`qlearn.networks.lsq.lsq_scales`); the int32 biases are requantized to match.

    Examples
    --------
    >>> from qlearn.networks.data import load_digits
    >>> d = load_digits()
    >>> net = convnet.pretrained().fold()
    >>> q = adaround_convnet(net, d.X_calib, weight_bits=4, iters=300)
    >>> rtn = convnet.quantize(net, d.X_calib, weight_bits=4)
    >>> q.accuracy(d.X_test, d.y_test) > rtn.accuracy(d.X_test, d.y_test)
    True
    """
    model = _check_model(model)
    C = convnet._check_images(calib_images, "calib_images")
    base = convnet.quantize(model, C, weight_bits=weight_bits, act_bits=act_bits, per_channel=per_channel)
    _, float_inputs = model.forward(C, return_inputs=True)
    layers = [layer for layer in base.layers]
    qnet = AdaRoundConvNet(layers, weight_bits=weight_bits, act_bits=act_bits, per_channel=per_channel)
    qnet.results, qnet.masks = [], []
    k = 0
    for i, ql in enumerate(layers):
        if not isinstance(ql, convnet.QLayer):
            continue
        L = ql.layer
        _, Xq = conv_gemm(L, _quantized_inputs(qnet, C, k))
        W, Xf = conv_gemm(L, float_inputs[k])
        sc = None if scales is None else scales[k]
        r = adaround_layer(W, Xq, X_float=Xf, bits=weight_bits, per_channel=per_channel, scale=sc, iters=iters,
                           lr=lr, lam=lam, batch_size=batch_size, seed=seed + k)
        W_qp, bias_qp, b_q = ql.W_qp, ql.bias_qp, ql.b_q
        if sc is not None:
            W_qp, bias_qp, b_q = _requantize_bias(L, r.scale, ql.act_qp, per_channel, W_qp)
        layers[i] = convnet.QLayer(L, r.q.reshape(L.W.shape), W_qp, ql.act_qp, b_q, bias_qp)
        qnet.layers = layers
        qnet.results.append(r)
        qnet.masks.append((r.q > np.floor(W / r.scale)).reshape(L.W.shape))
        k += 1
    return qnet


def _requantize_bias(L, scale, act_qp, per_channel, W_qp):
    bqmin, bqmax = affine.qrange(ptq.BIAS_BITS)
    if per_channel:
        sw = np.asarray(scale).reshape(-1)
        W_qp = affine.QParams(sw, np.zeros(sw.size, np.int64), W_qp.qmin, W_qp.qmax, axis=0)
        s = sw * act_qp.scale
        bias_qp = affine.QParams(s, np.zeros(s.size, np.int64), bqmin, bqmax, axis=0)
    else:
        sw = float(np.asarray(scale).reshape(-1)[0])
        W_qp = affine.QParams(sw, 0, W_qp.qmin, W_qp.qmax)
        bias_qp = affine.QParams(sw * act_qp.scale, 0, bqmin, bqmax)
    return W_qp, bias_qp, affine.quantize(L.b, bias_qp)


#: Settings of :func:`accuracy_comparison`: weight bits and per-channel scales.
COMPARISON_CONFIGS = ((4, False), (4, True), (3, False), (3, True))


def accuracy_comparison(model=None, data=None, *, configs=COMPARISON_CONFIGS, iters: int = ITERS,
                        seed: int = 0) -> dict:
    """Test accuracy of lesson 15's folded network, round-to-nearest vs AdaRound, at each ``(bits, per_channel)``.

    Introduced in lesson ``16_ptq_repairs``. Returns ``{(bits, per_channel): {"rtn": acc, "adaround": acc}}``
    plus ``"float"``; activations 8 bits; every accuracy on the exact integer path (AdaRound's
    codes themselves come from float optimisation: :data:`ACCURACY_TOLERANCE`).
    """
    from qlearn.networks.data import load_digits

    model = convnet.pretrained().fold() if model is None else _check_model(model)
    data = load_digits() if data is None else data
    out = {"float": model.accuracy(data.X_test, data.y_test)}
    for bits, pc in configs:
        rtn = convnet.quantize(model, data.X_calib, weight_bits=bits, per_channel=pc)
        ada = adaround_convnet(model, data.X_calib, weight_bits=bits, per_channel=pc, iters=iters, seed=seed)
        out[bits, pc] = {"rtn": rtn.accuracy(data.X_test, data.y_test),
                         "adaround": ada.accuracy(data.X_test, data.y_test)}
    return out


def convnet_layer_problem(k: int = 4, *, bits: int = 4, per_channel: bool = False):
    """Weight layer ``k`` of lesson 15's folded network as a rounding problem: ``(W, X, X_float)`` in GEMM form.

    Introduced in lesson ``16_ptq_repairs``. ``X`` is what the network quantized with round-to-nearest
    (``bits``, ``per_channel``, activations 8 bits) feeds layer ``k`` on the calibration images
    (:func:`qlearn.networks.data.load_digits` ``X_calib``); ``X_float`` what the float network feeds it.
    """
    from qlearn.networks.data import load_digits

    model = convnet.pretrained().fold()
    k = check_int(k, "k", 0, len(model.quant_layers()) - 1)
    C = load_digits().X_calib
    base = convnet.quantize(model, C, weight_bits=bits, per_channel=per_channel)
    _, float_inputs = model.forward(C, return_inputs=True)
    L = model.quant_layers()[k]
    _, Xq = conv_gemm(L, _quantized_inputs(base, C, k))
    W, Xf = conv_gemm(L, float_inputs[k])
    return W, Xq, Xf


def convnet_layer(k: int = 4, *, bits: int = 4, per_channel: bool = False, iters: int = ITERS,
                  seed: int = 0, snapshots: int = 50) -> AdaRoundResult:
    """AdaRound on weight layer ``k`` of lesson 15's folded network (:func:`convnet_layer_problem`).

    Introduced in lesson ``16_ptq_repairs`` (the explorer's layer).

    Examples
    --------
    >>> r = convnet_layer(4, bits=4, iters=200)
    >>> r.q.shape, bool(r.error < r.error_rtn)
    ((32, 16), True)
    """
    W, Xq, Xf = convnet_layer_problem(k, bits=bits, per_channel=per_channel)
    return adaround_layer(W, Xq, X_float=Xf, bits=bits, per_channel=per_channel, iters=iters, seed=seed,
                          snapshots=snapshots)


def output_error_per_row(W, W_hat, X, *, X_float=None) -> np.ndarray:
    """:func:`output_error` split by output row (channel): entry ``o`` is ``||W[o] X_float^T - W_hat[o] X^T||^2 / n``.

    Examples
    --------
    >>> W, X = np.array([[1.0, 1.0], [2.0, 0.0]]), np.array([[1.0, 0.0], [1.0, 1.0]])
    >>> output_error_per_row(W, np.array([[1.5, 0.5], [2.0, 0.0]]), X)
    array([0.125, 0.   ])
    """
    W = _check_W(W)
    W_hat = as_finite_array(W_hat, "W_hat")
    if W_hat.shape != W.shape:
        raise ValueError(f"W_hat must have W's shape {W.shape}, got {W_hat.shape}")
    X = _check_X(X, W)
    Xf = X if X_float is None else _check_X(X_float, W, "X_float")
    if X.ndim == 3:
        R = np.einsum("oi,oni->no", W, Xf) - np.einsum("oi,oni->no", W_hat, X)
    else:
        R = Xf @ W.T - X @ W_hat.T
    return np.sum(R * R, axis=0) / X.shape[-2]

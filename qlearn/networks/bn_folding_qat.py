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

from pathlib import Path

import numpy as np

from qlearn._validate import as_finite_array, check_int
from qlearn.networks.batchnorm import EPS, MOMENTUM, check_variance
from qlearn.ranges import affine

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


# ---------------------------------------------------------------------------------------------
# A short QAT run of lesson 15's network through the folded graph (shipped; lesson 15 section 6 reads it).

#: The shipped run's settings: from the trained (unfolded) network, Adam, 4-bit per-tensor weights.
FOLDED_QAT_TRAINING = dict(bits=4, per_channel=False, epochs=2, lr=1e-3, batch_size=32, seed=0)
#: Training runs on BLAS: a recomputed run is compared with the shipped one within this (per entry).
FOLDED_QAT_TOLERANCE = 20 / 539


def _folded_forward(model, X, *, phase, bits, per_channel):
    """Training forward pass of an unfolded lesson-15 network, each conv + batch norm pair folded and fake-quantized.

    Each pair runs :func:`folded_bn_forward`'s graph for convolutions: the float convolution gives the batch
    statistics (and updates the running ones), the folded weights are fake-quantized, and the layer outputs
    ``corr * conv(x, FQ(W_fold)) + beta + gamma (b - mu_B) / sigma_B``. The batch norm and convolution keep
    their float caches, so ``model.backward`` is the straight-through gradient of the folded graph (without
    quantization the folded graph is the batch norm of the convolution, which the tests check).
    """
    from qlearn.networks import conv
    from qlearn.networks.batchnorm import BatchNorm
    from qlearn.networks.convnet import Conv, _check_images

    h, layers, i = _check_images(X), model.layers, 0
    while i < len(layers):
        L = layers[i]
        bn = layers[i + 1] if i + 1 < len(layers) else None
        if not (isinstance(L, Conv) and isinstance(bn, BatchNorm)):
            h = L.forward(h, train=True)
            i += 1
            continue
        sigma_run = np.sqrt(bn.var + bn.eps)          # the running sigma before this batch's update
        bn.forward(L.forward(h, train=True), train=True)
        mu_B, sigma_B = bn._cache["mean"], np.sqrt(bn._cache["var"] + bn.eps)
        if phase == "batch":
            k, corr = bn.gamma / sigma_B, np.ones_like(sigma_B)
        else:
            k, corr = bn.gamma / sigma_run, sigma_run / sigma_B
        c = L.W.shape[0]
        W_q = fake_quantize_weights((L.W * k[:, None, None, None]).reshape(c, -1), bits,
                                    per_channel=per_channel).reshape(L.W.shape)
        f = conv.depthwise_conv2d if L.depthwise else conv.conv2d
        y = f(h, W_q, None, stride=L.stride, padding=L.padding, fast=True)
        bias = bn.beta + bn.gamma * (L.b - mu_B) / sigma_B
        h = y * corr[None, :, None, None] + bias[None, :, None, None]
        i += 2
    return h


def folded_qat(model=None, data=None, *, phase: str = "corrected", bits: int = 4, per_channel: bool = False,
               epochs: int = 2, lr: float = 1e-3, batch_size: int = 32, seed: int = 0, fake_quantize: bool = True):
    """Fine-tune lesson 15's unfolded network through the folded, fake-quantized graph (Jacob et al. 2018, sec. 3.2).

    Introduced in lesson ``15_convolutions_and_folding``. Every convolution + batch norm pair trains as
    :func:`folded_bn_forward` describes (``phase`` ``'batch'`` or ``'corrected'``), weights fake-quantized to
    ``bits`` (symmetric, narrow range; ``fake_quantize=False``: the same training without quantization, a
    control); the dense layer trains in float. Adam, straight-through gradients. After each epoch the network
    is folded with its running statistics and quantized as lesson 15 deploys it
    (:func:`qlearn.networks.convnet.quantize`,
    ``bits``-bit weights, 8-bit min/max activations), and its test accuracy is measured on the exact integer path.

    Returns ``(model, history)``: the trained unfolded network and ``{"epoch", "test_accuracy"}`` (epoch 0:
    before training). Training uses BLAS: state its figures within :data:`FOLDED_QAT_TOLERANCE`.
    """
    from qlearn.networks import convnet, nn
    from qlearn.networks.data import load_digits

    if phase not in ("batch", "corrected"):
        raise ValueError(f"phase must be 'batch' or 'corrected' (training phases), got {phase!r}")
    model = (convnet.pretrained() if model is None else model).copy()
    if model.folded:
        raise ValueError("model must be an unfolded network (with its batch norms): folding happens in training")
    data = load_digits() if data is None else data
    bits = check_int(bits, "bits", 2, 16)
    epochs, lr, batch_size, seed = nn.check_training_args(data, epochs, lr, batch_size, seed)
    rng = np.random.default_rng(seed)
    X = convnet._check_images(data.X_train)
    y = nn._check_y(data.y_train, X.shape[0], 10)

    def evaluate():
        q = convnet.quantize(model.fold(), data.X_calib, weight_bits=bits, per_channel=per_channel)
        return q.accuracy(data.X_test, data.y_test)

    hist = {"epoch": [0], "test_accuracy": [evaluate()]}
    opt = nn.Adam(model.params(), lr)
    for epoch in range(1, epochs + 1):
        for idx in nn.minibatches(X.shape[0], batch_size, rng):
            if idx.size < 2:
                continue
            logits = _folded_forward(model, X[idx], phase=phase, bits=bits if fake_quantize else None,
                                     per_channel=per_channel)
            _, dlogits = nn.softmax_cross_entropy(logits, y[idx])
            opt.step(model.backward(dlogits))
        hist["epoch"].append(epoch)
        hist["test_accuracy"].append(evaluate())
    return model, {k: np.array(v) for k, v in hist.items()}


FOLDED_QAT_FILE = Path(__file__).parents[1] / "data" / "bn_folding_qat.npz"
#: The runs of :func:`folded_qat_study`: the two training graphs, and the same training without fake quantization.
FOLDED_QAT_RUNS = ("batch", "corrected", "control")


def folded_qat_study(model=None, data=None) -> dict:
    """:func:`folded_qat` with :data:`FOLDED_QAT_TRAINING` for each of :data:`FOLDED_QAT_RUNS`.

    Introduced in lesson ``15_convolutions_and_folding``. ``'batch'`` folds with the batch's sigma (Jacob et al.
    2018), ``'corrected'`` with the running sigma and the correction (Krishnamoorthi 2018), ``'control'`` trains
    the same way without fake quantization (float fine-tuning, then quantized). Returns ``runs``, ``epoch``,
    ``test_accuracy`` (runs x epochs + 1), ``bits``, ``per_channel``, ``n_test``. About 1 minute.
    """
    from qlearn.networks.data import load_digits

    data = load_digits() if data is None else data
    kw = dict(FOLDED_QAT_TRAINING)
    acc = []
    for run in FOLDED_QAT_RUNS:
        phase = "corrected" if run == "control" else run
        _, h = folded_qat(model, data, phase=phase, fake_quantize=run != "control", **kw)
        acc.append(h["test_accuracy"])
    return dict(runs=np.array(FOLDED_QAT_RUNS), epoch=h["epoch"], test_accuracy=np.array(acc),
                bits=np.array(kw["bits"]), per_channel=np.array(kw["per_channel"]), n_test=np.array(len(data.y_test)))


def save_folded_qat_study(path=None) -> dict:
    """Recompute :func:`folded_qat_study` and write ``qlearn/data/bn_folding_qat.npz``."""
    t = folded_qat_study()
    np.savez_compressed(FOLDED_QAT_FILE if path is None else path, **t)
    return t


def load_folded_qat_study(path=None) -> dict:
    """The shipped :func:`folded_qat_study`, from ``qlearn/data/bn_folding_qat.npz``.

    Examples
    --------
    >>> s = load_folded_qat_study()
    >>> [str(r) for r in s["runs"]], round(float(s["test_accuracy"][0, 0]) * 539)
    (['batch', 'corrected', 'control'], 371)
    """
    with np.load(FOLDED_QAT_FILE if path is None else path) as f:
        return {k: f[k] for k in f.files}

"""Quantization-aware training (QAT): train through the quantizer with a straight-through estimator.

Introduced in lesson ``09_quantization_aware_training``. The forward pass runs on
fake-quantized weights and activations, exactly the values the integer model will
compute with (Jacob et al. 2018, section 3); the backward pass treats rounding as
the identity inside the clipping range and as a constant (gradient 0) outside it,
the straight-through estimator (Bengio, Leonard & Courville 2013; Courbariaux et
al. 2016; Krishnamoorthi 2018, section 2.4; Nagel et al. 2021, section 4.1). The
float "shadow" weights keep receiving small updates that rounding alone would erase.

Training runs on the BLAS product (:data:`qlearn.networks.nn.train_matmul`), so fine-tuned
weights differ in their last bits from machine to machine and figures from a training
run are stated with a tolerance. The initial activation ranges (calibration) and
every accuracy in ``history`` are evaluated deterministically: the quantized model in
integer arithmetic (:func:`qlearn.networks.ptq.integer_linear`).

Activation ranges are tracked as in Jacob et al. (2018): an exponential moving
average of each layer input's batch maximum, started from the float model's
calibration maximum. Weights use the same symmetric min/max parameters as
:func:`qlearn.networks.ptq.weight_qparams`, recomputed at every step.
"""
from __future__ import annotations

import numpy as np

from qlearn._validate import as_finite_array, check_int
from qlearn.networks import nn
from qlearn.networks.nn import (
    DATA_DIR,
    MLP,
    Dense,
    _check_X,
    _check_y,
    check_training_args,
    make_optimizer,
    minibatches,
    softmax_cross_entropy,
)
from qlearn.networks.ptq import MAX_BITS, MIN_BITS, QuantizedModel, quantize_model, weight_qparams
from qlearn.ranges import affine

#: Momentum of the activation-range moving average (Jacob et al. 2018, sec. 3.1: "close to 1").
EMA_MOMENTUM = 0.9


def ste_grad(x, qp: affine.QParams) -> np.ndarray:
    """Straight-through gradient of ``fake_quantize(x, qp)`` with respect to ``x``.

    Introduced in lesson ``09_quantization_aware_training``.

    Returns
    -------
    ndarray of float
        1 where ``round(x / scale) + zero_point`` lies in ``[qmin, qmax]`` (the code was
        not clipped: rounding is treated as the identity), 0 where it was clipped
        (clipping has zero slope).

    Notes
    -----
    The true derivative of the staircase is 0 almost everywhere, which would stop
    training; the STE replaces it by the derivative of the clipped identity. The
    test is on the rounded code, as in PyTorch's ``fake_quantize_per_tensor_affine``
    backward, so a value within half a step beyond the last level (which rounds to
    it anyway) still passes its gradient, and the largest weight of a min/max range
    is never cut off by floating-point rounding of ``scale * qmax``.

    Examples
    --------
    >>> qp = affine.compute_qparams(-1.0, 1.0, bits=2, symmetric=True)
    >>> qp.scale, qp.qmin, qp.qmax
    (1.0, -2, 1)
    >>> ste_grad([-3.0, -2.4, -0.4, 0.0, 0.7, 1.4, 1.6], qp)
    array([0., 1., 1., 1., 1., 1., 0.])
    """
    if not isinstance(qp, affine.QParams):
        raise TypeError(f"qp must be a QParams, got {type(qp).__name__}")
    a = as_finite_array(x, "x")
    scale, zp = qp._broadcast(a.ndim, a.shape)
    code = np.rint(a / scale) + zp
    return ((code >= qp.qmin) & (code <= qp.qmax)).astype(np.float64)


def activation_qparams(amax, bits: int) -> affine.QParams:
    """Unsigned ``bits``-bit parameters for a non-negative activation with maximum ``amax``."""
    return affine.compute_qparams(0.0, float(amax), bits=bits, signed=False)


class QATModel(QuantizedModel):
    """A :class:`~qlearn.networks.ptq.QuantizedModel` produced by :func:`qat_finetune`.

    Attributes
    ----------
    float_model : MLP
        The shadow float weights after fine-tuning.
    history : dict of ndarray
        Per epoch (index 0 = before fine-tuning, i.e. PTQ with the same ranges):
        ``epoch``, ``loss``, ``train_accuracy``, ``test_accuracy`` (quantized).
    """

    float_model: MLP
    history: dict


def _fq_forward(model: MLP, X, bits: int, per_channel: bool, act_max, quantize_activations: bool):
    """Fake-quantized forward pass; returns what the backward pass needs."""
    cache = []
    h = X
    last = len(model.layers) - 1
    for i, layer in enumerate(model.layers):
        if quantize_activations:
            a_qp = activation_qparams(act_max[i], bits)
            h_q = affine.fake_quantize(h, a_qp)
            a_mask = ste_grad(h, a_qp)
        else:
            h_q, a_mask = h, None
        w_qp = weight_qparams(layer.W, bits=bits, per_channel=per_channel)
        W_q = affine.fake_quantize(layer.W, w_qp)
        z = nn.train_matmul(h_q, W_q.T) + layer.b
        cache.append((h, h_q, a_mask, W_q, ste_grad(layer.W, w_qp), z))
        h = np.maximum(z, 0.0) if i < last else z
    return h, cache


def _fq_backward(cache, dlogits):
    grads = []
    dz = dlogits
    for i in range(len(cache) - 1, -1, -1):
        h, h_q, a_mask, W_q, w_mask, _ = cache[i]
        grads.append((w_mask * nn.train_matmul(dz.T, h_q), dz.sum(axis=0)))
        if i > 0:
            dh = nn.train_matmul(dz, W_q)
            if a_mask is not None:
                dh = dh * a_mask           # STE through the activation quantizer
            dz = dh * (cache[i - 1][5] > 0)  # through the ReLU
    return grads[::-1]


def qat_loss_and_grads(model: MLP, X, y, *, bits: int, per_channel: bool = False, act_max=None,
                       quantize_activations: bool = True):
    """Loss of the fake-quantized network and STE gradients for every ``(W, b)`` of ``model``."""
    X = _check_X(X, model.layers[0].n_in)
    y = _check_y(y, X.shape[0], model.layers[-1].n_out)
    if act_max is None:
        _, acts = model.forward(X, return_activations=True)
        act_max = [float(a.max()) for a in acts]
    logits, cache = _fq_forward(model, X, bits, per_channel, act_max, quantize_activations)
    loss, dlogits = softmax_cross_entropy(logits, y)
    return loss, _fq_backward(cache, dlogits)


def _to_quantized(model, bits, per_channel, act_max, quantize_activations):
    if quantize_activations:
        return quantize_model(model, mode="full_integer", bits=bits, per_channel=per_channel,
                              act_qparams=[activation_qparams(a, bits) for a in act_max])
    return quantize_model(model, mode="weight_only", bits=bits, per_channel=per_channel)


def qat_finetune(model: MLP, data, *, bits: int = 4, per_channel: bool = False, epochs: int = 10,
                 lr: float = 3e-3, seed: int = 0, batch_size: int = 32, quantize_activations: bool = True,
                 optimizer: str = "adam", callback=None) -> QATModel:
    """Fine-tune a float model through fake quantization (STE), starting from its weights.

    Introduced in lesson ``09_quantization_aware_training``.

    Parameters
    ----------
    model : MLP
        The float model to start from (not changed).
    data : Digits
        ``X_train, y_train`` to train on; ``X_calib`` starts the activation ranges;
        ``X_test, y_test`` are reported in the history.
    bits : int in [2, 16]
    per_channel : bool
        Per-output-channel weight scales.
    epochs, lr, seed, batch_size, optimizer : training settings (``seed`` shuffles); the
        learning rate follows a cosine decay from ``lr`` to 0 over the run.
    quantize_activations : bool
        Fake-quantize every layer input too (full integer); False trains for weight-only.
    callback : callable(dict), optional
        Called after every epoch with ``epoch``, ``epochs``, ``loss``, ``test_accuracy``
        (of the quantized model); a progress bar hooks in here.

    Returns
    -------
    QATModel
        The quantized model (full integer or weight only), with ``float_model`` and ``history``.
    """
    if not isinstance(model, MLP):
        raise TypeError(f"model must be a qlearn.networks.nn.MLP, got {type(model).__name__}")
    bits = check_int(bits, "bits", MIN_BITS, MAX_BITS)
    epochs, lr, batch_size, seed = check_training_args(data, epochs, lr, batch_size, seed)
    rng = np.random.default_rng(seed)
    model = model.copy()
    X = _check_X(data.X_train, model.layers[0].n_in)
    y = _check_y(data.y_train, X.shape[0], model.layers[-1].n_out)
    C = as_finite_array(getattr(data, "X_calib", X), "X_calib", allow_empty=False)
    _, acts = model.forward(C, return_activations=True)
    act_max = np.array([max(float(a.max()), 1e-8) for a in acts])

    def record(epoch, loss):
        q = _to_quantized(model, bits, per_channel, act_max, quantize_activations)
        hist["epoch"].append(epoch)
        hist["loss"].append(loss)
        hist["train_accuracy"].append(q.accuracy(X, y))
        hist["test_accuracy"].append(q.accuracy(data.X_test, data.y_test))
        return q

    hist = {k: [] for k in ("epoch", "loss", "train_accuracy", "test_accuracy")}
    loss0, _ = qat_loss_and_grads(model, X, y, bits=bits, per_channel=per_channel, act_max=act_max,
                                  quantize_activations=quantize_activations)
    q = record(0, loss0)
    params = [p for layer in model.layers for p in (layer.W, layer.b)]
    opt = make_optimizer(optimizer, params, lr)
    n_batches = -(-X.shape[0] // batch_size)
    step, n_steps = 0, max(epochs * n_batches, 1)
    for epoch in range(1, epochs + 1):
        total = 0.0
        for idx in minibatches(X.shape[0], batch_size, rng):
            opt.lr = lr * 0.5 * (1 + np.cos(np.pi * step / n_steps))  # cosine decay to 0: a stable end point
            step += 1
            Xb = X[idx]
            if quantize_activations:  # EMA of each layer input's batch maximum (Jacob et al. 2018)
                _, acts = model.forward_train(Xb, return_activations=True)
                act_max = EMA_MOMENTUM * act_max + (1 - EMA_MOMENTUM) * np.array(
                    [max(float(a.max()), 1e-8) for a in acts])
            logits, cache = _fq_forward(model, Xb, bits, per_channel, act_max, quantize_activations)
            loss, dlogits = softmax_cross_entropy(logits, y[idx])
            grads = _fq_backward(cache, dlogits)
            opt.step([g for pair in grads for g in pair])
            total += loss * idx.size
        q = record(epoch, total / X.shape[0])
        if callback is not None:
            callback(dict(epoch=epoch, epochs=epochs, loss=hist["loss"][-1],
                          test_accuracy=hist["test_accuracy"][-1]))
    out = QATModel(q.layers, mode=q.mode, bits=bits, per_channel=per_channel, calibration="qat-ema",
                   symmetric=True)
    out.float_model = model
    out.history = {k: np.array(v) for k, v in hist.items()}
    out.act_max = act_max
    return out


# ---------------------------------------------------------------------------------------------
# Shipped results: the lessons load these instead of training while a class waits.

QAT_RESULTS_FILE = DATA_DIR / "qat_results.npz"
#: The fine-tuning runs shipped in ``qlearn/data/qat_results.npz``: (bits, per_channel).
QAT_CONFIGS = ((4, False), (4, True), (2, False), (2, True))
#: Settings of the shipped runs (all start from :func:`qlearn.networks.nn.pretrained`).
QAT_TRAINING = dict(epochs=10, lr=3e-3, seed=0, batch_size=32)


def _key(bits, per_channel):
    return f"b{bits}_{'pc' if per_channel else 'pt'}"


def compute_qat_results(configs=QAT_CONFIGS, *, callback=None) -> dict:
    """Run :func:`qat_finetune` from the pretrained model for every ``(bits, per_channel)``.

    Returns a dict of arrays keyed ``b4_pt_test_accuracy``, ``b4_pt_W0``... (what
    :func:`save_qat_results` writes). ``callback(done, total)`` reports progress.
    """
    from qlearn.networks.data import load_digits
    from qlearn.networks.nn import pretrained

    data, model = load_digits(), pretrained()
    out = {}
    for k, (bits, pc) in enumerate(configs):
        r = qat_finetune(model, data, bits=bits, per_channel=pc, **QAT_TRAINING)
        key = _key(bits, pc)
        for name, v in r.history.items():
            out[f"{key}_{name}"] = v
        out[f"{key}_act_max"] = r.act_max
        for i, layer in enumerate(r.float_model.layers):
            out[f"{key}_W{i}"], out[f"{key}_b{i}"] = layer.W, layer.b
        if callback is not None:
            callback(k + 1, len(configs))
    return out


def save_qat_results(path=None) -> None:
    """Recompute the shipped QAT runs and write them (maintainers only)."""
    np.savez_compressed(QAT_RESULTS_FILE if path is None else path, **compute_qat_results())


def load_qat_results() -> dict:
    """The shipped QAT runs as a dict of arrays (see :func:`compute_qat_results`)."""
    with np.load(QAT_RESULTS_FILE) as f:
        return {k: f[k] for k in f.files}


def pretrained_qat(bits: int = 4, per_channel: bool = False) -> QATModel:
    """A shipped QAT model, rebuilt from its fine-tuned float weights and activation ranges.

    Introduced in lesson ``09_quantization_aware_training``.

    Examples
    --------
    >>> from qlearn.networks.data import load_digits
    >>> d = load_digits()
    >>> q2 = pretrained_qat(2, per_channel=True)
    >>> bool(q2.accuracy(d.X_test, d.y_test) == q2.history["test_accuracy"][-1])
    True
    """
    if (bits, per_channel) not in QAT_CONFIGS:
        raise ValueError(f"(bits, per_channel) must be one of {QAT_CONFIGS}, got {(bits, per_channel)}")
    r = load_qat_results()
    key = _key(bits, per_channel)
    n = len([k for k in r if k.startswith(f"{key}_W")])
    fm = MLP([Dense(r[f"{key}_W{i}"], r[f"{key}_b{i}"]) for i in range(n)])
    act_max = r[f"{key}_act_max"]
    q = _to_quantized(fm, bits, per_channel, act_max, True)
    out = QATModel(q.layers, mode=q.mode, bits=bits, per_channel=per_channel, calibration="qat-ema", symmetric=True)
    out.float_model, out.act_max = fm, act_max
    out.history = {name: r[f"{key}_{name}"] for name in ("epoch", "loss", "train_accuracy", "test_accuracy")}
    return out


# ---------------------------------------------------------------------------------------------
# Noise during training: does QAT's rounding act as a regularizer?

NOISE_STUDY_FILE = DATA_DIR / "qat_noise.npz"
NOISE_STUDY_SEEDS = (0, 1, 2, 3)
NOISE_STUDY_BITS = (16, 8, 4)


def noise_study(data=None, *, seeds=NOISE_STUDY_SEEDS, bits_list=NOISE_STUDY_BITS, callback=None) -> dict:
    """Fine-tune each seed's float model with the same QAT recipe at several widths; compare.

    Introduced in lesson ``09_quantization_aware_training``. 16-bit fake quantization is
    the control: the same optimiser, schedule and shuffling as the low-bit runs, with
    rounding noise about 2**-15 of each range, so any difference at 8 or 4 bits is the
    effect of the noise (plus chance, which the spread over seeds shows).

    Returns
    -------
    dict
        ``seeds``, ``bits``, ``float_accuracy`` (before fine-tuning), ``accuracy``
        (n_seeds, n_bits): test accuracy of the quantized model after :data:`QAT_TRAINING`.
    """
    from qlearn.networks.data import load_digits
    from qlearn.networks.nn import PRETRAINED_SIZES, PRETRAINED_TRAINING, train

    data = load_digits() if data is None else data
    seeds = [check_int(s, "seed", 0, 2**31) for s in seeds]
    bits_list = [check_int(b, "bits", MIN_BITS, MAX_BITS) for b in bits_list]
    settings = {k: v for k, v in PRETRAINED_TRAINING.items() if k != "seed"}
    f_acc, acc = [], []
    for k, seed in enumerate(seeds):
        base = train(PRETRAINED_SIZES, data, seed=seed, **settings)
        f_acc.append(base.accuracy(data.X_test, data.y_test))
        acc.append([qat_finetune(base, data, bits=b, **{**QAT_TRAINING, "seed": seed}).accuracy(
            data.X_test, data.y_test) for b in bits_list])
        if callback is not None:
            callback(k + 1, len(seeds))
    return dict(seeds=np.array(seeds), bits=np.array(bits_list), float_accuracy=np.array(f_acc),
                accuracy=np.array(acc))


def load_noise_study() -> dict:
    """The shipped :func:`noise_study` (defaults), from ``qlearn/data/qat_noise.npz``."""
    with np.load(NOISE_STUDY_FILE) as f:
        return {k: f[k] for k in f.files}


def save_noise_study() -> None:
    """Recompute and write the shipped study (maintainers only)."""
    np.savez_compressed(NOISE_STUDY_FILE, **noise_study())

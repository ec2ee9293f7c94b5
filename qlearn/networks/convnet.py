"""A small MobileNet-style network on the 8x8 digits: train it, fold its batch norms, quantize it.

Introduced in lesson ``15_convolutions_and_folding``. The network (Howard et al. 2017's
depthwise-separable pattern, at toy size), input ``(batch, 1, 8, 8)``:

- stem: 3x3 convolution 1 -> 8 channels, batch norm, ReLU6 (8x8);
- block 1: 3x3 depthwise, stride 2 (-> 4x4), batch norm, ReLU6; 1x1 pointwise 8 -> 16, batch norm, ReLU6;
- block 2: 3x3 depthwise, batch norm, ReLU6; 1x1 pointwise 16 -> 32, batch norm, ReLU6;
- global 4x4 average pooling, dense 32 -> 10 (logits).

:func:`pretrained` loads the shipped weights (``qlearn/data/convnet_digits.npz``), which
``train(load_digits(), **PRETRAINED_TRAINING)`` reproduces up to the last bits of the BLAS
summation order (test accuracy within ``RETRAIN_TOLERANCE``). :meth:`ConvNet.fold` folds
every batch norm into the convolution before it; :func:`quantize` converts the network to
integer codes and :class:`QuantizedConvNet` runs every convolution and the dense layer in
exact integer arithmetic, as :mod:`qlearn.networks.ptq` does for the MLP.

Same figures on every machine: evaluation uses fixed-order float sums (:mod:`qlearn.networks.conv`)
and exact integers; only training uses BLAS.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import numpy as np

from qlearn._validate import as_finite_array, check_int
from qlearn.networks import conv, nn, ptq
from qlearn.networks.batchnorm import BatchNorm, fold_batchnorm
from qlearn.ranges import affine, observers

DATA_DIR = Path(__file__).parents[1] / "data"
PRETRAINED_FILE = DATA_DIR / "convnet_digits.npz"
#: Channels of the stem, block 1 and block 2.
CHANNELS = (8, 16, 32)
#: How the shipped weights were trained: ``train(load_digits(), **PRETRAINED_TRAINING)``.
PRETRAINED_TRAINING = dict(channels=CHANNELS, epochs=32, lr=3e-3, batch_size=32, seed=0)
#: Retraining from the seed on another CPU reproduces the test accuracy within this (10 of 539 images;
#: seeds 0-3 give 509, 517, 512, 511 correct images: another summation order can drift like another seed).
RETRAIN_TOLERANCE = 10 / 539
IMAGE = (1, 8, 8)
#: Factor on the learning rate for the last quarter of training.
LR_DECAY = 0.1


class Conv:
    """A convolution layer: full (``groups=1``) or depthwise, with bias.

    ``W`` is ``(out, in, kh, kw)``, or ``(channels, 1, kh, kw)`` when ``depthwise``.
    """

    def __init__(self, W, b, *, stride: int = 1, padding: int = 0, depthwise: bool = False):
        self.W = as_finite_array(W, "W", allow_empty=False)
        self.b = as_finite_array(b, "b", allow_empty=False)
        if self.W.ndim != 4 or self.b.shape != (self.W.shape[0],):
            raise ValueError(f"W must be 4-D and b (out,): got {self.W.shape} and {self.b.shape}")
        if depthwise and self.W.shape[1] != 1:
            raise ValueError(f"a depthwise W must have shape (channels, 1, kh, kw), got {self.W.shape}")
        self.stride = check_int(stride, "stride", 1, conv.MAX_KERNEL)
        self.padding = check_int(padding, "padding", 0, conv.MAX_KERNEL)
        self.depthwise = bool(depthwise)

    @property
    def kind(self) -> str:
        """``'depthwise'``, ``'pointwise'`` (1x1) or ``'conv'``."""
        if self.depthwise:
            return "depthwise"
        return "pointwise" if self.W.shape[2:] == (1, 1) else "conv"

    def forward(self, x, *, train: bool = False):
        self._x = x if train else None
        f = conv.depthwise_conv2d if self.depthwise else conv.conv2d
        return f(x, self.W, self.b, stride=self.stride, padding=self.padding, fast=train)

    def backward(self, dy):
        f = conv.depthwise_conv2d_backward if self.depthwise else conv.conv2d_backward
        dx, dW, db = f(dy, self._x, self.W, stride=self.stride, padding=self.padding)
        self.grads = [dW, db]
        return dx

    def params(self):
        return [self.W, self.b]

    def spec(self):
        return dict(type="conv", stride=self.stride, padding=self.padding, depthwise=self.depthwise)

    def copy(self):
        return Conv(self.W.copy(), self.b.copy(), stride=self.stride, padding=self.padding, depthwise=self.depthwise)


class Linear:
    """The dense classifier ``X @ W.T + b`` (``W (out, in)``), on flattened features."""

    def __init__(self, W, b):
        layer = nn.Dense(W, b)
        self.W, self.b = layer.W, layer.b

    kind = "dense"

    def forward(self, x, *, train: bool = False):
        self._shape = x.shape
        x = x.reshape(x.shape[0], -1)
        self._x = x if train else None
        return (nn.train_matmul(x, self.W.T) if train else nn.fixed_order_matmul(x, self.W)) + self.b

    def backward(self, dy):
        self.grads = [nn.train_matmul(dy.T, self._x), dy.sum(axis=0)]
        return nn.train_matmul(dy, self.W).reshape(self._shape)

    def params(self):
        return [self.W, self.b]

    def spec(self):
        return dict(type="linear")

    def copy(self):
        return Linear(self.W.copy(), self.b.copy())


class ReLU6:
    """``min(max(x, 0), 6)``."""

    def forward(self, x, *, train: bool = False):
        self._x = x if train else None
        return conv.relu6(x)

    def backward(self, dy):
        return conv.relu6_backward(dy, self._x)

    def params(self):
        return []

    def spec(self):
        return dict(type="relu6")

    def copy(self):
        return ReLU6()


class AvgPool:
    """Average pooling over ``kernel x kernel`` windows (global when ``kernel`` is the image size)."""

    def __init__(self, kernel: int):
        self.kernel = check_int(kernel, "kernel", 1, conv.MAX_KERNEL)

    def forward(self, x, *, train: bool = False):
        self._shape = x.shape
        return conv.avg_pool2d(x, self.kernel)

    def backward(self, dy):
        return conv.avg_pool2d_backward(dy, self._shape, self.kernel)

    def params(self):
        return []

    def spec(self):
        return dict(type="avgpool", kernel=self.kernel)

    def copy(self):
        return AvgPool(self.kernel)


class _BN(BatchNorm):
    def spec(self):
        return dict(type="batchnorm", eps=self.eps, momentum=self.momentum)

    def copy(self):
        return _BN(self.gamma.copy(), self.beta.copy(), self.mean.copy(), self.var.copy(), self.eps, self.momentum)


def _check_images(X, name: str = "X") -> np.ndarray:
    X = as_finite_array(X, name, allow_empty=False)
    if X.ndim == 2 and X.shape[1] == int(np.prod(IMAGE)):
        X = X.reshape((-1,) + IMAGE)
    if X.ndim != 4 or X.shape[1:] != IMAGE:
        raise ValueError(f"{name} must have shape (batch, 64) or (batch, 1, 8, 8), got {X.shape}")
    return X


class ConvNet:
    """A sequence of layers (:class:`Conv`, batch norm, :class:`ReLU6`, :class:`AvgPool`, :class:`Linear`).

    Introduced in lesson ``15_convolutions_and_folding``. ``forward(X)`` evaluates (running
    batch-norm statistics, fixed-order sums: the same bits on every CPU);
    ``forward(X, train=True)`` is the training pass (batch statistics, BLAS).

    Examples
    --------
    >>> net = build((4, 8, 8), rng=np.random.default_rng(0))
    >>> [layer.kind for layer in net.quant_layers()]
    ['conv', 'depthwise', 'pointwise', 'depthwise', 'pointwise', 'dense']
    >>> net.forward(np.zeros((2, 64))).shape
    (2, 10)
    """

    def __init__(self, layers):
        self.layers = list(layers)
        if not self.layers:
            raise ValueError("layers is empty")

    def quant_layers(self) -> list:
        """The layers with weights (convolutions and the dense layer), in order."""
        return [layer for layer in self.layers if isinstance(layer, (Conv, Linear))]

    @property
    def folded(self) -> bool:
        return not any(isinstance(layer, BatchNorm) for layer in self.layers)

    @property
    def n_params(self) -> int:
        return int(sum(p.size for layer in self.layers for p in layer.params()))

    def forward(self, X, *, train: bool = False, return_inputs: bool = False):
        """Logits ``(batch, 10)``; with ``return_inputs``, also every weight layer's input."""
        h = _check_images(X)
        inputs = []
        for layer in self.layers:
            if isinstance(layer, (Conv, Linear)):
                inputs.append(h)
            h = layer.forward(h, train=train)
        return (h, inputs) if return_inputs else h

    __call__ = forward

    def backward(self, dlogits) -> list:
        """Backprop through every layer (after ``forward(X, train=True)``); gradients in :meth:`params` order."""
        d = dlogits
        for layer in reversed(self.layers):
            d = layer.backward(d)
        return [g for layer in self.layers if layer.params() for g in layer.grads]

    def params(self) -> list:
        return [p for layer in self.layers for p in layer.params()]

    def loss_and_grads(self, X, y):
        """Softmax cross-entropy on a training batch and the gradient of every parameter."""
        logits = self.forward(X, train=True)
        y = nn._check_y(y, logits.shape[0], logits.shape[1])
        loss, dlogits = nn.softmax_cross_entropy(logits, y)
        return loss, self.backward(dlogits)

    def predict(self, X) -> np.ndarray:
        return np.argmax(self.forward(X), axis=1)

    def accuracy(self, X, y) -> float:
        X = _check_images(X)
        y = nn._check_y(y, X.shape[0], 10)
        return float(np.mean(self.predict(X) == y))

    def copy(self) -> ConvNet:
        return ConvNet([layer.copy() for layer in self.layers])

    def fold(self) -> ConvNet:
        """A copy with every batch norm folded into the convolution before it (:func:`fold_batchnorm`)."""
        out = []
        for layer in self.layers:
            if isinstance(layer, BatchNorm):
                prev = out[-1] if out else None
                if not isinstance(prev, Conv):
                    raise ValueError("a batch norm can only be folded into a Conv right before it")
                W, b = fold_batchnorm(prev.W, prev.b, layer.gamma, layer.beta, layer.mean, layer.var, eps=layer.eps)
                out[-1] = Conv(W, b, stride=prev.stride, padding=prev.padding, depthwise=prev.depthwise)
            else:
                out.append(layer.copy())
        return ConvNet(out)

    def save(self, path) -> None:
        """Write the layers and their arrays to an ``.npz`` file."""
        arrays = {"spec": np.array(json.dumps([layer.spec() for layer in self.layers]))}
        for i, layer in enumerate(self.layers):
            if isinstance(layer, BatchNorm):
                for k in ("gamma", "beta", "mean", "var"):
                    arrays[f"{i}_{k}"] = getattr(layer, k)
            elif layer.params():
                arrays[f"{i}_W"], arrays[f"{i}_b"] = layer.W, layer.b
        np.savez_compressed(path, **arrays)

    def __repr__(self):
        kinds = [getattr(layer, "kind", type(layer).__name__.strip("_").lower()) for layer in self.layers]
        return f"ConvNet({' > '.join(kinds)}, n_params={self.n_params})"


def load(path) -> ConvNet:
    """Read a network written by :meth:`ConvNet.save`."""
    with np.load(path) as f:
        spec = json.loads(str(f["spec"]))
        layers = []
        for i, s in enumerate(spec):
            t = s["type"]
            if t == "conv":
                layers.append(Conv(f[f"{i}_W"], f[f"{i}_b"], stride=s["stride"], padding=s["padding"],
                                   depthwise=s["depthwise"]))
            elif t == "linear":
                layers.append(Linear(f[f"{i}_W"], f[f"{i}_b"]))
            elif t == "batchnorm":
                layers.append(_BN(f[f"{i}_gamma"], f[f"{i}_beta"], f[f"{i}_mean"], f[f"{i}_var"], s["eps"],
                                  s["momentum"]))
            elif t == "relu6":
                layers.append(ReLU6())
            elif t == "avgpool":
                layers.append(AvgPool(s["kernel"]))
            else:
                raise ValueError(f"unknown layer type {t!r} in {path}")
    return ConvNet(layers)


def build(channels=CHANNELS, *, rng: np.random.Generator) -> ConvNet:
    """The MobileNet-style network with He-initialised weights (``N(0, 2 / fan_in)``), zero biases.

    ``channels = (stem, block 1, block 2)`` output channels.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator (np.random.default_rng(seed))")
    channels = tuple(channels)
    if len(channels) != 3:
        raise ValueError(f"channels must be (stem, block1, block2), got {channels}")
    c0, c1, c2 = (check_int(c, "channels[i]", 1, 1024) for c in channels)

    def he(shape, fan_in):
        return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape)

    def cbr(W, stride, padding, depthwise=False):
        return [Conv(W, np.zeros(W.shape[0]), stride=stride, padding=padding, depthwise=depthwise),
                _BN(np.ones(W.shape[0]), np.zeros(W.shape[0]), np.zeros(W.shape[0]), np.ones(W.shape[0])), ReLU6()]

    layers = cbr(he((c0, 1, 3, 3), 9), 1, 1)
    layers += cbr(he((c0, 1, 3, 3), 9), 2, 1, depthwise=True) + cbr(he((c1, c0, 1, 1), c0), 1, 0)
    layers += cbr(he((c1, 1, 3, 3), 9), 1, 1, depthwise=True) + cbr(he((c2, c1, 1, 1), c1), 1, 0)
    layers += [AvgPool(4), Linear(he((10, c2), c2), np.zeros(10))]
    return ConvNet(layers)


def train(data, *, channels=CHANNELS, epochs: int = 32, lr: float = 3e-3, batch_size: int = 32, seed: int = 0,
          callback=None) -> ConvNet:
    """Train the network from ``seed`` with Adam on softmax cross-entropy (``data``:
    :func:`qlearn.networks.data.load_digits`).

    The learning rate drops to ``lr * LR_DECAY`` for the last quarter of the epochs.

    ``seed`` drives the initialisation and the shuffling. ``callback(dict)`` is called after
    every epoch with ``epoch``, ``loss`` and ``model``. About 25 s for the shipped settings
    on the 2-core machine the course was written on (``benchmarks/bench_convnet.py --train`` times it).
    """
    epochs, lr, batch_size, seed = nn.check_training_args(data, epochs, lr, batch_size, seed)
    rng = np.random.default_rng(seed)
    model = build(channels, rng=rng)
    X = _check_images(data.X_train)
    y = nn._check_y(data.y_train, X.shape[0], 10)
    opt = nn.Adam(model.params(), lr)
    for epoch in range(1, epochs + 1):
        opt.lr = lr if epoch <= int(0.75 * epochs) else lr * LR_DECAY
        total = 0.0
        for idx in nn.minibatches(X.shape[0], batch_size, rng):
            if idx.size < 2:  # a batch of one has no batch variance
                continue
            loss, grads = model.loss_and_grads(X[idx], y[idx])
            opt.step(grads)
            total += loss * idx.size
        if callback is not None:
            callback(dict(epoch=epoch, epochs=epochs, loss=total / X.shape[0], model=model))
    return model


def pretrained() -> ConvNet:
    """The shipped trained network (batch norms not folded). A fresh copy on every call.

    Examples
    --------
    >>> from qlearn.networks.data import load_digits
    >>> d = load_digits()
    >>> net = pretrained()
    >>> net.accuracy(d.X_test, d.y_test) > 0.9
    True
    """
    return load(PRETRAINED_FILE)


def channel_ranges(W) -> np.ndarray:
    """``max |W|`` of every output channel (axis 0), over all other axes.

    Examples
    --------
    >>> channel_ranges(np.array([[[[1.0, -3.0]]], [[[0.5, 0.25]]]]))
    array([3. , 0.5])
    """
    W = as_finite_array(W, "W", allow_empty=False)
    return np.abs(W).reshape(W.shape[0], -1).max(axis=1)


def levels_used(W, *, bits: int = 8, per_channel: bool = False) -> np.ndarray:
    """How many of the ``2 (2**(bits-1) - 1) + 1`` symmetric narrow-range levels each output channel's codes span.

    With one scale per tensor, channel ``c`` spans codes ``-m_c..m_c`` with
    ``m_c = round(r_c / s)``: ``2 m_c + 1`` levels; per channel, every channel spans all.

    Examples
    --------
    >>> W = np.array([[1.0, -1.0], [0.1, 0.0]])
    >>> levels_used(W, bits=8), levels_used(W, bits=8, per_channel=True)
    (array([255,  27]), array([255, 255]))
    """
    W = as_finite_array(W, "W", allow_empty=False)
    qp = affine.minmax_qparams(W, bits=check_int(bits, "bits", 2, 16), symmetric=True, signed=True,
                               narrow_range=True, axis=0 if per_channel else None)
    q = affine.quantize(W, qp).reshape(W.shape[0], -1)
    m = np.abs(q).max(axis=1)
    return 2 * m + 1


class QLayer:
    """One weight layer after quantization: codes, parameters, and its place in the network."""

    def __init__(self, layer, W_q, W_qp, act_qp, b_q, bias_qp):
        self.layer, self.W_q, self.W_qp, self.act_qp, self.b_q, self.bias_qp = layer, W_q, W_qp, act_qp, b_q, bias_qp

    def forward(self, x, *, train: bool = False):
        """Quantize ``x``, run the layer in int64, add the int32 bias, rescale by ``s_x s_w``."""
        qx = affine.quantize(x, self.act_qp) - self.act_qp.zero_point
        L = self.layer
        if isinstance(L, Linear):
            acc = qx.reshape(qx.shape[0], -1) @ self.W_q.T + self.b_q
            return acc * self.bias_qp.scale
        f = conv.depthwise_conv2d_int if L.depthwise else conv.conv2d_int
        acc = f(qx, self.W_q, stride=L.stride, padding=L.padding) + self.b_q[None, :, None, None]
        return acc * np.reshape(self.bias_qp.scale, (1, -1, 1, 1))


class QuantizedConvNet:
    """A :class:`ConvNet` whose weight layers run in exact integer arithmetic (:func:`quantize`)."""

    def __init__(self, layers, *, weight_bits, act_bits, per_channel):
        self.layers = list(layers)
        self.weight_bits, self.act_bits, self.per_channel = weight_bits, act_bits, per_channel

    def forward(self, X) -> np.ndarray:
        h = _check_images(X)
        for layer in self.layers:
            h = layer.forward(h)
        return h

    __call__ = forward

    def predict(self, X) -> np.ndarray:
        return np.argmax(self.forward(X), axis=1)

    def accuracy(self, X, y) -> float:
        X = _check_images(X)
        y = nn._check_y(y, X.shape[0], 10)
        return float(np.mean(self.predict(X) == y))

    def __repr__(self):
        pc = self.per_channel if isinstance(self.per_channel, list) else (
            "per-channel" if self.per_channel else "per-tensor")
        return f"QuantizedConvNet(W{self.weight_bits}A{self.act_bits}, {pc})"


def quantize(model: ConvNet, calib_data, *, weight_bits=8, act_bits: int = 8,
             per_channel=False, calibration: str = "minmax", calibration_options=None) -> QuantizedConvNet:
    """Post-training quantization of a :class:`ConvNet` (fold it first to quantize the folded weights).

    Introduced in lesson ``15_convolutions_and_folding``. Every convolution and the dense
    layer: symmetric narrow-range weight codes at ``weight_bits`` (one scale, or one per
    output channel: axis 0 of ``W``), the layer's input at ``act_bits`` with a min/max scale
    calibrated on ``calib_data`` (symmetric: unsigned when the input is never negative),
    int32 biases at scale ``s_x s_w``. A batch norm left in the network (not folded) stays
    float, as do ReLU6 and pooling. Weight layers run in exact integers.

    ``calibration`` chooses how each activation range is found (``qlearn.networks.ptq.CALIBRATIONS``:
    min/max by default, or a percentile, MSE or KL-divergence (entropy) observer, lesson 04);
    ``calibration_options`` (a dict) go to that observer (e.g. ``{"zero_bin": "flatten"}``).

    ``weight_bits`` and ``per_channel`` may also be lists with one entry per weight layer
    (:meth:`ConvNet.quant_layers`), to find which layer a setting hurts (:func:`layer_sensitivity`).

    Examples
    --------
    >>> from qlearn.networks.data import load_digits
    >>> d = load_digits()
    >>> q = quantize(pretrained().fold(), d.X_calib, weight_bits=8, per_channel=True)
    >>> q, q.accuracy(d.X_test, d.y_test) > 0.9
    (QuantizedConvNet(W8A8, per-channel), True)
    """
    if not isinstance(model, ConvNet):
        raise TypeError(f"model must be a qlearn.networks.convnet.ConvNet, got {type(model).__name__}")
    n = len(model.quant_layers())
    wbits = list(weight_bits) if isinstance(weight_bits, (list, tuple)) else [weight_bits] * n
    pcs = list(per_channel) if isinstance(per_channel, (list, tuple)) else [per_channel] * n
    if len(wbits) != n or len(pcs) != n:
        raise ValueError(f"weight_bits and per_channel must be single values or lists of {n} (one per weight layer)")
    wbits = [check_int(b, "weight_bits", ptq.MIN_BITS, ptq.MAX_BITS) for b in wbits]
    pcs = [bool(p) for p in pcs]
    act_bits = check_int(act_bits, "act_bits", ptq.MIN_BITS, ptq.MAX_BITS)
    if calibration not in ptq.CALIBRATIONS:
        raise ValueError(f"calibration must be one of {ptq.CALIBRATIONS}, got {calibration!r}")
    if calibration_options is not None and not isinstance(calibration_options, dict):
        raise TypeError(f"calibration_options must be a dict or None, got {type(calibration_options).__name__}")
    options = dict(calibration_options or {})
    C = _check_images(calib_data, "calib_data")
    _, inputs = model.forward(C, return_inputs=True)
    out, k = [], 0
    bqmin, bqmax = affine.qrange(ptq.BIAS_BITS)
    for layer in model.layers:
        if not isinstance(layer, (Conv, Linear)):
            out.append(layer.copy())
            continue
        a, bits, pc = inputs[k], wbits[k], pcs[k]
        k += 1
        act_qp = observers.calibrate(a, method=calibration, bits=act_bits, symmetric=True, signed=bool(a.min() < 0),
                                     **options)
        W_qp = affine.minmax_qparams(layer.W, bits=bits, symmetric=True, signed=True, narrow_range=True,
                                     axis=0 if pc else None)
        W_q = affine.quantize(layer.W, W_qp)
        s = np.asarray(W_qp.scale) * act_qp.scale
        if pc:
            bias_qp = affine.QParams(s, np.zeros(s.size, np.int64), bqmin, bqmax, axis=0)
        else:
            bias_qp = affine.QParams(float(s), 0, bqmin, bqmax)
        b_q = affine.quantize(layer.b, bias_qp)
        out.append(QLayer(layer, W_q, W_qp, act_qp, b_q, bias_qp))
    return QuantizedConvNet(out, weight_bits=weight_bits, act_bits=act_bits, per_channel=per_channel)


def layer_sensitivity(model: ConvNet, data, *, bits: int = 4, per_channel: bool = False) -> np.ndarray:
    """Test accuracy with one weight layer at ``bits`` (``per_channel`` or not), the others at 8 bits per-channel.

    Introduced in lesson ``15_convolutions_and_folding``: which layer a per-tensor scale hurts.
    Entry ``i`` is for weight layer ``i`` (:meth:`ConvNet.quant_layers`); activations 8 bits.
    """
    n = len(model.quant_layers())
    out = []
    for i in range(n):
        wb = [8] * n
        pc = [True] * n
        wb[i], pc[i] = bits, per_channel
        q = quantize(model, data.X_calib, weight_bits=wb, per_channel=pc)
        out.append(q.accuracy(data.X_test, data.y_test))
    return np.array(out)


def layer_input_rows(model: ConvNet, images, index: int) -> np.ndarray:
    """The input of weight layer ``index`` on ``images``, one row per pixel: ``(images x H x W, channels)``.

    For a 1 x 1 (pointwise) convolution this is its im2col matrix: the layer is then a dense layer
    on these rows (lesson 15, folding during training).
    """
    n = len(model.quant_layers())
    index = check_int(index, "index", 0, n - 1)
    if not isinstance(model.quant_layers()[index], Conv):
        raise ValueError(f"weight layer {index} is not a convolution (it is the dense layer)")
    a = model.forward(images, return_inputs=True)[1][index]
    return a.transpose(0, 2, 3, 1).reshape(-1, a.shape[1])


class GEMM(NamedTuple):
    """One weight layer as matrix products (im2col): ``groups`` products ``(rows, K) @ (K, N)`` per image."""

    kind: str
    rows: int
    K: int
    N: int
    groups: int

    @property
    def macs(self) -> int:
        """Multiply-accumulates per image."""
        return self.rows * self.K * self.N * self.groups


def gemm_shapes(model: ConvNet, image=IMAGE) -> list[GEMM]:
    """Every weight layer of ``model`` as the matrix products a matrix unit runs (lessons 12-13).

    Introduced in lesson ``13_tpu_v1_capstone``. im2col turns a convolution into one product:
    ``rows`` = output positions per image, ``K`` = ``C_in kh kw`` (one patch), ``N`` = output
    channels. A depthwise convolution has no sum over channels: it is ``C`` separate
    products with ``K = kh kw`` and ``N = 1``. The dense layer is ``rows = 1``.

    Examples
    --------
    >>> [tuple(g) for g in gemm_shapes(pretrained())][:3]
    [('conv', 64, 9, 8, 1), ('depthwise', 16, 9, 1, 8), ('pointwise', 16, 8, 16, 1)]
    """
    if not isinstance(model, ConvNet):
        raise TypeError(f"model must be a qlearn.networks.convnet.ConvNet, got {type(model).__name__}")
    _, h, w = (check_int(v, "image[i]", 1, 4096) for v in image)
    out = []
    for layer in model.layers:
        if isinstance(layer, Conv):
            co, ci, kh, kw = layer.W.shape
            h = conv.output_size(h, kh, layer.stride, layer.padding, name="image height")
            w = conv.output_size(w, kw, layer.stride, layer.padding, name="image width")
            if layer.depthwise:
                out.append(GEMM("depthwise", h * w, kh * kw, 1, co))
            else:
                out.append(GEMM(layer.kind, h * w, ci * kh * kw, co, 1))
        elif isinstance(layer, AvgPool):
            h, w = h // layer.kernel, w // layer.kernel
        elif isinstance(layer, Linear):
            out.append(GEMM("dense", 1, layer.W.shape[1], layer.W.shape[0], 1))
    return out


#: The calibrators of :func:`calibration_table`: lesson 04's four, and KL with the zero bin flattened.
TABLE_CALIBRATIONS = ptq.CALIBRATIONS + ("entropy_flat",)


def calibration_table(model: ConvNet | None = None, data=None, *, weight_bits: int = 8, act_bits: int = 8,
                      calibrations=TABLE_CALIBRATIONS) -> dict:
    """Test accuracy of the folded network for each activation calibrator, per-tensor and per-channel weights.

    Introduced in lesson ``13_tpu_v1_capstone``. ``'entropy_flat'`` is KL calibration with
    ``zero_bin='flatten'`` (:class:`qlearn.ranges.observers.EntropyObserver`). Keys ``(calibration, per_channel)``; plus
    ``'float'`` and ``'ranges'``: for each weight layer's input, ``max|x|`` on the calibration
    images, the share of exact zeros, and the clipping threshold each calibrator chose
    (``scale * qmax``). Integer layers: the same result on every CPU.
    """
    from qlearn.networks.data import load_digits

    model = pretrained() if model is None else model
    data = load_digits() if data is None else data
    folded = model.fold()
    table = {"float": folded.accuracy(data.X_test, data.y_test)}
    for cal in calibrations:
        method, opts = (("entropy", {"zero_bin": "flatten"}) if cal == "entropy_flat" else (cal, None))
        for pc in (False, True):
            q = quantize(folded, data.X_calib, weight_bits=weight_bits, act_bits=act_bits, per_channel=pc,
                         calibration=method, calibration_options=opts)
            table[cal, pc] = q.accuracy(data.X_test, data.y_test)
            if not pc:
                table.setdefault("ranges", {})[cal] = [float(np.asarray(L.act_qp.scale) * L.act_qp.qmax)
                                                       for L in q.layers if isinstance(L, QLayer)]
    _, inputs = folded.forward(_check_images(data.X_calib), return_inputs=True)
    table["max_abs"] = [float(np.abs(a).max()) for a in inputs]
    table["zero_share"] = [float(np.mean(a == 0)) for a in inputs]
    return table


CALIBRATION_NAMES = {"minmax": "min/max", "percentile": "percentile (99.99th)", "mse": "MSE",
                     "entropy": "KL (zero bin kept)", "entropy_flat": "KL (zero bin flattened)"}


def format_calibration_table(table: dict, *, n_test: int = 539) -> str:
    """:func:`calibration_table` as two HTML tables: accuracy per calibrator, and each layer's clip."""
    import html

    cals = [c for c in CALIBRATION_NAMES if (c, False) in table]
    out = ["<table><tr><th>activation calibrator</th><th>per-tensor weights</th><th>per-channel weights</th></tr>"]
    for c in cals:
        cells = [f"{100 * table[c, pc]:.1f}% ({round(table[c, pc] * n_test)} of {n_test})" for pc in (False, True)]
        out.append(f"<tr><td>{html.escape(CALIBRATION_NAMES[c])}</td><td>{cells[0]}</td><td>{cells[1]}</td></tr>")
    out.append(f"<tr><td>float (no quantization)</td><td colspan='2'>{100 * table['float']:.1f}% "
               f"({round(table['float'] * n_test)} of {n_test})</td></tr></table>")
    n = len(table["max_abs"])
    out.append("<table><tr><th>input of weight layer</th><th>max |x|</th><th>exact zeros</th>"
               + "".join(f"<th>clip: {html.escape(CALIBRATION_NAMES[c])}</th>" for c in cals) + "</tr>")
    for i in range(n):
        clips = "".join(f"<td>{table['ranges'][c][i]:.2f}</td>" for c in cals)
        out.append(f"<tr><td>{i}</td><td>{table['max_abs'][i]:.2f}</td><td>{100 * table['zero_share'][i]:.0f}%</td>"
                   f"{clips}</tr>")
    return "\n".join(out) + "</table>"


#: Weight bit widths of :func:`accuracy_table`.
TABLE_BITS = (8, 6, 4)


def accuracy_table(model: ConvNet | None = None, data=None, *, bits_list=TABLE_BITS, act_bits: int = 8) -> dict:
    """Test accuracy of the network in float and quantized, folded and not, per-tensor and per-channel.

    Introduced in lesson ``15_convolutions_and_folding``.

    Returns
    -------
    dict
        ``float``: the unfolded float network; ``float_folded``: after folding;
        ``(folded, per_channel, bits)`` for ``folded`` and ``per_channel`` in (False, True)
        and ``bits`` in ``bits_list``: integer weight layers with ``bits``-bit weights and
        ``act_bits``-bit activations (unfolded: batch norms stay float after the integer convolution).
        Every value is computed on paths that give the same result on every CPU.
    """
    from qlearn.networks.data import load_digits

    model = pretrained() if model is None else model
    data = load_digits() if data is None else data
    folded = model.fold()
    table = {"float": model.accuracy(data.X_test, data.y_test),
             "float_folded": folded.accuracy(data.X_test, data.y_test)}
    for is_folded, net in ((False, model), (True, folded)):
        for pc in (False, True):
            for b in bits_list:
                q = quantize(net, data.X_calib, weight_bits=b, act_bits=act_bits, per_channel=pc)
                table[is_folded, pc, int(b)] = q.accuracy(data.X_test, data.y_test)
    return table

"""A small numpy MLP: the one network lessons 07-13 quantize, fine-tune and run in integers.

Introduced in lesson ``07_per_channel``. Everything is written out in numpy (forward,
softmax cross-entropy, backprop, SGD/Adam) so that every step a quantizer changes is
visible. Vocabulary: ``W`` weights ``(out, in)``, ``b`` biases ``(out,)``, ``X``
activations ``(batch, in)``; ``forward`` returns logits ``(batch, 10)``.

The course's network is 64-64-32-10 with ReLU between layers, trained on
:func:`qlearn.networks.data.load_digits`; :func:`pretrained` loads the shipped float weights
(``qlearn/data/mlp_digits.npz``), which ``train(PRETRAINED_SIZES, load_digits(),
**PRETRAINED_TRAINING)`` reproduces (up to the last bits of the BLAS summation order).

Same figures on every machine
-----------------------------
A float BLAS matmul (``X @ W.T``) sums its products in an order chosen by the CPU's
kernel (AVX2, AVX-512, ARM, thread count): the last bits differ from machine to
machine, enough to flip a borderline argmax or a fake-quantized activation that sits
on a rounding boundary. Every *evaluation* here (``forward``, ``predict``,
``accuracy``, the activations calibration reads) therefore uses
:func:`fixed_order_matmul`, whose summation order is fixed by this code: only
elementwise multiplies and adds, each correctly rounded by IEEE 754 on every CPU.
*Training* (``loss_and_grads``, ``train``) keeps the fast BLAS product
(:data:`train_matmul`): trained weights differ in their last bits between machines,
so figures that depend on a training run are stated with a tolerance; the shipped
weights, once loaded, evaluate identically everywhere.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qlearn._validate import as_finite_array, check_int, check_positive

DATA_DIR = Path(__file__).parents[1] / "data"


def fixed_order_matmul(X, W) -> np.ndarray:
    """``X @ W.T`` summed in a fixed order, the same on every CPU.

    Introduced in lesson ``07_per_channel`` (every figure of lessons 07-13 is evaluated with it).

    Parameters
    ----------
    X : ndarray (batch, in)
    W : ndarray (out, in)

    Returns
    -------
    ndarray (batch, out)
        ``((X[:, 0] W[:, 0] + X[:, 1] W[:, 1]) + X[:, 2] W[:, 2]) + ...``: the products
        added left to right over ``in``.

    Notes
    -----
    Each step is one elementwise ``numpy.multiply`` and one ``numpy.add`` on whole
    ``(batch, out)`` arrays. Elementwise IEEE 754 operations are correctly rounded, so
    SIMD width does not change them (numpy's ``loops_arithm_fp.dispatch.c.src`` applies
    the same ``add``/``mul`` lane by lane), and no reduction is involved whose blocking
    could depend on the kernel. A BLAS ``X @ W.T`` (and ``einsum``, which may call it)
    chooses its blocking and FMA use per CPU. Cost: ``in`` passes over a
    ``(batch, out)`` array: about 7 ms for the 1258 training images through the first
    layer on the 2-core machine the course was written on, several times a BLAS product
    (``benchmarks/bench_model_table.py`` prints both on yours).

    Examples
    --------
    >>> X = np.array([[1.0, 1e16, -1e16]])
    >>> fixed_order_matmul(X, np.ones((1, 3)))   # (1 + 1e16) - 1e16: the 1 is lost, always
    array([[0.]])
    >>> fixed_order_matmul(np.array([[1.0, 2.0]]), np.array([[3.0, 4.0], [5.0, 6.0]]))
    array([[11., 17.]])
    """
    X = np.asarray(X, dtype=np.float64)
    WT = np.ascontiguousarray(np.asarray(W, dtype=np.float64).T)
    if X.ndim != 2 or WT.ndim != 2 or X.shape[1] != WT.shape[0]:
        raise ValueError(f"X (batch, in) and W (out, in) must agree on in: got {X.shape} and {WT.T.shape}")
    acc = X[:, 0:1] * WT[0]
    if WT.shape[0] > 1:
        tmp = np.empty_like(acc)
        for k in range(1, WT.shape[0]):
            np.multiply(X[:, k:k + 1], WT[k], out=tmp)
            acc += tmp
    return acc


#: The matrix product training uses (``A @ B``, float BLAS: fast, last bits machine-dependent).
#: Evaluation never calls it; ``tests/test_portability.py`` swaps it for a different summation order.
train_matmul = np.matmul

PRETRAINED_FILE = DATA_DIR / "mlp_digits.npz"
#: Layer widths of the course network: 64 pixels in, 10 digit classes out.
PRETRAINED_SIZES = (64, 64, 32, 10)
#: How the shipped weights were trained (``train(PRETRAINED_SIZES, load_digits(), **PRETRAINED_TRAINING)``).
PRETRAINED_TRAINING = dict(epochs=30, lr=3e-3, batch_size=32, seed=0, optimizer="adam")
OPTIMIZERS = ("sgd", "adam")


@dataclass(eq=False)
class Dense:
    """A fully connected layer ``X @ W.T + b`` with ``W`` of shape ``(out, in)``.

    Examples
    --------
    >>> layer = Dense(np.array([[1.0, 2.0], [0.0, -1.0], [0.5, 0.5]]), np.zeros(3))
    >>> layer.forward(np.array([[1.0, 1.0]]))
    array([[ 3., -1.,  1.]])
    """

    W: np.ndarray
    b: np.ndarray

    def __post_init__(self):
        self.W = as_finite_array(self.W, "W", allow_empty=False)
        self.b = as_finite_array(self.b, "b", allow_empty=False)
        if self.W.ndim != 2:
            raise ValueError(f"W must be 2-D (out, in), got shape {self.W.shape}")
        if self.b.shape != (self.W.shape[0],):
            raise ValueError(f"b must have shape (out,) = ({self.W.shape[0]},), got {self.b.shape}")

    @property
    def n_in(self) -> int:
        return self.W.shape[1]

    @property
    def n_out(self) -> int:
        return self.W.shape[0]

    def forward(self, X) -> np.ndarray:
        """``X @ W.T + b``, summed in a fixed order (:func:`fixed_order_matmul`)."""
        return fixed_order_matmul(X, self.W) + self.b

    def copy(self) -> Dense:
        return Dense(self.W.copy(), self.b.copy())


def relu(z):
    """``max(z, 0)`` elementwise."""
    return np.maximum(z, 0.0)


def softmax(logits) -> np.ndarray:
    """Row-wise softmax, computed stably (the row maximum is subtracted first)."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def softmax_cross_entropy(logits, y) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of ``softmax(logits)`` against labels ``y`` and its gradient.

    Returns
    -------
    loss : float
        ``-mean(log softmax(logits)[i, y_i])``.
    dlogits : ndarray
        ``(softmax(logits) - onehot(y)) / batch``: the gradient of ``loss`` with respect to ``logits``.

    Examples
    --------
    >>> loss, g = softmax_cross_entropy(np.zeros((1, 4)), np.array([2]))
    >>> round(loss, 6) == round(float(np.log(4)), 6)
    True
    >>> g
    array([[ 0.25,  0.25, -0.75,  0.25]])
    """
    n = logits.shape[0]
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    loss = -float(logp[np.arange(n), y].mean())
    d = np.exp(logp)
    d[np.arange(n), y] -= 1.0
    return loss, d / n


def _check_X(X, n_in: int) -> np.ndarray:
    X = as_finite_array(X, "X", allow_empty=False)
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2 or X.shape[1] != n_in:
        raise ValueError(f"X must have shape (batch, {n_in}), got {X.shape}")
    return X


def _check_y(y, n: int, n_classes: int) -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (n,):
        raise ValueError(f"y must have shape ({n},) to match X, got {y.shape}")
    if y.dtype.kind not in "iu":
        raise ValueError(f"y must hold integer class labels, got dtype {y.dtype}")
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"y must hold labels in [0, {n_classes - 1}]")
    return y.astype(np.int64)


class MLP:
    """A stack of :class:`Dense` layers with ReLU between them (none after the last).

    Introduced in lesson ``07_per_channel``.

    Parameters
    ----------
    layers : list of Dense
        Consecutive layers must agree: ``layers[i].n_out == layers[i + 1].n_in``.

    Examples
    --------
    >>> model = init_mlp((4, 3, 2), rng=np.random.default_rng(0))
    >>> model.sizes, model.n_params
    ((4, 3, 2), 23)
    >>> model.size_bytes(32), model.size_bytes(8), model.size_bytes(1)
    (92, 23, 3)
    """

    def __init__(self, layers):
        layers = list(layers)
        if not layers:
            raise ValueError("layers is empty: an MLP needs at least one Dense layer")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Dense):
                raise TypeError(f"layers[{i}] must be a Dense, got {type(layer).__name__}")
        for i in range(len(layers) - 1):
            if layers[i].n_out != layers[i + 1].n_in:
                raise ValueError(
                    f"layers[{i}] has {layers[i].n_out} outputs but layers[{i + 1}] expects {layers[i + 1].n_in} inputs"
                )
        self.layers = layers

    @property
    def sizes(self) -> tuple:
        return (self.layers[0].n_in,) + tuple(layer.n_out for layer in self.layers)

    @property
    def n_params(self) -> int:
        """Number of weights and biases."""
        return int(sum(layer.W.size + layer.b.size for layer in self.layers))

    def size_bytes(self, bits: int = 32) -> int:
        """Bytes to store every parameter with ``bits`` bits (rounded up to whole bytes)."""
        bits = check_int(bits, "bits", 1, 64)
        return -(-self.n_params * bits // 8)

    def copy(self) -> MLP:
        return MLP([layer.copy() for layer in self.layers])

    def forward(self, X, *, return_activations: bool = False):
        """Logits ``(batch, n_classes)``; with ``return_activations``, also each layer's input.

        Evaluated with :func:`fixed_order_matmul`: the same bits on every CPU.

        Returns
        -------
        logits : ndarray
        activations : list of ndarray, only if ``return_activations``
            ``activations[i]`` is the input of ``layers[i]`` (``activations[0]`` is ``X``).
        """
        h = _check_X(X, self.layers[0].n_in)
        return self._run(h, lambda a, layer: fixed_order_matmul(a, layer.W) + layer.b, return_activations)

    def _run(self, h, linear, return_activations):
        acts = []
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            acts.append(h)
            h = linear(h, layer)
            if i < last:
                h = relu(h)
        return (h, acts) if return_activations else h

    def forward_train(self, X, *, return_activations: bool = False):
        """:meth:`forward` with the BLAS product :data:`train_matmul`: fast, for training only."""
        h = _check_X(X, self.layers[0].n_in)
        return self._run(h, lambda a, layer: train_matmul(a, layer.W.T) + layer.b, return_activations)

    __call__ = forward

    def predict(self, X) -> np.ndarray:
        """The predicted class of each row of ``X``."""
        return np.argmax(self.forward(X), axis=1)

    def accuracy(self, X, y) -> float:
        """Fraction of rows of ``X`` whose predicted class is ``y``."""
        X = _check_X(X, self.layers[0].n_in)
        y = _check_y(y, X.shape[0], self.layers[-1].n_out)
        return float(np.mean(self.predict(X) == y))

    def backward(self, activations, dlogits) -> list[tuple[np.ndarray, np.ndarray]]:
        """Backprop ``dlogits`` through the network: ``[(dW, db), ...]`` one pair a layer.

        ``activations`` are the layer inputs from ``forward(X, return_activations=True)``.

        Notes
        -----
        For ``z = a @ W.T + b``: ``dW = dz.T @ a``, ``db = sum(dz)``, ``da = dz @ W``;
        through the ReLU that produced ``a``, ``dz_prev = da * (a > 0)``.
        """
        grads = []
        dz = np.asarray(dlogits, dtype=np.float64)
        for i in range(len(self.layers) - 1, -1, -1):
            a = activations[i]
            grads.append((train_matmul(dz.T, a), dz.sum(axis=0)))
            if i > 0:
                dz = train_matmul(dz, self.layers[i].W) * (a > 0)
        return grads[::-1]

    def loss_and_grads(self, X, y) -> tuple[float, list[tuple[np.ndarray, np.ndarray]]]:
        """Softmax cross-entropy on ``(X, y)`` and its gradient for every ``(W, b)`` (BLAS: training)."""
        logits, acts = self.forward_train(X, return_activations=True)
        y = _check_y(y, logits.shape[0], self.layers[-1].n_out)
        loss, dlogits = softmax_cross_entropy(logits, y)
        return loss, self.backward(acts, dlogits)

    def save(self, path) -> None:
        """Write the weights to an ``.npz`` file (``W0, b0, W1, b1, ...``)."""
        arrays = {}
        for i, layer in enumerate(self.layers):
            arrays[f"W{i}"], arrays[f"b{i}"] = layer.W, layer.b
        np.savez(path, **arrays)

    def __repr__(self):
        return f"MLP(sizes={self.sizes}, n_params={self.n_params})"


def load_mlp(path) -> MLP:
    """Read weights written by :meth:`MLP.save`."""
    with np.load(path) as f:
        n = len([k for k in f.files if k.startswith("W")])
        return MLP([Dense(f[f"W{i}"], f[f"b{i}"]) for i in range(n)])


def init_mlp(sizes, *, rng: np.random.Generator) -> MLP:
    """He-initialised MLP: ``W ~ N(0, 2 / n_in)``, ``b = 0`` (He et al. 2015).

    Examples
    --------
    >>> m = init_mlp((64, 64, 32, 10), rng=np.random.default_rng(0))
    >>> [layer.W.shape for layer in m.layers]
    [(64, 64), (32, 64), (10, 32)]
    """
    sizes = tuple(int(check_int(s, "sizes[i]", 1, 1 << 16)) for s in sizes)
    if len(sizes) < 2:
        raise ValueError(f"sizes needs at least an input and an output width, got {sizes}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator (np.random.default_rng(seed))")
    return MLP([Dense(rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_out, n_in)), np.zeros(n_out))
                for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)])


class Adam:
    """Adam (Kingma & Ba 2015) over a list of arrays, updated in place."""

    def __init__(self, params, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        self.params, self.lr, self.b1, self.b2, self.eps = params, lr, beta1, beta2, eps
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def step(self, grads):
        self.t += 1
        c1, c2 = 1 - self.b1**self.t, 1 - self.b2**self.t
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            m *= self.b1
            m += (1 - self.b1) * g
            v *= self.b2
            v += (1 - self.b2) * g * g
            p -= self.lr * (m / c1) / (np.sqrt(v / c2) + self.eps)


class SGD:
    """Plain stochastic gradient descent, ``p -= lr * g``, in place."""

    def __init__(self, params, lr):
        self.params, self.lr = params, lr

    def step(self, grads):
        for p, g in zip(self.params, grads, strict=True):
            p -= self.lr * g


def make_optimizer(name: str, params, lr: float):
    if name == "adam":
        return Adam(params, lr)
    if name == "sgd":
        return SGD(params, lr)
    raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}")


def check_training_args(data, epochs, lr, batch_size, seed):
    if not hasattr(data, "X_train"):
        raise TypeError("data must be a Digits-like tuple with X_train, y_train, X_test, y_test")
    epochs = check_int(epochs, "epochs", 0, 10_000)
    lr = check_positive(lr, "lr")
    batch_size = check_int(batch_size, "batch_size", 1, 1 << 20)
    seed = check_int(seed, "seed", 0, 2**63 - 1)
    return epochs, lr, batch_size, seed


def minibatches(n: int, batch_size: int, rng: np.random.Generator):
    """Index arrays of one shuffled epoch."""
    order = rng.permutation(n)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def train(model_or_sizes, data, *, epochs: int = 30, lr: float = 3e-3, batch_size: int = 32, seed: int = 0,
          optimizer: str = "adam", callback=None) -> MLP:
    """Train an MLP with minibatch SGD or Adam on softmax cross-entropy.

    Introduced in lesson ``07_per_channel``.

    Parameters
    ----------
    model_or_sizes : MLP or tuple of int
        An MLP to fine-tune (it is copied, not changed) or layer widths for
        :func:`init_mlp` with ``rng = default_rng(seed)``.
    data : Digits
        Uses ``X_train, y_train``; ``X_test, y_test`` are reported to ``callback``.
    epochs, lr, batch_size, seed : training settings; ``seed`` drives initialisation and shuffling.
    optimizer : {'adam', 'sgd'}
    callback : callable(dict), optional
        Called after every epoch with ``epoch`` (1-based), ``epochs``, ``loss`` (mean training
        loss of the epoch), ``train_accuracy``, ``test_accuracy`` and ``model``; a progress bar
        hooks in here.

    Returns
    -------
    MLP
    """
    epochs, lr, batch_size, seed = check_training_args(data, epochs, lr, batch_size, seed)
    rng = np.random.default_rng(seed)
    if isinstance(model_or_sizes, MLP):
        model = model_or_sizes.copy()
    else:
        model = init_mlp(model_or_sizes, rng=rng)
    X = _check_X(data.X_train, model.layers[0].n_in)
    y = _check_y(data.y_train, X.shape[0], model.layers[-1].n_out)
    params = [p for layer in model.layers for p in (layer.W, layer.b)]
    opt = make_optimizer(optimizer, params, lr)
    for epoch in range(1, epochs + 1):
        losses = []
        for idx in minibatches(X.shape[0], batch_size, rng):
            loss, grads = model.loss_and_grads(X[idx], y[idx])
            opt.step([g for pair in grads for g in pair])
            losses.append(loss * idx.size)
        if callback is not None:
            callback(dict(epoch=epoch, epochs=epochs, loss=float(np.sum(losses) / X.shape[0]),
                          train_accuracy=model.accuracy(X, y),
                          test_accuracy=model.accuracy(data.X_test, data.y_test), model=model))
    return model


def pretrained() -> MLP:
    """The course's float network, 64-64-32-10, loaded from ``qlearn/data/mlp_digits.npz``.

    Introduced in lesson ``07_per_channel``. A fresh copy on every call.

    Examples
    --------
    >>> from qlearn.networks.data import load_digits
    >>> d = load_digits()
    >>> model = pretrained()
    >>> model.sizes
    (64, 64, 32, 10)
    >>> model.accuracy(d.X_test, d.y_test) > 0.95
    True
    """
    return load_mlp(PRETRAINED_FILE)

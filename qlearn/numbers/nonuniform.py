"""Non-uniform and very-low-bit weight codes: k-means weight sharing, powers of two, binary, ternary.

Introduced in lesson ``10_nonuniform_and_binary``.

- :func:`kmeans_codebook`: Deep Compression's weight sharing (Han, Mao & Dally, ICLR 2016):
  ``2**bits`` shared values found by k-means (Lloyd's algorithm) with linear
  initialisation; each weight stores a ``bits``-bit index into the codebook.
- :func:`log2_quantize`: logarithmic quantization (Miyashita, Lee & Murmann 2016): levels
  ``0, +-2**e``; a multiplication by a weight becomes a shift.
- :func:`binarize`: XNOR-Net weights (Rastegari et al., ECCV 2016): ``W ~ alpha * sign(W)``
  with one ``alpha = mean |W|`` per output channel; BinaryConnect/BNN (Courbariaux et al.
  2015, 2016) use ``sign(W)`` alone. :func:`train_codes` trains through them.
- :func:`ternarize`: Ternary Weight Networks (Li, Zhang & Liu 2016): ``W ~ alpha * T``,
  ``T in {-1, 0, +1}`` with threshold ``Delta = 0.7 * mean |W|``.

Applied here after training (no retraining): the papers train through these codes;
:func:`compress_model` shows what each costs without that.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qlearn._validate import as_finite_array, check_axis, check_int, check_positive

MIN_BITS, MAX_BITS = 1, 8
KMEANS_INITS = ("linear", "random", "density")
COMPRESS_METHODS = ("uniform", "kmeans", "log2", "binary", "ternary")


@dataclass(frozen=True, eq=False)
class Codebook:
    """Shared values: a weight is stored as the index of its nearest centroid.

    Attributes
    ----------
    centroids : ndarray, sorted ascending, length ``<= 2**bits``
    bits : int
    n_iter : int
        Lloyd iterations run until the assignment stopped changing (or the limit).
    """

    centroids: np.ndarray
    bits: int
    n_iter: int = 0

    def encode(self, x) -> np.ndarray:
        """Index of the nearest centroid for every value (ties go to the lower index)."""
        a = as_finite_array(x, "x")
        return _nearest(a, self.centroids)

    def decode(self, codes) -> np.ndarray:
        """The centroid each code points at."""
        c = np.asarray(codes)
        if c.dtype.kind not in "iu":
            raise TypeError("codes must be integers")
        if c.size and (c.min() < 0 or c.max() >= self.centroids.size):
            raise ValueError(f"codes must be in [0, {self.centroids.size - 1}]")
        return self.centroids[c]

    def __call__(self, x) -> np.ndarray:
        """``decode(encode(x))``."""
        return self.decode(self.encode(x))

    def __repr__(self):
        return f"Codebook(bits={self.bits}, centroids={np.array2string(self.centroids, precision=4)})"


def _nearest(a, centroids):
    """Nearest of sorted ``centroids`` for each value, via the midpoints between neighbours."""
    mid = (centroids[1:] + centroids[:-1]) / 2
    return np.searchsorted(mid, a, side="left").astype(np.int64)


def kmeans_codebook(x, bits: int, *, init: str = "linear", n_iter: int = 100, rng=None) -> Codebook:
    """A ``2**bits``-entry codebook for ``x`` by 1-D k-means (Lloyd's algorithm).

    Introduced in lesson ``10_nonuniform_and_binary``.

    Parameters
    ----------
    x : array_like
        The values to share (all weights of a layer, flattened).
    bits : int in [1, 8]
    init : {'linear', 'random', 'density'}
        Initial centroids: evenly spaced between ``min(x)`` and ``max(x)`` (Han et al.'s
        choice: it keeps the rare large weights, which matter most), ``2**bits`` distinct
        values drawn by ``rng``, or evenly spaced quantiles (density).
    n_iter : int
        Maximum Lloyd iterations (it stops earlier once no assignment changes).
    rng : numpy.random.Generator, required for ``init='random'``

    Returns
    -------
    Codebook

    Notes
    -----
    Each iteration assigns every value to its nearest centroid and moves each centroid
    to the mean of its values; a centroid left with no values keeps its place. This
    never increases the squared error ``sum (x - c[code])**2``.

    Examples
    --------
    >>> cb = kmeans_codebook([0.0, 0.1, 0.2, 0.9, 1.0, 1.1], bits=1)
    >>> cb.centroids
    array([0.1, 1. ])
    >>> cb.encode([0.05, 0.7])
    array([0, 1])
    >>> cb.decode(cb.encode([0.05, 0.7]))
    array([0.1, 1. ])
    """
    a = as_finite_array(x, "x", allow_empty=False).ravel()
    bits = check_int(bits, "bits", MIN_BITS, MAX_BITS)
    n_iter = check_int(n_iter, "n_iter", 0, 100_000)
    k = 2**bits
    if init == "linear":
        c = np.linspace(a.min(), a.max(), k)
    elif init == "density":
        c = np.quantile(a, (np.arange(k) + 0.5) / k)
    elif init == "random":
        if not isinstance(rng, np.random.Generator):
            raise TypeError("init='random' needs rng=np.random.default_rng(seed)")
        u = np.unique(a)
        c = np.sort(rng.choice(u, size=min(k, u.size), replace=False))
    else:
        raise ValueError(f"init must be one of {KMEANS_INITS}, got {init!r}")
    c = np.unique(c)  # a constant x collapses to one centroid
    codes = _nearest(a, c)
    done = 0
    for it in range(1, n_iter + 1):
        done = it
        sums = np.bincount(codes, weights=a, minlength=c.size)
        counts = np.bincount(codes, minlength=c.size)
        c = np.where(counts > 0, sums / np.maximum(counts, 1), c)
        order = np.argsort(c, kind="stable")
        c = c[order]
        new = _nearest(a, c)
        if np.array_equal(new, np.argsort(order)[codes]):
            codes = new
            break
        codes = new
    return Codebook(c, bits, done)


def log2_levels(bits: int, e_max: int) -> np.ndarray:
    """The level set of :func:`log2_quantize`: ``0`` and ``+-2**e`` for ``2**(bits-1) - 1`` exponents.

    Examples
    --------
    >>> log2_levels(3, 0)
    array([-1.  , -0.5 , -0.25,  0.  ,  0.25,  0.5 ,  1.  ])
    """
    bits = check_int(bits, "bits", 2, MAX_BITS)
    n_exp = 2 ** (bits - 1) - 1
    mags = 2.0 ** np.arange(int(e_max) - n_exp + 1, int(e_max) + 1)
    return np.concatenate([-mags[::-1], [0.0], mags])


def log2_quantize(x, bits: int, *, e_max: int | None = None) -> np.ndarray:
    """Round to ``0`` or a signed power of two: logarithmic quantization (Miyashita et al. 2016).

    Introduced in lesson ``10_nonuniform_and_binary``.

    Parameters
    ----------
    x : array_like
    bits : int in [2, 8]
        One sign bit and ``bits - 1`` bits of magnitude code. Magnitude code 0 is zero;
        codes ``1 .. 2**(bits-1) - 1`` are the exponents ``e_max - 2**(bits-1) + 2 .. e_max``.
    e_max : int, optional
        Largest exponent; default ``round(log2(max |x|))`` (the full-scale range).

    Returns
    -------
    x_hat : ndarray
        Values in :func:`log2_levels` ``(bits, e_max)``.

    Notes
    -----
    The exponent is rounded in the log domain, ``e = round(log2 |x|)`` (Miyashita et al.),
    so the threshold between ``2**e`` and ``2**(e+1)`` is ``2**(e + 0.5)``, not their
    midpoint; it is then clipped to ``[e_min, e_max]``. Zero handling: a value below
    half the smallest level, ``|x| < 2**(e_min - 1)``, is flushed to 0 (and 0 stays 0).
    Multiplying an integer activation by ``+-2**e`` is a shift by ``e`` and a sign.

    Examples
    --------
    With ``e_max = 0`` the 3-bit levels are ``0, +-0.25, +-0.5, +-1``; 0.74 lies above
    ``2**-0.5 = 0.707`` and goes to 1, although it is nearer to 0.5:

    >>> log2_quantize([0.0, 0.1, 0.3, -0.6, 0.74, 0.9, 2.0], bits=3, e_max=0)
    array([ 0.  ,  0.  ,  0.25, -0.5 ,  1.  ,  1.  ,  1.  ])
    """
    a = as_finite_array(x, "x", allow_empty=False)
    bits = check_int(bits, "bits", 2, MAX_BITS)
    amax = float(np.abs(a).max())
    if e_max is None:
        if amax == 0.0:
            return np.zeros_like(a)
        e_max = int(np.round(np.log2(amax)))
    e_max = int(e_max)
    e_min = e_max - (2 ** (bits - 1) - 1) + 1
    mag = np.abs(a)
    with np.errstate(divide="ignore"):
        e = np.clip(np.round(np.log2(np.where(mag > 0, mag, 1.0))), e_min, e_max)
    out = np.sign(a) * 2.0**e
    return np.where(mag < 2.0 ** (e_min - 1), 0.0, out)


def _channel_view(W, axis):
    W = as_finite_array(W, "W", allow_empty=False)
    if W.ndim < 1:
        raise ValueError("W must have at least one dimension")
    if axis is None:  # one scale for the whole tensor
        return W, None, tuple(range(W.ndim)), [1] * W.ndim
    ax = check_axis(axis, W.ndim)
    others = tuple(i for i in range(W.ndim) if i != ax)
    shape = [1] * W.ndim
    shape[ax] = -1
    return W, ax, others, shape


def binarize(W, *, axis: int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """XNOR-Net binary weights: ``W ~ alpha * B``, ``B = sign(W)``, one ``alpha`` per output channel.

    Introduced in lesson ``10_nonuniform_and_binary``.

    Parameters
    ----------
    W : array_like
    axis : int or None
        The output-channel axis (0 for ``W (out, in)``); None for one ``alpha`` for the
        whole tensor (shape ``()``), to compare.

    Returns
    -------
    alpha : ndarray, shape ``(W.shape[axis],)``
        ``mean |W|`` over every axis but ``axis``.
    B : ndarray of int8 in {-1, +1}
        ``sign(W)`` with ``sign(0) = +1``.

    Notes
    -----
    For a fixed ``B = sign(W)``, ``||W - alpha B||^2`` is a parabola in ``alpha`` with its
    minimum at ``alpha = <W, B> / n = mean |W|`` (Rastegari et al. 2016, sec. 3.1, eq. 2-6): the
    least-squares scale. One scale per output channel is what the seed text's "one per
    convolution's output channel" refers to.

    Examples
    --------
    >>> alpha, B = binarize(np.array([[0.5, -1.5], [0.0, -0.2]]))
    >>> alpha
    array([1. , 0.1])
    >>> B
    array([[ 1, -1],
           [ 1, -1]], dtype=int8)
    """
    W, ax, others, _ = _channel_view(W, axis)
    alpha = np.abs(W).mean(axis=others) if others else np.abs(W)
    B = np.where(W >= 0, 1, -1).astype(np.int8)
    return alpha, B


def ternarize(W, *, axis: int | None = 0, threshold_ratio: float = 0.7) -> tuple[np.ndarray, np.ndarray]:
    """Ternary Weight Networks: ``W ~ alpha * T``, ``T in {-1, 0, +1}``, per output channel.

    Introduced in lesson ``10_nonuniform_and_binary``.

    Parameters
    ----------
    W : array_like
    axis : int or None
        The output-channel axis (0 for ``W (out, in)``); None for one scale per tensor.
    threshold_ratio : float > 0
        ``Delta = threshold_ratio * mean |W|`` per channel; Li et al. (2016) derive 0.7 as an
        approximation of the optimal threshold for Gaussian or uniform weights.

    Returns
    -------
    alpha : ndarray, shape ``(W.shape[axis],)``
        ``mean |W|`` over the weights with ``|W| > Delta`` (0 for a channel with none).
    T : ndarray of int8 in {-1, 0, +1}
        ``sign(W)`` where ``|W| > Delta``, else 0.

    Examples
    --------
    >>> alpha, T = ternarize(np.array([[0.1, -1.0, 0.9, 0.0]]))
    >>> alpha, T
    (array([0.95]), array([[ 0, -1,  1,  0]], dtype=int8))
    """
    threshold_ratio = check_positive(threshold_ratio, "threshold_ratio")
    W, ax, others, shape = _channel_view(W, axis)
    absW = np.abs(W)
    delta = threshold_ratio * (absW.mean(axis=others) if others else absW)
    keep = absW > np.reshape(delta, shape)
    n = keep.sum(axis=others) if others else keep.astype(int)
    s = np.where(keep, absW, 0.0).sum(axis=others) if others else np.where(keep, absW, 0.0)
    alpha = np.where(n > 0, s / np.maximum(n, 1), 0.0)
    T = (np.sign(W) * keep).astype(np.int8)
    return alpha, T


# ---------------------------------------------------------------------------------------------
# Model level

@dataclass(eq=False)
class CompressedModel:
    """An MLP whose weights were replaced by a non-uniform or binary code.

    ``model`` computes with the decoded weights (float biases); ``size_bytes`` counts the
    codes, the per-layer tables (codebook, scales) and float32 biases.
    """

    model: object
    method: str
    bits: float
    size_bytes: int

    def forward(self, X):
        return self.model.forward(X)

    def predict(self, X):
        return self.model.predict(X)

    def accuracy(self, X, y) -> float:
        return self.model.accuracy(X, y)

    def agreement(self, X, float_model) -> float:
        return float(np.mean(self.model.predict(X) == float_model.predict(X)))


def compress_weight(W, method: str, bits: int | None = None, *, per_channel: bool = True) -> tuple[np.ndarray, int]:
    """Decoded weights and storage in bytes (codes + tables) for one ``W (out, in)``.

    ``per_channel`` applies to binary and ternary (one ``alpha`` per row, or one per tensor).
    """
    W = as_finite_array(W, "W", allow_empty=False)
    n = W.size
    axis = 0 if per_channel else None
    if method == "binary":
        alpha, B = binarize(W, axis=axis)
        return np.reshape(alpha, (-1, 1)) * B, -(-n // 8) + 4 * alpha.size
    if method == "ternary":
        alpha, T = ternarize(W, axis=axis)
        return np.reshape(alpha, (-1, 1)) * T, -(-n * 2 // 8) + 4 * alpha.size
    if bits is None:
        raise ValueError(f"method={method!r} needs bits=")
    if method == "kmeans":
        cb = kmeans_codebook(W, bits)
        return cb(W), -(-n * bits // 8) + 4 * cb.centroids.size
    if method == "log2":
        return log2_quantize(W, max(bits, 2)), -(-n * bits // 8) + 1
    if method == "uniform":
        from qlearn.networks.ptq import weight_qparams
        from qlearn.ranges import affine
        qp = weight_qparams(W, bits=max(bits, 2))
        return affine.fake_quantize(W, qp), -(-n * bits // 8) + 8
    raise ValueError(f"method must be one of {COMPRESS_METHODS}, got {method!r}")


def compress_model(model, method: str, bits: int | None = None, *, per_channel: bool = True) -> CompressedModel:
    """Replace every layer's weights by ``method``'s code; biases stay float32.

    Introduced in lesson ``10_nonuniform_and_binary``.

    Parameters
    ----------
    model : qlearn.networks.nn.MLP
    method : {'uniform', 'kmeans', 'log2', 'binary', 'ternary'}
        ``uniform`` is per-tensor symmetric min/max (the baseline of lesson 08).
    bits : int in [2, 8] for uniform/kmeans/log2 (kmeans also allows 1); ignored for binary (1 bit)
        and ternary (2 bits).
    per_channel : bool
        Binary/ternary: one ``alpha`` per output channel (XNOR-Net, TWN) or one per tensor.

    Examples
    --------
    >>> from qlearn.networks.nn import pretrained
    >>> c = compress_model(pretrained(), "binary")
    >>> c.size_bytes  # 6464 weights / 8 + 106 float32 alphas + 106 float32 biases
    1656
    """
    from qlearn.networks.nn import MLP, Dense

    if method not in COMPRESS_METHODS:
        raise ValueError(f"method must be one of {COMPRESS_METHODS}, got {method!r}")
    if method in ("uniform", "log2"):
        bits = check_int(bits, "bits", 2, MAX_BITS)
    elif method == "kmeans":
        bits = check_int(bits, "bits", 1, MAX_BITS)
    else:
        bits = 1 if method == "binary" else 2
    layers, total = [], 0
    for layer in model.layers:
        W_hat, nbytes = compress_weight(layer.W, method, bits, per_channel=per_channel)
        layers.append(Dense(W_hat, layer.b.copy()))
        total += nbytes + 4 * layer.b.size
    return CompressedModel(MLP(layers), method, bits, int(total))


TRAINABLE_CODES = ("binary", "ternary")


def _decode_weights(W, method):
    alpha, T = binarize(W) if method == "binary" else ternarize(W)
    return alpha[:, None] * T


def train_codes(model, data, *, method: str = "binary", epochs: int = 10, lr: float = 1e-3, seed: int = 0,
                batch_size: int = 32, callback=None) -> CompressedModel:
    """Fine-tune through binary or ternary weights with a straight-through estimator.

    Introduced in lesson ``10_nonuniform_and_binary``. As in BinaryConnect and BNN
    (Courbariaux et al. 2015; Hubara, Courbariaux et al. 2016, Algorithm 1):
    the forward pass uses the code (here XNOR-Net's ``alpha * sign(W)``, Rastegari et al.
    2016, or the ternary code); the backward pass hands the gradient of the decoded
    weights straight to the float shadow weights, and after every update the shadow
    weights are clipped to ``[-1, 1]`` (so they cannot drift far from the point where
    their sign flips). BNN's gradient cancellation ``1{|r| <= 1}`` (the "hard tanh" STE)
    applies to its binarized *activations*; activations stay float here, so it does not
    arise. Adam with a cosine learning-rate decay from ``lr`` to 0. Training uses the
    BLAS product (:data:`qlearn.networks.nn.train_matmul`); accuracies are evaluated
    deterministically.

    Returns
    -------
    CompressedModel
        With ``history`` (``epoch``, ``test_accuracy``; epoch 0 = no training) and
        ``float_model`` (the shadow weights).

    Examples
    --------
    >>> from qlearn.networks.nn import pretrained
    >>> from qlearn.networks.data import load_digits
    >>> r = train_codes(pretrained(), load_digits(), epochs=1, lr=0.5, seed=0)
    >>> max(float(np.abs(L.W).max()) for L in r.float_model.layers)   # a large step, clipped
    1.0
    """
    from qlearn.networks.nn import MLP, Dense, _check_X, _check_y, check_training_args, make_optimizer, minibatches

    if method not in TRAINABLE_CODES:
        raise ValueError(f"method must be one of {TRAINABLE_CODES}, got {method!r}")
    epochs, lr, batch_size, seed = check_training_args(data, epochs, lr, batch_size, seed)
    rng = np.random.default_rng(seed)
    shadow = model.copy()
    X = _check_X(data.X_train, shadow.layers[0].n_in)
    y = _check_y(data.y_train, X.shape[0], shadow.layers[-1].n_out)

    def decoded():
        return MLP([Dense(_decode_weights(L.W, method), L.b) for L in shadow.layers])

    hist = {"epoch": [0], "test_accuracy": [decoded().accuracy(data.X_test, data.y_test)]}
    opt = make_optimizer("adam", [p for L in shadow.layers for p in (L.W, L.b)], lr)
    step, n_steps = 0, max(epochs * -(-X.shape[0] // batch_size), 1)
    for epoch in range(1, epochs + 1):
        for idx in minibatches(X.shape[0], batch_size, rng):
            opt.lr = lr * 0.5 * (1 + np.cos(np.pi * step / n_steps))  # cosine decay, as in qlearn.networks.qat
            step += 1
            _, grads = decoded().loss_and_grads(X[idx], y[idx])
            opt.step([g for gW, gb in grads for g in (gW, gb)])  # straight through to the shadow weights
            for L in shadow.layers:
                np.clip(L.W, -1.0, 1.0, out=L.W)  # BinaryConnect: keep the shadow weights in [-1, 1]
        hist["epoch"].append(epoch)
        hist["test_accuracy"].append(decoded().accuracy(data.X_test, data.y_test))
        if callback is not None:
            callback(dict(epoch=epoch, epochs=epochs, test_accuracy=hist["test_accuracy"][-1]))
    out = compress_model(shadow, method)
    out.history = {k: np.array(v) for k, v in hist.items()}
    out.float_model = shadow
    return out

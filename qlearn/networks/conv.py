"""2-D convolutions in numpy: im2col, the direct loop, depthwise and pointwise, pooling, ReLU6.

Introduced in lesson ``15_convolutions_and_folding``. Layout is NCHW: activations ``x``
of shape ``(batch, channels, height, width)``; a convolution's weights ``W`` have shape
``(out, in, kh, kw)`` (output channel first, as a dense layer's ``W (out, in)``), a
depthwise convolution's ``(channels, 1, kh, kw)``.

A convolution is a matrix product in disguise: :func:`im2col` copies every
``in x kh x kw`` input patch into one row of a matrix, and the convolution is that
matrix times ``W.reshape(out, -1).T``. That GEMM is what lesson 12's systolic array
runs, and it is how quantized convolutions run in integers (:func:`conv2d_int`).

Same figures on every machine: :func:`conv2d` contracts the im2col matrix with
:func:`qlearn.networks.nn.fixed_order_matmul` (a summation order fixed by this code), and
:func:`depthwise_conv2d` and :func:`avg_pool2d` add their taps one at a time in a fixed
order, so a float evaluation gives the same bits on every CPU. ``fast=True`` uses the
BLAS product :data:`qlearn.networks.nn.train_matmul` instead: for training only. The integer
versions (:func:`conv2d_int`, :func:`depthwise_conv2d_int`) are exact.
"""
from __future__ import annotations

import numpy as np

from qlearn._validate import as_finite_array, check_int
from qlearn.networks import nn

#: Largest kernel, stride and padding the checks accept.
MAX_KERNEL = 64


def _check_x(x, name: str = "x") -> np.ndarray:
    x = as_finite_array(x, name)
    if x.ndim != 4:
        raise ValueError(f"{name} must be 4-D (batch, channels, height, width), got shape {x.shape}")
    if x.size == 0:
        raise ValueError(f"{name} is empty (shape {x.shape}): it needs at least one image and one channel")
    return x


def output_size(size: int, kernel: int, stride: int, padding: int, *, name: str = "x") -> int:
    """Output length of a convolution along one axis: ``(size + 2 padding - kernel) // stride + 1``.

    Raises ValueError when the kernel does not fit the padded input, or when the padding
    exceeds ``kernel // 2`` (a window made only of padding computes nothing from ``x``).

    Examples
    --------
    >>> output_size(8, 3, 1, 1), output_size(8, 3, 2, 1), output_size(4, 1, 1, 0)
    (8, 4, 4)
    >>> output_size(2, 5, 1, 1)
    Traceback (most recent call last):
    ...
    ValueError: kernel 5 does not fit x of size 2 with padding 1: size + 2 * padding must be >= kernel
    """
    kernel = check_int(kernel, "kernel", 1, MAX_KERNEL)
    stride = check_int(stride, "stride", 1, MAX_KERNEL)
    padding = check_int(padding, "padding", 0, MAX_KERNEL)
    if padding > kernel // 2:
        raise ValueError(f"padding must be in [0, kernel // 2] = [0, {kernel // 2}] for kernel {kernel}, got {padding}")
    if size + 2 * padding < kernel:
        raise ValueError(f"kernel {kernel} does not fit {name} of size {size} with padding {padding}: "
                         f"size + 2 * padding must be >= kernel")
    return (size + 2 * padding - kernel) // stride + 1


def _pad(x, padding: int, value=0):
    if padding == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)), constant_values=value)


def im2col(x, kh: int, kw: int, *, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Every ``(channels, kh, kw)`` patch of ``x`` as one row: shape ``(batch * oh * ow, channels * kh * kw)``.

    Rows run over ``(image, output row, output column)``; columns over
    ``(channel, kernel row, kernel column)``, the order of ``W.reshape(out, -1)``. Works on
    float or integer arrays (padding inserts zeros of ``x``'s dtype).

    Examples
    --------
    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> im2col(x, 2, 2)
    array([[0., 1., 3., 4.],
           [1., 2., 4., 5.],
           [3., 4., 6., 7.],
           [4., 5., 7., 8.]])
    """
    x = np.asarray(x)
    if x.ndim != 4 or x.size == 0:
        raise ValueError(f"x must be a non-empty 4-D array (batch, channels, height, width), got shape {x.shape}")
    n, c, h, w = x.shape
    oh = output_size(h, kh, stride, padding, name="x height")
    ow = output_size(w, kw, stride, padding, name="x width")
    xp = _pad(x, padding)
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))  # n, c, H', W', kh, kw
    win = win[:, :, : (oh - 1) * stride + 1: stride, : (ow - 1) * stride + 1: stride]
    return np.ascontiguousarray(win.transpose(0, 2, 3, 1, 4, 5)).reshape(n * oh * ow, c * kh * kw)


def col2im(cols, x_shape, kh: int, kw: int, *, stride: int = 1, padding: int = 0) -> np.ndarray:
    """The adjoint of :func:`im2col`: add every row's entries back where they came from.

    ``col2im(im2col(x) * g) ...`` is how a convolution's input gradient is assembled: an
    input pixel that appears in several patches collects the sum of their gradients.

    Examples
    --------
    >>> x = np.ones((1, 1, 3, 3))
    >>> col2im(im2col(x, 2, 2), x.shape, 2, 2)[0, 0]   # how many 2x2 windows cover each pixel
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    """
    n, c, h, w = x_shape
    oh = output_size(h, kh, stride, padding, name="x height")
    ow = output_size(w, kw, stride, padding, name="x width")
    cols = np.asarray(cols, dtype=np.float64)
    if cols.shape != (n * oh * ow, c * kh * kw):
        raise ValueError(f"cols must have shape {(n * oh * ow, c * kh * kw)} for x_shape {tuple(x_shape)}, "
                         f"got {cols.shape}")
    g = cols.reshape(n, oh, ow, c, kh, kw)
    xp = np.zeros((n, c, h + 2 * padding, w + 2 * padding))
    for i in range(kh):
        for j in range(kw):
            tap = g[:, :, :, :, i, j].transpose(0, 3, 1, 2)
            xp[:, :, i: i + stride * oh: stride, j: j + stride * ow: stride] += tap
    return xp[:, :, padding: padding + h, padding: padding + w]


def _check_conv(x, W, b, stride, padding, *, depthwise: bool):
    x = _check_x(x)
    W = as_finite_array(W, "W", allow_empty=False)
    if W.ndim != 4:
        kind = "(channels, 1, kh, kw)" if depthwise else "(out, in, kh, kw)"
        raise ValueError(f"W must be 4-D {kind}, got shape {W.shape}")
    if depthwise:
        if W.shape[1] != 1 or W.shape[0] != x.shape[1]:
            raise ValueError(f"a depthwise W must have shape (channels, 1, kh, kw) = ({x.shape[1]}, 1, kh, kw) "
                             f"for x with {x.shape[1]} channels, got {W.shape}")
    elif W.shape[1] != x.shape[1]:
        raise ValueError(f"W has {W.shape[1]} input channels (W.shape[1]) but x has {x.shape[1]} (x.shape[1])")
    if b is not None:
        b = as_finite_array(b, "b")
        if b.shape != (W.shape[0],):
            raise ValueError(f"b must have shape (out,) = ({W.shape[0]},), got {b.shape}")
    stride = check_int(stride, "stride", 1, MAX_KERNEL)
    padding = check_int(padding, "padding", 0, MAX_KERNEL)
    oh = output_size(x.shape[2], W.shape[2], stride, padding, name="x height")
    ow = output_size(x.shape[3], W.shape[3], stride, padding, name="x width")
    return x, W, b, stride, padding, oh, ow


def conv2d(x, W, b=None, *, stride: int = 1, padding: int = 0, fast: bool = False) -> np.ndarray:
    """2-D convolution (cross-correlation, as in every framework) via im2col.

    Parameters
    ----------
    x : ndarray (batch, in, height, width)
    W : ndarray (out, in, kh, kw)
    b : ndarray (out,), optional
    stride, padding : int
        Zero padding of ``padding`` pixels on every side, at most ``kh // 2``.
    fast : bool
        False (evaluation): contract in a fixed order (:func:`qlearn.networks.nn.fixed_order_matmul`),
        the same bits on every CPU. True (training): the BLAS product.

    Returns
    -------
    ndarray (batch, out, oh, ow)
        ``y[n, o, r, c] = b[o] + sum_{i, p, q} x_pad[n, i, r*stride + p, c*stride + q] W[o, i, p, q]``.

    Examples
    --------
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> conv2d(x, np.ones((1, 1, 2, 2)), stride=2)[0, 0]      # sums of the four 2x2 blocks
    array([[10., 18.],
           [42., 50.]])
    >>> conv2d(x, np.ones((1, 2, 3, 3)))
    Traceback (most recent call last):
    ...
    ValueError: W has 2 input channels (W.shape[1]) but x has 1 (x.shape[1])
    """
    x, W, b, stride, padding, oh, ow = _check_conv(x, W, b, stride, padding, depthwise=False)
    cols = im2col(x, W.shape[2], W.shape[3], stride=stride, padding=padding)
    Wm = W.reshape(W.shape[0], -1)
    y = nn.train_matmul(cols, Wm.T) if fast else nn.fixed_order_matmul(cols, Wm)
    if b is not None:
        y = y + b
    return y.reshape(x.shape[0], oh, ow, W.shape[0]).transpose(0, 3, 1, 2)


def conv2d_direct(x, W, b=None, *, stride: int = 1, padding: int = 0) -> np.ndarray:
    """The textbook loop over every output and every tap: the reference :func:`conv2d` is tested against.

    Slow (plain Python sums); for small checks only.

    Examples
    --------
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> conv2d_direct(x, np.ones((1, 1, 2, 2)), stride=2)[0, 0]
    array([[10., 18.],
           [42., 50.]])
    """
    x, W, b, stride, padding, oh, ow = _check_conv(x, W, b, stride, padding, depthwise=False)
    xp = _pad(x, padding)
    n, cin = x.shape[:2]
    cout, _, kh, kw = W.shape
    y = np.zeros((n, cout, oh, ow))
    for m in range(n):
        for o in range(cout):
            for r in range(oh):
                for c in range(ow):
                    s = 0.0 if b is None else float(b[o])
                    for i in range(cin):
                        for p in range(kh):
                            for q in range(kw):
                                s += float(xp[m, i, r * stride + p, c * stride + q]) * float(W[o, i, p, q])
                    y[m, o, r, c] = s
    return y


def pointwise_conv2d(x, W, b=None, *, fast: bool = False) -> np.ndarray:
    """A 1x1 convolution: a dense layer ``W (out, in)`` applied at every pixel.

    ``W`` may be given as ``(out, in)`` or ``(out, in, 1, 1)``.

    Examples
    --------
    >>> x = np.ones((1, 2, 2, 2))
    >>> pointwise_conv2d(x, np.array([[1.0, 2.0]]))[0, 0]
    array([[3., 3.],
           [3., 3.]])
    """
    W = as_finite_array(W, "W", allow_empty=False)
    if W.ndim == 2:
        W = W[:, :, None, None]
    if W.ndim != 4 or W.shape[2:] != (1, 1):
        raise ValueError(f"a pointwise W must have shape (out, in) or (out, in, 1, 1), got {W.shape}")
    return conv2d(x, W, b, fast=fast)


def depthwise_conv2d(x, W, b=None, *, stride: int = 1, padding: int = 0, fast: bool = False) -> np.ndarray:
    """Depthwise convolution: channel ``c`` of ``x`` convolved with its own kernel ``W[c, 0]``.

    Parameters
    ----------
    x : ndarray (batch, channels, height, width)
    W : ndarray (channels, 1, kh, kw)
    b : ndarray (channels,), optional
    fast : bool
        Accepted for symmetry with :func:`conv2d`; the taps are always added one at a time,
        in the order ``(0, 0), (0, 1), ...``: the same bits on every CPU.

    Returns
    -------
    ndarray (batch, channels, oh, ow)

    Examples
    --------
    >>> x = np.ones((1, 2, 3, 3))
    >>> W = np.stack([np.ones((1, 3, 3)), 2 * np.ones((1, 3, 3))])
    >>> depthwise_conv2d(x, W, padding=1)[0, 1]        # channel 1: 2 x (taps inside the image)
    array([[ 8., 12.,  8.],
           [12., 18., 12.],
           [ 8., 12.,  8.]])
    """
    x, W, b, stride, padding, oh, ow = _check_conv(x, W, b, stride, padding, depthwise=True)
    y = _depthwise_taps(_pad(x, padding), W[:, 0], stride, oh, ow)
    if b is not None:
        y = y + b[None, :, None, None]
    return y


def _depthwise_taps(xp, K, stride, oh, ow):
    """``sum_{p, q} xp[:, c, r*s + p, col*s + q] K[c, p, q]``, taps added in a fixed order (exact for ints)."""
    kh, kw = K.shape[1:]
    acc = None
    for p in range(kh):
        for q in range(kw):
            tap = xp[:, :, p: p + stride * (oh - 1) + 1: stride, q: q + stride * (ow - 1) + 1: stride]
            term = tap * K[None, :, p, q, None, None]
            acc = term if acc is None else acc + term
    return acc


def depthwise_conv2d_direct(x, W, b=None, *, stride: int = 1, padding: int = 0) -> np.ndarray:
    """The direct loop for a depthwise convolution (reference for tests)."""
    x, W, b, stride, padding, oh, ow = _check_conv(x, W, b, stride, padding, depthwise=True)
    xp = _pad(x, padding)
    n, ch = x.shape[:2]
    kh, kw = W.shape[2:]
    y = np.zeros((n, ch, oh, ow))
    for m in range(n):
        for c in range(ch):
            for r in range(oh):
                for col in range(ow):
                    s = 0.0 if b is None else float(b[c])
                    for p in range(kh):
                        for q in range(kw):
                            s += float(xp[m, c, r * stride + p, col * stride + q]) * float(W[c, 0, p, q])
                    y[m, c, r, col] = s
    return y


def conv2d_backward(dy, x, W, *, stride: int = 1, padding: int = 0):
    """Gradients of :func:`conv2d` (BLAS: training): ``(dx, dW, db)`` for the upstream gradient ``dy``.

    ``dW = dy_mat.T @ im2col(x)``, ``db = sum(dy)`` over batch and pixels, and
    ``dx = col2im(dy_mat @ W_mat)``, with ``dy_mat`` of shape ``(batch * oh * ow, out)``.
    """
    x, W, _, stride, padding, oh, ow = _check_conv(x, W, None, stride, padding, depthwise=False)
    dy = as_finite_array(dy, "dy")
    if dy.shape != (x.shape[0], W.shape[0], oh, ow):
        raise ValueError(f"dy must have the output's shape {(x.shape[0], W.shape[0], oh, ow)}, got {dy.shape}")
    kh, kw = W.shape[2:]
    cols = im2col(x, kh, kw, stride=stride, padding=padding)
    dym = dy.transpose(0, 2, 3, 1).reshape(-1, W.shape[0])
    dW = nn.train_matmul(dym.T, cols).reshape(W.shape)
    dcols = nn.train_matmul(dym, W.reshape(W.shape[0], -1))
    dx = col2im(dcols, x.shape, kh, kw, stride=stride, padding=padding)
    return dx, dW, dy.sum(axis=(0, 2, 3))


def depthwise_conv2d_backward(dy, x, W, *, stride: int = 1, padding: int = 0):
    """Gradients of :func:`depthwise_conv2d`: ``(dx, dW, db)``."""
    x, W, _, stride, padding, oh, ow = _check_conv(x, W, None, stride, padding, depthwise=True)
    dy = as_finite_array(dy, "dy")
    if dy.shape != (x.shape[0], W.shape[0], oh, ow):
        raise ValueError(f"dy must have the output's shape {(x.shape[0], W.shape[0], oh, ow)}, got {dy.shape}")
    xp = _pad(x, padding)
    dxp = np.zeros_like(xp)
    dW = np.zeros_like(W)
    kh, kw = W.shape[2:]
    for p in range(kh):
        for q in range(kw):
            sl = (slice(None), slice(None), slice(p, p + stride * (oh - 1) + 1, stride),
                  slice(q, q + stride * (ow - 1) + 1, stride))
            dW[:, 0, p, q] = np.einsum("nchw,nchw->c", dy, xp[sl])
            dxp[sl] += dy * W[None, :, 0, p, q, None, None]
    h, w = x.shape[2:]
    return dxp[:, :, padding: padding + h, padding: padding + w], dW, dy.sum(axis=(0, 2, 3))


def conv2d_int(q_x, W_q, *, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Integer convolution, exact: int64 im2col GEMM of (zero-point-free) codes.

    ``q_x`` are activation codes with the zero point already subtracted, so zero padding
    is the real value 0; ``W_q (out, in, kh, kw)`` integer weight codes (zero point 0).
    numpy's integer matmul does not use BLAS and integer sums do not depend on their order:
    the same accumulator on every CPU.

    Examples
    --------
    >>> conv2d_int(np.arange(16).reshape(1, 1, 4, 4), np.ones((1, 1, 2, 2), np.int64), stride=2)[0, 0]
    array([[10, 18],
           [42, 50]])
    """
    q_x, W_q = np.asarray(q_x), np.asarray(W_q)
    if q_x.dtype.kind not in "iu" or W_q.dtype.kind not in "iu":
        raise TypeError(f"q_x and W_q must be integer arrays, got {q_x.dtype} and {W_q.dtype}")
    if q_x.ndim != 4 or W_q.ndim != 4 or W_q.shape[1] != q_x.shape[1]:
        raise ValueError(f"q_x (batch, in, h, w) and W_q (out, in, kh, kw) must agree on in: "
                         f"got {q_x.shape} and {W_q.shape}")
    n, _, h, w = q_x.shape
    kh, kw = W_q.shape[2:]
    oh = output_size(h, kh, stride, padding, name="q_x height")
    ow = output_size(w, kw, stride, padding, name="q_x width")
    cols = im2col(q_x.astype(np.int64), kh, kw, stride=stride, padding=padding)
    acc = cols @ W_q.reshape(W_q.shape[0], -1).astype(np.int64).T
    return acc.reshape(n, oh, ow, W_q.shape[0]).transpose(0, 3, 1, 2)


def depthwise_conv2d_int(q_x, W_q, *, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Integer depthwise convolution, exact (int64), codes with the zero point already subtracted.

    Examples
    --------
    >>> depthwise_conv2d_int(np.ones((1, 1, 3, 3), np.int64), 2 * np.ones((1, 1, 3, 3), np.int64), padding=1)[0, 0]
    array([[ 8, 12,  8],
           [12, 18, 12],
           [ 8, 12,  8]])
    """
    q_x, W_q = np.asarray(q_x), np.asarray(W_q)
    if q_x.dtype.kind not in "iu" or W_q.dtype.kind not in "iu":
        raise TypeError(f"q_x and W_q must be integer arrays, got {q_x.dtype} and {W_q.dtype}")
    if q_x.ndim != 4 or W_q.ndim != 4 or W_q.shape[:2] != (q_x.shape[1], 1):
        raise ValueError(f"W_q must have shape (channels, 1, kh, kw) for q_x {q_x.shape}, got {W_q.shape}")
    oh = output_size(q_x.shape[2], W_q.shape[2], stride, padding, name="q_x height")
    ow = output_size(q_x.shape[3], W_q.shape[3], stride, padding, name="q_x width")
    return _depthwise_taps(_pad(q_x.astype(np.int64), padding), W_q[:, 0].astype(np.int64), stride, oh, ow)


def macs(W_shape, out_hw) -> int:
    """Multiply-accumulates of one convolution on one image: every weight is used once per output pixel.

    ``W_shape`` is ``(out, in, kh, kw)`` (or ``(channels, 1, kh, kw)`` for a depthwise layer),
    ``out_hw`` the output's ``(height, width)``.

    Examples
    --------
    >>> macs((32, 16, 3, 3), (4, 4))                               # a standard 3x3 convolution
    73728
    >>> macs((16, 1, 3, 3), (4, 4)) + macs((32, 16, 1, 1), (4, 4))  # depthwise + pointwise
    10496
    """
    shape = tuple(check_int(s, "W_shape[i]", 1, 1 << 20) for s in W_shape)
    oh, ow = (check_int(s, "out_hw[i]", 1, 1 << 20) for s in out_hw)
    if len(shape) != 4:
        raise ValueError(f"W_shape must have 4 entries (out, in, kh, kw), got {W_shape}")
    return int(np.prod(shape)) * oh * ow


def relu6(x) -> np.ndarray:
    """``min(max(x, 0), 6)`` elementwise: MobileNet's activation (Howard et al. 2017).

    Examples
    --------
    >>> relu6(np.array([-1.0, 3.0, 7.0]))
    array([0., 3., 6.])
    """
    return np.clip(np.asarray(x, dtype=np.float64), 0.0, 6.0)


def relu6_backward(dy, x) -> np.ndarray:
    """Gradient of :func:`relu6` at ``x``: ``dy`` where ``0 < x < 6``, else 0."""
    x = np.asarray(x, dtype=np.float64)
    return np.asarray(dy, dtype=np.float64) * ((x > 0) & (x < 6))


def avg_pool2d(x, kernel: int, *, stride: int | None = None) -> np.ndarray:
    """Average pooling over ``kernel x kernel`` windows (no padding); ``stride`` defaults to ``kernel``.

    The window's values are added one at a time in a fixed order, then divided by
    ``kernel**2``: the same bits on every CPU. ``kernel`` equal to the image size is
    global average pooling.

    Examples
    --------
    >>> avg_pool2d(np.arange(16.0).reshape(1, 1, 4, 4), 2)[0, 0]
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    """
    x = _check_x(x)
    kernel = check_int(kernel, "kernel", 1, MAX_KERNEL)
    stride = kernel if stride is None else check_int(stride, "stride", 1, MAX_KERNEL)
    oh = output_size(x.shape[2], kernel, stride, 0, name="x height")
    ow = output_size(x.shape[3], kernel, stride, 0, name="x width")
    K = np.ones((x.shape[1], kernel, kernel))
    return _depthwise_taps(x, K, stride, oh, ow) / (kernel * kernel)


def avg_pool2d_backward(dy, x_shape, kernel: int, *, stride: int | None = None) -> np.ndarray:
    """Gradient of :func:`avg_pool2d`: each window's ``dy / kernel**2`` spread back over the window."""
    stride = kernel if stride is None else stride
    n, c, h, w = x_shape
    oh = output_size(h, kernel, stride, 0, name="x height")
    ow = output_size(w, kernel, stride, 0, name="x width")
    dy = np.asarray(dy, dtype=np.float64)
    if dy.shape != (n, c, oh, ow):
        raise ValueError(f"dy must have shape {(n, c, oh, ow)}, got {dy.shape}")
    dx = np.zeros((n, c, h, w))
    for p in range(kernel):
        for q in range(kernel):
            dx[:, :, p: p + stride * (oh - 1) + 1: stride, q: q + stride * (ow - 1) + 1: stride] += dy / kernel**2
    return dx

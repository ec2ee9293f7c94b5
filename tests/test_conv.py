"""qlearn.networks.conv: im2col convolution against the direct loop and numpy.einsum; backprop against finite
differences."""
import numpy as np
import pytest

from qlearn.networks import conv, nn

RNG = np.random.default_rng(1234)
SHAPES = [  # (batch, in, h, w, out, k, stride, padding)
    (2, 3, 5, 5, 4, 3, 1, 1),
    (1, 2, 6, 7, 3, 3, 2, 1),
    (3, 1, 8, 8, 2, 3, 2, 0),
    (2, 4, 4, 4, 5, 1, 1, 0),
    (1, 2, 7, 5, 2, 2, 3, 1),
]


def einsum_conv(x, W, stride, padding):
    """Reference written without im2col: one einsum per kernel tap over strided slices."""
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    k = W.shape[2]
    oh = (x.shape[2] + 2 * padding - k) // stride + 1
    ow = (x.shape[3] + 2 * padding - W.shape[3]) // stride + 1
    y = np.zeros((x.shape[0], W.shape[0], oh, ow))
    for p in range(W.shape[2]):
        for q in range(W.shape[3]):
            tap = xp[:, :, p: p + stride * oh: stride, q: q + stride * ow: stride][:, :, :oh, :ow]
            y += np.einsum("nchw,oc->nohw", tap, W[:, :, p, q])
    return y


@pytest.mark.parametrize("shape", SHAPES)
def test_conv2d_matches_direct_loop_and_einsum(shape):
    n, c, h, w, o, k, s, p = shape
    x, W, b = RNG.normal(size=(n, c, h, w)), RNG.normal(size=(o, c, k, k)), RNG.normal(size=o)
    y = conv.conv2d(x, W, b, stride=s, padding=p)
    np.testing.assert_allclose(y, conv.conv2d_direct(x, W, b, stride=s, padding=p), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y, einsum_conv(x, W, s, p) + b[None, :, None, None], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(conv.conv2d(x, W, b, stride=s, padding=p, fast=True), y, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
def test_depthwise_matches_direct_loop_einsum_and_a_block_diagonal_full_convolution(shape):
    n, c, h, w, _, k, s, p = shape
    x, W, b = RNG.normal(size=(n, c, h, w)), RNG.normal(size=(c, 1, k, k)), RNG.normal(size=c)
    y = conv.depthwise_conv2d(x, W, b, stride=s, padding=p)
    np.testing.assert_allclose(y, conv.depthwise_conv2d_direct(x, W, b, stride=s, padding=p), rtol=1e-12, atol=1e-12)
    full = np.zeros((c, c, k, k))
    full[np.arange(c), np.arange(c)] = W[:, 0]
    np.testing.assert_allclose(y, einsum_conv(x, full, s, p) + b[None, :, None, None], rtol=1e-12, atol=1e-12)


def test_pointwise_is_a_dense_layer_at_every_pixel():
    x, W = RNG.normal(size=(2, 3, 4, 5)), RNG.normal(size=(6, 3))
    np.testing.assert_allclose(conv.pointwise_conv2d(x, W), np.einsum("nchw,oc->nohw", x, W), rtol=1e-12)
    with pytest.raises(ValueError, match="pointwise W"):
        conv.pointwise_conv2d(x, np.ones((6, 3, 3, 3)))


def test_evaluation_contracts_im2col_in_the_fixed_order_and_ignores_blas(monkeypatch):
    x, W = RNG.normal(size=(2, 3, 6, 6)), RNG.normal(size=(4, 3, 3, 3))
    cols = conv.im2col(x, 3, 3, stride=1, padding=1)
    expected = nn.fixed_order_matmul(cols, W.reshape(4, -1)).reshape(2, 6, 6, 4).transpose(0, 3, 1, 2)
    y = conv.conv2d(x, W, stride=1, padding=1)
    assert np.array_equal(y, expected)
    monkeypatch.setattr(nn, "train_matmul", lambda A, B: (A @ B) * 0 + np.nan)  # evaluation must not call it
    assert np.array_equal(conv.conv2d(x, W, stride=1, padding=1), y)
    assert np.all(np.isfinite(conv.depthwise_conv2d(x, RNG.normal(size=(3, 1, 3, 3)), padding=1)))


def test_integer_convolutions_are_exact_against_python_ints():
    qx = RNG.integers(-128, 128, size=(2, 3, 5, 5))
    Wq = RNG.integers(-127, 128, size=(4, 3, 3, 3))
    acc = conv.conv2d_int(qx, Wq, stride=2, padding=1)
    assert acc.dtype == np.int64
    xp = np.pad(qx, ((0, 0), (0, 0), (1, 1), (1, 1))).tolist()
    for m, o, r, c in [(0, 0, 0, 0), (1, 3, 2, 1), (0, 2, 1, 2), (1, 1, 2, 2)]:
        ref = sum(xp[m][i][2 * r + p][2 * c + q] * int(Wq[o, i, p, q])
                  for i in range(3) for p in range(3) for q in range(3))
        assert acc[m, o, r, c] == ref
    Wd = RNG.integers(-127, 128, size=(3, 1, 3, 3))
    accd = conv.depthwise_conv2d_int(qx, Wd, padding=1)
    assert np.array_equal(accd, conv.depthwise_conv2d_direct(qx, Wd, padding=1).astype(np.int64))
    with pytest.raises(TypeError, match="integer arrays"):
        conv.conv2d_int(qx.astype(float), Wq)


def test_im2col_and_col2im_are_adjoint():
    x = RNG.normal(size=(2, 3, 7, 6))
    cols = conv.im2col(x, 3, 3, stride=2, padding=1)
    C = RNG.normal(size=cols.shape)
    lhs = np.sum(cols * C)
    rhs = np.sum(x * conv.col2im(C, x.shape, 3, 3, stride=2, padding=1))
    assert abs(lhs - rhs) <= 1e-10 * abs(lhs)


def test_avg_pool_and_relu6():
    x = RNG.normal(size=(2, 3, 4, 6))
    np.testing.assert_allclose(conv.avg_pool2d(x, 2), x.reshape(2, 3, 2, 2, 3, 2).mean(axis=(3, 5)), rtol=1e-12)
    assert conv.avg_pool2d(x[:, :, :, :4], 4).shape == (2, 3, 1, 1)
    np.testing.assert_array_equal(conv.relu6(np.array([-2.0, 0.0, 2.5, 6.0, 9.0])), [0, 0, 2.5, 6, 6])


def numerical_grad(f, a, eps=1e-6):
    g = np.zeros_like(a)
    it = np.nditer(a, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = a[i]
        a[i] = old + eps
        fp = f()
        a[i] = old - eps
        fm = f()
        a[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g


@pytest.mark.parametrize("stride,padding", [(1, 1), (2, 1), (2, 0)])
def test_conv2d_backward_matches_finite_differences(stride, padding):
    x, W, b = RNG.normal(size=(2, 2, 5, 5)), RNG.normal(size=(3, 2, 3, 3)), RNG.normal(size=3)
    G = RNG.normal(size=conv.conv2d(x, W, b, stride=stride, padding=padding).shape)

    def f():
        return float(np.sum(conv.conv2d(x, W, b, stride=stride, padding=padding) * G))

    dx, dW, db = conv.conv2d_backward(G, x, W, stride=stride, padding=padding)
    np.testing.assert_allclose(dx, numerical_grad(f, x), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(dW, numerical_grad(f, W), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(db, numerical_grad(f, b), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("stride,padding", [(1, 1), (2, 1)])
def test_depthwise_backward_matches_finite_differences(stride, padding):
    x, W, b = RNG.normal(size=(2, 3, 5, 5)), RNG.normal(size=(3, 1, 3, 3)), RNG.normal(size=3)
    G = RNG.normal(size=conv.depthwise_conv2d(x, W, b, stride=stride, padding=padding).shape)

    def f():
        return float(np.sum(conv.depthwise_conv2d(x, W, b, stride=stride, padding=padding) * G))

    dx, dW, db = conv.depthwise_conv2d_backward(G, x, W, stride=stride, padding=padding)
    np.testing.assert_allclose(dx, numerical_grad(f, x), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(dW, numerical_grad(f, W), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(db, numerical_grad(f, b), rtol=1e-6, atol=1e-7)


def test_pool_and_relu6_backward_match_finite_differences():
    x = RNG.normal(size=(2, 2, 4, 4)) * 4 + 3   # values across both kinks, none exactly on one
    G = RNG.normal(size=(2, 2, 2, 2))
    gx = conv.avg_pool2d_backward(G, x.shape, 2)
    np.testing.assert_allclose(gx, numerical_grad(lambda: float(np.sum(conv.avg_pool2d(x, 2) * G)), x), atol=1e-7)
    G2 = RNG.normal(size=x.shape)
    np.testing.assert_allclose(conv.relu6_backward(G2, x),
                               numerical_grad(lambda: float(np.sum(conv.relu6(x) * G2)), x), atol=1e-6)


@pytest.mark.parametrize("call,match", [
    (lambda: conv.conv2d(np.ones((1, 2, 4, 4)), np.ones((1, 3, 3, 3))), r"W has 3 input channels"),
    (lambda: conv.conv2d(np.ones((1, 1, 2, 2)), np.ones((1, 1, 5, 5)), padding=1), "does not fit"),
    (lambda: conv.conv2d(np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3)), padding=2), r"padding must be in \[0, "),
    (lambda: conv.conv2d(np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3)), stride=0), r"stride must be in"),
    (lambda: conv.conv2d(np.ones((0, 1, 4, 4)), np.ones((1, 1, 3, 3))), r"x is empty"),
    (lambda: conv.conv2d(np.ones((1, 4, 4)), np.ones((1, 1, 3, 3))), r"x must be 4-D"),
    (lambda: conv.conv2d(np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3)), np.ones(2)), r"b must have shape"),
    (lambda: conv.depthwise_conv2d(np.ones((1, 2, 4, 4)), np.ones((3, 1, 3, 3))), r"depthwise W must have shape"),
    (lambda: conv.avg_pool2d(np.ones((1, 1, 3, 3)), 4), "does not fit"),
    (lambda: conv.conv2d(np.full((1, 1, 4, 4), np.nan), np.ones((1, 1, 3, 3))), "x contains NaN"),
])
def test_bad_input_is_refused_with_the_argument_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()

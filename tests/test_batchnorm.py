"""qlearn.networks.batchnorm: statistics against numpy, backprop against finite differences, folding exact in float."""
import numpy as np
import pytest

from qlearn.networks import conv
from qlearn.networks.batchnorm import (
    BatchNorm,
    batchnorm_backward,
    batchnorm_inference,
    batchnorm_train,
    fold_batchnorm,
)

RNG = np.random.default_rng(99)


def test_train_mode_normalizes_with_the_batch_statistics():
    x = RNG.normal(3.0, 2.0, size=(5, 3, 4, 4))
    gamma, beta = RNG.normal(size=3), RNG.normal(size=3)
    y, cache = batchnorm_train(x, gamma, beta, eps=1e-5)
    np.testing.assert_allclose(cache["mean"], x.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(cache["var"], x.var(axis=(0, 2, 3)), rtol=1e-12)
    # the reference formula, written out per channel with Python's statistics over a flat list
    for c in range(3):
        v = x[:, c].ravel()
        ref = gamma[c] * (v - v.mean()) / np.sqrt(v.var() + 1e-5) + beta[c]
        np.testing.assert_allclose(y[:, c].ravel(), ref, rtol=1e-10, atol=1e-12)
    y2, _ = batchnorm_train(x[:, :, 0, 0], gamma, beta)   # (batch, channels) works the same
    assert y2.shape == (5, 3)


def test_running_averages_follow_pytorch_semantics():
    # PyTorch BatchNorm2d (momentum 0.1): running = 0.9 running + 0.1 batch, variance unbiased (n / (n - 1))
    bn = BatchNorm.init(2)
    x = RNG.normal(size=(4, 2, 3, 3))
    bn.forward(x, train=True)
    m = 4 * 9
    np.testing.assert_allclose(bn.mean, 0.1 * x.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(bn.var, 0.9 + 0.1 * x.var(axis=(0, 2, 3)) * m / (m - 1), rtol=1e-12)
    y = bn.forward(x)   # inference: the running statistics
    np.testing.assert_allclose(y, batchnorm_inference(x, bn.gamma, bn.beta, bn.mean, bn.var), rtol=1e-12)


def numerical_grad(f, a, eps=1e-6):
    g = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        old = a[i]
        a[i] = old + eps
        fp = f()
        a[i] = old - eps
        fm = f()
        a[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g


@pytest.mark.parametrize("shape", [(3, 2, 3, 3), (6, 4)])
def test_backward_matches_finite_differences(shape):
    x = RNG.normal(size=shape)
    gamma, beta = RNG.normal(size=shape[1]), RNG.normal(size=shape[1])
    G = RNG.normal(size=shape)

    def f():
        return float(np.sum(batchnorm_train(x, gamma, beta, eps=1e-3)[0] * G))

    _, cache = batchnorm_train(x, gamma, beta, eps=1e-3)
    dx, dg, db = batchnorm_backward(G, cache)
    np.testing.assert_allclose(dx, numerical_grad(f, x), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(dg, numerical_grad(f, gamma), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(db, numerical_grad(f, beta), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("kind", ["conv", "depthwise", "dense"])
def test_folding_is_exact_in_float(kind):
    x = RNG.normal(size=(4, 3, 6, 6))
    gamma, beta = RNG.normal(size=3) * 2, RNG.normal(size=3)
    mean, var = RNG.normal(size=3), RNG.uniform(1e-4, 4.0, size=3)   # widely different variances
    if kind == "dense":
        X, W, b = x.reshape(4, -1)[:, :5], RNG.normal(size=(3, 5)), RNG.normal(size=3)
        z = X @ W.T + b
        Wf, bf = fold_batchnorm(W, b, gamma, beta, mean, var)
        folded = X @ Wf.T + bf
    else:
        dw = kind == "depthwise"
        W, b = RNG.normal(size=(3, 1 if dw else 3, 3, 3)), RNG.normal(size=3)
        f = conv.depthwise_conv2d if dw else conv.conv2d
        z = f(x, W, b, stride=2, padding=1)
        Wf, bf = fold_batchnorm(W, b, gamma, beta, mean, var)
        folded = f(x, Wf, bf, stride=2, padding=1)
    y = batchnorm_inference(z, gamma, beta, mean, var)
    np.testing.assert_allclose(folded, y, rtol=1e-6, atol=1e-9 * np.abs(y).max())


def test_folding_hand_case():
    # gamma / sqrt(var + eps) = 3 / sqrt(9) = 1: W unchanged; bias 1 * (2 - 5) + 4 = 1
    Wf, bf = fold_batchnorm(np.array([[2.0, -1.0]]), np.array([2.0]), np.array([3.0]), np.array([4.0]),
                            np.array([5.0]), np.array([9.0]), eps=0.0)
    assert Wf.tolist() == [[2.0, -1.0]] and bf.tolist() == [1.0]


@pytest.mark.parametrize("call,match", [
    (lambda: batchnorm_inference(np.ones((2, 2)), np.ones(2), np.zeros(2), np.zeros(2), np.array([1.0, -0.5])),
     "var must be >= 0"),
    (lambda: batchnorm_inference(np.ones((2, 2)), np.ones(2), np.zeros(2), np.zeros(2), np.array([1.0, 0.0]), eps=0),
     r"var\[1\] is 0 and eps is 0"),
    (lambda: batchnorm_train(np.ones((3, 2)), np.ones(2), np.zeros(2), eps=0), r"batch variance\[0\] is 0"),
    (lambda: batchnorm_train(np.ones((0, 2)), np.ones(2), np.zeros(2)), "empty batch"),
    (lambda: batchnorm_train(np.ones((3, 2)), np.ones(3), np.zeros(2)),
     r"gamma must have shape \(channels,\) = \(2,\)"),
    (lambda: batchnorm_train(np.ones((3, 2)), np.ones(2), np.zeros(2), eps=-1), "eps must be"),
    (lambda: fold_batchnorm(np.ones((2, 3)), None, np.ones(2), np.zeros(2), np.zeros(2), -np.ones(2)),
     "var must be >= 0"),
    (lambda: fold_batchnorm(np.ones((2, 3)), np.zeros(3), np.ones(2), np.zeros(2), np.zeros(2), np.ones(2)),
     r"b must have shape"),
    (lambda: BatchNorm(np.ones(2), np.zeros(2), np.zeros(2), np.array([0.0, 1.0]), eps=0.0), r"var\[0\] is 0"),
])
def test_bad_input_is_refused_with_the_argument_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()

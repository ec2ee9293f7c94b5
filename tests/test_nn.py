"""qlearn.networks.nn: forward pass, backprop against finite differences, training, the shipped weights."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qlearn.networks import nn
from qlearn.networks.data import load_digits


def tiny(seed=0, sizes=(5, 4, 3, 3)):
    rng = np.random.default_rng(seed)
    m = nn.init_mlp(sizes, rng=rng)
    for layer in m.layers:
        layer.b[:] = rng.normal(0, 0.1, layer.b.shape)
    X = rng.normal(size=(7, sizes[0]))
    y = rng.integers(0, sizes[-1], size=7)
    return m, X, y


def test_forward_matches_explicit_loops():
    m, X, _ = tiny()
    # a plain triple loop, independent of the vectorised forward
    h = X.tolist()
    for k, layer in enumerate(m.layers):
        out = []
        for row in h:
            z = [sum(layer.W[o, i] * row[i] for i in range(layer.n_in)) + layer.b[o] for o in range(layer.n_out)]
            out.append([max(v, 0.0) for v in z] if k < len(m.layers) - 1 else z)
        h = out
    logits, acts = m.forward(X, return_activations=True)
    np.testing.assert_allclose(logits, np.array(h), rtol=1e-12, atol=1e-12)
    assert len(acts) == 3 and acts[0] is not None and np.all(acts[1] >= 0)
    np.testing.assert_array_equal(m.predict(X), np.argmax(np.array(h), axis=1))


def test_softmax_cross_entropy_against_direct_formula():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(6, 4)) * 5
    y = rng.integers(0, 4, 6)
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    loss, d = nn.softmax_cross_entropy(logits, y)
    assert loss == pytest.approx(-np.mean(np.log(p[np.arange(6), y])), rel=1e-12)
    onehot = np.eye(4)[y]
    np.testing.assert_allclose(d, (p - onehot) / 6, atol=1e-15)
    # stable for huge logits
    loss_big, _ = nn.softmax_cross_entropy(logits + 1e4, y)
    assert loss_big == pytest.approx(loss, rel=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_backprop_matches_central_finite_differences(seed):
    m, X, y = tiny(seed)
    _, grads = m.loss_and_grads(X, y)
    eps = 1e-6
    for li, layer in enumerate(m.layers):
        for name, arr, g in (("W", layer.W, grads[li][0]), ("b", layer.b, grads[li][1])):
            num = np.zeros_like(arr)
            for idx in np.ndindex(arr.shape):
                old = arr[idx]
                arr[idx] = old + eps
                lp, _ = m.loss_and_grads(X, y)
                arr[idx] = old - eps
                lm, _ = m.loss_and_grads(X, y)
                arr[idx] = old
                num[idx] = (lp - lm) / (2 * eps)
            np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-8, err_msg=f"layer {li} {name}")


def test_sgd_step_is_p_minus_lr_g():
    m, X, y = tiny()
    d = type("D", (), dict(X_train=X, y_train=y, X_test=X, y_test=y))()
    before = m.copy()
    _, grads = before.loss_and_grads(X, y)
    after = nn.train(m, d, epochs=1, lr=0.1, batch_size=len(X), seed=0, optimizer="sgd")
    for L0, L1, (gW, gb) in zip(before.layers, after.layers, grads, strict=True):
        np.testing.assert_allclose(L1.W, L0.W - 0.1 * gW, atol=1e-14)
        np.testing.assert_allclose(L1.b, L0.b - 0.1 * gb, atol=1e-14)
    # the input model is not changed
    np.testing.assert_array_equal(m.layers[0].W, before.layers[0].W)


def test_adam_first_step_moves_each_parameter_by_lr():
    # bias-corrected Adam's first step is lr * g / (|g| + eps): -lr * sign(g) where g != 0
    p = np.array([1.0, -2.0, 3.0])
    g = np.array([0.5, -1e-3, 4.0])
    opt = nn.Adam([p], lr=0.01)
    opt.step([g])
    np.testing.assert_allclose(p, np.array([1.0, -2.0, 3.0]) - 0.01 * np.sign(g), atol=1e-7)


def test_params_and_size():
    m = nn.pretrained()
    assert m.sizes == nn.PRETRAINED_SIZES
    expected = sum(a * b + b for a, b in zip(m.sizes[:-1], m.sizes[1:], strict=True))
    assert m.n_params == expected == 6570
    assert m.size_bytes(32) == 4 * expected and m.size_bytes(8) == expected
    assert m.size_bytes(4) == expected // 2 and m.size_bytes(2) == -(-expected * 2 // 8)


def test_pretrained_accuracy_and_retraining_reproduces_it():
    d = load_digits()
    shipped = nn.pretrained()
    acc = shipped.accuracy(d.X_test, d.y_test)
    assert acc > 0.95
    retrained = nn.train(nn.PRETRAINED_SIZES, d, **nn.PRETRAINED_TRAINING)
    # same seed, same data: identical up to floating-point summation order of the BLAS in use;
    # we allow 1 point (5 of 539 test images) for a different machine
    assert abs(retrained.accuracy(d.X_test, d.y_test) - acc) <= 0.01
    assert retrained.accuracy(d.X_train, d.y_train) >= 0.99


def test_callback_reports_every_epoch():
    d = load_digits()
    seen = []
    nn.train((64, 8, 10), d, epochs=3, lr=1e-2, batch_size=128, seed=3, callback=seen.append)
    assert [s["epoch"] for s in seen] == [1, 2, 3] and all(s["epochs"] == 3 for s in seen)
    assert seen[-1]["loss"] < seen[0]["loss"]
    assert 0 <= seen[-1]["test_accuracy"] <= 1


def test_save_load_roundtrip(tmp_path):
    m, X, _ = tiny()
    m.save(tmp_path / "m.npz")
    m2 = nn.load_mlp(tmp_path / "m.npz")
    np.testing.assert_array_equal(m.forward(X), m2.forward(X))


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.1, 10))
def test_relu_network_is_positively_homogeneous_without_bias(seed, c):
    # with zero biases, f(c X) = c f(X) for c > 0 (ReLU is positively homogeneous)
    m = nn.init_mlp((6, 5, 4), rng=np.random.default_rng(seed))
    X = np.random.default_rng(seed + 1).normal(size=(3, 6))
    np.testing.assert_allclose(m.forward(c * X), c * m.forward(X), rtol=1e-10, atol=1e-10)


def test_bad_input():
    m, X, y = tiny()
    with pytest.raises(ValueError, match="X must have shape"):
        m.forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="X contains NaN"):
        m.forward(np.full((2, 5), np.nan))
    with pytest.raises(ValueError, match="X is empty"):
        m.forward(np.zeros((0, 5)))
    with pytest.raises(ValueError, match="y must have shape"):
        m.accuracy(X, y[:-1])
    with pytest.raises(ValueError, match="labels in"):
        m.accuracy(X, np.full(7, 9))
    with pytest.raises(ValueError, match="b must have shape"):
        nn.Dense(np.zeros((3, 2)), np.zeros(2))
    with pytest.raises(ValueError, match="W must be 2-D"):
        nn.Dense(np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="expects 4 inputs"):
        nn.MLP([nn.Dense(np.zeros((3, 2)), np.zeros(3)), nn.Dense(np.zeros((2, 4)), np.zeros(2))])
    with pytest.raises(ValueError, match="layers is empty"):
        nn.MLP([])
    with pytest.raises(ValueError, match="optimizer must be one of"):
        nn.train((5, 3), type("D", (), dict(X_train=X, y_train=y % 3))(), epochs=1, optimizer="rmsprop")
    with pytest.raises(ValueError, match="epochs must be in"):
        nn.train((5, 3), load_digits(), epochs=-1)
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        nn.train((5, 3), load_digits(), lr=0.0)
    with pytest.raises(ValueError, match="bits must be in"):
        m.size_bytes(0)

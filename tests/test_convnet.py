"""qlearn.networks.convnet: the MobileNet-style digits network, its folding, its integer path, and figures on any
CPU."""
import numpy as np
import pytest
from perturb import ulp_nudged

from qlearn.networks import conv, convnet, nn
from qlearn.networks.batchnorm import BatchNorm
from qlearn.networks.data import load_digits
from qlearn.ranges import affine

D = load_digits()
N_TEST = len(D.y_test)


def images(acc):
    return int(round(acc * N_TEST))


def figures():
    """Everything lesson 15 states from the shipped network, as whole test images (evaluation only)."""
    t = convnet.accuracy_table()
    f = {k: images(v) for k, v in t.items()}
    net = convnet.pretrained()
    for name, m, pc in (("folded pt", net.fold(), False), ("folded pc", net.fold(), True), ("unfolded pt", net, False)):
        f[f"sensitivity {name}"] = [images(a) for a in convnet.layer_sensitivity(m, D, bits=4, per_channel=pc)]
    return f


BASE = figures()


def test_shipped_network_shape_and_accuracy():
    net = convnet.pretrained()
    assert [L.kind for L in net.quant_layers()] == ["conv", "depthwise", "pointwise", "depthwise", "pointwise",
                                                    "dense"]
    assert [L.W.shape for L in net.quant_layers()] == [(8, 1, 3, 3), (8, 1, 3, 3), (16, 8, 1, 1), (16, 1, 3, 3),
                                                       (32, 16, 1, 1), (10, 32)]
    assert net.n_params == 1498 and not net.folded and net.fold().folded
    # evaluated with fixed-order sums: the same image count on every CPU (test_figures_do_not_move_* below)
    assert BASE["float"] == 509 and BASE["float_folded"] == 509


def test_shipped_accuracy_table():
    # the folded network, W8A8 / W6A8 / W4A8, per-tensor (False) and per-channel (True): exact integer path
    assert [BASE[True, False, b] for b in (8, 6, 4)] == [509, 508, 371]
    assert [BASE[True, True, b] for b in (8, 6, 4)] == [509, 507, 484]
    # batch norms left unfolded (float after the integer convolution): per-tensor 4-bit loses far less
    assert [BASE[False, False, b] for b in (8, 6, 4)] == [510, 512, 464]


def test_layer_sensitivity_at_four_bits():
    # one weight layer at 4 bits, the others 8-bit per-channel: the layers whose ranges folding spreads
    # (2: pointwise, 3: depthwise) are the ones a per-tensor scale hurts, and per-channel repairs them
    assert BASE["sensitivity folded pt"] == [498, 510, 481, 476, 504, 507]
    assert BASE["sensitivity folded pc"] == [497, 512, 500, 506, 504, 510]
    assert BASE["sensitivity unfolded pt"] == [497, 499, 488, 505, 505, 508]
    with pytest.raises(ValueError, match="lists of 6"):
        convnet.quantize(convnet.pretrained(), D.X_calib, weight_bits=[8, 8])


def test_folding_the_network_leaves_its_outputs_unchanged():
    net = convnet.pretrained()
    a, b = net.forward(D.X_test), net.fold().forward(D.X_test)
    np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-6 * np.abs(a).max())
    assert np.array_equal(np.argmax(a, 1), np.argmax(b, 1))
    # folding spreads the per-channel ranges of the first pointwise and the second depthwise layer
    # (elementwise products and maxima: exact on every CPU)
    ratios = [[round(float(r.max() / r.min()), 2) for r in map(convnet.channel_ranges, (a.W, b.W))]
              for a, b in zip(net.quant_layers(), net.fold().quant_layers(), strict=True)]
    assert ratios[2] == [2.06, 4.7] and ratios[3] == [3.17, 5.09]


def test_network_backward_matches_finite_differences():
    rng = np.random.default_rng(5)
    net = convnet.build((3, 4, 5), rng=rng)
    X, y = rng.random((6, 64)), rng.integers(0, 10, 6)

    def loss():
        logits = net.forward(X, train=True)
        return nn.softmax_cross_entropy(logits, y)[0]

    _, grads = net.loss_and_grads(X, y)
    params = net.params()
    for p, g in zip(params, grads, strict=True):
        for i in [np.unravel_index(k, p.shape) for k in rng.choice(p.size, size=min(3, p.size), replace=False)]:
            old = p[i]
            p[i] = old + 1e-6
            lp = loss()
            p[i] = old - 1e-6
            lm = loss()
            p[i] = old
            assert abs((lp - lm) / 2e-6 - g[i]) <= 1e-5 + 1e-4 * abs(g[i])


def test_integer_path_equals_the_float_simulation():
    """acc * s_x s_w computed in int64 against x_hat (*) W_hat + b_hat in float: same to rounding error."""
    net = convnet.pretrained().fold()
    for pc in (False, True):
        q = convnet.quantize(net, D.X_calib, weight_bits=4, act_bits=8, per_channel=pc)
        h = D.X_test[:50].reshape(-1, 1, 8, 8)
        for layer in q.layers:
            if isinstance(layer, convnet.QLayer):
                L = layer.layer
                x_hat = affine.fake_quantize(h, layer.act_qp)
                W_hat = affine.dequantize(layer.W_q, layer.W_qp)
                b_hat = affine.dequantize(layer.b_q, layer.bias_qp)
                if isinstance(L, convnet.Linear):
                    ref = x_hat.reshape(len(h), -1) @ W_hat.T + b_hat
                else:
                    f = conv.depthwise_conv2d if L.depthwise else conv.conv2d
                    ref = f(x_hat, W_hat, b_hat, stride=L.stride, padding=L.padding)
                got = layer.forward(h)
                np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-9 * np.abs(ref).max())
                h = got
            else:
                h = layer.forward(h)


def test_levels_used_against_brute_force():
    W = convnet.pretrained().fold().quant_layers()[3].W
    r = np.abs(W).reshape(16, -1).max(axis=1)
    s = r.max() / 127
    brute = np.array([len(np.unique(np.clip(np.round(np.linspace(-rc, rc, 2001) / s), -127, 127))) for rc in r])
    assert np.array_equal(convnet.levels_used(W, bits=8), brute)
    assert np.all(convnet.levels_used(W, bits=8, per_channel=True) == 255)
    assert np.all(convnet.levels_used(W, bits=4, per_channel=True) == 15)


def test_save_and_load_round_trip(tmp_path):
    net = convnet.pretrained()
    net.save(tmp_path / "n.npz")
    back = convnet.load(tmp_path / "n.npz")
    assert np.array_equal(back.forward(D.X_test[:20]), net.forward(D.X_test[:20]))
    assert sum(isinstance(L, BatchNorm) for L in back.layers) == 5


@pytest.mark.parametrize("call,match", [
    (lambda: convnet.pretrained().forward(np.ones((2, 63))), r"X must have shape \(batch, 64\)"),
    (lambda: convnet.pretrained().forward(np.ones((0, 64))), "X is empty"),
    (lambda: convnet.quantize(convnet.pretrained(), np.ones((0, 64))), "calib_data is empty"),
    (lambda: convnet.quantize(convnet.pretrained(), np.full((2, 64), np.nan)), "calib_data contains NaN"),
    (lambda: convnet.quantize(convnet.pretrained(), D.X_calib, weight_bits=1), "weight_bits must be in"),
    (lambda: convnet.build((8, 16), rng=np.random.default_rng(0)), "channels must be"),
    (lambda: convnet.Conv(np.ones((2, 3, 3, 3)), np.zeros(2), depthwise=True), "depthwise W"),
])
def test_bad_input_is_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def reversed_order(X, W):
    X, WT = np.asarray(X, dtype=np.float64), np.asarray(W, dtype=np.float64).T
    acc = X[:, -1:] * WT[-1]
    for k in range(WT.shape[0] - 2, -1, -1):
        acc = acc + X[:, k:k + 1] * WT[k]
    return acc


@pytest.mark.parametrize("order", [lambda X, W: np.asarray(X) @ np.asarray(W).T, reversed_order])
def test_figures_do_not_move_with_the_summation_order(monkeypatch, order):
    monkeypatch.setattr(nn, "fixed_order_matmul", order)
    assert figures() == BASE


def test_figures_do_not_move_with_one_ulp_on_every_float_weight(monkeypatch):
    load = convnet.load
    monkeypatch.setattr(convnet, "load", ulp_nudged(load, np.random.default_rng(0)))
    assert not np.array_equal(convnet.pretrained().params()[0], load(convnet.PRETRAINED_FILE).params()[0])
    assert figures() == BASE


@pytest.mark.slow
def test_retraining_from_the_seed_reproduces_the_shipped_accuracy(monkeypatch):
    """Training's BLAS product summed in another order stands in for another CPU."""
    monkeypatch.setattr(nn, "train_matmul", lambda A, B: reversed_order(A, np.asarray(B).T))
    net = convnet.train(D, **convnet.PRETRAINED_TRAINING)
    acc = net.accuracy(D.X_test, D.y_test)
    assert abs(acc - BASE["float"] / N_TEST) <= convnet.RETRAIN_TOLERANCE

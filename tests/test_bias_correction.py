"""Bias correction (qlearn.networks.bias_correction, lesson 16) and the repairs table.

References: Nagel et al. 2019 (arXiv:1906.04721), 'quantization bias correction': E[y_hat] - E[y] = eps E[x];
E[ReLU(z)] for z ~ N(mu, sigma^2) = sigma phi(mu / sigma) + mu Phi(mu / sigma). The clipped-ReLU mean is checked
against numerical integration of the Gaussian density and against sampling.
"""
import math

import numpy as np
import pytest
from perturb import ulp_nudged

from qlearn.networks import bias_correction as bc
from qlearn.networks import convnet, equalization
from qlearn.networks.convnet import QLayer
from qlearn.networks.data import load_digits


def _integrated_mean(mu, sigma, T):
    """E[min(max(z, 0), T)] by the trapezoid rule on a fine grid (12 standard deviations wide)."""
    z = np.linspace(mu - 12 * sigma, mu + 12 * sigma, 400_001)
    pdf = np.exp(-0.5 * ((z - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
    return float(np.trapezoid(np.clip(z, 0, T) * pdf, z))


@pytest.mark.parametrize("mu,sigma,T", [(0.0, 1.0, np.inf), (0.5, 2.0, 6.0), (-1.0, 0.7, 6.0), (5.0, 1.5, 6.0),
                                        (3.0, 1.0, np.inf), (-4.0, 1.0, np.inf), (2.0, 0.3, 2.2)])
def test_clipped_relu_mean_matches_numerical_integration(mu, sigma, T):
    assert abs(float(bc.clipped_relu_mean(mu, sigma, T)) - _integrated_mean(mu, sigma, T)) < 1e-9


def test_relu_mean_is_the_papers_formula():
    mu, sigma = np.array([-1.0, 0.0, 0.3, 2.0]), np.array([0.5, 1.0, 2.0, 0.1])
    want = [s * math.exp(-0.5 * (m / s) ** 2) / math.sqrt(2 * math.pi) + m * 0.5 * (1 + math.erf(m / s / math.sqrt(2)))
            for m, s in zip(mu, sigma)]
    assert np.allclose(bc.clipped_relu_mean(mu, sigma), want, rtol=1e-14, atol=1e-300)


def test_clipped_relu_mean_matches_sampling():
    rng = np.random.default_rng(0)
    z = rng.normal(1.0, 3.0, size=1_000_000)
    x = np.clip(z, 0, 6)
    se = x.std() / math.sqrt(x.size)
    assert abs(float(bc.clipped_relu_mean(1.0, 3.0, 6.0)) - x.mean()) < 5 * se


def test_analytical_matches_empirical_on_gaussian_synthetic_data():
    """A dense layer fed ReLU6(N(mu_c, sigma_c^2)): the predicted shift eps E[x] against the measured one.

    Tolerance: 5 standard errors of the measured mean of (eps x)_o over n samples.
    """
    rng = np.random.default_rng(1)
    n, c_in, c_out = 200_000, 12, 6
    mu, sigma = rng.uniform(-1, 3, c_in), rng.uniform(0.3, 2, c_in)
    X = np.clip(rng.normal(mu, sigma, size=(n, c_in)), 0, 6)
    W = rng.normal(size=(c_out, c_in))
    s = np.abs(W).max() / 7  # 4-bit per-tensor, narrow range
    eps = np.clip(np.round(W / s), -7, 7) * s - W
    per_sample = X @ eps.T
    measured = per_sample.mean(axis=0)
    predicted = bc.expected_shift(eps, bc.clipped_relu_mean(mu, sigma, 6.0))
    se = per_sample.std(axis=0) / math.sqrt(n)
    assert np.all(np.abs(predicted - measured) < 5 * se)
    assert np.abs(predicted).max() > 20 * se.max()  # the shift itself is far above the noise


def test_expected_shift_for_convolutions_sums_the_taps():
    rng = np.random.default_rng(2)
    eps, Ex = rng.normal(size=(3, 2, 3, 3)), np.array([0.5, 2.0])
    assert np.allclose(bc.expected_shift(eps, Ex), [sum(eps[o, i].sum() * Ex[i] for i in range(2)) for o in range(3)])
    dw = rng.normal(size=(2, 1, 3, 3))
    assert np.allclose(bc.expected_shift(dw, Ex, depthwise=True), [dw[0].sum() * 0.5, dw[1].sum() * 2.0])


def _layer_means(qnet, model, X):
    """Per-channel mean outputs of every weight layer in the quantized and the float network (own loop)."""
    h_q = h_f = X.reshape(-1, 1, 8, 8)
    out = {}
    for k, (ql, fl) in enumerate(zip(qnet.layers, model.layers)):
        h_q, h_f = ql.forward(h_q), fl.forward(h_f)
        if isinstance(ql, QLayer):
            ax = (0,) + tuple(range(2, h_q.ndim))
            out[k] = (h_q.mean(axis=ax), h_f.mean(axis=ax), np.asarray(ql.bias_qp.scale))
    return out


@pytest.mark.parametrize("per_channel", [False, True])
def test_empirical_correction_leaves_at_most_half_a_bias_step_of_shift(per_channel):
    d = load_digits()
    folded = convnet.pretrained().fold()
    q = convnet.quantize(folded, d.X_calib, weight_bits=4, per_channel=per_channel)
    fixed, shifts, residual = bc.empirical_bias_correction(q, folded, d.X_calib)
    before = _layer_means(q, folded, d.X_calib)
    after = _layer_means(fixed, folded, d.X_calib)
    assert sorted(after) == sorted(shifts) == [0, 2, 4, 6, 8, 11]
    for k, (mq, mf, step) in after.items():
        left = np.abs(mq - mf)
        assert np.all(left <= step / 2 * (1 + 1e-9) + 1e-12 * np.abs(mf).max()), k
        assert np.allclose(residual[k], mq - mf, rtol=0, atol=1e-12)
    # before the correction the shifts were far larger than a bias step
    worst_before = max(float(np.abs(mq - mf).max() / np.max(step)) for mq, mf, step in before.values())
    assert worst_before > 100


def test_analytical_correction_predicts_the_weight_error_shift_of_the_first_layer_it_touches():
    """Layer 2 (pointwise) of the 4-bit per-tensor network: predicted eps E[x] against the measured eps x mean.

    The statistics are the batch norms' running averages from training, and zero padding of the
    depthwise layer before shifts E[x] at the border, so agreement is approximate (stated: 30% of
    the largest shift, and the same sign where the shift is large).
    """
    d = load_digits()
    net = convnet.pretrained()
    folded, stats = net.fold(), equalization.preactivation_stats(net)
    q = convnet.quantize(folded, d.X_calib, weight_bits=4)
    _, predicted = bc.analytical_bias_correction(q, folded, stats)
    assert sorted(predicted) == [2, 4, 6, 8, 11]
    _, ins = folded.forward(d.X_calib, return_inputs=True)
    eps = bc.weight_error(q.layers[4])
    measured = bc.expected_shift(eps, ins[2].mean(axis=(0, 2, 3)))
    big = np.abs(measured) > 0.5 * np.abs(measured).max()
    assert np.abs(predicted[4] - measured).max() < 0.3 * np.abs(measured).max()
    assert np.all(np.sign(predicted[4][big]) == np.sign(measured[big]))


def test_repair_table_is_the_shipped_file_and_shows_the_repair():
    t = bc.repair_table()
    shipped = bc.load_repair_table()
    for name in bc.REPAIRS:
        for b in bc.TABLE_BITS:
            assert t[name, b] == shipped[name, b], (name, b)
    for k in ("float_folded", "float_cle", "float_cle_absorb", "float_relu", "n_test"):
        assert t[k] == shipped[k]
    n = {k: round(v * 539) for k, v in shipped.items() if isinstance(k, tuple)}
    assert round(shipped["float_folded"] * 539) == round(shipped["float_cle"] * 539) == 509
    assert [n["folded", b] for b in (8, 6, 4)] == [509, 508, 371]
    assert n["cle", 4] == n["cle_absorb", 4] == 488 and n["cle_absorb_bias_corr", 4] == 510
    assert n["per_channel", 4] == 484 and n["bias_corr", 4] == 489 and n["cle_absorb_analytic", 4] == 496
    assert set(t["seconds"]) and all(v >= 0 for v in t["seconds"].values())


def test_bad_input_is_refused_with_a_message():
    d = load_digits()
    folded = convnet.pretrained().fold()
    q = convnet.quantize(folded, d.X_calib, weight_bits=8)
    with pytest.raises(TypeError, match="qnet must be"):
        bc.empirical_bias_correction(folded, folded, d.X_calib)
    with pytest.raises(TypeError, match="model must be"):
        bc.empirical_bias_correction(q, "net", d.X_calib)
    with pytest.raises(ValueError, match="same layers"):
        bc.empirical_bias_correction(q, convnet.pretrained(), d.X_calib)
    with pytest.raises(ValueError, match="calib_data must have shape"):
        bc.empirical_bias_correction(q, folded, np.zeros((3, 5)))
    with pytest.raises(ValueError, match="std must be"):
        bc.clipped_relu_mean(0.0, -1.0)
    with pytest.raises(ValueError, match="ceiling must be"):
        bc.clipped_relu_mean(0.0, 1.0, -2.0)
    with pytest.raises(ValueError, match="Ex must have"):
        bc.expected_shift(np.zeros((2, 3)), np.zeros(2))


def test_batchnorm_reestimation_sets_the_statistics_of_the_quantized_networks_own_activations():
    d = load_digits()
    net = convnet.pretrained()
    m = bc.reestimate_batchnorm(net, d.X_calib, weight_bits=4)
    h = d.X_calib.reshape(-1, 1, 8, 8)
    n_bn = 0
    for layer in m.layers:
        if hasattr(layer, "gamma"):
            n_bn += 1
            assert np.allclose(layer.mean, h.mean(axis=(0, 2, 3)), rtol=1e-12, atol=1e-12)
            assert np.allclose(layer.var, h.var(axis=(0, 2, 3)), rtol=1e-12, atol=1e-12)
        h = layer.forward(h)
    assert n_bn == 5
    for a, b in zip(m.layers, net.layers):  # gamma and beta are kept
        if hasattr(a, "gamma"):
            assert np.array_equal(a.gamma, b.gamma) and np.array_equal(a.beta, b.beta)
    # the weights lie on the 4-bit grid: quantizing them again keeps them exactly
    q = convnet.quantize(m, d.X_calib, weight_bits=4)
    for L, ql in zip(m.quant_layers(), [layer for layer in q.layers if isinstance(layer, QLayer)], strict=True):
        assert np.array_equal(ql.W_q * ql.W_qp.scale, L.W) and np.abs(ql.W_q).max() == 7


def test_batchnorm_reestimation_repairs_the_unfolded_4_bit_network():
    """Unfolded deployment (integer convolutions, float batch norms), 4-bit per-tensor weights.

    Lesson 15: 464 of 539. Re-estimated with the quantized weights: 501 (stated within 2 images: the
    statistics are float means). Control: statistics re-estimated with (16-bit) unquantized weights
    give no gain, so the repair comes from measuring the *quantized* network, not from new data.
    """
    d = load_digits()
    net = convnet.pretrained()
    base = round(convnet.quantize(net, d.X_calib, weight_bits=4).accuracy(d.X_test, d.y_test) * 539)
    fixed = convnet.quantize(bc.reestimate_batchnorm(net, d.X_calib, weight_bits=4), d.X_calib, weight_bits=4)
    control = convnet.quantize(bc.reestimate_batchnorm(net, d.X_calib, weight_bits=16), d.X_calib, weight_bits=4)
    n_fixed = round(fixed.accuracy(d.X_test, d.y_test) * 539)
    n_control = round(control.accuracy(d.X_test, d.y_test) * 539)
    assert base == 464 and abs(n_fixed - 501) <= 2 and abs(n_control - base) <= 3
    with pytest.raises(ValueError, match="no batch norm"):
        bc.reestimate_batchnorm(net.fold(), d.X_calib)
    with pytest.raises(ValueError, match="weight_bits must be in"):
        bc.reestimate_batchnorm(net, d.X_calib, weight_bits=1)


def _reversed_order(X, W):
    X, WT = np.asarray(X, dtype=np.float64), np.asarray(W, dtype=np.float64).T
    acc = X[:, -1:] * WT[-1]
    for k in range(WT.shape[0] - 2, -1, -1):
        acc = acc + X[:, k:k + 1] * WT[k]
    return acc


def _counts(t):
    return {k: round(v * 539) for k, v in t.items() if isinstance(k, tuple) or k.startswith("float")}


@pytest.mark.slow
@pytest.mark.parametrize("order", [lambda X, W: np.asarray(X) @ np.asarray(W).T, _reversed_order])
def test_repair_figures_do_not_move_with_the_summation_order(monkeypatch, order):
    """Another CPU sums float products in another order: the shipped table's image counts stay."""
    from qlearn.networks import nn

    monkeypatch.setattr(nn, "fixed_order_matmul", order)
    assert _counts(bc.repair_table()) == _counts(bc.load_repair_table())


@pytest.mark.slow
def test_repair_figures_do_not_move_with_one_ulp_on_every_float_weight(monkeypatch):

    load = convnet.load
    monkeypatch.setattr(convnet, "load", ulp_nudged(load, np.random.default_rng(0)))
    assert not np.array_equal(convnet.pretrained().params()[0], load(convnet.PRETRAINED_FILE).params()[0])
    assert _counts(bc.repair_table()) == _counts(bc.load_repair_table())

"""Cross-layer equalization and high-bias absorption (qlearn.networks.equalization, lesson 16).

References: Nagel et al. 2019 (arXiv:1906.04721), sec. 4.1 (s_i = sqrt(r1_i r2_i) / r2_i makes both
ranges sqrt(r1_i r2_i)) and 'absorbing high biases' (c = max(0, beta - 3 gamma)). The float function is
compared with the original network evaluated on its own, and the ranges with math.sqrt per channel.
"""
import math

import numpy as np
import pytest

from qlearn.networks import convnet, equalization
from qlearn.networks.convnet import AvgPool, Conv, ConvNet, Linear, ReLU6
from qlearn.networks.data import load_digits
from qlearn.networks.equalization import ClippedReLU


def _rel(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


def _paired_ratio(net):
    """Largest |r1_i / r2_i - 1| over every pair, computed from the weights directly."""
    worst = 0.0
    for i, j in equalization.pairs(net):
        W1, L2 = net.layers[i].W, net.layers[j]
        r1 = np.abs(W1).reshape(W1.shape[0], -1).max(axis=1)
        if isinstance(L2, Conv) and L2.depthwise:
            r2 = np.abs(L2.W).reshape(L2.W.shape[0], -1).max(axis=1)
        else:
            r2 = np.array([np.abs(L2.W[:, c]).max() for c in range(L2.W.shape[1])])
        worst = max(worst, float(np.abs(r1 / r2 - 1).max()))
    return worst


def _small_net(rng, *, big=1.0):
    """stem 1->4 (pad 1), depthwise 4 (stride 2), pointwise 4->6, pool, dense 6->3, with ReLU6 between."""
    return ConvNet([
        Conv(big * rng.normal(size=(4, 1, 3, 3)) * rng.uniform(0.05, 3, size=(4, 1, 1, 1)), rng.normal(size=4),
             padding=1),
        ReLU6(),
        Conv(rng.normal(size=(4, 1, 3, 3)) * rng.uniform(0.05, 3, size=(4, 1, 1, 1)), rng.normal(size=4), stride=2,
             padding=1, depthwise=True),
        ReLU6(),
        Conv(rng.normal(size=(6, 4, 1, 1)) * rng.uniform(0.05, 3, size=(6, 1, 1, 1)), rng.normal(size=6)),
        ReLU6(),
        AvgPool(4),
        Linear(rng.normal(size=(3, 6)), rng.normal(size=3)),
    ])


def test_scales_are_the_papers_formula():
    r1, r2 = np.array([4.0, 1.0, 9.0, 2.0]), np.array([1.0, 4.0, 1.0, 2.0])
    s = equalization.equalization_scales(r1, r2)
    assert s.tolist() == [math.sqrt(a * b) / b for a, b in zip(r1, r2)]
    assert np.allclose(r1 / s, [math.sqrt(a * b) for a, b in zip(r1, r2)], rtol=1e-15)
    assert np.allclose(r2 * s, r1 / s, rtol=1e-15)


def test_one_isolated_pair_ends_at_the_geometric_mean_after_one_sweep():
    rng = np.random.default_rng(1)
    W1 = rng.normal(size=(5, 64)) * rng.uniform(0.01, 10, size=(5, 1))
    W2 = rng.normal(size=(3, 5))
    net = ConvNet([Linear(W1, rng.normal(size=5)), ClippedReLU.relu(5), Linear(W2, np.zeros(3))])
    eq = equalization.equalize(net)
    r1 = [float(np.abs(W1[c]).max()) for c in range(5)]
    r2 = [float(np.abs(W2[:, c]).max()) for c in range(5)]
    want = np.array([math.sqrt(a * b) for a, b in zip(r1, r2)])
    assert eq.sweeps == 1 and eq.pairs == [(0, 2)]
    assert np.allclose(equalization.output_ranges(eq.model.layers[0]), want, rtol=1e-14)
    assert np.allclose(equalization.input_ranges(eq.model.layers[2]), want, rtol=1e-14)
    X = rng.uniform(0, 16, size=(20, 64))
    assert _rel(eq.model.forward(X), net.forward(X)) < 1e-12


@pytest.mark.parametrize("seed", range(5))
def test_small_hand_networks_equalize_exactly_with_relu6_ceilings(seed):
    rng = np.random.default_rng(seed)
    net = _small_net(rng, big=4.0)  # large stem weights: ReLU6 clips, so its ceiling matters
    X = rng.uniform(0, 16, size=(30, 64))
    _, ins = net.forward(X, return_inputs=True)
    assert ins[1].max() == 6.0  # some activations are clipped at 6
    eq = equalization.equalize(net)
    assert eq.pairs == [(0, 2), (2, 4), (4, 7)]
    assert _paired_ratio(eq.model) < 1e-9
    assert _rel(eq.model.forward(X), net.forward(X)) < 1e-9
    # the ceilings are what keeps it exact: put them back at 6 and the function changes
    naive = eq.model.copy()
    for layer in naive.layers:
        if isinstance(layer, ClippedReLU):
            layer.ceiling = np.full(layer.ceiling.size, 6.0)
    assert _rel(naive.forward(X), net.forward(X)) > 1e-3


def test_the_shipped_network_equalizes_and_computes_the_same_function():
    d = load_digits()
    folded = convnet.pretrained().fold()
    eq = equalization.equalize(folded)
    assert eq.mismatch[0] > 0.5 and eq.mismatch[-1] < equalization.TOL
    assert _paired_ratio(eq.model) < 1e-9
    a, b = eq.model.forward(d.X_test), folded.forward(d.X_test)
    assert _rel(a, b) < 1e-9
    assert np.array_equal(np.argmax(a, axis=1), np.argmax(b, axis=1))
    # history: entry t holds the ranges after t sweeps; the last equals the model's
    assert len(eq.history) == eq.sweeps + 1 == len(eq.mismatch)
    for (i, j), (r1, r2) in zip(eq.pairs, eq.history[-1]):
        assert np.array_equal(r1, equalization.output_ranges(eq.model.layers[i]))
        assert np.array_equal(r2, equalization.input_ranges(eq.model.layers[j]))
    # cumulative scales: layer i's output channels were divided by scales[i]
    for i, _ in eq.pairs:
        assert np.allclose(eq.model.layers[i].b * eq.scales[i], folded.layers[i].b, rtol=1e-12, atol=1e-15)


def test_equalization_narrows_the_spread_that_folding_created():
    folded = convnet.pretrained().fold()
    eq = equalization.equalize(folded)
    before = convnet.channel_ranges(folded.layers[6].W)
    after = convnet.channel_ranges(eq.model.layers[6].W)
    assert before.max() / before.min() > 5 > after.max() / after.min()


def test_replacing_relu6_by_relu_changes_the_function_only_where_activations_exceeded_6():
    d = load_digits()
    folded = convnet.pretrained().fold()
    same = equalization.with_channel_ceilings(folded)
    assert np.array_equal(same.forward(d.X_test), folded.forward(d.X_test))
    relu = equalization.with_channel_ceilings(folded, relu=True)
    h, touched = d.X_test.reshape(-1, 1, 8, 8), np.zeros(len(d.y_test), bool)
    for layer in folded.layers:
        if isinstance(layer, ReLU6):
            touched |= np.any(h > 6.0, axis=tuple(range(1, h.ndim)))  # an image some ReLU6 clips
        h = layer.forward(h)
    diff = np.abs(relu.forward(d.X_test) - folded.forward(d.X_test)).max(axis=1)
    assert np.all(diff[~touched] == 0) and touched.sum() >= 1 and diff[touched].max() > 0


def _absorb_case(rng, *, second_padding=0):
    """A stem whose every output channel has a large positive bias, then a pointwise (or padded) layer."""
    W1 = rng.normal(size=(4, 1, 3, 3)) * 0.05
    b1 = np.array([3.0, 0.2, 2.5, 1.5])
    kh = 1 if second_padding == 0 else 3
    W2 = rng.normal(size=(5, 4, kh, kh))
    net = ConvNet([Conv(W1, b1, padding=1), ClippedReLU.relu6(4), Conv(W2, rng.normal(size=5), padding=second_padding),
                   ClippedReLU.relu(5), AvgPool(8), Linear(rng.normal(size=(2, 5)), np.zeros(2))])
    stats = {0: (b1.copy(), np.array([0.4, 0.4, 0.4, 0.4]))}
    return net, stats


def test_high_bias_absorption_is_exact_where_its_condition_holds():
    rng = np.random.default_rng(3)
    net, stats = _absorb_case(rng)
    new, new_stats, absorbed = equalization.absorb_high_bias(net, stats)
    c = np.maximum(0.0, stats[0][0] - 3 * stats[0][1])
    assert list(absorbed) == [0] and np.array_equal(absorbed[0], c) and c.tolist()[1] == 0.0 and c[0] > 1.5
    assert np.array_equal(new_stats[0][0], stats[0][0] - c)
    assert np.array_equal(new.layers[0].b, net.layers[0].b - c)
    X = rng.uniform(0, 2, size=(40, 64))
    _, ins = net.forward(X, return_inputs=True)
    z = net.layers[0].forward(ins[0])
    cc = c.reshape(1, -1, 1, 1)
    assert np.all((z >= cc) | (cc == 0))  # the exactness condition holds on this data (c = 0 changes nothing)
    assert _rel(new.forward(X), net.forward(X)) < 1e-9
    # ... and where it fails (pre-activations below c), the function changes
    low = net.copy()
    low.layers[0].b = net.layers[0].b - 2.0
    moved, _, _ = equalization.absorb_high_bias(low, stats)
    assert _rel(moved.forward(X), low.forward(X)) > 1e-3


def test_high_bias_absorption_skips_a_padded_second_layer():
    net, stats = _absorb_case(np.random.default_rng(4), second_padding=1)
    new, _, absorbed = equalization.absorb_high_bias(net, stats)
    assert absorbed == {} and np.array_equal(new.layers[0].b, net.layers[0].b)


def test_high_bias_absorption_finds_nothing_to_absorb_on_the_shipped_network():
    net = convnet.pretrained()
    stats = equalization.preactivation_stats(net)
    for mean, std in stats.values():
        assert float((mean - 3 * std).max()) < 0  # no channel has beta > 3 gamma
    eq = equalization.equalize(net.fold())
    new, _, absorbed = equalization.absorb_high_bias(eq.model, equalization.scale_stats(stats, eq.scales))
    assert absorbed == {}
    assert all(np.array_equal(a.b, b.b) for a, b in zip(new.quant_layers(), eq.model.quant_layers()))


def test_preactivation_stats_come_from_the_batch_norms():
    net = convnet.pretrained()
    stats = equalization.preactivation_stats(net)
    bns = [layer for layer in net.layers if hasattr(layer, "gamma")]
    assert sorted(stats) == [0, 2, 4, 6, 8]
    for k, bn in zip(sorted(stats), bns):
        assert np.array_equal(stats[k][0], bn.beta) and np.array_equal(stats[k][1], np.abs(bn.gamma))


def test_bad_input_is_refused_with_a_message():
    with pytest.raises(ValueError, match="batch norms folded"):
        equalization.equalize(convnet.pretrained())
    with pytest.raises(TypeError, match="model must be"):
        equalization.equalize("net")
    with pytest.raises(ValueError, match="max_sweeps must be in"):
        equalization.equalize(convnet.pretrained().fold(), max_sweeps=-1)
    with pytest.raises(ValueError, match="tol must be"):
        equalization.equalize(convnet.pretrained().fold(), tol=0)
    with pytest.raises(ValueError, match="ceiling must hold"):
        ClippedReLU([1.0, -2.0])
    with pytest.raises(ValueError, match="r1 and r2"):
        equalization.equalization_scales([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="n_std must be"):
        equalization.absorption_amounts({}, n_std=-1)
    with pytest.raises(ValueError, match="no batch norm"):
        equalization.preactivation_stats(convnet.pretrained().fold())
    with pytest.raises(ValueError, match="channels on axis 1"):
        ClippedReLU([1.0, 2.0]).forward(np.zeros((3, 4)))


def test_dead_channels_keep_scale_one():
    assert equalization.equalization_scales(np.array([0.0, 2.0]), np.array([3.0, 0.0])).tolist() == [1.0, 1.0]

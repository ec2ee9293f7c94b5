"""Batch norm folded during QAT: the equations of Jacob et al. 2018 (sec. 3.2) and Krishnamoorthi 2018
(sec. 3.2.1) on hand cases, float equivalence with batch norm, and what the correction buys."""
import numpy as np
import pytest

from qlearn.networks import batchnorm
from qlearn.networks.bn_folding_qat import fake_quantize_weights, folded_bn_forward


def _case(seed=0, n=16, i=5, o=4):
    rng = np.random.default_rng(seed)
    return dict(x=rng.normal(size=(n, i)), W=rng.normal(size=(o, i)), gamma=rng.uniform(0.5, 2, o),
                beta=rng.normal(size=o), running_mean=rng.normal(size=o), running_var=rng.uniform(0.5, 2, o))


def test_hand_case_follows_the_papers_equations():
    x = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]])
    W = np.array([[1.0, -1.0], [0.5, 0.5]])
    gamma, beta = np.array([2.0, 1.0]), np.array([0.0, 3.0])
    rm, rv = np.array([0.1, 0.2]), np.array([4.0, 0.25])
    # z = W x: [[1, .5], [-1, .5], [0, 2]]; batch mean (0, 1), biased variance (2/3, 1/2)
    sB = np.sqrt([2 / 3, 1 / 2])
    out = folded_bn_forward(x, W, gamma, beta, rm, rv, phase="batch", bits=None, eps=0.0)
    np.testing.assert_allclose(out["batch_mean"], [0.0, 1.0], atol=1e-15)
    np.testing.assert_allclose(out["W_fold"], [[2 / sB[0], -2 / sB[0]], [0.5 / sB[1], 0.5 / sB[1]]], rtol=1e-15)
    np.testing.assert_allclose(out["bias"], [0.0 - 2 * 0 / sB[0], 3.0 - 1 * 1 / sB[1]], rtol=1e-15)
    cor = folded_bn_forward(x, W, gamma, beta, rm, rv, phase="corrected", bits=None, eps=0.0)
    np.testing.assert_allclose(cor["W_fold"], [[2 / 2, -2 / 2], [0.5 / 0.5, 0.5 / 0.5]], rtol=1e-15)
    np.testing.assert_allclose(cor["correction"], [2 / sB[0], 0.5 / sB[1]], rtol=1e-15)
    fr = folded_bn_forward(x, W, gamma, beta, rm, rv, phase="frozen", bits=None, eps=0.0)
    np.testing.assert_allclose(fr["bias"], [0.0 - 2 * 0.1 / 2, 3.0 - 0.2 / 0.5], rtol=1e-15)
    np.testing.assert_array_equal(fr["running_mean"], rm)


@pytest.mark.parametrize("seed", range(5))
def test_without_quantization_folding_is_batch_norm(seed):
    c = _case(seed)
    z = c["x"] @ c["W"].T
    y_train, _ = batchnorm.batchnorm_train(z, c["gamma"], c["beta"])
    for phase in ("batch", "corrected"):
        out = folded_bn_forward(**c, phase=phase, bits=None)
        np.testing.assert_allclose(out["y"], y_train, rtol=1e-10, atol=1e-12)
    y_inf = batchnorm.batchnorm_inference(z, c["gamma"], c["beta"], c["running_mean"], c["running_var"])
    np.testing.assert_allclose(folded_bn_forward(**c, phase="frozen", bits=None)["y"], y_inf, rtol=1e-10, atol=1e-12)


def test_running_statistics_update_as_the_batch_norm_layer_does():
    c = _case(3)
    bn = batchnorm.BatchNorm(c["gamma"].copy(), c["beta"].copy(), c["running_mean"].copy(), c["running_var"].copy())
    bn.forward(c["x"] @ c["W"].T, train=True)
    out = folded_bn_forward(**c, phase="batch", bits=8)
    np.testing.assert_allclose(out["running_mean"], bn.mean, rtol=1e-12)
    np.testing.assert_allclose(out["running_var"], bn.var, rtol=1e-12)


@pytest.mark.parametrize("bits, per_channel", [(8, True), (4, True), (4, False), (2, True)])
def test_the_weights_used_are_the_folded_weights_on_the_integer_grid(bits, per_channel):
    c = _case(1)
    out = folded_bn_forward(**c, bits=bits, per_channel=per_channel)
    amax = np.abs(out["W_fold"]).max(axis=1, keepdims=True) if per_channel else np.abs(out["W_fold"]).max()
    step = amax / (2 ** (bits - 1) - 1)
    codes = out["W_q"] / step
    np.testing.assert_allclose(codes, np.round(codes), atol=1e-9)
    assert np.abs(np.round(codes)).max() <= 2 ** (bits - 1) - 1
    assert np.all(np.abs(out["W_q"] - out["W_fold"]) <= step / 2 + 1e-12)


def test_the_correction_keeps_the_quantized_weights_still_from_batch_to_batch():
    c = _case(2)
    other = dict(c, x=np.random.default_rng(9).normal(size=c["x"].shape) * 1.7 + 0.3)
    b1, b2 = (folded_bn_forward(**d, phase="batch", bits=4) for d in (c, other))
    c1, c2 = (folded_bn_forward(**d, phase="corrected", bits=4) for d in (c, other))
    assert not np.allclose(b1["W_q"], b2["W_q"])      # folded with sigma_B: the grid moves every batch
    np.testing.assert_array_equal(c1["W_q"], c2["W_q"])  # folded with the running sigma: it does not


def test_bad_input_is_named():
    c = _case(0)
    with pytest.raises(ValueError, match="phase must be one of"):
        folded_bn_forward(**c, phase="train")
    with pytest.raises(ValueError, match="same in"):
        folded_bn_forward(**dict(c, W=np.ones((4, 3))))
    with pytest.raises(ValueError, match="at least 2 rows"):
        folded_bn_forward(**dict(c, x=c["x"][:1]))
    with pytest.raises(ValueError, match=r"gamma must have shape \(4,\)"):
        folded_bn_forward(**dict(c, gamma=np.ones(3)))
    with pytest.raises(ValueError, match="momentum"):
        folded_bn_forward(**c, momentum=1.5)
    with pytest.raises(ValueError, match="bits"):
        fake_quantize_weights(np.ones((2, 2)), 1)
    with pytest.raises(ValueError, match="x"):
        folded_bn_forward(**dict(c, x=np.full((4, 5), np.nan)))


def test_weight_code_changes_counts_codes_that_move():
    c = _case(4)
    x_b = np.random.default_rng(5).normal(size=c["x"].shape) * 2.0
    args = (c["x"], x_b, c["W"], c["gamma"], c["beta"], c["running_mean"], c["running_var"])
    from qlearn.networks.bn_folding_qat import weight_code_changes

    assert weight_code_changes(*args, phase="corrected", bits=4) == 0
    assert weight_code_changes(*args, phase="frozen", bits=4) == 0
    n = weight_code_changes(*args, phase="batch", bits=4)
    a = folded_bn_forward(c["x"], *args[2:], phase="batch", bits=4, per_channel=False)
    b = folded_bn_forward(x_b, *args[2:], phase="batch", bits=4, per_channel=False)
    qa = np.round(a["W_q"] / (np.abs(a["W_fold"]).max() / 7))
    qb = np.round(b["W_q"] / (np.abs(b["W_fold"]).max() / 7))
    assert n == int((qa != qb).sum()) > 0


# -- a short QAT run of lesson 15's network through the folded graph ---------------------------------
def test_folded_training_graph_without_quantization_is_the_networks_training_pass():
    """bits=None: the folded graph computes the batch-normalized convolution, so the straight-through
    backward (the float caches) is the exact gradient; running statistics update as the batch norms do."""
    from qlearn.networks import convnet
    from qlearn.networks.bn_folding_qat import _folded_forward
    from qlearn.networks.data import load_digits

    X = load_digits().X_train[:24]
    ref = convnet.pretrained()
    logits = ref.forward(X, train=True)
    for phase in ("batch", "corrected"):
        m = convnet.pretrained()
        out = _folded_forward(m, X, phase=phase, bits=None, per_channel=False)
        np.testing.assert_allclose(out, logits, rtol=1e-9, atol=1e-12)
        for a, b in zip(m.layers, ref.layers):
            if isinstance(a, batchnorm.BatchNorm):
                np.testing.assert_allclose(a.mean, b.mean, rtol=1e-12, atol=1e-15)
    m = convnet.pretrained()
    q = _folded_forward(m, X, phase="corrected", bits=4, per_channel=False)
    assert np.abs(q - logits).max() > 1e-3          # 4-bit folded weights change the output


def test_shipped_folded_qat_study():
    from qlearn.networks import bn_folding_qat as bq
    from qlearn.networks import convnet
    from qlearn.networks.data import load_digits

    s = bq.load_folded_qat_study()
    n = np.round(s["test_accuracy"] * 539).astype(int)
    assert [str(r) for r in s["runs"]] == list(bq.FOLDED_QAT_RUNS) and s["epoch"].tolist() == [0, 1, 2]
    d = load_digits()
    ptq = convnet.quantize(convnet.pretrained().fold(), d.X_calib, weight_bits=4).accuracy(d.X_test, d.y_test)
    assert np.all(s["test_accuracy"][:, 0] == ptq) and n[0, 0] == 371     # epoch 0: lesson 15's PTQ, exact
    batch, corrected, control = n
    assert corrected[-1] - control[-1] > 60 and corrected[-1] - n[0, 0] > 100   # the quantizer in the loop matters
    assert corrected[1] - batch[1] > 50                                        # the corrected fold settles first


@pytest.mark.slow
def test_folded_qat_reproduces_the_shipped_corrected_run():
    from qlearn.networks import bn_folding_qat as bq

    s = bq.load_folded_qat_study()
    _, h = bq.folded_qat(phase="corrected", **bq.FOLDED_QAT_TRAINING)
    np.testing.assert_allclose(h["test_accuracy"], s["test_accuracy"][1], atol=bq.FOLDED_QAT_TOLERANCE)


def test_folded_qat_bad_input():
    from qlearn.networks import bn_folding_qat as bq
    from qlearn.networks import convnet

    with pytest.raises(ValueError, match="phase must be 'batch' or 'corrected'"):
        bq.folded_qat(phase="frozen")
    with pytest.raises(ValueError, match="unfolded"):
        bq.folded_qat(convnet.pretrained().fold())

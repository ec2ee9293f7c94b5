"""AdaRound (qlearn.networks.adaround) against finite differences, brute force and round-to-nearest."""
import itertools

import numpy as np
import pytest

from qlearn.networks import adaround as A
from qlearn.networks import conv, convnet
from qlearn.networks.data import load_digits


def _layer(seed, *, correlated=True):
    """A seeded random layer: W (out, in) and calibration inputs, correlated and shifted like real activations."""
    rng = np.random.default_rng(seed)
    out, n_in = int(rng.integers(1, 12)), int(rng.integers(2, 24))
    W = rng.normal(size=(out, n_in)) * rng.uniform(0.1, 3)
    X = rng.normal(size=(200, n_in))
    if correlated:
        X = X @ rng.normal(size=(n_in, n_in)) + rng.normal(size=n_in)
    if seed % 2:
        X = np.maximum(X, 0.0)  # after a ReLU
    return W, X


def test_rectified_sigmoid_and_the_papers_initialisation():
    V = np.linspace(-8, 8, 101)
    h = A.rectified_sigmoid(V)
    ref = np.clip(1.2 / (1 + np.exp(-V)) - 0.1, 0, 1)
    np.testing.assert_allclose(h, ref, rtol=0, atol=1e-15)
    assert h.min() == 0.0 and h.max() == 1.0  # reached at finite V: the point of the stretch
    W = np.random.default_rng(0).normal(size=(5, 7))
    for s in (0.1, 0.37):
        np.testing.assert_allclose(A.rectified_sigmoid(A.init_V(W, s)), W / s - np.floor(W / s), atol=1e-12)
        np.testing.assert_allclose(A.soft_weights(W, A.init_V(W, s), s, -1000, 1000), W, atol=1e-12)


def test_beta_schedule_warm_start_then_linear_from_20_to_2():
    betas = [A.beta_schedule(t, 1000) for t in range(1000)]
    assert all(b is None for b in betas[:200]) and betas[200] == 20.0
    assert np.all(np.diff(betas[200:]) < 0) and abs(betas[-1] - 2.0) < 0.03


@pytest.mark.parametrize("per_row", [False, True])
@pytest.mark.parametrize("per_channel", [False, True])
def test_gradient_matches_central_finite_differences(per_row, per_channel):
    rng = np.random.default_rng(1)
    W = rng.normal(size=(4, 6))
    shape = (4, 30, 6) if per_row else (30, 6)
    X, Xf = rng.normal(size=shape), rng.normal(size=shape)
    scale, qmin, qmax = A.weight_scale(W, bits=3, per_channel=per_channel)
    V = rng.uniform(-2.0, 2.0, size=W.shape)  # h strictly inside (0, 1): no clip kink
    lam, beta = 0.3, 3.5
    rec, reg, dV = A.loss_and_grad(V, W, X, scale, qmin=qmin, qmax=qmax, lam=lam, beta=beta, X_float=Xf)

    def total(V):
        W_soft = A.soft_weights(W, V, scale, qmin, qmax)
        return A.output_error(W, W_soft, X, X_float=Xf) + lam * A.regularizer(A.rectified_sigmoid(V), beta)

    assert rec + lam * reg == pytest.approx(total(V), rel=1e-10)
    eps = 1e-6
    fd = np.zeros_like(V)
    for idx in np.ndindex(V.shape):
        e = np.zeros_like(V)
        e[idx] = eps
        fd[idx] = (total(V + e) - total(V - e)) / (2 * eps)
    np.testing.assert_allclose(dV, fd, rtol=1e-5, atol=1e-7)
    # warm start: no regularizer
    rec0, reg0, dV0 = A.loss_and_grad(V, W, X, scale, qmin=qmin, qmax=qmax, beta=None, X_float=Xf)
    assert reg0 == 0.0 and rec0 == pytest.approx(rec)


def test_gradient_is_zero_where_a_clip_is_active():
    W = np.array([[0.95, 0.1]])
    X = np.eye(2)
    V = np.array([[8.0, 0.0]])  # h(8) = 1 exactly: the rectified sigmoid is flat there
    _, _, dV = A.loss_and_grad(V, W, X, 0.1, qmin=-9, qmax=9, lam=0.0, beta=None)
    assert dV[0, 0] == 0.0 and dV[0, 1] != 0.0


@pytest.mark.parametrize("bits", [2, 3, 4])
def test_codes_are_floor_or_ceil_and_error_stays_at_or_below_rtn(bits):
    ratios = []
    for seed in range(24):
        W, X = _layer(seed)
        for pc in (False, True):
            r = A.adaround_layer(W, X, bits=bits, per_channel=pc, iters=600)
            lo = np.floor(W / r.scale)
            assert np.all((r.q == lo) | (r.q == lo + 1)), "a code moved further than floor/ceil"
            assert np.all((r.q >= r.qmin) & (r.q <= r.qmax))
            np.testing.assert_array_equal(r.q_rtn, np.clip(np.rint(W / r.scale), r.qmin, r.qmax))
            assert r.error == pytest.approx(A.output_error(W, r.scale * r.q, X), rel=1e-9, abs=1e-12)
            assert r.error_rtn == pytest.approx(A.output_error(W, r.scale * r.q_rtn, X), rel=1e-9, abs=1e-12)
            ratios.append(r.error / r.error_rtn)
    ratios = np.array(ratios)
    # Not a theorem: the relaxation is optimised, not the hard rounding. Measured worst 1.03 (see report).
    assert ratios.max() <= 1.05, ratios.max()
    assert np.mean(ratios <= 1 + 1e-12) >= 0.95
    assert ratios.mean() < 0.85


def test_hard_rounding_error_falls_from_rtn_and_h_ends_binary():
    rng = np.random.default_rng(7)
    W = rng.normal(size=(8, 16))
    X = rng.normal(size=(300, 16)) @ rng.normal(size=(16, 16))
    r = A.adaround_layer(W, X, bits=3, iters=1000)
    hist = r.history
    assert hist["error_hard"][0] == pytest.approx(r.error_rtn)   # h = frac(W/s): h >= 0.5 is RTN
    assert hist["rec"][0] == pytest.approx(0.0, abs=1e-9 * r.error_rtn)  # soft weights start equal to W
    assert hist["error_hard"][-1] == pytest.approx(r.error) and r.error < 0.8 * r.error_rtn
    h = hist["h"][-1]
    assert np.mean((h == 0) | (h == 1)) > 0.95
    assert np.all(np.isnan(hist["beta"][hist["iteration"] < 200]))
    assert np.all(hist["reg"][hist["iteration"] < 200] == 0)


def test_with_quantized_inputs_the_reconstruction_term_decreases():
    """Inputs from already-quantized layers: the soft weights start with an error, and AdaRound reduces it."""
    rng = np.random.default_rng(7)
    W = rng.normal(size=(6, 10))
    Xf = np.maximum(rng.normal(size=(300, 10)) @ rng.normal(size=(10, 10)), 0)
    Xq = Xf + 0.2 * rng.normal(size=Xf.shape)
    r = A.adaround_layer(W, Xq, X_float=Xf, bits=4, iters=800)
    warm = r.history["iteration"] <= 160  # the warm start: reconstruction alone
    rec = r.history["rec"][warm]
    assert rec[-1] < 0.99 * rec[0] and np.all(np.diff(rec) <= 1e-9 * rec[0])
    assert r.error < r.error_rtn


# Brute force over every up/down choice of a tiny layer (1 x 6, correlated inputs).
#: Measured on the 16 seeds below: AdaRound reaches the exhaustive optimum on 10 (2 bits) and 8 (3 bits)
#: of them and is never worse than RTN; its worst case is 1.52x (2 bits) and 4.54x (3 bits: a layer where it
#: stayed at RTN, itself 4.54x the optimum) the optimum's output error.
BRUTE_FORCE_MARGIN = {2: 1.6, 3: 4.6}


@pytest.mark.parametrize("bits", [2, 3])
def test_tiny_layers_against_brute_force_over_all_2_to_the_6_roundings(bits):
    ratio, ratio_rtn = [], []
    for seed in range(16):
        rng = np.random.default_rng(100 + seed)
        W = rng.normal(size=(1, 6))
        X = rng.normal(size=(50, 6)) @ rng.normal(size=(6, 6))
        r = A.adaround_layer(W, X, bits=bits, iters=800)
        lo = np.floor(W / r.scale)
        best = min(A.output_error(W, r.scale * np.clip(lo + np.array(ups), r.qmin, r.qmax), X)
                   for ups in itertools.product((0, 1), repeat=6))
        assert r.error >= best * (1 - 1e-9) and r.error_rtn >= best * (1 - 1e-9)  # nothing beats the optimum
        ratio.append(r.error / best)
        ratio_rtn.append(r.error_rtn / best)
    ratio, ratio_rtn = np.array(ratio), np.array(ratio_rtn)
    assert np.all(ratio <= ratio_rtn * (1 + 1e-9))
    assert ratio.max() <= BRUTE_FORCE_MARGIN[bits], ratio.max()
    assert np.sum(ratio <= 1 + 1e-9) >= 8
    assert np.sum(ratio - 1) < 0.7 * np.sum(ratio_rtn - 1)  # most of RTN's excess is gone


def test_minibatches_are_seeded():
    W, X = _layer(5)
    a = A.adaround_layer(W, X, bits=3, iters=200, batch_size=32, seed=4)
    b = A.adaround_layer(W, X, bits=3, iters=200, batch_size=32, seed=4)
    c = A.adaround_layer(W, X, bits=3, iters=200, batch_size=32, seed=5)
    np.testing.assert_array_equal(a.history["h"], b.history["h"])
    assert not np.array_equal(a.history["h"], c.history["h"])


def test_bad_input_is_named():
    W, X = np.ones((2, 3)), np.ones((5, 3))
    with pytest.raises(ValueError, match="W must be 2-D"):
        A.adaround_layer(np.ones(3), X)
    with pytest.raises(ValueError, match="X must have shape"):
        A.adaround_layer(W, np.ones((5, 4)))
    with pytest.raises(ValueError, match="bits must be in"):
        A.adaround_layer(W, X, bits=1)
    with pytest.raises(ValueError, match="lam must be"):
        A.adaround_layer(W, X, lam=-1.0)
    with pytest.raises(ValueError, match="warmup must be"):
        A.adaround_layer(W, X, warmup=1.0)
    with pytest.raises(ValueError, match="batch_size must be in"):
        A.adaround_layer(W, X, batch_size=6)
    with pytest.raises(TypeError, match="iters must be an integer"):
        A.adaround_layer(W, X, iters=1.5)
    with pytest.raises(ValueError, match="contains NaN"):
        A.adaround_layer(W, np.full((5, 3), np.nan))
    with pytest.raises(TypeError, match="model must be"):
        A.adaround_convnet("net", np.zeros((2, 64)))
    with pytest.raises(ValueError, match="fold it first"):
        A.adaround_convnet(convnet.pretrained(), np.zeros((2, 64)))


def test_conv_gemm_reproduces_every_layer_of_the_network():
    net = convnet.pretrained().fold()
    x = np.abs(np.random.default_rng(0).normal(size=(3, 1, 8, 8)))
    _, inputs = net.forward(x, return_inputs=True)
    for L, h in zip(net.quant_layers(), inputs):
        W, X = A.conv_gemm(L, h)
        y = L.forward(h)
        if isinstance(L, convnet.Linear):
            np.testing.assert_allclose(X @ W.T + L.b, y, atol=1e-9)
            continue
        n, c, oh, ow = y.shape
        if L.depthwise:
            Y = np.einsum("ci,cni->nc", W, X)
            y_ref = conv.depthwise_conv2d_direct(h, L.W, L.b, stride=L.stride, padding=L.padding)
        else:
            Y = X @ W.T
            y_ref = conv.conv2d_direct(h, L.W, L.b, stride=L.stride, padding=L.padding)
        Y = Y.reshape(n, oh, ow, c).transpose(0, 3, 1, 2) + L.b[None, :, None, None]
        np.testing.assert_allclose(Y, y_ref, atol=1e-9)


@pytest.fixture(scope="module")
def digits():
    return load_digits()


@pytest.mark.parametrize("bits,per_channel", list(A.EXPECTED_ACCURACY))
def test_network_accuracy_beats_rtn_and_matches_the_stated_figure(digits, bits, per_channel):
    net = convnet.pretrained().fold()
    q = A.adaround_convnet(net, digits.X_calib, weight_bits=bits, per_channel=per_channel)
    rtn = convnet.quantize(net, digits.X_calib, weight_bits=bits, per_channel=per_channel)
    acc = q.accuracy(digits.X_test, digits.y_test)
    assert abs(acc - A.EXPECTED_ACCURACY[bits, per_channel]) <= A.ACCURACY_TOLERANCE
    # RTN on the exact integer path: pinned exactly.
    assert rtn.accuracy(digits.X_test, digits.y_test) == A.RTN_ACCURACY[bits, per_channel]
    assert acc > rtn.accuracy(digits.X_test, digits.y_test)
    for k, (ql, r) in enumerate(zip([lay for lay in q.layers if isinstance(lay, convnet.QLayer)], q.results)):
        np.testing.assert_array_equal(ql.W_q.reshape(r.q.shape), r.q)
        lo = np.floor(r.W / r.scale)
        np.testing.assert_array_equal(q.masks[k].reshape(r.q.shape), r.q > lo)
        assert r.error < r.error_rtn, f"layer {k}"


def test_output_error_per_row_adds_up_to_output_error():
    rng = np.random.default_rng(2)
    W, W_hat = rng.normal(size=(5, 7)), rng.normal(size=(5, 7))
    for shape in ((40, 7), (5, 40, 7)):
        X, Xf = rng.normal(size=shape), rng.normal(size=shape)
        per_row = A.output_error_per_row(W, W_hat, X, X_float=Xf)
        assert per_row.shape == (5,)
        assert per_row.sum() == pytest.approx(A.output_error(W, W_hat, X, X_float=Xf), rel=1e-12)


def test_explorer_sweeps_every_iteration_and_shows_what_qlearn_computes():
    from qlearn.viz.networks import adaround as V

    ex = V.adaround_explorer()
    tr = ex.trajectory
    r = tr.result
    W, Xq, Xf = A.convnet_layer_problem(4, bits=4)
    assert r.error < r.error_rtn
    assert r.error_rtn == pytest.approx(A.output_error(W, r.scale * r.q_rtn, Xq, X_float=Xf), rel=1e-9)
    s = ex.controls["iteration"]
    for value in range(s.min, s.max + 1, s.step):
        s.value = value
        assert ex.last_error is None
        i = tr.index(value)
        assert tr.iteration[i] == value
        f = tr.flipped[i]
        np.testing.assert_array_equal(ex.fig.data[7].x, tr.frac[f])
        np.testing.assert_array_equal(ex.fig.data[9].y, tr.row_error[i])
        assert ex.fig.data[9].y.sum() == pytest.approx(r.history["error_hard"][i], rel=1e-9)
        assert f"<b>{int(f.sum())}</b> of {f.size} codes" in ex.readout.value
        for trace in ex.fig.data:
            for attr in ("x", "y"):
                val = getattr(trace, attr)
                if val is not None:
                    assert np.all(np.isfinite(np.asarray(val, dtype=float)))
    s.value = 0
    assert tr.flipped[0].sum() == 0        # the start is round-to-nearest
    s.value = s.max
    np.testing.assert_array_equal(tr.q[-1], r.q.ravel())

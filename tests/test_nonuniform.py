"""qlearn.numbers.nonuniform: k-means vs a plain Lloyd loop, log2 vs brute force, XNOR/TWN scales vs 1-D
minimisation."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qlearn.networks import nn
from qlearn.networks.data import load_digits
from qlearn.networks.nn import pretrained
from qlearn.numbers import nonuniform as nu

D = load_digits()
M = pretrained()


def plain_lloyd(x, centroids, n_iter):
    """Lloyd's algorithm written with Python loops: assign to nearest (lower index on ties), move to mean."""
    c = list(centroids)
    for _ in range(n_iter):
        groups = [[] for _ in c]
        for v in x:
            d = [abs(v - ci) for ci in c]
            groups[d.index(min(d))].append(v)
        new = [sum(g) / len(g) if g else ci for g, ci in zip(groups, c, strict=True)]
        if new == c:
            break
        c = new
    return sorted(c)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("bits", [1, 2, 3])
def test_kmeans_matches_plain_lloyd(seed, bits):
    x = np.random.default_rng(seed).normal(size=40) ** 3  # skewed, with outliers
    cb = nu.kmeans_codebook(x, bits, n_iter=200)
    ref = plain_lloyd(x.tolist(), np.linspace(x.min(), x.max(), 2**bits).tolist(), 200)
    np.testing.assert_allclose(cb.centroids, np.unique(ref), rtol=1e-12, atol=1e-12)


def test_kmeans_initialisations():
    W = M.layers[0].W.ravel()
    lin = nu.kmeans_codebook(W, 3, init="linear", n_iter=0)
    dens = nu.kmeans_codebook(W, 3, init="density", n_iter=0)
    # Han et al. 2016: linear initialisation starts centroids out in the tails, where the rare
    # large weights are; density (quantile) initialisation starts them where most weights are
    np.testing.assert_allclose(lin.centroids, np.linspace(W.min(), W.max(), 8))
    np.testing.assert_allclose(dens.centroids, np.quantile(W, (np.arange(8) + 0.5) / 8))
    assert lin.centroids.max() - lin.centroids.min() > dens.centroids.max() - dens.centroids.min()
    rnd1 = nu.kmeans_codebook(W, 2, init="random", rng=np.random.default_rng(0))
    rnd2 = nu.kmeans_codebook(W, 2, init="random", rng=np.random.default_rng(0))
    np.testing.assert_array_equal(rnd1.centroids, rnd2.centroids)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-10, 10), min_size=2, max_size=60), st.integers(1, 4))
def test_kmeans_never_worse_than_its_linear_start(values, bits):
    x = np.array(values)
    cb = nu.kmeans_codebook(x, bits)
    sse = np.sum((x - cb(x)) ** 2)
    grid = np.unique(np.linspace(x.min(), x.max(), 2**bits))
    start = np.sum((x - grid[np.abs(x[:, None] - grid[None, :]).argmin(1)]) ** 2)
    assert sse <= start + 1e-9 * (1 + start)
    assert cb.centroids.size <= 2**bits and np.all(np.diff(cb.centroids) > 0)
    np.testing.assert_array_equal(cb.encode(cb.centroids), np.arange(cb.centroids.size))


def brute_log2(v, bits, e_max):
    """Miyashita et al.'s rule, one value at a time: nearest exponent in the log domain, clipped;
    flush to zero below half the smallest level."""
    n_exp = 2 ** (bits - 1) - 1
    e_min = e_max - n_exp + 1
    if abs(v) < 2.0 ** (e_min - 1):
        return 0.0
    lg = math.log2(abs(v))
    best = min(range(e_min, e_max + 1), key=lambda e: (abs(lg - e), -e))  # ties: numpy rounds half to even
    if lg < e_min:
        best = e_min
    if lg > e_max:
        best = e_max
    return math.copysign(2.0**best, v)


@pytest.mark.parametrize("bits", [2, 3, 4])
def test_log2_quantize_against_brute_force(bits):
    x = np.random.default_rng(bits).normal(size=400) * 0.4
    e_max = int(np.round(np.log2(np.abs(x).max())))
    got = nu.log2_quantize(x, bits)
    ref = np.array([brute_log2(v, bits, e_max) for v in x])
    ties = np.abs(np.log2(np.abs(x)) % 1 - 0.5) < 1e-12
    np.testing.assert_array_equal(got[~ties], ref[~ties])
    assert set(np.unique(got)) <= set(nu.log2_levels(bits, e_max))
    assert len(nu.log2_levels(bits, e_max)) == 2 ** bits - 1  # -0 is not used: one code wasted


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-100, 100), min_size=1, max_size=30), st.integers(2, 6))
def test_log2_is_odd_and_keeps_zero(values, bits):
    x = np.array(values)
    np.testing.assert_array_equal(nu.log2_quantize(-x, bits), -nu.log2_quantize(x, bits))
    assert np.all(nu.log2_quantize(x, bits)[x == 0] == 0)
    np.testing.assert_array_equal(nu.log2_quantize(np.zeros(3), bits), np.zeros(3))


def golden_min(f, lo, hi, tol=1e-12):
    """Scipy-free golden-section search for the minimum of a unimodal f on [lo, hi]."""
    g = (math.sqrt(5) - 1) / 2
    a, b = lo, hi
    while b - a > tol:
        c, d = b - g * (b - a), a + g * (b - a)
        if f(c) < f(d):
            b = d
        else:
            a = c
    return (a + b) / 2


@pytest.mark.parametrize("seed", range(4))
def test_xnor_alpha_is_least_squares_optimum(seed):
    W = np.random.default_rng(seed).normal(size=(5, 7))
    W[0, 0] = 0.0
    alpha, B = nu.binarize(W, axis=0)
    assert B[0, 0] == 1  # sign(0) = +1
    assert set(np.unique(B)) <= {-1, 1}
    for c in range(5):
        best = golden_min(lambda a, c=c: np.sum((W[c] - a * B[c]) ** 2), 0.0, 10.0)
        assert alpha[c] == pytest.approx(best, abs=1e-6)  # golden section: ~sqrt(eps) in the argmin
    # axis=1 gives one alpha per column
    a1, B1 = nu.binarize(W, axis=1)
    np.testing.assert_allclose(a1, np.abs(W).mean(axis=0))


def test_ternarize_against_plain_loop_and_least_squares():
    W = np.random.default_rng(7).laplace(size=(6, 20))
    alpha, T = nu.ternarize(W)
    for c in range(6):
        row = W[c].tolist()
        delta = 0.7 * sum(abs(v) for v in row) / len(row)
        kept = [abs(v) for v in row if abs(v) > delta]
        assert alpha[c] == pytest.approx(sum(kept) / len(kept), rel=1e-12)
        assert T[c].tolist() == [(1 if v > 0 else -1) if abs(v) > delta else 0 for v in row]
        # for this T, alpha minimises ||W - alpha T||^2
        best = golden_min(lambda a, c=c: np.sum((W[c] - a * T[c]) ** 2), 0.0, 10.0)
        assert alpha[c] == pytest.approx(best, abs=1e-6)  # golden section: ~sqrt(eps) in the argmin
    a0, T0 = nu.ternarize(np.zeros((2, 3)))
    np.testing.assert_array_equal(a0, [0, 0])
    np.testing.assert_array_equal(T0, np.zeros((2, 3)))


def test_compress_model_sizes_by_hand():
    n_w, n_b, n_out = 6464, 106, 106
    assert nu.compress_model(M, "binary").size_bytes == n_w // 8 + 4 * n_out + 4 * n_b
    assert nu.compress_model(M, "ternary").size_bytes == n_w * 2 // 8 + 4 * n_out + 4 * n_b
    assert nu.compress_model(M, "kmeans", 2).size_bytes == n_w * 2 // 8 + 3 * 4 * 4 + 4 * n_b
    assert nu.compress_model(M, "log2", 4).size_bytes == n_w * 4 // 8 + 3 + 4 * n_b
    assert nu.compress_model(M, "uniform", 4).size_bytes == n_w * 4 // 8 + 3 * 8 + 4 * n_b


def test_model_level_claims_of_lesson_10():
    acc = {k: nu.compress_model(M, *k).accuracy(D.X_test, D.y_test)
           for k in [("uniform", 2), ("kmeans", 2), ("kmeans", 4), ("log2", 3), ("log2", 5),
                     ("binary", None), ("ternary", None)]}
    float_acc = M.accuracy(D.X_test, D.y_test)
    # 2 bits: k-means puts 4 levels where the weights are; min/max uniform rounds most weights to 0
    assert acc[("kmeans", 2)] > acc[("uniform", 2)] + 0.5
    assert abs(acc[("kmeans", 4)] - float_acc) <= 0.01
    # powers of two: more bits add smaller levels, not finer ones; accuracy plateaus below float
    assert acc[("log2", 5)] - acc[("log2", 3)] < 0.02 and acc[("log2", 5)] < float_acc
    # without retraining: ternary (a zero level) beats binary; both well below float
    assert acc[("binary", None)] < acc[("ternary", None)] < float_acc - 0.05


def test_bad_input():
    with pytest.raises(ValueError, match="bits must be in \\[1, 8\\]"):
        nu.kmeans_codebook([1.0, 2.0], 0)
    with pytest.raises(ValueError, match="x is empty"):
        nu.kmeans_codebook([], 2)
    with pytest.raises(ValueError, match="x contains NaN"):
        nu.kmeans_codebook([np.nan, 1.0], 2)
    with pytest.raises(ValueError, match="init must be one of"):
        nu.kmeans_codebook([1.0, 2.0], 2, init="kmeans++")
    with pytest.raises(TypeError, match="rng"):
        nu.kmeans_codebook([1.0, 2.0], 2, init="random")
    with pytest.raises(ValueError, match="codes must be in"):
        nu.kmeans_codebook([1.0, 2.0], 1).decode(np.array([2]))
    with pytest.raises(ValueError, match="bits must be in \\[2, 8\\]"):
        nu.log2_quantize([1.0], 1)
    with pytest.raises(ValueError, match="axis=2 is out of range"):
        nu.binarize(np.ones((2, 2)), axis=2)
    with pytest.raises(ValueError, match="threshold_ratio must be a finite number > 0"):
        nu.ternarize(np.ones((2, 2)), threshold_ratio=-1)
    with pytest.raises(ValueError, match="method must be one of"):
        nu.compress_model(M, "pruned")
    with pytest.raises(ValueError, match="bits must be in"):
        nu.compress_model(M, "log2", 9)


def test_per_tensor_alpha_is_the_tensor_mean_and_never_fits_rows_better():
    W = M.layers[0].W
    a_t, B = nu.binarize(W, axis=None)
    assert a_t.shape == () and a_t == pytest.approx(np.abs(W).mean())
    a_c, _ = nu.binarize(W, axis=0)
    # each row's own least-squares alpha fits that row at least as well as the shared one
    err_c = np.sum((W - a_c[:, None] * B) ** 2, axis=1)
    err_t = np.sum((W - a_t * B) ** 2, axis=1)
    assert np.all(err_c <= err_t + 1e-15)
    c_t = nu.compress_model(M, "binary", per_channel=False)
    assert c_t.size_bytes == 6464 // 8 + 3 * 4 + 4 * 106


def test_training_through_binary_and_ternary_codes():
    float_acc = M.accuracy(D.X_test, D.y_test)
    b = nu.train_codes(M, D, method="binary", epochs=10, lr=1e-3, seed=0)
    t = nu.train_codes(M, D, method="ternary", epochs=10, lr=1e-3, seed=0)
    untrained_b = nu.compress_model(M, "binary").accuracy(D.X_test, D.y_test)
    assert b.history["test_accuracy"][0] == untrained_b
    # BinaryConnect-style training recovers most of the gap (reported near-float on MNIST-size tasks)
    assert b.accuracy(D.X_test, D.y_test) > untrained_b + 0.2
    assert b.accuracy(D.X_test, D.y_test) >= float_acc - 0.04
    assert t.accuracy(D.X_test, D.y_test) >= float_acc - 0.02
    assert b.size_bytes == nu.compress_model(M, "binary").size_bytes
    for L in b.model.layers:  # still one alpha per row times +-1
        alpha = np.abs(L.W).max(axis=1)
        np.testing.assert_allclose(np.abs(L.W), np.broadcast_to(alpha[:, None], L.W.shape))


@pytest.mark.parametrize("method", ["binary", "ternary"])
def test_train_codes_is_binaryconnect_straight_through_then_clip(method):
    """BinaryConnect / BNN (Algorithm 1 of both): the gradient of the decoded weights goes to the shadow
    weights unchanged (no 1{|w| <= 1} mask: that cancellation is for binarized activations), then the
    shadow weights are clipped to [-1, 1]. One Adam step from scratch moves each weight by lr * g / (|g| + eps)."""
    m = M.copy()
    m.layers[1].W[0, 0] = 5.0  # beyond 1: still receives its gradient, then is clipped back to 1
    one_batch = type("D", (), dict(X_train=D.X_train[:32], y_train=D.y_train[:32], X_test=D.X_test,
                                   y_test=D.y_test))()
    decoded = nn.MLP([nn.Dense(nu._decode_weights(L.W, method), L.b) for L in m.layers])
    _, grads = decoded.loss_and_grads(one_batch.X_train, one_batch.y_train)
    lr = 1e-3
    r = nu.train_codes(m, one_batch, method=method, epochs=1, lr=lr, seed=0, batch_size=32)
    for L0, L1, (gW, _) in zip(m.layers, r.float_model.layers, grads, strict=True):
        expected = np.clip(L0.W - lr * gW / (np.abs(gW) + 1e-8), -1.0, 1.0)
        np.testing.assert_allclose(L1.W, expected, rtol=0, atol=1e-9)
    assert r.float_model.layers[1].W[0, 0] == 1.0
    with pytest.raises(ValueError, match="method must be one of"):
        nu.train_codes(M, D, method="kmeans")


def test_numbers_lesson_10_states():
    """Regression pins for the figures lesson 10 prints (derived checks are in the tests above)."""
    cb = nu.kmeans_codebook(M.layers[0].W, 2)
    np.testing.assert_allclose(cb.centroids, [-0.364, -0.102, 0.112, 0.364], atol=5e-4)
    # "uniform" at 2 bits is symmetric narrow range: 3 levels (-s, 0, s), not 4 with 3 used
    for L in M.layers:
        levels = np.unique(nu.compress_weight(L.W, "uniform", 2)[0])
        s = np.abs(L.W).max()
        np.testing.assert_allclose(levels, [-s, 0.0, s], rtol=1e-15)
    acc = {k: round(nu.compress_model(M, *k[:2], per_channel=k[2]).accuracy(D.X_test, D.y_test), 3)
           for k in [("uniform", 2, True), ("kmeans", 2, True), ("kmeans", 4, True), ("log2", 3, True),
                     ("log2", 5, True), ("binary", None, True), ("ternary", None, True), ("binary", None, False)]}
    assert acc == {("uniform", 2, True): 0.143, ("kmeans", 2, True): 0.926, ("kmeans", 4, True): 0.978,
                   ("log2", 3, True): 0.946, ("log2", 5, True): 0.954, ("binary", None, True): 0.668,
                   ("ternary", None, True): 0.863, ("binary", None, False): 0.675}
    assert nu.log2_quantize([0.74, 0.70], 3, e_max=0).tolist() == [1.0, 0.5]
    b = nu.train_codes(M, D, method="binary", epochs=10, lr=1e-3, seed=0)
    # a training run (BLAS, last bits machine-dependent): lesson 10 states "about 96% (+- 1 point)"
    assert b.history["test_accuracy"][1] > 0.9 and abs(b.accuracy(D.X_test, D.y_test) - 0.96) <= 0.01
    assert b.size_bytes == 1656 and round(M.size_bytes(32) / b.size_bytes, 1) == 15.9

"""AWQ's grid search against a brute-force argmin written here from the paper's formulas."""
import numpy as np
import pytest

from qlearn.modern import awq as A
from qlearn.modern import gptq as G


def _ref_group_quantize(W, bits, g):
    """Per-group asymmetric int (GPTQ's quant.py: range widened to hold 0, FP16 scale, zero point)."""
    out = np.empty_like(W)
    qmax = 2**bits - 1
    for r in range(W.shape[0]):
        for a in range(0, W.shape[1], g):
            x = W[r, a:a + g]
            lo, hi = min(x.min(), 0.0), max(x.max(), 0.0)
            if lo == 0 and hi == 0:
                lo, hi = -1.0, 1.0
            scale = float(np.float16((hi - lo) / qmax))
            zero = min(max(round(-lo / scale), 0), qmax)
            q = np.clip(np.round(x / scale) + zero, 0, qmax)
            out[r, a:a + g] = scale * (q - zero)
    return out


def _brute_force(W, X, bits, g, grid):
    m = np.abs(X).mean(axis=0)
    losses = []
    for k in range(grid):
        a = k / grid
        s = np.clip(m**a, 1e-4, None)
        s = s / np.sqrt(s.max() * s.min())
        Y_q = (X / s) @ _ref_group_quantize(W * s, bits, g).T     # Q(W s) (X / s)^T
        losses.append(np.mean((X @ W.T - Y_q) ** 2))
    return np.array(losses)


def _salient_layer(seed, out=16, inp=64, n=128):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, inp)) * np.exp(rng.normal(size=inp))   # channels of very different size
    return rng.normal(size=(out, inp)), X


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("bits,g", [(4, 32), (3, 64), (3, 16)])
def test_search_picks_the_brute_force_argmin(seed, bits, g):
    W, X = _salient_layer(seed)
    ref = _brute_force(W, X, bits, g, 20)
    alphas, losses = A.awq_losses(W, X, bits=bits, group_size=g, grid=20)
    np.testing.assert_allclose(losses, ref, rtol=1e-9)
    s, alpha, W_hat = A.awq_search(W, X, bits=bits, group_size=g)
    assert alpha == int(np.argmin(ref)) / 20
    m = np.abs(X).mean(axis=0)
    np.testing.assert_allclose(s, m**alpha / np.sqrt((m**alpha).max() * (m**alpha).min()), rtol=1e-12)
    np.testing.assert_allclose(W_hat, _ref_group_quantize(W * s, bits, g) / s, rtol=1e-12)


def test_alpha_zero_is_rtn_exactly():
    W, X = _salient_layer(1)
    assert np.all(A.awq_scales(np.abs(X).mean(axis=0), 0.0) == 1.0)
    s, alpha, W_hat = A.awq_search(W, X, bits=4, group_size=32, grid=1)
    assert alpha == 0.0 and np.all(s == 1.0)
    np.testing.assert_array_equal(W_hat, G.rtn_quantize(W, bits=4, group_size=32))
    alphas, losses = A.awq_losses(W, X, bits=4, group_size=32)
    assert losses[0] == pytest.approx(G.output_error(W, G.rtn_quantize(W, bits=4, group_size=32), X)
                                      / W.shape[0], rel=1e-9)


def test_awq_never_worse_than_rtn_on_its_own_objective_and_helps_salient_channels():
    gains = []
    for seed in range(10):
        W, X = _salient_layer(50 + seed)
        _, losses = A.awq_losses(W, X, bits=3, group_size=32)
        assert losses.min() <= losses[0]     # alpha = 0 (RTN) is on the grid
        gains.append(losses[0] / losses.min())
    assert np.median(gains) > 1.2


def test_bad_input_is_refused():
    W, X = _salient_layer(0, out=4, inp=16)
    with pytest.raises(ValueError, match="group_size=5 must divide in_features=16"):
        A.awq_search(W, X, group_size=5)
    with pytest.raises(ValueError, match=r"bits must be in \[2, 8\]"):
        A.awq_search(W, X, bits=1, group_size=16)
    with pytest.raises(ValueError, match="empty calibration set"):
        A.awq_search(W, X[:0], group_size=16)
    bad = X.copy()
    bad[1, 1] = np.inf
    with pytest.raises(ValueError, match="NaN or inf"):
        A.awq_search(W, bad, group_size=16)
    with pytest.raises(ValueError, match="in_features=16"):
        A.awq_search(W, X.T, group_size=16)
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\]"):
        A.awq_scales(np.ones(3), 1.5)
    with pytest.raises(ValueError, match=r"grid must be in"):
        A.awq_search(W, X, group_size=16, grid=0)

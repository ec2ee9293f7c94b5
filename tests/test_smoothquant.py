"""SmoothQuant: the migration is exact in float; W8A8 against an exact integer reference."""
from fractions import Fraction

import numpy as np
import pytest

from qlearn.modern import outliers as O
from qlearn.modern import smoothquant as S


def test_migration_keeps_the_product():
    W, X, _ = O.planted_outlier_layer(32, 64, 128, rng=np.random.default_rng(1))
    for alpha in (0.0, 0.25, 0.5, 0.85, 1.0):
        W_s, s = S.smooth(W, np.abs(X).max(axis=0), alpha)
        Y, Y_s = X @ W.T, (X / s) @ W_s.T
        assert np.max(np.abs(Y_s - Y)) <= 1e-12 * np.max(np.abs(Y))
        # the formula, written out
        ref = np.abs(X).max(axis=0) ** alpha / np.maximum(np.abs(W).max(axis=0), 1e-5) ** (1 - alpha)
        np.testing.assert_allclose(s, np.maximum(ref, 1e-5), rtol=1e-14)


def test_alpha_balances_the_maxima():
    # alpha = 0.5: after smoothing, max|X_j / s_j| = max|W_j s_j| = sqrt(max|X_j| max|W_j|) for every channel
    W, X, _ = O.planted_outlier_layer(16, 32, 64, rng=np.random.default_rng(2))
    m = np.abs(X).max(axis=0)
    W_s, s = S.smooth(W, m, 0.5)
    np.testing.assert_allclose(np.abs(X / s).max(axis=0), np.abs(W_s).max(axis=0), rtol=1e-12)
    # alpha = 1: every activation channel is flattened to max 1
    _, s1 = S.smooth(W, m, 1.0)
    np.testing.assert_allclose(np.abs(X / s1).max(axis=0), 1.0, rtol=1e-12)


def _w8a8_reference(X, W, per_token):
    """Exact rationals: codes by Python's round (half to even), products summed as Fractions."""
    def codes(row, amax):
        scale = max(amax, 1e-5) / 127
        return [max(-127, min(127, round(v / scale))) for v in row], scale
    wq = [codes(w, max(abs(v) for v in w)) for w in W.tolist()]
    tmax = max(abs(v) for v in X.ravel().tolist())
    out = []
    for x in X.tolist():
        xq, sx = codes(x, max(abs(v) for v in x) if per_token else tmax)
        out.append([float(Fraction(sum(a * b for a, b in zip(xq, q))) * Fraction(sx) * Fraction(sw))
                    for q, sw in wq])
    return np.array(out)


@pytest.mark.parametrize("granularity", S.GRANULARITIES)
def test_w8a8_matches_exact_integer_reference(granularity):
    rng = np.random.default_rng(3)
    X, W = rng.normal(size=(6, 10)) * 3, rng.normal(size=(4, 10))
    got = S.w8a8_linear(X, W, granularity=granularity)
    np.testing.assert_allclose(got, _w8a8_reference(X, W, granularity == "per_token"), rtol=1e-15, atol=1e-15)


def test_smoothing_rescues_w8a8_on_a_planted_outlier_layer():
    W, X, _ = O.planted_outlier_layer(64, 128, 256, rng=np.random.default_rng(0))
    Y = X @ W.T
    err = lambda Yq: float(np.mean((Yq - Y) ** 2))  # noqa: E731
    plain = err(S.w8a8_linear(X, W, granularity="per_tensor"))
    smoothed = err(S.smoothed_w8a8_linear(X, W, 0.5, granularity="per_tensor"))
    assert smoothed < plain / 4
    # alpha = 0 scales only by 1/max|W_j|: the activation outliers stay, the error stays large
    assert err(S.smoothed_w8a8_linear(X, W, 0.0, granularity="per_tensor")) > 2 * smoothed


def test_bad_input_is_refused():
    W, X = np.ones((3, 4)), np.ones((5, 4))
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\]"):
        S.smooth(W, np.ones(4), 1.2)
    with pytest.raises(ValueError, match=r"X_absmax must have shape \(in,\)"):
        S.smooth(W, np.ones(3), 0.5)
    with pytest.raises(ValueError, match="finite values >= 0"):
        S.smooth(W, [1.0, np.nan, 1.0, 1.0], 0.5)
    with pytest.raises(ValueError, match="granularity must be one of"):
        S.w8a8_linear(X, W, granularity="per_channel")
    with pytest.raises(ValueError, match="empty calibration set"):
        S.w8a8_linear(X[:0], W)
    with pytest.raises(ValueError, match="in_features=4"):
        S.w8a8_linear(X[:, :3], W)

"""LLM.int8(): the decomposition against an exact integer + FP16 reference, and its limits."""
from fractions import Fraction

import numpy as np
import pytest

from qlearn.modern import outliers as O


def _reference(X, W, threshold):
    """Python ints and Fractions: outlier columns by the rule, FP16 part via numpy.float16, int8 part exact."""
    n, inp = X.shape
    cols = [j for j in range(inp) if max(abs(X[t, j]) for t in range(n)) >= threshold]
    rest = [j for j in range(inp) if j not in cols]
    Y = np.zeros((n, W.shape[0]))
    for t in range(n):
        sx = max([abs(float(X[t, j])) for j in rest] + [0.0]) / 127 or 1.0
        xq = {j: max(-127, min(127, round(float(X[t, j]) / sx))) for j in rest}
        for o in range(W.shape[0]):
            sw = max([abs(float(W[o, j])) for j in rest] + [0.0]) / 127 or 1.0
            acc = sum(xq[j] * max(-127, min(127, round(float(W[o, j]) / sw))) for j in rest)
            f = sum(Fraction(float(np.float16(X[t, j]))) * Fraction(float(np.float16(W[o, j]))) for j in cols)
            Y[t, o] = float(Fraction(acc) * Fraction(sx) * Fraction(sw) + f)
    return Y, len(cols)


@pytest.mark.parametrize("threshold", [6.0, 2.5, 0.5, np.inf])
def test_matches_the_reference(threshold):
    W, X, _ = O.planted_outlier_layer(5, 12, 7, n_outliers=2, magnitude=10.0, rng=np.random.default_rng(4))
    Y, n = O.llm_int8_matmul(X, W, threshold=threshold)
    Y_ref, n_ref = _reference(X, W, threshold)
    assert n == n_ref
    np.testing.assert_allclose(Y, Y_ref, rtol=1e-12, atol=1e-12)


def test_finds_the_planted_columns_and_fixes_the_error():
    W, X, planted = O.planted_outlier_layer(64, 128, 256, n_outliers=4, rng=np.random.default_rng(0))
    assert O.outlier_columns(X, 6.0).tolist() == planted.tolist()
    Y = X @ W.T
    Y8, n8 = O.llm_int8_matmul(X, W, threshold=np.inf)
    Ym, nm = O.llm_int8_matmul(X, W, threshold=6.0)
    assert (n8, nm) == (0, 4)
    np.testing.assert_array_equal(Y8, O.vectorwise_int8_matmul(X, W))
    assert np.mean((Ym - Y) ** 2) < np.mean((Y8 - Y) ** 2) / 20


def test_all_columns_in_fp16_is_the_fp16_product():
    rng = np.random.default_rng(5)
    X, W = rng.normal(size=(4, 6)), rng.normal(size=(3, 6))
    Y, n = O.llm_int8_matmul(X, W, threshold=1e-300)
    assert n == 6
    f16 = lambda a: a.astype(np.float16).astype(np.float64)  # noqa: E731
    np.testing.assert_allclose(Y, f16(X) @ f16(W).T, rtol=1e-12)


def test_bad_input_is_refused():
    W, X = np.ones((3, 4)), np.ones((5, 4))
    with pytest.raises(ValueError, match="threshold must be a number > 0"):
        O.llm_int8_matmul(X, W, threshold=0.0)
    with pytest.raises(ValueError, match="threshold must be a number > 0"):
        O.llm_int8_matmul(X, W, threshold=np.nan)
    with pytest.raises(ValueError, match="empty calibration set"):
        O.llm_int8_matmul(X[:0], W)
    with pytest.raises(ValueError, match="NaN or inf"):
        O.llm_int8_matmul(np.full((2, 4), np.nan), W)
    with pytest.raises(ValueError, match="in_features=4"):
        O.llm_int8_matmul(np.ones((2, 5)), W)

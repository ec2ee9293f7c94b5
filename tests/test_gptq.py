"""GPTQ against a direct optimal-brain-quantizer loop that re-solves the least-squares update from scratch."""
import numpy as np
import pytest

from qlearn.modern import block_formats as B
from qlearn.modern import gptq as G


def _layer(seed, out=12, inp=32, n=160):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(out, inp))
    # correlated inputs, as a layer's activations are (GPTQ gains nothing on white inputs)
    X = rng.normal(size=(n, inp)) @ (rng.normal(size=(inp, inp)) * 0.4 + np.eye(inp))
    return W, X


def _obq_reference(W, X, *, bits, group_size, symmetric=False, damp=0.01, act_order=False):
    """Quantize column by column; after each, re-solve the not-yet-quantized columns from scratch.

    The columns F still free minimise ``(W - W') H (W - W')^T`` with the quantized columns fixed:
    ``W'_F = W_F - (Q_D - W_D) H_DF H_FF^-1`` (normal equations of the damped least-squares problem
    ``||(W - W') X^T||^2 * 2/n + lambda ||W - W'||^2``). Written from the objective, not from GPTQ's
    Cholesky recursion.
    """
    W = np.array(W, dtype=float)
    out, inp = W.shape
    n = X.shape[0]
    H = 2.0 / n * X.T @ X
    dead = np.diag(H) == 0
    H[dead, dead] = 1.0
    H += damp * np.mean(np.diag(H)) * np.eye(inp)
    W[:, dead] = 0.0
    order = list(np.argsort(-np.diag(H), kind="stable")) if act_order else list(range(inp))
    g = inp if group_size is None else group_size
    Wc = W.copy()
    Q = np.zeros_like(W)
    done = []
    for k, j in enumerate(order):
        if k % g == 0:  # group of the next g columns in processing order, from the current weights
            cols = order[k:k + g]
            t = B.group_quantize(Wc[:, cols], bits=bits, group_size=len(cols), symmetric=symmetric)
            scale, zero = t.scale[:, 0], t.zero_point[:, 0]
            qmin, qmax = ((-(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1) if symmetric else (0, 2**bits - 1))
        Q[:, j] = scale * (np.clip(np.round(Wc[:, j] / scale) + zero, qmin, qmax) - zero)
        done.append(j)
        free = order[k + 1:]
        if free:
            E = Q[:, done] - W[:, done]
            Wc[:, free] = W[:, free] - E @ H[np.ix_(done, free)] @ np.linalg.inv(H[np.ix_(free, free)])
        Wc[:, j] = Q[:, j]
    return Q


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("bits,group_size,symmetric,act_order",
                         [(4, None, False, False), (3, 8, False, False), (2, 16, False, False),
                          (4, 8, True, False), (3, 8, False, True), (4, None, False, True)])
def test_gptq_equals_the_obq_reference(seed, bits, group_size, symmetric, act_order):
    W, X = _layer(seed)
    ref = _obq_reference(W, X, bits=bits, group_size=group_size, symmetric=symmetric, act_order=act_order)
    for block_size in (128, 5, 1):
        got = G.gptq_quantize(W, X, bits=bits, group_size=group_size, symmetric=symmetric, act_order=act_order,
                              block_size=block_size)
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-8)


def test_history_is_the_same_run_and_shows_the_pushed_error():
    W, X = _layer(7, out=6, inp=16)
    W_hat, h = G.gptq_quantize(W, X, bits=3, group_size=8, return_history=True)
    np.testing.assert_array_equal(h.weights[-1], W_hat)
    np.testing.assert_array_equal(h.weights[0], W)
    np.testing.assert_allclose(W_hat, G.gptq_quantize(W, X, bits=3, group_size=8), atol=1e-12)
    for k in range(16):
        # nothing pushed into columns already quantized; the pushed update is the OBS step
        assert np.all(h.pushed[k][:, :k + 1] == 0)
        np.testing.assert_allclose(h.weights[k + 1][:, k + 1:], h.weights[k][:, k + 1:] + h.pushed[k][:, k + 1:])
        np.testing.assert_allclose(h.rounding_error[k], h.weights[k][:, k] - W_hat[:, k], atol=1e-12)
    # the OBS step from the inverse Hessian restricted to the free columns, written directly
    H, _ = G.hessian(X)
    k = 5
    Hf = np.linalg.inv(H[k:, k:])
    step = -np.outer(h.rounding_error[k] / Hf[0, 0], Hf[0, 1:])
    np.testing.assert_allclose(h.pushed[k][:, k + 1:], step, atol=1e-9)


@pytest.mark.parametrize("bits", [2, 3, 4])
def test_gptq_output_error_never_above_rtn(bits):
    worse = []
    for seed in range(40):
        W, X = _layer(100 + seed, out=8, inp=32, n=128)
        for g in (None, 16):
            e_gptq = G.output_error(W, G.gptq_quantize(W, X, bits=bits, group_size=g), X)
            e_rtn = G.output_error(W, G.rtn_quantize(W, bits=bits, group_size=g), X)
            if e_gptq > e_rtn:
                worse.append((seed, g, e_gptq, e_rtn))
    assert not worse


def test_uncorrelated_inputs_give_rtn_exactly():
    # X^T X diagonal: H^-1 is diagonal, nothing is pushed anywhere, and GPTQ is round-to-nearest
    rng = np.random.default_rng(3)
    W = rng.normal(size=(5, 16))
    X = np.diag(rng.uniform(0.5, 2.0, size=16))
    for g in (None, 4):
        np.testing.assert_array_equal(G.gptq_quantize(W, X, bits=4, group_size=g),
                                      G.rtn_quantize(W, bits=4, group_size=g))


def test_dead_inputs_get_zero_weight_and_codes_on_the_grid():
    W, X = _layer(2, out=4, inp=16)
    X[:, 3] = 0.0
    W_hat = G.gptq_quantize(W, X, bits=4, group_size=8)
    assert np.all(W_hat[:, 3] == 0)
    for r in range(4):  # each row of each group takes at most 16 distinct values
        for a in (0, 8):
            assert len(np.unique(W_hat[r, a:a + 8])) <= 16


def test_bad_input_is_refused():
    W, X = _layer(0, out=4, inp=16)
    with pytest.raises(ValueError, match="group_size=5 must divide in_features=16"):
        G.gptq_quantize(W, X, group_size=5)
    with pytest.raises(ValueError, match=r"bits must be in \[2, 8\]"):
        G.gptq_quantize(W, X, bits=9, group_size=8)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="X contains NaN or inf"):
        G.gptq_quantize(W, bad, group_size=8)
    with pytest.raises(ValueError, match="empty calibration set"):
        G.gptq_quantize(W, X[:0], group_size=8)
    with pytest.raises(ValueError, match="in_features=16"):
        G.gptq_quantize(W, X[:, :8], group_size=8)
    with pytest.raises(ValueError, match=r"damp must be a number in \[0, 1\]"):
        G.gptq_quantize(W, X, group_size=8, damp=-0.1)
    with pytest.raises(ValueError, match="not positive definite"):
        G.gptq_quantize(W, X[:2], group_size=8, damp=0.0)
    with pytest.raises(ValueError, match="2-D"):
        G.gptq_quantize(W[0], X, group_size=8)


def test_quantize_model_on_a_small_transformer():
    from qlearn.modern import block_formats as B
    from qlearn.modern import transformer as T

    V = 12
    m = T.Transformer.init(V, d_model=16, n_heads=2, n_layers=1, context=8, rng=np.random.default_rng(0))
    cal = np.random.default_rng(1).integers(0, V, size=(4, 9))
    # RTN: the weights are group_quantize's; a group of 32 > in=16 is one group per row
    mq, fn, bits = G.quantize_model(m, "rtn_int4_g32", cal)
    assert fn is None
    np.testing.assert_array_equal(mq.weight("blocks.0.mlp.down"),
                                  B.group_quantize(m.weight("blocks.0.mlp.down"), bits=4, group_size=32).dequantize())
    np.testing.assert_array_equal(mq.weight("head"), G.rtn_quantize(m.weight("head"), bits=4, group_size=None))
    assert bits["head"] == 4 + 20 / 16 and bits["blocks.0.mlp.down"] == 4 + 20 / 32
    # GPTQ calibrates layer by layer on the inputs the already-quantized layers produce
    mg, _, _ = G.quantize_model(m, "gptq_int4_g128", cal)
    names = m.linear_names()
    for k, n in enumerate(names):
        done = m.with_weights({p: mg.weight(p) for p in names[:k]})
        X = done.capture_inputs(cal, [n])[n]
        np.testing.assert_allclose(mg.weight(n), G.gptq_quantize(m.weight(n), X, bits=4, group_size=None), atol=1e-12)
    # the table: bits and bytes are closed forms; W8A8 methods leave the weights and set linear_fn
    rows = {r["method"]: r for r in G.method_table(m, cal, cal, ["float", "rtn_int8_pc", "smoothquant_w8a8",
                                                                 "llm_int8"])}
    sizes = {n: m.weight(n).size for n in names}
    n_lin = sum(sizes.values())
    assert rows["float"]["bits_per_weight"] == 32 and rows["float"]["model_bytes"] == 4 * m.n_parameters()
    expect = sum((8 + 24 / m.weight(n).shape[1]) * sizes[n] for n in names) / n_lin
    assert rows["rtn_int8_pc"]["bits_per_weight"] == pytest.approx(expect, rel=1e-15)
    assert rows["llm_int8"]["model_bytes"] == pytest.approx(
        sum((8 + 16 / m.weight(n).shape[1]) * sizes[n] for n in names) / 8 + 4 * (m.n_parameters() - n_lin))
    for r in rows.values():
        assert abs(r["perplexity"] / rows["float"]["perplexity"] - 1) < 0.05
    with pytest.raises(ValueError, match="method must be one of"):
        G.quantize_model(m, "gptq_int2", cal)


def test_rtn_comparison_counts_the_layers_where_gptq_loses():
    from qlearn.modern.gptq import gptq_quantize, output_error, rtn_comparison, rtn_quantize, synthetic_layer

    small = rtn_comparison(bits=3, n_layers=3)
    by_hand = 0
    for seed in range(3):
        W, X = synthetic_layer(8, 32, 128, rng=np.random.default_rng(seed))
        by_hand += output_error(W, gptq_quantize(W, X, bits=3, group_size=None), X) > \
            output_error(W, rtn_quantize(W, bits=3, group_size=None), X)
    assert small["worse"] == by_hand and small["n_layers"] == 3
    assert small["tiny"] > 1.0   # the tiny uncorrelated case where the greedy order loses
    with pytest.raises(ValueError, match="n_layers"):
        rtn_comparison(n_layers=0)

"""qlearn.modern.transformer: the character transformer lesson 18 quantizes.

Gradients are checked against central finite differences, the deterministic evaluation path
against an independent straightforward numpy forward (einsum, BLAS), the shipped weights
against the figures the training script recorded in the npz (not repeated here).
"""
import math

import numpy as np
import pytest

from qlearn.modern import block_formats
from qlearn.modern import transformer as tr
from qlearn.networks import nn


def tiny(seed=0, *, vocab_size=7, d_model=8, n_heads=2, n_layers=2, context=5, jitter=0.3):
    """A tiny random model whose LayerNorm gains/biases are not 1/0 (so their gradients are tested too)."""
    rng = np.random.default_rng(seed)
    m = tr.Transformer.init(vocab_size, d_model=d_model, n_heads=n_heads, n_layers=n_layers, context=context,
                            rng=rng)
    return tr.Transformer({k: v + rng.normal(0, jitter, v.shape) for k, v in m.params.items()}, n_heads=n_heads)


def reference_logits(m, inp):
    """An independent forward pass written the plain way (einsum/BLAS, numpy softmax)."""
    p = m.params
    inp = np.asarray(inp)
    B, T = inp.shape
    H, d = m.n_heads, m.d_model
    dh = d // H

    def ln(x, g, b):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + 1e-5) * g + b

    x = p["tok_emb"][inp] + p["pos_emb"][:T]
    for i in range(m.n_layers):
        b = f"blocks.{i}."
        qkv = ln(x, p[b + "ln1.g"], p[b + "ln1.b"]) @ p[b + "attn.qkv.W"].T + p[b + "attn.qkv.b"]
        q, k, v = (qkv[..., j * d:(j + 1) * d].reshape(B, T, H, dh) for j in range(3))
        s = np.einsum("bihd,bjhd->bhij", q, k) / np.sqrt(dh)
        s = np.where(np.tril(np.ones((T, T), bool)), s, -np.inf)
        a = np.exp(s - s.max(-1, keepdims=True))
        a /= a.sum(-1, keepdims=True)
        o = np.einsum("bhij,bjhd->bihd", a, v).reshape(B, T, d)
        x = x + o @ p[b + "attn.out.W"].T + p[b + "attn.out.b"]
        u = ln(x, p[b + "ln2.g"], p[b + "ln2.b"]) @ p[b + "mlp.up.W"].T + p[b + "mlp.up.b"]
        x = x + np.maximum(u, 0) @ p[b + "mlp.down.W"].T + p[b + "mlp.down.b"]
    return ln(x, p["ln_f.g"], p["ln_f.b"]) @ p["head.W"].T + p["head.b"]


# --------------------------------------------------------------------------- numerics
def test_gradients_match_finite_differences():
    m = tiny()
    rng = np.random.default_rng(1)
    tokens = rng.integers(0, m.vocab_size, (3, m.context + 1))
    loss, g = m.loss_and_grads(tokens)
    assert set(g) == set(m.params)
    h = 1e-5
    for k, v in m.params.items():
        flat = v.reshape(-1)
        idx = rng.choice(flat.size, size=min(6, flat.size), replace=False)
        for i in idx:
            old = flat[i]
            flat[i] = old + h
            lp, _ = m.loss_and_grads(tokens)
            flat[i] = old - h
            lm, _ = m.loss_and_grads(tokens)
            flat[i] = old
            num = (lp - lm) / (2 * h)
            assert abs(num - g[k].reshape(-1)[i]) <= 1e-7 + 1e-5 * abs(num), (k, i, num, g[k].reshape(-1)[i])


def test_token_embedding_gradient_accumulates_repeated_tokens():
    m = tiny(n_layers=1)
    tokens = np.array([[3, 3, 3, 3, 3, 3]])
    _, g = m.loss_and_grads(tokens)
    unused = np.setdiff1d(np.arange(m.vocab_size), [3])
    assert np.all(g["tok_emb"][unused] == 0) and np.any(g["tok_emb"][3] != 0)


def test_fixed_order_evaluation_matches_an_independent_forward():
    m = tiny(2)
    inp = np.random.default_rng(3).integers(0, m.vocab_size, (4, m.context))
    np.testing.assert_allclose(m.logits(inp), reference_logits(m, inp), rtol=1e-10, atol=1e-12)
    tokens = np.random.default_rng(4).integers(0, m.vocab_size, (4, m.context + 1))
    loss, _ = m.loss_and_grads(tokens)
    assert math.isclose(m.cross_entropy(tokens), loss, rel_tol=1e-12)
    assert math.isclose(m.perplexity(tokens), math.exp(loss), rel_tol=1e-12)


def test_row_blocked_and_small_products_are_bitwise_fixed_order_matmul():
    rng = np.random.default_rng(5)
    for n in (1, 3, tr._ROW_BLOCK * 2 + 37):                    # the cumulative-sum path and the blocked path
        X, W = rng.normal(size=(n, 16)) * 1e3 ** rng.normal(size=16), rng.normal(size=(9, 16))
        assert np.array_equal(tr._linear_fixed(X, W), nn.fixed_order_matmul(X, W))
    for shape in ((1, 64), (2, 3, 50), (700, 64)):              # below and above _SMALL
        x = rng.normal(size=shape) * 1e3 ** rng.normal(size=shape[-1])
        ref = x[..., 0].copy()
        for k in range(1, shape[-1]):
            ref = ref + x[..., k]
        assert np.array_equal(tr._sum_last(x), ref)


@pytest.mark.parametrize("model", ["tiny", "pretrained"])
def test_cached_generation_step_is_bitwise_the_full_forward(model):
    m = tiny(16, context=6) if model == "tiny" else tr.pretrained()
    ids = np.random.default_rng(17).integers(0, m.vocab_size, m.context)
    cache = [([], []) for _ in range(m.n_layers)]
    steps = np.array([m._step_fixed(t, cache) for t in ids])
    assert np.array_equal(steps, m.logits(ids)[0])


def test_causal_mask_future_tokens_do_not_change_earlier_logits():
    m = tiny(6)
    rng = np.random.default_rng(7)
    inp = rng.integers(0, m.vocab_size, (2, m.context))
    z = m.logits(inp)
    for t in range(m.context):
        changed = inp.copy()
        changed[:, t] = (changed[:, t] + 1) % m.vocab_size
        z2 = m.logits(changed)
        assert np.array_equal(z2[:, :t], z[:, :t])          # earlier positions: bit for bit
        assert not np.allclose(z2[:, t:], z[:, t:])          # the changed position and later ones do move
    # the training path too: a future token does not move an earlier position's loss gradient w.r.t. the past
    ref = reference_logits(m, inp)
    changed = inp.copy()
    changed[:, -1] = (changed[:, -1] + 1) % m.vocab_size
    assert np.allclose(reference_logits(m, changed)[:, :-1], ref[:, :-1], rtol=0, atol=1e-12)


def test_perplexity_and_accuracy_definitions():
    m = tiny(8)
    tokens = np.random.default_rng(9).integers(0, m.vocab_size, (3, m.context + 1))
    z = reference_logits(m, tokens[:, :-1]).reshape(-1, m.vocab_size)
    y = tokens[:, 1:].reshape(-1)
    logp = z - np.log(np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True)) - z.max(1, keepdims=True)
    assert math.isclose(m.perplexity(tokens), math.exp(-logp[np.arange(len(y)), y].mean()), rel_tol=1e-12)
    assert m.accuracy(tokens) == np.mean(z.argmax(1) == y)
    assert m.evaluate(tokens) == {"cross_entropy": m.cross_entropy(tokens), "perplexity": m.perplexity(tokens),
                                  "accuracy": m.accuracy(tokens)}
    # 1-D window == one-row batch
    assert m.perplexity(tokens[0]) == m.perplexity(tokens[:1])


# --------------------------------------------------------------------------- quantization API
def test_linear_names_weight_and_with_weights():
    m = tiny(10)
    names = m.linear_names()
    assert names == ["blocks.0.attn.qkv", "blocks.0.attn.out", "blocks.0.mlp.up", "blocks.0.mlp.down",
                     "blocks.1.attn.qkv", "blocks.1.attn.out", "blocks.1.mlp.up", "blocks.1.mlp.down", "head"]
    d, V = m.d_model, m.vocab_size
    assert [m.weight(n).shape for n in names[:4]] == [(3 * d, d), (d, d), (4 * d, d), (d, 4 * d)]
    assert m.weight("head").shape == (V, d)
    W = m.weight("blocks.1.mlp.up")
    W[:] = 0                                                   # a copy: the model is unchanged
    assert np.any(m.weight("blocks.1.mlp.up") != 0)
    m2 = m.with_weights({"blocks.1.mlp.up": W})
    assert np.all(m2.weight("blocks.1.mlp.up") == 0) and np.any(m.weight("blocks.1.mlp.up") != 0)
    for n in names:
        if n != "blocks.1.mlp.up":
            assert np.array_equal(m2.weight(n), m.weight(n))


def test_capture_inputs_and_linear_fn_hook():
    m = tiny(11)
    tokens = np.random.default_rng(12).integers(0, m.vocab_size, (2, m.context + 1))
    X = m.capture_inputs(tokens)
    assert list(X) == m.linear_names()
    n = 2 * m.context
    assert X["blocks.0.attn.qkv"].shape == (n, m.d_model) and X["blocks.0.mlp.down"].shape == (n, 4 * m.d_model)
    assert X["blocks.0.mlp.down"].min() >= 0                  # ReLU outputs
    # the first layer's input is LayerNorm(token + position embedding), computed independently
    e = (m.params["tok_emb"][tokens[:, :-1]] + m.params["pos_emb"][:m.context]).reshape(n, -1)
    ln = (e - e.mean(1, keepdims=True)) / np.sqrt(e.var(1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(X["blocks.0.attn.qkv"], ln * m.params["blocks.0.ln1.g"] + m.params["blocks.0.ln1.b"],
                               rtol=1e-12, atol=1e-12)
    # a hook that computes X @ W.T the same way changes nothing, and sees the captured X
    seen = {}

    def same(name):
        def f(Xi, W):
            seen[name] = Xi
            return nn.fixed_order_matmul(Xi, W)
        return f
    hooks = {name: same(name) for name in m.linear_names()}
    assert m.perplexity(tokens, linear_fn=hooks) == m.perplexity(tokens)
    for name in m.linear_names():
        assert np.array_equal(seen[name], X[name])
    # a hook that rounds the weights is the same as with_weights with those weights
    Wq = {name: np.round(m.weight(name) * 8) / 8 for name in m.linear_names()}
    hooks = {name: (lambda Xi, W, Wn=Wq[name]: nn.fixed_order_matmul(Xi, Wn)) for name in m.linear_names()}
    assert m.perplexity(tokens, linear_fn=hooks) == m.with_weights(Wq).perplexity(tokens)
    only = m.capture_inputs(tokens, names=["head"])
    assert list(only) == ["head"] and np.array_equal(only["head"], X["head"])


def test_activation_stats():
    m = tiny(13)
    tokens = np.random.default_rng(14).integers(0, m.vocab_size, (2, m.context + 1))
    X = m.capture_inputs(tokens)
    s = m.activation_stats(tokens)
    for name in m.linear_names():
        cmax = np.abs(X[name]).max(axis=0)
        assert np.array_equal(s[name]["channel_max"], cmax)
        assert s[name]["outlier_ratio"] == cmax.max() / np.median(cmax)
        x = X[name].reshape(-1)
        ref = np.mean((x - x.mean()) ** 4) / np.var(x) ** 2         # Pearson kurtosis, 3 for a Gaussian
        assert math.isclose(s[name]["kurtosis"], ref, rel_tol=1e-9)
        assert s[name]["channels_over_6"] == int((cmax >= 6).sum())


# --------------------------------------------------------------------------- corpus, splits, tokens
def test_encode_decode_and_splits():
    text = tr.corpus()
    assert tr.decode(tr.encode(text[:5000])) == text[:5000]
    assert len(tr.vocab()) == len(set(text)) and list(tr.vocab()) == sorted(set(text))
    tid, vid = tr.train_ids(), tr.validation_ids()
    assert len(tid) + len(vid) == len(text) and abs(len(vid) / len(text) - tr.VALIDATION_FRACTION) < 1e-5
    v = tr.validation_tokens()
    c = tr.PRETRAINED_CONFIG["context"]
    assert v.shape == (tr.VALIDATION_WINDOWS, c + 1)
    assert np.array_equal(v.reshape(-1), vid[:v.size])
    cal = tr.calibration_tokens(6, seed=3)
    assert np.array_equal(cal, tr.calibration_tokens(6, seed=3))
    assert not np.array_equal(cal, tr.calibration_tokens(6, seed=4))
    train_text = text[:len(tid)]
    for w in cal:
        assert tr.decode(w) in train_text


# --------------------------------------------------------------------------- training
def test_short_retrain_is_bit_identical_in_one_process():
    cfg = dict(d_model=8, n_heads=2, n_layers=1, context=8, steps=4, batch_size=3, lr=1e-2, warmup=2, seed=5)
    losses1, losses2 = [], []
    a = tr.train(**cfg, callback=lambda s, loss: losses1.append(loss))
    b = tr.train(**cfg, callback=lambda s, loss: losses2.append(loss))
    assert losses1 == losses2
    for k in a.params:
        assert np.array_equal(a.params[k], b.params[k]), k
    c = tr.train(**dict(cfg, seed=6))
    assert not np.array_equal(a.params["head.W"], c.params["head.W"])
    assert losses1[-1] < losses1[0]                             # it learns something in 4 steps


# --------------------------------------------------------------------------- shipped weights
@pytest.fixture(scope="module")
def shipped():
    m = tr.pretrained()
    v = tr.validation_tokens(context=m.context)
    return m, v, m.metadata


def test_pretrained_is_cached_and_read_only(shipped):
    m, _, meta = shipped
    assert tr.pretrained() is m
    assert meta["config"] == tr.PRETRAINED_CONFIG and meta["training"] == tr.PRETRAINED_TRAINING
    assert meta["n_parameters"] == m.n_parameters()
    with pytest.raises(ValueError):
        m.params["head.W"][0, 0] = 1.0
    for v in m.params.values():                                 # float32 values, held exactly as float64
        assert np.array_equal(v.astype(np.float32).astype(np.float64), v)


def test_pretrained_reproduces_recorded_validation_figures(shipped):
    m, v, meta = shipped
    rec = meta["validation"]
    assert rec["characters"] == v.shape[0] * (v.shape[1] - 1)
    ev = m.evaluate(v)
    # deterministic path: only exp/log may differ by an ulp between CPUs (PERPLEXITY_RTOL)
    assert math.isclose(ev["perplexity"], rec["perplexity"], rel_tol=tr.PERPLEXITY_RTOL)
    assert math.isclose(ev["cross_entropy"], rec["cross_entropy"], rel_tol=tr.PERPLEXITY_RTOL)
    # top-1 accuracy: the same up to one borderline character of the slice
    assert abs(ev["accuracy"] - rec["accuracy"]) <= 1 / rec["characters"]
    # a trained model, far better than a uniform guess over the vocabulary
    assert rec["perplexity"] < len(tr.vocab()) / 5


def test_pretrained_rtn_int8_vs_int4(shipped):
    m, v, meta = shipped
    ppl = {}
    for bits in (8, 4):
        Wq = {}
        for n in m.linear_names():                              # one symmetric scale per output row
            W = m.weight(n)
            Wq[n] = block_formats.group_quantize(W, bits=bits, group_size=W.shape[1], symmetric=True).dequantize()
        ppl[bits] = m.with_weights(Wq).perplexity(v)
        assert math.isclose(ppl[bits], meta["rtn_per_channel_perplexity"][str(bits)], rel_tol=tr.PERPLEXITY_RTOL)
    float_ppl = meta["validation"]["perplexity"]
    assert abs(ppl[8] / float_ppl - 1) < 0.005                 # int8 per channel: within 0.5 %
    assert ppl[4] / float_ppl > 1.02                            # int4 per channel: visibly worse


def test_generate_is_seeded(shipped):
    m, _, _ = shipped
    a = tr.generate("ROMEO.\n", 20, seed=3)
    assert a.startswith("ROMEO.\n") and len(a) == 27 and a == m.generate("ROMEO.\n", 20, seed=3)
    g = m.generate("To be", 10, greedy=True)
    assert g == m.generate("To be", 10, greedy=True, seed=99)
    # greedy, within one window: each character is the argmax of the full forward on the text so far
    ids = tr.encode(g)
    for t in range(5, len(ids)):
        assert ids[t] == np.argmax(m.logits(ids[:t])[0, -1])
    # past the window (context characters) the window restarts from its last context // 2 characters
    long = m.generate("To be", m.context + 3, greedy=True)
    ids = tr.encode(long)
    start = m.context + 1 - m.context // 2            # the restart came when the text had context + 1 characters
    assert len(ids) - 1 - start < m.context
    assert ids[-1] == np.argmax(m.logits(ids[start:-1])[0, -1])
    assert ids[-2] == np.argmax(m.logits(ids[start:-2])[0, -1])


# --------------------------------------------------------------------------- bad input
def test_bad_input_errors():
    m = tiny(15)
    C, V = m.context, m.vocab_size
    with pytest.raises(ValueError, match=r"tokens must be in \[0, 6\]"):
        m.perplexity([[0, 1, V]])
    with pytest.raises(ValueError, match=r"tokens must be in \[0, 6\]"):
        m.logits([[-1, 0]])
    with pytest.raises(ValueError, match="empty"):
        m.perplexity(np.zeros((0, 3), dtype=int))
    with pytest.raises(ValueError, match="1-D .* or 2-D"):
        m.perplexity(np.zeros((1, 2, 3), dtype=int))
    with pytest.raises(TypeError, match="integer token ids"):
        m.perplexity([[0.0, 1.0]])
    with pytest.raises(ValueError, match=rf"length in \[2, {C + 1}\] \(context={C}\)"):
        m.perplexity(np.zeros((1, C + 2), dtype=int))
    with pytest.raises(ValueError, match=rf"length in \[1, {C}\]"):
        m.logits(np.zeros((1, C + 1), dtype=int))
    with pytest.raises(ValueError, match=r"length in \[2, "):
        m.accuracy([[1]])
    with pytest.raises(ValueError, match="name must be one of"):
        m.weight("blocks.9.mlp.up")
    with pytest.raises(ValueError, match=r"must have shape \(7, 8\) \(out, in\)"):
        m.with_weights({"head": np.zeros((8, 7))})
    with pytest.raises(ValueError, match="NaN or inf"):
        m.with_weights({"head": np.full((7, 8), np.nan)})
    with pytest.raises(ValueError, match="must return shape"):
        m.perplexity([[0, 1, 2]], linear_fn={"head": lambda X, W: X})
    with pytest.raises(TypeError, match="callable"):
        m.perplexity([[0, 1, 2]], linear_fn={"head": 3})
    with pytest.raises(ValueError, match="not in the vocabulary"):
        tr.encode("caf\u00e9")
    with pytest.raises(TypeError, match="text must be a str"):
        tr.encode(b"abc")
    with pytest.raises(ValueError, match=r"ids must be in \[0, "):
        tr.decode([len(tr.vocab())])
    with pytest.raises(ValueError, match="n must be in"):
        tr.calibration_tokens(0)
    with pytest.raises(ValueError, match="multiple of n_heads"):
        tr.Transformer.init(5, d_model=6, n_heads=4, n_layers=1, context=3, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        tr.Transformer.init(5, d_model=8, n_heads=2, n_layers=1, context=3, rng=0)
    with pytest.raises(ValueError, match="prompt is empty"):
        tr.Transformer.init(len(tr.vocab()), d_model=8, n_heads=2, n_layers=1, context=3,
                            rng=np.random.default_rng(0)).generate("", 3)


def test_recorded_figures_are_not_on_a_float_knife_edge(shipped, monkeypatch):
    """Another CPU's summation order (here: BLAS instead of the fixed order) moves the figures by less than
    the stated tolerances: the recorded perplexity is not an accident of the last bits."""
    m, v, meta = shipped
    monkeypatch.setattr(tr.nn, "fixed_order_matmul", lambda X, W: np.asarray(X) @ np.asarray(W).T)
    ev = m.evaluate(v)
    assert math.isclose(ev["perplexity"], meta["validation"]["perplexity"], rel_tol=tr.PERPLEXITY_RTOL)
    assert abs(ev["accuracy"] - meta["validation"]["accuracy"]) <= 1 / meta["validation"]["characters"]

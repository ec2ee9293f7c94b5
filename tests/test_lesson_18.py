"""Lesson 18 (LLM weights): the quiz's answers and every number the lesson states, recomputed."""
import numpy as np
import pytest

from qlearn import quizzes
from qlearn.modern import awq as A
from qlearn.modern import block_formats as B
from qlearn.modern import gptq as G
from qlearn.modern import outliers as O
from qlearn.modern import smoothquant as S
from qlearn.viz.modern import llm as L
from qlearn.viz.quiz import Question

#: Numbers lesson 18's prose states about its synthetic layers (rounded as stated).
NUM = {'gptq_synth': {'2': 0.768, '3': 0.67, '4': 0.639},
       'awq_synth': {'alpha3': 0.4, 'alpha4': 0.35, 'r3': 0.556, 'r4': 0.555},
       'outl': {'n3': 79, 's6': 55.6, 's3': 60.5, 'plain': 36.5},
       'sq': {'pt_plain': 34.9, 'pt_05': 43.5, 'pt_best_a': 0.6, 'pt_best': 44.0, 'pt_1': 40.6, 'tok_plain': 36.5}}


def _q(start):
    (q,) = [q for q in quizzes.load_quizzes()["18_llm_weights"] if q["prompt"].startswith(start)]
    return q


def test_quiz_answers_are_what_qlearn_computes():
    # GPTQ: the update of step k touches only the columns after it
    W, X = G.synthetic_layer(4, 8, 32)
    _, h = G.gptq_quantize(W, X, bits=3, group_size=None, return_history=True)
    assert all(np.all(h.pushed[k][:, :k + 1] == 0) and np.any(h.pushed[k][:, k + 1:] != 0) for k in range(7))
    assert _q("In GPTQ")["answer"] == "the columns not yet quantized"
    # AWQ at alpha = 0 is RTN
    s, alpha, W_hat = A.awq_search(W, X, bits=3, group_size=8, grid=1)
    np.testing.assert_array_equal(W_hat, G.rtn_quantize(W, bits=3, group_size=8))
    assert _q("AWQ with alpha = 0")["answer"] == "round-to-nearest"
    # SmoothQuant's s_j for max|X_j| = 16, max|W_j| = 0.25
    assert S.smooth([[0.25]], [16.0], 0.5)[1].tolist() == [_q("SmoothQuant with alpha = 0.5")["answer"]] == [8.0]
    assert _q("Bits per weight of int3")["answer"] == B.bits_per_weight("int_asym", bits=3, block_size=128)
    for q in quizzes.load_quizzes()["18_llm_weights"]:
        Question(**q)


def test_synthetic_numbers_lesson_18_states():
    P = L.gptq_precomputed()
    for b, r in {2: NUM["gptq_synth"]["2"], 3: NUM["gptq_synth"]["3"], 4: NUM["gptq_synth"]["4"]}.items():
        assert abs(P[b]["err_gptq"] / P[b]["err_rtn"] - r) < 0.005
        assert np.all(P[b]["partial"][1:13] < 0.25 * P[b]["partial_rtn"][1:13])  # "below a quarter, first half"
    worse = 0
    for seed in range(40):
        W, X = G.synthetic_layer(8, 32, 128, rng=np.random.default_rng(seed))
        worse += G.output_error(W, G.gptq_quantize(W, X, bits=3, group_size=None), X) > \
            G.output_error(W, G.rtn_quantize(W, bits=3, group_size=None), X)
    assert worse == 0
    rng = np.random.default_rng(35)
    W, X = rng.normal(size=(4, 8)), rng.normal(size=(64, 8))
    tiny = G.output_error(W, G.gptq_quantize(W, X, bits=4, group_size=None), X) / \
        G.output_error(W, G.rtn_quantize(W, bits=4, group_size=None), X)
    assert 1.145 < tiny < 1.155   # '15 % above'
    Pa = L.awq_precomputed()
    a = NUM["awq_synth"]
    assert (Pa[3]["alpha"], Pa[4]["alpha"]) == (a["alpha3"], a["alpha4"])
    assert abs(Pa[3]["losses"].min() / Pa[3]["losses"][0] - a["r3"]) < 0.005
    W, X = L.awq_layer()
    m = np.abs(X).mean(axis=0)
    assert 300 < m.max() / m.min() < 500   # "differ in size by a factor of 400"
    p = L.outlier_precomputed()
    o = NUM["outl"]
    k6, k3, k40 = (list(p["thresholds"]).index(t) for t in (6.0, 3.0, 40.0))
    assert (p["n_columns"][k6], p["n_columns"][k3], p["n_columns"][k40]) == (4, o["n3"], 0)
    assert abs(p["sqnr"][k6] - o["s6"]) < 0.1 and abs(p["plain"] - o["plain"]) < 0.1
    q = L.smoothquant_precomputed()
    sq = NUM["sq"]
    alphas = list(L.SQ_ALPHAS)
    assert abs(q["per_tensor_plain"] - sq["pt_plain"]) < 0.1
    assert abs(q["per_tensor"][alphas.index(0.5)] - sq["pt_05"]) < 0.1
    assert alphas[int(np.argmax(q["per_tensor"]))] == sq["pt_best_a"] and abs(q["per_tensor"][-1] - sq["pt_1"]) < 0.1
    W, X, planted = L.outlier_layer()
    assert planted.tolist() == O.outlier_columns(X, 6.0).tolist()


@pytest.fixture(scope="module")
def model():
    from qlearn.modern import transformer as T

    return T.pretrained(), T.validation_tokens(), T.calibration_tokens(**G.TABLE_CALIBRATION)


def test_model_numbers_lesson_18_states(model):
    m, val, cal = model
    assert m.n_parameters() == 113609 and m.vocab_size == 73
    assert abs(m.perplexity(val) - 5.879) < 0.0005
    # section 2/3: one real layer, GPTQ and AWQ against RTN (float BLAS in calibration: stated to 1 %)
    name = "blocks.0.mlp.up"
    W = m.weight(name)
    X = m.capture_inputs(cal, [name])[name]
    rtn = {b: G.output_error(W, G.rtn_quantize(W, bits=b, group_size=None), X) for b in (3, 4)}
    for b, r in {4: 0.360, 3: 0.362}.items():
        assert abs(G.output_error(W, G.gptq_quantize(W, X, bits=b, group_size=None), X) / rtn[b] - r) < 0.01
    s, alpha, W_awq = A.awq_search(W, X, bits=3, group_size=None)
    assert alpha == 0.25 and abs(G.output_error(W, W_awq, X) / rtn[3] - 0.984) < 0.01
    assert abs(s.min() - 0.91) < 0.005 and abs(s.max() - 1.10) < 0.005
    # section 4: the model has no outlier features
    from qlearn.modern import transformer as T

    stats = T.activation_stats(val, model=m)
    assert 2.35 < max(v["outlier_ratio"] for v in stats.values()) < 2.4
    assert sum(v["channels_over_6"] for v in stats.values()) == stats["head"]["channels_over_6"] == 3
    assert abs(stats["head"]["channel_max"].max() - 6.62) < 0.005
    assert abs(stats["blocks.1.mlp.down"]["kurtosis"] - 59.3) < 0.05


def test_shipped_table_states_what_the_lesson_says():
    T = {r["method"]: r for r in G.shipped_method_table()}
    assert list(T) == list(G.METHODS)
    stated = {"float": 5.879, "rtn_int8_pc": 5.880, "rtn_int4_pc": 5.971, "rtn_int4_g32": 5.952, "rtn_int3_pc": 6.769,
              "rtn_int3_g32": 6.388, "rtn_int4_g128": 5.969, "gptq_int4_g128": 5.945, "nvfp4": 5.973, "mxfp4": 6.211,
              "awq_int4_g128": 6.015, "rtn_int3_g128": 6.694, "gptq_int3_g128": 6.138, "awq_int3_g128": 6.650,
              "smoothquant_w8a8": 5.882, "llm_int8": 5.882}
    for k, v in stated.items():
        assert abs(T[k]["perplexity"] - v) < 0.0015, k
    assert abs(T["rtn_int3_g128"]["perplexity"] - T["float"]["perplexity"] - 0.815) < 0.0015
    assert abs(T["gptq_int3_g128"]["perplexity"] - T["float"]["perplexity"] - 0.259) < 0.0015
    assert abs(T["rtn_int4_g32"]["bits_per_weight"] - 4.625) < 1e-9
    assert abs(T["float"]["model_bytes"] / 1024 - 443.8) < 0.05
    assert abs(T["gptq_int4_g128"]["model_bytes"] / 1024 - 95.1) < 0.05
    assert abs(T["gptq_int3_g128"]["model_bytes"] / 1024 - 82.4) < 0.05
    assert abs(T["gptq_int4_g128"]["bits_per_weight"] - 4.263) < 0.0005
    assert abs(T["gptq_int3_g128"]["bits_per_weight"] - 3.25) < 0.0005


@pytest.mark.slow
def test_shipped_table_is_what_qlearn_computes(model):
    """Recompute every row of llm_methods.npz. Bits and bytes are closed forms (exact); perplexities of
    methods without float calibration are evaluated in fixed-order sums (1e-9); LLM.int8()'s FP16 part
    uses a BLAS product (1e-6); GPTQ and AWQ solve with float BLAS during calibration (2e-3)."""
    m, val, cal = model
    shipped = {r["method"]: r for r in G.shipped_method_table()}
    for r in G.method_table(m, cal, val):
        s = shipped[r["method"]]
        assert r["bits_per_weight"] == s["bits_per_weight"] and r["model_bytes"] == s["model_bytes"]
        kind = G.METHODS[r["method"]][1]
        rtol = {"gptq": 2e-3, "awq": 2e-3, "llm_int8": 1e-6}.get(kind, 1e-9)
        assert abs(r["perplexity"] / s["perplexity"] - 1) < rtol, r["method"]
        assert abs(r["accuracy"] - s["accuracy"]) < (0.01 if kind in ("gptq", "awq") else 1e-12), r["method"]

"""Lesson 17 (block formats): the quiz's answers and the numbers the lesson states, recomputed."""
import math

import ml_dtypes
import numpy as np
import pytest

from qlearn import quizzes
from qlearn.modern import block_formats as B
from qlearn.networks import nn
from qlearn.ranges.metrics import sqnr_db
from qlearn.viz.quiz import Question


def _q(start):
    (q,) = [q for q in quizzes.load_quizzes()["17_block_formats"] if q["prompt"].startswith(start)]
    return q


def test_quiz_answers_are_what_qlearn_and_the_formulas_compute():
    # the MX scale of a block whose max is 0.3: 2**(floor(log2 0.3) - 2), and qlearn agrees
    q = _q("MXFP4 (FP4 E2M1 elements, emax = 2)")
    assert q["answer"] == 2.0 ** (math.floor(math.log2(0.3)) - 2)
    assert B.mx_quantize([0.3, 0.1], "fp4_e2m1", block_size=2).scales.tolist() == [q["answer"]]
    # 7.0 with X = 1 saturates to FP4's largest value (ml_dtypes' float4_e2m1fn max)
    q = _q("MXFP4: a block's largest value is 7.0")
    t = B.mx_quantize([7.0, 1.0], "fp4_e2m1", block_size=2)
    assert t.scales.tolist() == [1.0]
    assert float(q["answer"]) == t.dequantize()[0] == float(ml_dtypes.finfo(ml_dtypes.float4_e2m1fn).max)
    q = _q("Bits per weight of int4 with groups of 64")
    assert q["answer"] == 4 + (16 + 4) / 64 == B.bits_per_weight("int_asym", bits=4, block_size=64)
    assert _q("Which scale does NVFP4")["answer"] == "FP8 E4M3"
    for q in quizzes.load_quizzes()["17_block_formats"]:
        Question(**q)  # every question builds


@pytest.fixture(scope="module")
def tables():
    x = nn.pretrained().layers[0].W.reshape(-1)
    heavy = B.heavy_tailed_weights(4096, rng=np.random.default_rng(0))
    return {name: {(r["scheme"], r["block_size"]): r for r in B.tradeoff_table(t)}
            for name, t in {"real": x, "heavy": heavy}.items()}, x, heavy


def test_numbers_lesson_17_states(tables):
    T, x, heavy = tables
    R, H = T["real"], T["heavy"]
    near = lambda v, target: abs(v - target) < 0.06  # noqa: E731  (SQNRs are stated to 0.1 dB)
    assert near(R["mxfp4", 32]["sqnr_db"], 18.8) and near(R["nvfp4", 16]["sqnr_db"], 20.5)
    assert near(R["int_asym", 128]["sqnr_db"], 19.9)
    assert near(H["mxfp4", 32]["sqnr_db"], 16.7) and near(H["nvfp4", 16]["sqnr_db"], 20.7)
    assert near(H["int_asym", 128]["sqnr_db"], 15.4)
    for (s, k), v in {("mxfp4", 128): 14.2, ("mxfp4", 16): 17.4, ("nvfp4", 128): 16.2, ("nvfp4", 16): 20.7,
                      ("int_asym", 128): 15.4, ("int_asym", 16): 22.0}.items():
        assert near(H[s, k]["sqnr_db"], v)
    assert near(R["mxfp6_e2m3", 32]["sqnr_db"], 30.9) and near(R["mxfp8_e4m3", 32]["sqnr_db"], 30.7)
    assert near(R["mxfp4", 16]["sqnr_db"], 18.8) and near(R["mxfp4", 128]["sqnr_db"], 18.9)
    # closed forms, pinned exactly
    assert (R["mxfp4", 32]["bits_per_weight"], R["nvfp4", 16]["bits_per_weight"],
            R["int_asym", 128]["bits_per_weight"]) == (4.25, 4.5 + 32 / 4096, 4.15625)
    assert R["mxfp4", 16]["bits_per_weight"] - R["mxfp4", 128]["bits_per_weight"] == 0.4375
    # section 1: tails and the per-tensor int4 baseline
    assert 3.5 < np.abs(x).max() / x.std() < 3.8 and 14.0 < np.abs(heavy).max() / heavy.std() < 14.4
    from qlearn.ranges import affine

    qp = affine.minmax_qparams(heavy, bits=4, symmetric=True)
    assert 5.6 < sqnr_db(heavy, affine.fake_quantize(heavy, qp)) < 6.0
    # section 3: the first block's scale and the saturated count (comparisons only: exact on any machine)
    mx = B.mx_quantize(x, "fp4_e2m1")
    assert mx.scales[0] == 0.0625 and mx.scale_codes[0] == 123
    assert int(np.sum(np.abs(x) > 6 * np.repeat(mx.scales, 32))) == 87

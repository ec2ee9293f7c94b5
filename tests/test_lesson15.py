"""Lesson 15 (convolutions and batch-norm folding): its quiz answers and stated figures, recomputed."""
import math

import numpy as np

from qlearn import quizzes
from qlearn.networks import convnet
from qlearn.networks.conv import macs

LESSON = "15_convolutions_and_folding"


def _answer(prompt_start):
    (q,) = [q for q in quizzes.lesson_questions(LESSON) if q["prompt"].startswith(prompt_start)]
    return q


def test_numeric_quiz_answers_are_what_qlearn_and_the_formulas_give():
    # folding factor k = gamma / sqrt(var + eps)
    q = _answer("A batch norm has gamma = 0.5")
    assert q["answer"] == 0.5 / math.sqrt(0.0625)
    # MACs: Howard et al.'s ratio 1 / (1/N + 1/k^2), and qlearn's count
    q = _answer("A block maps 16 to 32 channels")
    ratio = macs((32, 16, 3, 3), (4, 4)) / (macs((16, 1, 3, 3), (4, 4)) + macs((32, 16, 1, 1), (4, 4)))
    assert abs(q["answer"] - ratio) <= 0.005 and abs(ratio - 1 / (1 / 32 + 1 / 9)) < 1e-12
    # levels the narrowest channel of the folded layer 3 spans with one int8 scale
    q = _answer("In the folded second depthwise layer")
    W = convnet.pretrained().fold().quant_layers()[3].W
    r = convnet.channel_ranges(W)
    assert (round(float(r.min()), 2), round(float(r.max()), 2)) == (0.82, 4.18)
    assert q["answer"] == int(convnet.levels_used(W, bits=8).min()) == 2 * round(127 * r.min() / r.max()) + 1


def test_choice_answers_match_the_measurements():
    t = convnet.accuracy_table()
    q = _answer("On this small network, after folding")
    assert q["answer"].startswith("none") and round(t[True, False, 8] * 539) == round(t["float"] * 539) == 509
    assert "68.8%" in q["explanation"] and round(t[True, False, 4], 3) == 0.688 and round(t[True, True, 4], 3) == 0.898
    q = _answer("Folding a batch norm")
    assert q["answer"] == "gamma_c / sqrt(var_c + eps)"


def test_per_channel_codes_do_not_change_when_a_batch_norm_is_folded():
    from qlearn.ranges import affine

    net = convnet.pretrained()
    for L0, L1 in zip(net.quant_layers(), net.fold().quant_layers(), strict=True):
        for bits in (8, 4):
            q0, q1 = (affine.quantize(W, affine.minmax_qparams(W, bits=bits, symmetric=True, narrow_range=True, axis=0))
                      for W in (L0.W, L1.W))
            assert np.array_equal(q0, q1)

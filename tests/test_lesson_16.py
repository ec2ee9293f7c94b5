"""Lesson 16 (repairing post-training quantization): its quiz answers and stated figures, recomputed."""
import math

import numpy as np

from qlearn import quizzes
from qlearn.networks import bias_correction, convnet, equalization
from qlearn.networks.data import load_digits

LESSON = "16_ptq_repairs"


def _question(prompt_start):
    (q,) = [q for q in quizzes.lesson_questions(LESSON) if q["prompt"].startswith(prompt_start)]
    return q


def test_numeric_quiz_answers_are_what_qlearn_and_the_formulas_give():
    q = _question("Output channel i of a layer has range r1 = 8")
    s = equalization.equalization_scales(np.array([8.0]), np.array([2.0]))
    assert q["answer"] == float(s[0]) == math.sqrt(8 * 2) / 2
    q = _question("Same channel (r1 = 8, r2 = 2)")
    assert q["answer"] == 8 / float(s[0]) == 2 * float(s[0]) == math.sqrt(16)
    q = _question("Analytical bias correction needs E[x]")
    exact = float(bias_correction.clipped_relu_mean(0.0, 1.0))
    assert exact == 1 / math.sqrt(2 * math.pi) and abs(q["answer"] - exact) <= q["tolerance"]


def test_choice_answers_match_the_measurements():
    t = bias_correction.load_repair_table()
    n = {k: round(v * 539) for k, v in t.items() if isinstance(k, tuple)}
    q = _question("On the course's folded network")
    assert q["answer"].startswith("cross-layer equalization, then empirical")
    assert n["cle_absorb_bias_corr", 4] >= round(t["float_folded"] * 539) > n["cle", 4] == n["cle_absorb", 4]
    for text, v in (("68.8%", t["folded", 4]), ("90.5%", t["cle", 4]), ("94.6%", t["cle_absorb_bias_corr", 4]),
                    ("89.8%", t["per_channel", 4]), ("94.4%", t["float_folded"])):
        assert text in q["explanation"] + q["prompt"] and f"{v:.1%}" == text
    q = _question("Why can cross-layer equalization not simply")
    assert q["answer"].startswith("ReLU6 clips at 6")
    # ReLU6(z / s) != ReLU6(z) / s once clipped (z = 12, s = 2), and "426 of 539" is measured
    relu6 = equalization.ClippedReLU.relu6(1)
    assert relu6.forward(np.array([[12.0 / 2]]))[0, 0] != relu6.forward(np.array([[12.0]]))[0, 0] / 2
    d = load_digits()
    folded = convnet.pretrained().fold()
    a = folded.forward(d.X_test)
    b = equalization.with_channel_ceilings(folded, relu=True).forward(d.X_test)
    assert "426 of 539" in q["explanation"] and int(np.sum(np.any(a != b, axis=1))) == 426
    assert np.array_equal(a.argmax(axis=1), b.argmax(axis=1))


def test_the_lessons_stated_figures():
    d = load_digits()
    net = convnet.pretrained()
    folded = net.fold()
    eq = equalization.equalize(folded)
    spread = []
    for L0, L1 in zip(folded.quant_layers(), eq.model.quant_layers(), strict=True):
        r0, r1 = convnet.channel_ranges(L0.W), convnet.channel_ranges(L1.W)
        spread.append((round(r0.max() / r0.min(), 2), round(r1.max() / r1.min(), 2),
                       int(convnet.levels_used(L0.W, bits=4).min()), int(convnet.levels_used(L1.W, bits=4).min())))
    assert spread[2] == (4.70, 1.45, 3, 11) and spread[3] == (5.09, 1.45, 3, 11)
    assert [(round(r["ratio_before"], 2), round(r["ratio_after"], 2), r["levels_before"], r["levels_after"])
            for r in equalization.range_spread(folded, eq.model)] == spread
    assert eq.sweeps == 99 and round(float(np.exp(eq.mismatch[0])), 2) == 5.28
    assert float(np.exp(eq.mismatch[5])) < 1.06  # "after 5 sweeps already within 6%"
    logits = folded.forward(d.X_test)
    assert np.abs(eq.model.forward(d.X_test) - logits).max() < 1e-12 * np.abs(logits).max()
    stats = equalization.preactivation_stats(net)
    assert [round(float((m - 3 * s).max()), 2) for m, s in stats.values()] == [-0.85, -1.66, -0.78, -2.11, -4.44]
    q4 = convnet.quantize(eq.model, d.X_calib, weight_bits=4)
    _, shifts, residual = bias_correction.empirical_bias_correction(q4, eq.model, d.X_calib)
    assert [round(float(np.abs(s).max()), 2) for s in shifts.values()] == [0.04, 0.08, 0.32, 0.27, 0.46, 0.57]
    for k, r in residual.items():
        assert np.all(np.abs(r) <= q4.layers[k].bias_qp.scale / 2 * (1 + 1e-9) + 1e-12)


def test_the_explorers_show_the_shipped_figures():
    from qlearn.viz.networks import repairs

    ex = repairs.cle_explorer()
    ex.controls["pair"].value = 2
    ex.controls["sweep"].value = 0
    assert "4.70x" in ex.readout.value and "5.2800x" in ex.readout.value
    ex.controls["sweep"].value = ex.controls["sweep"].max
    assert "1.0000x" in ex.readout.value
    rx = repairs.repairs_explorer()
    rx.controls["bits"].value = 4
    assert "68.8%" in rx.readout.value and "(510)" in rx.readout.value
    t = bias_correction.load_repair_table()
    assert list(rx.fig.data[0].x) == [100 * t[name, 4] for name in bias_correction.REPAIRS]

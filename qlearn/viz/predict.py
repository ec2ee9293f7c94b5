"""Committed predictions: the learner commits a guess before the lesson shows what happens.

A :class:`Prediction` asks a question (a choice, or a number typed as text and read by
:func:`qlearn.answers.parse_number`); the explanation stays folded until the learner commits, then
unfolds and shows their guess next to the value qlearn measured. A committed guess is kept (the box
is disabled), so the comparison is honest. Built from plain ipywidgets (no ``interact``, no
``Output``), so it works in Voila; nothing a learner types makes it raise.

Examples
--------
>>> p = predict("SQNR of an 8-bit full-scale sine, in dB?", measured=49.93, unit="dB",
...             explanation="6.02 dB per bit plus 1.76 dB.")
>>> p.reveal.value
''
>>> p.input.value = "48"
>>> p.button.click()
>>> p.committed, "48" in p.reveal.value and "49.93" in p.reveal.value
(True, True)
"""
from __future__ import annotations

import html
import math
import numbers

import ipywidgets as widgets

from qlearn import answers
from qlearn.viz.static import StaticPreview


def _fmt(value, unit: str = "") -> str:
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        v = float(value)
        text = f"{v:.6g}" if math.isfinite(v) else str(v)
    else:
        text = str(value)
    return f"{text} {unit}".strip()


class Prediction(StaticPreview, widgets.VBox):
    """A committed prediction. Build it with :func:`predict`.

    Attributes
    ----------
    input : RadioButtons (choices) or Text (a number)
    button : Button ("Commit my prediction")
    message : HTML
        What could not be read (an empty box, ``0,02``), before committing.
    reveal : HTML
        Empty and hidden until the learner commits; then the guess, the measured value and the
        explanation.
    committed : bool
    guess : the committed choice or number (None before)
    """

    def __init__(self, question: str, *, measured, choices=None, answer=None, explanation: str = "",
                 unit: str = "", tolerance: float | None = None, rel_tolerance: float | None = None):
        if not isinstance(question, str) or not question.strip():
            raise ValueError("question must be a non-empty str")
        if choices is not None:
            choices = list(choices)
            if len(choices) < 2:
                raise ValueError(f"choices must hold at least two options, got {choices!r}")
            if answer is not None and answer not in choices:
                raise ValueError(f"answer {answer!r} is not one of the choices {choices!r}")
            if tolerance is not None or rel_tolerance is not None:
                raise ValueError("tolerance/rel_tolerance apply to a numeric prediction (choices=None)")
        else:
            if answer is not None:
                raise ValueError("answer= names the right choice; a numeric prediction compares with measured=")
            try:
                m = float(measured)
            except (TypeError, ValueError):
                raise TypeError(f"measured must be a number for a numeric prediction, got {measured!r}") from None
            if not math.isfinite(m):
                raise ValueError(f"measured must be finite, got {measured!r}")
        for name, t in (("tolerance", tolerance), ("rel_tolerance", rel_tolerance)):
            if t is not None and (not isinstance(t, numbers.Real) or not math.isfinite(t) or t < 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {t!r}")
        self.question, self.measured, self.choices, self.answer = question, measured, choices, answer
        self.explanation, self.unit = explanation, unit
        self.tolerance, self.rel_tolerance = tolerance, rel_tolerance
        self.committed, self.guess = False, None
        self.on_commit = None  # called after committing (lesson_prediction records progress with it)
        self.prompt = widgets.HTML(f"<b>Predict:</b> {html.escape(question)}")
        if choices is not None:
            self.input = widgets.RadioButtons(options=choices, value=None, layout=widgets.Layout(width="auto"))
        else:
            self.input = widgets.Text(value="", placeholder="your guess", description="guess:",
                                      layout=widgets.Layout(width="240px"))
        self.button = widgets.Button(description="Commit my prediction", button_style="info",
                                     layout=widgets.Layout(width="auto"))
        self.message = widgets.HTML()
        self.reveal = widgets.HTML(layout=widgets.Layout(display="none"))
        self.button.on_click(self._on_click)
        super().__init__([self.prompt, self.input, widgets.HBox([self.button, self.message]), self.reveal],
                         layout=widgets.Layout(margin="0 0 12px 0", border="1px solid #ddd", padding="6px"))
        self.add_class("qlearn-predict")  # browser tests find predictions by this class

    @property
    def numeric(self) -> bool:
        return self.choices is None

    def _on_click(self, _button=None):
        try:
            self.commit()
        except Exception as exc:  # a widget callback must never raise into the page
            self.message.value = f"<span style='color:#555'>Could not record that: {html.escape(str(exc))}</span>"

    def commit(self) -> bool:
        """Read and record the learner's guess, then unfold the explanation. False if nothing readable."""
        if self.committed:
            return True
        if self.numeric:
            try:
                guess = answers.parse_number(self.input.value if isinstance(self.input.value, str) else "")
            except ValueError as e:
                self.message.value = f"<span style='color:#555'>{html.escape(str(e))}</span>"
                return False
        else:
            guess = self.input.value
            if guess is None:
                self.message.value = "<span style='color:#555'>Pick one first.</span>"
                return False
        self.guess, self.committed = guess, True
        self.input.disabled = True
        self.button.disabled = True
        self.button.description = "Committed"
        self.message.value = ""
        self.reveal.value = self._reveal_html()
        self.reveal.layout.display = "block"
        if self.on_commit is not None:
            try:
                self.on_commit()
            except Exception:  # recording progress must never break the widget
                pass
        return True

    def _verdict(self) -> str:
        if not self.numeric:
            if self.answer is None:
                return ""
            if self.guess == self.answer:
                return "<span style='color:#007a3d'>&#10004; Your prediction matches what was measured.</span> "
            return (f"<span style='color:#b00020'>&#10008; The measurement says "
                    f"<b>{html.escape(str(self.answer))}</b>.</span> ")
        m, g = float(self.measured), float(self.guess)
        if self.tolerance is not None or self.rel_tolerance is not None:
            if answers.is_close(g, m, tolerance=self.tolerance or 0.0, rel_tolerance=self.rel_tolerance or 0.0):
                return "<span style='color:#007a3d'>&#10004; Close enough.</span> "
        diff = g - m
        if diff == 0:
            return "<span style='color:#007a3d'>&#10004; Exactly.</span> "
        way = "above" if diff > 0 else "below"
        return f"Yours is {html.escape(_fmt(abs(diff), self.unit))} {way} the measured value. "

    def _reveal_html(self) -> str:
        rows = (f"<tr><td><i>your prediction</i></td><td><b>{html.escape(_fmt(self.guess, self.unit))}</b></td></tr>"
                f"<tr><td><i>measured by qlearn</i></td><td><b>{html.escape(_fmt(self.measured, self.unit))}</b>"
                "</td></tr>")
        return (f"<div class='qlearn-predict-reveal'><table>{rows}</table>{self._verdict()}"
                f"{html.escape(self.explanation)}</div>")


def predict(question: str, *, measured, choices=None, answer=None, explanation: str = "", unit: str = "",
            tolerance: float | None = None, rel_tolerance: float | None = None) -> Prediction:
    """A committed-prediction widget: the learner commits, then sees their guess next to ``measured``.

    Parameters
    ----------
    question : str
    measured : number, or the observed choice
        The value qlearn computed in the notebook (never typed by hand).
    choices : list, optional
        Multiple choice; without it the learner types a number (read by
        :func:`qlearn.answers.parse_number`: ``2.54/127``, ``1.5e-5``; ``0,02`` is refused with a message).
    answer : optional
        Multiple choice: the choice the measurement supports (marked right or wrong after committing).
    explanation : str
        Unfolds after the learner commits.
    unit : str
        Shown after numbers (``"dB"``).
    tolerance, rel_tolerance : float, optional
        Numeric: a guess within ``max(tolerance, rel_tolerance * |measured|)`` is called close.

    Returns
    -------
    Prediction
    """
    return Prediction(question, measured=measured, choices=choices, answer=answer, explanation=explanation,
                      unit=unit, tolerance=tolerance, rel_tolerance=rel_tolerance)


# ---------------------------------------------------------------------------------------------
# The lessons' predictions: the question, and the value qlearn measures, kept here so that the
# lesson's code cell (``ql.viz.predict.lesson_prediction("02_rounding")``) shows no answer.
# ---------------------------------------------------------------------------------------------

def _p02():
    import numpy as np

    from qlearn.numbers import rounding

    mean = rounding.error_stats(np.linspace(0, 50, 10_001), "toward_zero")["mean"]
    return predict("Truncating 10,001 values spread evenly over [0, 50]: what is the average error, in steps?",
                   measured=mean, unit="steps", tolerance=0.05,
                   explanation="Truncation sends every positive value down, so its errors all have the same sign "
                               "and add up instead of cancelling: about half a step lost per value. "
                               "Round-to-nearest's average error is about 0.")


def _p03():
    import numpy as np

    from qlearn.ranges import affine

    qp = affine.compute_qparams(-1.0, 2.5, bits=3)
    n = int(np.unique(affine.fake_quantize(np.linspace(-1.0, 2.5, 10_001), qp)).size)
    return predict("With 3 bits and the range [-1, 2.5], how many different values can x_hat take?",
                   measured=n, unit="values",
                   explanation="3 bits are 2**3 = 8 codes, and this range uses all of them: the step is the range "
                               "divided by the 7 gaps between the codes.")


def _p04():
    from qlearn.ranges import snr

    best = snr.optimal_clip("gaussian", 4, model="exact")
    choices = ["2 sigma", "3 sigma", "4 sigma"]
    nearest = min(choices, key=lambda c: abs(float(c.split()[0]) - best))
    return predict("For Gaussian data at 4 bits, is the best clip closer to 2, 3 or 4 standard deviations?",
                   measured=f"best clip {best:.2f} sigma (exact optimum for the Gaussian density)",
                   choices=choices, answer=nearest,
                   explanation="A tight clip cuts the tail (clipping error); a wide one makes the 16 steps coarse "
                               "(rounding error). The explorer below draws both curves and their sum.")


def _p05():
    from qlearn.ranges import snr

    g = snr.sample_distribution("gaussian", 200_000, seed=0)
    measured = snr.noise_decomposition(g, 16, 4.0)["sqnr_db"]
    return predict("A Gaussian clipped at 4 standard deviations, quantized to 16 bits: what SQNR do you expect, "
                   "in dB? (the 6 dB/bit rule for it gives 6.02 * 16 + 4.77 - 20 log10(4) dB)",
                   measured=measured, unit="dB", rel_tolerance=0.05,
                   explanation="The samples beyond 4 sigma are clipped, and their clipping noise does not shrink "
                               "with more bits: the SQNR flattens far below the line.")


def _p06():
    from qlearn.numbers import fixed

    x_hat, _ = fixed.quantize_fixed([9.0], fixed.FixedFormat(8, 4), overflow="wrap")
    return predict("In Q3.4 (range [-8, 7.9375]), what does 9.0 become with wrap-around?", measured=float(x_hat[0]),
                   explanation="9.0 is the code 9 * 16 = 144, which does not fit 8 signed bits: it wraps to "
                               "144 - 256 = -112, read as -112 / 16. Saturation would stop at 7.9375.")


def _p07():
    import numpy as np

    from qlearn.networks import nn

    r = np.abs(nn.pretrained().layers[0].W).max(axis=1)
    return predict("Layer 0 at 4 bits (7 positive levels), one scale for the whole tensor: how many positive "
                   "levels does the narrowest row use?", measured=7 * r.min() / r.max(), unit="levels",
                   tolerance=0.5,
                   explanation="The one scale must reach the widest row's largest weight, so a row with a smaller "
                               "range uses only its share of the 7 levels: 7 * r_c / max r.")


def _p08():
    from qlearn.networks import data, nn, ptq

    d, model = data.load_digits(), nn.pretrained()
    acc = {cal: ptq.quantize_model(model, mode="full_integer", bits=4, calibration=cal,
                                   calib_data=d.X_calib).accuracy(d.X_test, d.y_test) for cal in ptq.CALIBRATIONS}
    worst = min(acc, key=acc.get)
    return predict("Full-integer PTQ at 4 bits, per tensor: which calibrator gives the lowest accuracy?",
                   measured=", ".join(f"{c} {a:.1%}" for c, a in acc.items()), choices=list(ptq.CALIBRATIONS),
                   answer=worst,
                   explanation="Min/max sets each activation's step from its largest value; one large activation "
                               "makes the step too coarse for the bulk of the values.")


def _p09():
    from qlearn.networks import data, qat

    d = data.load_digits()
    acc = qat.pretrained_qat(2, False).accuracy(d.X_test, d.y_test)
    choices = ["still near chance", "around 70%", "back near float's accuracy"]
    answer = choices[0] if acc < 0.3 else choices[1] if acc < 0.9 else choices[2]
    return predict("Full-integer 2-bit PTQ, per tensor, is near chance. After 10 epochs of QAT?",
                   measured=f"2-bit per-tensor QAT: {acc:.1%}", choices=choices, answer=answer,
                   explanation="QAT lets the weights move onto the grid, but a 2-bit min/max grid has only the "
                               "levels -s, 0, s, so most weights still sit at 0.")


def _p09b():
    import numpy as np

    from qlearn.networks import data, ptq

    study = ptq.load_regularization_study()  # shipped: eight seeds' float models, PTQ at five widths
    delta = np.round(study["delta"] * len(data.load_digits().y_test)).astype(int)  # PTQ minus float, in images
    gains = int((delta > 0).sum())
    choices = ["none of them", "a few, by an image or so each", "about half of them or more"]
    answer = choices[0] if gains == 0 else (choices[1] if gains <= 0.2 * delta.size else choices[2])
    return predict("Eight float models (seeds 0-7), each quantized by full-integer PTQ at 8, 6, 5, 4 and 3 bits: "
                   "in how many of the 40 cases will the quantized model get more test images right than its float "
                   "model?", measured=f"{gains} of {delta.size} cases gained, by at most {int(delta.max())} image; "
                                      f"largest loss {int(-delta.min())} images",
                   choices=choices, answer=answer,
                   explanation="PTQ adds a fixed perturbation to a finished model: it flips a few borderline images "
                               "either way, and more of them the wrong way as the bits shrink.")


def _p09c():
    import numpy as np

    from qlearn.networks import data, qat

    ns = qat.load_noise_study()  # shipped: four seeds fine-tuned by QAT at 16, 8 and 4 bits
    img = np.round(ns["accuracy"] * len(data.load_digits().y_test)).astype(int)
    nb = list(ns["bits"])
    d8 = img[:, nb.index(8)] - img[:, nb.index(16)]
    choices = ["a gain on every seed", "a few images either way, depending on the seed", "a loss on every seed"]
    answer = choices[0] if (d8 > 0).all() else (choices[2] if (d8 < 0).all() else choices[1])
    return predict("Four seeds, QAT fine-tuning at 8 bits against the same fine-tuning at 16 bits (the control): what "
                   "will 8-bit rounding noise during training do to test accuracy?",
                   measured="8-bit minus 16-bit control, in images per seed: " + ", ".join(f"{v:+d}" for v in d8),
                   choices=choices, answer=answer,
                   explanation="Against a control trained with the same recipe, the noise's effect is a few images, "
                               "up on one seed and down on another: occasional, not a rule.")


def _p10():
    from qlearn.networks import data, nn
    from qlearn.numbers import nonuniform

    d, model = data.load_digits(), nn.pretrained()
    acc = nonuniform.compress_model(model, "kmeans", 2).accuracy(d.X_test, d.y_test)
    return predict("Weights only, 2 bits: what accuracy will 4 k-means levels give, in percent? (type the number "
                   "without %)", measured=100 * acc, unit="%", tolerance=5.0,
                   explanation="K-means puts its 4 levels inside the bulk of the weights instead of spending one "
                               "on each extreme, so few weights are sent to 0.")


def _p11():
    from qlearn.hardware import intops

    return predict("A layer sums K = 64 products of a 9-bit input and an 8-bit weight. How many bits does the "
                   "accumulator need in the worst case?", measured=intops.accumulator_bits_needed(64, 9, 8),
                   unit="bits",
                   explanation="The largest product of a 9-bit and an 8-bit signed code is 2**(9 + 8 - 2) = "
                               "2**15; 64 of them reach 2**21, which needs 22 bits of magnitude and a sign bit. "
                               "16 bits hold a single product, not a sum of 64.")


def _p12():
    from qlearn.hardware import systolic

    cycles = {df: systolic.cycle_count(1, 256, 256, 128, 128, df) for df in systolic.DATAFLOWS}
    fewest = [df for df in systolic.DATAFLOWS if cycles[df] == min(cycles.values())]
    tie = "two or more tie"
    return predict("One input vector (M = 1) through a 256 x 256 layer on a 128 x 128 array: which dataflow "
                   "takes the fewest cycles?", measured=", ".join(f"{k} {v}" for k, v in cycles.items()),
                   choices=[*systolic.DATAFLOWS, tie], answer=fewest[0] if len(fewest) == 1 else tie,
                   explanation="With M = 1 there is almost nothing to stream: the cycles go into the folds, each "
                               "of which loads its stationary operand and fills and drains the array.")


def _p13():
    from qlearn.hardware import tpu

    share = 100 * tpu.model_cost(tpu.mlp0_layers(), 200).tops / tpu.TPU_V1.peak_tops
    return predict("MLP0 at batch 200 on the TPU v1: what share of the peak TOPS does it reach, in percent?",
                   measured=share, unit="%", rel_tolerance=0.2,
                   explanation="At batch 200 each weight byte feeds 200 MACs, far left of the ridge: the matrix "
                               "unit waits for weight memory. The roofline allows 2 * 200 MACs per byte times "
                               "34 GB/s; the lesson's latency model, with its fixed costs, gets a little less.")


def _p02b():
    from qlearn.numbers import rounding

    end = float(rounding.accumulate([0.1] * 2000, step=1.0, mode="half_even")[-1])
    return predict("2,000 updates of +0.1 step each, added to a register of whole steps and rounded to nearest "
                   "after each: where does the register end, in steps?", measured=end, unit="steps",
                   explanation="Every single update is smaller than half a step, so each one is rounded away: the "
                               "register never moves, although the exact sum is 200. Stochastic rounding tracks it.")


def _p03b():
    import numpy as np

    from qlearn.ranges import affine

    data = np.random.default_rng(0).normal(size=100_000)
    mse = {c: affine.quantization_error(data, affine.compute_qparams(-c, c, bits=4, symmetric=True))["mse"]
           for c in (1.5, 2.5, 4.0)}
    choices = ["+-1.5", "+-2.5", "+-4"]
    best = choices[int(np.argmin([mse[c] for c in (1.5, 2.5, 4.0)]))]
    return predict("4 bits, Gaussian data with standard deviation 1: which clip gives the lowest mean squared "
                   "error?", measured=", ".join(f"+-{c:g}: {m:.4f}" for c, m in mse.items()),
                   choices=choices, answer=best,
                   explanation="Too narrow a clip cuts many samples (clipping error); too wide a clip leaves coarse "
                               "steps (rounding error). The best clip balances the two.")


def _p04b():
    import numpy as np

    from qlearn.ranges import affine, observers
    from qlearn.viz.ranges import calibration

    W = calibration.channel_scaled_weights()
    qp = observers.calibrate(W, method="minmax", bits=4, symmetric=True, narrow_range=True)
    smallest = int(np.argmin(np.abs(W).max(axis=1)))
    used = int(np.unique(affine.quantize(W[smallest], qp)).size)
    return predict("At 4 bits, one scale for the whole matrix: how many of the 15 narrow-range levels does the "
                   "smallest channel use?", measured=used, unit="levels",
                   explanation="The one scale is set by the largest channel; a channel many times smaller fits "
                               "inside half a step and is rounded to 0 entirely.")


def _p06b():
    import numpy as np

    from qlearn.numbers import fixed, signals

    out, _ = signals.iir_fixed(np.r_[6.0, np.zeros(119)], -0.9, fixed.FixedFormat(12, 4))
    tail = out[-4:]
    choices = ["yes, it decays to 0", "no, it oscillates forever", "no, it sticks at a constant"]
    if np.all(tail == 0):
        answer = choices[0]
    elif np.all(tail[1:] == -tail[:-1]):
        answer = choices[1]
    else:
        answer = choices[2]
    return predict("First-order IIR filter in Q7.4, a = -0.9, an impulse of 6.0: will the output reach 0?",
                   measured="last four outputs " + ", ".join(f"{v:+.4f}" for v in tail), choices=choices,
                   answer=answer,
                   explanation="Near zero, rounding a * y to the nearest step gives back |y| itself: the filter "
                               "cannot get smaller (a dead band), and with a < 0 the sign flips every step.")


def _p06c():
    import numpy as np

    from qlearn.numbers import signals

    sky = signals.sky_image()
    rms = {"the banded one": float(np.sqrt(np.mean((signals.reduce_bit_depth(sky, 3) - sky) ** 2))),
           "the dithered one": float(np.sqrt(np.mean((signals.floyd_steinberg(sky, 3) - sky) ** 2)))}
    return predict("At 3 bits, which image has the larger pixel-by-pixel error?",
                   measured=", ".join(f"{k}: rms {v:.4f}" for k, v in rms.items()), choices=list(rms),
                   answer=max(rms, key=rms.get),
                   explanation="Error diffusion adds fine noise, so pixel by pixel it is further from the original, "
                               "yet it looks closer: its error is not correlated over whole bands.")


def _p09a():
    import numpy as np

    from qlearn.networks import qat
    from qlearn.ranges import affine

    qp = affine.compute_qparams(-1.0, 1.0, bits=2, symmetric=True, narrow_range=True)
    x = np.linspace(0.0, 3.0, 3001)
    edge = float(x[qat.ste_grad(x, qp) == 1].max())
    return predict("2 bits, narrow range: levels -1, 0, 1 (step 1). Up to which |x| does the STE pass the "
                   "gradient?", measured=edge, tolerance=0.01,
                   explanation="The STE tests the rounded code: a value up to half a step beyond the last level "
                               "rounds onto it and keeps its gradient; beyond that the code is clipped.")


def _p12c():
    from qlearn.hardware import systolic

    ratio = systolic.cycle_count(64, 129, 129, 128, 128) / systolic.cycle_count(64, 128, 128, 128, 128)
    return predict("M = 64 on a 128 x 128 array: how many times longer does a 129 x 129 layer take than a "
                   "128 x 128 one?", measured=ratio, unit="times", rel_tolerance=0.05,
                   explanation="One more row and column of weights needs a second tile along K and along N: four "
                               "folds instead of one, for 1.6% more MACs.")


#: lesson -> [(a phrase of the lesson's Predict paragraph the widget follows, builder)]
def _p16():
    from qlearn.networks import convnet, equalization

    eq = equalization.equalize(convnet.pretrained().fold())
    r = convnet.channel_ranges(eq.model.quant_layers()[3].W)
    return predict("Layer 3's channel range ratio max/min after equalization (5.09 before)?",
                   measured=round(float(r.max() / r.min()), 2), rel_tolerance=0.2,
                   explanation="Each channel moves to the geometric mean of its range and its partner's, so "
                               "the ratio shrinks a lot but not to 1: the partners' ranges differ too.")


def _p16b():
    from qlearn.networks import bias_correction

    table = bias_correction.load_repair_table()
    return predict("Test images correct with 4-bit per-tensor weights after CLE + bias correction (of 539)?",
                   measured=round(table["cle_absorb_bias_corr", 4] * table["n_test"]), tolerance=5, unit="images",
                   explanation="Equalization spreads the levels over every channel; bias correction then removes "
                               "the systematic part of what rounding to 15 levels still does.")


def _p16c():
    import numpy as np

    from qlearn.networks import adaround

    r = adaround.convnet_layer(4, bits=4)
    n, size = int(r.flipped.sum()), int(r.flipped.size)
    frac = r.W / r.scale - np.floor(r.W / r.scale)
    far = float((np.abs(frac[r.flipped.reshape(r.W.shape)] - 0.5) > 0.3).mean()) if n else 0.0
    choices = ["none: nearest is already the best choice", "a few, all close to the midpoint between two levels",
               "about a third, some of them far from the midpoint"]
    answer = choices[0] if n == 0 else (choices[2] if n > 0.2 * size and far > 0.1 else choices[1])
    return predict("AdaRound on layer 4 (512 weights, 4 bits): how many weights will it round the other way from "
                   "round-to-nearest?",
                   measured=f"{n} of {size} flipped; {100 * far:.0f}% of them more than 0.3 from the midpoint; "
                            f"output error {r.error / r.error_rtn:.0%} of round-to-nearest's",
                   choices=choices, answer=answer,
                   explanation="AdaRound minimizes the layer's output error, not each weight's: a weight with a "
                               "clear nearest level is still rounded the other way when that cancels errors "
                               "elsewhere in the output.")


def _p16d():
    import numpy as np

    from qlearn.networks import convnet, lsq
    from qlearn.networks.data import load_digits

    q = convnet.quantize(convnet.pretrained().fold(), load_digits().X_calib, weight_bits=3)
    codes = np.concatenate([L.W_q.ravel() for L in q.layers if isinstance(L, convnet.QLayer)])
    middle = float(np.mean(np.abs(codes) <= 1))
    t = lsq.load_finetune_comparison()
    i = [(int(b), bool(pc)) for b, pc in zip(t["bits"], t["per_channel"])].index((3, False))
    n = int(t["n_test"])
    a, b = round(float(t["lsq"][i, -1]) * n), round(float(t["fixed"][i, -1]) * n)
    choices = ["about the same (within 20 images)", "learned steps (LSQ) ahead by more than 100 images",
               "fixed ranges ahead"]
    answer = choices[1] if a - b > 100 else (choices[2] if b - a > 20 else choices[0])
    return predict("3-bit per-tensor weights, two epochs of fine-tuning from the folded network: which ends higher, "
                   "min/max (fixed-range) steps or learned steps (LSQ)?",
                   measured=f"LSQ {a}, fixed range {b} of {n} test images (min/max PTQ before training: "
                            f"{round(float(t['fixed'][i, 0]) * n)})",
                   choices=choices, answer=answer,
                   explanation=f"With 7 levels and min/max steps, the outer levels sit where the few largest "
                               f"weights are, and {100 * middle:.0f}% of the weights get one of the three middle "
                               "codes (-1, 0, 1). Training moves weights between those codes, while the step only "
                               "follows the largest weight. LSQ trains the step by its own gradient.")


def _p18():
    from qlearn.modern import gptq

    int3 = {r["method"]: r for r in gptq.shipped_method_table()}["rtn_int3_pc"]["perplexity"]
    return predict("Every linear layer rounded to 3 bits, one scale and zero point per row: what perplexity "
                   "will the model have? (float: 5.879; a uniform guess among the 73 characters: 73)",
                   measured=round(int3, 2), rel_tolerance=0.05,
                   explanation="8 levels per row are coarse, but the model degrades gracefully: it gets "
                               "noticeably less sure of the next character, it does not collapse.")


def _p18b():
    from qlearn.viz.modern import llm

    pre = llm.gptq_precomputed()[3]
    pct = 100 * pre["err_gptq"] / pre["err_rtn"]
    choices = ["about 100 %", "about 70 %", "about 10 %"]
    nearest = min(choices, key=lambda c: abs(float(c.split()[1]) - pct))
    return predict("On this synthetic layer at 3 bits (one scale per row), GPTQ's output error is what "
                   "fraction of round-to-nearest's?", measured=f"{pct:.0f} %", choices=choices, answer=nearest,
                   explanation="The rounding itself is no finer; GPTQ only lets the other weights of each row "
                               "cancel part of each error. A third of the error goes, not nine tenths.")


def _p18c():
    from qlearn.viz.modern import llm

    alpha = llm.awq_precomputed()[3]["alpha"]
    choices = [0.0, 0.4, 0.95]
    return predict("On a synthetic layer whose input channels differ in size by a factor of 400, which alpha "
                   "will AWQ pick at 3 bits?", measured=alpha, choices=choices,
                   answer=min(choices, key=lambda c: abs(c - alpha)),
                   explanation="alpha = 0 ignores the activations; near 1 the scales are so uneven that the "
                               "small channels' weights are rounded too coarsely. The best is in between.")


def _p18e():
    from qlearn.viz.modern import llm

    p = llm.outlier_precomputed()  # cached: the explorer below shows the same numbers
    k = list(p["thresholds"]).index(6.0)
    gain = float(p["sqnr"][k] - p["plain"])
    choices = ["about 1 dB", "about 6 dB", "about 20 dB"]
    return predict("LLM.int8() at the paper's threshold 6 on the planted-outlier layer: how much higher will the "
                   "output SQNR be than plain int8 with one scale per token?",
                   measured=f"{int(p['n_columns'][k])} of 128 columns in FP16: {p['sqnr'][k]:.1f} dB against "
                            f"{p['plain']:.1f} dB ({gain:+.1f} dB)",
                   choices=choices, answer=min(choices, key=lambda c: abs(float(c.split()[1]) - gain)),
                   explanation="With the outlier columns in int8, each token's one scale must reach about 30, so "
                               "the ordinary values get a few coarse levels. Taking those few columns out lets the "
                               "scale shrink to the Gaussian values' size.")


def _p18f():
    from qlearn.viz.modern import llm

    q = llm.smoothquant_precomputed()  # cached: the explorer below shows the same numbers
    alphas = list(llm.SQ_ALPHAS)
    db = {"no smoothing": q["per_tensor_plain"], "alpha = 0.5": q["per_tensor"][alphas.index(0.5)],
          "alpha = 1 (flat activations)": q["per_tensor"][alphas.index(1.0)]}
    return predict("W8A8 with one activation scale per tensor on the planted-outlier layer: which gives the "
                   "highest output SQNR?", measured=", ".join(f"{k}: {v:.1f} dB" for k, v in db.items()),
                   choices=list(db), answer=max(db, key=db.get),
                   explanation="Without smoothing the outlier channels set the activation scale; at alpha = 1 the "
                               "weights inherit the whole range instead. alpha = 0.5 shares it between the two.")


def _p15():
    from qlearn.hardware import conv_mapping as cm

    dw, pw = (cm.conv_on_array(cm.EXAMPLES[i], 128, 128)["utilization"] for i in (3, 4))
    ratio = dw / pw
    choices = ["about half as busy", "about a tenth as busy", "less than a hundredth as busy"]
    answer = choices[0] if ratio > 0.25 else (choices[1] if ratio > 0.03 else choices[2])
    return predict("On a 128 x 128 array, how busy does MobileNet's depthwise 3 x 3 layer keep it, compared with "
                   "its pointwise layer?", measured=f"{100 * dw:.3g}% against {100 * pw:.2g}%", choices=choices,
                   answer=answer,
                   explanation="A depthwise layer has no sum over channels: each channel is a 9 x 1 weight tile, "
                               "so 9 of the array's 16,384 cells work while its inputs stream through.")


def _p18d():
    from qlearn.modern import decode_roofline as dr

    sp = float(dr.speedups([1])[dr.SCHEMES[2].name][0])
    choices = ["about 4x", "about 2x", "not at all: it still multiplies in 16 bits"]
    answer = choices[0] if sp > 3 else (choices[1] if sp > 1.5 else choices[2])
    return predict("At batch 1, how much faster is a 4096 x 4096 layer with 4-bit weights multiplied in 16-bit "
                   "(W4A16) than the same layer in FP16?", measured=f"{sp:.2f}x", choices=choices, answer=answer,
                   explanation="At batch 1 the layer waits for its weights to arrive from memory; the multiplications "
                               "are a small part of the time. Four times fewer bytes, nearly four times faster.")


def _p01():
    from qlearn.numbers import formats

    stored = {f: float(formats.cast(70_000, f)) for f in ("bf16", "fp16")}
    finite = [f.upper() for f, v in stored.items() if v == v and abs(v) != float("inf")]
    choices = ["BF16", "FP16", "both", "neither"]
    answer = finite[0] if len(finite) == 1 else ("both" if finite else "neither")
    return predict("BF16 and FP16 both use 16 bits. Which of them can store 70,000?",
                   measured=", ".join(f"{f.upper()} stores {v:g}" for f, v in stored.items()), choices=choices,
                   answer=answer,
                   explanation="Range comes from the exponent bits: BF16 has FP32's 8, FP16 only 5, so FP16's "
                               "largest value is 65504 and 70,000 overflows to infinity; BF16 rounds it to a "
                               "nearby value.")


def _p01b():
    from qlearn.numbers import formats

    floats = [f for f in formats.FLOAT_FORMATS if f != "tf32"]  # tf32 shares fp32's exponent
    tiny = {f: formats.get_format(f).min_subnormal for f in floats}
    first = max(tiny, key=tiny.get)
    return predict("Sliding |x| down towards 0, which format is the first to round it to 0?",
                   measured=", ".join(f"{f}: smallest {v:.3g}" for f, v in tiny.items()), choices=floats,
                   answer=first,
                   explanation="The exponent bits set the range: E4M3 gives up range for precision, so its "
                               "smallest value is only 2**-9, about 0.002. At |x| = 1e-5 it stores 0 while E5M2 "
                               "still holds the value, coarsely.")


def _p01c():
    from qlearn.numbers import formats

    f = formats.fields(0.003, "fp8_e4m3")
    choices = ["0000: a subnormal", "0001: the smallest normal binade", "none: 0.003 is rounded to 0"]
    answer = choices[2] if f["is_zero"] else (choices[0] if f["exponent"] == 0 else choices[1])
    return predict("FP8 E4M3 and x = 0.003: which exponent field will the bits explorer show?",
                   measured=f"bits {f['bits']}, exponent field {f['exponent']:04b}, stored {f['value']:g}",
                   choices=choices, answer=answer,
                   explanation="0.003 is below the smallest normal 2**-6 = 0.015625, so the exponent field is "
                               "all zeros and the mantissa counts steps of 2**-9: 2 * 2**-9 = 0.00390625, not 0.")


def _p04a():
    from qlearn import fake_quantize, sqnr_db
    from qlearn.ranges import observers, snr

    x = snr.sample_distribution("laplace", 100_000, seed=0)
    methods = ("minmax", "percentile", "mse", "entropy")
    db = {m: sqnr_db(x, fake_quantize(x, observers.calibrate(x, method=m, bits=4, symmetric=True)))
          for m in methods}
    return predict("On the Laplace weights at 4 bits, which calibrator gives the lowest error (the highest SQNR)?",
                   measured=", ".join(f"{m} {v:.1f} dB" for m, v in db.items()), choices=list(methods),
                   answer=max(db, key=db.get),
                   explanation="With 16 levels the steps are coarse, so clipping the rare tail values buys finer "
                               "steps for the bulk: the MSE calibrator clips hardest and wins by more than a bit's "
                               "worth over min/max. At 8 bits the four are within 1 dB.")


def _p04c():
    import numpy as np

    from qlearn.ranges import observers, snr

    obs = observers.EntropyObserver(bits=8).fit(snr.sample_distribution("gaussian", 200_000, seed=0))
    thresholds, kl = obs.kl_curve()
    inf = np.isinf(kl)
    choices = ["at the far left: the tightest clips", "to the right: wide clips, in the sparse tail",
               "nowhere: it stays finite everywhere"]
    answer = choices[2] if not inf.any() else (choices[0] if inf[0] else choices[1])
    return predict("200,000 Gaussian values at 8 bits: where does the KL divergence become infinite?",
                   measured=(f"least KL at threshold {thresholds[np.argmin(kl)]:.2f}; infinite for "
                             f"{int(inf.sum())} candidates, all above {thresholds[inf].min():.2f}" if inf.any()
                             else f"least KL at threshold {thresholds[np.argmin(kl)]:.2f}; never infinite"),
                   choices=choices, answer=answer,
                   explanation="At the far left the divergence is large (the clipped values pile up in P's last "
                               "bin) but finite. It is infinite only in the sparse tail, where a last bin that is "
                               "empty in Q still holds folded outliers in P.")


def _p10b():
    from qlearn.networks import data, nn
    from qlearn.numbers import nonuniform

    d, model = data.load_digits(), nn.pretrained()
    acc = {(m, b): nonuniform.compress_model(model, m, b).accuracy(d.X_test, d.y_test)
           for m, b in [("uniform", 3), ("uniform", 5), ("log2", 3), ("log2", 4), ("log2", 5)]}
    gain_u, gain_l = acc["uniform", 5] - acc["uniform", 3], acc["log2", 5] - acc["log2", 3]
    choices = ["yes, about as much as with uniform levels", "less, but every extra bit still helps",
               "hardly: after 4 bits it stops improving"]
    answer = choices[0] if gain_l >= 0.5 * gain_u else (choices[1] if acc["log2", 5] > acc["log2", 4] else choices[2])
    return predict("Power-of-two weights, 3 bits then 5 bits: will accuracy improve as much as it does for uniform "
                   "levels?", measured=", ".join(f"{m} {b} bits {a:.1%}" for (m, b), a in acc.items()),
                   choices=choices, answer=answer,
                   explanation="Extra bits only add smaller powers of two near 0; next to the large weights the "
                               "levels stay a factor of 2 apart, so their error does not shrink.")


def _p10c():
    from qlearn.networks import nn
    from qlearn.numbers import nonuniform

    model = nn.pretrained()
    binary = nonuniform.compress_model(model, "binary")  # train_codes' model stores its weights the same way
    n_w, n_out = sum(L.W.size for L in model.layers), sum(L.W.shape[0] for L in model.layers)
    return predict("Binary weights, with one float32 alpha and one float32 bias per output: how many times smaller "
                   "than the float32 model will it be?", measured=model.size_bytes(32) / binary.size_bytes,
                   unit="x", rel_tolerance=0.05,
                   explanation=f"Each of the {n_w:,} weights takes 1 bit instead of 32, but the {n_out} outputs keep "
                               f"a float32 alpha and a float32 bias each: {n_w // 8:,} + {8 * n_out:,} bytes, a "
                               "little less than 32 times smaller.")


def _p11a():
    import numpy as np

    from qlearn.hardware import intops
    from qlearn.networks import data, nn

    d = data.load_digits()
    imlp = intops.integer_mlp(nn.pretrained(), d.X_calib)
    layer = imlp.layers[0]
    t = intops.zero_point_terms(imlp.quantize_input(d.X_test[:3]), layer.W_q.T, layer.x_qp.zero_point,
                                layer.w_qp.zero_point)
    zero = {name: not np.any(getattr(t, name)) for name in ("a_term", "b_term", "const")}
    choices = ["none of them", "the two that hold z_w: -z_w * row sums and K z_x z_w",
               "the two that hold z_x: -z_x * column sums and K z_x z_w",
               "all three: only the int8 matmul is left"]
    answer = {(False, False, False): choices[0], (True, False, True): choices[1], (False, False, True): choices[2],
              (True, True, True): choices[3]}.get((zero["a_term"], zero["b_term"], zero["const"]))
    return predict("For this layer (z_w = 0, z_x = -128), which of the correction terms are zero?",
                   measured=", ".join(f"{label}: {'zero' if zero[k] else 'not zero'}" for k, label in
                                      [("a_term", "-z_w * row sums"), ("b_term", "-z_x * column sums"),
                                       ("const", "K z_x z_w")]),
                   choices=choices, answer=answer,
                   explanation="Every term that holds z_w vanishes with symmetric weights, so nothing is left to do "
                               "per input at run time; -z_x times the weight column sums is not zero, but it depends "
                               "on the weights only and goes into the bias offline.")


def _p11b():
    import numpy as np

    from qlearn.hardware import intops
    from qlearn.viz.hardware.intops import _rescale

    acc = np.arange(-2000, 2001)
    diff = _rescale(acc, 0.0123, "floor", 0)[0] - intops.real_requantize(acc, 0.0123, 0)
    low, high = int(np.sum(diff < 0)), int(np.sum(diff > 0))
    choices = ["off by one at random, as often up as down", "always low, never high", "always high, never low"]
    answer = choices[1] if low and not high else (choices[2] if high and not low else choices[0])
    return predict("Rescaling with a plain arithmetic shift (floor) instead of gemmlowp's rounding: how do the "
                   "output codes differ from round(acc * M)?",
                   measured=f"M = 0.0123, accumulators -2000..2000: {low} codes one low, {high} one high",
                   choices=choices, answer=answer,
                   explanation="A shift drops the low bits, which rounds down: every value that round-to-nearest "
                               "would send up ends one code low, about half of them, a bias every layer adds to.")


def _p11c():
    from qlearn.hardware import matmul_speed

    row = matmul_speed.measure_matmul_speed((128,), repeat=3).rows[0]
    ratio = row.int8_matmul_s / row.float32_s
    choices = ["faster: 4x fewer bytes to move", "about as fast", "slower"]
    answer = choices[0] if ratio < 0.8 else (choices[1] if ratio < 1.25 else choices[2])
    return predict("128 x 128 matrices on your computer, with numpy: will the int8 matmul be faster or slower than "
                   "the float32 one?", measured=f"int8 took {ratio:.3g} times as long as float32 (measured now)",
                   choices=choices, answer=answer,
                   explanation="numpy has no integer GEMM kernel: its integer @ is a generic loop, while float32 "
                               "goes to a BLAS tuned for the CPU. int8 pays off only with hardware and kernels "
                               "built for it.")


def _p12a():
    import numpy as np

    from qlearn.hardware import systolic

    tr = systolic.SystolicArray(4, 4).matmul(np.ones((4, 4), int), np.ones((4, 4), int), trace=True).trace
    first = int(np.argmax(tr.active.reshape(tr.cycles, -1), axis=0).reshape(4, 4)[3, 3])
    return predict("4 x 4 weight-stationary array, weights loaded in clocks 0-3: at which clock does the "
                   "bottom-right PE do its first multiply-accumulate?", measured=first,
                   explanation="PE (0, 0) starts at clock 4, right after the load. Row i is fed i clocks late and "
                               "an activation moves one column per clock, so PE (3, 3) starts 3 + 3 clocks "
                               "later.")


def _p13b():
    from qlearn.hardware import tpu
    from qlearn.networks import nn

    course = [(layer.W.shape[1], layer.W.shape[0]) for layer in nn.pretrained().layers]
    share = {"MLP0's 2000 x 2000": tpu.model_cost(tpu.mlp0_layers(), 200).rescale_share_of_arith_energy,
             "the course model's 64 x 64": tpu.model_cost(course, 200).rescale_share_of_arith_energy}
    return predict("Which layers spend a larger share of their arithmetic energy on rescaling?",
                   measured=", ".join(f"{k}: {100 * v:.2g}%" for k, v in share.items()),
                   choices=list(share), answer=max(share, key=share.get),
                   explanation="The rescale is one expensive 32-bit multiply per output; the MACs are K cheap ones "
                               "per output. With K = 64 the rescale weighs much more than with K = 2000.")


def _p13c():
    from qlearn.hardware import tpu

    lat = {B: tpu.hardware_costs(tpu.mlp0_layers(), B) for B in (200, 1)}
    groups = {"the TPU's int8 bars": "int8 per-tensor", "the FP16 bar (the same chip without int8)": "fp16 chip",
              "the host bars (FP32 and 8-bit)": "host fp32"}
    drop = {g: lat[200][k]["latency_us"] / lat[1][k]["latency_us"] for g, k in groups.items()}
    return predict("MLP0, batch 200 down to 1: which bars' latency falls the most (as a factor)?",
                   measured=", ".join(f"{groups[g]} {lat[200][groups[g]]['latency_us']:.0f} -> "
                                      f"{lat[1][groups[g]]['latency_us']:.0f} us" for g in groups),
                   choices=list(groups), answer=max(drop, key=drop.get),
                   explanation="On the TPU each layer still waits for its weight tiles to arrive, whatever the "
                               "batch, so its latency barely drops; the host's time grows with the batch's "
                               "arithmetic, so it falls with it.")


def _p13d():
    from qlearn.networks import convnet, data

    d, folded = data.load_digits(), convnet.pretrained().fold()
    n = len(d.y_test)
    ref = round(folded.accuracy(d.X_test, d.y_test) * n)
    kl = round(convnet.quantize(folded, d.X_calib, weight_bits=8, act_bits=8, per_channel=False,
                                calibration="entropy").accuracy(d.X_test, d.y_test) * n)
    choices = ["it keeps float's accuracy (within 2 images)", "it loses tens of images",
               "it breaks the network (under half the images right)"]
    answer = choices[0] if abs(kl - ref) <= 2 else (choices[2] if kl < n / 2 else choices[1])
    return predict("Lesson 15's network in int8, per-tensor weights, activation ranges from KL (entropy) "
                   "calibration, the TensorRT method: what happens to its accuracy?",
                   measured=f"{kl} of {n} test images right (float: {ref})", choices=choices, answer=answer,
                   explanation="The inputs of layers 1 to 4 come out of ReLU6 and hold a spike of exact zeros. "
                               "KL's histogram proxy rewards giving that spike its own level, so it clips deep "
                               "into the data and cuts most of the range.")


def _p13e():
    from qlearn.hardware import tpu
    from qlearn.networks import convnet

    gemm = tpu.gemm_model_cost(convnet.gemm_shapes(convnet.pretrained()), 200)
    dw = [layer for layer in gemm["layers"] if layer["kind"] == "depthwise"]
    macs = sum(layer["macs"] for layer in dw) / gemm["macs"]
    cycles = sum(layer["cycles"] for layer in dw) / gemm["cycles"]
    choices = ["a smaller share", "about the same share", "a much larger share"]
    answer = choices[2] if cycles > 1.5 * macs else (choices[0] if cycles < macs / 1.5 else choices[1])
    return predict("On the TPU v1 model at batch 200, what share of the network's cycles will the two depthwise "
                   "layers take, compared with their share of its multiply-accumulates?",
                   measured=f"{100 * macs:.1f}% of the multiply-accumulates, {100 * cycles:.1f}% of the cycles",
                   choices=choices, answer=answer,
                   explanation="Each depthwise channel is a 9 x 1 weight tile: it occupies the whole 256 x 256 "
                               "array while 9 of its cells work, so its few MACs cost many cycles.")


def _p05b():
    import numpy as np

    from qlearn.numbers import signals
    from qlearn.ranges import snr

    lsb = snr.step_size(8, 1.0)
    x = 0.7 * lsb * np.sin(2 * np.pi * (1 / 64 + 0.37 / 4096) * np.arange(4096))
    plain = signals.adc(x, 8)
    power = {k: float(np.mean((signals.adc(x, 8, dither=k, seed=0) - x) ** 2) / (lsb**2 / 12)) for k in (None, "tpdf")}
    average = np.mean([signals.adc(x, 8, dither="tpdf", seed=k) for k in range(200)], axis=0)
    corr = {"plain": float(np.corrcoef(plain, x)[0, 1]), "dithered": float(np.corrcoef(average, x)[0, 1])}
    choices = ["no good reason: it only adds noise",
               "the error becomes signal-independent noise: no harmonics, and averaging recovers the sine",
               "it makes each sample closer to the signal"]
    answer = choices[2] if power["tpdf"] < power[None] else (choices[1] if corr["dithered"] > corr["plain"]
                                                             else choices[0])
    return predict("A sine of 0.7 LSB through an 8-bit converter: TPDF dither makes the error larger. What does it "
                   "buy?", measured=(f"error power / (Delta^2/12): {power[None]:.2f} plain, {power['tpdf']:.2f} "
                                     f"dithered; correlation with the sine: plain {corr['plain']:.3f}, average of "
                                     f"200 dithered outputs {corr['dithered']:.3f}"),
                   choices=choices, answer=answer,
                   explanation="Without dither the output is a square wave: a small error, but distortion "
                               "correlated with the signal. Dither turns it into flat noise whose average is "
                               "the signal itself.")


def _p14():
    from qlearn.hardware import intops
    from qlearn.hardware import onnx_export as ox
    from qlearn.networks import data, nn

    d = data.load_digits()
    report = ox.compare_with_integer_engine(intops.integer_mlp(nn.pretrained(), d.X_calib), d.X_test)
    n_diff, n = sum(c.n_diff for c in report.layers), sum(c.n_outputs for c in report.layers)
    choices = ["none", "a handful", "about half"]
    answer = choices[0] if n_diff == 0 else (choices[1] if n_diff < 0.01 * n else choices[2])
    return predict("ORT runs each layer on qlearn's input codes, all test images: how many int8 output codes "
                   "will differ from qlearn's?", measured=f"{n_diff} of {n} codes ({100 * n_diff / n:.2f}%)",
                   choices=choices, answer=answer,
                   explanation="The int32 sums are equal bit for bit; only the rescale rounds differently (ORT once "
                               "in float32, qlearn twice in fixed point), so a code moves by one only when "
                               "acc * M lies very close to a half.")


def _p14d():
    import numpy as np

    from qlearn.hardware import intops
    from qlearn.hardware import onnx_export as ox
    from qlearn.networks import data, nn

    d = data.load_digits()
    imlp = intops.integer_mlp(nn.pretrained(), d.X_calib)
    codes = imlp.forward_codes(d.X_test)
    out = ox.run(ox.qdq_graph(imlp), d.X_test, optimize=True)["logits_q"].astype(np.int64)
    gap, same = int(np.abs(out - codes).max()), float(np.mean(out.argmax(1) == codes.argmax(1)))
    n_img = int((out != codes).any(axis=1).sum())
    choices = ["identical on every image", "a few codes apart, the same prediction on nearly every image",
               "a different prediction on many images"]
    answer = choices[0] if gap == 0 else (choices[1] if same >= 0.99 else choices[2])
    return predict("ORT runs the QDQ form of the same model with its graph optimizer on: how will its logit codes "
                   "compare with qlearn's integer engine's?",
                   measured=f"up to {gap} codes apart on {n_img} of {len(codes)} images; same prediction on "
                            f"{same:.1%}", choices=choices, answer=answer,
                   explanation="The optimizer fuses some groups into integer QGemm and leaves others as float Gemm "
                               "on dequantized values, whose last bits depend on the order of the sum: near a "
                               "rounding boundary a code moves, the prediction almost never.")


def _p14b():
    from qlearn.hardware import onnx_export as ox
    from qlearn.networks import data, nn

    d, model = data.load_digits(), nn.pretrained()
    scale = {m: [qp.scale for qp in ox.ort_qparams(ox.ort_quantize_static(model, d.X_calib, method=m), 3)
                 ["activations"]] for m in ("minmax", "entropy")}
    relu = [1, 2]  # the inputs of layers 1 and 2 are ReLU outputs
    clipped = [scale["entropy"][i] < 0.99 * scale["minmax"][i] for i in relu]
    choices = ["yes: below the maximum, like lesson 04's", "no: it keeps the whole range, as min/max does"]
    return predict("Lesson 04's entropy calibrator clipped the ReLU layers well below their maximum. Will ORT's "
                   "entropy calibrator (through quantize_static)?",
                   measured=", ".join(f"{ox.layer_input_names(3)[i]}: entropy scale {scale['entropy'][i]:.6f}, min/max "
                                      f"{scale['minmax'][i]:.6f}" for i in relu),
                   choices=choices, answer=choices[0] if any(clipped) else choices[1],
                   explanation="Through quantize_static, ORT's entropy calibrator builds a 128-bin histogram with "
                               "128 quantized bins, so its KL search has one candidate: the whole range. Same "
                               "name, different algorithm.")


def _p14c():
    from qlearn.hardware import onnx_export as ox

    row = ox.speed_table(wide=512, batches=(64,), repeat=1, min_time=0.002)[-1]
    faster = {k: row[k] < 1 for k in ("ORT static / float", "ORT dynamic / float", "numpy int8 / float")}
    choices = ["none of them", "only ORT's static int8", "only ORT's dynamic int8", "both ORT int8 models, not numpy's",
               "all three, numpy's int8 too"]
    static, dynamic, numpy_int8 = faster.values()
    answer = choices[4] if numpy_int8 else choices[(1 if static else 0) + (2 if dynamic else 0)]
    return predict("The wide 512-512-10 network, batch 64, float32 in and out: which int8 path will beat its float32 "
                   "counterpart on this computer?",
                   measured=", ".join(f"{k}: {row[k]:.2g}" for k in faster) + " (time ratios, measured now)",
                   choices=choices, answer=answer,
                   explanation="ORT's MLAS library has integer GEMM kernels, so with enough arithmetic its int8 "
                               "models can win; numpy has none, so its int8 path is far slower. On the tiny course "
                               "network ORT's fixed per-call overhead dominates and int8 has little to win.")


def _p15b():
    from qlearn.networks import bn_folding_qat, convnet, data

    d, net = data.load_digits(), convnet.pretrained()
    pw, bn = net.layers[12], net.layers[13]  # the last pointwise convolution and its batch norm
    W = pw.W.reshape(pw.W.shape[0], -1)
    a, b = (convnet.layer_input_rows(net, images, 4) for images in (d.X_train[:32], d.X_train[32:64]))
    moved = {ph: bn_folding_qat.weight_code_changes(a, b, W, bn.gamma, bn.beta, bn.mean, bn.var, phase=ph, bits=4)
             for ph in ("batch", "corrected")}
    choices = ["none in either form", "some with the batch's sigma, none with the running sigma",
               "some in both forms"]
    answer = choices[0] if not any(moved.values()) else (choices[1] if moved["corrected"] == 0 else choices[2])
    return predict("4-bit weights, two batches of 32 images: will the folded weights' codes differ from one batch "
                   "to the next?",
                   measured=f"{moved['batch']} of {W.size} codes differ folded with the batch's sigma, "
                            f"{moved['corrected']} with the running sigma (corrected)",
                   choices=choices, answer=answer,
                   explanation="Folding with sigma_B puts each batch's statistics into the weights, so every batch "
                               "quantizes slightly different weights. The corrected form folds the running sigma "
                               "and applies the batch statistics through c, after the quantizer.")


def _p15a():
    from qlearn.networks import convnet

    net = convnet.pretrained()
    r0, r1 = (convnet.channel_ranges(m.quant_layers()[3].W) for m in (net, net.fold()))
    before, after = float(r0.max() / r0.min()), float(r1.max() / r1.min())
    choices = ["smaller", "about the same", "larger"]
    answer = choices[0] if after < 0.8 * before else (choices[2] if after > 1.25 * before else choices[1])
    return predict("Layer 3 (the second depthwise convolution): its channel ranges max|W_c| differ by a factor of "
                   f"{before:.1f} before folding. After folding batch norm into it, will that ratio be smaller, "
                   "about the same, or larger?", measured=f"{before:.2f} before, {after:.2f} after folding",
                   choices=choices, answer=answer,
                   explanation="Folding multiplies each output channel's weights by its own k_c = gamma_c / "
                               "sqrt(var_c + eps): the function is unchanged, but the channel ranges spread apart, "
                               "which a single scale per tensor then pays for.")


def _p17():
    from qlearn.modern import block_formats as bf
    from qlearn.networks import nn

    x = nn.pretrained().layers[0].W.reshape(-1)
    db = {k: bf.tradeoff_table(x, schemes=("mxfp4",), block_sizes=(k,))[0]["sqnr_db"] for k in (16, 128)}
    gain = db[16] - db[128]
    choices = ["about 3 dB", "about 1 dB", "none"]
    nearest = min(choices, key=lambda c: abs(gain - (float(c.split()[1]) if c != "none" else 0.0)))
    return predict("On the MLP's layer 1, MXFP4 with blocks of 16 costs 4.5 bits per weight, with blocks of 128 "
                   "4.06. How much lower is the error with blocks of 16?",
                   measured=f"block 16: {db[16]:.1f} dB, block 128: {db[128]:.1f} dB ({gain:+.1f} dB)",
                   choices=choices, answer=nearest,
                   explanation="MX's scale is a power of two. On this light-tailed layer every block of 16 has "
                               "about the same maximum as a block of 128, so the scale lands on the same value and "
                               "the extra bits buy nothing. On the heavy-tailed tensor small blocks do help.")


LESSON_PREDICTIONS = {
    "01_number_formats": [("Which of them can store 70,000?", _p01),
                          ("Which formats fail first at the small end", _p01b),
                          ("Which exponent bits do you expect?", _p01c)],
    "02_rounding": [("You round 10,001 values spread evenly", _p02), ("You add 2,000 updates", _p02b)],
    "03_scale_zero_point": [("With 3 bits and the range", _p03), ("which clip gives the lowest mean squared", _p03b)],
    "04_histograms_calibration": [("which calibrator gives the lowest error?", _p04a),
                                  ("is the best clip closer to", _p04),
                                  ("Where does the divergence blow up", _p04c),
                                  ("how many of the 15 narrow-range levels", _p04b)],
    "05_snr": [("A Gaussian signal clipped at", _p05), ("Switching dither on makes the error", _p05b)],
    "06_fixed_point": [("what does 9.0 become with wrap", _p06), ("will the fixed-point output reach 0", _p06b),
                       ("which image has the larger pixel-by-pixel error", _p06c)],
    "07_per_channel": [("In layer 0 the rows' ranges", _p07)],
    "08_post_training_quantization": [("does the choice of calibrator matter", _p08)],
    "09_quantization_aware_training": [("for which $x$ does the gradient pass", _p09a),
                                       ("After 10 epochs of QAT", _p09),
                                       ("in how many of the 40 cases", _p09b),
                                       ("what will 8-bit rounding noise during training do", _p09c)],
    "10_nonuniform_and_binary": [("What will 4 k-means levels give", _p10),
                                 ("Will accuracy improve as much as it does for uniform", _p10b),
                                 ("how many times smaller than the float32 model", _p10c)],
    "11_integer_inference": [("which of the four terms are zero?", _p11a), ("Will a 16-bit accumulator do", _p11),
                             ("Will the outputs be off by one code at random", _p11b),
                             ("Will the int8 matmul be faster or slower", _p11c)],
    "12_systolic_array": [("At which clock does the bottom-right PE", _p12a), ("One input vector ($M = 1$)", _p12),
                          ("how much longer does $129", _p12c)],
    "13_tpu_v1_capstone": [("MLP0 at batch 200: compute bound or memory bound", _p13),
                           ("larger share of their arithmetic energy on rescaling", _p13b),
                           ("Which configuration's latency changes most", _p13c),
                           ("what happens to this network's accuracy", _p13d),
                           ("compared with their share of its multiply", _p13e)],
    "14_onnx_runtime": [("How many of the int8 output codes will differ", _p14),
                        ("how will its logit codes compare with qlearn's", _p14d), ("Will ORT's?", _p14b),
                        ("Which will be faster than its float32 counterpart", _p14c)],
    "15_convolutions_and_folding": [("After folding, will that ratio be smaller", _p15a),
                                    ("busy do you expect its depthwise", _p15),
                                    ("will the folded weights' codes differ from one batch", _p15b)],
    "16_ptq_repairs": [("What will the ratio", _p16), ("Empirical bias correction on top of equalization", _p16b),
                       ("will it round the other way from round-to-nearest", _p16c),
                       ("which ends higher: fixed ranges or learned steps", _p16d)],
    "17_block_formats": [("How much lower is the error with blocks of 16", _p17)],
    "18_llm_weights": [("Every linear layer rounded to 3 bits", _p18), ("GPTQ's output error is what", _p18b),
                       ("which alpha", _p18c), ("how much higher will the output SQNR be", _p18e),
                       ("which gives the highest output SQNR", _p18f),
                       ("how much faster is a layer with 4-bit weights", _p18d)],
}


def lesson_prediction(lesson: str, index: int = 0) -> Prediction:
    """The ``index``-th committed prediction of a lesson (``"02_rounding"``), measured now by qlearn.

    Committing it is recorded in the lesson's progress (:func:`qlearn.viz.progress.tracker`), which
    the browser keeps and the course map shows.

    Examples
    --------
    >>> p = lesson_prediction("06_fixed_point")
    >>> p.input.value = "-7"
    >>> p.button.click()
    >>> "Exactly." in p.reveal.value
    True
    """
    lesson = lesson.removesuffix(".ipynb") if isinstance(lesson, str) else lesson
    if lesson not in LESSON_PREDICTIONS:
        raise ValueError(f"lesson must be one of {sorted(LESSON_PREDICTIONS)}, got {lesson!r}")
    items = LESSON_PREDICTIONS[lesson]
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(items):
        raise ValueError(f"index must be in [0, {len(items) - 1}] for {lesson}, got {index!r}")
    p = items[index][1]()
    from qlearn.viz.progress import tracker

    progress = tracker(lesson)  # made now, so the browser has it before the learner commits
    p.on_commit = lambda: progress.record_prediction(index, len(items))
    return p

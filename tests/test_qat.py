"""qlearn.networks.qat: straight-through gradients by hand and by a frozen-offset surrogate; QAT vs PTQ."""
import numpy as np
import pytest

from qlearn.networks import nn, ptq, qat
from qlearn.networks.data import load_digits
from qlearn.ranges import affine

D = load_digits()
M = nn.pretrained()


def test_ste_grad_by_hand():
    # 3-bit signed symmetric, scale 0.25: codes -4..3, levels -1.0..0.75; a value passes its
    # gradient when it rounds to a code inside [-4, 3]: x in [-1.125, 0.875] (half a step beyond)
    qp = affine.QParams(0.25, 0, -4, 3)
    x = np.array([-1.2, -1.1, -1.0, -0.1, 0.0, 0.3, 0.75, 0.86, 0.9, 5.0])
    np.testing.assert_array_equal(qat.ste_grad(x, qp), [0, 1, 1, 1, 1, 1, 1, 1, 0, 0])
    # unsigned with a zero point: 2 bits, scale 0.5, z = 1 -> levels -0.5..1.0, passes on [-0.75, 1.25]
    qp = affine.QParams(0.5, 1, 0, 3)
    np.testing.assert_array_equal(qat.ste_grad([-0.8, -0.7, 1.2, 1.3], qp), [0, 1, 1, 0])


def test_ste_grad_per_channel():
    # rows pass on [-0.15, 0.15] and [-1.5, 1.5]
    qp = affine.QParams(np.array([0.1, 1.0]), np.array([0, 0]), -1, 1, axis=0)
    x = np.array([[0.12, 0.5], [0.12, 1.6]])
    np.testing.assert_array_equal(qat.ste_grad(x, qp), [[1, 0], [1, 0]])


def _bounds(qp):
    """Where the rounded code is not clipped: half a step beyond the first and last level."""
    lo, hi = qp.range
    s = np.asarray(qp.scale)
    if qp.per_channel:
        lo, hi, s = lo[:, None], hi[:, None], s[:, None]
    return lo - s / 2, hi + s / 2


def _surrogate_loss(model, X, y, bits, per_channel, act_max, frozen):
    """Loss where every quantizer is clip(x) + a constant offset frozen at the expansion point.

    Its exact gradient is, by construction, the straight-through gradient: rounding
    contributes a constant, clipping a zero slope.
    """
    h = X
    for i, layer in enumerate(model.layers):
        a_qp, w_qp, a_off, w_off = frozen[i]
        h_q = np.clip(h, *_bounds(a_qp)) + a_off
        W_q = np.clip(layer.W, *_bounds(w_qp)) + w_off
        z = h_q @ W_q.T + layer.b
        h = np.maximum(z, 0) if i < len(model.layers) - 1 else z
    return nn.softmax_cross_entropy(h, y)[0]


@pytest.mark.parametrize("bits, per_channel", [(3, False), (2, True), (4, True)])
def test_qat_gradient_is_the_gradient_of_the_frozen_offset_surrogate(bits, per_channel):
    rng = np.random.default_rng(bits)
    m = nn.init_mlp((6, 5, 4, 3), rng=rng)
    for layer in m.layers:  # non-zero biases: no pre-activation sits exactly on the ReLU kink
        layer.b[:] = rng.normal(0, 0.1, layer.b.shape)
    X = rng.uniform(0, 1, size=(9, 6))
    y = rng.integers(0, 3, 9)
    _, acts = m.forward(X, return_activations=True)
    act_max = [0.6 * a.max() for a in acts]  # smaller than the data: some activations clip (gradient 0)
    frozen = []
    h = X
    for i, layer in enumerate(m.layers):
        a_qp = qat.activation_qparams(act_max[i], bits)
        w_qp = ptq.weight_qparams(layer.W, bits=bits, per_channel=per_channel)
        frozen.append((a_qp, w_qp, affine.fake_quantize(h, a_qp) - np.clip(h, *_bounds(a_qp)),
                       affine.fake_quantize(layer.W, w_qp) - np.clip(layer.W, *_bounds(w_qp))))
        z = affine.fake_quantize(h, a_qp) @ affine.fake_quantize(layer.W, w_qp).T + layer.b
        h = np.maximum(z, 0)
    assert any(np.any(qat.ste_grad(a, f[0]) == 0) for a, f in zip(acts, frozen, strict=True))
    loss, grads = qat.qat_loss_and_grads(m, X, y, bits=bits, per_channel=per_channel, act_max=act_max)
    assert all(np.abs(c[5]).min() > 1e-4 for c in qat._fq_forward(m, X, bits, per_channel, act_max, True)[1])
    assert loss == pytest.approx(_surrogate_loss(m, X, y, bits, per_channel, act_max, frozen), rel=1e-12)
    eps = 1e-6
    for li, layer in enumerate(m.layers):
        for arr, g in ((layer.W, grads[li][0]), (layer.b, grads[li][1])):
            num = np.zeros_like(arr)
            for idx in np.ndindex(arr.shape):
                old = arr[idx]
                arr[idx] = old + eps
                lp = _surrogate_loss(m, X, y, bits, per_channel, act_max, frozen)
                arr[idx] = old - eps
                lm = _surrogate_loss(m, X, y, bits, per_channel, act_max, frozen)
                arr[idx] = old
                num[idx] = (lp - lm) / (2 * eps)
            np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-8)


def test_at_16_bits_qat_gradient_is_close_to_float_gradient():
    X, y = D.X_train[:64], D.y_train[:64]
    _, g_float = M.loss_and_grads(X, y)
    _, g_qat = qat.qat_loss_and_grads(M, X, y, bits=16)
    for (a, b), (c, d) in zip(g_float, g_qat, strict=True):
        np.testing.assert_allclose(c, a, atol=2e-3 * np.abs(a).max())
        np.testing.assert_allclose(d, b, atol=2e-3 * np.abs(b).max())


def test_shipped_results_qat_beats_ptq_at_two_bits_and_matches_at_four():
    for pc in (False, True):
        q2 = qat.pretrained_qat(2, per_channel=pc)
        acc_qat = q2.accuracy(D.X_test, D.y_test)
        assert acc_qat == q2.history["test_accuracy"][-1]
        p2 = ptq.quantize_model(M, mode="full_integer", bits=2, per_channel=pc, calib_data=D.X_calib)
        acc_ptq = p2.accuracy(D.X_test, D.y_test)
        # 2-bit PTQ rounds most weights of a min/max ternary grid to 0; QAT retrains around it
        assert acc_qat > acc_ptq + 0.2
        q4 = qat.pretrained_qat(4, per_channel=pc)
        p4 = ptq.quantize_model(M, mode="full_integer", bits=4, per_channel=pc, calib_data=D.X_calib)
        assert q4.accuracy(D.X_test, D.y_test) >= p4.accuracy(D.X_test, D.y_test) - 0.01
    # per-channel scales help QAT at 2 bits as they help PTQ
    assert qat.pretrained_qat(2, True).accuracy(D.X_test, D.y_test) > qat.pretrained_qat(2, False).accuracy(
        D.X_test, D.y_test)


def test_qat_model_runs_on_its_integer_codes():
    q = qat.pretrained_qat(4, per_channel=True)
    assert q.mode == "full_integer" and q.layers[0].act_qp.qmin == 0 and q.layers[0].act_qp.qmax == 15
    for layer in q.layers:
        assert np.abs(layer.W_q).max() <= 7
        np.testing.assert_allclose(layer.W, affine.dequantize(layer.W_q, layer.W_qp))


@pytest.mark.slow
def test_recomputing_from_the_seed_reproduces_the_shipped_runs():
    """Same seed, same data, another machine: training's BLAS sums in another order and low-bit training
    amplifies the last bits. Observed: with the products summed in reverse order (tests/test_portability.py's
    perturbation) the 2-bit per-channel run moved by up to 16 images at an intermediate epoch, 4 at the end,
    and its loss by 25%; on an AVX-512 machine (issue 10) losses moved by up to 25%. Allowed: 4-bit runs
    1 point per epoch and 5% loss; 2-bit runs 4 points per epoch (22 images), 2 points at the end, 35% loss."""
    shipped = qat.load_qat_results()
    fresh = qat.compute_qat_results()
    for bits, pc in qat.QAT_CONFIGS:
        key = qat._key(bits, pc)
        acc_f, acc_s = fresh[f"{key}_test_accuracy"], shipped[f"{key}_test_accuracy"]
        assert acc_f[0] == acc_s[0]  # epoch 0 is PTQ with calibrated ranges: evaluated, not trained
        atol, atol_end, rtol_loss = (0.01, 0.01, 0.05) if bits == 4 else (0.04, 0.02, 0.35)
        np.testing.assert_allclose(acc_f, acc_s, atol=atol)
        assert abs(acc_f[-1] - acc_s[-1]) <= atol_end
        np.testing.assert_allclose(fresh[f"{key}_loss"], shipped[f"{key}_loss"], rtol=rtol_loss)


def test_callback_and_history():
    seen = []
    r = qat.qat_finetune(M, D, bits=4, epochs=2, seed=1, callback=seen.append)
    assert [s["epoch"] for s in seen] == [1, 2]
    assert list(r.history["epoch"]) == [0, 1, 2]
    p = ptq.quantize_model(M, mode="full_integer", bits=4, calib_data=D.X_calib)
    # epoch 0 is PTQ with min/max ranges from the calibration set
    assert r.history["test_accuracy"][0] == p.accuracy(D.X_test, D.y_test)
    np.testing.assert_array_equal(M.layers[0].W, nn.pretrained().layers[0].W)  # input not changed


def test_bad_input():
    with pytest.raises(ValueError, match="bits must be in \\[2, 16\\]"):
        qat.qat_finetune(M, D, bits=1)
    with pytest.raises(ValueError, match="epochs must be in"):
        qat.qat_finetune(M, D, epochs=-2)
    with pytest.raises(ValueError, match="must be one of"):
        qat.pretrained_qat(3)
    with pytest.raises(ValueError, match="x contains NaN"):
        qat.ste_grad([np.nan], affine.QParams(1.0, 0, -1, 1))
    with pytest.raises(TypeError, match="qp must be a QParams"):
        qat.ste_grad([0.0], 1.0)


def test_numbers_lesson_09_states():
    """The figures lesson 09 prints: evaluated from the shipped files in integers, so exact on every machine
    (tests/test_portability.py perturbs the arithmetic and shows they do not move)."""
    n = len(D.y_test)
    got = {}
    for bits, pc in qat.QAT_CONFIGS:
        p = ptq.quantize_model(M, mode="full_integer", bits=bits, per_channel=pc, calib_data=D.X_calib)
        got[bits, pc] = (round(p.accuracy(D.X_test, D.y_test) * n),
                         round(qat.pretrained_qat(bits, pc).accuracy(D.X_test, D.y_test) * n))
    assert got == {(2, False): (69, 377), (2, True): (311, 456), (4, False): (519, 525), (4, True): (526, 527)}
    assert [round(v / n, 3) for v in got[2, False]] == [0.128, 0.699]
    assert [round(v / n, 3) for v in got[2, True]] == [0.577, 0.846]
    assert [round(v / n, 3) for v in got[4, False]] == [0.963, 0.974]
    s = ptq.load_regularization_study()
    delta = np.round(s["delta"] * n).astype(int)
    bits = list(s["bits"])
    assert (delta > 0).sum() == 4 and delta.max() == 1 and (delta[:, bits.index(8)] == 0).sum() == 7
    assert np.abs(delta[:, bits.index(8)]).max() == 1
    assert delta[:, bits.index(3)].max() == -27 and delta[:, bits.index(3)].min() == -78
    assert round(delta[:, bits.index(4)].mean()) == -6
    ns = qat.load_noise_study()
    img = np.round(ns["accuracy"] * n).astype(int)
    base = np.round(ns["float_accuracy"] * n).astype(int)
    assert (img[:, 1] - img[:, 0]).tolist() == [0, 4, 0, -1] and (img[:, 2] - img[:, 0]).tolist() == [-3, 4, -2, -4]
    assert (img[:, 0] - base).max() == 6
    qp = affine.compute_qparams(-1.0, 1.0, bits=2, symmetric=True, narrow_range=True)
    assert qat.ste_grad([-2.0, -1.6, -1.4, -0.3, 0.0, 0.8, 1.4, 1.6], qp).tolist() == [0, 0, 1, 1, 1, 1, 1, 0]


def test_lesson_09_short_run_within_its_stated_tolerance():
    """Lesson 09's 3-epoch run trains on BLAS: stated as "within 3 images of float" (see test_portability)."""
    run = qat.qat_finetune(M, D, bits=4, epochs=3, seed=0)
    h = np.round(run.history["test_accuracy"] * len(D.y_test)).astype(int)
    assert h[0] == 519 and h[-1] >= h[0] and abs(h[-1] - 526) <= 3


def test_noise_study_shipped():
    """Lesson 09: QAT rounding noise vs a 16-bit control trained with the identical recipe."""
    s = qat.load_noise_study()
    n = len(D.y_test)
    img = np.round(s["accuracy"] * n).astype(int)
    base = np.round(s["float_accuracy"] * n).astype(int)
    bits = list(s["bits"])
    ctl, b8, b4 = (img[:, bits.index(b)] for b in (16, 8, 4))
    # extra fine-tuning alone never hurt here: comparing QAT with the un-fine-tuned float model
    # credits the noise with what the extra epochs did
    assert np.all(ctl >= base)
    # 8-bit noise vs the control: within a handful of images either way, no consistent gain
    assert np.abs(b8 - ctl).max() <= 5 and abs(np.mean(b8 - ctl)) <= 1
    # 4-bit noise: not better than the control on average
    assert np.mean(b4 - ctl) <= 0
    assert s["float_accuracy"][0] == M.accuracy(D.X_test, D.y_test)


@pytest.mark.slow
def test_noise_study_reproduces_seed_0():
    s = qat.load_noise_study()
    fresh = qat.noise_study(D, seeds=[0], bits_list=s["bits"])
    # training on another machine's BLAS: allow 2 points (11 images) per entry, as for the PTQ study
    np.testing.assert_allclose(fresh["accuracy"][0], s["accuracy"][0], atol=0.02)
    assert abs(fresh["float_accuracy"][0] - s["float_accuracy"][0]) <= 0.02

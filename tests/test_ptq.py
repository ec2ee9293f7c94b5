"""qlearn.networks.ptq: post-training quantization checked against plain re-implementations."""
import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qlearn.networks import nn, ptq
from qlearn.networks.data import load_digits
from qlearn.ranges import affine as ql_affine

D = load_digits()
M = nn.pretrained()
FLOAT_ACC = M.accuracy(D.X_test, D.y_test)


def plain_weight_fq(W, bits, per_channel):
    """Symmetric narrow-range weight quantization written out: s = max|W| / (2**(b-1) - 1)."""
    qmax = 2 ** (bits - 1) - 1
    amax = np.abs(W).max(axis=1, keepdims=True) if per_channel else np.abs(W).max()
    s = amax / qmax
    return np.clip(np.round(W / s), -qmax, qmax) * s


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
@pytest.mark.parametrize("per_channel", [False, True])
def test_weight_only_matches_plain_formula(bits, per_channel):
    q = ptq.quantize_model(M, mode="weight_only", bits=bits, per_channel=per_channel)
    h = D.X_test
    for i, (layer, ql) in enumerate(zip(M.layers, q.layers, strict=True)):
        W_hat = plain_weight_fq(layer.W, bits, per_channel)
        np.testing.assert_allclose(ql.W, W_hat, rtol=0, atol=1e-15)
        assert ql.W_qp.per_channel == per_channel and (not per_channel or ql.W_qp.axis == 0)
        assert np.abs(ql.W_q).max() == 2 ** (bits - 1) - 1
        h = h @ W_hat.T + layer.b
        if i < 2:
            h = np.maximum(h, 0)
    np.testing.assert_allclose(q.forward(D.X_test), h, atol=1e-12)


def test_full_integer_matches_plain_simulation_and_integer_arithmetic():
    bits = 8
    q = ptq.quantize_model(M, mode="full_integer", bits=bits, calibration="minmax", calib_data=D.X_calib)
    _, acts = M.forward(D.X_calib, return_activations=True)
    h = D.X_test
    for i, (layer, ql) in enumerate(zip(M.layers, q.layers, strict=True)):
        # ReLU outputs and pixels are >= 0: unsigned codes 0..255, scale = max / 255, zero point 0
        s_x = acts[i].max() / (2**bits - 1)
        assert ql.act_qp.scale == pytest.approx(s_x, rel=1e-12) and ql.act_qp.zero_point == 0
        x_q = np.clip(np.round(h / s_x), 0, 2**bits - 1)
        s_w = np.abs(layer.W).max() / 127
        W_q = np.clip(np.round(layer.W / s_w), -127, 127)
        np.testing.assert_array_equal(ql.W_q, W_q)
        b_q = np.round(layer.b / (s_x * s_w))
        np.testing.assert_array_equal(ql.b_q, b_q)
        # integer arithmetic: int32 accumulator, one rescale by s_x * s_w
        acc = x_q.astype(np.int64) @ W_q.astype(np.int64).T + b_q.astype(np.int64)
        assert np.abs(acc).max() < 2**31
        h = acc * (s_x * s_w)
        if i < 2:
            h = np.maximum(h, 0)
    np.testing.assert_allclose(q.forward(D.X_test), h, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("mode, dtype", [("float16", np.float16), ("bfloat16", ml_dtypes.bfloat16)])
def test_float_modes_round_weights_to_the_format(mode, dtype):
    q = ptq.quantize_model(M, mode=mode)
    eps = float(ml_dtypes.finfo(dtype).eps)  # 2**-10 for float16, 2**-7 for bfloat16
    for layer, ql in zip(M.layers, q.layers, strict=True):
        np.testing.assert_array_equal(ql.W.astype(dtype).astype(np.float64), ql.W)  # representable
        fi = ml_dtypes.finfo(dtype)
        normal = np.abs(layer.W) >= float(fi.smallest_normal)
        rel = np.abs(ql.W - layer.W)[normal] / np.abs(layer.W)[normal]
        assert rel.max() <= eps / 2 * (1 + 1e-12)  # round to nearest: half an ulp
        # subnormals: absolute error at most half the smallest subnormal step
        assert np.all(np.abs(ql.W - layer.W)[~normal] <= float(fi.smallest_subnormal) / 2)
    assert q.size_bytes == 2 * M.n_params
    assert abs(q.accuracy(D.X_test, D.y_test) - FLOAT_ACC) <= 0.005


def test_size_bytes_by_hand():
    # 64-64-32-10: 6464 weights, 106 biases, 3 layers
    n_w, n_b = 64 * 64 + 32 * 64 + 10 * 32, 64 + 32 + 10
    assert n_w + n_b == M.n_params
    q8 = ptq.quantize_model(M, mode="full_integer", bits=8, calib_data=D.X_calib)
    assert q8.size_bytes == n_w + 4 * n_b + 3 * 8 + 3 * 8  # codes + int32 biases + weight + activation qparams
    q4c = ptq.quantize_model(M, mode="weight_only", bits=4, per_channel=True)
    assert q4c.size_bytes == n_w // 2 + 4 * n_b + (64 + 32 + 10) * 8
    q3 = ptq.quantize_model(M, mode="weight_only", bits=3)
    assert q3.size_bytes == sum(-(-w * 3 // 8) for w in (4096, 2048, 320)) + 4 * n_b + 3 * 8
    assert q8.size_bytes < M.size_bytes(32) / 3.5  # a smaller model, not a bigger one


def test_int8_within_one_point_of_float_and_agrees():
    # int8 step is max|W| / 127 (< 0.4 % of the range): predictions change only for images
    # whose two top logits are within a fraction of a percent; allow 1 point (5 of 539 images)
    for pc in (False, True):
        for mode in ("weight_only", "full_integer"):
            q = ptq.quantize_model(M, mode=mode, bits=8, per_channel=pc, calib_data=D.X_calib)
            assert abs(q.accuracy(D.X_test, D.y_test) - FLOAT_ACC) <= 0.01
            assert q.agreement(D.X_test, M) >= 0.98


def test_per_channel_beats_per_tensor_at_low_bits():
    # rows of W0 span max|W| from about 0.37 to 0.87: per tensor, the small rows get few levels
    r = np.abs(M.layers[0].W).max(axis=1)
    assert r.max() / r.min() > 2
    pt = ptq.accuracy_vs_bits(M, D, [2, 3], per_channel=False)
    pc = ptq.accuracy_vs_bits(M, D, [2, 3], per_channel=True)
    assert np.all(pc > pt)
    assert pc[0] - pt[0] > 0.3  # 2 bits: per tensor collapses, per channel keeps most digits
    assert pt[0] < 0.5


def test_layer_sensitivity_and_partial_quantization():
    q_none = ptq.quantize_model(M, mode="weight_only", bits=2, layers=[])
    np.testing.assert_array_equal(q_none.forward(D.X_test), M.forward(D.X_test))
    assert q_none.size_bytes == M.size_bytes(32)
    sens = ptq.layer_sensitivity(M, D, bits=2)
    for i in range(3):
        qi = ptq.quantize_model(M, mode="weight_only", bits=2, layers=[i])
        assert sens[i] == qi.accuracy(D.X_test, D.y_test)
        assert not qi.layers[(i + 1) % 3].quantized
    # every single layer at 2 bits hurts, but less than all three together
    assert np.all(sens < FLOAT_ACC) and np.all(sens > ptq.accuracy_vs_bits(M, D, [2])[0])


@pytest.mark.parametrize("cal", ptq.CALIBRATIONS)
def test_every_calibrator_runs_and_int8_is_close(cal):
    q = ptq.quantize_model(M, mode="full_integer", bits=8, calibration=cal, calib_data=D.X_calib)
    assert all(ql.act_qp is not None and ql.act_qp.zero_point == 0 for ql in q.layers)
    assert abs(q.accuracy(D.X_test, D.y_test) - FLOAT_ACC) <= 0.02


@settings(max_examples=20, deadline=None)
@given(st.integers(2, 16), st.booleans(), st.integers(0, 1000))
def test_weight_codes_in_range_and_error_at_most_half_a_step(bits, per_channel, seed):
    m = nn.init_mlp((6, 5, 3), rng=np.random.default_rng(seed))
    q = ptq.quantize_model(m, mode="weight_only", bits=bits, per_channel=per_channel)
    qmax = 2 ** (bits - 1) - 1
    for layer, ql in zip(m.layers, q.layers, strict=True):
        assert ql.W_q.min() >= -qmax and ql.W_q.max() <= qmax
        s = np.asarray(ql.W_qp.scale).reshape(-1, 1) if per_channel else ql.W_qp.scale
        assert np.all(np.abs(layer.W - ql.W) <= s / 2 * (1 + 1e-9))


def test_bad_input():
    with pytest.raises(ValueError, match="mode must be one of"):
        ptq.quantize_model(M, mode="int3")
    with pytest.raises(ValueError, match="bits must be in \\[2, 16\\]"):
        ptq.quantize_model(M, bits=1, calib_data=D.X_calib)
    with pytest.raises(ValueError, match="bits must be in \\[2, 16\\]"):
        ptq.quantize_model(M, mode="weight_only", bits=17)
    with pytest.raises(ValueError, match="calib_data is required"):
        ptq.quantize_model(M, mode="full_integer")
    with pytest.raises(ValueError, match="calib_data is empty"):
        ptq.quantize_model(M, mode="full_integer", calib_data=np.zeros((0, 64)))
    with pytest.raises(ValueError, match="calib_data must have shape"):
        ptq.quantize_model(M, mode="full_integer", calib_data=np.zeros((5, 63)))
    with pytest.raises(ValueError, match="calib_data contains NaN"):
        ptq.quantize_model(M, mode="full_integer", calib_data=np.full((5, 64), np.nan))
    with pytest.raises(ValueError, match="calibration must be one of"):
        ptq.quantize_model(M, calibration="kl", calib_data=D.X_calib)
    with pytest.raises(ValueError, match="one per layer"):
        ptq.quantize_model(M, calibration=["mse", "mse"], calib_data=D.X_calib)
    with pytest.raises(ValueError, match="layers must hold layer indices"):
        ptq.quantize_model(M, mode="weight_only", layers=[3])
    with pytest.raises(ValueError, match="X must have shape"):
        ptq.quantize_model(M, mode="weight_only").forward(np.zeros((2, 10)))
    with pytest.raises(ValueError, match="bits_list is empty"):
        ptq.accuracy_vs_bits(M, D, [])


def test_regularization_claim_shipped_study():
    """Seed 003: "quantization can improve the accuracy". Over 8 independently trained models:"""
    r = ptq.load_regularization_study()
    n_test = len(D.y_test)
    delta_images = np.round(r["delta"] * n_test).astype(int)
    bits = list(r["bits"])
    d8, d4, d3 = (delta_images[:, bits.index(b)] for b in (8, 4, 3))
    # 8 bits: PTQ changes at most a couple of test images either way, with no consistent sign
    assert np.abs(d8).max() <= 2 and abs(d8.mean()) < 1
    # 4 bits: on average it costs accuracy; 3 bits: it costs accuracy for every model
    assert d4.mean() < 0 and np.all(d3 < 0)
    # improvements exist, but are rare and tiny (one image = 0.19 points)
    assert 0 < np.sum(delta_images > 0) <= 0.15 * delta_images.size and delta_images.max() <= 2
    # the shipped float model is seed 0 of the study (trained on the same machine, bit for bit), and
    # the study's entries for it are what the deterministic evaluation gives on any machine
    assert r["float_accuracy"][0] == M.accuracy(D.X_test, D.y_test)
    assert r["ptq_accuracy"][0].tolist() == [
        ptq.quantize_model(M, mode="full_integer", bits=int(b), calib_data=D.X_calib).accuracy(D.X_test, D.y_test)
        for b in r["bits"]]
    assert np.all(r["float_train_accuracy"] >= 0.99)  # the models fit the training set


#: Recomputing a training run on another machine: its BLAS sums the gradients' products in
#: another order, the trained weights differ in their last bits and training amplifies that.
#: Observed: up to 1.3 points on a regularization-study entry (an AVX-512 machine, issue 10).
#: Allowed: 2 points (11 test images) per entry.
RETRAIN_ATOL = 0.02


@pytest.mark.slow
def test_regularization_study_reproduces_from_the_seeds():
    shipped = ptq.load_regularization_study()
    fresh = ptq.regularization_study(D, seeds=shipped["seeds"][:3], bits_list=shipped["bits"])
    np.testing.assert_allclose(fresh["float_accuracy"], shipped["float_accuracy"][:3], atol=RETRAIN_ATOL)
    np.testing.assert_allclose(fresh["ptq_accuracy"], shipped["ptq_accuracy"][:3], atol=RETRAIN_ATOL)


def test_numbers_lessons_07_and_08_state():
    """The figures the notebooks print. Exact: every one is evaluated in integers or a fixed summation order
    (tests/test_portability.py perturbs the arithmetic and shows they do not move)."""
    n = len(D.y_test)
    assert round(FLOAT_ACC * n) == 526 and round(FLOAT_ACC, 3) == 0.976 and M.size_bytes(32) == 26280
    pt = ptq.accuracy_vs_bits(M, D, [2, 3], per_channel=False)
    pc = ptq.accuracy_vs_bits(M, D, [2, 3], per_channel=True)
    assert [round(a, 3) for a in pt] == [0.143, 0.931] and [round(a, 3) for a in pc] == [0.681, 0.954]
    q_pt = ptq.quantize_model(M, mode="weight_only", bits=4)
    q_pc = ptq.quantize_model(M, mode="weight_only", bits=4, per_channel=True)
    assert q_pc.size_bytes - q_pt.size_bytes == 103 * 8 and round(M.size_bytes(32) / q_pc.size_bytes, 1) == 5.8
    q8 = ptq.quantize_model(M, mode="full_integer", bits=8, calib_data=D.X_calib)
    assert q8.size_bytes == 6936 and round(M.size_bytes(32) / q8.size_bytes, 1) == 3.8
    assert round((q8.accuracy(D.X_test, D.y_test) - FLOAT_ACC) * n) == 1
    assert round((1 - q8.agreement(D.X_test, M)) * n) == 1
    dr = ptq.evaluate(ptq.quantize_model(M, mode="dynamic_range", bits=8), D, M)
    assert dr["size_bytes"] == 6912 and round((dr["accuracy"] - FLOAT_ACC) * n) == 1
    assert round((1 - dr["agreement"]) * n) == 1
    acc4, clip4 = {}, {}
    for cal in ptq.CALIBRATIONS:
        q = ptq.quantize_model(M, mode="full_integer", bits=4, calibration=cal, calib_data=D.X_calib)
        acc4[cal] = round(q.accuracy(D.X_test, D.y_test), 3)
        clip4[cal] = [round(float(L.act_qp.range[1]), 2) for L in q.layers]
    assert acc4 == {"minmax": 0.963, "percentile": 0.968, "mse": 0.972, "entropy": 0.974}
    # lesson 08 cell 10: MSE clips layer 1's input too (3.19 vs 4.30), entropy clips layer 2 harder (9.29)
    assert clip4["minmax"] == [1.0, 4.3, 13.21] and clip4["mse"] == [1.0, 3.19, 11.22]
    assert clip4["entropy"] == [1.0, 3.19, 9.29]
    # one layer at a time: MSE's clip of layer 2 alone gives all of MSE's gain (+5 images over min/max),
    # its clip of layer 1 alone gives +3; entropy's harder layer-2 clip alone gives +5
    def images4(cals):
        q = ptq.quantize_model(M, mode="full_integer", bits=4, calibration=cals, calib_data=D.X_calib)
        return round(q.accuracy(D.X_test, D.y_test) * n)
    assert images4("minmax") == 519 and images4("mse") == 524 and images4("entropy") == 525
    assert images4(["minmax", "minmax", "mse"]) == 524 and images4(["minmax", "mse", "minmax"]) == 522
    assert images4(["minmax", "minmax", "entropy"]) == 524
    sens = ptq.layer_sensitivity(M, D, bits=2)
    assert np.argmin(sens) == 0 and [round(a, 3) for a in sens] == [0.651, 0.701, 0.794]


def test_dynamic_range_matches_a_per_row_reimplementation():
    """TFLite's hybrid kernel written out with Python ints, one image (row) at a time."""
    import math
    q = ptq.quantize_model(M, mode="dynamic_range", bits=8, per_channel=True)
    X = D.X_test[:6]
    h = X
    for i, L in enumerate(q.layers):
        out = np.zeros((h.shape[0], L.W_q.shape[0]))
        for r, row in enumerate(h):
            amax = max(abs(float(v)) for v in row)
            s = amax / 127 if amax > 0 else 1.0
            codes = [max(-127, min(127, int(math.copysign(math.floor(abs(v) / s + 0.5), v)))) for v in row]
            for o in range(L.W_q.shape[0]):
                acc = sum(c * int(w) for c, w in zip(codes, L.W_q[o], strict=True))
                out[r, o] = acc * (s * float(L.W_qp.scale[o])) + float(L.b[o])
        h = np.maximum(out, 0) if i < 2 else out
    np.testing.assert_allclose(q.forward(X), h, rtol=1e-12, atol=1e-12)
    # per inference: an image's result does not depend on the other images in the batch
    np.testing.assert_array_equal(q.forward(X[2:3]), q.forward(X)[2:3])
    # not weight-only: at 3 bits the activations' rounding costs accuracy weight-only does not pay
    wo = ptq.quantize_model(M, mode="weight_only", bits=3).accuracy(D.X_test, D.y_test)
    assert ptq.quantize_model(M, mode="dynamic_range", bits=3).accuracy(D.X_test, D.y_test) < wo - 0.02


def test_full_integer_forward_is_exact_integer_arithmetic():
    # the int64 accumulator is exact: compare with Python ints on a few images
    q = ptq.quantize_model(M, mode="full_integer", bits=8, per_channel=True, calib_data=D.X_calib)
    L = q.layers[0]
    X = D.X_test[:3]
    qx = ql_affine.quantize(X, L.act_qp)
    got = ptq.integer_linear(X, L)
    for r in range(3):
        for o in range(0, 64, 7):
            acc = sum(int(a) * int(w) for a, w in zip(qx[r], L.W_q[o], strict=True)) + int(L.b_q[o])
            assert got[r, o] == acc * float(L.bias_qp.scale[o])


def test_asymmetric_weights_match_plain_minmax_formula():
    q = ptq.quantize_model(M, mode="weight_only", bits=4, symmetric=False)
    for layer, ql in zip(M.layers, q.layers, strict=True):
        lo, hi = min(layer.W.min(), 0.0), max(layer.W.max(), 0.0)
        s = (hi - lo) / 15  # codes -8..7
        z = np.clip(np.round(-8 - lo / s), -8, 7)
        W_hat = (np.clip(np.round(layer.W / s) + z, -8, 7) - z) * s
        np.testing.assert_allclose(ql.W, W_hat, atol=1e-15)
    # 2 bits: asymmetric keeps 4 levels where symmetric narrow range keeps 3
    a_asym = ptq.accuracy_vs_bits(M, D, [2], symmetric=False)[0]
    a_sym = ptq.accuracy_vs_bits(M, D, [2], symmetric=True)[0]
    assert a_asym > a_sym

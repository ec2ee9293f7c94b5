"""The convolutional network in lesson 13's capstone: im2col GEMM shapes, their cost on the TPU v1
model, and the activation calibrators compared on it (integer layers: the same on every CPU)."""
from __future__ import annotations

import numpy as np
import pytest

from qlearn import conv, convnet, tpu
from qlearn.data import load_digits


@pytest.fixture(scope="module")
def model():
    return convnet.pretrained()


@pytest.fixture(scope="module")
def table():
    return convnet.calibration_table()


def test_gemm_shapes_count_every_multiply_of_the_real_forward_pass(model):
    gemms = convnet.gemm_shapes(model)
    _, inputs = model.forward(np.zeros((1, 64)), return_inputs=True)
    expected = []
    for layer, x in zip(model.quant_layers(), inputs):
        if isinstance(layer, convnet.Conv):
            y = layer.forward(x)
            expected.append(conv.macs(layer.W.shape, y.shape[2:]))
        else:
            expected.append(layer.W.size)
    assert [g.macs for g in gemms] == expected
    assert [g.kind for g in gemms] == [layer.kind for layer in model.quant_layers()]
    dw = [g for g in gemms if g.kind == "depthwise"]
    assert all(g.K == 9 and g.N == 1 and g.groups > 1 for g in dw)


def test_a_single_dense_gemm_costs_what_model_cost_says(model):
    for K, N, B in ((32, 10, 200), (300, 500, 7), (2000, 2000, 200)):
        c = tpu.gemm_model_cost([("dense", 1, K, N, 1)], B)
        assert c["cycles"] == tpu.model_cost([(K, N)], B).cycles
        assert c["macs"] == B * K * N


def test_depthwise_groups_run_one_after_another():
    one = tpu.layer_cost(8 * 16, 9, 1)
    c = tpu.gemm_model_cost([("depthwise", 16, 9, 1, 12)], 8)
    assert c["cycles"] == 12 * one.cycles
    assert c["layers"][0]["utilization"] == pytest.approx(12 * one.macs / (12 * one.cycles * 65536))


def test_depthwise_layers_take_most_cycles_for_a_small_share_of_the_work(model):
    c = tpu.gemm_model_cost(convnet.gemm_shapes(model), 200)
    dw = [L for L in c["layers"] if L["kind"] == "depthwise"]
    assert sum(L["cycles"] for L in dw) > 0.5 * c["cycles"]
    assert sum(L["macs"] for L in dw) < 0.25 * c["macs"]


def test_gemm_model_cost_rejects_bad_input():
    with pytest.raises(ValueError, match="gemms is empty"):
        tpu.gemm_model_cost([], 8)
    with pytest.raises(TypeError, match="kind, rows, K, N, groups"):
        tpu.gemm_model_cost([(9, 1)], 8)
    with pytest.raises(ValueError, match="batch"):
        tpu.gemm_model_cost([("dense", 1, 4, 4, 1)], 0)


def test_kl_with_the_zero_spike_collapses_int8_and_flattening_it_repairs(table):
    one = 1 / 539
    # KL as Migacz 2017 describes it: thresholds far below the data's range on the post-ReLU6 inputs
    assert table["entropy", False] < 0.5 and table["entropy", True] < 0.5
    for cal in ("minmax", "percentile", "mse", "entropy_flat"):
        for pc in (False, True):
            assert abs(table[cal, pc] - table["float"]) <= 2 * one
    ratios = np.array(table["ranges"]["entropy"]) / np.array(table["max_abs"])
    assert int(np.argmin(ratios)) == 2 and ratios[2] < 0.2
    zero = np.array(table["zero_share"])
    assert np.all(zero[1:5] > 0.4)        # the inputs after ReLU6: 41-52% exact zeros
    flat = np.array(table["ranges"]["entropy_flat"]) / np.array(table["max_abs"])
    assert np.all(flat[1:5] > 0.7)


def test_convnet_quantize_checks_its_calibration(model):
    d = load_digits()
    with pytest.raises(ValueError, match="calibration must be one of"):
        convnet.quantize(model.fold(), d.X_calib, calibration="kl")
    with pytest.raises(TypeError, match="calibration_options must be a dict"):
        convnet.quantize(model.fold(), d.X_calib, calibration="entropy", calibration_options="flatten")


def test_layer_input_rows_are_the_pointwise_layers_im2col(model):
    d = load_digits()
    rows = convnet.layer_input_rows(model, d.X_calib[:3], 4)
    x = model.forward(d.X_calib[:3], return_inputs=True)[1][4]
    np.testing.assert_array_equal(rows, conv.im2col(x, 1, 1))
    with pytest.raises(ValueError, match="not a convolution"):
        convnet.layer_input_rows(model, d.X_calib[:3], 5)
    with pytest.raises(ValueError, match="index"):
        convnet.layer_input_rows(model, d.X_calib[:3], 6)

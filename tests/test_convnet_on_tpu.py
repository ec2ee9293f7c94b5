"""The convolutional network in lesson 13's capstone: im2col GEMM shapes, their cost on the TPU v1
model, and the activation calibrators compared on it (integer layers: the same on every CPU)."""
from __future__ import annotations

import numpy as np
import pytest

from qlearn.hardware import tpu
from qlearn.networks import conv, convnet
from qlearn.networks.data import load_digits


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


# -- the conv network as rows of lesson 13's capstone ------------------------------------------------
def test_gemm_hardware_costs_agree_with_the_dense_model_on_dense_layers():
    """A stack of dense layers given as GEMMs costs what model_cost / host_fp32_cost say for it."""
    shapes = [(64, 64), (64, 32), (32, 10)]
    gemms = [("dense", 1, i, o, 1) for i, o in shapes]
    for B in (1, 200, 4096):
        g = tpu.gemm_hardware_costs(gemms, B, in_values=64, out_values=10)
        h = tpu.hardware_costs(shapes, B)
        for key in h:
            for k in ("latency_us", "inferences_per_s", "tops", "power_w", "inferences_per_joule", "power_total_w",
                      "inferences_per_joule_total", "rescale_share"):
                assert g[key][k] == pytest.approx(h[key][k], rel=1e-12), (B, key, k)
            assert g[key]["cycles"] == h[key]["cycles"] and g[key]["rescale_cycles"] == h[key]["rescale_cycles"]
    with pytest.raises(ValueError, match="in_values"):
        tpu.gemm_hardware_costs(gemms, 8, in_values=0, out_values=10)


def test_shipped_convnet_accuracies_are_the_calibration_table(table):
    a = tpu.load_convnet_accuracies()
    assert a["float"] == table["float"]
    for cal in tpu.CONVNET_CALIBRATIONS:
        for pc in (False, True):
            assert a[8, cal, pc] == table[cal, pc]          # exact integer path: equal, not approximately
    d, folded = load_digits(), convnet.pretrained().fold()
    for pc in (False, True):
        q = convnet.quantize(folded, d.X_calib, weight_bits=4, per_channel=pc)
        assert a[4, "minmax", pc] == q.accuracy(d.X_test, d.y_test)


@pytest.mark.slow
def test_shipped_convnet_accuracies_recomputed():
    assert tpu.convnet_accuracies() == tpu.load_convnet_accuracies()


def test_capstone_rows_for_the_convnet_say_how_much_the_choices_matter():
    rows = tpu.capstone_table(batch=200, benchmark="convnet")
    r = tpu.capstone_rows(rows)
    assert len(r) == len(rows) == 2 * 2 * 3 + 3
    n = {k: round(v["accuracy"] * 539) for k, v in r.items() if v["accuracy"] is not None}
    # int8: KL (zero bin kept) collapses, min/max and MSE keep float; per-channel weights do not save KL
    assert (n["int8 per-tensor entropy"], n["int8 per-tensor mse"], n["int8 per-tensor minmax"]) == (138, 509, 509)
    assert (n["int8 per-channel entropy"], n["int8 per-channel mse"]) == (127, 510) and n["host fp32"] == 509
    # int4: per-channel vs per-tensor is the large lever; MSE vs min/max within a few images
    assert (n["int4 per-tensor minmax"], n["int4 per-channel minmax"]) == (371, 484)
    assert (n["int4 per-tensor mse"], n["int4 per-channel mse"]) == (370, 480)
    # costs: calibration never changes them; 4-bit codes run at int8 cost; per-channel a few cycles more
    gemm = tpu.gemm_model_cost(convnet.gemm_shapes(convnet.pretrained()), 200)
    pt, pc = r["int8 per-tensor mse"], r["int8 per-channel mse"]
    assert pt["cycles"] == gemm["cycles"] == 213904
    assert pc["cycles"] - pt["cycles"] == tpu.gemm_model_cost(convnet.gemm_shapes(convnet.pretrained()), 200,
                                                               per_channel=True)["cycles"] - gemm["cycles"] > 0
    for k, v in r.items():
        if k.startswith(("int8", "int4")):
            ref = pc if "per-channel" in k else pt
            assert v["cycles"] == ref["cycles"] and v["latency_us"] == ref["latency_us"]
            assert v["hardware"] == (tpu.HW_TPU_INT8 if k.startswith("int8") else tpu.HW_TPU_INT4)
    # lesson 13's figures for the hardware rows (model figures: exact)
    assert pc["cycles"] - pt["cycles"] == 56 and r["fp16 chip"]["cycles"] == 201080
    assert round(pt["latency_us"]) == 307 and round(r["host fp32"]["latency_us"], 1) == 5.7
    assert tpu.layer_cost(1, 9, 1).fill_cycles == 766 == 256 + 256 + 256 - 2
    assert tpu.layer_cost(1, 9, 1, activation_bits=16, weight_bits=16, spec=tpu.fp16_variant()).fill_cycles == 310
    html = tpu.format_table(rows)
    assert html.count("<tr>") == len(rows) + 1 and "<td>-68.8</td>" in html and "<td>+0.2</td>" in html
    with pytest.raises(ValueError, match="shipped"):
        tpu.capstone_table(benchmark="convnet", calibrations=("percentile",))
    with pytest.raises(ValueError, match="benchmark must be"):
        tpu.capstone_table(benchmark="CNN1")


def test_capstone_rows_have_unique_names_for_every_benchmark():
    for b in ("course", "MLP0"):
        rows = tpu.capstone_table(batch=8, benchmark=b)
        names = [r["name"] for r in rows]
        assert len(set(names)) == len(names) == 7
        assert names[4:] == ["fp16 chip", "host fp32", "host int8"]
        assert tpu.capstone_rows(rows)["int8 per-channel mse"] is rows[3]

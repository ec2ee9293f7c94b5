"""qlearn.hardware.onnx_export: the course MLP in ONNX Runtime, bit for bit against qlearn's integer engine.

References nobody here wrote: ONNX Runtime itself (its kernels decide every code), Python's
``fractions`` (exact ``acc * M``), Python's ``round`` (ties to even) and numpy's float32
arithmetic (IEEE single precision) for ORT's documented rules.
"""
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

from qlearn.hardware import intops
from qlearn.hardware import onnx_export as ox
from qlearn.networks import data, nn, ptq
from qlearn.ranges import observers


@pytest.fixture(scope="module")
def digits():
    return data.load_digits()


@pytest.fixture(scope="module")
def model():
    return nn.pretrained()


def _one_layer_graph(op_builder, in_type, out_type, n_in, n_out):
    from onnx import helper
    b = ox._Builder()
    op_builder(b)
    return ox._model_proto(b.nodes, [helper.make_tensor_value_info("X", in_type, [None, n_in])],
                           [helper.make_tensor_value_info("Y", out_type, [None, n_out])], b.inits, "t")


# ---------------------------------------------------------------------------------------------
# import stays numpy-only
# ---------------------------------------------------------------------------------------------
def test_importing_qlearn_and_the_module_does_not_import_onnx_or_onnxruntime():
    code = ("import sys, qlearn, qlearn.hardware.onnx_export; "
            "print('onnx' in sys.modules, 'onnxruntime' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


# ---------------------------------------------------------------------------------------------
# the float graph
# ---------------------------------------------------------------------------------------------
def test_float_graph_runs_the_model_in_float32(model, digits):
    g = ox.float_graph(model)
    assert [n.op_type for n in g.graph.node] == ["Gemm", "Relu", "Gemm", "Relu", "Gemm"]
    logits = ox.run(g, digits.X_test)["logits"]
    ref = model.forward(digits.X_test)
    # float32 against float64: about 1e-7 relative per operation; logits are O(10)
    assert np.abs(logits - ref).max() < 1e-3 * np.abs(ref).max()
    assert np.sum(logits.argmax(1) != ref.argmax(1)) <= 1


# ---------------------------------------------------------------------------------------------
# ORT's rules, checked against ORT on crafted inputs
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("M", [0.5, 0.25, 0.01, 0.0023818846, 1.75])
def test_ort_requantize_equals_ort_on_every_accumulator_in_a_range(M):
    from onnx import TensorProto
    acc = np.arange(-3000, 3001, dtype=np.int64)

    def build(b):
        v = b.node("Cast", ["X"], "f", to=TensorProto.FLOAT)
        v = b.node("Mul", [v, b.const("M", np.float32(M))], "v")
        b.node("QuantizeLinear", [v, b.const("one", np.float32(1.0)), b.const("z", np.int8(3))], "Y")

    g = _one_layer_graph(build, TensorProto.INT32, TensorProto.INT8, acc.size, acc.size)
    sess = ox.session(g)
    got = sess.run(None, {"X": acc[None, :].astype(np.int32)})[0][0].astype(np.int64)
    assert np.array_equal(got, ox.ort_requantize(acc, M, 3))
    # ties to even, saturated: Python's round() is banker's rounding (an independent reference)
    m32 = Fraction(float(np.float32(M)))
    for a, q in zip(acc.tolist(), got.tolist(), strict=True):
        exact = Fraction(a) * m32
        if Fraction(float(np.float32(float(exact)))) == exact:     # product exact in float32
            assert q == min(127, max(-128, round(exact) + 3))


def test_ort_ties_to_even_differ_from_qlearns_fixed_point_ties_at_exact_halves():
    acc = np.array([2, 6, 10, -2, -6, -10])          # acc * 0.25 = +-0.5, +-1.5, +-2.5: exact ties
    assert ox.ort_requantize(acc, 0.25, 0).tolist() == [0, 2, 2, 0, -2, -2]                   # to even
    m0, shift = intops.quantize_multiplier(0.25)
    assert shift == -1
    assert intops.requantize(acc, m0, shift, 0).tolist() == [1, 2, 3, -1, -2, -3]              # away from 0
    m0, shift = intops.quantize_multiplier(0.5)                                                # no shift:
    assert intops.requantize(acc // 2, m0, shift, 0).tolist() == [1, 2, 3, 0, -1, -2]         # ties up


def test_ort_quantize_linear_equals_ort_and_divides_in_float32(digits):
    from onnx import TensorProto
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-1, 2, 5000), np.arange(17) / 16]).astype(np.float32)
    scale, zp = 1 / 255, -128

    def build(b):
        b.node("QuantizeLinear", ["X", b.const("s", np.float32(scale)), b.const("z", np.int8(zp))], "Y")

    g = _one_layer_graph(build, TensorProto.FLOAT, TensorProto.INT8, x.size, x.size)
    got = ox.session(g).run(None, {"X": x[None, :]})[0][0].astype(np.int64)
    assert np.array_equal(got, ox.ort_quantize_linear(x, scale, zp))
    # the pixel 0.5: in float32 0.5 / float32(1/255) is just below 127.5; in float64 it is 127.5 exactly
    assert Fraction(0.5) / Fraction(float(np.float32(scale))) < Fraction(255, 2)
    assert 0.5 / scale == 127.5
    assert got[x.size - 9] == -1                      # x = 8/16: 127 - 128
    from qlearn.ranges import affine
    assert affine.quantize(np.array([0.5]), affine.QParams(scale, zp, -128, 127)).tolist() == [0]


def test_int8_x_int8_matmul_integer_is_exact_on_this_cpu():
    # the bit-exactness of the integer graphs rests on it; uint8 x int8 may saturate (no VNNI)
    assert ox.matmul_integer_is_exact(signed_activations=True) is True
    assert isinstance(ox.matmul_integer_is_exact(signed_activations=False), bool)


def test_ort_multiplier_is_float32_left_to_right():
    m = ox.ort_multiplier(0.1, np.array([0.3, 0.7]), 0.9)
    assert m.dtype == np.float32
    f = np.float32
    assert m.tolist() == [(f(0.1) * f(0.3)) / f(0.9), (f(0.1) * f(0.7)) / f(0.9)]


# ---------------------------------------------------------------------------------------------
# bit-exactness on every test image
# ---------------------------------------------------------------------------------------------
SCHEMES = {"per-tensor": {}, "per-channel": dict(per_channel=True),
           "asymmetric weights": dict(symmetric_weights=False),
           "per-channel asymmetric": dict(per_channel=True, symmetric_weights=False)}


@pytest.mark.parametrize("scheme", list(SCHEMES))
def test_ort_equals_the_integer_engine_on_every_test_image_except_explained_near_ties(model, digits, scheme):
    imlp = intops.integer_mlp(model, digits.X_calib, **SCHEMES[scheme])
    r = ox.compare_with_integer_engine(imlp, digits.X_test)
    assert r.n_images == digits.X_test.shape[0]
    for c in r.layers:
        assert c.n_outputs == digits.X_test.shape[0] * imlp.layers[c.layer].W_q.shape[0]
        assert c.acc_equal                    # int8 x int8 -> int32 sums: equal bit for bit
        assert c.rule_equal                   # every ORT code is ORT's float32 rule, reproduced in numpy
        assert c.explained                    # every difference: one code, next to a tie, a named cause
        assert c.max_abs_diff <= 1
        # uniform fractional parts would put about 2 * window of the outputs next to a tie: a few tenths of
        # a percent (a different rounding rule, e.g. truncation, would differ on about half of them)
        assert c.n_diff <= 6 * c.window * c.n_outputs + 5
        assert np.all(np.abs(c.ort_code - c.qlearn_code) == 1)
        # the window is half a step of qlearn's intermediate (2**shift codes) plus float32 slack
        right = -min(int(np.max(imlp.layers[c.layer].shift)), 0)   # the coarsest channel
        assert c.window < 2.0 ** -(right + 1) * 1.1
    # the input quantizer: ORT's float32 division vs qlearn's float64, only at ties of the latter
    assert r.input_rule_equal
    assert set(r.input_pixels_diff.tolist()) <= {0.5}
    assert r.end_to_end_equal                # the whole ORT graph = ORT's rules in numpy, every image
    assert r.prediction_diff_images <= 2


def test_every_difference_is_reproduced_from_exact_arithmetic(model, digits):
    imlp = intops.integer_mlp(model, digits.X_calib)
    r = ox.compare_with_integer_engine(imlp, digits.X_test)
    for c in r.layers:
        layer = imlp.layers[c.layer]
        for a, q_ql, q_ort in zip(c.acc.tolist(), c.qlearn_code.tolist(), c.ort_code.tolist(), strict=True):
            exact = Fraction(a) * Fraction(float(layer.real_multiplier))
            assert abs(exact - (exact.numerator // exact.denominator) - Fraction(1, 2)) <= Fraction(c.window)
            # ORT: one rounding of the float32 product; qlearn: gemmlowp's two integer roundings
            v32 = np.float32(a) * np.float32(ox.ort_multiplier(layer.x_qp.scale, layer.w_qp.scale, layer.y_qp.scale))
            assert q_ort == min(127, max(layer.qmin, round(Fraction(float(v32))) + layer.y_qp.zero_point))
            assert q_ql == int(intops.requantize([a], layer.m0, layer.shift, layer.y_qp.zero_point,
                                                 layer.qmin, layer.y_qp.qmax)[0])


@pytest.mark.parametrize("scheme", list(SCHEMES))
def test_orts_fused_qlinearconv_kernel_equals_the_written_out_rule_on_every_test_image(model, digits, scheme):
    """ORT's own int8 kernel (QLinearConv, which requantizes internally) against the MatMulInteger graph
    whose rescale is the float32 rule written out: equal bit for bit, through all three layers."""
    imlp = intops.integer_mlp(model, digits.X_calib, **SCHEMES[scheme])
    q = imlp.quantize_input(digits.X_test)
    fused = ox.run(ox.qlinear_graph(imlp), q)["logits_q"]
    explicit = ox.run(ox.integer_graph(imlp), q)["logits_q"]
    assert np.array_equal(fused, explicit)
    g = ox.qlinear_graph(imlp, input="float")
    got = ox.run(g, digits.X_test)["logits_q"].astype(np.int64)
    assert np.array_equal(got, ox.ort_forward_codes(imlp, digits.X_test))


def test_orts_qlinearmatmul_kernel_requantizes_with_the_float32_rule(model, digits):
    """QLinearMatMul (no bias input): ORT's kernel = round_half_even(float32(acc) * fl32(s_x s_w / s_y)) + z_y."""
    from onnx import TensorProto
    imlp = intops.integer_mlp(model, digits.X_calib)
    layer = imlp.layers[0]
    q = imlp.quantize_input(digits.X_test)

    def build(b):
        b.node("QLinearMatMul", ["X", b.const("xs", np.float32(layer.x_qp.scale)),
                                 b.const("xz", np.int8(layer.x_qp.zero_point)),
                                 b.const("W", layer.W_q.T.astype(np.int8)),
                                 b.const("ws", np.float32(layer.w_qp.scale)), b.const("wz", np.int8(0)),
                                 b.const("ys", np.float32(layer.y_qp.scale)),
                                 b.const("yz", np.int8(layer.y_qp.zero_point))], "Y")

    g = _one_layer_graph(build, TensorProto.INT8, TensorProto.INT8, 64, 64)
    got = ox.run(g, q)["Y"].astype(np.int64)
    acc = (q - layer.x_qp.zero_point) @ layer.W_q.T                       # no bias
    M = ox.ort_multiplier(layer.x_qp.scale, layer.w_qp.scale, layer.y_qp.scale)
    assert np.array_equal(got, ox.ort_requantize(acc, M, layer.y_qp.zero_point))


def test_numpy_int8_path_equals_ort_rules_and_ort(model, digits):
    imlp = intops.integer_mlp(model, digits.X_calib, per_channel=True)
    codes = ox.numpy_int8_forward(imlp, digits.X_test)
    assert np.array_equal(codes, ox.ort_forward_codes(imlp, digits.X_test))
    got = ox.run(ox.integer_graph(imlp, input="float"), digits.X_test)["logits_q"]
    assert np.array_equal(codes, got)


def test_qdq_graph_agrees_with_the_integer_engine_within_float_tolerance(model, digits):
    imlp = intops.integer_mlp(model, digits.X_calib)
    g = ox.qdq_graph(imlp)
    ql = imlp.forward_codes(digits.X_test)
    for optimize in (False, True):
        out = ox.run(g, digits.X_test, optimize=optimize)
        # float sums inside (unfused parts): codes within a few steps, predictions nearly all equal
        assert np.abs(out["logits_q"].astype(np.int64) - ql).max() <= 4
        assert np.mean(out["logits_q"].argmax(1) == ql.argmax(1)) >= 0.99
        s, z = imlp.layers[-1].y_qp.scale, imlp.layers[-1].y_qp.zero_point
        assert np.allclose(out["logits"], np.float32(s) * (out["logits_q"].astype(np.float32) - z), rtol=1e-6)
    ops = ox.optimized_op_types(g)
    assert len(ops) > 0 and set(ops) <= {"QuantizeLinear", "DequantizeLinear", "Gemm", "QGemm", "Relu",
                                         "QLinearMatMul", "MatMulInteger", "DynamicQuantizeLinear", "Add", "Mul",
                                         "Cast", "FusedGemm"}


# ---------------------------------------------------------------------------------------------
# ORT's quantizer vs qlearn.ranges.observers
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("per_channel", [False, True])
def test_minmax_scales_equal_qlearns_to_float32_precision(model, digits, per_channel):
    q = ox.ort_quantize_static(model, digits.X_calib, method="minmax", per_channel=per_channel)
    a = ox.ort_qparams(q, 3)
    b = ox.qlearn_qparams(model, digits.X_calib, method="minmax", per_channel=per_channel)
    for x, y in zip(a["activations"], b["activations"], strict=True):
        assert abs(x.scale - y.scale) <= 1e-6 * y.scale          # stated tolerance: float32 storage
        assert x.zero_point == y.zero_point
    for x, y in zip(a["weights"], b["weights"], strict=True):
        assert np.all(np.abs(np.asarray(x.scale) - np.asarray(y.scale)) <= 1e-6 * np.asarray(y.scale))
        assert np.all(np.asarray(x.zero_point) == 0)
    # and the integer engine of lesson 11 calibrates the same way
    imlp = intops.integer_mlp(model, digits.X_calib)
    for x, layer in zip(a["activations"], imlp.layers, strict=False):
        assert abs(x.scale - layer.x_qp.scale) <= 1e-6 * layer.x_qp.scale


def test_percentile_scales_within_one_histogram_bin_of_qlearns(model, digits):
    q = ox.ort_quantize_static(model, digits.X_calib, method="percentile")
    a = ox.ort_qparams(q, 3)["activations"]
    b = ox.qlearn_qparams(model, digits.X_calib, method="percentile")["activations"]
    logits, acts = model.forward(digits.X_calib, return_activations=True)
    mm = ox.qlearn_qparams(model, digits.X_calib, method="minmax")["activations"]
    for x, y, t, m in zip(a, b, acts + [logits], mm, strict=True):
        bin_width = np.abs(t).max() / 2048          # both: 2048 bins on [0, max|x|]
        # ORT takes a bin edge, qlearn interpolates inside the bin: at most one bin apart
        assert abs(x.scale - y.scale) * 255 <= bin_width * 1.01 + 1e-6 * y.scale * 255
        assert x.scale <= m.scale * (1 + 1e-6)       # a percentile never widens the range


def test_ort_entropy_with_its_defaults_tests_one_threshold_the_full_range(model, digits):
    """ORT's entropy calibrator through quantize_static: 128 bins and 128 quantized bins, so its
    KL search has a single candidate, the whole histogram: the min/max range. qlearn's
    EntropyObserver (TensorRT's 2048 bins, candidates from 128 up) clips the ReLU layers."""
    ent = ox.ort_qparams(ox.ort_quantize_static(model, digits.X_calib, method="entropy"), 3)["activations"]
    mm = ox.ort_qparams(ox.ort_quantize_static(model, digits.X_calib, method="minmax"), 3)["activations"]
    for x, y in zip(ent, mm, strict=True):
        assert abs(x.scale - y.scale) <= 1e-6 * y.scale
    ql = ox.qlearn_qparams(model, digits.X_calib, method="entropy")["activations"]
    assert ql[1].scale < 0.9 * mm[1].scale and ql[2].scale < 0.9 * mm[2].scale
    # and it is qlearn's observer that chose them
    _, acts = model.forward(digits.X_calib.astype(np.float32).astype(np.float64), return_activations=True)
    obs = observers.EntropyObserver(bits=8, symmetric=True, bins=2048).fit(acts[1])
    assert abs(ql[1].scale - obs.amax_ / 255) <= 1e-9


def test_accuracy_of_orts_quantizer_is_within_a_few_images_of_qlearns_ptq(model, digits):
    rows = ox.accuracy_table(model, digits)
    assert {(r["mode"], r["per_channel"]) for r in rows} == {
        (f"static {m}", pc) for m in ox.ORT_CALIBRATIONS for pc in (False, True)} | {
        ("dynamic", False), ("dynamic", True)}
    f = model.accuracy(digits.X_test, digits.y_test)
    for r in rows:
        assert abs(r["ort"] - r["qlearn_ptq"]) <= 0.01         # stated tolerance: about 5 of 539 images
        assert abs(r["ort"] - f) <= 0.02
    minmax = [r for r in rows if r["mode"] == "static minmax"]
    for r in minmax:
        assert abs(r["ort"] - r["qlearn_integer"]) <= 0.01
    pc = next(r for r in rows if r["mode"] == "static minmax" and not r["per_channel"])
    qm = ptq.quantize_model(model, mode="full_integer", bits=8, calibration="minmax", calib_data=digits.X_calib)
    assert pc["qlearn_ptq"] == qm.accuracy(digits.X_test, digits.y_test)


def test_dynamic_model_quantizes_activations_at_run_time_per_batch(model, digits):
    q = ox.ort_quantize_dynamic(model)
    ops = [n.op_type for n in q.graph.node]
    assert ops.count("DynamicQuantizeLinear") == 3 and ops.count("MatMulInteger") == 3
    assert "QuantizeLinear" not in ops
    sess = ox.session(q)
    full = ox.run(sess, digits.X_test)["logits"].argmax(1)
    one = np.array([ox.run(sess, digits.X_test[i:i + 1])["logits"].argmax(1)[0] for i in range(60)])
    assert np.mean(one == full[:60]) >= 0.95          # the scale depends on the batch; predictions rarely


# ---------------------------------------------------------------------------------------------
# speed table: structure only (no timing assertions)
# ---------------------------------------------------------------------------------------------
def test_speed_table_structure():
    rows = ox.speed_table(wide=32, batches=(1, 3), repeat=1, min_time=1e-4)
    assert [(r["network"], r["batch"]) for r in rows] == [
        ("course 64-64-32-10", 1), ("course 64-64-32-10", 3), ("wide 32-32-10", 1), ("wide 32-32-10", 3)]
    for r in rows:
        for m in ox.SPEED_METHODS:
            assert r[m] > 0
        assert r["numpy int8 / float"] == r["numpy int8"] / r["numpy float32"]
        assert r["ORT static / float"] == r["ORT int8 static (QDQ)"] / r["ORT float32"]
    text = ox.format_speed_table(rows)
    assert text.count("\n") == len(rows) + 1 and "numpy int8 / float" in text


# ---------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------
class NotADense(nn.Dense):
    """A layer type the exporter does not know (stands in for a convolution)."""


def test_unsupported_models_and_layers_raise_type_errors(model, digits):
    imlp = intops.integer_mlp(model, digits.X_calib)
    qm = ptq.quantize_model(model, mode="full_integer", calib_data=digits.X_calib)
    with pytest.raises(TypeError, match="model must be a qlearn.networks.nn.MLP"):
        ox.float_graph(qm)
    with pytest.raises(TypeError, match="model must be a qlearn.networks.nn.MLP"):
        ox.float_graph(imlp)
    odd = nn.MLP([NotADense(layer.W, layer.b) if i == 1 else layer for i, layer in enumerate(model.layers)])
    with pytest.raises(TypeError, match=r"model.layers\[1\] is a NotADense"):
        ox.float_graph(odd)
    with pytest.raises(TypeError, match="imlp must be a qlearn.hardware.intops.IntegerMLP"):
        ox.integer_graph(model)
    with pytest.raises(TypeError, match="imlp must be a qlearn.hardware.intops.IntegerMLP"):
        ox.qdq_graph(model)
    with pytest.raises(TypeError, match=r"imlp.layers\[0\] is a str"):
        ox.integer_graph(intops.IntegerMLP(["dense"]))
    with pytest.raises(TypeError, match="onnx_model must be an onnx.ModelProto"):
        ox.session(b"not a model")


def test_bad_arguments_raise_value_errors(model, digits):
    imlp = intops.integer_mlp(model, digits.X_calib)
    with pytest.raises(ValueError, match="calib_data is required"):
        ox.ort_quantize_static(model, None)
    with pytest.raises(ValueError, match="calib_data is empty"):
        ox.ort_quantize_static(model, np.zeros((0, 64)))
    with pytest.raises(ValueError, match=r"calib_data must have shape \(batch, 64\)"):
        ox.ort_quantize_static(model, np.zeros((4, 63)))
    with pytest.raises(ValueError, match="method must be one of"):
        ox.ort_quantize_static(model, digits.X_calib, method="mse")
    with pytest.raises(ValueError, match="method must be one of"):
        ox.qlearn_qparams(model, digits.X_calib, method="kl")
    with pytest.raises(ValueError, match="input must be 'codes' or 'float'"):
        ox.integer_graph(imlp, input="int")
    with pytest.raises(ValueError, match="input must be 'codes' or 'float'"):
        ox.qlinear_graph(imlp, input="int")
    from qlearn.ranges.affine import QParams
    shifted = intops.integer_layer(model.layers[0].W, model.layers[0].b, x_qp=imlp.layers[0].x_qp,
                                   y_qp=QParams(imlp.layers[0].y_qp.scale, -100, -128, 127), relu=True)
    with pytest.raises(ValueError, match="fused ReLU but y zero point -100 != qmin -128"):
        ox.qlinear_graph(intops.IntegerMLP([shifted]))
    with pytest.raises(ValueError, match=r"X must have shape \(batch, 64\)"):
        ox.compare_with_integer_engine(imlp, np.zeros((2, 10)))
    with pytest.raises(ValueError, match=r"int8 codes in \[-128, 127\]"):
        ox.run(ox.integer_graph(imlp), np.full((1, 64), 300))
    with pytest.raises(ValueError, match="scale must be > 0"):
        ox.ort_quantize_linear([1.0], 0.0, 0)
    with pytest.raises(ValueError, match="batches is empty"):
        ox.speed_table(batches=())
    with pytest.raises(ValueError, match="repeat must be"):
        ox.speed_table(repeat=0)
    with pytest.raises(ValueError, match="min_time must be"):
        ox.speed_table(min_time=0)
    with pytest.raises(ValueError, match="no quantization parameters for 'X'"):
        ox.ort_qparams(ox.float_graph(model), 3)
    from qlearn.ranges.affine import QParams
    wide = QParams(0.01, 0, -32768, 32767)
    layer = imlp.layers[0]
    l16 = intops.integer_layer(model.layers[0].W, model.layers[0].b, x_qp=layer.x_qp, y_qp=layer.y_qp)
    object.__setattr__(l16, "x_qp", wide)
    with pytest.raises(ValueError, match=r"x_qp must describe int8 codes|8-bit codes"):
        ox.integer_graph(intops.IntegerMLP([l16]))
    with pytest.raises(ValueError, match="differ: the codes one layer writes"):
        ox.integer_graph(intops.IntegerMLP([imlp.layers[0], imlp.layers[0]]))


def test_speed_figure_draws_every_measured_entry():
    from qlearn.viz.hardware import runtime
    rows = ox.speed_table(wide=16, batches=(2,), repeat=1, min_time=1e-4)
    fig = runtime.speed_figure(rows)
    assert [t.name for t in fig.data] == list(ox.SPEED_METHODS)
    for t in fig.data:
        assert t.orientation == "h"
        assert list(t.x) == [r[t.name] * 1e6 for r in rows]
        assert list(t.y) == ["course 64-64-32-10<br>batch 2", "wide 16-16-10<br>batch 2"]
    assert fig.layout.xaxis.type == "log"
    with pytest.raises(ValueError, match="rows is empty"):
        runtime.speed_figure([])
    with pytest.raises(ValueError, match="missing columns"):
        runtime.speed_figure([{"network": "x", "batch": 1}])


def test_ort_quantize_static_leaves_the_root_logger_as_it_found_it():
    """ORT's quantizer logs on the root logger; qlearn quiets it only for the call (a server's log level survives)."""
    import logging

    root = logging.getLogger()
    before = root.level
    root.setLevel(logging.INFO)
    try:
        d = data.load_digits()
        ox.ort_quantize_static(nn.pretrained(), d.X_calib[:32])
        assert root.level == logging.INFO
    finally:
        root.setLevel(before)

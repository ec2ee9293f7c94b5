"""Lessons 14, 15 and 17 tasks: each check accepts qlearn's (or ONNX's) reference and a second correct
implementation written differently, and rejects seeded wrong implementations with the right diagnosis.
The references are checked against sources nobody here wrote: ONNX Runtime's kernel, ml_dtypes, exact
integer arithmetic, np.packbits, brute force."""
import math
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest
from exercise_checks import rejects as _rejects
from hypothesis import given, settings
from hypothesis import strategies as st

import qlearn as ql
from qlearn.exercises import block_formats as ex_bf
from qlearn.exercises import conv as ex_conv
from qlearn.exercises import onnx_runtime as ex_onnx
from qlearn.exercises import tasks_of
from qlearn.exercises.solutions import block_formats as sol_bf
from qlearn.exercises.solutions import conv as sol_conv
from qlearn.exercises.solutions import onnx_runtime as sol_onnx
from qlearn.hardware import onnx_export
from qlearn.modern import block_formats


def test_the_three_lessons_have_their_tasks():
    assert [t.name for t in tasks_of("14_onnx_runtime.ipynb")] == ["quantize_linear"]
    assert [t.name for t in tasks_of("15_convolutions_and_folding.ipynb")] == ["fold_batchnorm", "conv_output_size"]
    assert [t.name for t in tasks_of("17_block_formats.ipynb")] == ["mx_shared_exponent", "pack_nibbles"]


# -- 14 QuantizeLinear ------------------------------------------------------------------------------
def _ort_quantize_linear(x, scale, zero_point):
    """ONNX Runtime's own QuantizeLinear kernel (MLAS) on a one-node model: another implementation."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    x = np.asarray(x, dtype=np.float32)
    zp = np.asarray(zero_point)
    node = helper.make_node("QuantizeLinear", ["x", "scale", "zero_point"], ["q"])
    graph = helper.make_graph([node], "q", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
                              [helper.make_tensor_value_info("q", helper.np_dtype_to_tensor_dtype(zp.dtype),
                                                             list(x.shape))],
                              [numpy_helper.from_array(np.asarray(scale, np.float32), "scale"),
                               numpy_helper.from_array(zp, "zero_point")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", onnx_export.OPSET)],
                              ir_version=onnx_export.IR_VERSION)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0]


def test_quantize_linear_accepts_onnx_runtime_and_an_element_by_element_implementation():
    assert ex_onnx.check_quantize_linear(sol_onnx.quantize_linear).passed
    assert ex_onnx.check_quantize_linear(_ort_quantize_linear).passed

    def one_by_one(x, scale, zero_point):  # Python's round() is half to even too
        lo, hi = (0, 255) if zero_point.dtype == np.uint8 else (-128, 127)
        out = [min(max(round(float(v / scale)) + int(zero_point), lo), hi) for v in x.ravel()]
        return np.array(out).reshape(x.shape).astype(zero_point.dtype)

    assert ex_onnx.check_quantize_linear(one_by_one).passed


def test_quantize_linear_reference_agrees_with_onnx_runtime_and_qlearns_float32_rule():
    for case in ex_onnx.TASK.cases:
        x, scale, zp = case.args
        ref = ex_onnx._reference(x, scale, zp)
        assert ref.dtype == zp.dtype and ref.shape == x.shape
        np.testing.assert_array_equal(ref, _ort_quantize_linear(x, scale, zp))
        info = np.iinfo(zp.dtype)
        np.testing.assert_array_equal(ref, onnx_export.ort_quantize_linear(x, scale, int(zp), qmin=int(info.min),
                                                                             qmax=int(info.max)))


def test_the_float32_case_is_a_tie_in_float32_and_not_in_float64():
    x, s = np.float32(0.25), np.float32(0.02)
    assert x / s == np.float32(12.5)
    assert float(x) / float(s) > 12.5  # float64 quotient of the same float32 numbers
    assert Fraction(float(x)) / Fraction(float(s)) > Fraction(25, 2)  # the exact quotient too


def _clip(q, zp):
    info = np.iinfo(zp.dtype)
    return np.clip(q, info.min, info.max).astype(zp.dtype)


def test_quantize_linear_diagnoses():
    c = ex_onnx.check_quantize_linear
    _rejects(c, lambda x, s, z: _clip(np.floor(x / s + 0.5).astype(int) + int(z), z), "Ties go up")
    _rejects(c, lambda x, s, z: _clip((np.sign(x) * np.floor(np.abs(x / s) + 0.5)).astype(int) + int(z), z),
             "away from zero")
    _rejects(c, lambda x, s, z: _clip((x / s).astype(np.int32) + int(z), z), "truncate toward zero")
    _rejects(c, lambda x, s, z: (np.rint(x / s).astype(np.int64) + int(z)).astype(z.dtype), "wrap")
    _rejects(c, lambda x, s, z: np.clip(np.rint(x / s), np.iinfo(z.dtype).min, np.iinfo(z.dtype).max) + int(z),
             "clip before adding the zero point")
    _rejects(c, lambda x, s, z: _clip(np.rint(x * s).astype(int) + int(z), z), "multiplied by the scale")
    _rejects(c, lambda x, s, z: np.clip(np.rint(x / s) + int(z), 0, 255).astype(np.uint8), "always clip to 0..255")
    _rejects(c, lambda x, s, z: np.clip(np.round(x / s) + int(z), -127 if z.dtype == np.int8 else 0,
                                        np.iinfo(z.dtype).max).astype(z.dtype), "narrow range")
    _rejects(c, lambda x, s, z: _clip(np.rint(x.astype(np.float64) / float(s)).astype(int) + int(z), z),
             "divided in float64")
    _rejects(c, lambda x, s, z: np.clip(np.rint(x / s).astype(np.int64) + int(z), np.iinfo(z.dtype).min,
                                        np.iinfo(z.dtype).max), "dtype is int64", ".astype(zero_point.dtype)")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-300, 300, width=32), min_size=1, max_size=12),
       st.floats(2.0**-10, 2.0, width=32), st.sampled_from([np.uint8, np.int8]), st.integers(0, 255))
def test_quantize_linear_solution_equals_onnx(x, scale, dtype, z):
    zp = dtype(z - 128 if dtype is np.int8 else z)
    x = np.array(x, dtype=np.float32)
    got = sol_onnx.quantize_linear(x, np.float32(scale), zp)
    ref = ex_onnx._reference(x, np.float32(scale), zp)
    assert got.dtype == ref.dtype
    np.testing.assert_array_equal(got, ref)


# -- 15 fold_batchnorm, conv_output_size ------------------------------------------------------------
def test_fold_batchnorm_accepts_reference_and_a_channel_loop():
    assert ex_conv.check_fold_batchnorm(
        lambda W, b, g, be, m, v, eps: ql.networks.batchnorm.fold_batchnorm(W, b, g, be, m, v, eps=eps)).passed

    def channel_loop(W, b, gamma, beta, mean, var, eps):
        W_fold, b_fold = np.empty_like(W), np.empty(len(b))
        for c in range(W.shape[0]):
            sd = math.sqrt(var[c] + eps)
            W_fold[c] = W[c] * gamma[c] / sd
            b_fold[c] = (b[c] - mean[c]) * gamma[c] / sd + beta[c]
        return W_fold, b_fold

    assert ex_conv.check_fold_batchnorm(channel_loop).passed

    def with_einsum(W, b, gamma, beta, mean, var, eps):
        k = gamma / np.sqrt(var + eps)
        return np.einsum("o...,o->o...", W, k), beta - k * mean + k * b

    assert ex_conv.check_fold_batchnorm(with_einsum).passed


def test_folded_layer_computes_conv_then_batchnorm():
    """The definition, independent of any fold formula: conv2d then batch norm == conv2d with the folded weights."""
    rng = np.random.default_rng(0)
    for shape, depthwise in (((4, 3, 3, 3), False), ((3, 1, 3, 3), True)):
        W = rng.normal(0, 1, shape)
        c = shape[0]
        b, g, be, m = rng.normal(0, 1, c), rng.uniform(0.5, 2, c), rng.normal(0, 1, c), rng.normal(0, 1, c)
        v = rng.uniform(0.1, 2, c)
        x = rng.normal(0, 1, (2, 3, 6, 6))
        conv = ql.networks.conv.depthwise_conv2d if depthwise else ql.networks.conv.conv2d
        y = ql.networks.batchnorm.batchnorm_inference(conv(x, W, b, padding=1), g, be, m, v, eps=1e-5)
        Wf, bf = sol_conv.fold_batchnorm(W, b, g, be, m, v, 1e-5)
        np.testing.assert_allclose(conv(x, Wf, bf, padding=1), y, rtol=1e-9, atol=1e-9)


def test_fold_batchnorm_diagnoses():
    c = ex_conv.check_fold_batchnorm

    def fold(k_of, bias_of=lambda k, b, m, be: k * (b - m) + be, scale_W=None):
        def f(W, b, g, be, m, v, eps):
            k = k_of(g, v, eps)
            Wf = scale_W(W, k) if scale_W else W * k.reshape((-1,) + (1,) * (W.ndim - 1))
            return Wf, bias_of(k, b, m, be)
        return f

    _rejects(c, fold(lambda g, v, eps: g / np.sqrt(v)), "You left eps out")
    _rejects(c, fold(lambda g, v, eps: g / (v + eps)), "divided by the variance")
    _rejects(c, fold(lambda g, v, eps: g / np.sqrt(v + eps), lambda k, b, m, be: k * b + be), "forgot the mean")
    _rejects(c, fold(lambda g, v, eps: g / np.sqrt(v + eps), lambda k, b, m, be: b + be - k * m),
             "did not scale the old bias")
    _rejects(c, fold(lambda g, v, eps: g / np.sqrt(v + eps), scale_W=lambda W, k: W * k), "last axis")
    _rejects(c, fold(lambda g, v, eps: g / np.sqrt(v + eps),
                     scale_W=lambda W, k: np.swapaxes(np.swapaxes(W, 0, 1) * k.reshape((-1,) + (1,) * (W.ndim - 1)),
                                                      0, 1)), "axis 1")
    _rejects(c, fold(lambda g, v, eps: g / np.sqrt(v + eps), scale_W=lambda W, k: W * k[:, None]), "(out, 1)")
    _rejects(c, lambda W, b, g, be, m, v, eps: W, "Return two things")
    _rejects(c, fold(lambda g, v, eps: g / np.sqrt(v + eps), lambda k, b, m, be: (b - m) + be),
             "Your W_fold is right, your b_fold is not")


def test_conv_output_size_accepts_reference_and_a_window_count():
    assert ex_conv.check_conv_output_size(ql.networks.conv.output_size).passed
    assert ex_conv.check_conv_output_size(lambda n, k, s, p: len(range(0, n + 2 * p - k + 1, s))).passed
    assert ex_conv.check_conv_output_size(lambda n, k, s, p: math.floor((n + 2 * p - k) / s) + 1).passed


def test_conv_output_size_diagnoses():
    c = ex_conv.check_conv_output_size
    _rejects(c, lambda n, k, s, p: (n + 2 * p - k) // s, "forgot the + 1")
    _rejects(c, lambda n, k, s, p: math.ceil((n + 2 * p - k) / s) + 1, "rounded up")
    _rejects(c, lambda n, k, s, p: (n + p - k) // s + 1, "one end only")
    _rejects(c, lambda n, k, s, p: n + 2 * p - k + 1, "ignored the stride")
    _rejects(c, lambda n, k, s, p: (n + 2 * p - k) / s + 1, "not a whole number")


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 80), st.integers(1, 9), st.integers(1, 6), st.data())
def test_conv_output_size_counts_the_windows_that_fit(n, k, s, data):
    p = data.draw(st.integers(0, k // 2))
    if n + 2 * p < k:
        return
    starts = [i for i in range(-p, n + p) if (i + p) % s == 0 and i + k <= n + p]  # windows inside the padding
    assert sol_conv.conv_output_size(n, k, s, p) == len(starts) == ql.networks.conv.output_size(n, k, s, p)


# -- 17 mx_shared_exponent, pack_nibbles ------------------------------------------------------------
def test_emax_elem_comes_from_ml_dtypes_and_matches_qlearns_formats():
    assert ex_bf.EMAX_ELEM == {"fp4_e2m1": 2, "fp6_e2m3": 2, "fp6_e3m2": 4, "fp8_e4m3": 8, "fp8_e5m2": 15}
    for name, emax in ex_bf.EMAX_ELEM.items():
        assert ql.numbers.formats.get_format(name).emax == emax
    assert float(ml_dtypes.finfo(ml_dtypes.float4_e2m1fn).max) == 1.5 * 2**2


def _exact_floor_log2(a: float) -> int:
    """floor(log2(a)) of a float > 0, exactly, with Python integers."""
    f = Fraction(a)
    e = f.numerator.bit_length() - f.denominator.bit_length()
    return e if Fraction(2) ** e <= f else e - 1


def test_mx_shared_exponent_accepts_reference_and_an_exact_integer_implementation():
    assert ex_bf.check_mx_shared_exponent(sol_bf.mx_shared_exponent).passed

    def exact(blocks, emax_elem):
        out = []
        for row in blocks:
            a = max(abs(float(v)) for v in row) if not np.any(np.isnan(row)) else math.nan
            if not math.isfinite(a):
                out.append(math.nan)
            elif a == 0:
                out.append(-127.0)
            else:
                e = max(_exact_floor_log2(a) - emax_elem, -127)
                out.append(float(e) if e <= 127 else math.nan)
        return np.array(out)

    assert ex_bf.check_mx_shared_exponent(exact).passed


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e30, 1e30, allow_subnormal=True), min_size=1, max_size=8),
       st.sampled_from(sorted(ex_bf.EMAX_ELEM.values())))
def test_mx_shared_exponent_is_floor_log2_exactly(block, emax):
    e = float(sol_bf.mx_shared_exponent(np.array([block]), emax)[0])
    assert e == float(ex_bf._ref_mx(np.array([block]), emax)[0])
    a = max(abs(v) for v in block)
    if a == 0 or _exact_floor_log2(a) - emax < -127:
        assert e == -127
    else:  # amax / 2**e lands in the element format's top binade [2**emax, 2**(emax + 1))
        assert 2**emax <= Fraction(a) / Fraction(2) ** int(e) < 2 ** (emax + 1)


def test_mx_shared_exponent_diagnoses():
    c = ex_bf.check_mx_shared_exponent

    def rule(amax_of, exp_of, *, clamp=True, nan=True):
        def f(blocks, emax_elem):
            a = amax_of(blocks)
            with np.errstate(all="ignore"):
                e = exp_of(a) - emax_elem
            if clamp:
                e = np.where(e < -127, -127, e)
            if nan:
                e = np.where(np.isnan(a) | np.isinf(a) | (e > 127), np.nan, e)
            return e
        return f

    amax = lambda b: np.abs(b).max(axis=1)  # noqa: E731
    _rejects(c, rule(amax, lambda a: np.round(np.log2(a))), "rounded log2(amax)")
    _rejects(c, rule(amax, lambda a: np.ceil(np.log2(a))), "ceiling")
    _rejects(c, lambda b, em: rule(amax, lambda a: np.floor(np.log2(a)))(b, 0), "forgot emax_elem")
    _rejects(c, rule(lambda b: np.abs(b).mean(axis=1), lambda a: np.floor(np.log2(a))), "mean magnitude")
    _rejects(c, rule(lambda b: b.max(axis=1), lambda a: np.floor(np.log2(a))), "without np.abs")
    _rejects(c, rule(amax, lambda a: np.floor(np.log2(a)), clamp=False), "clamp at -127")
    _rejects(c, rule(amax, lambda a: np.floor(np.log2(a)), nan=False), "must give NaN")
    _rejects(c, lambda b, em: np.clip(np.floor(np.log2(np.abs(b).max(axis=1))) - em, -127, 127), "clipped the exponent")
    _rejects(c, lambda b, em: np.floor(np.log2(np.abs(b).max())) - em, "one exponent per block")


def _pack_packbits(codes):
    """np.packbits, little bit order: each code's 4 bits, least significant first, fill bytes from bit 0."""
    c = np.asarray(codes, dtype=np.uint8)
    bits = ((c[:, None] >> np.arange(4)) & 1).astype(np.uint8).ravel()
    return np.packbits(bits, bitorder="little")


def test_pack_nibbles_accepts_reference_packbits_and_a_python_loop():
    assert ex_bf.check_pack_nibbles(block_formats.pack_nibbles).passed
    assert ex_bf.check_pack_nibbles(_pack_packbits).passed

    def loop(codes):
        out = bytearray()
        for i in range(0, len(codes), 2):
            hi = int(codes[i + 1]) if i + 1 < len(codes) else 0
            out.append(int(codes[i]) + 16 * hi)
        return np.frombuffer(bytes(out), dtype=np.uint8)

    assert ex_bf.check_pack_nibbles(loop).passed


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 15), max_size=41))
def test_pack_nibbles_solution_equals_packbits_and_round_trips(codes):
    c = np.array(codes, dtype=np.int64)
    packed = sol_bf.pack_nibbles(c)
    assert packed.dtype == np.uint8 and packed.size == (len(codes) + 1) // 2
    np.testing.assert_array_equal(packed, _pack_packbits(c))
    np.testing.assert_array_equal(packed, block_formats.pack_nibbles(c))
    np.testing.assert_array_equal(block_formats.unpack_nibbles(packed, count=len(codes)), c)


def test_pack_nibbles_diagnoses():
    c = ex_bf.check_pack_nibbles

    def pairs(codes):
        codes = list(codes) + [0] * (len(codes) % 2)
        return codes[0::2], codes[1::2]

    def as_bytes(values):
        return np.array(values, dtype=np.int64).astype(np.uint8)

    _rejects(c, lambda codes: as_bytes([16 * a + b for a, b in zip(*pairs(codes))]), "high nibble")
    _rejects(c, lambda codes: (codes[0::2] | codes[1::2] << 4).astype(np.uint8), "did not pad an odd count")
    _rejects(c, lambda codes: as_bytes([int(codes[2 * i]) | int(codes[2 * i + 1]) << 4
                                        for i in range(len(codes) // 2)]), "dropped the last code")
    _rejects(c, lambda codes: as_bytes([10 * a + b for a, b in zip(*pairs(codes))]), "decimal")
    _rejects(c, lambda codes: as_bytes([a | b for a, b in zip(*pairs(codes))]), "without shifting")
    _rejects(c, lambda codes: np.array([a | b << 4 for a, b in zip(*pairs(codes))]), "dtype is int64",
             "np.uint8")


@pytest.mark.parametrize("check, fn", [
    (ex_onnx.check_quantize_linear, lambda x, s, z: x), (ex_conv.check_fold_batchnorm, lambda *a: (a[0], a[1])),
    (ex_conv.check_conv_output_size, lambda *a: 1.0), (ex_bf.check_mx_shared_exponent, lambda b, e: b),
    (ex_bf.check_pack_nibbles, lambda c: c)])
def test_a_wrong_answer_is_never_passed(check, fn):
    res = check(fn)
    assert not res.passed and res.diagnosis

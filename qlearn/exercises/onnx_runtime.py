"""Build it yourself, lesson 14: ONNX's ``QuantizeLinear``, bit for bit.

``quantize_linear(x, scale, zero_point)`` is checked against ONNX's own reference
implementation (``onnx.reference.ReferenceEvaluator`` running a one-node ``QuantizeLinear``
model, opset :data:`qlearn.hardware.onnx_export.OPSET`), written by the ONNX project, not here. The
operator's rule (ONNX operator spec): ``saturate(round_half_to_even(x / scale) + zero_point)``,
``x / scale`` computed in float32 (``x`` and ``scale`` are float32 tensors), the output type
and its range given by the zero point's type (uint8 ``[0, 255]`` or int8 ``[-128, 127]``).
``onnx`` is imported on first use, so ``import qlearn`` stays fast.

Examples
--------
>>> from qlearn.exercises.solutions import onnx_runtime as sol
>>> check_quantize_linear(sol.quantize_linear).passed
True
>>> def truncating(x, scale, zero_point):
...     info = np.iinfo(zero_point.dtype)
...     return np.clip((x / scale).astype(int) + zero_point, info.min, info.max).astype(zero_point.dtype)
>>> print(check_quantize_linear(truncating).diagnosis)  # doctest: +ELLIPSIS
You truncate toward zero...
"""
from __future__ import annotations

import numpy as np

from qlearn.exercises.checking import Case, CheckResult, Mistake, Task, as_float_array, same_numbers
from qlearn.exercises.solutions import onnx_runtime as _sol

SCAFFOLD_QUANTIZE_LINEAR = '''def quantize_linear(x, scale, zero_point):
    """ONNX QuantizeLinear: q = saturate(round(x / scale) + zero_point).

    x : float32 array (any shape); scale : np.float32 > 0; zero_point : np.uint8 or np.int8.
    x / scale is computed in float32, as ONNX does; round is half to even; saturate clips to
    the range of the zero point's dtype (uint8: 0..255, int8: -128..127). Return an array of
    x's shape with the zero point's dtype.
    """
    ...
'''


def _reference(x, scale, zero_point):
    """QuantizeLinear run by ONNX's reference evaluator on a one-node model (opset 21)."""
    from onnx import TensorProto, helper, numpy_helper
    from onnx.reference import ReferenceEvaluator

    from qlearn.hardware.onnx_export import IR_VERSION, OPSET

    x = np.asarray(x, dtype=np.float32)
    zp = np.asarray(zero_point)
    elem = helper.np_dtype_to_tensor_dtype(zp.dtype)
    node = helper.make_node("QuantizeLinear", ["x", "scale", "zero_point"], ["q"])
    graph = helper.make_graph(
        [node], "quantize_linear", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
        [helper.make_tensor_value_info("q", elem, list(x.shape))],
        [numpy_helper.from_array(np.asarray(scale, dtype=np.float32), "scale"),
         numpy_helper.from_array(zp, "zero_point")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION)
    return ReferenceEvaluator(model).run(None, {"x": x})[0]


def _range(dtype):
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def _finish(q, zero_point):
    """Add the zero point to the integer array ``q`` (int64) and saturate to its dtype's range."""
    lo, hi = _range(zero_point.dtype)
    q = np.asarray(q, dtype=np.int64) + int(zero_point)
    return np.clip(q, lo, hi).astype(zero_point.dtype)


def _wrap(q, zero_point):
    """Integers cast to the zero point's dtype without saturating: they wrap modulo 256."""
    return np.asarray(q, dtype=np.int64).astype(zero_point.dtype)


def _ties_up(x, s, z):
    return _finish(np.floor(x / s + np.float32(0.5)), z)


def _ties_away(x, s, z):
    v = x / s
    return _finish(np.sign(v) * np.floor(np.abs(v) + np.float32(0.5)), z)


def _trunc(x, s, z):
    return _finish(np.trunc(x / s), z)


def _floor(x, s, z):
    return _finish(np.floor(x / s), z)


def _no_saturate_wrap(x, s, z):
    return _wrap(np.rint(x / s).astype(np.int64) + int(z), z)


def _no_saturate(x, s, z):
    return np.rint(x / s).astype(np.int64) + int(z)


def _clip_first(x, s, z):
    lo, hi = _range(z.dtype)
    return np.clip(np.rint(x / s), lo, hi).astype(np.int64) + int(z)


def _clip_first_wrap(x, s, z):
    return _wrap(_clip_first(x, s, z), z)


def _times_scale(x, s, z):
    return _finish(np.rint(x * s), z)


def _always_uint8(x, s, z):
    return np.clip(np.rint(x / s).astype(np.int64) + int(z), 0, 255)


def _always_int8(x, s, z):
    return np.clip(np.rint(x / s).astype(np.int64) + int(z), -128, 127)


def _narrow_int8(x, s, z):
    lo, hi = _range(z.dtype)
    q = np.rint(x / s).astype(np.int64) + int(z)
    return np.clip(q, max(lo, -127), hi)


def _float64(x, s, z):
    return _finish(np.rint(np.asarray(x, dtype=np.float64) / np.float64(s)), z)


_HALF_EVEN = "ONNX rounds half to even (np.rint or np.round): 2.5 -> 2, 3.5 -> 4, -2.5 -> -2."
_SATURATE = ("ONNX saturates: clip to the zero point's range (uint8 0..255, int8 -128..127) after adding "
             "the zero point, then cast to its dtype.")

MISTAKES = [
    Mistake(_ties_up, "Ties go up in yours (floor(x / scale + 0.5)): -4.5 -> -4 is right by luck, 2.5 -> 3 is not. "
                      + _HALF_EVEN),
    Mistake(_ties_away, "Ties go away from zero in yours (2.5 -> 3, -2.5 -> -3), as C's round() does. " + _HALF_EVEN),
    Mistake(_trunc, "You truncate toward zero (astype(int) or np.trunc drops the fraction: 1.9 -> 1). QuantizeLinear "
                    "rounds to the nearest integer, ties to even: np.rint(x / scale)."),
    Mistake(_floor, "You round down (np.floor: -0.2 -> -1, 1.9 -> 1). QuantizeLinear rounds to the nearest integer, "
                    "ties to even: np.rint(x / scale)."),
    Mistake(_no_saturate_wrap, "Out-of-range codes wrap around in yours (casting 256 to uint8 gives 0, 128 to int8 "
                               "gives -128): the cast does not saturate. " + _SATURATE),
    Mistake(_no_saturate, "You never saturate: codes beyond the dtype's range come out as they are. " + _SATURATE),
    Mistake(_clip_first, "You clip before adding the zero point, so q can leave the range (clip to 0..255, then + "
                         "128 gives up to 383). Add the zero point first, then clip to the dtype's range."),
    Mistake(_clip_first_wrap, "You clip before adding the zero point, and the cast then wraps what left the range. "
                              "Add the zero point first, then clip to the dtype's range, then cast."),
    Mistake(_times_scale, "You multiplied by the scale: the scale is the size of one step, so the code is x / scale "
                          "(x = scale * (q - zero_point) backwards)."),
    Mistake(_always_uint8, "You always clip to 0..255: the zero point's dtype decides the range, np.int8 gives "
                           "-128..127 (np.iinfo(zero_point.dtype).min and .max)."),
    Mistake(_always_int8, "You always clip to -128..127: the zero point's dtype decides the range, np.uint8 gives "
                          "0..255 (np.iinfo(zero_point.dtype).min and .max)."),
    Mistake(_narrow_int8, "You clip int8 to -127..127 (narrow range): QuantizeLinear's int8 range is the full "
                          "-128..127 (np.iinfo(np.int8)); a narrow range is a convention for weights, not the "
                          "operator's rule."),
    Mistake(_float64, "You divided in float64: ONNX divides the float32 tensors in float32, where 0.25 / 0.02 is "
                      "exactly 12.5 (a tie, to even: 12); in float64 it is 12.50000028 (-> 13). Compute x / scale "
                      "with the float32 values as given, without converting them."),
]


def _explain(case, expected, got):
    e = np.asarray(expected)
    g = as_float_array(got)
    if g is None or g.shape != e.shape:
        return (f"Your answer has shape {np.shape(got) if g is not None else 'none'}; QuantizeLinear returns one code "
                f"per element of x, shape {e.shape}.")
    if same_numbers(e, g, rtol=0, atol=0):
        dtype = getattr(got, "dtype", type(got).__name__)
        return (f"Your codes are right, but their dtype is {dtype}: QuantizeLinear returns the zero point's dtype "
                f"({e.dtype}); end with .astype(zero_point.dtype).")
    return None


def _compare(expected, got):
    if not same_numbers(expected, got, rtol=0, atol=0):
        return False
    return getattr(got, "dtype", None) == np.asarray(expected).dtype


def _f32(*v):
    return np.array(v, dtype=np.float32)


def _cases():
    rng = np.random.default_rng(14)
    ties = _f32(-2.25, -1.75, -1.25, -0.75, -0.25, 0.25, 0.75, 1.25, 1.75, 2.25)
    cases = [
        Case("ties: x / scale = k + 0.5, int8, zero point 0", (ties, np.float32(0.5), np.int8(0))),
        Case("ties, uint8, zero point 128", (ties, np.float32(0.5), np.uint8(128))),
        Case("between the ties, int8, zero point -3", (_f32(-1.9, -1.1, -0.4, -0.1, 0.1, 0.4, 1.1, 1.9),
                                                        np.float32(1.0), np.int8(-3))),
        Case("saturation at both ends, uint8, zero point 128",
             (_f32(-100.0, -64.5, -64.0, 0.0, 63.5, 64.0, 100.0), np.float32(0.5), np.uint8(128))),
        Case("saturation at both ends, int8, zero point -3",
             (_f32(-40.0, -31.5, -31.25, 0.0, 32.5, 32.75, 40.0), np.float32(0.25), np.int8(-3))),
        Case("uint8, zero point 0: negative x saturates at 0", (_f32(-1.0, -0.01, 0.0, 0.3, 1.0, 3.0),
                                                                np.float32(0.01), np.uint8(0))),
        Case("float32 arithmetic: 0.25 / 0.02 is exactly 12.5 in float32", (_f32(0.05, 0.25, 0.35),
                                                                           np.float32(0.02), np.uint8(0)),
             note="x and scale are float32: divide them as they are, in float32, as ONNX does."),
    ]
    for dtype, label in ((np.int8, "int8"), (np.uint8, "uint8")):
        lo, hi = _range(dtype)
        z = dtype(rng.integers(lo + 20, hi - 19))
        s = np.float32(rng.uniform(0.005, 0.05))
        x = (rng.normal(0.0, 0.6, (4, 6))).astype(np.float32)
        cases.append(Case(f"seeded random {label}, x of shape (4, 6)", (x, s, z)))
    return cases


class _OnnxTask(Task):
    """A task whose reference is ONNX's, not qlearn's: the verdict says so."""

    def _result(self, passed, diagnosis, *args, **kwargs):
        diagnosis = diagnosis.replace("agrees with qlearn's", "agrees with ONNX's reference implementation")
        return super()._result(passed, diagnosis.replace("from qlearn's", "from ONNX's"), *args, **kwargs)


TASK = _OnnxTask("quantize_linear", lesson="14_onnx_runtime.ipynb", title="ONNX QuantizeLinear, bit for bit",
            reference=_reference, cases=_cases(), mistakes=MISTAKES, compare=_compare, explain=_explain,
            arg_names=["x", "scale", "zero_point"], scaffold=SCAFFOLD_QUANTIZE_LINEAR, solution=_sol.quantize_linear,
            intro=("Write ONNX's `QuantizeLinear`, the input quantizer every QDQ graph of this lesson starts "
                   "with, so that your codes are ONNX's, bit for bit."),
            reference_name="ONNX's own reference implementation of `QuantizeLinear` "
                           "(`onnx.reference.ReferenceEvaluator`)")


def check_quantize_linear(learner_fn) -> CheckResult:
    """Check a learner's ``quantize_linear(x, scale, zero_point)`` against ONNX's reference ``QuantizeLinear``."""
    return TASK.check(learner_fn)

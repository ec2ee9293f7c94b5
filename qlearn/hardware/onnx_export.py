"""The course network in ONNX and ONNX Runtime: float, QDQ and integer graphs, ORT's quantizer, speed.

Introduced in lesson ``14_onnx_runtime``. The graphs are written with the ``onnx`` helper
API (no training framework needed) and run by ONNX Runtime (ORT) on the CPU. ``onnx`` and
``onnxruntime`` are imported on first use, inside the functions, so ``import qlearn`` stays
fast and numpy-only.

Three exports of the course's :class:`qlearn.networks.nn.MLP` (the convolutional network of the
course's network issue does not exist yet, so only the MLP is exported):

:func:`float_graph`
    ``Gemm`` (``X W^T + b``) and ``Relu`` in float32: the model as a framework would export it.
:func:`qdq_graph`
    The same ``Gemm``/``Relu`` with ``QuantizeLinear``/``DequantizeLinear`` pairs around every
    activation and int8/int32 initializers for weights and biases, using qlearn's own scales
    and zero points (an :class:`qlearn.hardware.intops.IntegerMLP`). This is the form ORT's own
    quantizer writes; ORT's graph optimizer may fuse ``DQ -> Gemm -> Q`` into an integer kernel.
:func:`qlinear_graph`
    One fused ORT int8 kernel per layer: ``QLinearConv`` with a 1x1 kernel (a dense layer;
    ``QLinearMatMul`` would do the same but has no bias input). The kernel requantizes
    with ORT's own rule.
:func:`integer_graph`
    Integer operators only up to the rescale: ``MatMulInteger`` (int8 x int8 -> int32, zero
    points applied by the kernel), ``Add`` of the int32 bias, then ORT's requantization rule
    written out: ``Cast`` to float32, ``Mul`` by the float32 multiplier, (``Relu``), and
    ``QuantizeLinear`` with scale 1 (round half to even, saturate, add the zero point).

The rules that decide whether ORT's int8 codes equal qlearn's integer engine (lesson 11):

- **Accumulators.** ``MatMulInteger`` sums int8 x int8 products exactly in int32, as
  :func:`qlearn.hardware.intops.quantized_linear` does: equal bit for bit. (One exception is a property
  of the CPU, not of ONNX: x86 CPUs without VNNI run ORT's *uint8 x int8* kernel with
  ``VPMADDUBSW``, which saturates the sum of two adjacent products to int16. The graphs here
  use int8 x int8, which this does not affect; ORT's dynamic mode uses uint8 activations.)
- **Input quantizer.** ``QuantizeLinear`` computes ``x / scale`` in float32 with the scale
  rounded to float32, then rounds half to even and saturates (ONNX operator spec; ORT's MLAS
  ``MlasQuantizeLinear``). :func:`qlearn.ranges.affine.quantize` divides in float64. Where
  ``x / scale`` is a tie in float64 the float32 quotient can fall on either side of it
  (:func:`ort_quantize_linear`).
- **Requantization.** ORT's ``QLinearMatMul``/``QLinearConv`` compute the multiplier
  ``M = s_x s_w / s_y`` in float32 (:func:`ort_multiplier`) and requantize with
  ``round_half_even(float32(acc) * M) + z_y``, saturated (MLAS ``MlasRequantizeOutput``):
  one rounding of a float32 product (:func:`ort_requantize`). qlearn follows TFLite: a Q31
  integer multiplier and two integer roundings (ties up, then ties away from zero). The two
  agree except where ``acc * M`` lies within about ``2**(shift - 1)`` codes of a half
  (:func:`compare_with_integer_engine` finds and classifies every such output).

References: ONNX operator specs (QuantizeLinear, DequantizeLinear, MatMulInteger,
QLinearMatMul); ONNX Runtime ``core/mlas/lib/quantize.cpp`` and
``core/providers/cpu/quantization/quantize_linear_matmul.cc``; ONNX Runtime documentation,
"Quantize ONNX models" (QDQ format, calibrators, dynamic quantization, the U8S8 saturation
note); Jacob et al., CVPR 2018.
"""
from __future__ import annotations

import contextlib
import io
import logging
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from qlearn._validate import as_finite_array, check_int

#: ONNX opset and IR version of the exported graphs (ORT 1.31 reads IR <= 13; 10 is ONNX 1.16's).
OPSET = 21
IR_VERSION = 10
#: Calibration methods of ORT's ``quantize_static`` compared in lesson 14.
ORT_CALIBRATIONS = ("minmax", "percentile", "entropy")
#: ORT's default percentile for its Percentile calibrator.
ORT_PERCENTILE = 99.999
INPUT_NAME = "X"
INT8_MIN, INT8_MAX = -128, 127


# ---------------------------------------------------------------------------------------------
# lazy imports and argument checks
# ---------------------------------------------------------------------------------------------
def _onnx():
    try:
        import onnx
    except ImportError as exc:  # pragma: no cover - onnx is a declared dependency
        raise ImportError("qlearn.hardware.onnx_export needs the onnx package: pip install onnx onnxruntime") from exc
    return onnx


def _ort():
    try:
        import onnxruntime
    except ImportError as exc:  # pragma: no cover - onnxruntime is a declared dependency
        raise ImportError("qlearn.hardware.onnx_export needs onnxruntime: pip install onnxruntime") from exc
    return onnxruntime


def _check_mlp(model):
    from qlearn.networks.nn import MLP, Dense
    if not isinstance(model, MLP):
        raise TypeError(f"model must be a qlearn.networks.nn.MLP (Dense layers with ReLU between them), got "
                        f"{type(model).__name__}: no ONNX export for it")
    for i, layer in enumerate(model.layers):
        if type(layer) is not Dense:
            raise TypeError(f"model.layers[{i}] is a {type(layer).__name__}: "
                            "only qlearn.networks.nn.Dense layers are exported")
    return model


def _check_integer_mlp(imlp):
    from qlearn.hardware.intops import IntegerLayer, IntegerMLP
    if not isinstance(imlp, IntegerMLP):
        raise TypeError(f"imlp must be a qlearn.hardware.intops.IntegerMLP (from qlearn.hardware.intops.integer_mlp), "
                        f"got {type(imlp).__name__}")
    if not imlp.layers:
        raise ValueError("imlp has no layers")
    for i, layer in enumerate(imlp.layers):
        if type(layer) is not IntegerLayer:
            raise TypeError(f"imlp.layers[{i}] is a {type(layer).__name__}: only qlearn.hardware.intops.IntegerLayer "
                            "(a dense layer) is exported")
        for name, qp in (("x_qp", layer.x_qp), ("y_qp", layer.y_qp)):
            if (qp.qmin, qp.qmax) != (INT8_MIN, INT8_MAX):
                raise ValueError(f"imlp.layers[{i}].{name} must describe int8 codes [-128, 127] for ONNX int8 "
                                 f"tensors, got [{qp.qmin}, {qp.qmax}]")
        if layer.W_q.min() < INT8_MIN or layer.W_q.max() > INT8_MAX:
            raise ValueError(f"imlp.layers[{i}].W_q must hold int8 codes in [-128, 127]")
    for i in range(len(imlp.layers) - 1):
        a, b = imlp.layers[i].y_qp, imlp.layers[i + 1].x_qp
        if a.scale != b.scale or a.zero_point != b.zero_point:
            raise ValueError(f"imlp.layers[{i}].y_qp and imlp.layers[{i + 1}].x_qp differ: the codes one layer "
                             "writes must be the codes the next reads")
    return imlp


def _check_X(X, n_in: int, name: str = "X") -> np.ndarray:
    X = as_finite_array(X, name, allow_empty=False)
    if X.ndim != 2 or X.shape[1] != n_in:
        raise ValueError(f"{name} must have shape (batch, {n_in}), got {X.shape}")
    return X


def _check_calib(calib_data, n_in: int) -> np.ndarray:
    if calib_data is None:
        raise ValueError("calib_data is required: static quantization needs calibration inputs "
                         "(e.g. qlearn.networks.data.load_digits().X_calib)")
    C = np.asarray(calib_data)
    if C.size == 0:
        raise ValueError(f"calib_data is empty: give at least one row of shape ({n_in},)")
    return _check_X(C, n_in, "calib_data")


def _model_proto(nodes, inputs, outputs, initializers, name):
    onnx = _onnx()
    from onnx import helper
    graph = helper.make_graph(nodes, name, inputs, outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION,
                              producer_name="qlearn")
    onnx.checker.check_model(model, full_check=True)
    return model


class _Builder:
    """Collects nodes and initializers with unique names."""

    def __init__(self):
        from onnx import helper, numpy_helper
        self.helper, self.nh = helper, numpy_helper
        self.nodes, self.inits = [], []

    def const(self, name, arr):
        self.inits.append(self.nh.from_array(np.asarray(arr), name))
        return name

    def node(self, op, inputs, output, **attrs):
        self.nodes.append(self.helper.make_node(op, list(inputs), [output], name=output + "_" + op, **attrs))
        return output


def _tensor(name, elem, shape):
    from onnx import helper
    return helper.make_tensor_value_info(name, elem, shape)


# ---------------------------------------------------------------------------------------------
# the three graphs
# ---------------------------------------------------------------------------------------------
def layer_input_names(n_layers: int) -> list[str]:
    """Names of each layer's input tensor in :func:`float_graph`: ``X``, ``relu0``, ``relu1``, ...

    ORT's quantizer names its scales after them (``X_scale``, ``relu0_scale``, ...).

    Examples
    --------
    >>> layer_input_names(3)
    ['X', 'relu0', 'relu1']
    """
    n = check_int(n_layers, "n_layers", 1, 1 << 16)
    return [INPUT_NAME] + [f"relu{i}" for i in range(n - 1)]


def float_graph(model):
    """The float32 ONNX graph of a :class:`qlearn.networks.nn.MLP`: ``Gemm`` and ``Relu``, input ``X``, output
    ``logits``.

    Introduced in lesson ``14_onnx_runtime``.

    Parameters
    ----------
    model : qlearn.networks.nn.MLP

    Returns
    -------
    onnx.ModelProto
        Checked with ``onnx.checker`` (full check). Weights are stored ``(out, in)`` with
        ``transB=1``, as qlearn stores them.

    Examples
    --------
    >>> from qlearn.networks import nn
    >>> g = float_graph(nn.pretrained())
    >>> [n.op_type for n in g.graph.node]
    ['Gemm', 'Relu', 'Gemm', 'Relu', 'Gemm']
    """
    from onnx import TensorProto
    model = _check_mlp(model)
    b = _Builder()
    names = layer_input_names(len(model.layers))
    h = INPUT_NAME
    last = len(model.layers) - 1
    for i, layer in enumerate(model.layers):
        W = b.const(f"W{i}", layer.W.astype(np.float32))
        bias = b.const(f"b{i}", layer.b.astype(np.float32))
        h = b.node("Gemm", [h, W, bias], "logits" if i == last else f"gemm{i}", transB=1)
        if i < last:
            h = b.node("Relu", [h], names[i + 1])
    return _model_proto(b.nodes, [_tensor(INPUT_NAME, TensorProto.FLOAT, [None, model.sizes[0]])],
                        [_tensor("logits", TensorProto.FLOAT, [None, model.sizes[-1]])], b.inits, "qlearn_mlp_float")


def ort_multiplier(x_scale, w_scale, y_scale) -> np.ndarray:
    """The requantization multiplier as ORT's QLinearMatMul/QLinearConv compute it: ``(s_x * s_w) / s_y`` in float32.

    Introduced in lesson ``14_onnx_runtime``. Each scale is a float32 tensor in the graph, and
    C++ evaluates ``a_scale * b_scale / y_scale`` left to right in float32.

    Examples
    --------
    >>> m = ort_multiplier(1 / 255, 0.0068, 0.0169)
    >>> m.dtype, bool(abs(float(m) - (1 / 255) * 0.0068 / 0.0169) < 1e-9)
    (dtype('float32'), True)
    """
    sx = np.float32(as_finite_array(x_scale, "x_scale"))
    sw = as_finite_array(w_scale, "w_scale").astype(np.float32)
    sy = np.float32(as_finite_array(y_scale, "y_scale"))
    if sx <= 0 or sy <= 0 or np.any(sw <= 0):
        raise ValueError("x_scale, w_scale and y_scale must be > 0")
    return (sx * sw) / sy


def _layer_multiplier(layer):
    sw = np.asarray(layer.w_qp.scale, dtype=np.float64)
    return ort_multiplier(layer.x_qp.scale, sw, layer.y_qp.scale)


def integer_graph(imlp, *, input: str = "codes"):
    """The integer ONNX graph of an :class:`qlearn.hardware.intops.IntegerMLP` (the MatMulInteger form).

    Introduced in lesson ``14_onnx_runtime``.

    Parameters
    ----------
    imlp : qlearn.hardware.intops.IntegerMLP
        From :func:`qlearn.hardware.intops.integer_mlp`: its weight codes, int32 bias codes, scales
        and zero points are written into the graph unchanged.
    input : {'codes', 'float'}
        ``'codes'``: the graph reads the int8 input codes (qlearn's ``quantize_input``), so
        everything it computes is integer arithmetic plus the requantization rule.
        ``'float'``: it reads float32 pixels and quantizes them with ``QuantizeLinear``.

    Returns
    -------
    onnx.ModelProto
        Outputs ``logits_q`` (int8 codes of the logits), and for every layer ``i`` its int32
        accumulators with bias ``acc{i}`` and its int8 output codes ``q{i}``.

    Notes
    -----
    Per layer: ``MatMulInteger(q, W_q^T, z_x, z_w) -> Add(b_q) -> Cast(float) -> Mul(M)
    -> [Relu] -> QuantizeLinear(scale=1, zero_point=z_y)`` with ``M`` from
    :func:`ort_multiplier`: exactly ORT's QLinearMatMul rule, ``round_half_even(float32(acc)
    * M) + z_y`` saturated to int8 (see :func:`ort_requantize`). The ``Relu`` before the
    rounding clamps at ``z_y``, the fused ReLU of lesson 11.

    Examples
    --------
    >>> from qlearn.networks import nn, data
    >>> from qlearn.hardware import intops
    >>> imlp = intops.integer_mlp(nn.pretrained(), data.load_digits().X_calib)
    >>> [n.op_type for n in integer_graph(imlp).graph.node][:6]
    ['MatMulInteger', 'Add', 'Cast', 'Mul', 'Relu', 'QuantizeLinear']
    """
    from onnx import TensorProto
    imlp = _check_integer_mlp(imlp)
    if input not in ("codes", "float"):
        raise ValueError(f"input must be 'codes' or 'float', got {input!r}")
    b = _Builder()
    first = imlp.layers[0]
    n_in = first.W_q.shape[1]
    if input == "float":
        h = b.node("QuantizeLinear", [INPUT_NAME, b.const("x_scale", np.float32(first.x_qp.scale)),
                                      b.const("x_zero_point", np.int8(first.x_qp.zero_point))], "x_q")
        graph_input = _tensor(INPUT_NAME, TensorProto.FLOAT, [None, n_in])
    else:
        h = INPUT_NAME
        graph_input = _tensor(INPUT_NAME, TensorProto.INT8, [None, n_in])
    one = b.const("one", np.float32(1.0))
    outputs = []
    last = len(imlp.layers) - 1
    for i, layer in enumerate(imlp.layers):
        zw = np.asarray(layer.w_qp.zero_point).astype(np.int8)
        mm = b.node("MatMulInteger", [h, b.const(f"W{i}_q", layer.W_q.T.astype(np.int8)),
                                      b.const(f"x{i}_zero_point", np.int8(layer.x_qp.zero_point)),
                                      b.const(f"W{i}_zero_point", zw)], f"mm{i}")
        acc = b.node("Add", [mm, b.const(f"b{i}_q", layer.b_q.astype(np.int32))], f"acc{i}")
        v = b.node("Cast", [acc], f"accf{i}", to=TensorProto.FLOAT)
        v = b.node("Mul", [v, b.const(f"M{i}", _layer_multiplier(layer))], f"scaled{i}")
        if layer.relu:
            v = b.node("Relu", [v], f"relu{i}")
        h = b.node("QuantizeLinear", [v, one, b.const(f"y{i}_zero_point", np.int8(layer.y_qp.zero_point))],
                   "logits_q" if i == last else f"q{i}")
        n_out = layer.W_q.shape[0]
        outputs += [_tensor(f"acc{i}", TensorProto.INT32, [None, n_out]),
                    _tensor(h, TensorProto.INT8, [None, n_out])]
    return _model_proto(b.nodes, [graph_input], outputs, b.inits, "qlearn_mlp_integer")


def qlinear_graph(imlp, *, input: str = "codes"):
    """The QLinear ONNX graph of an :class:`qlearn.hardware.intops.IntegerMLP`: ORT's fused int8 kernel per layer.

    Introduced in lesson ``14_onnx_runtime``. Each dense layer is a ``QLinearConv`` with a
    1x1 kernel on a ``(batch, in, 1, 1)`` tensor: ``QLinearMatMul`` has no bias input,
    ``QLinearConv`` has an int32 one, and a 1x1 convolution is a dense layer. The kernel does
    the integer matmul, adds the bias and requantizes itself (ORT: the multiplier
    :func:`ort_multiplier`, the rule :func:`ort_requantize`).

    Parameters
    ----------
    imlp : qlearn.hardware.intops.IntegerMLP
        A fused ReLU is expressed by saturation, so a ReLU layer's output zero point must
        be its ``qmin`` (true for min/max calibration of ReLU outputs, whose minimum is 0).
    input : {'codes', 'float'}
        As in :func:`integer_graph`.

    Returns
    -------
    onnx.ModelProto
        Output ``logits_q``: the int8 logit codes.

    Examples
    --------
    >>> from qlearn.networks import nn, data
    >>> from qlearn.hardware import intops
    >>> imlp = intops.integer_mlp(nn.pretrained(), data.load_digits().X_calib)
    >>> [n.op_type for n in qlinear_graph(imlp).graph.node]
    ['Reshape', 'QLinearConv', 'QLinearConv', 'QLinearConv', 'Reshape']
    """
    from onnx import TensorProto
    imlp = _check_integer_mlp(imlp)
    if input not in ("codes", "float"):
        raise ValueError(f"input must be 'codes' or 'float', got {input!r}")
    for i, layer in enumerate(imlp.layers):
        if layer.relu and layer.y_qp.zero_point != layer.y_qp.qmin:
            raise ValueError(f"imlp.layers[{i}] has a fused ReLU but y zero point {layer.y_qp.zero_point} != qmin "
                             f"{layer.y_qp.qmin}: QLinearConv can only clamp at qmin")
    b = _Builder()
    first = imlp.layers[0]
    n_in, n_out = first.W_q.shape[1], imlp.layers[-1].W_q.shape[0]
    if input == "float":
        h = b.node("QuantizeLinear", [INPUT_NAME, b.const("x_scale", np.float32(first.x_qp.scale)),
                                      b.const("x_zero_point", np.int8(first.x_qp.zero_point))], "x_q")
        graph_input = _tensor(INPUT_NAME, TensorProto.FLOAT, [None, n_in])
    else:
        h = INPUT_NAME
        graph_input = _tensor(INPUT_NAME, TensorProto.INT8, [None, n_in])
    h = b.node("Reshape", [h, b.const("shape_nchw", np.array([0, -1, 1, 1], np.int64))], "x_nchw")
    for i, layer in enumerate(imlp.layers):
        sw = np.asarray(layer.w_qp.scale, dtype=np.float32)
        zw = np.asarray(layer.w_qp.zero_point).astype(np.int8)
        h = b.node("QLinearConv", [h, b.const(f"x{i}_scale", np.float32(layer.x_qp.scale)),
                                   b.const(f"x{i}_zero_point", np.int8(layer.x_qp.zero_point)),
                                   b.const(f"W{i}_q", layer.W_q.astype(np.int8)[:, :, None, None]),
                                   b.const(f"W{i}_scale", sw), b.const(f"W{i}_zero_point", zw),
                                   b.const(f"y{i}_scale", np.float32(layer.y_qp.scale)),
                                   b.const(f"y{i}_zero_point", np.int8(layer.y_qp.zero_point)),
                                   b.const(f"b{i}_q", layer.b_q.astype(np.int32))], f"q{i}")
    b.node("Reshape", [h, b.const("shape_2d", np.array([0, -1], np.int64))], "logits_q")
    return _model_proto(b.nodes, [graph_input], [_tensor("logits_q", TensorProto.INT8, [None, n_out])], b.inits,
                        "qlearn_mlp_qlinear")


def qdq_graph(imlp):
    """The QDQ ONNX graph of an :class:`qlearn.hardware.intops.IntegerMLP`: float ops between
    QuantizeLinear/DequantizeLinear.

    Introduced in lesson ``14_onnx_runtime``. The form ORT's own quantizer writes: every
    activation passes ``QuantizeLinear -> DequantizeLinear`` with qlearn's scale and zero
    point, weights are int8 initializers behind a ``DequantizeLinear`` (per-tensor, or per
    output channel on axis 0), biases are int32 codes at scale ``s_x s_w``.

    Returns
    -------
    onnx.ModelProto
        Input ``X`` (float32); outputs ``logits_q`` (int8) and ``logits`` (float32).

    Notes
    -----
    Read literally (``GraphOptimizationLevel.ORT_DISABLE_ALL``) the graph computes in
    float32 on dequantized values: the sums are float sums, whose last bits depend on the
    summation order. With optimizations on, ORT rewrites ``DQ -> Gemm -> Q`` into integer
    kernels where its fusion rules allow (:func:`optimized_op_types` shows the result).

    Examples
    --------
    >>> from qlearn.networks import nn, data
    >>> from qlearn.hardware import intops
    >>> imlp = intops.integer_mlp(nn.pretrained(), data.load_digits().X_calib)
    >>> [n.op_type for n in qdq_graph(imlp).graph.node][:7]
    ['QuantizeLinear', 'DequantizeLinear', 'DequantizeLinear', 'DequantizeLinear', 'Gemm', 'Relu', 'QuantizeLinear']
    """
    from onnx import TensorProto
    imlp = _check_integer_mlp(imlp)
    b = _Builder()
    first = imlp.layers[0]
    xs = b.const("X_scale", np.float32(first.x_qp.scale))
    xz = b.const("X_zero_point", np.int8(first.x_qp.zero_point))
    h = b.node("QuantizeLinear", [INPUT_NAME, xs, xz], "X_q")
    h = b.node("DequantizeLinear", [h, xs, xz], "X_dq")
    last = len(imlp.layers) - 1
    for i, layer in enumerate(imlp.layers):
        sw = np.asarray(layer.w_qp.scale, dtype=np.float32)
        zw = np.asarray(layer.w_qp.zero_point).astype(np.int8)
        axis = {"axis": 0} if layer.per_channel else {}
        W = b.node("DequantizeLinear", [b.const(f"W{i}_q", layer.W_q.astype(np.int8)), b.const(f"W{i}_scale", sw),
                                        b.const(f"W{i}_zero_point", zw)], f"W{i}_dq", **axis)
        bs = (np.float32(layer.x_qp.scale) * sw).astype(np.float32)
        bias = b.node("DequantizeLinear", [b.const(f"b{i}_q", layer.b_q.astype(np.int32)), b.const(f"b{i}_scale", bs),
                                           b.const(f"b{i}_zero_point", np.zeros(bs.shape, np.int32))],
                      f"b{i}_dq", **axis)
        h = b.node("Gemm", [h, W, bias], f"gemm{i}", transB=1)
        if layer.relu:
            h = b.node("Relu", [h], f"relu{i}")
        ys = b.const(f"y{i}_scale", np.float32(layer.y_qp.scale))
        yz = b.const(f"y{i}_zero_point", np.int8(layer.y_qp.zero_point))
        q = b.node("QuantizeLinear", [h, ys, yz], "logits_q" if i == last else f"q{i}")
        h = b.node("DequantizeLinear", [q, ys, yz], "logits" if i == last else f"dq{i}")
    n_in, n_out = first.W_q.shape[1], imlp.layers[-1].W_q.shape[0]
    return _model_proto(b.nodes, [_tensor(INPUT_NAME, TensorProto.FLOAT, [None, n_in])],
                        [_tensor("logits_q", TensorProto.INT8, [None, n_out]),
                         _tensor("logits", TensorProto.FLOAT, [None, n_out])], b.inits, "qlearn_mlp_qdq")


# ---------------------------------------------------------------------------------------------
# running graphs
# ---------------------------------------------------------------------------------------------
def session(onnx_model, *, threads: int = 1, optimize: bool = True):
    """An ORT CPU ``InferenceSession`` for a ``ModelProto``, with settings that make runs repeatable.

    Introduced in lesson ``14_onnx_runtime``.

    Parameters
    ----------
    onnx_model : onnx.ModelProto
    threads : int in [1, 256]
        ``intra_op_num_threads``. 1 (the default) for exactness comparisons: one thread
        fixes the order of every float sum in ORT's float kernels.
    optimize : bool
        ``ORT_ENABLE_ALL`` (fusions, integer kernels for QDQ) or ``ORT_DISABLE_ALL`` (the
        graph as written).
    """
    ort = _ort()
    onnx = _onnx()
    if not isinstance(onnx_model, onnx.ModelProto):
        raise TypeError(f"onnx_model must be an onnx.ModelProto, got {type(onnx_model).__name__}")
    threads = check_int(threads, "threads", 1, 256)
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3
    so.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize
                                   else ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    return ort.InferenceSession(onnx_model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def run(model_or_session, X, *, outputs=None, threads: int = 1, optimize: bool = True) -> dict:
    """Run a graph (or a session from :func:`session`) on ``X``: ``{output name: array}``.

    ``X`` is cast to the graph input's type (float32, or int8 codes). Introduced in lesson
    ``14_onnx_runtime``.
    """
    ort = _ort()
    sess = model_or_session if isinstance(model_or_session, ort.InferenceSession) else session(
        model_or_session, threads=threads, optimize=optimize)
    inp = sess.get_inputs()[0]
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (batch, in), got shape {X.shape}")
    if inp.type == "tensor(int8)":
        if not np.issubdtype(X.dtype, np.integer) or X.min() < INT8_MIN or X.max() > INT8_MAX:
            raise ValueError("X must hold int8 codes in [-128, 127] for a graph whose input is int8")
        feed = X.astype(np.int8)
    else:
        feed = _check_X(X, X.shape[1]).astype(np.float32)
    names = [o.name for o in sess.get_outputs()] if outputs is None else list(outputs)
    return dict(zip(names, sess.run(names, {inp.name: feed}), strict=True))


def optimized_op_types(onnx_model) -> list[str]:
    """The operators ORT actually runs after its graph optimizer (``ORT_ENABLE_ALL``), in order.

    Introduced in lesson ``14_onnx_runtime``: which ``DQ -> op -> Q`` groups became integer
    kernels (``QGemm``, ``QLinearMatMul``...). The optimized model is written to a temporary
    directory and read back.
    """
    onnx, ort = _onnx(), _ort()
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "optimized.onnx")
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.log_severity_level = 3
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.optimized_model_filepath = path
        ort.InferenceSession(onnx_model.SerializeToString(), so, providers=["CPUExecutionProvider"])
        return [n.op_type for n in onnx.load(path).graph.node]


def matmul_integer_is_exact(*, signed_activations: bool = True, threads: int = 1) -> bool:
    """Whether this CPU's ORT ``MatMulInteger`` kernel sums worst-case int8 products exactly.

    Introduced in lesson ``14_onnx_runtime``. Runs ``MatMulInteger`` on activations at their
    extreme code (127... or 255 for uint8) times weights of 127 and -128, K = 64, and compares
    with the exact integer sums. With ``signed_activations=False`` (uint8 x int8, the U8S8
    kernel ORT's dynamic mode uses) x86 CPUs without VNNI use ``VPMADDUBSW``, which saturates
    each pair of products to int16 (``255 * 127 * 2 = 64770 > 32767``): the answer depends on
    the machine. int8 x int8 (the graphs of this module) is computed exactly.
    """
    from onnx import TensorProto
    K = 64
    if signed_activations:
        X = np.full((2, K), -128, dtype=np.int8)
        X[1] = 127
        elem, zp = TensorProto.INT8, np.int8(0)
    else:
        X = np.full((2, K), 255, dtype=np.uint8)
        X[1] = 200
        elem, zp = TensorProto.UINT8, np.uint8(0)
    W = np.full((K, 3), 127, dtype=np.int8)
    W[:, 1] = -128
    W[::2, 2] = -128
    b = _Builder()
    b.node("MatMulInteger", [INPUT_NAME, b.const("W", W), b.const("xz", zp), b.const("wz", np.int8(0))], "Y")
    g = _model_proto(b.nodes, [_tensor(INPUT_NAME, elem, [None, K])], [_tensor("Y", TensorProto.INT32, [None, 3])],
                     b.inits, "matmul_integer")
    got = session(g, threads=threads).run(None, {INPUT_NAME: X})[0].astype(np.int64)
    return bool(np.array_equal(got, X.astype(np.int64) @ W.astype(np.int64)))


# ---------------------------------------------------------------------------------------------
# ORT's rules in numpy
# ---------------------------------------------------------------------------------------------
def ort_quantize_linear(x, scale, zero_point: int, *, qmin: int = INT8_MIN, qmax: int = INT8_MAX) -> np.ndarray:
    """ONNX ``QuantizeLinear`` as ORT computes it: ``float32(x) / float32(scale)``, round half to even, saturate.

    Introduced in lesson ``14_onnx_runtime``.

    Examples
    --------
    >>> ort_quantize_linear([0.5, 0.25], 1 / 255, -128).tolist()     # 127.49999 in float32, not 127.5
    [-1, -64]
    >>> from qlearn.ranges import affine
    >>> affine.quantize(np.array([0.5]), affine.QParams(1 / 255, -128, -128, 127)).tolist()   # float64: a tie -> 128
    [0]
    """
    x32 = as_finite_array(x, "x").astype(np.float32)
    s = np.float32(as_finite_array(scale, "scale"))
    if s <= 0:
        raise ValueError(f"scale must be > 0, got {scale!r}")
    q = np.rint(x32 / s).astype(np.int64) + int(zero_point)
    return np.clip(q, qmin, qmax)


def ort_requantize(acc, multiplier, zero_point: int, *, qmin: int = INT8_MIN, qmax: int = INT8_MAX) -> np.ndarray:
    """ORT's requantization: ``clip(round_half_even(float32(acc) * float32(M)) + zero_point, qmin, qmax)``.

    Introduced in lesson ``14_onnx_runtime``. One rounding of a float32 product (MLAS
    ``MlasRequantizeOutput``), against qlearn's/TFLite's fixed-point
    :func:`qlearn.hardware.intops.requantize` (Q31 multiplier, two integer roundings). A fused ReLU is
    ``qmin = zero_point``.

    Examples
    --------
    >>> ort_requantize([250, 350, -250], 0.01, 0).tolist()     # 2.5 -> 2 and 3.5 -> 4: ties to even
    [2, 4, -2]
    >>> from qlearn.hardware import intops
    >>> intops.requantize([250, 350, -250], *intops.quantize_multiplier(0.01), 0).tolist()   # ties away
    [3, 4, -3]
    """
    from qlearn.hardware.intops import _as_int_array
    a = _as_int_array(acc, "acc")
    m = as_finite_array(multiplier, "multiplier").astype(np.float32)
    if np.any(m < 0):
        raise ValueError("multiplier must be >= 0")
    v = a.astype(np.float32) * m
    q = np.rint(v).astype(np.int64) + int(zero_point)
    return np.clip(q, qmin, qmax)


def ort_forward_codes(imlp, X) -> np.ndarray:
    """The int8 logits of :func:`integer_graph` (``input='float'``), computed in numpy with ORT's rules.

    Introduced in lesson ``14_onnx_runtime``: :func:`ort_quantize_linear` on the input, exact
    integer accumulators, :func:`ort_requantize` after every layer. Also the lean numpy int8
    path that :func:`speed_table` times.
    """
    imlp = _check_integer_mlp(imlp)
    first = imlp.layers[0]
    X = _check_X(X, first.W_q.shape[1])
    q = ort_quantize_linear(X, first.x_qp.scale, first.x_qp.zero_point)
    for layer in imlp.layers:
        q = ort_requantize(layer.accumulators(q), _layer_multiplier(layer), layer.y_qp.zero_point,
                           qmin=layer.qmin, qmax=layer.y_qp.qmax)
    return q


# ---------------------------------------------------------------------------------------------
# ORT vs qlearn's integer engine, output by output
# ---------------------------------------------------------------------------------------------
#: Causes :func:`compare_with_integer_engine` assigns to an output where ORT and qlearn differ.
CAUSES = ("fixed-point double rounding (qlearn/TFLite)", "float32 product (ORT)", "exact tie")


@dataclass(frozen=True, eq=False)
class LayerComparison:
    """One layer of :func:`compare_with_integer_engine`: ORT fed qlearn's input codes.

    Attributes
    ----------
    layer : int
    n_outputs : int
        ``batch * out`` codes compared.
    acc_equal : bool
        ORT's int32 accumulators (``MatMulInteger + Add``) equal qlearn's exact ones everywhere.
    rule_equal : bool
        ORT's codes equal :func:`ort_requantize` (numpy) everywhere.
    n_diff : int
        Codes where ORT and qlearn's fixed-point :func:`qlearn.hardware.intops.requantize` differ.
    max_abs_diff : int
    acc, real, qlearn_code, ort_code : arrays over the differing codes
        The accumulator, ``acc * M`` in float64 (plus ``z_y``, in codes), and both codes.
    half_distance : array
        ``| frac(acc * M) - 1/2 |`` in codes: how close to a tie each differing output lies.
    window : float
        The largest ``half_distance`` the two rules can disagree at: half a step of qlearn's
        intermediate (``2**(shift - 1)`` codes) plus the float32 errors of ORT's product and
        multiplier (``2 * |acc M|_max * 2**-24``).
    causes : dict
        How many differing codes each of :data:`CAUSES` explains: the rule whose code is not
        ``round_half_even(acc * M)`` in exact arithmetic (M the float64 multiplier).
    """

    layer: int
    n_outputs: int
    acc_equal: bool
    rule_equal: bool
    n_diff: int
    max_abs_diff: int
    acc: np.ndarray
    real: np.ndarray
    qlearn_code: np.ndarray
    ort_code: np.ndarray
    half_distance: np.ndarray
    window: float
    causes: dict

    @property
    def explained(self) -> bool:
        """Every difference is one code, inside :attr:`window` of a tie, and has a named cause."""
        return (self.max_abs_diff <= 1 and bool(np.all(self.half_distance <= self.window))
                and sum(self.causes.values()) == self.n_diff)


@dataclass(frozen=True, eq=False)
class BitExactReport:
    """Result of :func:`compare_with_integer_engine`.

    Attributes
    ----------
    layers : list of LayerComparison
        Layer by layer, each fed qlearn's own input codes (differences do not propagate).
    n_images : int
    input_codes_diff : int
        Input codes where ORT's ``QuantizeLinear`` (float32) and :func:`qlearn.ranges.affine.quantize`
        (float64) differ; ``input_pixels_diff`` holds the distinct pixel values where they do.
    input_rule_equal : bool
        ORT's input codes equal :func:`ort_quantize_linear` everywhere.
    end_to_end_equal : bool
        ORT's whole integer graph from float pixels equals :func:`ort_forward_codes` on every image.
    logits_diff_images : int
        Images whose int8 logits differ between ORT (from float pixels) and
        :meth:`qlearn.hardware.intops.IntegerMLP.forward_codes`.
    prediction_diff_images : int
        Images whose predicted class differs between the two.
    """

    layers: list
    n_images: int
    input_codes_diff: int
    input_pixels_diff: np.ndarray
    input_rule_equal: bool
    end_to_end_equal: bool
    logits_diff_images: int
    prediction_diff_images: int

    def table(self) -> list[dict]:
        """One row a layer: outputs compared, accumulators equal, differing codes and their causes."""
        return [dict(layer=c.layer, outputs=c.n_outputs, acc_equal=c.acc_equal, ort_rule_equal=c.rule_equal,
                     differ=c.n_diff, **c.causes) for c in self.layers]


def _classify(acc, M64, zp, q_qlearn, q_ort):
    causes = dict.fromkeys(CAUSES, 0)
    for a, m_code_q, m_code_o in zip(acc.tolist(), q_qlearn.tolist(), q_ort.tolist(), strict=True):
        r = Fraction(int(a)) * Fraction(float(M64))
        fl = r.numerator // r.denominator
        frac = r - fl
        if frac == Fraction(1, 2):
            causes[CAUSES[2]] += 1
            continue
        correct = fl + (1 if frac > Fraction(1, 2) else 0) + int(zp)
        if m_code_o == correct:
            causes[CAUSES[0]] += 1
        elif m_code_q == correct:
            causes[CAUSES[1]] += 1
    return causes


def compare_with_integer_engine(imlp, X, *, threads: int = 1) -> BitExactReport:
    """Run :func:`integer_graph` in ORT and compare every int8 code with qlearn's integer engine.

    Introduced in lesson ``14_onnx_runtime``.

    Parameters
    ----------
    imlp : qlearn.hardware.intops.IntegerMLP
    X : (batch, in) float array
        Float inputs (e.g. the digits test set).
    threads : int
        ORT threads (1 by default: see :func:`session`).

    Returns
    -------
    BitExactReport

    Notes
    -----
    Layer by layer, each layer's graph reads qlearn's own input codes, so a difference in one
    layer does not propagate to the next: ORT's accumulators are compared with
    :meth:`qlearn.hardware.intops.IntegerLayer.accumulators` and its codes with
    :meth:`qlearn.hardware.intops.IntegerLayer.__call__` (TFLite's fixed-point rule) and with
    :func:`ort_requantize` (ORT's rule in numpy). Then the whole graph from float pixels.
    """
    from qlearn.hardware.intops import IntegerMLP
    imlp = _check_integer_mlp(imlp)
    first = imlp.layers[0]
    X = _check_X(X, first.W_q.shape[1])
    q = imlp.quantize_input(X)
    rows = []
    for i, layer in enumerate(imlp.layers):
        out = run(integer_graph(IntegerMLP([layer])), q, threads=threads)
        acc_ort, q_ort = out["acc0"].astype(np.int64), out["logits_q"].astype(np.int64)
        acc = layer.accumulators(q)
        q_ql = layer(q)
        M32 = _layer_multiplier(layer)
        q_rule = ort_requantize(acc, M32, layer.y_qp.zero_point, qmin=layer.qmin, qmax=layer.y_qp.qmax)
        diff = q_ort != q_ql
        M64 = np.broadcast_to(np.asarray(layer.real_multiplier, dtype=np.float64), acc.shape)
        real = acc * M64
        frac = real - np.floor(real)
        right = -np.minimum(np.asarray(layer.shift), 0)
        step = np.broadcast_to(2.0 ** (-np.asarray(right, dtype=np.float64)), acc.shape)
        window = float((step / 2).max() + 2 * np.abs(real).max() * 2.0**-24)
        causes = dict.fromkeys(CAUSES, 0)
        if diff.any():
            m64 = M64[diff]
            for mv in np.unique(m64):
                sel = m64 == mv
                c = _classify(acc[diff][sel], mv, layer.y_qp.zero_point, q_ql[diff][sel], q_ort[diff][sel])
                for k in CAUSES:
                    causes[k] += c[k]
        rows.append(LayerComparison(
            layer=i, n_outputs=int(acc.size), acc_equal=bool(np.array_equal(acc_ort, acc)),
            rule_equal=bool(np.array_equal(q_ort, q_rule)), n_diff=int(diff.sum()),
            max_abs_diff=int(np.abs(q_ort - q_ql).max()), acc=acc[diff], real=real[diff] + layer.y_qp.zero_point,
            qlearn_code=q_ql[diff], ort_code=q_ort[diff], half_distance=np.abs(frac[diff] - 0.5), window=window,
            causes=causes))
        q = q_ql
    g = integer_graph(imlp, input="float")
    out = run(g, X, threads=threads)
    logits_ort = out["logits_q"].astype(np.int64)
    q_in_ort = ort_quantize_linear(X, first.x_qp.scale, first.x_qp.zero_point)
    q_in_ql = imlp.quantize_input(X)
    in_diff = q_in_ort != q_in_ql
    # ORT's own QuantizeLinear on the float pixels
    from onnx import TensorProto
    b = _Builder()
    b.node("QuantizeLinear", [INPUT_NAME, b.const("s", np.float32(first.x_qp.scale)),
                              b.const("z", np.int8(first.x_qp.zero_point))], "q")
    n_in = X.shape[1]
    qin_graph = _model_proto(b.nodes, [_tensor(INPUT_NAME, TensorProto.FLOAT, [None, n_in])],
                             [_tensor("q", TensorProto.INT8, [None, n_in])], b.inits, "quantize_linear")
    q_in_ort_run = run(qin_graph, X, threads=threads)["q"].astype(np.int64)
    logits_ql = imlp.forward_codes(X)
    return BitExactReport(
        layers=rows, n_images=int(X.shape[0]), input_codes_diff=int(in_diff.sum()),
        input_pixels_diff=np.unique(X[in_diff]), input_rule_equal=bool(np.array_equal(q_in_ort_run, q_in_ort)),
        end_to_end_equal=bool(np.array_equal(logits_ort, ort_forward_codes(imlp, X))),
        logits_diff_images=int(np.any(logits_ort != logits_ql, axis=1).sum()),
        prediction_diff_images=int((np.argmax(logits_ort, axis=1) != np.argmax(logits_ql, axis=1)).sum()))



# ---------------------------------------------------------------------------------------------
# ORT's own quantizer: quantize_static (QDQ) and quantize_dynamic
# ---------------------------------------------------------------------------------------------
def _calibration_method(method: str):
    from onnxruntime.quantization import CalibrationMethod
    if method not in ORT_CALIBRATIONS:
        raise ValueError(f"method must be one of {ORT_CALIBRATIONS}, got {method!r}")
    return {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
            "entropy": CalibrationMethod.Entropy}[method]


@contextlib.contextmanager
def _quiet_root_logger():
    """ORT's quantizer logs advice on the root logger (it would reach a lesson as stderr): quiet it
    for the call only, then restore the level the program had."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def ort_quantize_static(model, calib_data, *, method: str = "minmax", per_channel: bool = False,
                        batch_size: int = 64):
    """Quantize the float graph of ``model`` with ORT's ``quantize_static`` (QDQ format, int8 weights and activations).

    Introduced in lesson ``14_onnx_runtime``.

    Parameters
    ----------
    model : qlearn.networks.nn.MLP
    calib_data : (n, in) float array, n >= 1
        Calibration inputs, fed to ORT's calibrator in batches of ``batch_size``.
    method : {'minmax', 'percentile', 'entropy'}
        ORT's ``CalibrationMethod`` with its defaults (percentile 99.999 of ``|x|`` on a
        2048-bin histogram; entropy on a 128-bin histogram with 128 quantized bins).
    per_channel : bool
        One weight scale per output channel.
    batch_size : int >= 1

    Returns
    -------
    onnx.ModelProto
        ORT's QDQ model (``quantize_static`` writes files: they live in a temporary
        directory that is removed afterwards).
    """
    onnx = _onnx()
    _ort()
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    model = _check_mlp(model)
    C = _check_calib(calib_data, model.sizes[0]).astype(np.float32)
    calibrate_method = _calibration_method(method)
    batch_size = check_int(batch_size, "batch_size", 1, 1 << 20)

    class _Reader(CalibrationDataReader):
        def __init__(self):
            self._batches = iter([{INPUT_NAME: C[i:i + batch_size]} for i in range(0, C.shape[0], batch_size)])

        def get_next(self):
            return next(self._batches, None)

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "float.onnx", Path(tmp) / "int8.onnx"
        onnx.save(float_graph(model), str(src))
        with _quiet_root_logger(), contextlib.redirect_stdout(io.StringIO()):  # calibrators print progress
            quantize_static(str(src), str(dst), _Reader(), quant_format=QuantFormat.QDQ,
                            per_channel=per_channel, activation_type=QuantType.QInt8,
                            weight_type=QuantType.QInt8, calibrate_method=calibrate_method)
        return onnx.load(str(dst))


def ort_quantize_dynamic(model, *, per_channel: bool = False):
    """Quantize the float graph of ``model`` with ORT's ``quantize_dynamic``: int8 weights, activations per run.

    Introduced in lesson ``14_onnx_runtime``. This is the dynamic-range ("hybrid") mode:
    weights are int8 codes stored in the model; each activation tensor is quantized to
    uint8 at run time by ``DynamicQuantizeLinear`` with a scale from *that tensor's own*
    min and max (the whole batch), then ``MatMulInteger`` runs and the int32 result is
    scaled back to float32. No calibration data.
    """
    onnx = _onnx()
    _ort()
    from onnxruntime.quantization import QuantType, quantize_dynamic
    model = _check_mlp(model)
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "float.onnx", Path(tmp) / "dynamic.onnx"
        onnx.save(float_graph(model), str(src))
        with _quiet_root_logger():
            quantize_dynamic(str(src), str(dst), per_channel=per_channel, weight_type=QuantType.QInt8)
        return onnx.load(str(dst))


def ort_qparams(onnx_model, n_layers: int) -> dict:
    """The scales and zero points ORT's quantizer wrote into a QDQ model, as qlearn ``QParams``.

    Introduced in lesson ``14_onnx_runtime``.

    Returns
    -------
    dict
        ``activations``: one QParams per layer input (``X``, ``relu0``...) and one for
        ``logits``; ``weights``: one per layer (per channel on axis 0 if so quantized).
    """
    from onnx import numpy_helper

    from qlearn.ranges.affine import QParams
    n = check_int(n_layers, "n_layers", 1, 1 << 16)
    inits = {i.name: numpy_helper.to_array(i) for i in onnx_model.graph.initializer}

    def qp(name, axis=None):
        if f"{name}_scale" not in inits:
            raise ValueError(f"the model has no quantization parameters for {name!r} (is it ORT's QDQ model?)")
        s = inits[f"{name}_scale"].astype(np.float64)
        z = inits[f"{name}_zero_point"].astype(np.int64)
        if axis is None or s.size == 1:
            return QParams(float(s.reshape(-1)[0]), int(z.reshape(-1)[0]), INT8_MIN, INT8_MAX)
        return QParams(s, z, INT8_MIN, INT8_MAX, axis=axis)

    return {"activations": [qp(name) for name in layer_input_names(n)] + [qp("logits")],
            "weights": [qp(f"W{i}", axis=0) for i in range(n)]}


def qlearn_qparams(model, calib_data, *, method: str = "minmax", per_channel: bool = False) -> dict:
    """The same parameters as :func:`ort_qparams`, chosen by :mod:`qlearn.ranges.observers` on the same data.

    Introduced in lesson ``14_onnx_runtime``. ORT's conventions are followed where they are a
    convention, not an algorithm: activations are asymmetric int8 on the chosen range
    (widened to hold 0); weights symmetric narrow-range int8 (``max|W| / 127``). The range:

    - ``minmax``: :class:`~qlearn.ranges.observers.MinMaxObserver`.
    - ``percentile``: :class:`~qlearn.ranges.observers.PercentileObserver` on ``|x|`` at ORT's
      99.999 (2048 bins), clipped to the data's own range as ORT does.
    - ``entropy``: :class:`~qlearn.ranges.observers.EntropyObserver` (TensorRT's KL search,
      2048 bins, candidates from 128 bins up).
    """
    from qlearn.ranges import observers
    from qlearn.ranges.affine import compute_qparams, minmax_qparams
    model = _check_mlp(model)
    C = _check_calib(calib_data, model.sizes[0])
    if method not in ORT_CALIBRATIONS:
        raise ValueError(f"method must be one of {ORT_CALIBRATIONS}, got {method!r}")
    logits, acts = model.forward(C.astype(np.float32).astype(np.float64), return_activations=True)
    out = []
    for a in acts + [logits]:
        if method == "minmax":
            lo, hi = float(a.min()), float(a.max())
        elif method == "percentile":
            amax = observers.PercentileObserver(percentile=ORT_PERCENTILE, symmetric=True, bins=2048).fit(a).amax_
            lo, hi = max(-amax, float(a.min())), min(amax, float(a.max()))
        else:
            obs = observers.EntropyObserver(bits=8, symmetric=True, bins=2048).fit(a)
            lo, hi = max(float(obs.min_), float(a.min())), min(float(obs.max_), float(a.max()))
        out.append(compute_qparams(min(lo, 0.0), max(hi, 0.0), bits=8, symmetric=False, signed=True))
    weights = [minmax_qparams(layer.W, bits=8, symmetric=True, narrow_range=True, axis=0 if per_channel else None)
               for layer in model.layers]
    return {"activations": out, "weights": weights}


def accuracy_table(model, data) -> list[dict]:
    """Test accuracy of ORT's quantizer (each calibrator, per tensor and channel, dynamic) next to qlearn's PTQ.

    Introduced in lesson ``14_onnx_runtime``. qlearn's figure is
    :func:`qlearn.networks.ptq.quantize_model` (``full_integer``, 8 bits, same calibrator name: its
    own conventions, lesson 08; ``qlearn_mode`` names it), ``weight_only`` next to ORT's dynamic mode
    (qlearn has no dynamic mode: the closest is weight-only); for ``minmax`` also the integer
    engine of lesson 11.
    ORT runs with one thread; its figures come from float kernels in part, so they are
    computed, never pinned.
    """
    from qlearn.hardware import intops
    from qlearn.networks import ptq
    model = _check_mlp(model)
    if not hasattr(data, "X_calib"):
        raise TypeError("data must be a qlearn.networks.data.Digits (X_train, y_train, X_test, y_test, X_calib)")
    y = np.asarray(data.y_test)
    rows = []
    for method in ORT_CALIBRATIONS:
        for pc in (False, True):
            q = ort_quantize_static(model, data.X_calib, method=method, per_channel=pc)
            acc = float(np.mean(np.argmax(run(q, data.X_test)["logits"], axis=1) == y))
            ql = ptq.quantize_model(model, mode="full_integer", bits=8, per_channel=pc, calibration=method,
                                    calib_data=data.X_calib).accuracy(data.X_test, data.y_test)
            row = dict(mode=f"static {method}", per_channel=pc, ort=acc, qlearn_ptq=ql,
                       qlearn_mode=f"full_integer {method}")
            if method == "minmax":
                row["qlearn_integer"] = intops.integer_mlp(model, data.X_calib, per_channel=pc).accuracy(
                    data.X_test, data.y_test)
            rows.append(row)
    for pc in (False, True):
        q = ort_quantize_dynamic(model, per_channel=pc)
        acc = float(np.mean(np.argmax(run(q, data.X_test)["logits"], axis=1) == y))
        rows.append(dict(mode="dynamic", per_channel=pc, ort=acc,
                         qlearn_ptq=ptq.quantize_model(model, mode="weight_only", bits=8, per_channel=pc)
                         .accuracy(data.X_test, data.y_test), qlearn_mode="weight_only"))
    return rows


# ---------------------------------------------------------------------------------------------
# speed, measured on the machine that runs it
# ---------------------------------------------------------------------------------------------
#: Methods :func:`speed_table` times, in its column order.
SPEED_METHODS = ("ORT float32", "ORT int8 static (QDQ)", "ORT int8 dynamic", "numpy float32", "numpy int8")


class _NumpyFloat32:
    def __init__(self, model):
        self.layers = [(layer.W.T.astype(np.float32).copy(), layer.b.astype(np.float32)) for layer in model.layers]

    def __call__(self, X32):
        h = X32
        last = len(self.layers) - 1
        for i, (WT, b) in enumerate(self.layers):
            h = h @ WT + b
            if i < last:
                np.maximum(h, 0, out=h)
        return h


class _NumpyInt8:
    """int8 codes widened to int32 (numpy has no int8 GEMM), exact int32 accumulation, ORT's rescale rule."""

    def __init__(self, imlp):
        self.x_scale = np.float32(imlp.layers[0].x_qp.scale)
        self.x_zp = imlp.layers[0].x_qp.zero_point
        self.layers = []
        for layer in imlp.layers:
            zw = np.broadcast_to(np.asarray(layer.w_qp.zero_point), (layer.W_q.shape[0],))
            self.layers.append(((layer.W_q - zw[:, None]).T.astype(np.int32).copy(), layer.b_q.astype(np.int32),
                                _layer_multiplier(layer), layer.x_qp.zero_point, layer.y_qp.zero_point, layer.qmin,
                                layer.y_qp.qmax))
        last = imlp.layers[-1].y_qp
        self.y_scale, self.y_zp = np.float32(last.scale), last.zero_point

    def codes(self, X32):
        q = np.clip(np.rint(X32 / self.x_scale) + self.x_zp, INT8_MIN, INT8_MAX).astype(np.int32)
        for WT, b, M, zx, zy, qmin, qmax in self.layers:
            acc = (q - zx) @ WT + b
            q = np.clip(np.rint(acc.astype(np.float32) * M) + zy, qmin, qmax).astype(np.int32)
        return q

    def __call__(self, X32):
        return self.y_scale * (self.codes(X32) - self.y_zp).astype(np.float32)


def numpy_int8_forward(imlp, X) -> np.ndarray:
    """The int8 logit codes of the lean numpy int8 path :func:`speed_table` times (ORT's rules, int32 matmul).

    Introduced in lesson ``14_onnx_runtime``. Equal to :func:`ort_forward_codes`.
    """
    imlp = _check_integer_mlp(imlp)
    X = _check_X(X, imlp.layers[0].W_q.shape[1])
    return _NumpyInt8(imlp).codes(X.astype(np.float32)).astype(np.int64)


def _seconds(fn, repeat: int, min_time: float) -> float:
    """Median seconds per call (lesson 11's timer: :func:`qlearn.hardware.matmul_speed.median_seconds`)."""
    from qlearn.hardware.matmul_speed import median_seconds

    return median_seconds([fn], repeat, min_time)[0]


def speed_networks(wide: int = 1024, *, seed: int = 0) -> dict:
    """The networks :func:`speed_table` times: the course MLP and a wide one, ``(wide, wide, 10)``.

    The wide network has random He-initialised weights (``seed``) and calibration inputs
    uniform in ``[0, 1]``: speed does not depend on what the weights have learned.
    """
    from qlearn.networks import nn
    from qlearn.networks.data import load_digits
    wide = check_int(wide, "wide", 16, 8192)
    rng = np.random.default_rng(seed)
    return {"course 64-64-32-10": (nn.pretrained(), load_digits().X_calib),
            f"wide {wide}-{wide}-10": (nn.init_mlp((wide, wide, 10), rng=rng), rng.uniform(0.0, 1.0, (64, wide)))}


def speed_table(*, wide: int = 1024, batches=(1, 64), repeat: int = 5, min_time: float = 0.01,
                threads: int = 1, seed: int = 0) -> list[dict]:
    """Seconds per forward pass, float32 vs int8, in ORT and numpy, measured now on this machine.

    Introduced in lesson ``14_onnx_runtime``; ``benchmarks/bench_onnx.py`` prints the same
    table for larger batches.

    Parameters
    ----------
    wide : int in [16, 8192]
        Width of the wide network (:func:`speed_networks`).
    batches : iterable of int >= 1
        Batch sizes (rows of ``X``).
    repeat : int in [1, 100]
        Timed samples per entry; the median is reported.
    min_time : float > 0
        Seconds each sample lasts at least (calls are repeated inside a sample).
    threads : int
        ORT's ``intra_op_num_threads``. numpy's BLAS uses its own thread count.
    seed : int
        Seeds the wide network's weights and the inputs.

    Returns
    -------
    list of dict
        One row per (network, batch): ``network``, ``batch``, the seconds of each of
        :data:`SPEED_METHODS`, and ``ratio`` columns: each ORT method against ORT float32,
        numpy int8 against numpy float32 (> 1: slower than float).

    Notes
    -----
    Every method takes float32 inputs and returns float32 logits, so the quantize and
    dequantize steps are inside the timing: ORT's ``QuantizeLinear``/``DequantizeLinear``
    or ``DynamicQuantizeLinear``; numpy's rounding of the input, requantization between
    layers and dequantization of the logits. numpy's int8 path widens the codes to int32
    (numpy has no int8 matrix product and its integer ``@`` does not use BLAS).
    """
    from qlearn.hardware.intops import integer_mlp
    batches = [check_int(b, "batch", 1, 1 << 16) for b in batches]
    if not batches:
        raise ValueError("batches is empty: give at least one batch size")
    repeat = check_int(repeat, "repeat", 1, 100)
    if not (isinstance(min_time, (int, float)) and 0 < min_time <= 10):
        raise ValueError(f"min_time must be a number of seconds in (0, 10], got {min_time!r}")
    rng = np.random.default_rng(seed)
    rows = []
    for name, (model, calib) in speed_networks(wide, seed=seed).items():
        imlp = integer_mlp(model, calib)
        sessions = {"ORT float32": session(float_graph(model), threads=threads),
                    "ORT int8 static (QDQ)": session(ort_quantize_static(model, calib), threads=threads),
                    "ORT int8 dynamic": session(ort_quantize_dynamic(model), threads=threads)}
        f32, i8 = _NumpyFloat32(model), _NumpyInt8(imlp)
        for batch in batches:
            X = rng.uniform(0.0, 1.0, (batch, model.sizes[0])).astype(np.float32)
            row = {"network": name, "batch": batch}
            for method, sess in sessions.items():
                row[method] = _seconds(lambda s=sess, X=X: s.run(None, {INPUT_NAME: X}), repeat, min_time)
            row["numpy float32"] = _seconds(lambda f=f32, X=X: f(X), repeat, min_time)
            row["numpy int8"] = _seconds(lambda f=i8, X=X: f(X), repeat, min_time)
            row["ORT static / float"] = row["ORT int8 static (QDQ)"] / row["ORT float32"]
            row["ORT dynamic / float"] = row["ORT int8 dynamic"] / row["ORT float32"]
            row["numpy int8 / float"] = row["numpy int8"] / row["numpy float32"]
            rows.append(row)
    return rows


def format_speed_table(rows) -> str:
    """:func:`speed_table` as a fixed-width text table (microseconds per forward pass and ratios)."""
    cols = list(SPEED_METHODS) + ["ORT static / float", "ORT dynamic / float", "numpy int8 / float"]
    head = f"{'network':22s} {'batch':>5s} " + " ".join(f"{c:>22s}" for c in cols)
    lines = [head, "-" * len(head)]
    for r in rows:
        cells = [f"{r[c] * 1e6:20.1f}us" for c in SPEED_METHODS] + [f"{r[c]:21.2f}x" for c in cols[5:]]
        lines.append(f"{r['network']:22s} {r['batch']:5d} " + " ".join(cells))
    return "\n".join(lines)

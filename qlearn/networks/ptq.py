"""Post-training quantization (PTQ) of the course MLP: weights, activations, biases.

Introduced in lesson ``08_post_training_quantization`` (per-channel scales in
``07_per_channel``). No retraining: the float model is converted as it is, using a
small calibration set for activation ranges (Jacob et al. 2018; Krishnamoorthi 2018,
section 3.1; Nagel et al. 2021, section 3).

Modes (``PTQ_MODES``):

``full_integer``
    Weights as ``bits``-bit integer codes (symmetric: signed, narrow range
    ``-(2**(bits-1) - 1)..2**(bits-1) - 1``, zero point 0), every layer's input
    activation as ``bits``-bit codes with a scale calibrated on ``calib_data``, biases
    as int32 codes with scale ``s_x * s_w`` (so they add straight into the int32
    accumulator). Run in exact integer arithmetic (:func:`integer_linear`):
    ``(q_x - z_x) @ W_q.T + b_q`` in int64, then one rescale by ``s_x * s_w``; lesson 11
    adds the integer-only requantization of the output.
``weight_only``
    Weights as integer codes, decoded to float before the multiply; activations and
    biases stay float (saves memory, not arithmetic).
``float16`` / ``bfloat16``
    Weights, biases and every layer's input and output rounded to IEEE half
    precision or bfloat16 (ml_dtypes); products accumulate in float64 here, as
    fp16/bf16 hardware accumulates in fp32. (TFLite's "float16 quantization" is
    different: it stores float16 *weights* only and, on CPU, dequantizes them to
    float32 before the first inference, so everything computes in float32.)
``dynamic_range``
    TFLite's dynamic-range ("hybrid") quantization: integer weight codes, and each
    layer's input quantized *on the fly, at every inference*, to symmetric signed
    codes with one scale per row of ``X`` (per image: ``max|x_row| / qmax``, as
    TFLite's ``BatchQuantizeFloats`` does per batch entry); integer matmul, then the
    int32 accumulator is scaled back to float and the float bias added
    (:func:`dynamic_range_linear`). No calibration set; outputs are float.

What is not modelled: the final layer's output (the logits) stays float, and the
int32 accumulator never overflows in the simulation (at 8 bits and 64 inputs it
cannot: ``64 * 127 * 255 < 2**31``).

Every figure these functions compute is the same on every CPU: integer layers run
in integer arithmetic, float layers in :func:`qlearn.networks.nn.fixed_order_matmul`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import ml_dtypes
import numpy as np

from qlearn._validate import as_finite_array, check_int
from qlearn.networks import nn
from qlearn.networks.nn import MLP, _check_X, _check_y, relu
from qlearn.ranges import affine, observers

#: The conversion modes of :func:`quantize_model`.
PTQ_MODES = ("full_integer", "weight_only", "float16", "bfloat16", "dynamic_range")
#: The modes that store integer weight codes (``bits`` and ``per_channel`` apply).
INTEGER_MODES = ("full_integer", "weight_only", "dynamic_range")
#: Activation calibrators (:func:`qlearn.ranges.observers.calibrate` methods).
CALIBRATIONS = ("minmax", "percentile", "mse", "entropy")
MIN_BITS, MAX_BITS = 2, 16
BIAS_BITS = 32
SCALE_BYTES = 4      # a float32 scale
ZERO_POINT_BYTES = 4  # an int32 zero point
FLOAT_DTYPES = {"float16": np.float16, "bfloat16": ml_dtypes.bfloat16}


def calibrate(x, *, method: str = "minmax", bits: int = 8, symmetric: bool = True, signed: bool = True,
              axis=None) -> affine.QParams:
    """Quantization parameters for activations ``x``: :func:`qlearn.ranges.observers.calibrate`.

    ``method`` must be one of ``CALIBRATIONS``.
    """
    if method not in CALIBRATIONS:
        raise ValueError(f"calibration must be one of {CALIBRATIONS}, got {method!r}")
    return observers.calibrate(x, method=method, bits=bits, symmetric=symmetric, signed=signed, axis=axis)


def weight_qparams(W, *, bits: int = 8, per_channel: bool = False, symmetric: bool = True) -> affine.QParams:
    """Min/max parameters for a weight matrix ``W (out, in)``: one scale, or one per output row.

    Introduced in lesson ``07_per_channel``. Symmetric weights use the narrow signed
    range (``-127..127`` at 8 bits) so that ``-W`` quantizes to ``-q``, as TFLite does.

    Examples
    --------
    >>> W = np.array([[0.5, -1.0], [0.02, 0.01]])
    >>> weight_qparams(W, bits=8).scale * 127
    1.0
    >>> weight_qparams(W, bits=8, per_channel=True).scale * 127
    array([1.  , 0.02])
    """
    W = as_finite_array(W, "W", allow_empty=False)
    if W.ndim != 2:
        raise ValueError(f"W must be 2-D (out, in), got shape {W.shape}")
    bits = check_int(bits, "bits", MIN_BITS, MAX_BITS)
    return affine.minmax_qparams(W, bits=bits, symmetric=symmetric, signed=True, narrow_range=symmetric,
                                 axis=0 if per_channel else None)


@dataclass(eq=False)
class QuantizedLayer:
    """One layer after PTQ.

    Attributes
    ----------
    W : ndarray (out, in)
        The weights the layer computes with (dequantized codes, or the rounded floats).
    b : ndarray (out,)
        The biases the layer computes with.
    W_q : ndarray of int64 or None
        Integer weight codes (integer modes).
    W_qp : QParams or None
        Weight parameters; per-channel along axis 0 of ``W (out, in)``.
    act_qp : QParams or None
        Parameters of this layer's input activation (``full_integer``).
    b_q, bias_qp : int32 bias codes and their parameters, scale ``s_x * s_w`` (``full_integer``).
    quantized : bool
        False for a layer left in float (see ``layers=`` in :func:`quantize_model`).
    """

    W: np.ndarray
    b: np.ndarray
    W_q: np.ndarray | None = None
    W_qp: affine.QParams | None = None
    act_qp: affine.QParams | None = None
    b_q: np.ndarray | None = None
    bias_qp: affine.QParams | None = None
    quantized: bool = True


def integer_linear(x, layer) -> np.ndarray:
    """A full-integer layer in exact integer arithmetic: ``((q_x - z_x) @ (W_q - z_w).T + b_q) * s_x s_w``.

    Introduced in lesson ``08_post_training_quantization``.

    Parameters
    ----------
    x : ndarray (batch, in)
        The layer's float input; quantized with ``layer.act_qp``.
    layer : QuantizedLayer
        With ``act_qp``, ``W_q``, ``W_qp``, ``b_q`` and ``bias_qp`` (scale ``s_x * s_w``).

    Returns
    -------
    ndarray (batch, out)
        The int64 accumulator times ``s_x * s_w`` (per output channel with per-channel
        weights): the float simulation's ``x_hat @ W_hat.T + b_hat`` in exact arithmetic,
        rounded once. numpy's integer matmul does not call BLAS and integer sums do not
        depend on their order, so the result is the same on every CPU.

    Examples
    --------
    >>> from qlearn.ranges.affine import QParams
    >>> L = QuantizedLayer(W=np.array([[0.5, -1.0]]), b=np.array([0.25]), W_q=np.array([[1, -2]]),
    ...                    W_qp=QParams(0.5, 0, -3, 3), act_qp=QParams(0.25, 0, 0, 15),
    ...                    b_q=np.array([2]), bias_qp=QParams(0.125, 0, -2**31, 2**31 - 1))
    >>> integer_linear(np.array([[1.0, 0.5]]), L)   # (4*1 + 2*(-2) + 2) * 0.125
    array([[0.25]])
    """
    qx = affine.quantize(x, layer.act_qp)
    if layer.act_qp.per_channel:
        raise ValueError("integer_linear needs per-tensor activation parameters (one scale for x)")
    Wq = layer.W_q.astype(np.int64)
    zw = np.asarray(layer.W_qp.zero_point, dtype=np.int64)
    if zw.ndim or zw != 0:
        Wq = Wq - np.reshape(zw, (-1, 1))
    acc = (qx - layer.act_qp.zero_point) @ Wq.T + layer.b_q.astype(np.int64)
    return acc * layer.bias_qp.scale


def dynamic_range_linear(x, layer, *, bits: int = 8) -> np.ndarray:
    """TFLite's hybrid layer: ``x`` quantized per row at run time, integer matmul, float output.

    Introduced in lesson ``08_post_training_quantization``.

    Each row of ``x`` (one inference) gets its own symmetric scale ``s_r = max|x_r| / qmax``
    (``qmax = 2**(bits-1) - 1``; a zero row gets scale 1) and codes
    ``clip(round(x_r / s_r), -qmax, qmax)``, rounded half away from zero as TFLite's
    ``SymmetricQuantizeFloats`` does. Then ``acc = q_x @ (W_q - z_w).T`` in int64 and
    ``y = acc * (s_r * s_w) + b`` with the float bias.

    Examples
    --------
    >>> from qlearn.ranges.affine import QParams
    >>> L = QuantizedLayer(W=np.array([[1.0, 1.0]]), b=np.array([0.5]), W_q=np.array([[1, 1]]),
    ...                    W_qp=QParams(1.0, 0, -1, 1))
    >>> # 2 bits: row 0 has s_r = 2, codes (1, 1) (0.5 rounds away from 0); row 1 is all zero
    >>> dynamic_range_linear(np.array([[2.0, 1.0], [0.0, 0.0]]), L, bits=2)
    array([[4.5],
           [0.5]])
    """
    x = np.asarray(x, dtype=np.float64)
    bits = check_int(bits, "bits", MIN_BITS, MAX_BITS)
    qmax = 2 ** (bits - 1) - 1
    amax = np.abs(x).max(axis=1)
    s_row = np.where(amax > 0, amax / qmax, 1.0)
    qp = affine.QParams(s_row, np.zeros(s_row.size, np.int64), -qmax, qmax, axis=0)
    qx = affine.quantize(x, qp, rounding="half_away")
    Wq = layer.W_q.astype(np.int64) - np.reshape(np.asarray(layer.W_qp.zero_point, dtype=np.int64), (-1, 1))
    acc = qx @ Wq.T
    return acc * (s_row[:, None] * np.asarray(layer.W_qp.scale)) + layer.b


class QuantizedModel:
    """A model converted by :func:`quantize_model`; forward runs on the quantized values."""

    def __init__(self, layers, *, mode, bits, per_channel, calibration, symmetric):
        self.layers = list(layers)
        self.mode, self.bits, self.per_channel = mode, bits, per_channel
        self.calibration, self.symmetric = calibration, symmetric

    @property
    def sizes(self) -> tuple:
        return (self.layers[0].W.shape[1],) + tuple(layer.W.shape[0] for layer in self.layers)

    def forward(self, X) -> np.ndarray:
        """Logits computed on the quantized weights and (full integer) activations.

        A full-integer layer runs in exact integer arithmetic, as lesson 11's engine does:
        ``acc = (q_x - z_x) @ (W_q - z_w).T + b_q`` in int64 (numpy's integer matmul does
        not use BLAS, and integer sums do not depend on their order), then one rescale,
        ``acc * (s_x * s_w)``, elementwise. These are the values the float simulation
        ``x_hat @ W_hat.T + b_hat`` approximates, without its machine-dependent last bits.
        Other layers use :func:`qlearn.networks.nn.fixed_order_matmul`. Same result on every CPU.
        """
        h = _check_X(X, self.layers[0].W.shape[1])
        cast = FLOAT_DTYPES.get(self.mode)
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            if layer.act_qp is not None and layer.W_q is not None:
                h = integer_linear(h, layer)
            elif self.mode == "dynamic_range" and layer.quantized:
                h = dynamic_range_linear(h, layer, bits=self.bits)
            else:
                if cast is not None and layer.quantized:
                    h = h.astype(cast).astype(np.float64)
                h = nn.fixed_order_matmul(h, layer.W) + layer.b
            if cast is not None and layer.quantized:
                h = h.astype(cast).astype(np.float64)
            if i < last:
                h = relu(h)
        return h

    __call__ = forward

    def predict(self, X) -> np.ndarray:
        return np.argmax(self.forward(X), axis=1)

    def accuracy(self, X, y) -> float:
        X = _check_X(X, self.layers[0].W.shape[1])
        y = _check_y(y, X.shape[0], self.layers[-1].W.shape[0])
        return float(np.mean(self.predict(X) == y))

    def agreement(self, X, float_model) -> float:
        """Fraction of rows of ``X`` where this model predicts the same class as ``float_model``."""
        return float(np.mean(self.predict(X) == float_model.predict(X)))

    @property
    def size_bytes(self) -> int:
        """Bytes to store the converted model (see :func:`model_size_bytes`)."""
        return model_size_bytes(self)

    def __repr__(self):
        pc = ", per_channel" if self.per_channel else ""
        return f"QuantizedModel(mode={self.mode!r}, bits={self.bits}{pc}, size_bytes={self.size_bytes})"


def model_size_bytes(qmodel: QuantizedModel) -> int:
    """Storage of a :class:`QuantizedModel`, counted parameter by parameter.

    Notes
    -----
    Per layer: integer weight codes packed at ``bits`` bits, ``ceil(W.size * bits / 8)``
    bytes; one float32 scale and one int32 zero point per weight channel (1 per tensor,
    ``out`` per channel); biases as int32 (full integer) or float32 (weight only);
    activation parameters 8 bytes a layer (full integer). float16/bfloat16: 2 bytes
    per weight and bias. A float layer (``quantized=False``) costs 4 bytes a parameter.
    """
    total = 0
    for layer in qmodel.layers:
        n_w, n_b = layer.W.size, layer.b.size
        if not layer.quantized:
            total += 4 * (n_w + n_b)
        elif layer.W_q is None:  # float16 / bfloat16
            total += 2 * (n_w + n_b)
        else:
            n_scales = np.size(layer.W_qp.scale)
            total += -(-n_w * qmodel.bits // 8) + n_scales * (SCALE_BYTES + ZERO_POINT_BYTES)
            total += 4 * n_b  # int32 or float32 biases
            if layer.act_qp is not None:
                total += SCALE_BYTES + ZERO_POINT_BYTES
    return int(total)


def _check_mode(mode):
    if mode not in PTQ_MODES:
        raise ValueError(f"mode must be one of {PTQ_MODES}, got {mode!r}")


def quantize_model(model: MLP, *, mode: str = "full_integer", bits: int = 8, per_channel: bool = False,
                   calibration: str = "minmax", calib_data=None, symmetric: bool = True,
                   layers=None, act_qparams=None) -> QuantizedModel:
    """Convert a float :class:`~qlearn.networks.nn.MLP` after training.

    Introduced in lesson ``08_post_training_quantization``.

    Parameters
    ----------
    model : MLP
    mode : one of ``PTQ_MODES``
    bits : int in [2, 16]
        Width of weight and activation codes (integer modes; ignored by float16/bfloat16;
        ``dynamic_range`` quantizes weights and, at run time, activations to ``bits``).
    per_channel : bool
        One weight scale per output channel (row of ``W``) instead of one per tensor.
    calibration : one of ``CALIBRATIONS``, or a list of them, one per layer
        How activation ranges are chosen from ``calib_data`` (``full_integer``). A list
        calibrates each layer's input its own way (lesson 08 uses it to find which layer's
        clipping buys the accuracy).
    calib_data : array (n, in), required for ``full_integer``
        Inputs whose activations set the activation scales (e.g. ``load_digits().X_calib``).
    symmetric : bool
        Symmetric weights (zero point 0, narrow range) or asymmetric min/max weights.
    layers : iterable of int, optional
        Quantize only these layers, leave the others float (per-layer sensitivity).
    act_qparams : list of QParams, optional
        ``full_integer`` only: use these activation parameters (one per layer input)
        instead of calibrating, as quantization-aware training does with the ranges
        it tracked (``calib_data`` is then not needed).

    Returns
    -------
    QuantizedModel

    Examples
    --------
    >>> from qlearn.networks.nn import pretrained
    >>> from qlearn.networks.data import load_digits
    >>> d = load_digits()
    >>> q = quantize_model(pretrained(), mode="full_integer", bits=8, calib_data=d.X_calib)
    >>> q.layers[0].W_q.dtype, int(np.abs(q.layers[0].W_q).max())
    (dtype('int64'), 127)
    >>> q.agreement(d.X_test, pretrained()) > 0.98
    True
    """
    if not isinstance(model, MLP):
        raise TypeError(f"model must be a qlearn.networks.nn.MLP, got {type(model).__name__}")
    _check_mode(mode)
    n = len(model.layers)
    if isinstance(calibration, str):
        if calibration not in CALIBRATIONS:
            raise ValueError(f"calibration must be one of {CALIBRATIONS}, got {calibration!r}")
        per_layer_cal = [calibration] * n
    else:
        per_layer_cal = list(calibration)
        if len(per_layer_cal) != n or any(c not in CALIBRATIONS for c in per_layer_cal):
            raise ValueError(f"calibration must be one of {CALIBRATIONS} or a list of {n} of them (one per layer), "
                             f"got {calibration!r}")
    bits = check_int(bits, "bits", MIN_BITS, MAX_BITS)
    chosen = set(range(n)) if layers is None else {int(i) for i in layers}
    if any(not 0 <= i < n for i in chosen):
        raise ValueError(f"layers must hold layer indices in [0, {n - 1}], got {sorted(chosen)}")
    acts = None
    if act_qparams is not None:
        if mode != "full_integer":
            raise ValueError("act_qparams only applies to mode='full_integer'")
        act_qparams = list(act_qparams)
        if len(act_qparams) != n or not all(isinstance(a, affine.QParams) for a in act_qparams):
            raise ValueError(f"act_qparams must be a list of {n} QParams, one per layer input")
    elif mode == "full_integer":
        if calib_data is None:
            raise ValueError("calib_data is required for mode='full_integer' (e.g. load_digits().X_calib)")
        C = as_finite_array(calib_data, "calib_data", allow_empty=False)
        if C.ndim != 2 or C.shape[1] != model.layers[0].n_in:
            raise ValueError(f"calib_data must have shape (n, {model.layers[0].n_in}), got {C.shape}")
        _, acts = model.forward(C, return_activations=True)
    out = []
    for i, layer in enumerate(model.layers):
        if i not in chosen:
            out.append(QuantizedLayer(layer.W.copy(), layer.b.copy(), quantized=False))
            continue
        if mode in FLOAT_DTYPES:
            dt = FLOAT_DTYPES[mode]
            out.append(QuantizedLayer(layer.W.astype(dt).astype(np.float64), layer.b.astype(dt).astype(np.float64)))
            continue
        W_qp = weight_qparams(layer.W, bits=bits, per_channel=per_channel, symmetric=symmetric)
        W_q = affine.quantize(layer.W, W_qp)
        W_hat = affine.dequantize(W_q, W_qp)
        if mode in ("weight_only", "dynamic_range"):
            out.append(QuantizedLayer(W_hat, layer.b.copy(), W_q=W_q, W_qp=W_qp))
            continue
        if act_qparams is not None:
            act_qp = act_qparams[i]
        else:
            a = acts[i]
            act_qp = calibrate(a, method=per_layer_cal[i], bits=bits, symmetric=symmetric, signed=bool(a.min() < 0))
        bias_scale = W_qp.scale * act_qp.scale  # the scale of the int32 accumulator
        bqmin, bqmax = affine.qrange(BIAS_BITS)
        if W_qp.per_channel:
            bias_qp = affine.QParams(bias_scale, np.zeros(bias_scale.size, np.int64), bqmin, bqmax, axis=0)
        else:
            bias_qp = affine.QParams(bias_scale, 0, bqmin, bqmax)
        b_q = affine.quantize(layer.b, bias_qp)
        out.append(QuantizedLayer(W_hat, affine.dequantize(b_q, bias_qp), W_q=W_q, W_qp=W_qp, act_qp=act_qp,
                                  b_q=b_q, bias_qp=bias_qp))
    return QuantizedModel(out, mode=mode, bits=bits, per_channel=per_channel, calibration=calibration,
                          symmetric=symmetric)


def evaluate(qmodel: QuantizedModel, data, float_model: MLP) -> dict:
    """Test accuracy, size in bytes and agreement with the float model: the three PTQ figures."""
    return dict(accuracy=qmodel.accuracy(data.X_test, data.y_test), size_bytes=qmodel.size_bytes,
                agreement=qmodel.agreement(data.X_test, float_model))


def layer_sensitivity(model: MLP, data, *, mode: str = "weight_only", bits: int = 4, per_channel: bool = False,
                      calibration: str = "minmax", symmetric: bool = True) -> np.ndarray:
    """Test accuracy with only layer ``i`` quantized, for each ``i`` (the others stay float).

    Introduced in lesson ``08_post_training_quantization``: the layer whose
    quantization costs the most accuracy is the one to keep wider.
    """
    return np.array([
        quantize_model(model, mode=mode, bits=bits, per_channel=per_channel, calibration=calibration,
                       calib_data=data.X_calib, symmetric=symmetric, layers=[i]).accuracy(data.X_test, data.y_test)
        for i in range(len(model.layers))
    ])


def accuracy_vs_bits(model: MLP, data, bits_list, *, mode: str = "weight_only", per_channel: bool = False,
                     calibration: str = "minmax", symmetric: bool = True) -> np.ndarray:
    """Test accuracy of :func:`quantize_model` at each width in ``bits_list``.

    Introduced in lesson ``07_per_channel`` (per-tensor vs per-channel curves).
    """
    bits_list = [check_int(b, "bits", MIN_BITS, MAX_BITS) for b in bits_list]
    if not bits_list:
        raise ValueError("bits_list is empty: give at least one width")
    return np.array([
        quantize_model(model, mode=mode, bits=b, per_channel=per_channel, calibration=calibration,
                       calib_data=data.X_calib, symmetric=symmetric).accuracy(data.X_test, data.y_test)
        for b in bits_list
    ])


# ---------------------------------------------------------------------------------------------
# Does quantization noise "improve accuracy"? Measured over several independently trained models.

STUDY_FILE = Path(__file__).parents[1] / "data" / "ptq_seeds.npz"
#: Seeds of the float models in :func:`regularization_study` (shipped in ``qlearn/data/ptq_seeds.npz``).
STUDY_SEEDS = tuple(range(8))
STUDY_BITS = (8, 6, 5, 4, 3)


def regularization_study(data=None, *, seeds=STUDY_SEEDS, bits_list=STUDY_BITS, per_channel: bool = False,
                         mode: str = "full_integer", callback=None) -> dict:
    """Train one float model per seed, quantize each at every width, compare test accuracy with float.

    Introduced in lesson ``09_quantization_aware_training`` (the claim "quantization can
    improve the accuracy of the model"). Each model is trained with
    :data:`qlearn.networks.nn.PRETRAINED_TRAINING` but its own seed.

    Returns
    -------
    dict
        ``seeds``, ``bits``, ``float_accuracy`` (n_seeds,), ``float_train_accuracy``,
        ``ptq_accuracy`` (n_seeds, n_bits), ``delta`` = ptq - float (in accuracy, 1/539 per image).
    """
    from qlearn.networks.data import load_digits
    from qlearn.networks.nn import PRETRAINED_SIZES, PRETRAINED_TRAINING, train

    data = load_digits() if data is None else data
    seeds = [check_int(s, "seed", 0, 2**31) for s in seeds]
    bits_list = [check_int(b, "bits", MIN_BITS, MAX_BITS) for b in bits_list]
    if not seeds or not bits_list:
        raise ValueError("seeds and bits_list must not be empty")
    f_acc, f_train, q_acc = [], [], []
    settings = {k: v for k, v in PRETRAINED_TRAINING.items() if k != "seed"}
    for k, seed in enumerate(seeds):
        m = train(PRETRAINED_SIZES, data, seed=seed, **settings)
        f_acc.append(m.accuracy(data.X_test, data.y_test))
        f_train.append(m.accuracy(data.X_train, data.y_train))
        q_acc.append([quantize_model(m, mode=mode, bits=b, per_channel=per_channel, calib_data=data.X_calib)
                      .accuracy(data.X_test, data.y_test) for b in bits_list])
        if callback is not None:
            callback(k + 1, len(seeds))
    f_acc, q_acc = np.array(f_acc), np.array(q_acc)
    return dict(seeds=np.array(seeds), bits=np.array(bits_list), float_accuracy=f_acc,
                float_train_accuracy=np.array(f_train), ptq_accuracy=q_acc, delta=q_acc - f_acc[:, None])


def load_regularization_study() -> dict:
    """The shipped :func:`regularization_study` (default arguments), from ``qlearn/data/ptq_seeds.npz``."""
    with np.load(STUDY_FILE) as f:
        return {k: f[k] for k in f.files}


def save_regularization_study() -> None:
    """Recompute and write the shipped study (maintainers only)."""
    np.savez_compressed(STUDY_FILE, **regularization_study())


# ---------------------------------------------------------------------------------------------
# The PTQ grid behind lesson 08's explorer: every mode x bits x calibration x per-channel.

GRID_FILE = Path(__file__).parents[1] / "data" / "ptq_grid.npz"
GRID_BITS = tuple(range(2, 9))


def ptq_grid(model: MLP | None = None, data=None, *, bits_list=GRID_BITS, calibrations=CALIBRATIONS,
             callback=None) -> dict:
    """Accuracy, size and agreement of :func:`quantize_model` over a grid of settings.

    Introduced in lesson ``08_post_training_quantization``. Defaults: the pretrained model
    and the digits. Arrays are indexed ``[mode, calibration, per_channel, bits]`` with
    ``modes = PTQ_MODES``; settings a mode ignores (bits for float16, calibration for
    weight-only) repeat the same value.
    """
    from qlearn.networks.data import load_digits
    from qlearn.networks.nn import pretrained

    model = pretrained() if model is None else model
    data = load_digits() if data is None else data
    bits_list = [check_int(b, "bits", MIN_BITS, MAX_BITS) for b in bits_list]
    shape = (len(PTQ_MODES), len(calibrations), 2, len(bits_list))
    acc, size, agree = np.zeros(shape), np.zeros(shape, dtype=np.int64), np.zeros(shape)
    done, total = 0, len(PTQ_MODES) * len(calibrations) * 2 * len(bits_list)
    memo = {}
    for mi, mode in enumerate(PTQ_MODES):
        for ci, cal in enumerate(calibrations):
            for pc in (0, 1):
                for bi, b in enumerate(bits_list):
                    key = (mode, cal if mode == "full_integer" else None,
                           pc if mode in INTEGER_MODES else None,
                           b if mode in INTEGER_MODES else None)
                    if key not in memo:
                        q = quantize_model(model, mode=mode, bits=b, per_channel=bool(pc), calibration=cal,
                                           calib_data=data.X_calib)
                        memo[key] = (q.accuracy(data.X_test, data.y_test), q.size_bytes,
                                     q.agreement(data.X_test, model))
                    acc[mi, ci, pc, bi], size[mi, ci, pc, bi], agree[mi, ci, pc, bi] = memo[key]
                    done += 1
                    if callback is not None:
                        callback(done, total)
    return dict(modes=np.array(PTQ_MODES), calibrations=np.array(calibrations), bits=np.array(bits_list),
                accuracy=acc, size_bytes=size, agreement=agree,
                float_accuracy=np.array(model.accuracy(data.X_test, data.y_test)),
                float_size_bytes=np.array(model.size_bytes(32)))


def load_ptq_grid() -> dict:
    """The shipped :func:`ptq_grid` (defaults), from ``qlearn/data/ptq_grid.npz``."""
    with np.load(GRID_FILE) as f:
        return {k: f[k] for k in f.files}


def save_ptq_grid() -> None:
    """Recompute and write the shipped grid (maintainers only)."""
    np.savez_compressed(GRID_FILE, **ptq_grid())

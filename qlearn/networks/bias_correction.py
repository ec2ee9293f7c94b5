"""Bias correction (Nagel et al. 2019, sec. 4) and the repairs table of lesson ``16_ptq_repairs``.

Introduced in lesson ``16_ptq_repairs``. Quantizing weights ``W -> W_hat`` shifts a layer's
mean output: ``E[W_hat x] - E[W x] = (W_hat - W) E[x] = eps E[x]``. Unless the errors
``eps`` average out, every output channel is biased, and the next layers see it.
Subtracting the shift from the bias removes it on average:

- *empirical* correction (:func:`empirical_bias_correction`) measures the mean output of the
  quantized layer and of the float layer on calibration images, channel by channel, layer
  after layer (each layer sees the corrected quantized layers before it);
- *analytical* correction (:func:`analytical_bias_correction`) needs no data: ``E[x]`` of a
  ReLU (or clipped ReLU) of a Gaussian pre-activation ``N(beta, gamma^2)`` from the
  preceding batch norm (:func:`clipped_relu_mean`), times ``eps``.

The correction is applied to the int32 bias codes (scale ``s_x s_w``), so what is left of the
shift is at most half a bias step per channel.

For a network deployed *unfolded* (integer convolutions, float batch norms),
:func:`reestimate_batchnorm` repairs both the mean and the variance of every channel: it
re-measures each batch norm's statistics on the network with quantized weights.

:func:`repair_table` measures the whole chain on the course's network (folding, cross-layer
equalization, high-bias absorption: :mod:`qlearn.networks.equalization`; bias correction): accuracy
with per-tensor weights at 8, 6 and 4 bits, in exact integer arithmetic.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from qlearn._validate import as_finite_array, check_int
from qlearn.networks import convnet, equalization, ptq
from qlearn.networks.batchnorm import BatchNorm
from qlearn.networks.convnet import QLayer, QuantizedConvNet
from qlearn.ranges import affine

#: The shipped :func:`repair_table` (default arguments), read by :func:`load_repair_table`.
TABLE_FILE = Path(__file__).parents[1] / "data" / "convnet_repairs.npz"
#: Rows of :func:`repair_table`, in the order of the lesson.
REPAIRS = ("folded", "bias_corr", "cle", "cle_absorb", "cle_absorb_bias_corr", "cle_absorb_analytic",
           "per_channel", "per_channel_bias_corr")
#: What each row of :func:`repair_table` does.
REPAIR_LABELS = {
    "folded": "folded, per-tensor",
    "bias_corr": "folded + bias correction",
    "cle": "folded + CLE",
    "cle_absorb": "folded + CLE + high-bias absorption",
    "cle_absorb_bias_corr": "folded + CLE + absorption + bias corr. (empirical)",
    "cle_absorb_analytic": "folded + CLE + absorption + bias corr. (analytical)",
    "per_channel": "folded, per-channel",
    "per_channel_bias_corr": "folded, per-channel + bias correction",
}
#: Weight bit widths of :func:`repair_table`.
TABLE_BITS = (8, 6, 4)


def _phi(t):
    return np.exp(-0.5 * t * t) / math.sqrt(2.0 * math.pi)


_erf = np.frompyfunc(math.erf, 1, 1)


def _Phi(t):
    return 0.5 * (1.0 + _erf(np.asarray(t, dtype=np.float64) / math.sqrt(2.0)).astype(np.float64))


def clipped_relu_mean(mean, std, ceiling=np.inf) -> np.ndarray:
    """``E[min(max(z, 0), T)]`` for ``z ~ N(mean, std^2)``, per channel (Nagel et al. 2019, appendix).

    With ``a = -mean / std`` and ``b = (T - mean) / std``:

    ``E = mean (Phi(b) - Phi(a)) + std (phi(a) - phi(b)) + T (1 - Phi(b))``;

    for ``T = inf`` this is the paper's ReLU mean ``std phi(mean / std) + mean Phi(mean / std)``.
    ``std = 0`` gives ``min(max(mean, 0), T)``.

    Examples
    --------
    >>> float(clipped_relu_mean(0.0, 1.0)) == 1 / math.sqrt(2 * math.pi)
    True
    >>> clipped_relu_mean(np.array([-1.0, 3.0, 10.0]), np.zeros(3), 6.0)
    array([0., 3., 6.])
    """
    mean = as_finite_array(mean, "mean")
    std = as_finite_array(std, "std")
    T = np.asarray(ceiling, dtype=np.float64)
    if np.any(np.isnan(T)) or np.any(T < 0):
        raise ValueError("ceiling must be >= 0 (inf for a plain ReLU)")
    if np.any(std < 0):
        raise ValueError("std must be >= 0 (a standard deviation)")
    mean, std, T = np.broadcast_arrays(mean, std, T)
    shape = mean.shape
    out = np.array(np.minimum(np.maximum(mean, 0.0), T), dtype=np.float64, ndmin=1)
    ok = np.array(std > 0, ndmin=1)
    mean, std, T = (np.array(v, ndmin=1) for v in (mean, std, T))
    if np.any(ok):
        m, s, t = mean[ok], std[ok], T[ok]
        a = -m / s
        fin = np.isfinite(t)
        b = np.where(fin, (np.where(fin, t, 0.0) - m) / s, np.inf)
        Pb = np.where(fin, _Phi(np.where(fin, b, 0.0)), 1.0)
        pb = np.where(fin, _phi(np.where(fin, b, 0.0)), 0.0)
        tail = np.where(fin, np.where(fin, t, 0.0) * (1.0 - Pb), 0.0)
        out[ok] = m * (Pb - _Phi(a)) + s * (_phi(a) - pb) + tail
    return out.reshape(shape)


def weight_error(qlayer: QLayer) -> np.ndarray:
    """``eps = W_hat - W``: the dequantized weight codes minus the float weights of a :class:`QLayer`."""
    scale = np.asarray(qlayer.W_qp.scale, dtype=np.float64)
    if scale.ndim:
        scale = scale.reshape((-1,) + (1,) * (qlayer.W_q.ndim - 1))
    return qlayer.W_q * scale - qlayer.layer.W


def expected_shift(eps, Ex, *, depthwise: bool = False) -> np.ndarray:
    """``E[W_hat x] - E[W x] = eps E[x]`` per output channel, for an input whose channel means are ``Ex``.

    ``eps`` is ``(out, in)`` (dense), ``(out, in, kh, kw)`` (every tap sees the same channel
    mean; zero padding at the border is ignored, as in the paper) or ``(channels, 1, kh, kw)``
    with ``depthwise``.

    Examples
    --------
    >>> expected_shift(np.array([[0.1, -0.2]]), np.array([1.0, 2.0]))
    array([-0.3])
    """
    eps = np.asarray(eps, dtype=np.float64)
    Ex = as_finite_array(Ex, "Ex")
    if depthwise:
        return eps.reshape(eps.shape[0], -1).sum(axis=1) * Ex
    e = eps.reshape(eps.shape[0], eps.shape[1], -1).sum(axis=2) if eps.ndim == 4 else eps
    if e.shape[1] != Ex.size:
        raise ValueError(f"Ex must have one mean per input channel ({e.shape[1]}), got {Ex.size}")
    return e @ Ex


def _channel_mean(y) -> np.ndarray:
    return y.mean(axis=(0,) + tuple(range(2, y.ndim)))


def _corrected(ql: QLayer, shift) -> QLayer:
    """A copy of ``ql`` whose int32 bias codes have ``shift`` (real units, per channel) subtracted."""
    scale = np.asarray(ql.bias_qp.scale, dtype=np.float64)
    b_q = ql.b_q - np.round(np.asarray(shift) / scale).astype(np.int64)
    b_q = np.clip(b_q, ql.bias_qp.qmin, ql.bias_qp.qmax)
    return QLayer(ql.layer, ql.W_q, ql.W_qp, ql.act_qp, b_q, ql.bias_qp)


def _check_pair(qnet, model):
    if not isinstance(qnet, QuantizedConvNet):
        raise TypeError(f"qnet must be a qlearn.networks.convnet.QuantizedConvNet, got {type(qnet).__name__}")
    if not isinstance(model, convnet.ConvNet):
        raise TypeError(f"model must be a qlearn.networks.convnet.ConvNet, got {type(model).__name__}")
    if len(qnet.layers) != len(model.layers) or any(
            isinstance(q, QLayer) != isinstance(f, (convnet.Conv, convnet.Linear)) for q, f in zip(qnet.layers,
                                                                                                  model.layers)):
        raise ValueError("qnet must be quantize(model, ...) of this model (the same layers in the same order)")


def empirical_bias_correction(qnet: QuantizedConvNet, model: convnet.ConvNet, calib_data):
    """Empirical bias correction: subtract each layer's measured mean output shift from its bias codes.

    Introduced in lesson ``16_ptq_repairs`` (Nagel et al. 2019, sec. 4, 'quantization bias correction'). Layer after
    layer, on ``calib_data``: the float layer sees the float network's input, the quantized
    layer the (already corrected) quantized network's; the per-channel mean of
    ``quantized output - float output`` (over images and pixels) is subtracted from the
    layer's int32 bias codes.

    Returns
    -------
    qnet : QuantizedConvNet
        A corrected copy.
    shifts : dict
        ``{layer index: measured shift before correction}``.
    residual : dict
        ``{layer index: measured shift after correction}``: at most half a bias step
        (``bias_qp.scale / 2``) per channel, the rounding of the int32 codes.
    """
    _check_pair(qnet, model)
    h_f = h_q = convnet._check_images(calib_data, "calib_data")
    layers, shifts, residual = [], {}, {}
    for k, (ql, fl) in enumerate(zip(qnet.layers, model.layers)):
        y_f = fl.forward(h_f)
        if isinstance(ql, QLayer):
            shift = _channel_mean(ql.forward(h_q)) - _channel_mean(y_f)
            ql = _corrected(ql, shift)
            y_q = ql.forward(h_q)
            shifts[k], residual[k] = shift, _channel_mean(y_q) - _channel_mean(y_f)
        else:
            y_q = ql.forward(h_q)
        layers.append(ql)
        h_f, h_q = y_f, y_q
    return QuantizedConvNet(layers, weight_bits=qnet.weight_bits, act_bits=qnet.act_bits,
                            per_channel=qnet.per_channel), shifts, residual


def input_means(model: convnet.ConvNet, stats: dict) -> dict:
    """``{layer index: E[x]}`` of every weight layer's input predicted from pre-activation ``stats``.

    ``stats`` (:func:`qlearn.networks.equalization.preactivation_stats`) gives the previous weight
    layer's output ``N(mean, std^2)``; the activation between (ReLU6 or a
    :class:`~qlearn.networks.equalization.ClippedReLU`) turns it into :func:`clipped_relu_mean`;
    average pooling keeps the mean. Layers without statistics before them (the stem) are absent.
    """
    idx = [k for k, layer in enumerate(model.layers) if isinstance(layer, (convnet.Conv, convnet.Linear))]
    out = {}
    for i, j in zip(idx[:-1], idx[1:]):
        if i not in stats:
            continue
        mean, std = stats[i]
        T = np.inf
        for layer in model.layers[i + 1: j]:
            if isinstance(layer, convnet.ReLU6):
                T = np.full(mean.shape, 6.0)
            elif isinstance(layer, equalization.ClippedReLU):
                T = layer.ceiling
            elif not isinstance(layer, convnet.AvgPool):
                break
        else:
            out[j] = clipped_relu_mean(mean, std, T)
    return out


def analytical_bias_correction(qnet: QuantizedConvNet, model: convnet.ConvNet, stats: dict):
    """Data-free bias correction: subtract ``eps E[x]`` with ``E[x]`` from batch-norm statistics.

    Introduced in lesson ``16_ptq_repairs`` (Nagel et al. 2019, sec. 4, 'quantization bias
    correction'). ``stats`` are the pre-activation statistics of ``model``
    (:func:`qlearn.networks.equalization.preactivation_stats`, transformed like the network:
    :func:`qlearn.networks.equalization.scale_stats`,
    :func:`qlearn.networks.equalization.absorb_high_bias`). Only the weight error is corrected
    (not the activations' rounding), and only in layers with statistics before them.

    Returns
    -------
    qnet : QuantizedConvNet
        A corrected copy.
    shifts : dict
        ``{layer index: predicted shift eps E[x]}``.
    """
    _check_pair(qnet, model)
    Ex = input_means(model, stats)
    layers, shifts = [], {}
    for k, ql in enumerate(qnet.layers):
        if isinstance(ql, QLayer) and k in Ex:
            dw = isinstance(ql.layer, convnet.Conv) and ql.layer.depthwise
            shifts[k] = expected_shift(weight_error(ql), Ex[k], depthwise=dw)
            ql = _corrected(ql, shifts[k])
        layers.append(ql)
    return QuantizedConvNet(layers, weight_bits=qnet.weight_bits, act_bits=qnet.act_bits,
                            per_channel=qnet.per_channel), shifts


def repaired_models(model: convnet.ConvNet | None = None) -> dict:
    """The float networks behind :func:`repair_table` and their pre-activation statistics.

    Returns ``{"folded": (net, stats), "cle": ..., "cle_absorb": ...}`` plus
    ``"equalization"`` (the :class:`~qlearn.networks.equalization.Equalization`) and ``"absorbed"``
    (the amounts of :func:`~qlearn.networks.equalization.absorb_high_bias`).
    """
    model = convnet.pretrained() if model is None else model
    if not isinstance(model, convnet.ConvNet):
        raise TypeError(f"model must be a qlearn.networks.convnet.ConvNet, got {type(model).__name__}")
    stats = equalization.preactivation_stats(model)
    folded = model.fold()
    eq = equalization.equalize(folded)
    eq_stats = equalization.scale_stats(stats, eq.scales)
    absorbed_net, ab_stats, absorbed = equalization.absorb_high_bias(eq.model, eq_stats)
    return {"folded": (folded, stats), "cle": (eq.model, eq_stats), "cle_absorb": (absorbed_net, ab_stats),
            "equalization": eq, "absorbed": absorbed}


def repair_table(model: convnet.ConvNet | None = None, data=None, *, bits_list=TABLE_BITS,
                 act_bits: int = 8) -> dict:
    """Test accuracy of the network after each repair, per-tensor weights at each of ``bits_list``.

    Introduced in lesson ``16_ptq_repairs``. Rows (:data:`REPAIRS`, :data:`REPAIR_LABELS`):
    the folded network; with empirical bias correction only; after cross-layer
    equalization; + high-bias absorption; + empirical or analytical bias correction; and
    per-channel weights (with and without bias correction) for comparison. Every network is
    quantized by :func:`qlearn.networks.convnet.quantize` (activations ``act_bits``, calibrated on
    ``data.X_calib``) and evaluated in exact integers; bias correction uses ``data.X_calib``.

    Returns
    -------
    dict
        ``(row, bits)``: accuracy on ``data``'s test images; ``"float_folded"``,
        ``"float_cle"``, ``"float_cle_absorb"``: float accuracy of those networks;
        ``"float_relu"``: the folded network with ReLU6 replaced by ReLU (the paper's
        route); ``"n_test"``; ``"seconds"``: ``{step: seconds}`` (machine-dependent).
    """
    from qlearn.networks.data import load_digits

    data = load_digits() if data is None else data
    seconds = {}
    t0 = time.perf_counter()
    models = repaired_models(model)
    seconds["fold + equalize + absorb"] = time.perf_counter() - t0
    X, y = data.X_test, data.y_test
    table = {"n_test": len(y)}
    for name in ("folded", "cle", "cle_absorb"):
        table["float_" + name] = models[name][0].accuracy(X, y)
    table["float_relu"] = equalization.with_channel_ceilings(models["folded"][0], relu=True).accuracy(X, y)
    for bits in bits_list:
        bits = int(bits)
        nets = {}
        t0 = time.perf_counter()
        for name in ("folded", "cle", "cle_absorb"):
            nets[name] = convnet.quantize(models[name][0], data.X_calib, weight_bits=bits, act_bits=act_bits)
        nets["per_channel"] = convnet.quantize(models["folded"][0], data.X_calib, weight_bits=bits,
                                               act_bits=act_bits, per_channel=True)
        seconds[f"quantize x4 ({bits} bits)"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        nets["bias_corr"] = empirical_bias_correction(nets["folded"], models["folded"][0], data.X_calib)[0]
        nets["cle_absorb_bias_corr"] = empirical_bias_correction(nets["cle_absorb"], models["cle_absorb"][0],
                                                                 data.X_calib)[0]
        nets["per_channel_bias_corr"] = empirical_bias_correction(nets["per_channel"], models["folded"][0],
                                                                  data.X_calib)[0]
        seconds[f"empirical bias correction x3 ({bits} bits)"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        nets["cle_absorb_analytic"] = analytical_bias_correction(nets["cle_absorb"], *models["cle_absorb"])[0]
        seconds[f"analytical bias correction ({bits} bits)"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        for name in REPAIRS:
            table[name, bits] = nets[name].accuracy(X, y)
        seconds[f"evaluate x{len(REPAIRS)} ({bits} bits)"] = time.perf_counter() - t0
    table["seconds"] = seconds
    return table


def save_repair_table(path=TABLE_FILE) -> dict:
    """Compute :func:`repair_table` with its defaults and write it to ``path`` (the shipped file)."""
    t = repair_table()
    bits = np.array(TABLE_BITS)
    acc = np.array([[t[name, int(b)] for b in bits] for name in REPAIRS])
    floats = np.array([t["float_folded"], t["float_cle"], t["float_cle_absorb"], t["float_relu"]])
    np.savez_compressed(path, repairs=np.array(REPAIRS), bits=bits, accuracy=acc, floats=floats,
                        n_test=np.array(t["n_test"]))
    return t


def load_repair_table(path=TABLE_FILE) -> dict:
    """The shipped :func:`repair_table` (defaults) without its timings, from ``qlearn/data/convnet_repairs.npz``.

    Examples
    --------
    >>> t = load_repair_table()
    >>> round(t["folded", 4] * t["n_test"]), t["n_test"]
    (371, 539)
    """
    with np.load(path) as f:
        names = [str(n) for n in f["repairs"]]
        table = {(n, int(b)): float(f["accuracy"][i, j]) for i, n in enumerate(names) for j, b in enumerate(f["bits"])}
        fl = f["floats"]
        table.update(float_folded=float(fl[0]), float_cle=float(fl[1]), float_cle_absorb=float(fl[2]),
                     float_relu=float(fl[3]), n_test=int(f["n_test"]))
    return table


def reestimate_batchnorm(model: convnet.ConvNet, calib_data, *, weight_bits: int = 4,
                         per_channel: bool = False) -> convnet.ConvNet:
    """Quantize the weights of an *unfolded* network and re-estimate its batch norms' statistics on data.

    Introduced in lesson ``16_ptq_repairs`` (batch-norm re-estimation, as Nagel et al. 2022 use it
    after quantization-aware training). Every weight layer's ``W`` is replaced by its
    dequantized codes ``W_hat`` (symmetric narrow-range, ``weight_bits``, per tensor or per
    output channel), then, layer after layer on ``calib_data``, each batch norm's running mean
    and variance are set to the mean and (biased) variance of its input, over images and pixels,
    in the network whose earlier batch norms are already re-estimated. ``gamma`` and ``beta``
    are kept. The result's weights lie on the quantization grid, so
    ``qlearn.networks.convnet.quantize(result, ..., weight_bits=weight_bits)`` keeps them (with the
    batch norms in float after the integer convolutions: the "unfolded" deployment of lesson 15).
    """
    if not isinstance(model, convnet.ConvNet):
        raise TypeError(f"model must be a qlearn.networks.convnet.ConvNet, got {type(model).__name__}")
    if model.folded:
        raise ValueError("model has no batch norm left to re-estimate: pass the unfolded network")
    bits = check_int(weight_bits, "weight_bits", ptq.MIN_BITS, ptq.MAX_BITS)
    out = model.copy()
    h = convnet._check_images(calib_data, "calib_data")
    for layer in out.layers:
        if isinstance(layer, (convnet.Conv, convnet.Linear)):
            qp = affine.minmax_qparams(layer.W, bits=bits, symmetric=True, signed=True, narrow_range=True,
                                       axis=0 if per_channel else None)
            layer.W = affine.dequantize(affine.quantize(layer.W, qp), qp)
        elif isinstance(layer, BatchNorm):
            ax = (0,) + tuple(range(2, h.ndim))
            layer.mean, layer.var = h.mean(axis=ax), h.var(axis=ax)
        h = layer.forward(h)
    return out

"""Cross-layer equalization and high-bias absorption (Nagel et al. 2019, sec. 4).

Introduced in lesson ``16_ptq_repairs``. After batch-norm folding (lesson 15) the output
channels of a layer can have very different weight ranges, and one per-tensor scale wastes
most of its levels on the narrow channels. For two consecutive layers
``y = W2 f(W1 x + b1) + b2`` with a positively homogeneous activation ``f``
(``f(z / s) = f(z) / s`` for ``s > 0``), dividing output channel ``i`` of layer 1 by ``s_i``
and multiplying input channel ``i`` of layer 2 by ``s_i`` leaves the function unchanged.
Nagel et al. choose

``s_i = (1 / r2_i) sqrt(r1_i r2_i)``   (``r1_i``: range of output channel ``i`` of ``W1``,
``r2_i``: range of input channel ``i`` of ``W2``),

which makes both ranges ``sqrt(r1_i r2_i)``; iterating over all consecutive pairs converges.

ReLU6 is not positively homogeneous: ``min(max(z / s, 0), 6) != min(max(z, 0), 6) / s``.
The paper replaces ReLU6 with ReLU before equalizing, which changes the float network.
Here ReLU6 becomes a :class:`ClippedReLU` with one ceiling per channel, and equalization
divides channel ``i``'s ceiling by ``s_i`` too: ``min(max(z / s, 0), 6 / s) = min(max(z, 0), 6) / s``
exactly, so the float function is unchanged (an integer engine then clips each channel at its
own value instead of one value per tensor). ``ClippedReLU.relu(...)`` builds the paper's plain ReLU,
for measuring what the replacement would change.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qlearn._validate import check_int, check_positive
from qlearn.networks import convnet
from qlearn.networks.batchnorm import BatchNorm

#: Default largest number of sweeps over all pairs in :func:`equalize`.
MAX_SWEEPS = 200
#: Default convergence threshold of :func:`equalize`: largest ``|log(r1_i / r2_i)|`` over every pair.
TOL = 1e-13


class ClippedReLU:
    """``min(max(x, 0), ceiling_c)`` with one ceiling per channel (axis 1); ``inf`` gives a plain ReLU.

    Introduced in lesson ``16_ptq_repairs``: ReLU6 with its ceiling kept per channel, so that
    cross-layer equalization can rescale it exactly.

    Examples
    --------
    >>> act = ClippedReLU([6.0, 3.0])
    >>> act.forward(np.array([[-1.0, 4.0], [7.0, 7.0]]))
    array([[0., 3.],
           [6., 3.]])
    >>> ClippedReLU([-1.0])
    Traceback (most recent call last):
    ...
    ValueError: ceiling must hold numbers >= 0 (inf for no ceiling), got min -1.0
    """

    kind = "clipped_relu"

    def __init__(self, ceiling):
        try:
            c = np.array(ceiling, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"ceiling must be an array of numbers > 0, got {ceiling!r}") from None
        if c.ndim != 1 or c.size == 0:
            raise ValueError(f"ceiling must be 1-D (channels,), got shape {c.shape}")
        if np.any(np.isnan(c)) or np.any(c < 0):
            raise ValueError(f"ceiling must hold numbers >= 0 (inf for no ceiling), got min {float(np.nanmin(c))!r}")
        self.ceiling = c

    @classmethod
    def relu6(cls, channels: int) -> ClippedReLU:
        """ReLU6 on ``channels`` channels."""
        return cls(np.full(check_int(channels, "channels", 1, 1 << 20), 6.0))

    @classmethod
    def relu(cls, channels: int) -> ClippedReLU:
        """A plain ReLU (no ceiling): Nagel et al.'s replacement for ReLU6."""
        return cls(np.full(check_int(channels, "channels", 1, 1 << 20), np.inf))

    def forward(self, x, *, train: bool = False):
        if train:
            raise ValueError("ClippedReLU is for evaluating repaired networks, not for training (train=True)")
        x = np.asarray(x, dtype=np.float64)
        if x.ndim < 2 or x.shape[1] != self.ceiling.size:
            raise ValueError(f"x must have {self.ceiling.size} channels on axis 1, got shape {x.shape}")
        c = self.ceiling.reshape((1, -1) + (1,) * (x.ndim - 2))
        return np.minimum(np.maximum(x, 0.0), c)

    def params(self):
        return []

    def spec(self):
        return dict(type="clipped_relu")

    def copy(self):
        return ClippedReLU(self.ceiling.copy())


def _check_folded(model) -> convnet.ConvNet:
    if not isinstance(model, convnet.ConvNet):
        raise TypeError(f"model must be a qlearn.networks.convnet.ConvNet, got {type(model).__name__}")
    if not model.folded:
        raise ValueError("model must have its batch norms folded (model.fold()) before equalization")
    return model


def with_channel_ceilings(model, *, relu: bool = False) -> convnet.ConvNet:
    """A copy of a folded network with every ReLU6 replaced by a :class:`ClippedReLU`.

    With ``relu=False`` the ceilings are 6 (the same function, exactly); with ``relu=True``
    they are ``inf`` (Nagel et al.'s ReLU, a different function wherever an activation
    exceeded 6).
    """
    model = _check_folded(model)
    out, channels = [], None
    for layer in model.layers:
        if isinstance(layer, convnet.Conv):
            channels = layer.W.shape[0]
        if isinstance(layer, convnet.ReLU6):
            out.append(ClippedReLU.relu(channels) if relu else ClippedReLU.relu6(channels))
        else:
            out.append(layer.copy())
    return convnet.ConvNet(out)


def output_ranges(layer) -> np.ndarray:
    """``max |W|`` of every *output* channel of a weight layer (``r1`` when it is the first of a pair)."""
    return np.abs(layer.W).reshape(layer.W.shape[0], -1).max(axis=1)


def input_ranges(layer) -> np.ndarray:
    """``max |W|`` of every *input* channel of a weight layer (``r2`` when it is the second of a pair).

    A depthwise convolution's input channel ``i`` is its output channel ``i``.
    """
    W = layer.W
    if isinstance(layer, convnet.Conv) and layer.depthwise:
        return output_ranges(layer)
    return np.abs(np.moveaxis(W, 1, 0)).reshape(W.shape[1], -1).max(axis=1)


def pairs(model) -> list:
    """``(i, j)`` indices (into ``model.layers``) of consecutive weight layers that can be equalized.

    Between them there may be only :class:`ClippedReLU` (or ReLU6) and average pooling:
    maps with ``f(z / s) = f(z) / s`` per channel once the ceilings are rescaled.
    """
    idx = [k for k, layer in enumerate(model.layers) if isinstance(layer, (convnet.Conv, convnet.Linear))]
    out = []
    for i, j in zip(idx[:-1], idx[1:]):
        between = model.layers[i + 1: j]
        first, second = model.layers[i], model.layers[j]
        if isinstance(second, convnet.Linear) and second.W.shape[1] != first.W.shape[0]:
            continue  # pooling left several pixels per channel: the flattened features are not the channels
        if isinstance(second, convnet.Conv) and second.depthwise and second.W.shape[0] != first.W.shape[0]:
            continue
        if all(isinstance(layer, (ClippedReLU, convnet.ReLU6, convnet.AvgPool)) for layer in between):
            out.append((i, j))
    return out


def _scale_output(layer, s):
    """Divide output channel ``c`` of a weight layer (weights and bias) by ``s[c]``."""
    layer.W = layer.W / s.reshape((-1,) + (1,) * (layer.W.ndim - 1))
    layer.b = layer.b / s


def _scale_input(layer, s):
    """Multiply input channel ``c`` of a weight layer by ``s[c]`` (a depthwise layer: its channel ``c``)."""
    if isinstance(layer, convnet.Conv) and layer.depthwise:
        layer.W = layer.W * s.reshape(-1, 1, 1, 1)
    else:
        layer.W = layer.W * s.reshape((1, -1) + (1,) * (layer.W.ndim - 2))


def equalization_scales(r1, r2) -> np.ndarray:
    """Nagel et al.'s ``s_i = (1 / r2_i) sqrt(r1_i r2_i)``; 1 where a range is 0 (a dead channel).

    After dividing output channel ``i`` of the first layer by ``s_i`` and multiplying input
    channel ``i`` of the second by ``s_i``, both ranges are ``sqrt(r1_i r2_i)``.

    Examples
    --------
    >>> equalization_scales(np.array([4.0, 1.0, 0.0]), np.array([1.0, 4.0, 2.0]))
    array([2. , 0.5, 1. ])
    """
    r1, r2 = np.asarray(r1, dtype=np.float64), np.asarray(r2, dtype=np.float64)
    if r1.shape != r2.shape or r1.ndim != 1:
        raise ValueError(f"r1 and r2 must be 1-D of the same length, got {r1.shape} and {r2.shape}")
    if np.any(r1 < 0) or np.any(r2 < 0):
        raise ValueError("r1 and r2 are ranges (max |W|): they must be >= 0")
    ok = (r1 > 0) & (r2 > 0)
    s = np.ones_like(r1)
    s[ok] = np.sqrt(r1[ok] * r2[ok]) / r2[ok]
    return s


def pair_mismatch(model) -> float:
    """Largest ``|log(r1_i / r2_i)|`` over every equalizable pair and live channel: 0 when equalized."""
    worst = 0.0
    for i, j in pairs(model):
        r1, r2 = output_ranges(model.layers[i]), input_ranges(model.layers[j])
        ok = (r1 > 0) & (r2 > 0)
        if ok.any():
            worst = max(worst, float(np.abs(np.log(r1[ok] / r2[ok])).max()))
    return worst


@dataclass
class Equalization:
    """The result of :func:`equalize`.

    Attributes
    ----------
    model : ConvNet
        The equalized network (ReLU6 replaced by per-channel :class:`ClippedReLU`).
    scales : dict
        ``{layer index: s}``: output channel ``c`` of that layer was divided by ``s[c]`` in total.
    history : list
        ``history[t]``: after ``t`` sweeps (``t = 0``: before), for each pair ``(i, j)`` in
        :attr:`pairs`, the arrays ``(r1, r2)``.
    pairs : list
        The equalized pairs ``(i, j)`` of layer indices.
    mismatch : list
        :func:`pair_mismatch` after each sweep (entry 0: before).
    """

    model: convnet.ConvNet
    scales: dict
    history: list = field(repr=False)
    pairs: list
    mismatch: list = field(repr=False)

    @property
    def sweeps(self) -> int:
        return len(self.history) - 1


def equalize(model, *, max_sweeps: int = MAX_SWEEPS, tol: float = TOL) -> Equalization:
    """Cross-layer equalization of a folded :class:`~qlearn.networks.convnet.ConvNet` (Nagel et al. 2019, sec. 4.1).

    Introduced in lesson ``16_ptq_repairs``. One sweep equalizes every pair of consecutive
    weight layers (:func:`pairs`) in order with :func:`equalization_scales`; a layer between
    two pairs is rescaled by both, so sweeps repeat until :func:`pair_mismatch` is below
    ``tol`` or ``max_sweeps`` is reached. ReLU6 ceilings are rescaled with their channels
    (:class:`ClippedReLU`), so the float function is unchanged (exactly in real arithmetic).

    Examples
    --------
    >>> net = convnet.pretrained().fold()
    >>> eq = equalize(net)
    >>> eq.mismatch[0] > 0.5, eq.mismatch[-1] < 1e-13
    (True, True)
    >>> from qlearn.networks.data import load_digits
    >>> X = load_digits().X_test[:50]
    >>> bool(np.abs(eq.model.forward(X) - net.forward(X)).max() < 1e-12)
    True
    """
    model = _check_folded(model)
    model = with_channel_ceilings(model) if any(isinstance(layer, convnet.ReLU6) for layer in model.layers) \
        else model.copy()
    max_sweeps = check_int(max_sweeps, "max_sweeps", 0, 100_000)
    tol = check_positive(tol, "tol")
    P = pairs(model)
    scales = {i: np.ones(model.layers[i].W.shape[0]) for i, _ in P}

    def snapshot():
        return [(output_ranges(model.layers[i]), input_ranges(model.layers[j])) for i, j in P]

    history, mismatch = [snapshot()], [pair_mismatch(model)]
    for _ in range(max_sweeps):
        if mismatch[-1] < tol:
            break
        for i, j in P:
            s = equalization_scales(output_ranges(model.layers[i]), input_ranges(model.layers[j]))
            _scale_output(model.layers[i], s)
            _scale_input(model.layers[j], s)
            for layer in model.layers[i + 1: j]:
                if isinstance(layer, ClippedReLU):
                    layer.ceiling = layer.ceiling / s
            scales[i] = scales[i] * s
        history.append(snapshot())
        mismatch.append(pair_mismatch(model))
    return Equalization(model, scales, history, P, mismatch)


def preactivation_stats(model) -> dict:
    """``{layer index: (mean, std)}`` of every weight layer's output before its activation, from batch norms.

    Introduced in lesson ``16_ptq_repairs``. In an *unfolded* network a weight layer followed
    by a batch norm outputs, after the batch norm, values whose per-channel mean and
    standard deviation are (by design) ``beta`` and ``|gamma|``; this is the data-free
    statistic Nagel et al. (2019, sec. 4) use. Keys are layer indices in the *folded*
    network (``model.fold()``: each batch norm removed).

    Examples
    --------
    >>> stats = preactivation_stats(convnet.pretrained())
    >>> sorted(stats), stats[0][0].shape
    ([0, 2, 4, 6, 8], (8,))
    """
    if not isinstance(model, convnet.ConvNet):
        raise TypeError(f"model must be a qlearn.networks.convnet.ConvNet, got {type(model).__name__}")
    out, k = {}, 0
    for layer in model.layers:
        if isinstance(layer, BatchNorm):
            out[k - 1] = (layer.beta.copy(), np.abs(layer.gamma).copy())
            continue
        k += 1
    if not out:
        raise ValueError("model has no batch norm: pass the unfolded network (before model.fold())")
    return out


def scale_stats(stats: dict, scales: dict) -> dict:
    """Pre-activation statistics after equalization divided each channel by ``scales[i]``."""
    out = {}
    for i, (m, sd) in stats.items():
        s = scales.get(i, 1.0)
        out[i] = (m / s, sd / s)
    return out


def absorption_amounts(stats: dict, *, n_std: float = 3.0) -> dict:
    """Nagel et al.'s ``c = max(0, beta - n_std gamma)`` per channel, for every layer with statistics.

    Examples
    --------
    >>> absorption_amounts({0: (np.array([5.0, 1.0]), np.array([1.0, 1.0]))})
    {0: array([2., 0.])}
    """
    n_std = check_positive(n_std, "n_std")
    return {i: np.maximum(0.0, m - n_std * sd) for i, (m, sd) in stats.items()}


def absorb_high_bias(model, stats: dict, *, n_std: float = 3.0):
    """High-bias absorption (Nagel et al. 2019, sec. 4): move ``c`` of each channel's bias into the next layer.

    Introduced in lesson ``16_ptq_repairs``. For a pair ``W2 f(W1 x + b1) + b2`` where
    channel ``i``'s pre-activation ``z_i`` satisfies ``z_i >= c_i >= 0``, a ReLU (with or
    without a ceiling ``T_i``) gives ``f(z_i) = f_{T_i - c_i}(z_i - c_i) + c_i``, so

    ``b1_i -= c_i``,  ``T_i -= c_i``,  ``b2 += W2 c``

    leaves the function unchanged. ``c = max(0, beta - n_std gamma)`` from the batch-norm
    statistics (:func:`absorption_amounts`): for Gaussian pre-activations the condition fails
    with probability below 0.14% (``n_std = 3``). Only pairs whose second layer has no
    zero padding are changed (a padded border pixel would see ``0`` instead of ``-c``),
    i.e. a pointwise convolution or average pooling + the dense layer.

    Parameters
    ----------
    model : ConvNet
        Folded, with :class:`ClippedReLU` activations (``equalize(...).model``).
    stats : dict
        ``{layer index: (mean, std)}`` of the pre-activations of ``model``
        (:func:`preactivation_stats`, then :func:`scale_stats` after equalization).

    Returns
    -------
    model : ConvNet
        A new network.
    stats : dict
        The statistics of the new pre-activations (means reduced by ``c``).
    absorbed : dict
        ``{layer index: c}`` for every layer whose bias was changed.
    """
    model = _check_folded(model)
    if any(isinstance(layer, convnet.ReLU6) for layer in model.layers):
        model = with_channel_ceilings(model)
    else:
        model = model.copy()
    amounts = absorption_amounts(stats, n_std=n_std)
    new_stats = {i: (m.copy(), sd.copy()) for i, (m, sd) in stats.items()}
    absorbed = {}
    for i, j in pairs(model):
        if i not in amounts:
            continue
        second = model.layers[j]
        if isinstance(second, convnet.Conv) and (second.padding != 0 or second.depthwise):
            continue
        ceilings = [layer.ceiling for layer in model.layers[i + 1: j] if isinstance(layer, ClippedReLU)]
        c = np.minimum(amounts[i], ceilings[0]) if ceilings else amounts[i]  # c >= T: the channel is constant T
        if not np.any(c > 0):
            continue
        L1 = model.layers[i]
        L1.b = L1.b - c
        for layer in model.layers[i + 1: j]:
            if isinstance(layer, ClippedReLU):
                layer.ceiling = layer.ceiling - c
        W2 = second.W.reshape(second.W.shape[0], second.W.shape[1], -1).sum(axis=2) if second.W.ndim == 4 else second.W
        second.b = second.b + W2 @ c
        new_stats[i] = (stats[i][0] - c, stats[i][1])
        absorbed[i] = c
    return model, new_stats, absorbed


def range_spread(before, after, *, bits: int = 4) -> list[dict]:
    """Per weight layer: channel range ratio max/min and the narrowest channel's levels at ``bits``
    (per-tensor), before and after equalization (two :class:`qlearn.networks.convnet.ConvNet` with the same layers)."""
    out = []
    for L0, L1 in zip(before.quant_layers(), after.quant_layers()):
        r0, r1 = convnet.channel_ranges(L0.W), convnet.channel_ranges(L1.W)
        out.append(dict(kind=L0.kind, ratio_before=float(r0.max() / r0.min()), ratio_after=float(r1.max() / r1.min()),
                        levels_before=int(convnet.levels_used(L0.W, bits=bits).min()),
                        levels_after=int(convnet.levels_used(L1.W, bits=bits).min())))
    return out

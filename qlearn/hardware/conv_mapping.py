"""A convolution on a systolic array: im2col turns it into matrix products, and the array runs those.

Introduced in lesson ``15_convolutions_and_folding`` (section "Convolutions on the array"). For a
layer with ``C_in`` input channels, ``C_out`` filters of ``k x k``, on ``H x W`` images at ``batch``:

* a standard convolution is one product ``(M x K) @ (K x N)`` with ``M = batch H_out W_out`` (one row
  per output pixel), ``K = C_in k k`` (one patch), ``N = C_out``;
* a depthwise convolution sums over no channels: it is ``C`` products ``(M x k k) @ (k k x 1)``, one per
  channel, run one after another;
* a pointwise (1 x 1) convolution is a standard one with ``K = C_in``.

Cycles come from lesson 12's closed form (:func:`qlearn.hardware.systolic.cycle_count`, SCALE-Sim's model,
which the cycle-accurate :class:`qlearn.hardware.systolic.SystolicArray` reproduces); utilization is useful
MACs over ``cycles x rows x cols``.
"""
from __future__ import annotations

from typing import NamedTuple

from qlearn._validate import check_int
from qlearn.hardware import systolic
from qlearn.networks import conv


class ConvLayer(NamedTuple):
    """A convolution's shape: ``C_in x H x W`` input, ``C_out`` filters of ``kernel x kernel``."""

    name: str
    C_in: int
    H: int
    W: int
    C_out: int
    kernel: int
    stride: int = 1
    padding: int = 0
    depthwise: bool = False


#: Layers to try: the course's network (lesson 15, batch norm folded) and typical ImageNet layers
#: (shapes as in MobileNet v1, Howard et al. 2017, Table 1, and ResNet-18/50's 3x3 and 1x1 stages).
EXAMPLES = (
    ConvLayer("course net: stem 3x3 conv", 1, 8, 8, 8, 3, 1, 1),
    ConvLayer("course net: depthwise 3x3", 16, 4, 4, 16, 3, 1, 1, True),
    ConvLayer("course net: pointwise 16 -> 32", 16, 4, 4, 32, 1),
    ConvLayer("MobileNet v1: depthwise 3x3, 56x56x128", 128, 56, 56, 128, 3, 1, 1, True),
    ConvLayer("MobileNet v1: pointwise 128 -> 256 at 28x28", 128, 28, 28, 256, 1),
    ConvLayer("ResNet: 3x3 conv 64 -> 64 at 56x56", 64, 56, 56, 64, 3, 1, 1),
    ConvLayer("ResNet: 3x3 conv 512 -> 512 at 7x7", 512, 7, 7, 512, 3, 1, 1),
)


class ConvGEMM(NamedTuple):
    """The products a convolution becomes: ``groups`` of ``(M x K) @ (K x N)``."""

    M: int
    K: int
    N: int
    groups: int
    out_hw: tuple

    @property
    def macs(self) -> int:
        return self.M * self.K * self.N * self.groups


def conv_gemm(layer: ConvLayer, batch: int = 1) -> ConvGEMM:
    """The im2col products of ``layer`` at ``batch`` images.

    Examples
    --------
    >>> conv_gemm(ConvLayer("3x3", 64, 56, 56, 64, 3, 1, 1))
    ConvGEMM(M=3136, K=576, N=64, groups=1, out_hw=(56, 56))
    >>> conv_gemm(ConvLayer("dw", 128, 56, 56, 128, 3, 1, 1, True), batch=2)
    ConvGEMM(M=6272, K=9, N=1, groups=128, out_hw=(56, 56))
    """
    if not isinstance(layer, ConvLayer):
        raise TypeError(f"layer must be a qlearn.hardware.conv_mapping.ConvLayer, got {type(layer).__name__}")
    c_in, h, w, c_out = (check_int(v, n, 1, 1 << 16) for v, n in
                         ((layer.C_in, "C_in"), (layer.H, "H"), (layer.W, "W"), (layer.C_out, "C_out")))
    batch = check_int(batch, "batch", 1, 1 << 16)
    oh = conv.output_size(h, layer.kernel, layer.stride, layer.padding, name="H")
    ow = conv.output_size(w, layer.kernel, layer.stride, layer.padding, name="W")
    k2 = layer.kernel * layer.kernel
    if layer.depthwise:
        if c_out != c_in:
            raise ValueError(f"a depthwise layer has C_out == C_in, got C_in={c_in}, C_out={c_out}")
        return ConvGEMM(batch * oh * ow, k2, 1, c_in, (oh, ow))
    return ConvGEMM(batch * oh * ow, c_in * k2, c_out, 1, (oh, ow))


def conv_on_array(layer: ConvLayer, rows: int, cols: int, *, batch: int = 1,
                  dataflow: str = "weight_stationary") -> dict:
    """Cycles and utilization of ``layer`` on a ``rows x cols`` systolic array.

    Returns
    -------
    dict
        ``gemm`` (:class:`ConvGEMM`), ``folds`` (tiles of the array per product, times
        ``groups``), ``cycles`` (all products one after another; weight- and input-stationary
        preload the next fold while computing), ``macs``, ``utilization``.

    Examples
    --------
    >>> r = conv_on_array(ConvLayer("dw", 128, 56, 56, 128, 3, 1, 1, True), 128, 128)
    >>> r["folds"], round(100 * r["utilization"], 2)
    (128, 0.05)
    """
    rows = check_int(rows, "rows", 1, 4096)
    cols = check_int(cols, "cols", 1, 4096)
    g = conv_gemm(layer, batch)
    overlap = dataflow != "output_stationary"
    per = systolic.cycle_count(g.M, g.K, g.N, rows, cols, dataflow, overlap=overlap)
    SR, SC, _ = systolic.mapping(g.M, g.K, g.N, dataflow)
    folds = -(-SR // rows) * -(-SC // cols)
    cycles = g.groups * per
    return dict(gemm=g, folds=g.groups * folds, cycles=cycles, macs=g.macs,
                utilization=g.macs / (cycles * rows * cols))

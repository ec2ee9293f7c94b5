"""The TPU v1 as published, and a latency / energy model of dense layers on it.

Introduced in lesson ``13_tpu_v1_capstone``.

Every hardware constant lives in :data:`TPU_V1` (and the host baselines in
:data:`HASWELL`, :data:`K80`) with the table or section of Jouppi et al., "In-Datacenter
Performance Analysis of a Tensor Processing Unit", ISCA 2017 (arXiv 1704.04760) it comes
from. Headline figures (peak TOPS, the roofline ridge point) are *derived* from them.

What the TPU v1 is, and is not:

- a 256 x 256 systolic matrix unit of 8-bit multiply-accumulators with 32-bit
  accumulators, 8-bit x 16-bit at half speed and 16 x 16 at quarter speed; **no
  floating-point matrix arithmetic** (bfloat16 arrived with TPU v2), so an FP32 model
  cannot run on it: FP32 means the host CPU (or a GPU), modelled here with the paper's
  own Table 2 figures for Haswell and K80;
- weights stream from 8 GiB of **DDR3 at 34 GB/s** (not HBM: HBM came with TPU v2)
  through a weight FIFO four 64 KiB tiles deep;
- quantization is *not* "implemented in hardware": the hardware executes integer
  arithmetic; choosing scales, zero points and calibration is software, done once
  offline, and the rescale of int32 accumulators to 8 bits is an explicit step.

The layer model (:func:`layer_cost`) is a tile-level pipeline model, stated with its
assumptions in its docstring; it is not a cycle-accurate simulator of the chip.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from qlearn._validate import check_int
from qlearn.intops import rescale_op_counts

MiB = 2**20
GiB = 2**30


@dataclass(frozen=True)
class TPUv1:
    """The published TPU v1 constants, each with its source in Jouppi et al. (ISCA 2017)."""

    rows: int = 256                      # Sec. 2, Fig. 1: 256 x 256 MACs ("65,536 8-bit MAC")
    cols: int = 256                      # Sec. 2
    clock_hz: float = 700e6              # Table 2: 700 MHz
    weight_bandwidth: float = 34e9       # Table 2: 34 GB/s (two DDR3-2133 channels)
    weight_memory_bytes: int = 8 * GiB   # Sec. 2: 8 GiB DDR3 "Weight Memory"
    unified_buffer_bytes: int = 24 * MiB  # Sec. 2: 24 MiB Unified Buffer
    accumulator_entries: int = 4096      # Sec. 2: 4096 x 256-element x 32-bit accumulators
    accumulator_width: int = 256         # Sec. 2
    accumulator_bits: int = 32           # Sec. 2
    weight_fifo_tiles: int = 4           # Sec. 2: weight FIFO four tiles deep
    tile_shift_cycles: int = 256         # Sec. 2: 256 cycles to shift a weight tile in (double-buffered)
    pcie_bandwidth: float = 14 * GiB     # Fig. 1: PCIe Gen3 x16 interface, 14 GiB/s
    tdp_w: float = 75.0                  # Table 2: TDP per die
    idle_w: float = 28.0                 # Table 2: measured idle, per die
    busy_w: float = 40.0                 # Table 2: measured busy, per die
    server_idle_w: float = 290.0         # Table 2: server with 4 TPUs, idle
    server_busy_w: float = 384.0         # Table 2: server with 4 TPUs, busy
    dies_per_server: int = 4             # Table 2
    # 8x16 half speed, 16x16 quarter speed (Sec. 2)
    speed_8x8: float = 1.0
    speed_8x16: float = 0.5
    speed_16x16: float = 0.25

    @property
    def macs_per_cycle(self) -> int:
        return self.rows * self.cols

    @property
    def peak_ops(self) -> float:
        """Peak int8 operations/s, counting a multiply and an add as two ops: ``2 R C f``."""
        return 2 * self.macs_per_cycle * self.clock_hz

    @property
    def peak_tops(self) -> float:
        return self.peak_ops / 1e12

    @property
    def accumulator_bytes(self) -> int:
        return self.accumulator_entries * self.accumulator_width * self.accumulator_bits // 8

    @property
    def tile_bytes(self) -> int:
        """One 8-bit weight tile, ``R x C`` bytes (64 KiB)."""
        return self.rows * self.cols

    @property
    def ridge_point(self) -> float:
        """Roofline ridge in MACs per weight byte: ``R C f / bandwidth`` (the paper's ~1350).

        The paper's x-axis, "ops per weight byte", equals the batch size for an MLP layer
        (Table 1: MLP0 200 at batch 200): each 8-bit weight is used once per example, one
        multiply-accumulate. Counted as 2 ops per MAC the ridge would be twice as far.
        """
        return self.macs_per_cycle * self.clock_hz / self.weight_bandwidth

    def operand_speed(self, activation_bits: int = 8, weight_bits: int = 8) -> float:
        """Fraction of the 8x8 MAC rate for the operand widths (Sec. 2)."""
        for name, v in (("activation_bits", activation_bits), ("weight_bits", weight_bits)):
            if v not in (8, 16):
                raise ValueError(f"{name} must be 8 or 16 (the TPU v1 matrix unit's operand widths), got {v!r}")
        wide = (activation_bits == 16) + (weight_bits == 16)
        return (self.speed_8x8, self.speed_8x16, self.speed_16x16)[wide]

    def power_w(self, mxu_utilization: float) -> float:
        """Die power: linear between measured idle and busy by matrix-unit utilization (an assumption)."""
        u = float(np.clip(mxu_utilization, 0.0, 1.0))
        return self.idle_w + (self.busy_w - self.idle_w) * u


#: The TPU v1 of the paper.
TPU_V1 = TPUv1()

#: Where each constant of :class:`TPUv1` comes from (Jouppi et al., ISCA 2017), for tables and readers.
SOURCES = {
    "rows": ("matrix unit rows", "", "Sec. 2, Fig. 1"),
    "cols": ("matrix unit columns", "", "Sec. 2, Fig. 1"),
    "clock_hz": ("clock", "Hz", "Table 2"),
    "weight_bandwidth": ("weight memory bandwidth (DDR3)", "B/s", "Table 2"),
    "weight_memory_bytes": ("weight memory (DDR3)", "bytes", "Sec. 2"),
    "unified_buffer_bytes": ("unified buffer (activations)", "bytes", "Sec. 2"),
    "accumulator_entries": ("accumulators: entries of 256 x 32 bit", "", "Sec. 2"),
    "weight_fifo_tiles": ("weight FIFO depth", "tiles of 64 KiB", "Sec. 2"),
    "tile_shift_cycles": ("cycles to shift a weight tile in", "cycles", "Sec. 2"),
    "pcie_bandwidth": ("host interface (PCIe Gen3 x16)", "B/s", "Fig. 1"),
    "tdp_w": ("TDP per die", "W", "Table 2"),
    "idle_w": ("measured idle power per die", "W", "Table 2"),
    "busy_w": ("measured busy power per die", "W", "Table 2"),
    "server_idle_w": ("server (4 TPUs + host) idle", "W", "Table 2"),
    "server_busy_w": ("server (4 TPUs + host) busy", "W", "Table 2"),
    "speed_8x16": ("8 x 16-bit operand speed", "x 8-bit rate", "Sec. 2"),
    "speed_16x16": ("16 x 16-bit operand speed", "x 8-bit rate", "Sec. 2"),
}


def spec_table(spec: TPUv1 = TPU_V1) -> list[tuple]:
    """``(quantity, value, unit, source)`` for every sourced constant, then the derived headline figures.

    Introduced in lesson ``13_tpu_v1_capstone``.

    Examples
    --------
    >>> rows = spec_table()
    >>> rows[2]
    ('clock', 700000000.0, 'Hz', 'Table 2')
    >>> rows[-2][0], round(rows[-2][1], 2)
    ('peak int8 TOPS (derived: 2 R C f)', 91.75)
    """
    rows = [(label, getattr(spec, name), unit, src) for name, (label, unit, src) in SOURCES.items()]
    rows.append(("peak int8 TOPS (derived: 2 R C f)", spec.peak_tops, "TOPS", "derived"))
    rows.append(("ridge point (derived: R C f / bandwidth)", spec.ridge_point, "MACs per weight byte", "derived"))
    return rows


@dataclass(frozen=True)
class HostChip:
    """A contemporary host chip of the paper (Table 2), for the FP32 baseline."""

    name: str
    peak_fp_ops: float       # Table 2, TOPS/s FP (counting multiply and add)
    bandwidth: float         # Table 2, GB/s
    tdp_w: float             # Table 2
    idle_w: float            # Table 2, measured
    busy_w: float            # Table 2, measured


#: Intel Haswell E5-2699 v3 die (Table 2): 1.3 FP TOPS/s, 51 GB/s, 145 W TDP, 41 W idle, 145 W busy.
HASWELL = HostChip("Haswell E5-2699 v3 (per die)", 1.3e12, 51e9, 145.0, 41.0, 145.0)
#: NVIDIA K80 die (Table 2): 2.8 FP TOPS/s, 160 GB/s, 150 W TDP, 25 W idle, 98 W busy.
K80 = HostChip("NVIDIA K80 (per die)", 2.8e12, 160e9, 150.0, 25.0, 98.0)

#: Table 1 of the paper: (layers, weights, TPU batch) of the six production networks.
PAPER_BENCHMARKS = {
    "MLP0": dict(layers=5, weights=20_000_000, batch=200),
    "MLP1": dict(layers=4, weights=5_000_000, batch=168),
}

# Horowitz, "Computing's energy problem", ISSCC 2014 (45 nm): energy per operation, pJ.
# Used only for the *relative* arithmetic energy of MACs vs rescaling, never for totals.
PJ_INT8_MULT, PJ_INT8_ADD, PJ_INT32_MULT, PJ_INT32_ADD = 0.2, 0.03, 3.1, 0.1


def mlp0_layers(batch: int | None = None) -> list[tuple[int, int]]:
    """MLP0 of Table 1 as dense ``(in, out)`` shapes: 5 fully connected layers, 20 M weights.

    Table 1 gives the layer count and weight total, not the widths: we assume five equal
    square layers of 2000 x 2000 (5 x 4 M = 20 M weights). Introduced in lesson ``13_tpu_v1_capstone``.

    Examples
    --------
    >>> sum(i * o for i, o in mlp0_layers())
    20000000
    """
    width = int(math.isqrt(PAPER_BENCHMARKS["MLP0"]["weights"] // PAPER_BENCHMARKS["MLP0"]["layers"]))
    return [(width, width)] * PAPER_BENCHMARKS["MLP0"]["layers"]


@dataclass(frozen=True)
class LayerCost:
    """Cost of one dense layer on the TPU v1 model (see :func:`layer_cost`)."""

    batch: int
    in_features: int
    out_features: int
    tiles: int
    weight_bytes: int
    compute_cycles: int
    memory_cycles: int
    rescale_cycles: int
    fill_cycles: int
    cycles: int
    macs: int
    bound: str
    rescale_share_of_arith_energy: float
    extra: dict = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return self.cycles / TPU_V1.clock_hz

    @property
    def mxu_utilization(self) -> float:
        return self.macs / (self.cycles * TPU_V1.macs_per_cycle)

    @property
    def ops_per_weight_byte(self) -> float:
        """MACs per weight byte read: the paper's operational intensity."""
        return self.macs / self.weight_bytes


def layer_cost(batch: int, in_features: int, out_features: int, *, per_channel: bool = False,
               weight_zero_point: bool = False, activation_bits: int = 8, weight_bits: int = 8,
               spec: TPUv1 = TPU_V1) -> LayerCost:
    """Cycles of one dense layer ``(batch, in) @ (in, out)`` on the TPU v1, with rescaling.

    Introduced in lesson ``13_tpu_v1_capstone``.

    Parameters
    ----------
    batch, in_features, out_features : int >= 1
    per_channel : bool
        One rescale multiplier per output channel instead of one per tensor.
    weight_zero_point : bool
        Asymmetric weights: a run-time row-sum correction (see :func:`qlearn.intops.zero_point_terms`).
    activation_bits, weight_bits : 8 or 16
        Operand widths (16-bit operands run at half / quarter speed, Sec. 2).
    spec : TPUv1

    Returns
    -------
    LayerCost

    Notes
    -----
    Assumptions (the paper gives the parts, not a timing model):

    1. The weights are cut into ``T = ceil(in/R) ceil(out/C)`` tiles of ``R x C``; DDR3 reads
       the real weight bytes of each tile (``k_r n_c b_w / 8``) at 34 GB/s, while the matrix
       unit is occupied by a whole tile whatever its fill.
    2. Per tile the matrix unit streams ``batch`` activation vectors, one per cycle, at the
       operand speed factor: ``batch / speed`` cycles; shifting the next tile in takes 256
       cycles and is double-buffered (Sec. 2), so a tile costs at least 256 cycles.
    3. The weight FIFO (4 tiles) lets DDR3 reads overlap compute: in steady state a tile
       costs ``max(compute, shift-in, DDR3 read)`` cycles; per layer add the first tile's
       shift-in (256) and the wavefront's fill and drain (``R + C - 2``): for one tile this is
       exactly :func:`qlearn.systolic.cycle_count` with ``overlap=True``. Layers do not
       overlap (a layer needs the previous layer's outputs).
    4. Rescaling (``int32 -> int8``: a 32x32-bit multiply, a rounding shift, the zero-point
       add and a clamp per output, :func:`qlearn.intops.requantize`) runs in the activation
       pipeline one 256-wide vector per cycle, overlapped with the next tile's matmul; only
       the last column tile's ``batch`` vectors are exposed. Per channel, the pipeline also
       reads one vector of multipliers and one of shifts per column tile (2 cycles each).
       The paper does not publish how TPU v1 rescales; this is the gemmlowp scheme put on
       a 256-wide vector unit.
    5. Asymmetric weights need ``-z_w sum_k q_x``: one extra ``batch``-vector pass through
       the vector unit per column tile (row sums reuse the matrix unit with a ones column).
    """
    B = check_int(batch, "batch", 1, 2**20)
    K = check_int(in_features, "in_features", 1, 2**24)
    N = check_int(out_features, "out_features", 1, 2**24)
    speed = spec.operand_speed(activation_bits, weight_bits)
    R, C = spec.rows, spec.cols
    kt, nt = math.ceil(K / R), math.ceil(N / C)
    tiles = kt * nt
    weight_bytes = K * N * weight_bits // 8
    bytes_per_cycle = spec.weight_bandwidth / spec.clock_hz
    k_sizes = [min(R, K - k0) for k0 in range(0, K, R)]
    n_sizes = [min(C, N - n0) for n0 in range(0, N, C)]
    tile_mem = np.array([kr * nc * weight_bits / 8 / bytes_per_cycle for kr in k_sizes for nc in n_sizes])
    per_tile_compute = B / speed
    per_tile = np.maximum(max(per_tile_compute, spec.tile_shift_cycles), tile_mem)
    per_tile_mem = float(tile_mem.max())
    compute_cycles = math.ceil(tiles * per_tile_compute)
    memory_cycles = math.ceil(tile_mem.sum())
    fill = spec.tile_shift_cycles + R + C - 2     # first tile's shift-in, then wavefront fill and drain
    # exposed: the last column tile's batch vectors; per channel, 2 parameter vectors per column
    # tile; asymmetric weights, one more batch-vector pass per column tile (both pessimistic: not hidden)
    rescale_cycles = B + (2 * nt if per_channel else 0) + (nt * B if weight_zero_point else 0)
    cycles = math.ceil(per_tile.sum()) + fill + rescale_cycles
    bound = "memory (DDR3)" if per_tile_mem >= max(per_tile_compute, spec.tile_shift_cycles) else (
        "compute" if per_tile_compute >= spec.tile_shift_cycles else "weight shift-in")
    ops = rescale_op_counts(B, N, K, per_channel=per_channel, weight_zero_point=weight_zero_point)
    mac_e = ops["macs"] * (PJ_INT8_MULT + PJ_INT32_ADD)
    rescale_e = (ops["requant_muls"] + ops["row_sum_muls"]) * PJ_INT32_MULT + (
        ops["requant_shifts_adds"] + ops["row_sum_adds"]) * PJ_INT32_ADD
    return LayerCost(batch=B, in_features=K, out_features=N, tiles=tiles, weight_bytes=weight_bytes,
                     compute_cycles=compute_cycles, memory_cycles=memory_cycles, rescale_cycles=rescale_cycles,
                     fill_cycles=fill, cycles=cycles, macs=B * K * N, bound=bound,
                     rescale_share_of_arith_energy=rescale_e / (mac_e + rescale_e),
                     extra=dict(per_tile=float(per_tile.mean()), speed=speed,
                                multiplier_params=ops["multiplier_params"]))


@dataclass(frozen=True)
class ModelCost:
    """A whole network on the TPU v1 model: latency, energy, throughput and performance per watt."""

    layers: tuple
    batch: int
    cycles: int
    seconds: float
    pcie_seconds: float
    latency_s: float
    macs: int
    power_w: float
    energy_j: float
    inferences_per_s: float
    tops: float
    tops_per_watt: float
    inferences_per_joule: float
    rescale_cycles: int
    rescale_share_of_arith_energy: float

    @property
    def mxu_utilization(self) -> float:
        return self.macs / (self.cycles * TPU_V1.macs_per_cycle)


def model_cost(layer_shapes, batch: int, *, per_channel: bool = False, weight_zero_point: bool = False,
               activation_bits: int = 8, weight_bits: int = 8, spec: TPUv1 = TPU_V1) -> ModelCost:
    """Latency and energy of a stack of dense layers ``[(in, out), ...]`` at ``batch`` on the TPU v1.

    Introduced in lesson ``13_tpu_v1_capstone``.

    Notes
    -----
    End-to-end latency = the layers' cycles / clock + PCIe transfer of the 8-bit inputs in
    and the outputs back (Fig. 1: 14 GiB/s). Energy = die power x time, with power linear
    between measured idle (28 W) and busy (40 W) by matrix-unit utilization (an assumption;
    the paper's Fig. 10 shows TPU v1 power is poorly proportional to load). Host power is
    not included. ``tops`` counts 2 ops per MAC, as the paper's 92 TOPS does.

    Examples
    --------
    >>> c = model_cost(mlp0_layers(), 200)
    >>> round(c.tops, 1)      # memory bound: under 2 * 200 MACs per byte * 34 GB/s = 13.6
    13.4
    """
    shapes = [(check_int(i, "in_features", 1, 2**24), check_int(o, "out_features", 1, 2**24))
              for i, o in layer_shapes]
    if not shapes:
        raise ValueError("layer_shapes is empty: give at least one (in, out) pair")
    for (_, o), (i2, _) in zip(shapes, shapes[1:]):
        if o != i2:
            raise ValueError(f"layer_shapes do not chain: a layer with {o} outputs feeds one with {i2} inputs")
    B = check_int(batch, "batch", 1, 2**20)
    costs = tuple(layer_cost(B, i, o, per_channel=per_channel, weight_zero_point=weight_zero_point,
                             activation_bits=activation_bits, weight_bits=weight_bits, spec=spec)
                  for i, o in shapes)
    cycles = sum(c.cycles for c in costs)
    seconds = cycles / spec.clock_hz
    io_bytes = B * (shapes[0][0] * activation_bits // 8 + shapes[-1][1] * 4)
    pcie = io_bytes / spec.pcie_bandwidth
    macs = sum(c.macs for c in costs)
    util = macs / (cycles * spec.macs_per_cycle)
    power = spec.power_w(util)
    energy = power * seconds
    mac_share = np.average([c.rescale_share_of_arith_energy for c in costs], weights=[c.macs for c in costs])
    return ModelCost(layers=costs, batch=B, cycles=cycles, seconds=seconds, pcie_seconds=pcie,
                     latency_s=seconds + pcie, macs=macs, power_w=power, energy_j=energy,
                     inferences_per_s=B / seconds, tops=2 * macs / seconds / 1e12,
                     tops_per_watt=2 * macs / seconds / 1e12 / power, inferences_per_joule=B / energy,
                     rescale_cycles=sum(c.rescale_cycles for c in costs),
                     rescale_share_of_arith_energy=float(mac_share))


def host_fp32_cost(layer_shapes, batch: int, chip: HostChip = HASWELL) -> dict:
    """FP32 on a host chip of the paper (TPU v1 has no float matrix unit): an optimistic roofline.

    Introduced in lesson ``13_tpu_v1_capstone``.

    Time = ``max(2 MACs / peak FP ops, 4-byte weights / bandwidth)`` per layer: the chip's
    own roofline, an upper bound on what it achieves (the paper measures far less). Power =
    the measured busy power of Table 2.

    Examples
    --------
    >>> r = host_fp32_cost(mlp0_layers(), 200)
    >>> r["bound"]
    'compute'
    """
    B = check_int(batch, "batch", 1, 2**20)
    t = 0.0
    macs = 0
    bound = "compute"
    for i, o in layer_shapes:
        m = B * i * o
        tc = 2 * m / chip.peak_fp_ops
        tm = 4 * i * o / chip.bandwidth
        if tm > tc:
            bound = "memory"
        t += max(tc, tm)
        macs += m
    return dict(chip=chip.name, seconds=t, latency_s=t, inferences_per_s=B / t, tops=2 * macs / t / 1e12,
                power_w=chip.busy_w, tops_per_watt=2 * macs / t / 1e12 / chip.busy_w,
                inferences_per_joule=B / (t * chip.busy_w), bound=bound)


def roofline(intensity, spec: TPUv1 = TPU_V1) -> np.ndarray:
    """Attainable TOPS at ``intensity`` MACs per weight byte: ``min(peak, 2 * intensity * BW)``.

    Introduced in lesson ``13_tpu_v1_capstone``.

    Examples
    --------
    >>> float(roofline(TPU_V1.ridge_point)) == TPU_V1.peak_tops
    True
    >>> round(float(roofline(200)), 1)       # MLP0 at batch 200: 2 * 200 * 34 GB/s
    13.6
    """
    x = np.asarray(intensity, dtype=np.float64)
    if np.any(~np.isfinite(x)) or np.any(x < 0):
        raise ValueError("intensity must be finite and >= 0 (MACs per weight byte)")
    return np.minimum(spec.peak_ops, 2 * x * spec.weight_bandwidth) / 1e12


CAPSTONE_CONFIGS = (
    ("per-tensor", False, "entropy"),
    ("per-tensor", False, "mse"),
    ("per-channel", True, "entropy"),
    ("per-channel", True, "mse"),
)
CALIBRATION_LABELS = {"entropy": "histogram (KL)", "mse": "MSE", "percentile": "histogram (99.99th pct)"}


def capstone_table(*, batch: int = 200, benchmark: str = "course", model=None, data=None,
                   calibrations=("entropy", "mse")) -> list[dict]:
    """The capstone's answer: accuracy, latency and perf/watt over scheme x calibration, plus FP32.

    Introduced in lesson ``13_tpu_v1_capstone``.

    Parameters
    ----------
    batch : int >= 1
    benchmark : {'course', 'MLP0'}
        The course's MLP (accuracy measured on the digits test set) or MLP0 of Table 1
        (shapes assumed by :func:`mlp0_layers`; no public weights, so no accuracy).
    model, data : optional
        The float MLP and the Digits data (default: ``qlearn.nn.pretrained()``,
        ``qlearn.data.load_digits()``).
    calibrations : two of ``('entropy', 'mse', 'percentile', 'minmax')``
        Histogram (KL-divergence) and MSE calibration by default.

    Returns
    -------
    list of dict
        One row per configuration: ``scheme``, ``calibration``, ``hardware``, ``accuracy``
        and ``agreement`` (share of test images classified as the float model does; None for
        MLP0), ``latency_us``, ``inferences_per_s``, ``tops``, ``tops_per_watt``,
        ``inferences_per_joule``, ``rescale_cycles``, ``rescale_share``. The last row is
        FP32 on the Haswell host (the TPU v1 cannot run float matmuls).
    """
    B = check_int(batch, "batch", 1, 2**20)
    if benchmark not in ("course", "MLP0"):
        raise ValueError(f"benchmark must be 'course' or 'MLP0', got {benchmark!r}")
    if benchmark == "course":
        from qlearn import data as qdata
        from qlearn import nn, ptq
        model = model if model is not None else nn.pretrained()
        data = data if data is not None else qdata.load_digits()
        shapes = [(layer.W.shape[1], layer.W.shape[0]) for layer in model.layers]
        float_acc = model.accuracy(data.X_test, data.y_test)
    else:
        shapes = mlp0_layers()
        float_acc = None
    rows = []
    for scheme, per_channel in (("per-tensor", False), ("per-channel", True)):
        cost = model_cost(shapes, B, per_channel=per_channel)
        for cal in calibrations:
            acc = agree = None
            if benchmark == "course":
                q = ptq.quantize_model(model, mode="full_integer", bits=8, per_channel=per_channel,
                                       calibration=cal, calib_data=data.X_calib)
                acc = q.accuracy(data.X_test, data.y_test)
                agree = q.agreement(data.X_test, model)
            rows.append(dict(scheme=scheme, calibration=CALIBRATION_LABELS.get(cal, cal), hardware="TPU v1 int8",
                             accuracy=acc, agreement=agree, latency_us=cost.latency_s * 1e6,
                             inferences_per_s=cost.inferences_per_s,
                             tops=cost.tops, tops_per_watt=cost.tops_per_watt,
                             inferences_per_joule=cost.inferences_per_joule, rescale_cycles=cost.rescale_cycles,
                             rescale_share=cost.rescale_share_of_arith_energy, cycles=cost.cycles))
    host = host_fp32_cost(shapes, B, HASWELL)
    rows.append(dict(scheme="FP32 (no quantization)", calibration="-", hardware="Haswell host (TPU v1: no float)",
                     accuracy=float_acc, agreement=None if float_acc is None else 1.0,
                     latency_us=host["latency_s"] * 1e6, inferences_per_s=host["inferences_per_s"],
                     tops=host["tops"], tops_per_watt=host["tops_per_watt"],
                     inferences_per_joule=host["inferences_per_joule"], rescale_cycles=0, rescale_share=0.0,
                     cycles=None))
    return rows


def format_table(rows: list[dict]) -> str:
    """The capstone rows as an HTML table (for a notebook cell or a Voila page)."""
    head = ["scheme", "calibration", "hardware", "accuracy", "agrees with FP32", "latency (us)", "inferences/s", "TOPS",
            "TOPS/W", "rescale cycles", "rescale share of arith. energy"]
    out = ["<table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"]
    for r in rows:
        acc = "n/a" if r["accuracy"] is None else f"{100 * r['accuracy']:.2f}%"
        agr = "n/a" if r.get("agreement") is None else f"{100 * r['agreement']:.2f}%"
        cells = [r["scheme"], r["calibration"], r["hardware"], acc, agr, f"{r['latency_us']:.2f}",
                 f"{r['inferences_per_s']:.3g}", f"{r['tops']:.3g}", f"{r['tops_per_watt']:.3g}",
                 str(r["rescale_cycles"]), f"{100 * r['rescale_share']:.2f}%"]
        out.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return "\n".join(out) + "</table>"

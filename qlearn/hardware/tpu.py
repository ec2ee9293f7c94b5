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
assumptions in its docstring; it is not a cycle-accurate simulator of the chip. Against the
paper's measured throughput (Table 3) it is optimistic by 9% (MLP0) and 13% (MLP1):
:func:`validate_against_paper`.

Power follows the paper's measurements: 28 W idle, 40 W busy (Table 2) and 88% of full-load
power at 10% offered load (Sec. 6), as a function of offered load, not of matrix-unit
utilization (:meth:`TPUv1.power_w`); totals add the host server's share (Table 2).
:func:`fp16_variant` (the same chip without int8) and the 8-bit host row of
:func:`hardware_costs` separate "CPU -> TPU" from "FP -> int8"; :data:`TPU_PRIME` is the
paper's GDDR5 thought experiment (Sec. 7).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from qlearn._validate import check_int
from qlearn.hardware.intops import rescale_op_counts

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
    server_tdp_w: float = 861.0          # Table 2: server with 4 TPUs, TDP
    dies_per_server: int = 4             # Table 2
    power_at_10pct_load: float = 0.88    # Sec. 6 (Fig. 10, CNN0): at 10% load, 88% of the full-load power
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

    def power_w(self, load: float = 1.0) -> float:
        """Die power (W) at an offered ``load`` in [0, 1], as the paper measured it (Table 2, Sec. 6).

        ``load`` is the offered workload: the fraction of time the TPU has work queued (the
        paper's Fig. 10 varies it from 0% to 100%), *not* the matrix unit's utilization. A
        network run back to back, like MLP0 at batch 200, is full load: 40 W, although its
        matrix unit does useful MACs only ~15% of the time (memory bound).

        Measured points: idle 28 W (Table 2), 10% load = 88% of full-load power (Sec. 6:
        "at 10% load, the TPU uses 88% of the power it uses at 100%"), full load 40 W
        (Table 2, busy). Between them the curve is interpolated linearly (an assumption).
        The TPU v1 is poorly energy proportional: 35.2 W already at 10% load.

        Examples
        --------
        >>> TPU_V1.power_w(1.0), TPU_V1.power_w(0.0), round(TPU_V1.power_w(0.1), 2)
        (40.0, 28.0, 35.2)
        """
        try:
            u = float(load)
        except (TypeError, ValueError):
            raise TypeError(f"load must be a number in [0, 1] (offered workload), got {load!r}") from None
        if not 0.0 <= u <= 1.0:
            raise ValueError(f"load must be in [0, 1] (offered workload fraction), got {load!r}")
        p10 = self.power_at_10pct_load * self.busy_w
        return float(np.interp(u, [0.0, 0.1, 1.0], [self.idle_w, p10, self.busy_w]))

    @property
    def total_busy_w_per_die(self) -> float:
        """Measured busy power of the whole server (host included) per TPU die: 384 W / 4 (Table 2)."""
        return self.server_busy_w / self.dies_per_server


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
    "server_tdp_w": ("server (4 TPUs + host) TDP", "W", "Table 2"),
    "power_at_10pct_load": ("power at 10% load / power at 100%", "", "Sec. 6"),
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
    """A contemporary chip of the paper (Table 2), for the FP32 baseline."""

    name: str
    peak_fp_ops: float       # Table 2, TOPS/s FP (counting multiply and add)
    bandwidth: float         # Table 2, GB/s
    tdp_w: float             # Table 2, die
    idle_w: float            # Table 2, die, measured
    busy_w: float            # Table 2, die, measured
    server_tdp_w: float      # Table 2, benchmarked server
    server_busy_w: float     # Table 2, benchmarked server, measured
    dies_per_server: int     # Table 2

    @property
    def total_busy_w_per_die(self) -> float:
        """Measured busy power of the whole server per die (Table 2)."""
        return self.server_busy_w / self.dies_per_server


#: Intel Haswell E5-2699 v3 die (Table 2): 1.3 FP TOPS/s, 51 GB/s, 145 W TDP, 41 W idle, 145 W busy;
#: its server: 2 dies, 504 W TDP, 455 W busy.
HASWELL = HostChip("Haswell E5-2699 v3 (per die)", 1.3e12, 51e9, 145.0, 41.0, 145.0, 504.0, 455.0, 2)
#: NVIDIA K80 die (Table 2): 2.8 FP TOPS/s, 160 GB/s, 150 W TDP, 25 W idle, 98 W busy; server: 8 dies,
#: 1838 W TDP, 991 W busy.
K80 = HostChip("NVIDIA K80 (per die)", 2.8e12, 160e9, 150.0, 25.0, 98.0, 1838.0, 991.0, 8)

#: Sec. 8: 8-bit (AVX2 integer) on the Haswell CPU, measured for one DNN: "The benefit was ~3.5X".
HASWELL_INT8_SPEEDUP = 3.5

#: TPU' (Sec. 7): GDDR5 weight memory "would improve Weight Memory bandwidth by more than a factor of
#: five, shifting its roofline ridge point from 1350 to 250": bandwidth = 65,536 x 700 MHz / 250 =
#: 183.5 GB/s (5.4x the DDR3's 34 GB/s; the K80's own 160 GB/s would be only 4.7x). GDDR5 costs "an
#: additional 10W" per TPU (Sec. 8): busy 50 W. Same clock (Sec. 7: TPU' "just has faster memory").
TPU_PRIME = TPUv1(weight_bandwidth=256 * 256 * 700e6 / 250, busy_w=50.0)

#: Sec. 1 (citing Dally 2016): "Eight-bit integer multiplies can be 6X less energy and 6X less area
#: than IEEE 754 16-bit floating-point multiplies".
FP16_MULT_COST_RATIO = 6.0


def fp16_variant(spec: TPUv1 = TPU_V1, cost_ratio: float = FP16_MULT_COST_RATIO) -> TPUv1:
    """A TPU-like chip without int8: FP16 MACs in the matrix unit's area, everything else the same.

    Introduced in lesson ``13_tpu_v1_capstone``: it separates "CPU -> TPU" from "FP -> int8".

    Assumptions (stated, not measured; the paper built no such chip):

    1. An FP16 multiplier costs ``cost_ratio`` = 6x the area and energy of an 8-bit integer one
       (Sec. 1). In the same matrix-unit area fit ``1/6`` of the MACs: a square array of
       ``floor(256 / sqrt(6)) = 104`` per side (10,816 MACs), at the same clock. Its weight tile
       shifts in in 104 cycles.
    2. The same die power (40 W busy): 1/6 the multipliers at 6x the energy each; the same
       DDR3 (34 GB/s), buffers and host. The wider FP32 accumulators and adders are ignored,
       which favours this chip.
    3. Weights and activations are 2 bytes: use it with ``activation_bits=16, weight_bits=16``
       (it runs 16 x 16 at full speed).

    Examples
    --------
    >>> f = fp16_variant()
    >>> f.rows, f.macs_per_cycle, f.operand_speed(16, 16)
    (104, 10816, 1.0)
    """
    ratio = float(cost_ratio)
    if not (math.isfinite(ratio) and ratio >= 1):
        raise ValueError(f"cost_ratio must be a finite number >= 1, got {cost_ratio!r}")
    side = int(spec.rows / math.sqrt(ratio))
    return replace(spec, rows=side, cols=side, tile_shift_cycles=side, speed_8x16=1.0, speed_16x16=1.0)

#: Table 1 of the paper: (layers, weights, TPU batch) of the two MLPs, and what the paper measured on the
#: TPU die: Table 3 row 9 (TeraOps/s of production code, host server overhead excluded), Table 3 row 1
#: (array active cycles), Table 6 (performance relative to the Haswell die, host overhead included).
#: ``non_matrix_cycles``: Table 3 row 6. ``paper_model_error``: Table 7, the paper's own performance
#: model against its hardware counters (difference in clock cycles).
PAPER_BENCHMARKS = {
    "MLP0": dict(layers=5, weights=20_000_000, batch=200, measured_tops=12.3, active_cycles=0.127,
                 non_matrix_cycles=0.175, relative_to_cpu=41.0, paper_model_error=0.068),
    "MLP1": dict(layers=4, weights=5_000_000, batch=168, measured_tops=9.7, active_cycles=0.106,
                 non_matrix_cycles=0.319, relative_to_cpu=18.5, paper_model_error=0.109),
}
#: Table 4: MLP0 inferences per second per die (host time included) and the batch: the TPU at batch 200
#: (7.0 ms, 80% of its maximum 280,000 at batch 250), the Haswell CPU at batch 16 under the 7 ms limit
#: (42% of its maximum 13,194 at batch 64).
PAPER_MLP0_IPS = dict(tpu=225_000, tpu_max=280_000, cpu=5_482, cpu_max=13_194)
#: Table 6: geometric and weighted means over the six apps of the TPU die's performance relative to
#: the Haswell die (host overhead included).
PAPER_TPU_RELATIVE_GM, PAPER_TPU_RELATIVE_WM = 14.5, 29.2

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
    return _square_layers("MLP0")


def mlp1_layers() -> list[tuple[int, int]]:
    """MLP1 of Table 1 as dense ``(in, out)`` shapes: 4 fully connected layers, 5 M weights.

    Assumed: four equal square layers of 1118 x 1118 (4,999,696 weights). Introduced in lesson
    ``13_tpu_v1_capstone``.

    Examples
    --------
    >>> mlp1_layers()[0], len(mlp1_layers())
    ((1118, 1118), 4)
    """
    return _square_layers("MLP1")


def _square_layers(name: str) -> list[tuple[int, int]]:
    b = PAPER_BENCHMARKS[name]
    width = int(math.isqrt(b["weights"] // b["layers"]))
    return [(width, width)] * b["layers"]


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
    clock_hz: float = TPU_V1.clock_hz
    macs_per_cycle: int = TPU_V1.macs_per_cycle

    @property
    def seconds(self) -> float:
        return self.cycles / self.clock_hz

    @property
    def mxu_utilization(self) -> float:
        """Useful MACs / (cycles x MACs per cycle) of the chip it was computed for."""
        return self.macs / (self.cycles * self.macs_per_cycle)

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
        Asymmetric weights: a run-time row-sum correction (see :func:`qlearn.hardware.intops.zero_point_terms`).
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
       exactly :func:`qlearn.hardware.systolic.cycle_count` with ``overlap=True``. Layers do not
       overlap (a layer needs the previous layer's outputs).
    4. Rescaling (``int32 -> int8``: a 32x32-bit multiply, a rounding shift, the zero-point
       add and a clamp per output, :func:`qlearn.hardware.intops.requantize`) runs in the activation
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
                                multiplier_params=ops["multiplier_params"]),
                     clock_hz=spec.clock_hz, macs_per_cycle=spec.macs_per_cycle)


@dataclass(frozen=True)
class ModelCost:
    """A whole network on the TPU v1 model: latency, energy, throughput and performance per watt.

    ``power_w`` is the die's power at the offered ``load``; ``power_total_w`` adds the host
    server's share (Table 2: the 4-TPU server's measured busy power per die minus the die's).
    Throughput at a load below 1 is ``load x inferences_per_s``; ``inferences_per_joule`` and
    ``tops_per_watt`` count it, so idle time costs energy, as Sec. 6 measured.
    """

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
    load: float = 1.0
    power_total_w: float = float("nan")
    inferences_per_joule_total: float = float("nan")
    macs_per_cycle: int = TPU_V1.macs_per_cycle

    @property
    def mxu_utilization(self) -> float:
        """Useful MACs / (cycles x MACs per cycle) while running: not the offered load."""
        return self.macs / (self.cycles * self.macs_per_cycle)


def model_cost(layer_shapes, batch: int, *, per_channel: bool = False, weight_zero_point: bool = False,
               activation_bits: int = 8, weight_bits: int = 8, load: float = 1.0,
               spec: TPUv1 = TPU_V1) -> ModelCost:
    """Latency and energy of a stack of dense layers ``[(in, out), ...]`` at ``batch`` on the TPU v1.

    Introduced in lesson ``13_tpu_v1_capstone``.

    Parameters
    ----------
    layer_shapes : list of (in, out)
    batch : int >= 1
    per_channel, weight_zero_point, activation_bits, weight_bits
        As in :func:`layer_cost`.
    load : float in (0, 1]
        Offered workload: the share of time the chip has work. 1 = batches back to back.
    spec : TPUv1

    Notes
    -----
    End-to-end latency = the layers' cycles / clock + PCIe transfer of the 8-bit inputs in
    and the outputs back (Fig. 1: 14 GiB/s). Die power = :meth:`TPUv1.power_w` at ``load``
    (measured: 28 W idle, 35.2 W at 10% load, 40 W at full load; Table 2, Sec. 6). Energy per
    inference = power / (load x inferences per second). Total power adds the host server's
    share per die, ``384 / 4 - 40 = 56 W`` (Table 2, measured busy), taken as constant.
    ``tops`` counts 2 ops per MAC, as the paper's 92 TOPS does.

    Examples
    --------
    >>> c = model_cost(mlp0_layers(), 200)
    >>> round(c.tops, 1)      # memory bound: under 2 * 200 MACs per byte * 34 GB/s = 13.6
    13.4
    >>> c.power_w, c.power_total_w     # back to back = full load, although the MXU is 15% busy
    (40.0, 96.0)
    """
    shapes = [(check_int(i, "in_features", 1, 2**24), check_int(o, "out_features", 1, 2**24))
              for i, o in layer_shapes]
    if not shapes:
        raise ValueError("layer_shapes is empty: give at least one (in, out) pair")
    for (_, o), (i2, _) in zip(shapes, shapes[1:]):
        if o != i2:
            raise ValueError(f"layer_shapes do not chain: a layer with {o} outputs feeds one with {i2} inputs")
    B = check_int(batch, "batch", 1, 2**20)
    try:
        load = float(load)
    except (TypeError, ValueError):
        raise TypeError(f"load must be a number in (0, 1] (offered workload), got {load!r}") from None
    if not 0.0 < load <= 1.0:
        raise ValueError(f"load must be in (0, 1] (offered workload fraction), got {load!r}")
    costs = tuple(layer_cost(B, i, o, per_channel=per_channel, weight_zero_point=weight_zero_point,
                             activation_bits=activation_bits, weight_bits=weight_bits, spec=spec)
                  for i, o in shapes)
    cycles = sum(c.cycles for c in costs)
    seconds = cycles / spec.clock_hz
    io_bytes = B * (shapes[0][0] * activation_bits // 8 + shapes[-1][1] * 4)
    pcie = io_bytes / spec.pcie_bandwidth
    macs = sum(c.macs for c in costs)
    power = spec.power_w(load)
    power_total = power + (spec.total_busy_w_per_die - spec.busy_w)
    ips = B / seconds
    tops = 2 * macs / seconds / 1e12
    mac_share = np.average([c.rescale_share_of_arith_energy for c in costs], weights=[c.macs for c in costs])
    return ModelCost(layers=costs, batch=B, cycles=cycles, seconds=seconds, pcie_seconds=pcie,
                     latency_s=seconds + pcie, macs=macs, power_w=power, energy_j=power * seconds / load,
                     inferences_per_s=ips, tops=tops, tops_per_watt=load * tops / power,
                     inferences_per_joule=load * ips / power,
                     rescale_cycles=sum(c.rescale_cycles for c in costs),
                     rescale_share_of_arith_energy=float(mac_share), load=load, power_total_w=power_total,
                     inferences_per_joule_total=load * ips / power_total, macs_per_cycle=spec.macs_per_cycle)


def gemm_model_cost(gemms, batch: int, *, per_channel: bool = False, activation_bits: int = 8,
                    weight_bits: int = 8, spec: TPUv1 = TPU_V1) -> dict:
    """A convolutional network on the TPU v1 model, layer by layer as im2col matrix products.

    Introduced in lesson ``13_tpu_v1_capstone``.

    Parameters
    ----------
    gemms : list of (kind, rows, K, N, groups)
        :func:`qlearn.networks.convnet.gemm_shapes`: per image, ``groups`` products ``(rows, K) @ (K, N)``.
    batch : int >= 1
        Images per batch: each product streams ``batch x rows`` activation vectors.
    per_channel, activation_bits, weight_bits, spec
        As in :func:`layer_cost`.

    Returns
    -------
    dict
        ``layers``: per layer ``kind, rows, K, N, groups, cycles, macs, utilization``;
        ``cycles``, ``latency_us`` (PCIe excluded), ``inferences_per_s``, ``macs`` (per batch),
        ``utilization`` (useful MACs / (cycles x 65,536)), ``inferences_per_joule`` (die at
        full load, 40 W), ``rescale_cycles`` and ``rescale_share`` (of the arithmetic energy,
        MAC-weighted over the layers, as :func:`model_cost`).

    Notes
    -----
    Each product is a dense layer of :func:`layer_cost` with ``batch x rows`` vectors; the
    ``groups`` products of a depthwise layer run one after another, each occupying the whole
    array for a ``K x 1`` weight tile (the array has no way to use its other columns for
    them). Layers do not overlap. This is the model's assumption, not a measured TPU figure.

    Examples
    --------
    >>> c = gemm_model_cost([("depthwise", 16, 9, 1, 8)], 8)
    >>> c["layers"][0]["utilization"] < 0.001     # 9 of 65,536 MACs busy while a tile streams
    True
    """
    B = check_int(batch, "batch", 1, 2**20)
    rows_out, cycles, macs, rescale, share = [], 0, 0, 0, 0.0
    for g in gemms:
        try:
            kind, r, K, N, groups = g
        except (TypeError, ValueError):
            raise TypeError(f"each entry of gemms must be (kind, rows, K, N, groups), got {g!r}") from None
        r, groups = check_int(r, "rows", 1, 2**24), check_int(groups, "groups", 1, 2**20)
        c = layer_cost(B * r, K, N, per_channel=per_channel, activation_bits=activation_bits,
                       weight_bits=weight_bits, spec=spec)
        layer_cycles, layer_macs = groups * c.cycles, groups * c.macs
        rows_out.append(dict(kind=str(kind), rows=r, K=c.in_features, N=c.out_features, groups=groups,
                             cycles=layer_cycles, macs=layer_macs,
                             utilization=layer_macs / (layer_cycles * spec.macs_per_cycle)))
        cycles += layer_cycles
        macs += layer_macs
        rescale += groups * c.rescale_cycles
        share += layer_macs * c.rescale_share_of_arith_energy
    if not rows_out:
        raise ValueError("gemms is empty: give at least one layer")
    seconds = cycles / spec.clock_hz
    return dict(layers=rows_out, cycles=cycles, latency_us=seconds * 1e6, inferences_per_s=B / seconds,
                macs=macs, utilization=macs / (cycles * spec.macs_per_cycle),
                inferences_per_joule=B / seconds / spec.power_w(1.0), rescale_cycles=rescale,
                rescale_share=share / macs)


def format_gemm_cost(cost: dict) -> str:
    """:func:`gemm_model_cost` as an HTML table: each layer's matrix products, cycles and array use."""
    out = ["<table><tr><th>layer</th><th>products per image</th><th>cycles</th><th>share of cycles</th>"
           "<th>share of MACs</th><th>array busy</th></tr>"]
    for i, L in enumerate(cost["layers"]):
        shape = f"{L['groups']} x ({L['rows']} x {L['K']}) @ ({L['K']} x {L['N']})"
        out.append(f"<tr><td>{i} {L['kind']}</td><td>{shape}</td><td>{L['cycles']:,}</td>"
                   f"<td>{100 * L['cycles'] / cost['cycles']:.1f}%</td><td>{100 * L['macs'] / cost['macs']:.1f}%</td>"
                   f"<td>{100 * L['utilization']:.3f}%</td></tr>")
    out.append(f"<tr><td>all</td><td></td><td>{cost['cycles']:,}</td><td>100%</td><td>100%</td>"
               f"<td>{100 * cost['utilization']:.3f}%</td></tr></table>")
    return "\n".join(out)


def host_fp32_cost(layer_shapes, batch: int, chip: HostChip = HASWELL) -> dict:
    """FP32 on a host chip of the paper (TPU v1 has no float matrix unit): an optimistic roofline.

    Introduced in lesson ``13_tpu_v1_capstone``.

    Time = ``max(2 MACs / peak FP ops, 4-byte weights / bandwidth)`` per layer: the chip's
    own roofline, an upper bound on what it achieves (the paper measures far less). Power =
    the die's measured busy power (Table 2); ``power_total_w`` is the benchmarked server's
    measured busy power per die (Haswell: 455 W / 2).

    Examples
    --------
    >>> r = host_fp32_cost(mlp0_layers(), 200)
    >>> r["bound"]
    'compute'
    """
    B = check_int(batch, "batch", 1, 2**20)
    return _host_roofline([(i * o, i * o) for i, o in layer_shapes], B, chip)


def _host_roofline(layers, B: int, chip: HostChip) -> dict:
    """:func:`host_fp32_cost` for layers given as ``(MACs per example, weights)``."""
    t = 0.0
    macs = 0
    bound = "compute"
    for per_example, weights in layers:
        m = B * per_example
        tc = 2 * m / chip.peak_fp_ops
        tm = 4 * weights / chip.bandwidth
        if tm > tc:
            bound = "memory"
        t += max(tc, tm)
        macs += m
    return dict(chip=chip.name, seconds=t, latency_s=t, inferences_per_s=B / t, tops=2 * macs / t / 1e12,
                power_w=chip.busy_w, tops_per_watt=2 * macs / t / 1e12 / chip.busy_w,
                inferences_per_joule=B / (t * chip.busy_w), power_total_w=chip.total_busy_w_per_die,
                inferences_per_joule_total=B / (t * chip.total_busy_w_per_die), bound=bound)


def paper_performance_per_watt(relative_performance: float, *, host: HostChip = HASWELL,
                               spec: TPUv1 = TPU_V1, server_tdp_w: float | None = None) -> dict:
    """The paper's server performance/Watt relative to the CPU server (Sec. 5, Fig. 9), recomputed.

    Introduced in lesson ``13_tpu_v1_capstone``.

    Sec. 5 compares whole servers at TDP (Table 2): a TPU server holds 4 dies, a Haswell server
    2. With ``r`` the TPU die's performance relative to a Haswell die (Table 6):

    - total: ``(4 r / 861 W) / (2 / 504 W)`` (host power included);
    - incremental: ``(4 r / (861 - 504) W) / (2 / 504 W)`` (host server power subtracted).

    Examples
    --------
    >>> gm, wm = paper_performance_per_watt(14.5), paper_performance_per_watt(29.2)   # Table 6 means
    >>> round(gm["total"]), round(wm["total"]), round(gm["incremental"]), round(wm["incremental"])
    (17, 34, 41, 82)
    >>> round(gm["incremental"] / 3.5), round(wm["incremental"] / 3.5)    # Sec. 8: 8-bit CPU, ~3.5x
    (12, 24)
    """
    r = float(relative_performance)
    if not (math.isfinite(r) and r > 0):
        raise ValueError(f"relative_performance must be a finite number > 0, got {relative_performance!r}")
    tdp = spec.server_tdp_w if server_tdp_w is None else float(server_tdp_w)
    cpu = host.dies_per_server / host.server_tdp_w
    return dict(total=spec.dies_per_server * r / tdp / cpu,
                incremental=spec.dies_per_server * r / (tdp - host.server_tdp_w) / cpu)


def validate_against_paper(names=("MLP0", "MLP1"), spec: TPUv1 = TPU_V1) -> list[dict]:
    """The layer model against the paper's measured TPU throughput for its two MLPs.

    Introduced in lesson ``13_tpu_v1_capstone``.

    For each MLP of Table 1 (square layers assumed, :func:`mlp0_layers`, :func:`mlp1_layers`)
    at its Table 1 batch: the model's TOPS against Table 3 row 9 (production code, host
    overhead excluded, like the model), and the model's share of cycles with the array
    streaming activations against Table 3 row 1 ("array active cycles").

    Examples
    --------
    >>> [(r["name"], round(r["model_tops"], 1), r["measured_tops"]) for r in validate_against_paper()]
    [('MLP0', 13.4, 12.3), ('MLP1', 11.0, 9.7)]
    """
    shapes = {"MLP0": mlp0_layers(), "MLP1": mlp1_layers()}
    out = []
    for name in names:
        if name not in shapes:
            raise ValueError(f"names must be among {sorted(shapes)}, got {name!r}")
        b = PAPER_BENCHMARKS[name]
        c = model_cost(shapes[name], b["batch"], spec=spec)
        active = sum(lc.compute_cycles for lc in c.layers) / c.cycles
        out.append(dict(name=name, batch=b["batch"], model_tops=c.tops, measured_tops=b["measured_tops"],
                        tops_error=c.tops / b["measured_tops"] - 1, model_active_cycles=active,
                        measured_active_cycles=b["active_cycles"]))
    return out


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
CALIBRATION_LABELS = {"entropy": "histogram (KL)", "mse": "MSE", "percentile": "histogram (99.99th pct)",
                      "minmax": "min/max"}
#: The hardware rows of the capstone, in table order after the four int8 configurations.
HW_TPU_INT8 = "TPU v1, int8"
HW_FP16_CHIP = "TPU-like chip, FP16 MACs (no int8; assumed)"
HW_HOST_FP32 = "Haswell host, FP32 (optimistic roofline)"
HW_HOST_INT8 = "Haswell host, 8-bit (FP32 / 3.5, Sec. 8)"


def hardware_costs(layer_shapes, batch: int) -> dict:
    """Latency and energy of one network on each machine of the capstone, at ``batch``, full load.

    Introduced in lesson ``13_tpu_v1_capstone``. Keys: ``'int8 per-tensor'``, ``'int8 per-channel'``
    (TPU v1), ``'fp16 chip'`` (:func:`fp16_variant`: the same chip without int8), ``'host fp32'``
    (:func:`host_fp32_cost`) and ``'host int8'`` (the host FP32 time divided by the ~3.5x the paper
    measured for 8-bit on Haswell, Sec. 8, same power). Each value: ``latency_us``,
    ``inferences_per_s``, ``tops``, ``power_w`` and ``inferences_per_joule`` (die),
    ``power_total_w`` and ``inferences_per_joule_total`` (with the host server's share per die),
    ``cycles``, ``rescale_cycles``, ``rescale_share``.

    Examples
    --------
    >>> h = hardware_costs(mlp0_layers(), 200)
    >>> round(h["int8 per-tensor"]["inferences_per_joule"] / h["host fp32"]["inferences_per_joule"])
    37
    """
    out = {}
    for key, kw in (("int8 per-tensor", {}), ("int8 per-channel", dict(per_channel=True)),
                    ("fp16 chip", dict(activation_bits=16, weight_bits=16, spec=fp16_variant()))):
        c = model_cost(layer_shapes, batch, **kw)
        out[key] = dict(latency_us=c.latency_s * 1e6, inferences_per_s=c.inferences_per_s, tops=c.tops,
                        power_w=c.power_w, inferences_per_joule=c.inferences_per_joule,
                        power_total_w=c.power_total_w, inferences_per_joule_total=c.inferences_per_joule_total,
                        cycles=c.cycles, rescale_cycles=c.rescale_cycles if key != "fp16 chip" else 0,
                        rescale_share=c.rescale_share_of_arith_energy if key != "fp16 chip" else 0.0)
    h = host_fp32_cost(layer_shapes, batch, HASWELL)
    out.update(_host_rows(h))
    return out


def _host_rows(h: dict) -> dict:
    """The "host fp32" row from a host roofline result and the "host int8" row derived from it
    (``HASWELL_INT8_SPEEDUP``), in the capstone's row format."""
    fp32 = dict(latency_us=h["latency_s"] * 1e6, inferences_per_s=h["inferences_per_s"], tops=h["tops"],
                power_w=h["power_w"], inferences_per_joule=h["inferences_per_joule"],
                power_total_w=h["power_total_w"], inferences_per_joule_total=h["inferences_per_joule_total"],
                cycles=None, rescale_cycles=0, rescale_share=0.0)
    k = HASWELL_INT8_SPEEDUP
    int8 = dict(fp32, latency_us=fp32["latency_us"] / k, inferences_per_s=fp32["inferences_per_s"] * k,
                tops=fp32["tops"] * k, inferences_per_joule=fp32["inferences_per_joule"] * k,
                inferences_per_joule_total=fp32["inferences_per_joule_total"] * k)
    return {"host fp32": fp32, "host int8": int8}


def gemm_hardware_costs(gemms, batch: int, *, in_values: int, out_values: int) -> dict:
    """:func:`hardware_costs` for a network given as matrix products (:func:`qlearn.networks.convnet.gemm_shapes`).

    Introduced in lesson ``13_tpu_v1_capstone`` (section 6). The TPU rows come from
    :func:`gemm_model_cost` (int8, and 16-bit operands on :func:`fp16_variant` for ``'fp16 chip'``),
    with the PCIe transfer of ``in_values`` 8-bit (16-bit on the FP16 chip) inputs and ``out_values``
    32-bit outputs per image added to the latency, as :func:`model_cost` does; the host rows are
    :func:`host_fp32_cost`'s roofline on each product's MACs and weights. Same keys as :func:`hardware_costs`.

    Examples
    --------
    >>> h = gemm_hardware_costs([("dense", 1, 2000, 2000, 1)] * 5, 200, in_values=2000, out_values=2000)
    >>> h["int8 per-tensor"]["cycles"] == model_cost(mlp0_layers(), 200).cycles
    True
    """
    B = check_int(batch, "batch", 1, 2**20)
    n_in, n_out = check_int(in_values, "in_values", 1, 2**30), check_int(out_values, "out_values", 1, 2**30)
    gemms = [tuple(g) for g in gemms]
    out = {}
    for key, kw, spec in (("int8 per-tensor", {}, TPU_V1), ("int8 per-channel", dict(per_channel=True), TPU_V1),
                          ("fp16 chip", dict(activation_bits=16, weight_bits=16), fp16_variant())):
        c = gemm_model_cost(gemms, B, spec=spec, **kw)
        ab = kw.get("activation_bits", 8)
        seconds = c["cycles"] / spec.clock_hz      # throughput: batches back to back, PCIe overlapped
        pcie = B * (n_in * ab // 8 + n_out * 4) / spec.pcie_bandwidth
        power, total = spec.power_w(1.0), spec.total_busy_w_per_die
        fp16 = key == "fp16 chip"
        out[key] = dict(latency_us=(seconds + pcie) * 1e6, inferences_per_s=B / seconds,
                        tops=2 * c["macs"] / seconds / 1e12,
                        power_w=power, inferences_per_joule=B / seconds / power, power_total_w=total,
                        inferences_per_joule_total=B / seconds / total, cycles=c["cycles"],
                        rescale_cycles=0 if fp16 else c["rescale_cycles"],
                        rescale_share=0.0 if fp16 else c["rescale_share"])
    h = _host_roofline([(g[1] * g[2] * g[3] * g[4], g[2] * g[3] * g[4]) for g in gemms], B, HASWELL)
    out.update(_host_rows(h))
    return out


CONVNET_CAPSTONE_FILE = Path(__file__).parents[1] / "data" / "convnet_capstone.npz"
#: Weight bit widths and activation calibrators of the conv network's capstone rows.
CONVNET_BITS = (8, 4)
CONVNET_CALIBRATIONS = ("minmax", "mse", "entropy")
#: The conv network's image (channels, height, width) and classes: the PCIe transfer per image.
CONVNET_IO = (64, 10)


def convnet_accuracies(model=None, data=None, *, bits_list=CONVNET_BITS, calibrations=CONVNET_CALIBRATIONS) -> dict:
    """Test accuracy of lesson 15's folded network for the capstone: bits x calibrator x per-channel.

    Introduced in lesson ``13_tpu_v1_capstone`` (section 6). :func:`qlearn.networks.convnet.calibration_table`
    at each weight bit width (activations 8 bits, exact integer layers: the same figures on every CPU).
    Keys ``(bits, calibration, per_channel)`` and ``'float'`` (the folded float network).
    """
    from qlearn.networks import convnet

    out = {}
    for b in bits_list:
        t = convnet.calibration_table(model, data, weight_bits=b, calibrations=tuple(calibrations))
        out["float"] = t["float"]
        for cal in calibrations:
            for pc in (False, True):
                out[int(b), cal, pc] = t[cal, pc]
    return out


def save_convnet_accuracies(path=None) -> dict:
    """Recompute :func:`convnet_accuracies` (defaults) and write ``qlearn/data/convnet_capstone.npz``."""
    t = convnet_accuracies()
    acc = np.array([[[t[b, c, pc] for pc in (False, True)] for c in CONVNET_CALIBRATIONS] for b in CONVNET_BITS])
    np.savez_compressed(CONVNET_CAPSTONE_FILE if path is None else path, bits=np.array(CONVNET_BITS),
                        calibrations=np.array(CONVNET_CALIBRATIONS), accuracy=acc, float=np.array(t["float"]))
    return t


def load_convnet_accuracies(path=None) -> dict:
    """The shipped :func:`convnet_accuracies`, from ``qlearn/data/convnet_capstone.npz``.

    Examples
    --------
    >>> a = load_convnet_accuracies()
    >>> round(a[8, "minmax", False] * 539), round(a[4, "minmax", False] * 539), round(a[4, "minmax", True] * 539)
    (509, 371, 484)
    """
    with np.load(CONVNET_CAPSTONE_FILE if path is None else path) as f:
        out = {"float": float(f["float"])}
        for i, b in enumerate(f["bits"]):
            for j, c in enumerate(f["calibrations"]):
                for k, pc in enumerate((False, True)):
                    out[int(b), str(c), pc] = float(f["accuracy"][i, j, k])
    return out


def capstone_rows(rows: list[dict]) -> dict:
    """The rows of :func:`capstone_table` by their ``name`` (e.g. ``'int8 per-tensor mse'``, ``'host fp32'``)."""
    return {r["name"]: r for r in rows}


def capstone_table(*, batch: int = 200, benchmark: str = "course", model=None, data=None,
                   calibrations=None) -> list[dict]:
    """The capstone's answer: accuracy, latency and perf/watt over scheme x calibration, plus baselines.

    Introduced in lesson ``13_tpu_v1_capstone``.

    Parameters
    ----------
    batch : int >= 1
    benchmark : {'course', 'MLP0', 'convnet'}
        The course's MLP (accuracy measured on the digits test set), MLP0 of Table 1
        (shapes assumed by :func:`mlp0_layers`; no public weights, so no accuracy), or lesson 15's
        convolutional network (batch norm folded; costs from :func:`gemm_hardware_costs`; accuracies
        shipped, :func:`load_convnet_accuracies`, unless ``model`` or ``data`` is given).
    model, data : optional
        The float network and the Digits data (default: ``qlearn.networks.nn.pretrained()`` or
        ``qlearn.networks.convnet.pretrained()``, ``qlearn.networks.data.load_digits()``).
    calibrations : sequence of ``('entropy', 'mse', 'percentile', 'minmax')``
        Histogram (KL-divergence) and MSE calibration by default; for ``'convnet'``,
        :data:`CONVNET_CALIBRATIONS` (min/max, MSE, KL).

    Returns
    -------
    list of dict
        One row per configuration: ``name`` (read rows by it: :func:`capstone_rows`), ``scheme``,
        ``calibration``, ``hardware``, ``accuracy`` and ``agreement`` (share of test images classified
        as the float model does; None for MLP0, the conv network and where not measured), and the keys
        of :func:`hardware_costs`. First the int8 rows on the TPU v1, ``'int8 per-tensor entropy'`` ...
        (per-tensor / per-channel x the calibrations); for ``'convnet'`` then the same at 4-bit weights,
        ``'int4 per-tensor minmax'`` ... (the TPU v1 has no 4-bit mode: 4-bit codes run on the int8 array
        at int8 cost). Then ``'fp16 chip'``: FP16 on the same chip without int8 (:func:`fp16_variant`;
        the accuracy of the float16 model for the course MLP). ``'host fp32'``: FP32 on the Haswell host
        (the float accuracy). ``'host int8'``: 8-bit on the Haswell host (Sec. 8's ~3.5x). int8 vs
        ``'fp16 chip'`` isolates "FP -> int8" on one chip; ``'fp16 chip'`` vs ``'host fp32'`` is mostly
        "CPU -> TPU". All at full load (batches back to back).

    Examples
    --------
    >>> r = capstone_rows(capstone_table(benchmark="convnet"))
    >>> round(r["int8 per-tensor entropy"]["accuracy"] * 539), round(r["int8 per-tensor mse"]["accuracy"] * 539)
    (138, 509)
    """
    B = check_int(batch, "batch", 1, 2**20)
    if benchmark not in ("course", "MLP0", "convnet"):
        raise ValueError(f"benchmark must be 'course', 'MLP0' or 'convnet', got {benchmark!r}")
    if benchmark == "convnet":
        return _convnet_capstone(B, model, data, CONVNET_CALIBRATIONS if calibrations is None else calibrations)
    calibrations = ("entropy", "mse") if calibrations is None else calibrations
    float_acc = fp16_acc = fp16_agree = None
    if benchmark == "course":
        from qlearn.networks import data as qdata
        from qlearn.networks import nn, ptq
        model = model if model is not None else nn.pretrained()
        data = data if data is not None else qdata.load_digits()
        shapes = [(layer.W.shape[1], layer.W.shape[0]) for layer in model.layers]
        float_acc = model.accuracy(data.X_test, data.y_test)
        q16 = ptq.quantize_model(model, mode="float16")
        fp16_acc, fp16_agree = q16.accuracy(data.X_test, data.y_test), q16.agreement(data.X_test, model)
    else:
        shapes = mlp0_layers()
    hw = hardware_costs(shapes, B)
    rows = []
    for scheme, per_channel in (("per-tensor", False), ("per-channel", True)):
        cost = hw["int8 per-channel" if per_channel else "int8 per-tensor"]
        for cal in calibrations:
            acc = agree = None
            if benchmark == "course":
                q = ptq.quantize_model(model, mode="full_integer", bits=8, per_channel=per_channel,
                                       calibration=cal, calib_data=data.X_calib)
                acc = q.accuracy(data.X_test, data.y_test)
                agree = q.agreement(data.X_test, model)
            rows.append(dict(name=f"int8 {scheme} {cal}", scheme=f"int8 {scheme}",
                             calibration=CALIBRATION_LABELS.get(cal, cal), hardware=HW_TPU_INT8, accuracy=acc,
                             agreement=agree, **cost))
    return rows + _baseline_rows(hw, fp16_acc, fp16_agree, float_acc)


def _baseline_rows(hw, fp16_acc, fp16_agree, float_acc):
    return [dict(name="fp16 chip", scheme="FP16 (no int8)", calibration="-", hardware=HW_FP16_CHIP,
                 accuracy=fp16_acc, agreement=fp16_agree, **hw["fp16 chip"]),
            dict(name="host fp32", scheme="FP32 (no quantization)", calibration="-", hardware=HW_HOST_FP32,
                 accuracy=float_acc, agreement=None if float_acc is None else 1.0, **hw["host fp32"]),
            dict(name="host int8", scheme="int8 (one DNN measured)", calibration="-", hardware=HW_HOST_INT8,
                 accuracy=None, agreement=None, **hw["host int8"])]


#: The hardware column of the conv network's 4-bit rows.
HW_TPU_INT4 = "TPU v1, 4-bit codes on the int8 array (no 4-bit mode)"


def _convnet_capstone(B, model, data, calibrations):
    from qlearn.networks import convnet

    if model is None and data is None:
        acc = load_convnet_accuracies()
        missing = [c for c in calibrations if c not in CONVNET_CALIBRATIONS]
        if missing:
            raise ValueError(f"calibrations must be among the shipped {CONVNET_CALIBRATIONS} unless model or "
                             f"data is given, got {missing}")
    else:
        acc = convnet_accuracies(model, data, calibrations=calibrations)
    net = convnet.pretrained() if model is None else model
    hw = gemm_hardware_costs(convnet.gemm_shapes(net), B, in_values=CONVNET_IO[0], out_values=CONVNET_IO[1])
    rows = []
    for bits in CONVNET_BITS:
        for scheme, pc in (("per-tensor", False), ("per-channel", True)):
            cost = hw["int8 per-channel" if pc else "int8 per-tensor"]
            for cal in calibrations:
                rows.append(dict(name=f"int{bits} {scheme} {cal}", scheme=f"int{bits} {scheme}",
                                 calibration=CALIBRATION_LABELS.get(cal, cal),
                                 hardware=HW_TPU_INT8 if bits == 8 else HW_TPU_INT4, accuracy=acc[bits, cal, pc],
                                 agreement=None, **cost))
    return rows + _baseline_rows(hw, None, None, acc["float"])


def format_table(rows: list[dict]) -> str:
    """The capstone rows as an HTML table (for a notebook cell or a Voila page)."""
    head = ["scheme", "calibration", "hardware", "accuracy", "vs FP32 (points)", "agrees with FP32", "latency (us)",
            "inferences/s",
            "die W", "inferences/J (die)", "W with host share", "inferences/J (total)", "rescale cycles",
            "rescale share of arith. energy"]
    out = ["<table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"]
    fp32 = next((r["accuracy"] for r in rows if r.get("name") == "host fp32"), None)
    for r in rows:
        acc = "n/a" if r["accuracy"] is None else f"{100 * r['accuracy']:.2f}%"
        gap = "n/a" if r["accuracy"] is None or fp32 is None else f"{100 * (r['accuracy'] - fp32):+.1f}"
        agr = "n/a" if r.get("agreement") is None else f"{100 * r['agreement']:.2f}%"
        cells = [r["scheme"], r["calibration"], r["hardware"], acc, gap, agr, f"{r['latency_us']:.2f}",
                 f"{r['inferences_per_s']:.3g}", f"{r['power_w']:.3g}", f"{r['inferences_per_joule']:.3g}",
                 f"{r['power_total_w']:.3g}", f"{r['inferences_per_joule_total']:.3g}",
                 str(r["rescale_cycles"]), f"{100 * r['rescale_share']:.2f}%"]
        out.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return "\n".join(out) + "</table>"

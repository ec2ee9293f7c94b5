"""qlearn.hardware.tpu: headline figures derived from the constants, and the layer model's stated behaviour."""
import dataclasses
import math

import numpy as np
import pytest

from qlearn.hardware import tpu
from qlearn.hardware.systolic import cycle_count

T = tpu.TPU_V1


def test_headline_figures_are_derived():
    # peak = 2 ops per MAC x 256 x 256 MACs x 700 MHz = 91.75 TOPS ("92 TOPS", abstract)
    assert T.peak_tops == pytest.approx(2 * 256 * 256 * 0.7e9 / 1e12)
    assert round(T.peak_tops) == 92
    # ridge point: 65,536 MACs x 700 MHz / 34 GB/s ~ 1349 MACs per weight byte ("~1350", Sec. 4)
    assert T.ridge_point == pytest.approx(65536 * 700e6 / 34e9)
    assert round(T.ridge_point, -1) == 1350
    assert T.accumulator_bytes == 4 * 2**20          # 4096 x 256 x 32 bit = 4 MiB
    assert T.unified_buffer_bytes == 24 * 2**20
    assert T.tile_bytes == 64 * 1024 and T.weight_fifo_tiles == 4
    assert (T.tdp_w, T.idle_w, T.busy_w) == (75.0, 28.0, 40.0)
    assert (T.server_tdp_w, T.server_idle_w, T.server_busy_w, T.dies_per_server) == (861.0, 290.0, 384.0, 4)


def test_operand_speeds():
    assert T.operand_speed(8, 8) == 1.0
    assert T.operand_speed(8, 16) == T.operand_speed(16, 8) == 0.5
    assert T.operand_speed(16, 16) == 0.25
    with pytest.raises(ValueError, match="8 or 16"):
        T.operand_speed(4, 8)
    c8 = tpu.layer_cost(1024, 256, 256)
    c16 = tpu.layer_cost(1024, 256, 256, activation_bits=16, weight_bits=16)
    assert c16.compute_cycles == 4 * c8.compute_cycles


def test_roofline_matches_the_two_regimes():
    assert float(tpu.roofline(T.ridge_point)) == pytest.approx(T.peak_tops)
    assert float(tpu.roofline(10 * T.ridge_point)) == pytest.approx(T.peak_tops)
    assert float(tpu.roofline(200)) == pytest.approx(2 * 200 * 34e9 / 1e12)
    with pytest.raises(ValueError, match="intensity"):
        tpu.roofline(-1)


def test_layer_cost_memory_bound_below_ridge_and_compute_bound_above():
    small = tpu.layer_cost(200, 2048, 2048)
    assert small.bound == "memory (DDR3)"
    # each tile is a 64 KiB DDR3 read: 65536 / (34e9 / 700e6) cycles
    assert small.memory_cycles == math.ceil(64 * 65536 / (34e9 / 700e6))
    big = tpu.layer_cost(4096, 2048, 2048)
    assert big.bound == "compute" and big.ops_per_weight_byte > T.ridge_point
    # achieved TOPS below the roofline in both regimes
    for c in (small, big):
        achieved = 2 * c.macs / c.seconds / 1e12
        assert achieved <= float(tpu.roofline(c.ops_per_weight_byte)) + 1e-9


def test_layer_cost_tiling_counts():
    c = tpu.layer_cost(8, 300, 600)
    assert c.tiles == 2 * 3 and c.weight_bytes == 300 * 600
    # the per-tile floor is the 256-cycle tile shift-in: tiny batches do not go faster
    assert tpu.layer_cost(1, 256, 256).cycles == tpu.layer_cost(100, 256, 256).cycles - 99


def test_rescale_per_channel_and_asymmetric_costs_are_explicit():
    base = tpu.layer_cost(200, 2000, 2000)
    pc = tpu.layer_cost(200, 2000, 2000, per_channel=True)
    asym = tpu.layer_cost(200, 2000, 2000, weight_zero_point=True)
    n_col_tiles = math.ceil(2000 / 256)
    assert pc.cycles - base.cycles == 2 * n_col_tiles
    assert asym.cycles - base.cycles == n_col_tiles * 200
    assert 0 < base.rescale_share_of_arith_energy < 0.01
    # a 64-wide layer spends a far larger share of its arithmetic energy on rescaling
    assert tpu.layer_cost(200, 64, 64).rescale_share_of_arith_energy > 0.1


def test_rescale_share_formula():
    c = tpu.layer_cost(1, 64, 10)
    mac = 64 * 10 * (tpu.PJ_INT8_MULT + tpu.PJ_INT32_ADD)
    resc = 10 * tpu.PJ_INT32_MULT + 4 * 10 * tpu.PJ_INT32_ADD
    assert c.rescale_share_of_arith_energy == pytest.approx(resc / (mac + resc))


def test_fill_matches_the_systolic_wavefront_of_one_tile():
    # one full tile, overlapped weight load: the systolic model gives R + (R + C + M - 2);
    # the TPU model charges max(M, 256) per tile + shift-in + R + C - 2 + the exposed rescale
    import dataclasses
    fast = dataclasses.replace(T, weight_bandwidth=1e18)      # take DDR3 out of the picture
    for M in (256, 700):
        c = tpu.layer_cost(M, 256, 256, spec=fast)
        assert c.cycles - c.rescale_cycles == cycle_count(M, 256, 256, 256, 256, overlap=True)


def test_model_cost_mlp0():
    c = tpu.model_cost(tpu.mlp0_layers(), 200)
    assert sum(i * o for i, o in tpu.mlp0_layers()) == 20_000_000
    assert c.tops < float(tpu.roofline(200))
    assert c.tops > 0.9 * float(tpu.roofline(200))
    # run back to back = full load: the measured busy power, although the MXU is ~15% busy
    assert c.load == 1.0 and c.power_w == T.busy_w == 40.0 and c.mxu_utilization < 0.16
    assert c.power_total_w == 384 / 4
    assert c.tops_per_watt == pytest.approx(c.tops / c.power_w)
    assert c.inferences_per_joule == pytest.approx(c.inferences_per_s / 40.0)
    with pytest.raises(ValueError, match=r"load must be in \(0, 1\]"):
        tpu.model_cost(tpu.mlp0_layers(), 200, load=0)
    assert c.latency_s > c.seconds
    with pytest.raises(ValueError, match="do not chain"):
        tpu.model_cost([(4, 5), (6, 7)], 1)
    with pytest.raises(ValueError, match="empty"):
        tpu.model_cost([], 1)
    with pytest.raises(ValueError, match="batch must be in"):
        tpu.model_cost([(4, 5)], 0)


def test_host_fp32_is_an_honest_roofline():
    r = tpu.host_fp32_cost([(2000, 2000)], 1, tpu.HASWELL)
    assert r["bound"] == "memory"
    assert r["seconds"] == pytest.approx(4 * 2000 * 2000 / 51e9)
    r = tpu.host_fp32_cost([(2000, 2000)], 1000, tpu.K80)
    assert r["seconds"] == pytest.approx(2 * 1000 * 2000 * 2000 / 2.8e12)


@pytest.fixture(scope="module")
def course_rows():
    return tpu.capstone_table(batch=200, benchmark="course")


def test_capstone_table_course(course_rows):
    rows = course_rows
    assert len(rows) == 7
    assert [r["scheme"] for r in rows[:4]] == ["int8 per-tensor"] * 2 + ["int8 per-channel"] * 2
    assert [r["hardware"] for r in rows] == [tpu.HW_TPU_INT8] * 4 + [tpu.HW_FP16_CHIP, tpu.HW_HOST_FP32,
                                                                     tpu.HW_HOST_INT8]
    for r in rows[:6]:
        assert 0.9 < r["accuracy"] <= 1.0
    assert rows[6]["accuracy"] is None
    for r in rows:
        assert all(np.isfinite(r[k]) for k in ("latency_us", "inferences_per_joule", "inferences_per_s",
                                               "inferences_per_joule_total"))
        assert r["inferences_per_joule_total"] < r["inferences_per_joule"]
    # calibration is offline software: it never changes the hardware cost
    assert rows[0]["latency_us"] == rows[1]["latency_us"] and rows[2]["cycles"] == rows[3]["cycles"]
    # per-channel costs a few cycles, not a different order of magnitude
    assert 0 < rows[2]["cycles"] - rows[0]["cycles"] < 0.01 * rows[0]["cycles"]
    html = tpu.format_table(rows)
    assert html.count("<tr>") == 8


def test_capstone_table_mlp0_and_errors():
    rows = tpu.capstone_table(batch=200, benchmark="MLP0")
    assert rows[0]["accuracy"] is None and rows[4]["accuracy"] is None
    assert rows[0]["inferences_per_joule"] > 10 * rows[5]["inferences_per_joule"]
    with pytest.raises(ValueError, match="benchmark must be"):
        tpu.capstone_table(benchmark="CNN0")


def test_lesson13_numbers(course_rows):
    """Every number lesson 13 states (model figures exactly; accuracy, float-derived, with its stated tolerance)."""
    mlp0 = tpu.model_cost(tpu.mlp0_layers(), 200)
    assert round(mlp0.tops, 1) == 13.4 and round(mlp0.tops / T.peak_tops, 3) == 0.147
    assert round(float(tpu.roofline(200)), 1) == 13.6
    assert mlp0.cycles == 416595
    pc = tpu.model_cost(tpu.mlp0_layers(), 200, per_channel=True).cycles - mlp0.cycles
    assert pc == 80 and round(100 * pc / mlp0.cycles, 2) == 0.02
    assert tpu.layer_cost(1349, 2000, 2000).bound == "memory (DDR3)"
    assert tpu.layer_cost(1350, 2000, 2000).bound == "compute"
    # TPU' (Sec. 7): ridge 250 -> 183.5 GB/s, 5.4x the DDR3; MLP0 4.8x, then bound by the 256-cycle shift-in
    prime = tpu.model_cost(tpu.mlp0_layers(), 200, spec=tpu.TPU_PRIME)
    assert round(tpu.TPU_PRIME.weight_bandwidth / 1e9, 1) == 183.5
    assert round(tpu.TPU_PRIME.weight_bandwidth / T.weight_bandwidth, 1) == 5.4
    assert round(prime.tops / mlp0.tops, 1) == 4.8 and prime.layers[0].bound == "weight shift-in"
    k80 = tpu.model_cost(tpu.mlp0_layers(), 200, spec=dataclasses.replace(T, weight_bandwidth=tpu.K80.bandwidth))
    assert round(tpu.K80.bandwidth / T.weight_bandwidth, 1) == 4.7 and round(k80.tops / mlp0.tops, 1) == 4.4
    shapes = [(64, 64), (64, 32), (32, 10)]
    assert sum(i * o + o for i, o in shapes) == 6570
    course = tpu.model_cost(shapes, 200)
    assert round(100 * course.rescale_share_of_arith_energy) == 16
    assert round(100 * mlp0.rescale_share_of_arith_energy, 2) == 0.58
    assert tpu.model_cost(shapes, 200, per_channel=True).cycles - course.cycles == 6
    assert tpu.model_cost(shapes, 200, weight_zero_point=True).cycles - course.cycles == 600
    host = tpu.host_fp32_cost(shapes, 200)
    assert round(course.latency_s * 1e6, 1) == 6.6 and round(host["latency_s"] * 1e6, 1) == 2.0
    assert tpu.host_fp32_cost(tpu.mlp0_layers(), 200)["latency_s"] > 8 * mlp0.latency_s
    # tiling: 64 x 64 of a 256 x 256 tile is 1/16; 2000-wide layers fill 95% of their 64 tiles
    assert 64 * 64 / 256**2 == 1 / 16 and round(100 * (2000 / 2048) ** 2) == 95 and mlp0.layers[0].tiles == 64
    # accuracy (float-derived, ptq): stated with a tolerance of two test images
    rows = course_rows
    acc = [r["accuracy"] for r in rows[:4]]
    assert len(ql_digits_test()) == 539
    assert max(acc) - min(acc) <= 2 / 539 + 1e-12 and abs(rows[5]["accuracy"] - max(acc)) <= 2 / 539 + 1e-12
    assert all(r["agreement"] >= 1 - 2 / 539 - 1e-12 for r in rows[:4])
    assert abs(rows[4]["accuracy"] - rows[5]["accuracy"]) <= 2 / 539 + 1e-12      # FP16 row
    m0 = tpu.capstone_table(batch=200, benchmark="MLP0")
    assert 8.4 < m0[5]["latency_us"] / m0[0]["latency_us"] < 8.6
    assert round(m0[0]["inferences_per_joule"] / m0[5]["inferences_per_joule"]) == 37
    assert round(m0[0]["inferences_per_joule_total"] / m0[5]["inferences_per_joule_total"]) == 25
    assert round(m0[4]["inferences_per_joule"] / m0[5]["inferences_per_joule"]) == 18
    assert round(m0[0]["inferences_per_joule"] / m0[4]["inferences_per_joule"], 1) == 2.0
    assert round(m0[0]["inferences_per_joule"] / m0[6]["inferences_per_joule"]) == 11


def ql_digits_test():
    from qlearn.networks import data
    return data.load_digits().y_test


def test_spec_table_sources():
    rows = tpu.spec_table()
    assert all(src in ("Table 2", "Sec. 2", "Sec. 2, Fig. 1", "Fig. 1", "Sec. 6", "derived") for *_, src in rows)
    assert {r[0]: r[1] for r in rows}["clock"] == 700e6


# --- power as the paper measured it (Table 2, Sec. 6) -----------------------------------------
def test_power_follows_offered_load_through_the_measured_points():
    # Table 2: idle 28 W, busy 40 W; Sec. 6: "at 10% load, the TPU uses 88% of the power it uses at 100%"
    assert T.power_w(0.0) == 28.0 and T.power_w(1.0) == 40.0
    assert T.power_w(0.1) == pytest.approx(0.88 * 40.0) == pytest.approx(35.2)
    assert T.power_w(0.55) == pytest.approx(35.2 + (40 - 35.2) * 0.5)
    assert T.power_w(0.05) == pytest.approx((28 + 35.2) / 2)
    # poorly energy proportional: most of the power is spent at 10% load
    assert T.power_w(0.1) / T.power_w(1.0) == pytest.approx(0.88)
    for bad in (-0.01, 1.01, float("nan")):
        with pytest.raises(ValueError, match=r"load must be in \[0, 1\]"):
            T.power_w(bad)
    with pytest.raises(TypeError, match="load must be a number"):
        T.power_w("full")


def test_energy_per_inference_grows_at_low_load():
    full = tpu.model_cost(tpu.mlp0_layers(), 200)
    tenth = tpu.model_cost(tpu.mlp0_layers(), 200, load=0.1)
    assert tenth.power_w == pytest.approx(35.2)
    # a tenth of the inferences for 88% of the power
    assert tenth.inferences_per_joule == pytest.approx(full.inferences_per_joule * 0.1 / 0.88)
    assert tenth.inferences_per_joule_total == pytest.approx(0.1 * full.inferences_per_s / (35.2 + 56))


# --- TPU' (Sec. 7): GDDR5, ridge 1350 -> 250 -----------------------------------------------------
def test_tpu_prime_bandwidth_comes_from_the_papers_ridge_point():
    P = tpu.TPU_PRIME
    assert P.ridge_point == pytest.approx(250)
    assert P.weight_bandwidth == pytest.approx(65536 * 700e6 / 250)      # 183.5 GB/s
    assert round(P.weight_bandwidth / 1e9) == 184
    assert P.weight_bandwidth / T.weight_bandwidth > 5                     # "more than a factor of five"
    assert tpu.K80.bandwidth / T.weight_bandwidth < 5                      # the K80's 160 GB/s is not that
    assert P.busy_w == T.busy_w + 10 and P.clock_hz == T.clock_hz          # Sec. 8: "an additional 10W"
    mlp0 = tpu.model_cost(tpu.mlp0_layers(), 200)
    prime = tpu.model_cost(tpu.mlp0_layers(), 200, spec=P)
    assert round(prime.tops / mlp0.tops, 1) == 4.8
    # the paper's Fig. 11: memory-bound MLPs gain about 3x from 4x bandwidth; the model: under 4x too
    x4 = tpu.model_cost(tpu.mlp0_layers(), 200, spec=dataclasses.replace(T, weight_bandwidth=4 * 34e9))
    assert 3 < x4.tops / mlp0.tops < 4


# --- the same chip without int8 -----------------------------------------------------------------
def test_fp16_variant_assumptions():
    f = tpu.fp16_variant()
    assert f.rows == f.cols == f.tile_shift_cycles == 104 == int(256 / 6**0.5)
    assert f.macs_per_cycle * 6 <= T.macs_per_cycle < f.macs_per_cycle * 6 * 1.02
    assert f.operand_speed(16, 16) == 1.0 and (f.clock_hz, f.busy_w, f.weight_bandwidth) == (
        T.clock_hz, T.busy_w, T.weight_bandwidth)
    with pytest.raises(ValueError, match="cost_ratio"):
        tpu.fp16_variant(cost_ratio=0.5)
    # memory-bound MLP0: 2-byte weights take twice the DDR3 time -> about 2x the energy per inference
    c16 = tpu.model_cost(tpu.mlp0_layers(), 200, activation_bits=16, weight_bits=16, spec=f)
    c8 = tpu.model_cost(tpu.mlp0_layers(), 200)
    assert c16.layers[0].bound == "memory (DDR3)" and c16.layers[0].weight_bytes == 2 * c8.layers[0].weight_bytes
    assert 1.9 < c8.inferences_per_joule / c16.inferences_per_joule < 2.1
    # compute-bound (batch 4096): the 6x MAC density shows instead
    b16 = tpu.model_cost([(2048, 2048)], 8192, activation_bits=16, weight_bits=16, spec=f)
    b8 = tpu.model_cost([(2048, 2048)], 8192)
    assert 5.5 < b16.seconds / b8.seconds < 6.5
    # LayerCost/ModelCost use the chip they were computed for
    assert c16.mxu_utilization == pytest.approx(c16.macs / (c16.cycles * f.macs_per_cycle))
    assert c16.layers[0].seconds == pytest.approx(c16.layers[0].cycles / f.clock_hz)


# --- the paper's own perf/W arithmetic (Sec. 5, Fig. 9; Sec. 8) ---------------------------------
def test_paper_performance_per_watt_reproduces_sections_5_and_8():
    gm = tpu.paper_performance_per_watt(tpu.PAPER_TPU_RELATIVE_GM)
    wm = tpu.paper_performance_per_watt(tpu.PAPER_TPU_RELATIVE_WM)
    # Sec. 5: "17 to 34 times better total-performance/Watt", "incremental ... 41 to 83"
    assert (round(gm["total"]), round(wm["total"])) == (17, 34)
    assert round(gm["incremental"]) == 41 and 82 <= wm["incremental"] <= 83.5   # 82.4 from Table 6's rounded 29.2
    # Sec. 8: with a ~3.5x 8-bit CPU "performance/Watt ratio would drop from 41-83X to 12-24X"
    assert (round(gm["incremental"] / 3.5), round(wm["incremental"] / 3.5)) == (12, 24)
    # the same arithmetic gives the K80's "1.2 - 2.1X" total and "1.7 - 2.9X" incremental (8 dies, 1838 W)
    k80 = dict(spec=dataclasses.replace(T, dies_per_server=8, server_tdp_w=1838.0))
    assert round(tpu.paper_performance_per_watt(1.1, **k80)["total"], 1) == 1.2
    assert round(tpu.paper_performance_per_watt(1.9, **k80)["total"], 1) == 2.1
    assert round(tpu.paper_performance_per_watt(1.1, **k80)["incremental"], 1) == 1.7
    assert round(tpu.paper_performance_per_watt(1.9, **k80)["incremental"], 1) == 2.9
    with pytest.raises(ValueError, match="relative_performance"):
        tpu.paper_performance_per_watt(0)


def test_model_against_the_papers_measured_mlps():
    rows = {r["name"]: r for r in tpu.validate_against_paper()}
    assert rows["MLP0"]["measured_tops"] == 12.3 and rows["MLP1"]["measured_tops"] == 9.7   # Table 3, row 9
    # the model is optimistic (no RAW or input stalls, no non-matrix cycles): +9% and +13%
    assert round(rows["MLP0"]["tops_error"], 2) == 0.09 and round(rows["MLP1"]["tops_error"], 2) == 0.13
    for r in rows.values():
        assert 0 < r["tops_error"] < 0.15
        assert r["model_active_cycles"] > r["measured_active_cycles"]      # Table 3, row 1
    assert sum(i * o for i, o in tpu.mlp1_layers()) == 4 * 1118**2 and abs(4 * 1118**2 - 5e6) < 400
    with pytest.raises(ValueError, match="names must be among"):
        tpu.validate_against_paper(("CNN0",))


def test_capstone_separates_cpu_to_tpu_from_fp_to_int8():
    h = tpu.hardware_costs(tpu.mlp0_layers(), 200)
    die = {k: v["inferences_per_joule"] for k, v in h.items()}
    tot = {k: v["inferences_per_joule_total"] for k, v in h.items()}
    # die only, full load (40 W vs Haswell's 145 W busy): about 37x, not 50x
    assert round(die["int8 per-tensor"] / die["host fp32"]) == 37
    # had the TPU drawn only its 10%-load power (35.2 W): about 43x
    assert round(die["int8 per-tensor"] / die["host fp32"] * 40 / 35.2) == 43
    # with the host server's share (96 W vs 227.5 W per die, Table 2 measured busy): about 25x
    assert h["host fp32"]["power_total_w"] == 455 / 2 and h["int8 per-tensor"]["power_total_w"] == 96
    assert round(tot["int8 per-tensor"] / tot["host fp32"]) == 25
    # the product: CPU -> TPU-like chip (FP16) x FP16 -> int8 on the same chip
    chip, fmt = die["fp16 chip"] / die["host fp32"], die["int8 per-tensor"] / die["fp16 chip"]
    assert chip * fmt == pytest.approx(die["int8 per-tensor"] / die["host fp32"])
    assert round(chip) == 18 and round(fmt, 1) == 2.0
    # 8-bit on the CPU (Sec. 8, ~3.5x): the TPU keeps about 11x
    assert round(die["int8 per-tensor"] / die["host int8"]) == 11


def test_table4_throughputs_against_the_models():
    ips = tpu.PAPER_MLP0_IPS
    assert round(ips["tpu"] / ips["tpu_max"], 2) == 0.80 and round(ips["cpu"] / ips["cpu_max"], 2) == 0.42  # Table 4
    model = tpu.model_cost(tpu.mlp0_layers(), 200)
    host = tpu.host_fp32_cost(tpu.mlp0_layers(), 200)
    # the TPU model (no host time) is above the measured 225,000/s; the Haswell roofline far above its best
    assert ips["tpu"] < model.inferences_per_s < 1.6 * ips["tpu"]
    assert round(host["inferences_per_s"] / ips["cpu_max"], 1) == 2.5

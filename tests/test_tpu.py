"""qlearn.tpu: headline figures derived from the constants, and the layer model's stated behaviour."""
import math

import numpy as np
import pytest

from qlearn import tpu
from qlearn.systolic import cycle_count

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
    assert T.idle_w < c.power_w < T.busy_w
    assert c.tops_per_watt == pytest.approx(c.tops / c.power_w)
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
    assert len(rows) == 5
    assert [r["scheme"] for r in rows[:4]] == ["per-tensor"] * 2 + ["per-channel"] * 2
    for r in rows:
        assert 0.9 < r["accuracy"] <= 1.0
        assert all(np.isfinite(r[k]) for k in ("latency_us", "tops_per_watt", "inferences_per_s"))
    assert rows[-1]["hardware"].startswith("Haswell")
    # calibration is offline software: it never changes the hardware cost
    assert rows[0]["latency_us"] == rows[1]["latency_us"] and rows[2]["cycles"] == rows[3]["cycles"]
    # per-channel costs a few cycles, not a different order of magnitude
    assert 0 < rows[2]["cycles"] - rows[0]["cycles"] < 0.01 * rows[0]["cycles"]
    html = tpu.format_table(rows)
    assert html.count("<tr>") == 6


def test_capstone_table_mlp0_and_errors():
    rows = tpu.capstone_table(batch=200, benchmark="MLP0")
    assert rows[0]["accuracy"] is None
    assert rows[0]["tops_per_watt"] > 10 * rows[-1]["tops_per_watt"]
    with pytest.raises(ValueError, match="benchmark must be"):
        tpu.capstone_table(benchmark="CNN0")


def test_lesson13_numbers(course_rows):
    """Every number lesson 13 states."""
    import dataclasses
    mlp0 = tpu.model_cost(tpu.mlp0_layers(), 200)
    assert round(mlp0.tops, 1) == 13.4 and round(mlp0.tops / T.peak_tops, 3) == 0.147
    assert mlp0.cycles == 416595
    assert tpu.model_cost(tpu.mlp0_layers(), 200, per_channel=True).cycles - mlp0.cycles == 80
    assert tpu.layer_cost(1349, 2000, 2000).bound == "memory (DDR3)"
    assert tpu.layer_cost(1350, 2000, 2000).bound == "compute"
    faster = tpu.model_cost(tpu.mlp0_layers(), 200, spec=dataclasses.replace(T, weight_bandwidth=tpu.K80.bandwidth))
    assert 4.3 < faster.tops / mlp0.tops < 4.5
    shapes = [(64, 64), (64, 32), (32, 10)]
    course = tpu.model_cost(shapes, 200)
    assert 0.15 < course.rescale_share_of_arith_energy < 0.17 and 0.005 < mlp0.rescale_share_of_arith_energy < 0.006
    assert tpu.model_cost(shapes, 200, per_channel=True).cycles - course.cycles == 6
    assert tpu.model_cost(shapes, 200, weight_zero_point=True).cycles - course.cycles == 600
    host = tpu.host_fp32_cost(shapes, 200)
    assert round(course.latency_s * 1e6, 1) == 6.6 and round(host["latency_s"] * 1e6, 1) == 2.0
    rows = course_rows
    acc = [r["accuracy"] for r in rows[:4]]
    assert max(acc) - min(acc) <= 1 / 539 + 1e-12 and abs(rows[-1]["accuracy"] - max(acc)) <= 1 / 539 + 1e-12
    assert rows[2]["agreement"] == 1.0 and abs((1 - rows[0]["agreement"]) - 1 / 539) < 1e-12
    m0 = tpu.capstone_table(batch=200, benchmark="MLP0")
    assert 45 < m0[0]["inferences_per_joule"] / m0[-1]["inferences_per_joule"] < 55
    assert 8.4 < m0[-1]["latency_us"] / m0[0]["latency_us"] < 8.6


def test_spec_table_sources():
    rows = tpu.spec_table()
    assert all(src in ("Table 2", "Sec. 2", "Sec. 2, Fig. 1", "Fig. 1", "derived") for *_, src in rows)
    assert {r[0]: r[1] for r in rows}["clock"] == 700e6

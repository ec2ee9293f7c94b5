"""qlearn.hardware.systolic: the register model must compute A @ B and take exactly the closed-form cycles."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qlearn.hardware import systolic
from qlearn.hardware.systolic import DATAFLOWS, SystolicArray, cycle_count


def scalesim_ws(M, K, N, R, C):
    """SCALE-Sim's published weight-stationary formula (Samajdar et al. 2018), written out plainly."""
    import math
    return math.ceil(K / R) * math.ceil(N / C) * (2 * R + C + M - 2)


def _rand(rng, M, K, N):
    return rng.integers(-128, 128, (M, K)), rng.integers(-128, 128, (K, N))


@pytest.mark.parametrize("dataflow", DATAFLOWS)
@pytest.mark.parametrize("shape", [(1, 1, 1, 1, 1), (5, 7, 3, 4, 4), (9, 20, 13, 4, 3), (3, 3, 3, 8, 8),
                                   (17, 5, 30, 6, 7), (16, 16, 16, 8, 8), (2, 33, 1, 4, 5)])
def test_output_and_cycles(dataflow, shape):
    M, K, N, R, C = shape
    A, B = _rand(np.random.default_rng(sum(shape)), M, K, N)
    r = SystolicArray(R, C, dataflow=dataflow).matmul(A, B)
    np.testing.assert_array_equal(r.output, A @ B)
    assert r.cycles == cycle_count(M, K, N, R, C, dataflow)
    assert r.utilization == pytest.approx(M * K * N / (R * C * r.cycles))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 12), st.integers(1, 12), st.integers(1, 12), st.integers(1, 6), st.integers(1, 6),
       st.sampled_from(DATAFLOWS), st.booleans(), st.integers(0, 2**31))
def test_property_any_shape(M, K, N, R, C, dataflow, overlap, seed):
    overlap = overlap and dataflow != "output_stationary"
    A, B = _rand(np.random.default_rng(seed), M, K, N)
    r = SystolicArray(R, C, dataflow=dataflow, overlap=overlap).matmul(A, B)
    np.testing.assert_array_equal(r.output, A @ B)
    assert r.cycles == cycle_count(M, K, N, R, C, dataflow, overlap=overlap)
    assert 0 < r.utilization <= 1


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 500), st.integers(1, 500), st.integers(1, 500), st.integers(1, 256), st.integers(1, 256))
def test_weight_stationary_is_the_published_scalesim_formula(M, K, N, R, C):
    assert cycle_count(M, K, N, R, C, "weight_stationary") == scalesim_ws(M, K, N, R, C)


def test_dataflow_mappings_are_transposes_of_each_other():
    # IS on (M, K, N) is WS on the transposed problem (N, K, M)
    for M, K, N in [(3, 40, 7), (100, 9, 2)]:
        assert cycle_count(M, K, N, 8, 4, "input_stationary") == cycle_count(N, K, M, 8, 4, "weight_stationary")


def test_edge_values_exact_int32():
    A = np.full((4, 300), -128)
    B = np.full((300, 3), -128)
    for df in DATAFLOWS:
        r = SystolicArray(8, 8, dataflow=df).matmul(A, B)
        assert (r.output == 300 * 16384).all()


def test_overlap_saves_the_load_cycles_of_every_fold_but_the_first():
    M, K, N, R, C = 10, 20, 20, 8, 8
    folds = 3 * 3
    plain = cycle_count(M, K, N, R, C)
    assert plain - cycle_count(M, K, N, R, C, overlap=True) == (folds - 1) * R
    with pytest.raises(ValueError, match="overlap applies"):
        cycle_count(M, K, N, R, C, "output_stationary", overlap=True)


@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_trace_counts_every_mac_once(dataflow):
    M, K, N, R, C = 6, 11, 9, 4, 4
    A, B = _rand(np.random.default_rng(1), M, K, N)
    r = SystolicArray(R, C, dataflow=dataflow).matmul(A, B, trace=True)
    tr = r.trace
    assert tr.cycles == r.cycles
    assert tr.stationary.shape == (r.cycles, R, C)
    assert int(tr.active.sum()) == M * K * N
    assert tr.outputs_done[-1] == M * N
    assert np.all(np.diff(tr.outputs_done) >= 0)
    assert set(np.unique(tr.phase)) <= {"load", "compute", "drain"}


def test_weight_stationary_trace_wavefront():
    """In WS, the first activation reaches PE (i, j) at cycle R + i + j: a diagonal wavefront."""
    R = C = 4
    A = np.ones((3, 4), int)
    B = np.ones((4, 4), int)
    tr = SystolicArray(R, C).matmul(A, B, trace=True).trace
    first = np.argmax(tr.active.reshape(tr.cycles, -1), axis=0).reshape(R, C)
    np.testing.assert_array_equal(first, R + np.add.outer(np.arange(R), np.arange(C)))
    np.testing.assert_array_equal(tr.stationary[R], B)        # the weights in place after R load cycles


def test_utilization_closed_form_and_doctest_number():
    assert systolic.utilization(256, 256, 256, 128, 128) == pytest.approx(256**3 / (128 * 128 * 2552))
    assert systolic.mapping(4, 5, 6, "output_stationary") == (4, 6, 5)


def test_bad_input():
    arr = SystolicArray(4, 4)
    with pytest.raises(ValueError, match="int8 codes"):
        arr.matmul(np.full((2, 2), 200), np.ones((2, 2), int))
    with pytest.raises(ValueError, match="int8 codes"):
        arr.matmul(np.full((2, 2), 0.5), np.ones((2, 2), int))
    with pytest.raises(ValueError, match="inner dimensions"):
        arr.matmul(np.ones((2, 3), int), np.ones((2, 2), int))
    with pytest.raises(ValueError, match="2-D"):
        arr.matmul(np.ones(3, int), np.ones((3, 2), int))
    with pytest.raises(ValueError, match="dataflow must be one of"):
        SystolicArray(4, 4, dataflow="row_stationary")
    with pytest.raises(ValueError, match="rows must be in"):
        SystolicArray(0, 4)
    with pytest.raises(ValueError, match="too large to record"):
        SystolicArray(256, 256).matmul(np.ones((256, 256), int), np.ones((256, 256), int), trace=True)


def test_lesson12_numbers():
    """Every number lesson 12 states, from the closed form (itself checked against the register model)."""
    c1 = {df: cycle_count(1, 256, 256, 128, 128, df) for df in DATAFLOWS}
    assert c1 == {"weight_stationary": 1532, "output_stationary": 1276, "input_stationary": 1276}
    c1024 = {df: cycle_count(1024, 256, 256, 128, 128, df) for df in DATAFLOWS}
    assert c1024["weight_stationary"] == 5624 and c1024["output_stationary"] == 10208
    assert cycle_count(1, 256, 256, 256, 256) == 767
    assert 0.0013 < systolic.utilization(1, 256, 256, 256, 256) < 0.0014
    assert 0.25 < systolic.utilization(256, 256, 256, 256, 256) < 0.2506
    assert (cycle_count(64, 128, 128, 128, 128), cycle_count(64, 129, 129, 128, 128)) == (446, 1784)
    assert (cycle_count(256, 256, 256, 128, 128), cycle_count(256, 256, 256, 128, 128, overlap=True)) == (2552, 2168)
    assert cycle_count(10, 8, 8, 8, 8) == 32
    assert round(100 * systolic.utilization(64, 128, 128, 128, 128), 1) == 14.3
    assert round(100 * systolic.utilization(64, 129, 129, 128, 128), 1) == 3.6
    # the misconception box: bit width sets the peak (FP16 multipliers ~6x the area, Jouppi et al. Sec. 1)
    from qlearn.hardware import tpu
    assert (tpu.fp16_variant().rows, tpu.fp16_variant().macs_per_cycle) == (104, 10816)


def test_lesson12_course_layer_on_the_array():
    from qlearn.hardware import intops
    from qlearn.networks import data, nn
    from qlearn.ranges import affine
    d = data.load_digits()
    layer = intops.integer_mlp(nn.pretrained(), d.X_calib).layers[0]
    Xq = affine.quantize(d.X_test[:16], layer.x_qp)
    res = SystolicArray(8, 8).matmul(Xq, layer.W_q.T)
    terms = intops.zero_point_terms(Xq, layer.W_q.T, layer.x_qp.zero_point, layer.w_qp.zero_point)
    y = intops.requantize(res.output + terms.b_term + layer.b_q, layer.m0, layer.shift, layer.y_qp.zero_point,
                          layer.qmin, layer.y_qp.qmax)
    np.testing.assert_array_equal(y, layer(Xq))
    assert res.folds == 64

"""A convolution on lesson 12's systolic array via im2col, checked with the cycle-accurate simulator:
the array's products are the integer convolution, and their cycles are what conv_on_array says."""
import numpy as np
import pytest

from qlearn.hardware import systolic
from qlearn.hardware.conv_mapping import EXAMPLES, ConvLayer, conv_gemm, conv_on_array
from qlearn.networks import conv


@pytest.mark.parametrize("dataflow", ["weight_stationary", "output_stationary", "input_stationary"])
@pytest.mark.parametrize("layer", [ConvLayer("3x3", 3, 6, 6, 5, 3, 1, 1), ConvLayer("3x3 s2", 2, 7, 7, 4, 3, 2, 1),
                                   ConvLayer("1x1", 6, 4, 4, 9, 1)])
def test_a_convolution_on_the_simulated_array(layer, dataflow):
    rng = np.random.default_rng(0)
    q_x = rng.integers(-128, 128, size=(2, layer.C_in, layer.H, layer.W))
    W_q = rng.integers(-127, 128, size=(layer.C_out, layer.C_in, layer.kernel, layer.kernel))
    A = conv.im2col(q_x, layer.kernel, layer.kernel, stride=layer.stride, padding=layer.padding)
    B = W_q.reshape(layer.C_out, -1).T
    arr = systolic.SystolicArray(4, 4, dataflow=dataflow, overlap=dataflow != "output_stationary")
    r = arr.matmul(A.astype(np.int8), B.astype(np.int8))
    ref = conv.conv2d_int(q_x, W_q, stride=layer.stride, padding=layer.padding)
    oh, ow = ref.shape[2:]
    np.testing.assert_array_equal(r.output.reshape(2, oh, ow, layer.C_out).transpose(0, 3, 1, 2), ref)
    m = conv_on_array(layer, 4, 4, batch=2, dataflow=dataflow)
    assert m["cycles"] == r.cycles
    assert (m["gemm"].M, m["gemm"].K, m["gemm"].N) == A.shape + (layer.C_out,)


def test_a_depthwise_convolution_is_one_product_per_channel():
    layer = ConvLayer("dw", 3, 5, 5, 3, 3, 1, 1, True)
    rng = np.random.default_rng(1)
    q_x = rng.integers(-128, 128, size=(1, 3, 5, 5))
    W_q = rng.integers(-127, 128, size=(3, 1, 3, 3))
    ref = conv.depthwise_conv2d_int(q_x, W_q, padding=1)
    arr = systolic.SystolicArray(4, 4, overlap=True)
    cycles = 0
    for c in range(3):
        A = conv.im2col(q_x[:, c:c + 1], 3, 3, padding=1)
        r = arr.matmul(A.astype(np.int8), W_q[c].reshape(-1, 1).astype(np.int8))
        np.testing.assert_array_equal(r.output[:, 0].reshape(5, 5), ref[0, c])
        cycles += r.cycles
    m = conv_on_array(layer, 4, 4)
    assert m["cycles"] == cycles and m["gemm"].groups == 3 and m["folds"] == 3 * 3  # 9 weights on 4 rows: 3 folds each


def test_examples_map_and_depthwise_layers_waste_the_array():
    util = {e.name: conv_on_array(e, 128, 128, batch=1)["utilization"] for e in EXAMPLES}
    for e in EXAMPLES:
        g = conv_gemm(e)
        assert g.macs == conv.macs((e.C_out, 1 if e.depthwise else e.C_in, e.kernel, e.kernel), g.out_hw)
    dw = [u for e, u in zip(EXAMPLES, util.values()) if e.depthwise]
    dense = [u for e, u in zip(EXAMPLES, util.values()) if not e.depthwise and e.C_in >= 64]
    assert max(dw) < 0.01 < min(dense)


def test_bad_layers_are_named():
    with pytest.raises(ValueError, match="C_out == C_in"):
        conv_gemm(ConvLayer("dw", 4, 5, 5, 8, 3, 1, 1, True))
    with pytest.raises(ValueError, match="kernel 7 does not fit"):
        conv_gemm(ConvLayer("big", 1, 3, 3, 1, 7, 1, 0))
    with pytest.raises(TypeError, match="ConvLayer"):
        conv_gemm((1, 3, 3, 1, 3))
    with pytest.raises(ValueError, match="rows"):
        conv_on_array(EXAMPLES[0], 0, 4)

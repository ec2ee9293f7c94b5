"""The decode roofline: closed forms for memory- and compute-bound layers, the crossover batch, errors."""
import math

import numpy as np
import pytest

from qlearn.modern import decode_roofline as dr

FP16, W8A16, W4A16, W8A8, FP8, NVFP4 = dr.SCHEMES


def _bytes(scheme, b, d_in, d_out):
    return d_in * d_out * scheme.weight_bits / 8 + b * (d_in + d_out) * scheme.act_bits / 8


def test_batch_one_is_decided_by_bytes():
    d = 4096
    for s in dr.SCHEMES:
        t = dr.layer_time(1, d, d, s)
        assert t["bound"] == "memory"
        assert t["time_s"] == pytest.approx(_bytes(s, 1, d, d) / dr.EXAMPLE_CHIP.bandwidth, rel=1e-12)
    sp = dr.speedups([1])
    assert sp[W4A16.name][0] == pytest.approx(_bytes(FP16, 1, d, d) / _bytes(W4A16, 1, d, d), rel=1e-12)
    assert 3.8 < sp[W4A16.name][0] < 4.0 and sp[W8A8.name][0] == pytest.approx(2.0, rel=1e-3)


def test_large_batches_are_decided_by_the_multiply_format():
    sp = dr.speedups([1 << 16])
    assert sp[W4A16.name][0] == pytest.approx(1.0) and sp[W8A16.name][0] == pytest.approx(1.0)
    assert sp[W8A8.name][0] == pytest.approx(2.0) and sp[FP8.name][0] == pytest.approx(2.0)
    assert sp[NVFP4.name][0] == pytest.approx(4.0)


@pytest.mark.parametrize("scheme", dr.SCHEMES)
def test_crossover_batch_is_where_compute_catches_memory(scheme):
    d_in, d_out, chip = 4096, 11008, dr.EXAMPLE_CHIP
    peak = chip.peak[scheme.compute]
    # 2 b d_in d_out / peak >= (W + b A) / bw  <=>  b >= W / (2 d_in d_out bw / peak - A)
    W = d_in * d_out * scheme.weight_bits / 8
    A = (d_in + d_out) * scheme.act_bits / 8
    expected = math.ceil(W / (2 * d_in * d_out * chip.bandwidth / peak - A))
    b = dr.crossover_batch(scheme, d_in, d_out)
    assert b in (expected, expected + 1)   # float rounding at the exact tie
    assert dr.layer_time(b, d_in, d_out, scheme)["bound"] == "compute"
    assert dr.layer_time(b - 1, d_in, d_out, scheme)["bound"] == "memory"


def test_weight_only_quantization_moves_the_ridge_to_smaller_batches():
    assert dr.crossover_batch(W4A16) < dr.crossover_batch(W8A16) < dr.crossover_batch(FP16)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="batch"):
        dr.layer_time(0, 8, 8, FP16)
    with pytest.raises(TypeError, match="Scheme"):
        dr.layer_time(1, 8, 8, "fp16")
    chip = dr.Chip("no fp4", 1e12, {"fp16": 1e14})
    with pytest.raises(ValueError, match="no 'fp4' peak"):
        dr.layer_time(1, 8, 8, NVFP4, chip)
    with pytest.raises(ValueError, match="> 0"):
        dr.layer_time(1, 8, 8, FP16, dr.Chip("zero", 0.0, {"fp16": 1e14}))
    assert np.all(np.isfinite(dr.speedups([1, 2, 3])[FP16.name]))

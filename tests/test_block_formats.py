"""qlearn.modern.block_formats: MX scales vs the formula of Algorithm 1 (Rouhani et al. 2023) computed with exact
fractions and ml_dtypes casts, NVFP4 vs a loop written from NVIDIA's recipe, per-group integers vs
GPTQ's formulas, packing over every code, bits per weight vs counted storage, bad input."""
from __future__ import annotations

import math
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest

from qlearn.modern import block_formats as B
from qlearn.numbers import formats as F
from qlearn.ranges.metrics import sqnr_db

# OCP MX v1.0 element formats: ml_dtypes type and emax_elem (the exponent of the largest normal binade)
ELEM = {"fp4_e2m1": (ml_dtypes.float4_e2m1fn, 2), "fp6_e2m3": (ml_dtypes.float6_e2m3fn, 2),
        "fp6_e3m2": (ml_dtypes.float6_e3m2fn, 4), "fp8_e4m3": (ml_dtypes.float8_e4m3fn, 8),
        "fp8_e5m2": (ml_dtypes.float8_e5m2, 15)}


def floor_log2(v: float) -> int:
    """floor(log2 v) for v > 0, exactly, with fractions."""
    a, e = Fraction(v), 0
    while Fraction(2) ** e > a:
        e -= 1
    while Fraction(2) ** (e + 1) <= a:
        e += 1
    return e


def ref_mx_block(block, element):
    """Algorithm 1 for one block, independently: returns (X, [x_hat_i]) as Python floats."""
    dt, emax = ELEM[element]
    if any(math.isnan(v) or math.isinf(v) for v in block):
        return math.nan, [math.nan] * len(block)
    amax = max(abs(v) for v in block)
    shared = -127 if amax == 0 else max(floor_log2(amax) - emax, -127)
    if shared > 127:
        return math.nan, [math.nan] * len(block)
    X = Fraction(2) ** shared
    top = float(ml_dtypes.finfo(dt).max)
    out = []
    for v in block:
        p = float(Fraction(v) / X)  # exact: division by a power of two
        p = min(max(p, -top), top)  # clamp normal numbers to the largest element (saturation)
        q = float(np.array([p], dtype=np.float32).astype(dt).astype(np.float64)[0])
        out.append(float(Fraction(q) * X))
    return float(X), out


@pytest.mark.parametrize("element", list(ELEM))
def test_mx_matches_algorithm_1_on_random_blocks(element):
    rng = np.random.default_rng(0)
    # blocks spread over many binades; float32-representable so ml_dtypes' float32 path rounds once
    x = (rng.standard_normal((40, 64)) * np.exp2(rng.integers(-30, 30, (40, 1)))).astype(np.float32).astype(float)
    t = B.mx_quantize(x, element, block_size=32)
    got = t.dequantize()
    for r in range(x.shape[0]):
        for b in range(2):
            X, ref = ref_mx_block(list(x[r, 32 * b:32 * (b + 1)]), element)
            assert t.scales[r, b] == X
            assert np.array_equal(got[r, 32 * b:32 * (b + 1)], ref)


def test_mx_hand_cases():
    # amax exactly a power of two: 8 -> X = 2**(3 - 2) = 2, element 4 exactly (no saturation)
    t = B.mx_quantize([8.0, 1.0, -3.0, 0.0], "fp4_e2m1", block_size=4)
    assert t.scales.tolist() == [2.0] and t.elements.tolist() == [[4.0, 0.5, -1.5, 0.0]]
    # just below a power of two: floor(log2) drops a binade, 7.99.. saturates to 6 (the MX trade-off)
    t = B.mx_quantize([8.0 * (1 - 2.0**-20), 1.0], "fp4_e2m1", block_size=2)
    assert t.scales.tolist() == [1.0] and t.dequantize().tolist() == [6.0, 1.0]
    # FP8 E4M3: amax 256 = 2**8 -> X = 1; amax 448 -> X = 1 too (448 = 1.75 * 2**8)
    assert B.mx_quantize([256.0, 1.0], "fp8_e4m3", block_size=2).scales.tolist() == [1.0]
    assert B.mx_quantize([448.0, 1.0], "fp8_e4m3", block_size=2).scales.tolist() == [1.0]
    # all-zero block: smallest scale 2**-127 (E8M0 code 0), zero elements; the next block is untouched
    t = B.mx_quantize([0.0, 0.0, 0.0, 0.0, 4.0, 2.0, 1.0, 0.5], "fp4_e2m1", block_size=4)
    assert t.scale_codes.tolist() == [0, 127] and t.codes[0].tolist() == [0, 0, 0, 0]
    assert t.dequantize().tolist() == [0.0, 0.0, 0.0, 0.0, 4.0, 2.0, 1.0, 0.5]


def test_mx_nan_and_inf_poison_only_their_block():
    x = np.array([1.0, np.nan, 2.0, 3.0, -np.inf, 1.0, 0.5, 0.25])
    t = B.mx_quantize(x, "fp4_e2m1", block_size=2)
    assert t.scale_codes.tolist() == [255, 126, 255, 124]  # 3 -> 2**(1-2); 0.5 -> 2**(-1-2)
    x_hat = t.dequantize()
    assert np.isnan(x_hat[:2]).all() and np.isnan(x_hat[4:6]).all()
    assert x_hat[[2, 3, 6, 7]].tolist() == [2.0, 3.0, 0.5, 0.25]
    # a shared exponent above E8M0's 127 is NaN too
    assert np.isnan(B.mx_quantize([2.0**200, 1.0], "fp4_e2m1", block_size=2).scales).all()


def test_mx_subnormal_elements_and_clamped_scale():
    # amax 1 -> X = 2**-2: 1 -> 4 (code 6); 0.1 / X = 0.4 -> E2M1 subnormal 0.5 (code 1); 0.05 / X = 0.2 -> 0
    t = B.mx_quantize([1.0, 0.1, 0.05, -0.1], "fp4_e2m1", block_size=4)
    assert t.codes.tolist() == [[6, 1, 0, 9]]
    assert F.fields(float(t.elements[0, 1]), "fp4_e2m1")["is_subnormal"]
    # tiny block: floor(log2 2**-130) - 2 = -132 is clamped to -127, elements go subnormal / zero
    t = B.mx_quantize([2.0**-130, 2.0**-128], "fp4_e2m1", block_size=2)
    assert t.scale_codes.tolist() == [0] and t.elements.tolist() == [[0.0, 0.5]]
    # with FP8 E4M3 elements the same block stays exact (E4M3 reaches 2**-9)
    t = B.mx_quantize([2.0**-130, 2.0**-128], "fp8_e4m3", block_size=2)
    assert t.dequantize().tolist() == [2.0**-130, 2.0**-128]


def test_mx_shared_exponent_formula():
    amax = np.array([6.0, 7.9, 8.0, 0.75, 1e-300, 0.0])
    assert B.mx_shared_exponent(amax, "fp4_e2m1").tolist() == [0.0, 0.0, 1.0, -3.0, -127.0, -127.0]
    assert B.mx_shared_exponent(57344.0, "fp8_e5m2") == 0.0


def ref_nvfp4(x, k=16):
    amax = float(np.max(np.abs(x)))
    ts = float(np.float32(amax / (6 * 448))) if amax else 1.0
    out = np.empty_like(x)
    for i in range(0, x.size, k):
        blk = x[i:i + k]
        s = np.float32(min(np.max(np.abs(blk)) / (6 * ts), 448.0))
        bs = float(s.astype(ml_dtypes.float8_e4m3fn))
        if bs == 0:
            out[i:i + k] = 0
            continue
        v = np.clip(blk / (bs * ts), -6, 6).astype(np.float32).astype(ml_dtypes.float4_e2m1fn).astype(float)
        out[i:i + k] = v * bs * ts
    return out, ts


def test_nvfp4_matches_a_loop_from_nvidias_recipe():
    rng = np.random.default_rng(1)
    x = rng.standard_t(3, 4096) * 0.05
    x[:16] = 0.0  # an all-zero block
    t = B.nvfp4_quantize(x)
    ref, ts = ref_nvfp4(x)
    assert t.tensor_scale == ts and t.block_scales.shape == (256,)
    assert np.array_equal(t.dequantize(), ref)
    assert t.block_scales.max() == 448.0  # the block holding amax uses E4M3's top
    assert np.array_equal(t.dequantize()[:16], np.zeros(16))
    assert np.all(np.isin(F.cast(t.block_scales, "fp8_e4m3"), t.block_scales))
    # NVFP4 beats MXFP4 on this tensor (finer, non-power-of-two scales)
    assert sqnr_db(x, t.dequantize()) > sqnr_db(x, B.mx_quantize(x, "fp4_e2m1").dequantize())


def test_nvfp4_all_zero_and_bad_input():
    assert B.nvfp4_quantize(np.zeros(32)).dequantize().tolist() == [0.0] * 32
    with pytest.raises(ValueError, match="NaN or inf"):
        B.nvfp4_quantize([np.nan] * 16)


def ref_group(g, bits, symmetric):
    """GPTQ's Quantizer.find_params / quantize for one group, with Python floats and numpy's fp16."""
    g = [float(v) for v in g]
    if symmetric:
        qmax = 2 ** (bits - 1) - 1
        amax = max(abs(v) for v in g)
        s = float(np.float16(amax / qmax)) if amax else 1.0
        return [s * min(max(round(v / s), -qmax), qmax) for v in g]
    qmax = 2**bits - 1
    lo, hi = min(min(g), 0.0), max(max(g), 0.0)
    if lo == hi == 0:
        lo, hi = -1.0, 1.0
    s = float(np.float16((hi - lo) / qmax))
    z = min(max(round(-lo / s), 0), qmax)
    return [s * (min(max(round(v / s) + z, 0), qmax) - z) for v in g]


@pytest.mark.parametrize("bits", [3, 4])
@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("group_size", [32, 128])
def test_group_quantize_matches_gptq_formulas(bits, symmetric, group_size):
    rng = np.random.default_rng(bits + group_size)
    x = rng.standard_normal((4, 256)) * 0.1
    x[0, :group_size] = 0.0  # an all-zero group
    x[1, :group_size] = np.abs(x[1, :group_size])  # an all-positive group: range widened to hold 0
    t = B.group_quantize(x, bits=bits, group_size=group_size, symmetric=symmetric)
    ref = np.array([sum((ref_group(row[i:i + group_size], bits, symmetric)
                         for i in range(0, 256, group_size)), []) for row in x])
    assert np.array_equal(t.dequantize(), ref)
    lo, hi = (-(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1) if symmetric else (0, 2**bits - 1)
    assert t.q.min() >= lo and t.q.max() <= hi
    assert t.zero_point.min() >= 0 and t.zero_point.max() <= 2**bits - 1
    # error bound: within half a step wherever the value is inside the group's range
    err = np.abs(t.dequantize() - x).reshape(4, -1, group_size)
    assert np.all(err <= t.scale[..., None] / 2 * (1 + 1e-12) + 1e-300)


def test_group_values_on_the_grid_are_exact():
    x = np.array([-0.5, 0.0, 0.25, 1.25, -0.25, 0.75, 1.0, 0.5])  # multiples of 0.25, range 1.75 = 7 steps
    t = B.group_quantize(x, bits=3, group_size=8)
    assert t.scale.tolist() == [0.25] and t.zero_point.tolist() == [2]
    assert np.array_equal(t.dequantize(), x)


def test_pack_unpack_every_code_and_every_byte():
    a, b = np.meshgrid(np.arange(16), np.arange(16), indexing="ij")
    codes = np.stack([a.ravel(), b.ravel()], axis=1).ravel()  # all 256 ordered pairs
    packed = B.pack_nibbles(codes)
    assert packed.dtype == np.uint8 and packed.size == 256
    assert np.array_equal(np.sort(packed), np.arange(256))  # a bijection onto the bytes
    assert np.array_equal(B.unpack_nibbles(packed), codes)
    every_byte = np.arange(256, dtype=np.uint8)
    assert np.array_equal(B.pack_nibbles(B.unpack_nibbles(every_byte)), every_byte)
    # int4 two's complement and FP4 codes through packing, bit-exact
    q = np.arange(-8, 8)
    c = F.to_codes(q, "int4")
    assert np.array_equal(F.from_codes(B.unpack_nibbles(B.pack_nibbles(c)), "int4"), q)
    fp4 = F.from_codes(np.arange(16), "fp4_e2m1")
    back = F.from_codes(B.unpack_nibbles(B.pack_nibbles(np.arange(16))), "fp4_e2m1")
    assert np.array_equal(np.signbit(back), np.signbit(fp4)) and np.array_equal(back, fp4)
    # odd count: a zero high nibble, dropped by count
    assert B.unpack_nibbles(B.pack_nibbles([5, 6, 7]), count=3).tolist() == [5, 6, 7]


def test_bits_per_weight_equals_counted_storage():
    x = np.random.default_rng(2).standard_normal((8, 256))
    n = x.size
    for el in ELEM:
        t = B.mx_quantize(x, el)
        counted = (t.codes.size * F.get_format(el).bits + t.scale_codes.size * 8) / n
        assert t.bits_per_weight == counted == F.get_format(el).bits + 8 / 32
    t = B.nvfp4_quantize(x)
    assert t.bits_per_weight == (t.codes.size * 4 + t.block_scales.size * 8 + 32) / n == 4.5 + 32 / n
    for bits in (3, 4):
        for k in (32, 64, 128):
            t = B.group_quantize(x, bits=bits, group_size=k)
            assert t.bits_per_weight == (t.q.size * bits + t.scale.size * 16 + t.zero_point.size * bits) / n
            s = B.group_quantize(x, bits=bits, group_size=k, symmetric=True)
            assert s.bits_per_weight == (s.q.size * bits + s.scale.size * 16) / n
    assert B.bits_per_weight("int_asym", bits=4, block_size=128) == 4.15625
    assert B.bits_per_weight("mx", element="fp4_e2m1") == 4.25


def test_bad_input_names_the_argument():
    x = np.ones((2, 48))
    with pytest.raises(ValueError, match="group_size=32 does not divide"):
        B.group_quantize(x, group_size=32)
    with pytest.raises(ValueError, match="block_size=32 does not divide"):
        B.mx_quantize(x)
    with pytest.raises(ValueError, match="block_size=32 does not divide"):
        B.nvfp4_quantize(x, block_size=32)
    with pytest.raises(ValueError, match="bits must be in"):
        B.group_quantize(x, bits=9, group_size=16)
    with pytest.raises(ValueError, match="bits must be in"):
        B.group_quantize(x, bits=1, group_size=16)
    with pytest.raises(ValueError, match="block_size must be in"):
        B.mx_quantize(x, block_size=0)
    with pytest.raises(TypeError, match="group_size"):
        B.group_quantize(x, group_size=16.0)
    with pytest.raises(ValueError, match="NaN or inf"):
        B.group_quantize([1.0, np.nan], group_size=2)
    with pytest.raises(ValueError, match="empty"):
        B.group_quantize(np.zeros((3, 0)), group_size=2)
    with pytest.raises(ValueError, match="empty"):
        B.mx_quantize([], block_size=1)
    with pytest.raises(ValueError, match="element must be"):
        B.mx_quantize(x, "int8", block_size=16)
    with pytest.raises(ValueError, match="codes must be in"):
        B.pack_nibbles([16])
    with pytest.raises(ValueError, match="scheme must be"):
        B.quantize_dequantize(x, "mxfp3")
    with pytest.raises(ValueError, match="kind must be"):
        B.bits_per_weight("fp4")


def test_tradeoff_table_orders_as_the_lesson_says():
    from qlearn.networks import nn

    W = nn.pretrained().layers[0].W.reshape(-1)
    heavy = B.heavy_tailed_weights(4096, rng=np.random.default_rng(0))
    real = {(r["scheme"], r["block_size"]): r for r in B.tradeoff_table(W)}
    synth = {(r["scheme"], r["block_size"]): r for r in B.tradeoff_table(heavy)}
    for rows in (real, synth):
        for s in ("mxfp4", "nvfp4", "int_asym"):
            bpw = [rows[s, k]["bits_per_weight"] for k in (16, 32, 64, 128)]
            assert bpw == sorted(bpw, reverse=True)  # smaller blocks cost more bits
        for s in ("nvfp4", "int_asym"):  # finer scales: error falls with the block size, by more than 0.5 dB
            sq = [rows[s, k]["sqnr_db"] for k in (16, 32, 64, 128)]
            assert all(a > b + 0.1 for a, b in zip(sq, sq[1:])) and sq[0] > sq[-1] + 0.5
    # MXFP4 on heavy tails: smaller blocks help a lot; on the MLP's light-tailed layer they do not
    assert synth["mxfp4", 16]["sqnr_db"] > synth["mxfp4", 128]["sqnr_db"] + 2
    assert abs(real["mxfp4", 16]["sqnr_db"] - real["mxfp4", 128]["sqnr_db"]) < 0.5
    # at about 4.2-4.5 bits: NVFP4-16 beats int4-g128 and MXFP4-32 on both tensors
    for rows in (real, synth):
        assert rows["nvfp4", 16]["sqnr_db"] > rows["int_asym", 128]["sqnr_db"]
        assert rows["nvfp4", 16]["sqnr_db"] > rows["mxfp4", 32]["sqnr_db"]
    assert real["mxfp8_e4m3", 32]["sqnr_db"] > real["mxfp4", 32]["sqnr_db"] + 10

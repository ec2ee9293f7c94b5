"""qlearn.hardware.matmul_speed: the timed paths compute the right products; structure and validation (never
timings)."""
import numpy as np
import pytest

from qlearn.hardware import matmul_speed as ms


def test_int8_matmul_is_exact_against_python_ints():
    rng = np.random.default_rng(1)
    qa = rng.integers(-128, 128, (5, 300)).astype(np.int8)
    qb = rng.integers(-128, 128, (300, 4)).astype(np.int8)
    got = ms.int8_matmul(qa, qb)
    assert got.dtype == np.int32
    ref = [[sum(int(qa[i, k]) * int(qb[k, j]) for k in range(300)) for j in range(4)] for i in range(5)]
    assert got.tolist() == ref
    # the extreme products overflow int8 and int16 but not the int32 accumulator
    big = ms.int8_matmul(np.full((1, 1000), -128, np.int8), np.full((1000, 1), -128, np.int8))
    assert int(big[0, 0]) == 1000 * 128 * 128


def test_int8_matmul_rejects_other_dtypes():
    with pytest.raises(TypeError, match="qa must be an int8 array"):
        ms.int8_matmul(np.ones((2, 2), np.int32), np.ones((2, 2), np.int8))
    with pytest.raises(TypeError, match="qb must be an int8 array"):
        ms.int8_matmul(np.ones((2, 2), np.int8), np.ones((2, 2)))


def test_quantize_symmetric_int8_matches_the_formula():
    x = np.array([-2.0, -0.3, 0.0, 0.31, 1.0], dtype=np.float32)
    q, scale = ms.quantize_symmetric_int8(x)
    assert scale == pytest.approx(2.0 / 127)
    assert q.dtype == np.int8 and q.tolist() == [-127, round(-0.3 * 127 / 2), 0, round(0.31 * 127 / 2), round(127 / 2)]
    q0, s0 = ms.quantize_symmetric_int8(np.zeros(3, np.float32))
    assert s0 == 1.0 and not q0.any()


def test_quantized_matmul_error_is_within_the_quantization_bound():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((16, 64)).astype(np.float32)
    b = rng.standard_normal((64, 8)).astype(np.float32)
    qa, sa = ms.quantize_symmetric_int8(a)
    qb, sb = ms.quantize_symmetric_int8(b)
    got = ms.quantized_matmul(a, b)
    assert got.dtype == np.float32
    # exact: the dequantized int32 accumulator (float32 rounding of one product only)
    exact_codes = qa.astype(np.int64) @ qb.astype(np.int64)
    np.testing.assert_allclose(got, exact_codes * (sa * sb), rtol=1e-6, atol=1e-6)
    # vs the float product: |a b - a_hat b_hat| <= sum_k |a| |db| + |da| |b_hat| with |da| <= sa/2, |db| <= sb/2
    bound = (np.abs(a) @ np.full_like(b, sb / 2)) + (np.full_like(a, sa / 2) @ (np.abs(b) + sb / 2))
    assert np.all(np.abs(got - a.astype(np.float64) @ b) <= bound + 1e-5)


def test_measure_returns_one_row_per_size_with_consistent_ratios():
    s = ms.measure_matmul_speed((4, 9, 16), repeat=2, seed=3, min_sample_s=1e-4)
    assert [r.n for r in s.rows] == [4, 9, 16] and s.repeat == 2
    for r in s.rows:
        assert r.float32_s > 0 and r.int8_matmul_s > 0 and r.int8_end_to_end_s > 0
        assert r.int8_matmul_ratio == pytest.approx(r.int8_matmul_s / r.float32_s)
        assert r.int8_end_to_end_ratio == pytest.approx(r.int8_end_to_end_s / r.float32_s)
        assert 0 <= r.overhead_share < 1
    lines = s.table().splitlines()
    assert len(lines) == 4 and "int8/float32" in lines[0]
    assert [line.split()[0] for line in lines[1:]] == ["4", "9", "16"]
    assert s.summary().startswith("On this machine int8 end to end") and "medians of 2 samples" in s.summary()


def test_summary_wording_follows_the_numbers():
    rows = (ms.MatmulSpeedRow(8, 1.0, 2.0, 3.0), ms.MatmulSpeedRow(16, 1.0, 5.0, 6.0))
    assert "slower than float32 at every size, by 3.0x to 6.0x" in ms.MatmulSpeed(rows, 5).summary()
    rows = (ms.MatmulSpeedRow(8, 4.0, 1.0, 2.0),)
    assert "faster than float32 at every size (2.0x to 2.0x)" in ms.MatmulSpeed(rows, 5).summary()
    rows = (ms.MatmulSpeedRow(8, 4.0, 1.0, 2.0), ms.MatmulSpeedRow(16, 1.0, 1.0, 2.0))
    assert "ranged from 0.50x to 2.00x" in ms.MatmulSpeed(rows, 5).summary()


@pytest.mark.parametrize("sizes, exc, match", [
    ([], ValueError, "sizes is empty"),
    ([0], ValueError, r"sizes must be in \[1, 4096\]"),
    ([8, 5000], ValueError, r"sizes must be in \[1, 4096\]"),
    ([8, 8], ValueError, "must not repeat"),
    ([2.5], TypeError, "sizes must be an integer"),
    (7, TypeError, "sizes must be a sequence"),
])
def test_bad_sizes(sizes, exc, match):
    with pytest.raises(exc, match=match):
        ms.measure_matmul_speed(sizes)


def test_bad_repeat_and_sample_time():
    with pytest.raises(ValueError, match=r"repeat must be in \[1, 1000\]"):
        ms.measure_matmul_speed((4,), repeat=0)
    with pytest.raises(TypeError, match="repeat must be an integer"):
        ms.measure_matmul_speed((4,), repeat=1.5)
    with pytest.raises(ValueError, match=r"min_sample_s must be in \(0, 1\]"):
        ms.measure_matmul_speed((4,), min_sample_s=0)
    with pytest.raises(TypeError, match="min_sample_s must be a number"):
        ms.measure_matmul_speed((4,), min_sample_s="fast")

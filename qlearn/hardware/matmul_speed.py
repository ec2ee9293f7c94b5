"""Measured speed of a float32 matmul against an int8 one, on the machine that runs it.

Introduced in lesson ``11_integer_inference`` (and used again in ``13_tpu_v1_capstone``).

"int8 arithmetic is faster" is a statement about hardware and kernels, not about the
number format. numpy shows it on any computer:

- ``float32 @ float32`` calls the BLAS library numpy was built with (OpenBLAS, MKL,
  Accelerate): blocked, vectorised, multi-threaded GEMM kernels.
- numpy has **no integer GEMM kernel**: an integer ``@`` runs numpy's generic loop, one
  multiply-add at a time, on one thread. Here the int8 codes are widened to int32 first
  (``astype``), as an int8 x int8 product must be accumulated in 32 bits (lesson 11).

So on a CPU the int8 path is usually *slower* in numpy, and the quantize / dequantize steps
around it cost extra passes over the data. Fast int8 needs hardware and kernels built for it:
the TPU's 8-bit matrix unit (lesson 13), x86 VNNI (``VPDPBUSD``), NVIDIA's DP4A, with
libraries that use them (gemmlowp, XNNPACK, oneDNN, FBGEMM).

:func:`measure_matmul_speed` times three things per size ``n`` (square ``n x n`` matrices):
``float32`` (``A @ B``), ``int8 matmul`` (int8 codes widened to int32, then ``@``) and
``int8 end to end`` (quantize both float32 inputs to int8, the int8 matmul, dequantize the
int32 result to float32). Times are medians over ``repeat`` samples taken with
:func:`time.perf_counter`, the three paths sampled in turn. They depend on the machine, its
load and its BLAS: never pin them.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import numpy as np

from qlearn._validate import check_int

#: Sizes the lesson measures (kept small so the cell runs in about a second).
LESSON_SIZES = (64, 128, 256)
#: Sizes ``benchmarks/bench_matmul_speed.py`` measures.
BENCH_SIZES = (256, 512, 1024)
MAX_SIZE = 4096


def quantize_symmetric_int8(x) -> tuple[np.ndarray, float]:
    """Per-tensor symmetric int8 codes of ``x`` (narrow range, [-127, 127]) and their ``scale``.

    ``scale = max|x| / 127``; ``q = clip(round(x / scale), -127, 127)``. An all-zero ``x``
    gets ``scale = 1``.

    Examples
    --------
    >>> q, scale = quantize_symmetric_int8(np.array([-1.0, 0.5, 1.0], dtype=np.float32))
    >>> q.tolist(), q.dtype.name, round(scale * 127, 6)
    ([-127, 64, 127], 'int8', 1.0)
    """
    x = np.asarray(x)
    amax = float(np.max(np.abs(x))) if x.size else 0.0
    scale = amax / 127 if amax > 0 else 1.0
    q = np.clip(np.rint(x / np.float32(scale)), -127, 127).astype(np.int8)
    return q, scale


def int8_matmul(qa, qb) -> np.ndarray:
    """``qa @ qb`` for int8 codes, accumulated exactly in int32 (numpy's integer loop, no BLAS).

    Exact while ``K * 127 * 128 < 2**31`` (``K`` up to about 132,000 for int8 inputs).

    Examples
    --------
    >>> qa = np.array([[127, -128]], dtype=np.int8)
    >>> qb = np.array([[127], [-128]], dtype=np.int8)
    >>> int8_matmul(qa, qb).tolist()       # 127*127 + 128*128: far beyond int8 and int16
    [[32513]]
    """
    qa, qb = np.asarray(qa), np.asarray(qb)
    for name, a in (("qa", qa), ("qb", qb)):
        if a.dtype != np.int8:
            raise TypeError(f"{name} must be an int8 array, got dtype {a.dtype}")
    return qa.astype(np.int32) @ qb.astype(np.int32)


def quantized_matmul(a, b) -> np.ndarray:
    """``a @ b`` the int8 way: quantize both, int8 matmul into int32, dequantize to float32.

    Examples
    --------
    >>> a = np.array([[1.0, -2.0]], dtype=np.float32)
    >>> b = np.array([[0.5], [0.25]], dtype=np.float32)
    >>> float(quantized_matmul(a, b)[0, 0])    # exact answer 0.0; error about one step
    0.0
    """
    qa, sa = quantize_symmetric_int8(a)
    qb, sb = quantize_symmetric_int8(b)
    return (int8_matmul(qa, qb) * np.float32(sa * sb)).astype(np.float32)


def median_seconds(fns, repeat: int, min_sample_s: float) -> list[float]:
    """Median seconds per call of each of ``fns`` over ``repeat`` rounds.

    The functions are sampled in turn within each round (interleaved), so a burst of load
    from another program hits all of them rather than one. Each sample loops a function
    until it lasts about ``min_sample_s`` (short calls are noisy).
    """
    numbers = []
    for fn in fns:
        t0 = time.perf_counter()
        fn()                                       # warm-up (allocations, BLAS threads)
        once = max(time.perf_counter() - t0, 1e-7)
        numbers.append(max(1, min(1000, int(min_sample_s / once))))
    samples = [[] for _ in fns]
    for _ in range(repeat):
        for fn, number, out in zip(fns, numbers, samples):
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            out.append((time.perf_counter() - t0) / number)
    return [statistics.median(out) for out in samples]


@dataclass(frozen=True)
class MatmulSpeedRow:
    """One size: median seconds per call of each path, and the ratios to float32."""

    n: int
    float32_s: float
    int8_matmul_s: float
    int8_end_to_end_s: float

    @property
    def int8_matmul_ratio(self) -> float:
        """``int8_matmul_s / float32_s``: above 1 means the int8 matmul is slower."""
        return self.int8_matmul_s / self.float32_s

    @property
    def int8_end_to_end_ratio(self) -> float:
        """``int8_end_to_end_s / float32_s``, quantize and dequantize included."""
        return self.int8_end_to_end_s / self.float32_s

    @property
    def overhead_share(self) -> float:
        """Share of the end-to-end int8 time spent outside the matmul (quantize, dequantize)."""
        return max(0.0, 1.0 - self.int8_matmul_s / self.int8_end_to_end_s)


@dataclass(frozen=True)
class MatmulSpeed:
    """The result of :func:`measure_matmul_speed`: one :class:`MatmulSpeedRow` per size."""

    rows: tuple
    repeat: int

    def table(self) -> str:
        """The rows as a fixed-width text table (times in ms, ratios to float32)."""
        head = ("n", "float32 (ms)", "int8 matmul (ms)", "int8 end to end (ms)", "int8/float32", "end to end/float32",
                "quant+dequant share")
        lines = ["  ".join(f"{h:>{len(h)}}" for h in head)]
        for r in self.rows:
            vals = (f"{r.n}", f"{r.float32_s * 1e3:.3f}", f"{r.int8_matmul_s * 1e3:.3f}",
                    f"{r.int8_end_to_end_s * 1e3:.3f}", f"{r.int8_matmul_ratio:.1f}x",
                    f"{r.int8_end_to_end_ratio:.1f}x", f"{r.overhead_share:.0%}")
            lines.append("  ".join(f"{v:>{len(h)}}" for v, h in zip(vals, head)))
        return "\n".join(lines)

    def summary(self) -> str:
        """One sentence describing what *this* measurement shows (computed, never typed in)."""
        ratios = [r.int8_end_to_end_ratio for r in self.rows]
        lo, hi = min(ratios), max(ratios)
        if lo > 1:
            verdict = f"int8 end to end was slower than float32 at every size, by {lo:.1f}x to {hi:.1f}x"
        elif hi < 1:
            verdict = f"int8 end to end was faster than float32 at every size ({1 / hi:.1f}x to {1 / lo:.1f}x)"
        else:
            verdict = f"int8 end to end ranged from {lo:.2f}x to {hi:.2f}x the float32 time"
        return f"On this machine {verdict} (medians of {self.repeat} samples)."


def measure_matmul_speed(sizes=LESSON_SIZES, *, repeat: int = 5, seed: int = 0,
                         min_sample_s: float = 0.002) -> MatmulSpeed:
    """Time float32 vs int8 matmul (and int8 with its quantize/dequantize) on this machine.

    Introduced in lesson ``11_integer_inference``.

    Parameters
    ----------
    sizes : sequence of int in [1, 4096]
        Square sizes ``n``: ``(n, n) @ (n, n)``. Not empty, no duplicates.
    repeat : int in [1, 1000]
        Samples per measurement; the median is reported.
    seed : int
        Seeds the ``numpy.random.Generator`` that draws the float32 inputs (standard normal).
    min_sample_s : float in (0, 1]
        Each sample repeats the call until it lasts about this long (short calls are noisy).

    Returns
    -------
    MatmulSpeed
        ``rows`` (one :class:`MatmulSpeedRow` per size: median seconds and ratios),
        ``table()`` and ``summary()``.

    Notes
    -----
    The timed paths, per size: ``float32``: ``A @ B``. ``int8 matmul``: :func:`int8_matmul`
    on precomputed int8 codes (the ``astype(int32)`` widening included). ``int8 end to end``:
    :func:`quantized_matmul` from the float32 inputs. Timings are medians of wall-clock time
    and depend on the machine, its load, its BLAS and thread count: nothing here is pinned.

    Examples
    --------
    >>> s = measure_matmul_speed((8, 16), repeat=1, min_sample_s=1e-4)
    >>> [r.n for r in s.rows], all(r.float32_s > 0 and r.int8_end_to_end_ratio > 0 for r in s.rows)
    ([8, 16], True)
    >>> measure_matmul_speed([])
    Traceback (most recent call last):
    ...
    ValueError: sizes is empty: give at least one matrix size n
    """
    try:
        sizes = list(sizes)
    except TypeError:
        raise TypeError(f"sizes must be a sequence of integers in [1, {MAX_SIZE}], got {sizes!r}") from None
    if not sizes:
        raise ValueError("sizes is empty: give at least one matrix size n")
    sizes = [check_int(n, "sizes", 1, MAX_SIZE) for n in sizes]
    if len(set(sizes)) != len(sizes):
        raise ValueError(f"sizes must not repeat a size, got {sizes}")
    repeat = check_int(repeat, "repeat", 1, 1000)
    seed = check_int(seed, "seed", 0, 2**63 - 1)
    try:
        min_sample_s = float(min_sample_s)
    except (TypeError, ValueError):
        raise TypeError(f"min_sample_s must be a number in (0, 1], got {min_sample_s!r}") from None
    if not 0 < min_sample_s <= 1:
        raise ValueError(f"min_sample_s must be in (0, 1] seconds, got {min_sample_s!r}")
    rng = np.random.default_rng(seed)
    rows = []
    for n in sizes:
        A = rng.standard_normal((n, n), dtype=np.float32)
        B = rng.standard_normal((n, n), dtype=np.float32)
        qa, _ = quantize_symmetric_int8(A)
        qb, _ = quantize_symmetric_int8(B)
        t_float, t_int8, t_e2e = median_seconds(
            [lambda A=A, B=B: A @ B, lambda qa=qa, qb=qb: int8_matmul(qa, qb),
             lambda A=A, B=B: quantized_matmul(A, B)], repeat, min_sample_s)
        rows.append(MatmulSpeedRow(n=n, float32_s=t_float, int8_matmul_s=t_int8, int8_end_to_end_s=t_e2e))
    return MatmulSpeed(rows=tuple(rows), repeat=repeat)

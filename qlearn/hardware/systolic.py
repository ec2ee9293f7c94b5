"""A cycle-accurate systolic array: the register-level wavefront of a matrix unit, one clock at a time.

Introduced in lesson ``12_systolic_array``.

A ``rows x cols`` grid of processing elements (PEs), each a multiply-accumulate with
registers, passes operands to its neighbours every clock (Kung & Leiserson 1979; Kung,
"Why systolic architectures?", 1982). Which operand stays put in the PE is the
*dataflow*:

=====================  ==========================  =====================  ==================
dataflow               stationary in PE (i, j)     moves right (rows)     moves down (cols)
=====================  ==========================  =====================  ==================
weight_stationary      ``B[k0+i, n0+j]``           ``A[m, k0+i]``         partial sums
input_stationary       ``A[m0+j, k0+i]``           ``B[k0+i, n]``         partial sums
output_stationary      ``C[m0+i, n0+j]`` (sums)    ``A[m0+i, k]``         ``B[k, n0+j]``
=====================  ==========================  =====================  ==================

The simulator keeps every PE's registers as numpy arrays and advances them one clock
per loop iteration (vectorised over PEs): operands enter skewed (row ``i`` is ``i``
cycles late), so each product meets its partners on a diagonal wavefront. It computes
the result from those registers, so ``output == A @ B`` is a check of the wavefront,
not an assumption, and the cycle count is what the registers needed.

Cycle convention (SCALE-Sim, Samajdar et al. 2018, arXiv 1811.02883): with the problem
mapped as ``(S_R, S_C, T)`` = ``(K, N, M)`` for weight-stationary, ``(K, M, N)`` for
input-stationary and ``(M, N, K)`` for output-stationary, every fold (tile) costs
``2 R + C + T - 2`` cycles on an ``R x C`` array and folds are not overlapped:

.. math:: \\text{cycles} = \\lceil S_R / R \\rceil \\lceil S_C / C \\rceil (2R + C + T - 2)

For WS/IS the ``R`` cycles are the stationary operand shifting in row by row, then
``T + R + C - 2`` cycles stream and drain the skewed wavefront. For OS, ``T + R + C - 2``
cycles compute and ``R`` cycles shift the finished sums out of the columns. A partial
fold (``K`` not a multiple of ``R``...) still pays for the whole array: idle PEs hold
zeros. With ``overlap=True`` (WS/IS only) the stationary operand of the next fold is
shifted into shadow registers while the current fold computes (double buffering, as the
TPU v1 does with its weight tiles), so only the first fold pays its ``R`` load cycles.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qlearn._validate import check_int

DATAFLOWS = ("weight_stationary", "output_stationary", "input_stationary")
MAX_ARRAY = 1024
MAX_K = 131071          # int8 x int8 sums of up to 131071 terms always fit int32
MAX_TRACE_CELLS = 20_000_000


def _check_dataflow(dataflow: str) -> str:
    if dataflow not in DATAFLOWS:
        raise ValueError(f"dataflow must be one of {DATAFLOWS}, got {dataflow!r}")
    return dataflow


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def mapping(M: int, K: int, N: int, dataflow: str) -> tuple[int, int, int]:
    """SCALE-Sim's ``(S_R, S_C, T)``: what spans the array rows, its columns, and what streams in time.

    Introduced in lesson ``12_systolic_array``.

    Examples
    --------
    >>> mapping(100, 64, 10, "weight_stationary")
    (64, 10, 100)
    >>> mapping(100, 64, 10, "output_stationary")
    (100, 10, 64)
    >>> mapping(100, 64, 10, "input_stationary")
    (64, 100, 10)
    """
    _check_dataflow(dataflow)
    if dataflow == "weight_stationary":
        return K, N, M
    if dataflow == "input_stationary":
        return K, M, N
    return M, N, K


def _check_dims(M, K, N, rows, cols):
    M = check_int(M, "M", 1, 2**31)
    K = check_int(K, "K", 1, MAX_K)
    N = check_int(N, "N", 1, 2**31)
    rows = check_int(rows, "rows", 1, MAX_ARRAY)
    cols = check_int(cols, "cols", 1, MAX_ARRAY)
    return M, K, N, rows, cols


def cycle_count(M: int, K: int, N: int, rows: int, cols: int, dataflow: str = "weight_stationary",
                *, overlap: bool = False) -> int:
    """Closed-form cycles for ``(M x K) @ (K x N)`` on a ``rows x cols`` array (SCALE-Sim's model).

    Introduced in lesson ``12_systolic_array``.

    Parameters
    ----------
    M, K, N : int >= 1
        Problem shape: ``A`` is ``M x K`` (batch x in), ``B`` is ``K x N`` (in x out).
    rows, cols : int >= 1
        Array size ``R x C``.
    dataflow : {'weight_stationary', 'output_stationary', 'input_stationary'}
    overlap : bool
        WS/IS only: the next fold's stationary operand loads during the current fold.

    Returns
    -------
    int

    Notes
    -----
    ``F = ceil(S_R / R) ceil(S_C / C)`` folds of ``2R + C + T - 2`` cycles (see the module
    docstring for ``(S_R, S_C, T)``); with ``overlap``: ``R + F (R + C + T - 2)``.

    Examples
    --------
    >>> cycle_count(256, 256, 256, 128, 128)        # 2 * 2 folds of 2*128 + 128 + 256 - 2
    2552
    >>> cycle_count(8, 8, 8, 8, 8, "output_stationary")
    30
    >>> cycle_count(256, 256, 256, 128, 128, overlap=True)
    2168
    """
    M, K, N, rows, cols = _check_dims(M, K, N, rows, cols)
    _check_dataflow(dataflow)
    if overlap and dataflow == "output_stationary":
        raise ValueError("overlap applies to weight_stationary and input_stationary (a stationary operand to preload)")
    SR, SC, T = mapping(M, K, N, dataflow)
    folds = _ceil_div(SR, rows) * _ceil_div(SC, cols)
    if overlap:
        return rows + folds * (rows + cols + T - 2)
    return folds * (2 * rows + cols + T - 2)


def utilization(M: int, K: int, N: int, rows: int, cols: int, dataflow: str = "weight_stationary",
                *, overlap: bool = False) -> float:
    """Useful MACs over the MACs the array could have done in the same cycles.

    Introduced in lesson ``12_systolic_array``.

    Examples
    --------
    >>> round(utilization(256, 256, 256, 128, 128), 4)       # 256**3 / (128*128*2552)
    0.4013
    """
    cycles = cycle_count(M, K, N, rows, cols, dataflow, overlap=overlap)
    return M * K * N / (rows * cols * cycles)


@dataclass(frozen=True, eq=False)
class SystolicTrace:
    """Per-cycle register state of every PE (arrays of shape ``(cycles, rows, cols)``).

    Attributes
    ----------
    stationary : the value held in place (weight, input, or for OS the accumulating sum)
    horizontal : the operand moving right this cycle (0 where ``horizontal_valid`` is False)
    vertical : what moves down this cycle (partial sums for WS/IS, ``B`` values for OS)
    psum : the partial sum each PE holds after this cycle
    active : True where a PE did a useful multiply-accumulate this cycle
    horizontal_valid, vertical_valid : True where the register holds real data
    phase : (cycles,) array of 'load', 'compute' or 'drain'
    fold : (cycles,) fold index
    outputs_done : (cycles,) outputs finished so far
    """

    dataflow: str
    rows: int
    cols: int
    stationary: np.ndarray
    horizontal: np.ndarray
    vertical: np.ndarray
    psum: np.ndarray
    active: np.ndarray
    horizontal_valid: np.ndarray
    vertical_valid: np.ndarray
    phase: np.ndarray
    fold: np.ndarray
    outputs_done: np.ndarray

    @property
    def cycles(self) -> int:
        return int(self.phase.shape[0])


@dataclass(frozen=True, eq=False)
class SystolicResult:
    """Result of :meth:`SystolicArray.matmul`: ``output`` (int64 of int32 sums), ``cycles``, ``utilization``."""

    output: np.ndarray
    cycles: int
    utilization: float
    folds: int
    macs: int
    trace: SystolicTrace | None = field(default=None, repr=False)

    def __repr__(self):
        return (f"SystolicResult(output shape={self.output.shape}, cycles={self.cycles}, folds={self.folds}, "
                f"utilization={self.utilization:.3f})")


class _Recorder:
    """Collects per-cycle frames for a trace (only when tracing)."""

    def __init__(self, rows, cols):
        self.rows, self.cols = rows, cols
        self.frames = {k: [] for k in ("stationary", "horizontal", "vertical", "psum", "active",
                                       "horizontal_valid", "vertical_valid")}
        self.phase, self.fold, self.done = [], [], []

    def add(self, phase, fold, done, **regs):
        for k, v in regs.items():
            self.frames[k].append(np.array(v, copy=True))
        self.phase.append(phase)
        self.fold.append(fold)
        self.done.append(done)

    def build(self, dataflow, transpose=False) -> SystolicTrace:
        arrs = {k: np.stack(v) for k, v in self.frames.items()}
        return SystolicTrace(dataflow=dataflow, rows=self.rows, cols=self.cols, phase=np.array(self.phase),
                             fold=np.array(self.fold), outputs_done=np.array(self.done), **arrs)


def _skew(lanes, n_lanes: int):
    """Skew streams into a systolic edge: lane ``i`` enters ``i`` cycles late.

    ``lanes`` is ``(used, length)``, one stream per used lane (``used <= n_lanes``). Returns the
    int32 values ``S[t, i] = lanes[i, t - i]`` (zero outside) and the matching validity mask,
    both of shape ``(length + n_lanes - 1, n_lanes)``.
    """
    used, length = lanes.shape
    S = np.zeros((length + n_lanes - 1, n_lanes), dtype=np.int32)
    valid = np.zeros(S.shape, dtype=bool)
    for i in range(used):
        S[i:i + length, i] = lanes[i]
        valid[i:i + length, i] = True
    return S, valid


def _ws_kernel(A, B, R, C, *, overlap, rec):
    """Weight-stationary register model: B tile stationary, A rows stream right, sums flow down.

    ``A`` is (M, K) and ``B`` is (K, N); returns ``(A @ B, cycles)``.
    """
    M, K = A.shape
    N = B.shape[1]
    out = np.zeros((M, N), dtype=np.int64)
    cycles = 0
    fold_id = 0
    done = 0
    zerosb = np.zeros((R, C), dtype=bool)
    w = np.zeros((R, C), dtype=np.int32)
    T = M + R + C - 2
    cidx = np.arange(C)
    for k0 in range(0, K, R):
        kr = min(R, K - k0)
        # skewed input columns: S[t, i] = A[t - i, k0 + i] (zero outside)
        S, Sv = _skew(A[:, k0:k0 + kr].T, R)
        for n0 in range(0, N, C):
            nc = min(C, N - n0)
            tile = np.zeros((R, C), dtype=np.int32)
            tile[:kr, :nc] = B[k0:k0 + kr, n0:n0 + nc]
            if overlap and fold_id > 0:
                w = tile                      # preloaded into shadow registers during the last fold
            else:
                w = np.zeros((R, C), dtype=np.int32)
                for t in range(R):            # shift the tile in from the top, one row a clock
                    w[1:] = w[:-1]
                    w[0] = tile[R - 1 - t]
                    cycles += 1
                    if rec is not None:
                        z = np.zeros((R, C), dtype=np.int32)
                        rec.add("load", fold_id, done, stationary=w, horizontal=z, vertical=z, psum=z,
                                active=zerosb, horizontal_valid=zerosb, vertical_valid=zerosb)
            h = np.zeros((R, C), dtype=np.int32)
            ps = np.zeros((R, C), dtype=np.int32)
            bottom = np.zeros((T, C), dtype=np.int32)
            if rec is not None:
                hv = np.zeros((R, C), dtype=bool)
                pv = np.zeros((R, C), dtype=bool)
                colmask = np.zeros((R, C), dtype=bool)
                colmask[:kr, :nc] = True
            nS = S.shape[0]
            for t in range(T):
                h[:, 1:] = h[:, :-1]
                h[:, 0] = S[t] if t < nS else 0
                prod = h * w
                prod[1:] += ps[:-1]
                ps = prod
                bottom[t] = ps[R - 1]
                cycles += 1
                if rec is not None:
                    hv[:, 1:] = hv[:, :-1]
                    hv[:, 0] = Sv[t] if t < nS else False
                    pv_new = hv.copy()
                    pv_new[1:] |= pv[:-1]
                    pv = pv_new
                    m_out = t - (R - 1) - cidx
                    done += int(((m_out >= 0) & (m_out < M) & (cidx < nc)).sum()) if k0 + R >= K else 0
                    rec.add("compute", fold_id, done, stationary=w, horizontal=h, vertical=ps, psum=ps,
                            active=hv & colmask, horizontal_valid=hv, vertical_valid=pv)
            # de-skew: the sum for row m of column j leaves the bottom at t = m + R - 1 + j
            tt = np.arange(M)[:, None] + (R - 1) + cidx[None, :nc]
            out[:, n0:n0 + nc] += bottom[tt, cidx[None, :nc]]
            fold_id += 1
    return out, cycles, fold_id


def _os_kernel(A, B, R, C, *, rec):
    """Output-stationary register model: A rows stream right, B columns stream down, sums stay."""
    M, K = A.shape
    N = B.shape[1]
    out = np.zeros((M, N), dtype=np.int64)
    cycles = 0
    fold_id = 0
    done = 0
    Tc = K + R + C - 2
    for m0 in range(0, M, R):
        mr = min(R, M - m0)
        SA, SAv = _skew(A[m0:m0 + mr], R)
        for n0 in range(0, N, C):
            nc = min(C, N - n0)
            SB, SBv = _skew(B[:, n0:n0 + nc].T, C)
            h = np.zeros((R, C), dtype=np.int32)
            v = np.zeros((R, C), dtype=np.int32)
            acc = np.zeros((R, C), dtype=np.int32)
            if rec is not None:
                hv = np.zeros((R, C), dtype=bool)
                vv = np.zeros((R, C), dtype=bool)
            for t in range(Tc):
                h[:, 1:] = h[:, :-1]
                h[:, 0] = SA[t] if t < SA.shape[0] else 0
                v[1:] = v[:-1]
                v[0] = SB[t] if t < SB.shape[0] else 0
                acc += h * v
                cycles += 1
                if rec is not None:
                    hv[:, 1:] = hv[:, :-1]
                    hv[:, 0] = SAv[t] if t < SA.shape[0] else False
                    vv[1:] = vv[:-1]
                    vv[0] = SBv[t] if t < SB.shape[0] else False
                    rec.add("compute", fold_id, done, stationary=acc, horizontal=h, vertical=v, psum=acc,
                            active=hv & vv, horizontal_valid=hv, vertical_valid=vv)
            for t in range(R):                # drain: shift the finished sums out of the bottom
                row = R - 1 - t
                if row < mr:
                    out[m0 + row, n0:n0 + nc] = acc[R - 1, :nc]
                    done += nc
                acc[1:] = acc[:-1].copy()
                acc[0] = 0
                cycles += 1
                if rec is not None:
                    z = np.zeros((R, C), dtype=bool)
                    zi = np.zeros((R, C), dtype=np.int32)
                    rec.add("drain", fold_id, done, stationary=acc, horizontal=zi, vertical=zi, psum=acc,
                            active=z, horizontal_valid=z, vertical_valid=z)
            fold_id += 1
    return out, cycles, fold_id


def _as_int8_matrix(x, name):
    a = np.asarray(x)
    if a.ndim != 2 or 0 in a.shape:
        raise ValueError(f"{name} must be a non-empty 2-D matrix, got shape {a.shape}")
    if a.dtype == bool or not np.issubdtype(a.dtype, np.integer):
        if a.dtype == bool or not np.all(np.isfinite(a)) or not np.all(a == np.round(a)):
            raise ValueError(f"{name} must hold int8 codes (integers in [-128, 127])")
    if a.min() < -128 or a.max() > 127:
        raise ValueError(f"{name} must hold int8 codes in [-128, 127], got values in [{a.min()}, {a.max()}]")
    return a.astype(np.int32)


class SystolicArray:
    """A ``rows x cols`` systolic array of int8 multiply-accumulate PEs with int32 sums.

    Introduced in lesson ``12_systolic_array``.

    Parameters
    ----------
    rows, cols : int in [1, 1024]
    dataflow : {'weight_stationary', 'output_stationary', 'input_stationary'}
    overlap : bool
        Double-buffered stationary operand (WS/IS): see :func:`cycle_count`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> A = rng.integers(-128, 128, (5, 7)); B = rng.integers(-128, 128, (7, 3))
    >>> r = SystolicArray(4, 4).matmul(A, B)
    >>> bool((r.output == A @ B).all()), r.cycles == cycle_count(5, 7, 3, 4, 4)
    (True, True)
    """

    def __init__(self, rows: int, cols: int, *, dataflow: str = "weight_stationary", overlap: bool = False):
        self.rows = check_int(rows, "rows", 1, MAX_ARRAY)
        self.cols = check_int(cols, "cols", 1, MAX_ARRAY)
        self.dataflow = _check_dataflow(dataflow)
        if overlap and dataflow == "output_stationary":
            raise ValueError("overlap applies to weight_stationary and input_stationary "
                             "(a stationary operand to preload)")
        self.overlap = bool(overlap)

    def __repr__(self):
        return f"SystolicArray({self.rows}, {self.cols}, dataflow={self.dataflow!r}, overlap={self.overlap})"

    def matmul(self, A, B, *, trace: bool = False) -> SystolicResult:
        """Run ``A @ B`` clock by clock; ``trace=True`` also records every PE's registers each cycle.

        Parameters
        ----------
        A : (M, K) int8 codes
        B : (K, N) int8 codes
        trace : bool

        Returns
        -------
        SystolicResult
        """
        A = _as_int8_matrix(A, "A")
        B = _as_int8_matrix(B, "B")
        if A.shape[1] != B.shape[0]:
            raise ValueError(f"A is {A.shape} and B is {B.shape}: inner dimensions must match")
        M, K = A.shape
        N = B.shape[1]
        if K > MAX_K:
            raise ValueError(f"K must be <= {MAX_K} so that int32 sums of int8 products cannot overflow")
        R, C = self.rows, self.cols
        expected = cycle_count(M, K, N, R, C, self.dataflow, overlap=self.overlap)
        rec = None
        if trace:
            if expected * R * C > MAX_TRACE_CELLS:
                raise ValueError(f"a trace of {expected} cycles on {R}x{C} PEs is too large to record; "
                                 "use a smaller problem or trace=False")
            rec = _Recorder(R, C)
        if self.dataflow == "weight_stationary":
            out, cycles, folds = _ws_kernel(A, B, R, C, overlap=self.overlap, rec=rec)
        elif self.dataflow == "input_stationary":
            # A^T is stationary, B^T streams: C^T = B^T A^T on the same register model
            outT, cycles, folds = _ws_kernel(np.ascontiguousarray(B.T), np.ascontiguousarray(A.T), R, C,
                                             overlap=self.overlap, rec=rec)
            out = outT.T.copy()
        else:
            out, cycles, folds = _os_kernel(A, B, R, C, rec=rec)
        macs = M * K * N
        return SystolicResult(output=out, cycles=cycles, utilization=macs / (R * C * cycles), folds=folds,
                              macs=macs, trace=rec.build(self.dataflow) if rec is not None else None)

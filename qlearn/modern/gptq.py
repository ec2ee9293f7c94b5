"""GPTQ: 4-bit (or 2-8 bit) weights whose rounding error is pushed into the columns still to quantize.

Introduced in lesson ``18_llm_weights``.

Round-to-nearest (RTN) quantizes every weight on its own. GPTQ (Frantar et al. 2022,
arXiv:2210.17323, Algorithm 1) quantizes the columns of ``W (out, in)`` one at a time and, after
each, changes the columns *not yet quantized* so that the layer's output on calibration inputs
``X (n, in)`` moves as little as possible. The objective, per output row ``w``, is

.. math::

    \\min_{\\hat w} (w - \\hat w)\\, H\\, (w - \\hat w)^T, \\qquad H = \\tfrac{2}{n} X^T X + \\lambda I,

i.e. the squared output error ``||(W - W_hat) X^T||^2`` (times ``2/n``) plus a small damping term
``lambda ||W - W_hat||^2`` with ``lambda = damp * mean(diag(H))``. Quantizing column ``i`` to ``q``
and updating the remaining columns ``F`` optimally (the optimal-brain-surgeon step) is

.. math::

    \\delta_F = -\\frac{w_i - q_i}{[H_F^{-1}]_{ii}}\\, (H_F^{-1})_{i,:},

and GPTQ reads every ``H_F^{-1}`` row it needs from one Cholesky factor: with
``H^{-1} = U^T U`` (``U`` upper triangular), the row of ``H_F^{-1}`` for column ``i`` divided by its
diagonal is ``U[i, i:] / U[i, i]``. "Lazy batches" of ``block_size`` columns apply the updates to
later columns in one matrix product; the result is the same.

Details as in the authors' code (github.com/IST-DASLab/gptq, ``gptq.py``, ``quant.py``):
``H = 2/n X^T X``; a column with ``H_jj = 0`` (an input that is always 0) gets ``H_jj = 1`` and
weight 0; ``damp`` (their ``percdamp``) is relative to the mean of ``diag(H)``; ``act_order``
quantizes columns in order of decreasing ``H_jj`` (groups are then runs of ``group_size`` columns
in that order, which a checkpoint records in ``g_idx``); a group's scale and zero point are
computed when the group starts, from the weights as they are then (already updated). The
quantizer is :func:`qlearn.modern.block_formats.group_quantize`'s (asymmetric with a zero point by
default; FP16 scales). One difference: when a group starts *inside* a lazy batch, the authors'
code reads the group's weights from the copy that does not yet hold that batch's updates; here
they are always the current weights (with ``group_size`` a multiple of ``block_size``, the
default 128/128, the two are identical). Without groups (``group_size=None``, per channel) the
authors compute each row's scale before zeroing the weights of dead inputs; here after.

References: E. Frantar, S. Ashkboos, T. Hoefler, D. Alistarh, "GPTQ: Accurate Post-Training
Quantization for Generative Pre-trained Transformers", arXiv:2210.17323 (2022); E. Frantar,
D. Alistarh, "Optimal Brain Compression" (OBQ), NeurIPS 2022; B. Hassibi, D. Stork, "Second order
derivatives for network pruning: Optimal Brain Surgeon", NeurIPS 1992.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qlearn._validate import as_finite_array, check_int
from qlearn.modern import block_formats as B


# ---------------------------------------------------------------------------------------------
# shared checks (also used by awq, smoothquant, outliers)
# ---------------------------------------------------------------------------------------------
def check_weight(W, name: str = "W") -> np.ndarray:
    """``W`` as a finite float64 ``(out, in)`` matrix."""
    a = as_finite_array(W, name, allow_empty=False)
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix (out, in), got shape {a.shape}")
    return a


def check_calibration(X, in_features: int, name: str = "X") -> np.ndarray:
    """``X`` as a finite float64 ``(n, in_features)`` matrix with ``n >= 1``."""
    try:
        a = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array of real numbers ({exc})") from None
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix (n, in) of calibration inputs, got shape {a.shape}")
    if a.shape[0] == 0:
        raise ValueError(f"{name} is an empty calibration set (0 rows): it needs at least one input row")
    if a.shape[1] != in_features:
        raise ValueError(f"{name} has {a.shape[1]} columns but W has in_features={in_features}: "
                         f"X must be (n, in) with the same in as W (out, in)")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or inf: calibration inputs must be finite")
    return a


def check_group_size(group_size, in_features: int) -> int:
    """``group_size`` (None: one group per row, i.e. per channel) as an int dividing ``in_features``."""
    if group_size is None:
        return in_features
    g = check_int(group_size, "group_size", 1, 1 << 20)
    if in_features % g:
        divisors = [d for d in range(1, in_features + 1) if in_features % d == 0]
        raise ValueError(f"group_size={g} must divide in_features={in_features} (groups run along the input "
                         f"dimension of W and none may be partial); divisors: {divisors}, or None for per-channel")
    return g


def rtn_quantize(W, *, bits: int = 4, group_size: int | None = 128, symmetric: bool = False) -> np.ndarray:
    """Round-to-nearest: every group quantized on its own (:func:`qlearn.modern.block_formats.group_quantize`).

    ``group_size=None`` gives one scale (and zero point) per output row: per-channel.

    Examples
    --------
    >>> W = np.array([[0.0, 0.5, 1.0, 1.5], [1.0, -1.0, 0.2, 0.0]])
    >>> rtn_quantize(W, bits=2, group_size=None)[0].tolist()
    [0.0, 0.5, 1.0, 1.5]
    """
    W = check_weight(W)
    g = check_group_size(group_size, W.shape[1])
    return B.group_quantize(W, bits=bits, group_size=g, symmetric=symmetric).dequantize()


def _group_params(Wg, bits, symmetric):
    """Per-row (scale, zero_point, qmin, qmax) of the group ``Wg (out, g)``, as group_quantize sets them."""
    t = B.group_quantize(Wg, bits=bits, group_size=Wg.shape[1], symmetric=symmetric)
    if symmetric:
        qmax = 2 ** (bits - 1) - 1
        return t.scale[:, 0], np.zeros(Wg.shape[0]), -qmax, qmax
    return t.scale[:, 0], t.zero_point[:, 0].astype(np.float64), 0, 2**bits - 1


def _quantize_column(w, scale, zero, qmin, qmax):
    """One column with per-row (scale, zero_point): ``scale * (clip(round(w/scale) + z) - z)``."""
    q = np.clip(np.round(w / scale) + zero, qmin, qmax)
    return scale * (q - zero)


def hessian(X, *, damp: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """GPTQ's ``H = 2/n X^T X`` with dead inputs fixed and damping added; also the dead-input mask.

    Examples
    --------
    >>> H, dead = hessian(np.array([[1.0, 0.0], [1.0, 0.0]]), damp=0.0)
    >>> H.tolist(), dead.tolist()
    ([[2.0, 0.0], [0.0, 1.0]], [False, True])
    """
    X = np.asarray(X, dtype=np.float64)
    H = 2.0 / X.shape[0] * (X.T @ X)
    dead = np.diag(H) == 0
    H[dead, dead] = 1.0
    d = _check_damp(damp)
    H[np.diag_indices_from(H)] += d * np.mean(np.diag(H))
    return H, dead


def _check_damp(damp):
    if isinstance(damp, bool) or not isinstance(damp, numbers.Real) or not np.isfinite(damp) or not 0 <= damp <= 1:
        raise ValueError(f"damp must be a number in [0, 1] (fraction of mean(diag(H)) added to the diagonal), "
                         f"got {damp!r}")
    return float(damp)


@dataclass(frozen=True)
class GPTQHistory:
    """What GPTQ did, column by column (for an explorer; small layers only).

    Attributes
    ----------
    order : ndarray of int, (in,)
        Column processed at step ``k`` (``arange(in)`` unless ``act_order``).
    weights : ndarray, (in + 1, out, in)
        The working matrix after ``k`` steps, in the original column order: the first ``k``
        processed columns hold their quantized values, the others the original weights plus every
        update pushed into them so far. ``weights[0]`` is ``W``, ``weights[-1]`` is ``W_hat``.
    pushed : ndarray, (in, out, in)
        ``weights[k + 1] - weights[k]`` outside column ``order[k]``: the error compensation step
        ``k`` pushed into the columns not yet quantized (zero in the columns already done).
    rounding_error : ndarray, (in, out)
        ``w - q`` of the column quantized at step ``k`` (its working value minus its quantized value).
    """

    order: np.ndarray
    weights: np.ndarray
    pushed: np.ndarray
    rounding_error: np.ndarray


def gptq_quantize(W, X, *, bits: int = 4, group_size: int | None = 128, symmetric: bool = False,
                  damp: float = 0.01, block_size: int = 128, act_order: bool = False,
                  return_history: bool = False):
    """Quantize ``W (out, in)`` with GPTQ, using calibration inputs ``X (n, in)``.

    Parameters
    ----------
    W : array_like (out, in)
    X : array_like (n, in)
        Inputs of the layer on calibration data (finite, at least one row).
    bits : int in [2, 8]
    group_size : int or None
        Columns sharing one scale and zero point per row; must divide ``in``. None: one per row.
    symmetric : bool
        Symmetric narrow-range codes instead of asymmetric with a zero point (see
        :func:`qlearn.modern.block_formats.group_quantize`).
    damp : float in [0, 1]
        Damping as a fraction of ``mean(diag(H))`` (GPTQ's ``percdamp``, default 0.01).
    block_size : int >= 1
        Columns per lazy batch (changes the arithmetic order, not the result).
    act_order : bool
        Quantize columns in order of decreasing ``H_jj`` (GPTQ's ``--act-order``).
    return_history : bool
        Also return a :class:`GPTQHistory` (needs ``out * in * in <= 4e6``).

    Returns
    -------
    W_hat : ndarray (out, in), or ``(W_hat, history)``

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> W = rng.normal(size=(8, 32))
    >>> X = rng.normal(size=(128, 32)) @ (0.4 * rng.normal(size=(32, 32)) + np.eye(32))  # correlated inputs
    >>> W_hat = gptq_quantize(W, X, bits=3, group_size=None)
    >>> bool(output_error(W, W_hat, X) < 0.9 * output_error(W, rtn_quantize(W, bits=3, group_size=None), X))
    True

    GPTQ is greedy, not optimal: on a tiny layer with white inputs it can lose to round-to-nearest.

    >>> rng = np.random.default_rng(35)
    >>> W, X = rng.normal(size=(4, 8)), rng.normal(size=(64, 8))
    >>> bool(output_error(W, gptq_quantize(W, X, bits=4, group_size=None), X)
    ...      > 1.1 * output_error(W, rtn_quantize(W, bits=4, group_size=None), X))
    True
    """
    W = check_weight(W)
    out_f, in_f = W.shape
    X = check_calibration(X, in_f)
    bits = check_int(bits, "bits", 2, 8)
    g = check_group_size(group_size, in_f)
    block_size = check_int(block_size, "block_size", 1, 1 << 20)
    if return_history and out_f * in_f * in_f > 4_000_000:
        raise ValueError(f"return_history keeps out*in*in = {out_f * in_f * in_f} values: use a layer with "
                         "out*in*in <= 4e6")
    H, dead = hessian(X, damp=damp)
    W = W.copy()
    W[:, dead] = 0.0
    perm = np.argsort(-np.diag(H), kind="stable") if act_order else np.arange(in_f)
    W = W[:, perm]
    H = H[np.ix_(perm, perm)]
    try:
        L = np.linalg.cholesky(H)
        Linv = np.linalg.inv(L)
        U = np.linalg.cholesky(Linv.T @ Linv).T  # H^-1 = U^T U, U upper
    except np.linalg.LinAlgError:
        raise ValueError("H = 2/n X^T X + damping is not positive definite: increase damp (e.g. 0.01)") from None
    Q = np.zeros_like(W)
    hist = [] if return_history else None
    params = None
    if return_history:
        block_size = in_f  # every update applied at once, so each step's working matrix is complete
        cur = W.copy()
        hist.append(cur.copy())
        pushed, rerr = [], []
    for i1 in range(0, in_f, block_size):
        i2 = min(i1 + block_size, in_f)
        W1 = W[:, i1:i2].copy()
        Err1 = np.zeros_like(W1)
        U1 = U[i1:i2, i1:i2]
        for i in range(i2 - i1):
            col = i1 + i
            if col % g == 0:  # a group starts: its parameters from the current (updated) weights
                cur_group = W1[:, i:i + g]
                if cur_group.shape[1] < g:  # the group runs past this batch: add the batch's pending updates
                    j2 = col + g
                    rest = W[:, i2:j2] - Err1[:, :i] @ U[i1:i1 + i, i2:j2]
                    cur_group = np.concatenate([cur_group, rest], axis=1)
                params = _group_params(cur_group, bits, symmetric)
            w = W1[:, i].copy()
            q = _quantize_column(w, *params)
            Q[:, col] = q
            err = (w - q) / U1[i, i]
            before = W1[:, i:].copy() if return_history else None
            W1[:, i:] -= np.outer(err, U1[i, i:])
            Err1[:, i] = err
            if return_history:
                step = np.zeros_like(W)
                step[:, col + 1:] = W1[:, i + 1:] - before[:, 1:]
                cur = cur + step
                cur[:, col] = q
                hist.append(cur.copy())
                pushed.append(step)
                rerr.append(w - q)
        W[:, i2:] -= Err1 @ U[i1:i2, i2:]
    inv = np.argsort(perm)
    W_hat = Q[:, inv]
    if not return_history:
        return W_hat
    history = GPTQHistory(order=perm.copy(), weights=np.stack(hist)[:, :, inv],
                          pushed=np.stack(pushed)[:, :, inv], rounding_error=np.stack(rerr))
    return W_hat, history


def output_error(W, W_hat, X) -> float:
    """``||W X^T - W_hat X^T||_F^2 / n``: the layer's mean squared output error on ``X``, summed over outputs.

    Examples
    --------
    >>> output_error([[1.0, 2.0]], [[1.0, 1.0]], [[1.0, 1.0], [0.0, 2.0]])
    2.5
    """
    W = check_weight(W)
    W_hat = check_weight(W_hat, "W_hat")
    if W_hat.shape != W.shape:
        raise ValueError(f"W_hat has shape {W_hat.shape}, W has {W.shape}: they must match")
    X = check_calibration(X, W.shape[1])
    D = X @ (W - W_hat).T
    return float(np.sum(D * D) / X.shape[0])


def synthetic_layer(out_features: int = 16, in_features: int = 32, n: int = 256, *, rng=None):
    """A *synthetic* layer ``(W, X)``: Gaussian ``W / sqrt(in)`` and correlated calibration inputs.

    ``X = Z (0.5 M + I) * d`` with ``Z``, ``M`` standard normal and per-channel sizes
    ``d = exp(0.5 N(0, 1))``: neighbouring inputs of a real layer are correlated and of unequal
    size, which is what GPTQ exploits (on white inputs ``H`` is nearly diagonal and GPTQ is close to
    round-to-nearest). Not a model's data. ``rng`` defaults to ``np.random.default_rng(0)``.

    Examples
    --------
    >>> W, X = synthetic_layer(4, 8, 16)
    >>> W.shape, X.shape
    ((4, 8), (16, 8))
    """
    out_features = check_int(out_features, "out_features", 1, 1 << 16)
    in_features = check_int(in_features, "in_features", 1, 1 << 16)
    n = check_int(n, "n", 1, 1 << 20)
    rng = np.random.default_rng(0) if rng is None else rng
    W = rng.normal(size=(out_features, in_features)) / np.sqrt(in_features)
    mix = 0.5 * rng.normal(size=(in_features, in_features)) + np.eye(in_features)
    X = rng.normal(size=(n, in_features)) @ mix * np.exp(0.5 * rng.normal(size=in_features))
    return W, X


# ---------------------------------------------------------------------------------------------
# lesson 18's comparison on a model (the transformer of qlearn.modern.transformer, or anything with its API)
# ---------------------------------------------------------------------------------------------
#: method -> (label, kind, bits, group_size); group sizes larger than a layer's in_features mean one
#: group per row (per channel) on that layer.
METHODS = {
    "float": ("float (FP32)", "float", 32, None),
    "rtn_int8_pc": ("RTN int8 per-channel", "rtn", 8, None),
    "rtn_int4_pc": ("RTN int4 per-channel", "rtn", 4, None),
    "rtn_int4_g32": ("RTN int4 g32", "rtn", 4, 32),
    "rtn_int4_g64": ("RTN int4 g64", "rtn", 4, 64),
    "rtn_int4_g128": ("RTN int4 g128", "rtn", 4, 128),
    "rtn_int3_pc": ("RTN int3 per-channel", "rtn", 3, None),
    "rtn_int3_g32": ("RTN int3 g32", "rtn", 3, 32),
    "rtn_int3_g128": ("RTN int3 g128", "rtn", 3, 128),
    "mxfp4": ("MXFP4 (block 32)", "mxfp4", 4, 32),
    "nvfp4": ("NVFP4 (block 16)", "nvfp4", 4, 16),
    "gptq_int4_g128": ("GPTQ int4 g128", "gptq", 4, 128),
    "gptq_int3_g128": ("GPTQ int3 g128", "gptq", 3, 128),
    "awq_int4_g128": ("AWQ int4 g128", "awq", 4, 128),
    "awq_int3_g128": ("AWQ int3 g128", "awq", 3, 128),
    "smoothquant_w8a8": ("SmoothQuant W8A8 (alpha 0.5, per-token)", "smoothquant", 8, None),
    "llm_int8": ("LLM.int8() (threshold 6)", "llm_int8", 8, None),
}


def quantize_model(model, method: str, calibration):
    """``(model_q, linear_fn, bits)`` for ``method`` (a key of :data:`METHODS`) on every linear layer.

    ``model`` follows :class:`qlearn.modern.transformer.Transformer`'s API (``linear_names``, ``weight``,
    ``with_weights``, ``capture_inputs``). Weight-only methods return new weights and
    ``linear_fn=None``; SmoothQuant and LLM.int8() keep the weights and return a ``linear_fn`` that
    runs the layer in 8 bits. ``bits`` maps each layer to its bits per weight (scales included,
    :func:`qlearn.modern.block_formats.bits_per_weight`). GPTQ and AWQ calibrate layer by layer in the
    forward order, each on the inputs produced by the layers already quantized (as the authors'
    scripts do); SmoothQuant reads ``max |X_j|`` of each layer's input on the float model.
    Every linear layer is quantized, the output head included; embeddings, LayerNorms and biases
    stay float.
    """
    from qlearn.modern import awq, outliers, smoothquant

    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
    _, kind, bits, group = METHODS[method]
    names = model.linear_names()
    weights, bpw, linear_fn = {}, {}, None
    if kind == "float":
        return model, None, {n: 32.0 for n in names}
    if kind in ("smoothquant", "llm_int8"):
        linear_fn = {}
        X_all = model.capture_inputs(calibration, names) if kind == "smoothquant" else None
        for n in names:
            W = model.weight(n)
            bpw[n] = 8 + 16 / W.shape[1]  # int8 codes + one FP16 scale per output row
            if kind == "smoothquant":
                _, s = smoothquant.smooth(W, np.max(np.abs(X_all[n]), axis=0), 0.5)
                linear_fn[n] = (lambda s_: lambda X, W: smoothquant.w8a8_linear(X / s_, W * s_))(s)
            else:
                linear_fn[n] = lambda X, W: outliers.llm_int8_matmul(X, W, threshold=6.0)[0]
        return model, linear_fn, bpw
    current = model
    for n in names:
        W = model.weight(n)
        g = None if group is None or group >= W.shape[1] else group
        g_eff = W.shape[1] if g is None else g
        if kind == "rtn":
            W_hat = rtn_quantize(W, bits=bits, group_size=g)
            bpw[n] = B.bits_per_weight("int_asym", bits=bits, block_size=g_eff)
        elif kind in ("mxfp4", "nvfp4"):
            W_hat, bpw[n] = B.quantize_dequantize(W, kind)
        else:
            X = current.capture_inputs(calibration, [n])[n]
            if kind == "gptq":
                W_hat = gptq_quantize(W, X, bits=bits, group_size=g)
            else:
                W_hat = awq.awq_search(W, X, bits=bits, group_size=g)[2]
            bpw[n] = B.bits_per_weight("int_asym", bits=bits, block_size=g_eff)
            current = current.with_weights({n: W_hat})
        weights[n] = W_hat
    return model.with_weights(weights), None, bpw


def method_table(model, calibration, validation, methods=None) -> list[dict]:
    """One row per method: ``method``, ``label``, ``perplexity``, ``accuracy``, ``bits_per_weight``, ``model_bytes``.

    ``bits_per_weight`` is averaged over the linear layers' weights (weighted by their sizes);
    ``model_bytes`` counts those weights at that rate plus every other parameter in FP32 (4 bytes).
    ``methods`` defaults to every key of :data:`METHODS`.
    """
    methods = list(METHODS) if methods is None else list(methods)
    names = model.linear_names()
    sizes = {n: model.weight(n).size for n in names}
    n_lin = sum(sizes.values())
    n_other = model.n_parameters() - n_lin
    rows = []
    for m in methods:
        mq, fn, bpw = quantize_model(model, m, calibration)
        ev = mq.evaluate(validation, linear_fn=fn)
        bits_total = sum(bpw[n] * sizes[n] for n in names)
        rows.append(dict(method=m, label=METHODS[m][0], perplexity=ev["perplexity"], accuracy=ev["accuracy"],
                         bits_per_weight=bits_total / n_lin, model_bytes=bits_total / 8 + 4 * n_other))
    return rows


#: Lesson 18's table on :func:`qlearn.modern.transformer.pretrained`, written by ``benchmarks/bench_llm_weights.py
#: --write``
#: (``tests/test_lesson_18.py`` recomputes it).
METHOD_TABLE_FILE = Path(__file__).parents[1] / "data" / "llm_methods.npz"
#: Calibration and validation of the shipped table: ``calibration_tokens(16, seed=0)``, ``validation_tokens()``.
TABLE_CALIBRATION = dict(n=16, seed=0)


def shipped_method_table() -> list[dict]:
    """The rows of :func:`method_table` for the course transformer, as shipped (no recomputation).

    Each row also has ``seconds``: the time the benchmark took to quantize and evaluate (machine-dependent).
    """
    with np.load(METHOD_TABLE_FILE, allow_pickle=False) as z:
        cols = {k: z[k] for k in z.files}
    rows = []
    for i, m in enumerate(cols["method"].tolist()):
        rows.append(dict(method=m, label=METHODS[m][0], perplexity=float(cols["perplexity"][i]),
                         accuracy=float(cols["accuracy"][i]), bits_per_weight=float(cols["bits_per_weight"][i]),
                         model_bytes=float(cols["model_bytes"][i]), seconds=float(cols["seconds"][i])))
    return rows


def write_method_table(rows, path=METHOD_TABLE_FILE) -> None:
    """Save :func:`method_table` rows (with ``seconds``) to ``path`` as an npz of columns."""
    np.savez(path, method=np.array([r["method"] for r in rows]),
             **{k: np.array([float(r[k]) for r in rows])
                for k in ("perplexity", "accuracy", "bits_per_weight", "model_bytes", "seconds")})


__all__ = ["METHODS", "METHOD_TABLE_FILE", "shipped_method_table", "write_method_table", "quantize_model",
           "method_table", "synthetic_layer", "gptq_quantize", "rtn_quantize", "hessian", "output_error",
           "GPTQHistory", "check_weight", "check_calibration", "check_group_size"]


def rtn_comparison(*, bits: int = 3, n_layers: int = 40, tiny_seed: int = 35) -> dict:
    """Is GPTQ ever worse than round-to-nearest? Lesson 18's measurement.

    ``worse``: of ``n_layers`` seeded synthetic 8 x 32 layers with correlated inputs
    (:func:`synthetic_layer`, seeds ``0 .. n_layers-1``), how many get a larger output error from GPTQ
    than from RTN at ``bits`` (per channel). ``tiny``: GPTQ's error / RTN's on a tiny 4 x 8 layer with
    64 uncorrelated Gaussian inputs (seed ``tiny_seed``) at 4 bits, a case where GPTQ's greedy order loses.
    """
    worse = 0
    for seed in range(check_int(n_layers, "n_layers", 1, 10_000)):
        W, X = synthetic_layer(8, 32, 128, rng=np.random.default_rng(seed))
        worse += output_error(W, gptq_quantize(W, X, bits=bits, group_size=None), X) > \
            output_error(W, rtn_quantize(W, bits=bits, group_size=None), X)
    rng = np.random.default_rng(tiny_seed)
    W, X = rng.normal(size=(4, 8)), rng.normal(size=(64, 8))
    tiny = output_error(W, gptq_quantize(W, X, bits=4, group_size=None), X) / \
        output_error(W, rtn_quantize(W, bits=4, group_size=None), X)
    return dict(worse=int(worse), n_layers=n_layers, tiny=float(tiny))

"""Build it yourself, lesson 17: the MX shared exponent of a block, and two 4-bit codes per byte.

``mx_shared_exponent(blocks, emax_elem)`` is checked against
:func:`qlearn.modern.block_formats.mx_shared_exponent` applied to each block's largest magnitude (OCP
Microscaling Formats (MX) v1.0, sec. 6.3: ``floor(log2(amax)) - emax_elem``, E8M0 limits: at least
-127, NaN above 127 or for a non-finite block); the element formats' ``emax_elem`` come from
ml_dtypes (``floor(log2(finfo.max))``). ``pack_nibbles(codes)`` is checked against
:func:`qlearn.modern.block_formats.pack_nibbles` (code ``2i`` in the low nibble of byte ``i``).

Examples
--------
>>> from qlearn.exercises.solutions import block_formats as sol
>>> check_mx_shared_exponent(sol.mx_shared_exponent).passed, check_pack_nibbles(sol.pack_nibbles).passed
(True, True)
>>> def high_first(codes):
...     codes = np.append(codes, 0) if len(codes) % 2 else codes
...     return (codes[0::2] << 4 | codes[1::2]).astype(np.uint8)
>>> print(check_pack_nibbles(high_first).diagnosis)  # doctest: +ELLIPSIS
You put the first code in the high nibble...
"""
from __future__ import annotations

import math

import numpy as np

from qlearn.exercises.checking import Case, CheckResult, Mistake, Task, as_float_array, same_numbers
from qlearn.exercises.solutions import block_formats as _sol
from qlearn.modern import block_formats

SCAFFOLD_MX_SHARED_EXPONENT = '''def mx_shared_exponent(blocks, emax_elem):
    """The shared exponent of each MX block (OCP MX v1.0): floor(log2(amax)) - emax_elem, where
    amax is the block's largest magnitude and emax_elem the exponent of the element format's
    largest value (FP4 E2M1: 6 = 1.5 * 2**2, so 2; FP8 E4M3: 448 = 1.75 * 2**8, so 8).

    blocks : float array (n_blocks, block_size), one block per row. emax_elem : int.
    The scale 2**exponent is stored in E8M0, which holds -127..127: an exponent below -127
    (an all-zero block too) becomes -127; above 127, or a block holding inf or NaN, gives NaN.
    Return a float array of shape (n_blocks,).
    """
    ...
'''

SCAFFOLD_PACK_NIBBLES = '''def pack_nibbles(codes):
    """Pack 4-bit codes (ints 0..15, a 1-D array) two per byte: code 2i in the LOW nibble
    (bits 0-3) of byte i, code 2i+1 in its high nibble (bits 4-7). An odd count gets a
    zero high nibble in the last byte. Return a uint8 array of ceil(len(codes) / 2) bytes.
    """
    ...
'''


# -- mx_shared_exponent -----------------------------------------------------------------------------
def _emax_of_ml_dtypes():
    """``emax_elem`` of each MX element format, from ml_dtypes: ``floor(log2(finfo(dtype).max))``."""
    import ml_dtypes

    names = {"fp4_e2m1": "float4_e2m1fn", "fp6_e2m3": "float6_e2m3fn", "fp6_e3m2": "float6_e3m2fn",
             "fp8_e4m3": "float8_e4m3fn", "fp8_e5m2": "float8_e5m2"}
    return {k: math.floor(math.log2(float(ml_dtypes.finfo(getattr(ml_dtypes, v)).max))) for k, v in names.items()}


EMAX_ELEM = _emax_of_ml_dtypes()


def _ref_mx(blocks, emax_elem):
    element = next(k for k, v in EMAX_ELEM.items() if v == emax_elem)
    return block_formats.mx_shared_exponent(np.max(np.abs(np.asarray(blocks, dtype=np.float64)), axis=-1), element)


def _mx_rule(amax, exponent, emax_elem, *, sign=-1, clamp=True, nan=True):
    """``exponent(amax) + sign * emax_elem`` with E8M0's limits (each can be switched off for a mistake)."""
    amax = np.asarray(amax, dtype=np.float64)
    with np.errstate(all="ignore"):
        e = exponent(amax) + sign * emax_elem
    if clamp:
        e = np.maximum(e, -127.0)
    if nan:
        e = np.where(np.isfinite(amax) & (e <= 127), e, np.nan)
    return e


def _amax(blocks):
    return np.max(np.abs(np.asarray(blocks, dtype=np.float64)), axis=-1)


def _floor_log2(a):
    return np.floor(np.log2(a))


MX_MISTAKES = [
    Mistake(lambda x, em: _mx_rule(_amax(x), lambda a: np.round(np.log2(a)), em),
            "You rounded log2(amax) to the nearest integer: the rule is floor(log2(amax)), so 2**exponent is "
            "the largest power of two <= amax (amax 7: log2 = 2.81, floor 2, not 3). Rounding up makes the "
            "block's elements use less than their format's range."),
    Mistake(lambda x, em: _mx_rule(_amax(x), lambda a: np.ceil(np.log2(a)), em),
            "You took the ceiling of log2(amax): the rule is floor(log2(amax)) (amax 5: 2, not 3)."),
    Mistake(lambda x, em: _mx_rule(_amax(x), _floor_log2, em, sign=0),
            "You forgot emax_elem: the shared exponent is floor(log2(amax)) - emax_elem, so that amax lands "
            "in the element format's top binade (FP4: amax 6 gives exponent 0, 6 = 1.5 * 2**2 is FP4's max)."),
    Mistake(lambda x, em: _mx_rule(_amax(x), _floor_log2, em, sign=+1),
            "You added emax_elem: the shared exponent is floor(log2(amax)) - emax_elem (the scale divides "
            "the block down to the element format's range)."),
    Mistake(lambda x, em: _mx_rule(np.mean(np.abs(np.asarray(x, dtype=np.float64)), axis=-1), _floor_log2, em),
            "You took log2 of the block's mean magnitude: MX uses its largest magnitude, "
            "amax = np.max(np.abs(blocks), axis=-1), so that no element overflows."),
    Mistake(lambda x, em: _mx_rule(np.max(np.asarray(x, dtype=np.float64), axis=-1), _floor_log2, em),
            "You took the block's max without np.abs: a block whose largest magnitude is negative (-7 next to "
            "3) needs amax = 7. Use np.max(np.abs(blocks), axis=-1)."),
    Mistake(lambda x, em: _mx_rule(_amax(x), _floor_log2, em, clamp=False),
            "You did not clamp at -127: E8M0's smallest scale is 2**-127, so a smaller exponent (and an "
            "all-zero block, where log2(0) = -inf) becomes -127."),
    Mistake(lambda x, em: _mx_rule(_amax(x), _floor_log2, em, nan=False),
            "An exponent above 127, or a block with inf or NaN, must give NaN: E8M0 has no larger scale, and "
            "its one special code (255) is NaN."),
    Mistake(lambda x, em: np.clip(_mx_rule(_amax(x), _floor_log2, em, clamp=False, nan=False), -127, 127),
            "You clipped the exponent to 127 at the top: E8M0 has no code for an exponent above 127 (its code 255 "
            "means NaN), so such a block, and one holding inf or NaN, gives NaN, not 127."),
    Mistake(lambda x, em: _mx_rule(_amax(x), _floor_log2, em, clamp=False, nan=False),
            "You skipped E8M0's limits: clamp exponents below -127 to -127 (an all-zero block too), and give "
            "NaN above 127 or for a block with inf or NaN."),
]


def _mx_explain(case, expected, got):
    g = as_float_array(got)
    e = np.asarray(expected)
    if g is None or g.shape != e.shape:
        return (f"Return one exponent per block, shape {e.shape}; yours has shape "
                f"{None if g is None else g.shape}. Reduce over the last axis (axis=-1).")
    ok = np.isfinite(g)
    if np.any(g[ok] != np.floor(g[ok])):
        return "Some of your exponents are not whole numbers: floor(log2(amax)) is an integer."
    return None


def _mx_compare(expected, got):
    """Equal exponents, NaN where the reference has NaN (E8M0's NaN scale)."""
    e, g = np.asarray(expected, dtype=np.float64), as_float_array(got)
    return g is not None and g.shape == e.shape and bool(np.array_equal(e, g, equal_nan=True))


def _mx_cases():
    rng = np.random.default_rng(17)
    em = EMAX_ELEM

    def blocks_with_amax(amax, size=4):
        out = []
        for a in amax:
            b = rng.uniform(-1, 1, size) * a * 0.9
            b[int(rng.integers(size))] = a if rng.random() < 0.5 else -a
            out.append(b)
        return np.array(out)

    cases = [
        Case("FP4 E2M1 (emax_elem 2): amax 6, 7, 5, 0.75",
             (np.array([[6.0, -1.0, 0.5, 2.0], [-7.0, 3.0, 0.0, 1.0], [5.0, 4.0, -2.0, 0.1],
                        [0.25, -0.75, 0.5, 0.0]]), em["fp4_e2m1"])),
        Case("FP8 E4M3 (emax_elem 8): amax 448, 1.0, 0.01", (blocks_with_amax([448.0, 1.0, 0.01]), em["fp8_e4m3"])),
        Case("largest magnitude negative: -7 next to 3", (np.array([[-7.0, 3.0, 1.0, -1.0], [0.5, -3.0, 2.9, 0.0]]),
                                                          em["fp4_e2m1"])),
        Case("exact powers of two, FP8 E5M2 (emax_elem 15)", (np.array([[0.25, 0.0], [1.0, -0.5], [-4.0, 2.0],
                                                                        [1024.0, 1.0]]), em["fp8_e5m2"])),
        Case("an all-zero block and a block of 1e-40 (below 2**-127)", (np.array([[0.0, 0.0, 0.0], [1e-40, -1e-41, 0.0],
                                                                                  [1.0, 0.0, 0.0]]), em["fp4_e2m1"])),
        Case("blocks with inf, with NaN, and amax 2**200 (exponent above 127)",
             (np.array([[np.inf, 1.0], [np.nan, 1.0], [2.0**200, 1.0], [3.0, 1.0]]), em["fp6_e3m2"])),
    ]
    for name in ("fp4_e2m1", "fp6_e2m3", "fp8_e4m3"):
        x = rng.normal(0, 1, (8, 32)) * 10.0 ** rng.uniform(-4, 4, (8, 1))
        cases.append(Case(f"seeded random, 8 blocks of 32, {name} (emax_elem {em[name]})", (x, em[name])))
    return cases


TASK_MX = Task("mx_shared_exponent", lesson="17_block_formats.ipynb", title="The shared exponent of an MX block",
               reference=_ref_mx, cases=_mx_cases(), mistakes=MX_MISTAKES,
               compare=_mx_compare,
               explain=_mx_explain, arg_names=["blocks", "emax_elem"], scaffold=SCAFFOLD_MX_SHARED_EXPONENT,
               solution=_sol.mx_shared_exponent,
               intro=("Write the shared exponent of MX blocks: the power of two that one E8M0 byte stores for a "
                      "whole block, chosen from the block's largest magnitude."),
               reference_name="ql.modern.block_formats.mx_shared_exponent")


# -- pack_nibbles -----------------------------------------------------------------------------------
def _codes(c):
    return np.asarray(c, dtype=np.int64)


def _padded(c):
    c = _codes(c)
    return np.append(c, 0) if len(c) % 2 else c


def _pairs(c):
    c = _padded(c)
    return c[0::2], c[1::2]


def _drop_last(c):
    c = _codes(c)
    n = len(c) // 2 * 2
    return c[0:n:2], c[1:n:2]


def _odd_high(c):
    c = _codes(c)
    if len(c) % 2:
        c = np.append(c[:-1], [0, c[-1]])
    return c[0::2], c[1::2]


def _unpadded(c):
    c = _codes(c)
    return c[0::2] | (c[1::2] << 4)  # numpy broadcasts a length-1 high half, or raises


_PAD = ("An odd count needs padding: np.append(codes, 0) first, so the last byte holds the last code in its "
        "low nibble and a zero high nibble.")

PACK_MISTAKES = [
    Mistake(_unpadded,
            "You did not pad an odd count: codes[1::2] is then one shorter than codes[0::2], and numpy "
            "broadcasts a length-1 array over the other (3 codes: the second code lands in both bytes) or "
            "raises. " + _PAD),
    Mistake(lambda c: (_pairs(c)[0] << 4) | _pairs(c)[1],
            "You put the first code in the high nibble: here code 2i goes in the LOW nibble (bits 0-3) of byte i "
            "and code 2i+1 in the high one, byte = codes[0::2] | (codes[1::2] << 4)."),
    Mistake(lambda c: _drop_last(c)[0] | (_drop_last(c)[1] << 4),
            "You dropped the last code of an odd count: pad it with a zero high nibble "
            "(np.append(codes, 0)), so 3 codes take 2 bytes."),
    Mistake(lambda c: _odd_high(c)[0] | (_odd_high(c)[1] << 4),
            "The last code of an odd count goes in the LOW nibble of the last byte, with a zero high nibble: "
            "pad at the end (np.append(codes, 0))."),
    Mistake(lambda c: _pairs(c)[0] * 10 + _pairs(c)[1],
            "You combined the codes in decimal (c0 * 10 + c1): a nibble is 4 bits, so the byte is "
            "c0 | (c1 << 4) = c0 + 16 * c1."),
    Mistake(lambda c: _pairs(c)[0] + _pairs(c)[1] * 10,
            "You combined the codes in decimal (c0 + 10 * c1): a nibble is 4 bits, so the byte is "
            "c0 | (c1 << 4) = c0 + 16 * c1."),
    Mistake(lambda c: _pairs(c)[0] | _pairs(c)[1],
            "You OR-ed the two codes without shifting: their bits overlap (1 | 2 = 3, and 3 | 1 = 3: the byte "
            "cannot be unpacked). Shift the second code into the high nibble: c0 | (c1 << 4)."),
    Mistake(lambda c: _pairs(c)[0] + _pairs(c)[1],
            "You added the two codes without shifting: 1 + 2 and 2 + 1 give the same byte. Shift the second "
            "code into the high nibble: c0 | (c1 << 4)."),
    Mistake(lambda c: _pairs(c)[0] | (_pairs(c)[1] << 8),
            "You shifted by 8: a nibble is 4 bits, so the second code moves 4 places, c0 | (c1 << 4); "
            "shifting by 8 does not fit in a byte."),
]


def _pack_compare(expected, got):
    return same_numbers(expected, got, rtol=0, atol=0) and getattr(got, "dtype", None) == np.uint8


def _pack_explain(case, expected, got):
    g = as_float_array(got)
    e = np.asarray(expected)
    if g is None or g.shape != e.shape:
        return (f"{len(case.args[0])} codes pack into {e.size} bytes (ceil(n / 2)); your answer has shape "
                f"{None if g is None else g.shape}.")
    if same_numbers(e, g, rtol=0, atol=0):
        return (f"Your bytes are right, but their dtype is {getattr(got, 'dtype', type(got).__name__)}: a packed "
                f"array holds bytes, np.uint8 (that is where the memory saving is); end with .astype(np.uint8).")
    return None


def _pack_cases():
    rng = np.random.default_rng(171)
    cases = [
        Case("two codes: 1 and 2", (np.array([1, 2]),)),
        Case("two pairs: [15, 0, 0, 15]", (np.array([15, 0, 0, 15]),)),
        Case("an odd count: [1, 2, 15]", (np.array([1, 2, 15]),), note=_PAD),
        Case("one code", (np.array([9]),), note=_PAD),
        Case("all 16 codes, 0..15", (np.arange(16),)),
        Case("no codes", (np.array([], dtype=np.int64),)),
        Case("seeded random, 20 codes", (rng.integers(0, 16, 20),)),
        Case("seeded random, 33 codes", (rng.integers(0, 16, 33),), note=_PAD),
    ]
    return cases


TASK_PACK = Task("pack_nibbles", lesson="17_block_formats.ipynb", title="Two 4-bit codes per byte",
                 reference=block_formats.pack_nibbles, cases=_pack_cases(), mistakes=PACK_MISTAKES,
                 compare=_pack_compare, explain=_pack_explain, arg_names=["codes"], scaffold=SCAFFOLD_PACK_NIBBLES,
                 solution=_sol.pack_nibbles,
                 intro=("Pack 4-bit codes (FP4 or int4) two per byte, the way a 4-bit format is stored: half "
                        "the memory of int8."),
                 reference_name="ql.modern.block_formats.pack_nibbles")


def check_mx_shared_exponent(learner_fn) -> CheckResult:
    """Check a learner's ``mx_shared_exponent(blocks, emax_elem)`` against
    :func:`qlearn.modern.block_formats.mx_shared_exponent` of each block's largest magnitude."""
    return TASK_MX.check(learner_fn)


def check_pack_nibbles(learner_fn) -> CheckResult:
    """Check a learner's ``pack_nibbles(codes)`` against :func:`qlearn.modern.block_formats.pack_nibbles`."""
    return TASK_PACK.check(learner_fn)

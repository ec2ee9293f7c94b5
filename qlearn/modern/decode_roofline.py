"""Where weight-only quantization speeds a language model up: one linear layer on a roofline.

Introduced in lesson ``18_llm_weights`` (section "Where it runs"). Generating text one token at a
time (decoding) multiplies each weight matrix by a handful of vectors: ``batch`` tokens, often 1.
Every weight must still come from memory, so the layer takes at least
``weight bytes / bandwidth``; the arithmetic, ``2 batch d_in d_out`` operations, takes
``ops / peak`` of the format the multiplications run in. The layer takes the larger of the two
(lesson 13's roofline, here per layer).

* **W4A16** (GPTQ/AWQ checkpoints): 4-bit weights plus their group scales are read, dequantized
  on the fly and multiplied in 16-bit: 4x fewer bytes, the 16-bit peak.
* **W8A8** (SmoothQuant, lesson 11's integer engine): int8 weights and activations, int8 peak.
* **FP8** and **NVFP4** weights and activations: the low-precision tensor-core peaks.

The chip is a parameter. :data:`EXAMPLE_CHIP` is a made-up accelerator with round numbers (2 TB/s,
500 TFLOP/s at 16 bits, twice that at 8 bits, four times at 4 bits); the ratios between formats,
not the absolute numbers, carry the argument. Times are the roofline's lower bounds: no kernel
overheads, no cache effects.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from qlearn._validate import check_int


class Chip(NamedTuple):
    """A memory bandwidth (bytes/s) and a peak (operations/s) per multiply format."""

    name: str
    bandwidth: float
    peak: dict


class Scheme(NamedTuple):
    """How a layer is stored and computed: weight bits (with scale overhead), activation bits, multiply format."""

    name: str
    weight_bits: float
    act_bits: int
    compute: str


#: A made-up accelerator with round numbers (see the module docstring).
EXAMPLE_CHIP = Chip("example accelerator (2 TB/s; 500 / 1000 / 2000 TOPS at 16 / 8 / 4 bits)", 2e12,
                    {"fp16": 500e12, "int8": 1000e12, "fp8": 1000e12, "fp4": 2000e12})

#: The schemes compared. Group scales: 16-bit scale + 4-bit zero per 128 weights for W4A16
#: (GPTQ/AWQ's layout, lesson 17's ``bits_per_weight``), an E4M3 scale per 16 for NVFP4.
SCHEMES = (
    Scheme("FP16 (W16A16)", 16.0, 16, "fp16"),
    Scheme("W8A16 (int8 weights, per channel)", 8.0, 16, "fp16"),
    Scheme("W4A16 (int4 weights, groups of 128)", 4.0 + 20 / 128, 16, "fp16"),
    Scheme("W8A8 (int8, SmoothQuant)", 8.0, 8, "int8"),
    Scheme("FP8 (W8A8, E4M3)", 8.0, 8, "fp8"),
    Scheme("NVFP4 (W4A4)", 4.0 + 8 / 16, 4, "fp4"),
)


def layer_time(batch: int, d_in: int, d_out: int, scheme: Scheme, chip: Chip = EXAMPLE_CHIP) -> dict:
    """Roofline time of ``(batch, d_in) @ (d_in, d_out)`` stored and computed as ``scheme``.

    Returns
    -------
    dict
        ``memory_s`` (weights + input and output activations over the bandwidth), ``compute_s``
        (``2 batch d_in d_out`` over the scheme's peak), ``time_s`` (the larger), ``bound``
        (``'memory'`` or ``'compute'``), ``bytes``, ``ops``.

    Examples
    --------
    >>> fp16, w4 = SCHEMES[0], SCHEMES[2]
    >>> a, b = layer_time(1, 4096, 4096, fp16), layer_time(1, 4096, 4096, w4)
    >>> a["bound"], round(a["time_s"] / b["time_s"], 2)      # batch 1: bytes decide
    ('memory', 3.84)
    """
    batch = check_int(batch, "batch", 1, 1 << 20)
    d_in, d_out = check_int(d_in, "d_in", 1, 1 << 20), check_int(d_out, "d_out", 1, 1 << 20)
    if not isinstance(scheme, Scheme):
        raise TypeError(f"scheme must be a qlearn.modern.decode_roofline.Scheme, got {type(scheme).__name__}")
    if scheme.compute not in chip.peak:
        raise ValueError(f"chip {chip.name!r} has no {scheme.compute!r} peak; it has {sorted(chip.peak)}")
    if not (chip.bandwidth > 0 and chip.peak[scheme.compute] > 0):
        raise ValueError("the chip's bandwidth and peak must be > 0")
    weight_bytes = d_in * d_out * scheme.weight_bits / 8
    act_bytes = batch * (d_in + d_out) * scheme.act_bits / 8
    ops = 2.0 * batch * d_in * d_out
    memory_s = (weight_bytes + act_bytes) / chip.bandwidth
    compute_s = ops / chip.peak[scheme.compute]
    return dict(memory_s=memory_s, compute_s=compute_s, time_s=max(memory_s, compute_s),
                bound="memory" if memory_s >= compute_s else "compute", bytes=weight_bytes + act_bytes, ops=ops)


def speedups(batches, d_in: int = 4096, d_out: int = 4096, chip: Chip = EXAMPLE_CHIP, schemes=SCHEMES) -> dict:
    """``{scheme name: array of FP16 time / scheme time}`` over ``batches`` (the first scheme is the baseline)."""
    b = [check_int(x, "batch", 1, 1 << 20) for x in np.atleast_1d(batches)]
    base = np.array([layer_time(x, d_in, d_out, schemes[0], chip)["time_s"] for x in b])
    return {s.name: base / np.array([layer_time(x, d_in, d_out, s, chip)["time_s"] for x in b]) for s in schemes}


def crossover_batch(scheme: Scheme, d_in: int = 4096, d_out: int = 4096, chip: Chip = EXAMPLE_CHIP) -> int:
    """The smallest batch at which ``scheme``'s layer becomes compute bound (its ridge, in tokens)."""
    lo, hi = 1, 1 << 20
    if layer_time(hi, d_in, d_out, scheme, chip)["bound"] == "memory":
        raise ValueError(f"{scheme.name} stays memory bound up to batch {hi}")
    while lo < hi:
        mid = (lo + hi) // 2
        if layer_time(mid, d_in, d_out, scheme, chip)["bound"] == "compute":
            hi = mid
        else:
            lo = mid + 1
    return lo

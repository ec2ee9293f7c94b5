"""Part 1, numbers: how a value becomes bits.

The modules behind lessons 01, 02, 06 and 10: float and integer formats, rounding, fixed point, non-
uniform and binary codes, quantization outside networks:

* :mod:`qlearn.numbers.formats`
* :mod:`qlearn.numbers.rounding`
* :mod:`qlearn.numbers.fixed`
* :mod:`qlearn.numbers.nonuniform`
* :mod:`qlearn.numbers.signals`

Each is imported on first use (``qlearn.numbers.formats``).
"""
from __future__ import annotations

from qlearn._lazy import submodule_getattr

__getattr__ = submodule_getattr(__name__)  # submodules on first use


__all__ = ["formats", "rounding", "fixed", "nonuniform", "signals"]

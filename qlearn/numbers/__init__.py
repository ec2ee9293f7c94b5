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

import importlib


def __getattr__(name):  # submodules on first use
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"{__name__}.{name}":
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
        raise


__all__ = ["formats", "rounding", "fixed", "nonuniform", "signals"]

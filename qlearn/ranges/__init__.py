"""Part 2, ranges: which real interval the integers cover.

The modules behind lessons 03-05: scale and zero point, calibration observers, error metrics,
quantization noise and SQNR:

* :mod:`qlearn.ranges.affine`
* :mod:`qlearn.ranges.observers`
* :mod:`qlearn.ranges.metrics`
* :mod:`qlearn.ranges.snr`

Each is imported on first use (``qlearn.ranges.affine``).
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


__all__ = ["affine", "observers", "metrics", "snr"]

"""Figures and explorers of part 2, ranges: which real interval the integers cover.

Mirrors :mod:`qlearn.ranges`:

* :mod:`qlearn.viz.ranges.affine`
* :mod:`qlearn.viz.ranges.calibration`
* :mod:`qlearn.viz.ranges.snr`
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


__all__ = ["affine", "calibration", "snr"]

"""Figures and explorers of part 4, hardware: running the integers.

Mirrors :mod:`qlearn.hardware`:

* :mod:`qlearn.viz.hardware.intops`
* :mod:`qlearn.viz.hardware.systolic`
* :mod:`qlearn.viz.hardware.tpu`
* :mod:`qlearn.viz.hardware.runtime`
* :mod:`qlearn.viz.hardware.conv_mapping`
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


__all__ = ["intops", "systolic", "tpu", "runtime", "conv_mapping"]

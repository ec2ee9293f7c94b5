"""Figures and explorers of part 1, numbers: how a value becomes bits.

Mirrors :mod:`qlearn.numbers`:

* :mod:`qlearn.viz.numbers.formats`
* :mod:`qlearn.viz.numbers.rounding`
* :mod:`qlearn.viz.numbers.fixed`
* :mod:`qlearn.viz.numbers.nonuniform`
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


__all__ = ["formats", "rounding", "fixed", "nonuniform"]

"""Figures and explorers of part 1, numbers: how a value becomes bits.

Mirrors :mod:`qlearn.numbers`:

* :mod:`qlearn.viz.numbers.formats`
* :mod:`qlearn.viz.numbers.rounding`
* :mod:`qlearn.viz.numbers.fixed`
* :mod:`qlearn.viz.numbers.nonuniform`
"""
from __future__ import annotations

from qlearn._lazy import submodule_getattr

__getattr__ = submodule_getattr(__name__)  # submodules on first use


__all__ = ["formats", "rounding", "fixed", "nonuniform"]

"""Figures and explorers of part 2, ranges: which real interval the integers cover.

Mirrors :mod:`qlearn.ranges`:

* :mod:`qlearn.viz.ranges.affine`
* :mod:`qlearn.viz.ranges.calibration`
* :mod:`qlearn.viz.ranges.snr`
"""
from __future__ import annotations

from qlearn._lazy import submodule_getattr

__getattr__ = submodule_getattr(__name__)  # submodules on first use


__all__ = ["affine", "calibration", "snr"]

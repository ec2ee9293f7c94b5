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

from qlearn._lazy import submodule_getattr

__getattr__ = submodule_getattr(__name__)  # submodules on first use


__all__ = ["affine", "observers", "metrics", "snr"]

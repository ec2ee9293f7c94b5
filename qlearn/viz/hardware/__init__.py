"""Figures and explorers of part 4, hardware: running the integers.

Mirrors :mod:`qlearn.hardware`:

* :mod:`qlearn.viz.hardware.intops`
* :mod:`qlearn.viz.hardware.systolic`
* :mod:`qlearn.viz.hardware.tpu`
* :mod:`qlearn.viz.hardware.runtime`
* :mod:`qlearn.viz.hardware.conv_mapping`
"""
from __future__ import annotations

from qlearn._lazy import submodule_getattr

__getattr__ = submodule_getattr(__name__)  # submodules on first use


__all__ = ["intops", "systolic", "tpu", "runtime", "conv_mapping"]

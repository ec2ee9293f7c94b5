"""Part 4, hardware: running the integers.

The modules behind lessons 11-14 and 15"s mapping: integer-only inference, the systolic array, the
TPU v1 model, ONNX Runtime and measured speed:

* :mod:`qlearn.hardware.intops`
* :mod:`qlearn.hardware.systolic`
* :mod:`qlearn.hardware.tpu`
* :mod:`qlearn.hardware.conv_mapping`
* :mod:`qlearn.hardware.matmul_speed`
* :mod:`qlearn.hardware.onnx_export`

Each is imported on first use (``qlearn.hardware.intops``).
"""
from __future__ import annotations

from qlearn._lazy import submodule_getattr

__getattr__ = submodule_getattr(__name__)  # submodules on first use


__all__ = ["intops", "systolic", "tpu", "conv_mapping", "matmul_speed", "onnx_export"]

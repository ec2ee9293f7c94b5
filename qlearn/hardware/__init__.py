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

import importlib


def __getattr__(name):  # submodules on first use
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"{__name__}.{name}":
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
        raise


__all__ = ["intops", "systolic", "tpu", "conv_mapping", "matmul_speed", "onnx_export"]

"""Part 5, modern formats: 4-bit language models.

The modules behind lessons 17 and 18: block formats (MX, NVFP4, groups), GPTQ, AWQ, SmoothQuant,
LLM.int8(), the small transformer and its roofline:

* :mod:`qlearn.modern.block_formats`
* :mod:`qlearn.modern.gptq`
* :mod:`qlearn.modern.awq`
* :mod:`qlearn.modern.smoothquant`
* :mod:`qlearn.modern.outliers`
* :mod:`qlearn.modern.transformer`
* :mod:`qlearn.modern.decode_roofline`

Each is imported on first use (``qlearn.modern.block_formats``).
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


__all__ = ["block_formats", "gptq", "awq", "smoothquant", "outliers", "transformer", "decode_roofline"]

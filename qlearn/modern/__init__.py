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

from qlearn._lazy import submodule_getattr

__getattr__ = submodule_getattr(__name__)  # submodules on first use


__all__ = ["block_formats", "gptq", "awq", "smoothquant", "outliers", "transformer", "decode_roofline"]

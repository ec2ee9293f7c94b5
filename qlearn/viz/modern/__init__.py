"""Figures and explorers of part 5, modern formats: 4-bit language models.

Mirrors :mod:`qlearn.modern`:

* :mod:`qlearn.viz.modern.block_formats`
* :mod:`qlearn.viz.modern.llm`
* :mod:`qlearn.viz.modern.decode_roofline`
"""
from __future__ import annotations

from qlearn._lazy import submodule_getattr

__getattr__ = submodule_getattr(__name__)  # submodules on first use


__all__ = ["block_formats", "llm", "decode_roofline"]

"""Figures and explorers of part 5, modern formats: 4-bit language models.

Mirrors :mod:`qlearn.modern`:

* :mod:`qlearn.viz.modern.block_formats`
* :mod:`qlearn.viz.modern.llm`
* :mod:`qlearn.viz.modern.decode_roofline`
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


__all__ = ["block_formats", "llm", "decode_roofline"]

"""Figures and explorers of part 3, networks: quantizing a trained model.

Mirrors :mod:`qlearn.networks`:

* :mod:`qlearn.viz.networks.network`
* :mod:`qlearn.viz.networks.folding`
* :mod:`qlearn.viz.networks.repairs`
* :mod:`qlearn.viz.networks.adaround`
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


__all__ = ["network", "folding", "repairs", "adaround"]

"""Figures and explorers of part 3, networks: quantizing a trained model.

Mirrors :mod:`qlearn.networks`:

* :mod:`qlearn.viz.networks.network`
* :mod:`qlearn.viz.networks.folding`
* :mod:`qlearn.viz.networks.repairs`
* :mod:`qlearn.viz.networks.adaround`
"""
from __future__ import annotations

from qlearn._lazy import submodule_getattr

__getattr__ = submodule_getattr(__name__)  # submodules on first use


__all__ = ["network", "folding", "repairs", "adaround"]

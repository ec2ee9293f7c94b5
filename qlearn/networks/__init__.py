"""Part 3, networks: quantizing a trained model.

The modules behind lessons 07-09, 15 and 16: the digits data, the course MLP and convnet, PTQ, QAT,
batch-norm folding and the PTQ repairs:

* :mod:`qlearn.networks.data`
* :mod:`qlearn.networks.nn`
* :mod:`qlearn.networks.ptq`
* :mod:`qlearn.networks.qat`
* :mod:`qlearn.networks.conv`
* :mod:`qlearn.networks.convnet`
* :mod:`qlearn.networks.batchnorm`
* :mod:`qlearn.networks.bn_folding_qat`
* :mod:`qlearn.networks.equalization`
* :mod:`qlearn.networks.bias_correction`
* :mod:`qlearn.networks.adaround`
* :mod:`qlearn.networks.lsq`

Each is imported on first use (``qlearn.networks.data``).
"""
from __future__ import annotations

from qlearn._lazy import submodule_getattr

__getattr__ = submodule_getattr(__name__)  # submodules on first use


__all__ = ["data", "nn", "ptq", "qat", "conv", "convnet", "batchnorm", "bn_folding_qat", "equalization",
           "bias_correction", "adaround", "lsq"]

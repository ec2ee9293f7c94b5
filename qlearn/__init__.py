"""qlearn: the helper package behind an interactive course on neural-network quantization.

Core modules (numpy and ml_dtypes only) are imported here; widgets and figures live
in :mod:`qlearn.viz`, imported on first use so that ``import qlearn`` stays fast.
"""
from __future__ import annotations

import importlib

from qlearn import affine, metrics, rounding
from qlearn.affine import QParams, compute_qparams, dequantize, fake_quantize, quantize
from qlearn.metrics import mse, sqnr_db, theoretical_sqnr_db
from qlearn.rounding import ROUNDING_MODES, round_

__version__ = "0.1.0"

_LAZY = {"viz", "formats"}


def __getattr__(name):  # PEP 562: submodules on first use
    if name in _LAZY or name.startswith("_") is False:
        try:
            return importlib.import_module(f"qlearn.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"qlearn.{name}":
                raise AttributeError(f"module 'qlearn' has no attribute {name!r}") from None
            raise
    raise AttributeError(f"module 'qlearn' has no attribute {name!r}")


__all__ = [
    "affine", "metrics", "rounding",
    "QParams", "compute_qparams", "quantize", "dequantize", "fake_quantize",
    "mse", "sqnr_db", "theoretical_sqnr_db", "ROUNDING_MODES", "round_",
]

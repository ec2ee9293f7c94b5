"""qlearn: the helper package behind an interactive course on neural-network quantization.

The modules follow the course's five parts; :mod:`qlearn.viz` mirrors them with the figures and
explorers (the only part that imports plotly or ipywidgets):

* :mod:`qlearn.numbers`: how a value becomes bits (formats, rounding, fixed point, codes);
* :mod:`qlearn.ranges`: scale, zero point, calibration and quantization noise;
* :mod:`qlearn.networks`: the digits, the course's networks, PTQ, QAT and its repairs;
* :mod:`qlearn.hardware`: integer inference, the systolic array, the TPU, a real runtime;
* :mod:`qlearn.modern`: block formats and 4-bit language models.

The course's own machinery sits beside them: :mod:`qlearn.course` (the lesson map),
:mod:`qlearn.quizzes`, :mod:`qlearn.answers`, :mod:`qlearn.exercises`, :mod:`qlearn.serve`.
Parts and modules are imported on first use (``ql.ranges.snr``), so ``import qlearn`` stays fast;
the few names every lesson uses are here directly (``ql.quantize``, ``ql.sqnr_db``, ...).
"""
from __future__ import annotations

from qlearn._lazy import submodule_getattr
from qlearn.numbers.rounding import ROUNDING_MODES, round_
from qlearn.ranges.affine import QParams, compute_qparams, dequantize, fake_quantize, quantize
from qlearn.ranges.metrics import mse, sqnr_db, theoretical_sqnr_db

__version__ = "0.1.0"

#: The course's parts and the module each former top-level module lives in now.
PARTS = ("numbers", "ranges", "networks", "hardware", "modern")
MOVED = {
    "formats": "numbers", "rounding": "numbers", "fixed": "numbers", "nonuniform": "numbers", "signals": "numbers",
    "affine": "ranges", "observers": "ranges", "metrics": "ranges", "snr": "ranges",
    "data": "networks", "nn": "networks", "ptq": "networks", "qat": "networks", "conv": "networks",
    "convnet": "networks", "batchnorm": "networks", "bn_folding_qat": "networks", "equalization": "networks",
    "bias_correction": "networks", "adaround": "networks", "lsq": "networks",
    "intops": "hardware", "systolic": "hardware", "tpu": "hardware", "conv_mapping": "hardware",
    "matmul_speed": "hardware", "onnx_export": "hardware",
    "block_formats": "modern", "gptq": "modern", "awq": "modern", "smoothquant": "modern",
    "outliers": "modern", "transformer": "modern", "decode_roofline": "modern",
}

_submodule = submodule_getattr(__name__)


def __getattr__(name):  # PEP 562: parts and modules on first use
    if name in MOVED:  # an older notebook's ``ql.snr``: say where it is now
        raise AttributeError(f"qlearn.{name} is now qlearn.{MOVED[name]}.{name} (the modules are grouped by "
                             f"the course's parts: {', '.join(PARTS)})")
    if not name.startswith("_"):
        return _submodule(name)
    raise AttributeError(f"module 'qlearn' has no attribute {name!r}")


__all__ = [
    "QParams", "compute_qparams", "quantize", "dequantize", "fake_quantize",
    "mse", "sqnr_db", "theoretical_sqnr_db", "ROUNDING_MODES", "round_",
]

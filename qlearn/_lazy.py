"""Submodules imported on first use: one ``__getattr__`` (PEP 562) for every part of the package."""
from __future__ import annotations

import importlib


def submodule_getattr(package: str):
    """A module ``__getattr__`` that imports ``package.<name>`` when ``<name>`` is first read.

    Examples
    --------
    >>> submodule_getattr("qlearn.ranges")("snr").__name__
    'qlearn.ranges.snr'
    """

    def __getattr__(name: str):
        try:
            return importlib.import_module(f"{package}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{package}.{name}":
                raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
            raise

    return __getattr__

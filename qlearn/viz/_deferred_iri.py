"""jsonschema's IRI format checker loaded when first used, not when plotly's FigureWidget is imported.

plotly's widget module imports ``nbformat``, which imports ``jsonschema``, whose format checkers
import ``rfc3987_syntax`` when it is installed (``jsonschema[format-nongpl]``, which Jupyter Server
asks for). That module builds about 35 Earley parsers when it is imported: 3.0 s of CPU here, 90%
of the first ``go.FigureWidget`` a kernel makes, paid by every lesson's kernel (each pre-heated
kernel of ``qlearn serve``, each page that finds none, each notebook run under nbval) though nothing
in a lesson validates an IRI (jsonschema issue 1428; opendatahub-io/notebooks issue 3532).

:func:`defer_iri_checker` puts a stand-in in ``sys.modules`` before jsonschema is imported: its
``is_valid_syntax`` (the one name jsonschema takes) imports the real module on its first call, and
any other attribute does the same, so what jsonschema validates does not change; only when the cost
is paid does. Nothing is done if jsonschema or rfc3987_syntax was already imported, or if
rfc3987_syntax is not installed.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
import types

NAME = "rfc3987_syntax"


def _real():
    module = sys.modules.get(NAME)
    if isinstance(module, _Deferred):
        del sys.modules[NAME]
        try:
            module = importlib.import_module(NAME)
        except BaseException:
            sys.modules[NAME] = _STANDIN  # as before: the next use tries again
            raise
    return module


class _Deferred(types.ModuleType):
    """The stand-in: every attribute read (but its own) loads the real module."""

    def __getattr__(self, name: str):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return getattr(_real(), name)


def is_valid_syntax(term: str, value: str) -> bool:
    """rfc3987_syntax's ``is_valid_syntax``, imported on the first call."""
    return _real().is_valid_syntax(term, value)


_STANDIN = _Deferred(NAME, __doc__)
_STANDIN.is_valid_syntax = is_valid_syntax


def defer_iri_checker() -> bool:
    """Install the stand-in if it can still save the import; True if the stand-in is in place now.
    (Checked in fresh interpreters by ``tests/test_deferred_iri.py``: what this does depends on what
    the process imported before.)"""
    if sys.modules.get(NAME) is _STANDIN:
        return True
    if NAME in sys.modules or "jsonschema._format" in sys.modules:
        return False
    try:
        spec = importlib.util.find_spec(NAME)
    except (ImportError, ValueError):
        return False
    if spec is None:
        return False
    _STANDIN.__spec__ = spec
    _STANDIN.__path__ = list(spec.submodule_search_locations or [])  # its submodules import as usual
    sys.modules[NAME] = _STANDIN
    return True

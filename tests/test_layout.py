"""The package's layout: topic modules grouped by the course's five parts, ``viz/`` mirroring them.

A new topic module placed at the top of ``qlearn/`` or ``qlearn/viz/`` fails here with the parts to
choose from; a part added on one side only fails too.
"""
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import qlearn

PKG = Path(qlearn.__file__).parent
#: The course's machinery, not a topic: it stays at the top.
TOP_MODULES = {"__init__", "_lazy", "_validate", "answers", "cli", "course", "quizzes", "serve"}
TOP_PACKAGES = set(qlearn.PARTS) | {"viz", "server", "exercises"}
#: The widget building blocks every part's explorers share (and the import-cost stand-in they all need).
VIZ_TOP_MODULES = {"__init__", "explorer", "controls", "style", "static", "predict", "progress", "quiz",
                   "_deferred_iri"}


def _modules(path: Path) -> set[str]:
    return {p.stem for p in path.glob("*.py")}


def _packages(path: Path) -> set[str]:
    return {p.name for p in path.iterdir() if p.is_dir() and any(p.glob("*.py"))}


def test_top_level_holds_only_the_course_machinery_and_the_parts():
    extra = _modules(PKG) - TOP_MODULES
    assert not extra, f"topic modules {sorted(extra)} belong in one of the parts {qlearn.PARTS}"
    assert _packages(PKG) == TOP_PACKAGES


def test_viz_mirrors_the_parts():
    viz = PKG / "viz"
    extra = _modules(viz) - VIZ_TOP_MODULES
    assert not extra, f"figure modules {sorted(extra)} belong in qlearn/viz/<part>/ ({qlearn.PARTS})"
    assert _packages(viz) == set(qlearn.PARTS)


@pytest.mark.parametrize("part", qlearn.PARTS)
def test_each_part_lists_its_modules(part):
    for pkg in (f"qlearn.{part}", f"qlearn.viz.{part}"):
        mod = importlib.import_module(pkg)
        on_disk = {i.name for i in pkgutil.iter_modules(mod.__path__)}
        assert set(mod.__all__) == on_disk, pkg
        assert len(mod.__all__) == len(on_disk), f"{pkg}.__all__ names a module twice"
        for name in mod.__all__:
            assert getattr(mod, name).__name__ == f"{pkg}.{name}"
        with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
            mod.nonexistent  # noqa: B018


def test_moved_names_point_to_where_the_modules_are():
    assert set(qlearn.MOVED) == {i.name for part in qlearn.PARTS
                                 for i in pkgutil.iter_modules(importlib.import_module(f"qlearn.{part}").__path__)}
    for name, part in qlearn.MOVED.items():
        importlib.import_module(f"qlearn.{part}.{name}")
        with pytest.raises(AttributeError, match=rf"qlearn\.{name} is now qlearn\.{part}\.{name}"):
            getattr(qlearn, name)


def test_core_parts_import_neither_plotly_nor_ipywidgets():
    code = ("import importlib, pkgutil, sys, qlearn\n"
            "for part in qlearn.PARTS:\n"
            "    p = importlib.import_module('qlearn.' + part)\n"
            "    for i in pkgutil.iter_modules(p.__path__):\n"
            "        importlib.import_module(f'qlearn.{part}.{i.name}')\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('plotly', 'ipywidgets')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"

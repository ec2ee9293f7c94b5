"""pyproject.toml is the one place dependencies are declared; environment.yml, binder/ and the
installed test environment must agree with it."""
import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
RUNTIME = {canonicalize_name(Requirement(r).name): Requirement(r) for r in PYPROJECT["project"]["dependencies"]}


def _conda_deps(path: Path) -> dict:
    """name -> spec string, from the conda part of an environment file (not its pip: section)."""
    deps, in_deps = {}, False
    for line in path.read_text().splitlines():
        if line.startswith("dependencies:"):
            in_deps = True
            continue
        m = re.match(r"^  - ([A-Za-z0-9_.\-]+)\s*([<>=!].*)?$", line)
        if in_deps and m:
            deps[canonicalize_name(m.group(1))] = (m.group(2) or "").strip()
    deps.pop("python", None)
    deps.pop("pip", None)
    return deps


def _pins(path: Path) -> dict:
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            req = Requirement(line)
            (spec,) = req.specifier
            assert spec.operator == "==", f"{path.name}: {line} is not an exact pin"
            out[canonicalize_name(req.name)] = spec.version
    return out


def test_environment_yml_lists_the_runtime_dependencies_with_the_same_bounds():
    conda = _conda_deps(ROOT / "environment.yml")
    assert set(conda) == set(RUNTIME)
    for name, req in RUNTIME.items():
        assert SpecifierSet(conda[name]) == req.specifier, f"environment.yml {name}{conda[name]} vs pyproject {req}"


def test_binder_pins_satisfy_pyproject_and_match_the_constraints():
    binder = {k: v.lstrip("=") for k, v in _conda_deps(ROOT / "binder" / "environment.yml").items()}
    constraints = _pins(ROOT / "binder" / "constraints.txt")
    assert set(binder) == set(RUNTIME) == set(constraints)
    for name, req in RUNTIME.items():
        assert binder[name] == constraints[name], f"binder/environment.yml and constraints.txt differ on {name}"
        assert req.specifier.contains(binder[name]), f"binder pins {name}={binder[name]}, pyproject wants {req}"


def test_the_test_environment_is_the_binder_environment():
    constraints = _pins(ROOT / "binder" / "constraints.txt")
    for name, version in constraints.items():
        assert metadata.version(name) == version, f"installed {name} {metadata.version(name)}, pinned {version}"


def test_binder_postbuild_installs_qlearn():
    text = (ROOT / "binder" / "postBuild").read_text()
    assert "pip install" in text and "-e ." in text

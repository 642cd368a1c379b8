"""pyproject.toml and environment.yml declare the same dependencies, and the package imports
nothing that is not declared."""

from __future__ import annotations

import ast
import importlib
import re
import sys
import tomllib
from pathlib import Path

import pytest
import typer

REPO = Path(__file__).resolve().parent.parent

IMPORT_TO_DIST = {
    "yaml": "pyyaml",
    "sklearn": "scikit-learn",
    "PIL": "pillow",
    "dateutil": "python-dateutil",
    "skimage": "scikit-image",
    "ahocorasick": "pyahocorasick",
    "vl_convert": "vl-convert-python",
    "psycopg2": "psycopg2-binary",
}
"""Import names whose distribution is called something else."""

CONDA_TO_PYPI: dict[str, str] = {}
"""conda-forge package names that differ from the PyPI name (none so far)."""

CONDA_ONLY = {"python", "pip"}
"""Entries of environment.yml that are the environment itself, not a dependency."""

_REQ = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(.*?)\s*(?:;.*)?$")


def normalize(name: str) -> str:
    """PEP 503 name normalization: lowercase, runs of ``-``, ``_``, ``.`` become ``-``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_requirement(text: str) -> tuple[str, str]:
    """``'NumPy >= 1.26, <3'`` -> ``('numpy', '<3,>=1.26')`` (bounds without spaces, sorted)."""
    m = _REQ.match(text)
    if not m:
        raise ValueError(f"not a requirement: {text!r}")
    name, spec = m.groups()
    bounds = sorted(b.replace(" ", "") for b in spec.split(",") if b.strip())
    return normalize(name), ",".join(bounds)


def requirements(lines: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in lines:
        name, spec = parse_requirement(line)
        if name in out:
            raise ValueError(f"{name} listed twice")
        out[name] = spec
    return out


def environment_dependencies(text: str) -> tuple[list[str], list[str]]:
    """The top-level conda dependency strings of an environment.yml (without the ``pip:`` list),
    and the ``pip:`` entries. A minimal reader for this file's shape: a ``dependencies:`` key
    followed by ``- item`` lines, one of which may be ``- pip:`` with a nested list."""
    conda: list[str] = []
    pip: list[str] = []
    in_deps = False
    dep_indent = None
    in_pip = False
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if not in_deps:
            in_deps = line.strip() == "dependencies:" and indent == 0
            continue
        if indent == 0:
            break
        item = line.strip()
        if not item.startswith("- "):
            raise ValueError(f"unexpected line in dependencies: {raw!r}")
        value = item[2:].strip().strip("'\"")
        if dep_indent is None:
            dep_indent = indent
        if indent == dep_indent:
            in_pip = value == "pip:"
            if not in_pip:
                conda.append(value)
        elif in_pip:
            pip.append(value)
        else:
            raise ValueError(f"unexpected nesting in dependencies: {raw!r}")
    return conda, pip


def compare(pyproject: dict[str, str], conda: dict[str, str]) -> list[str]:
    """Differences between two {name: bounds} maps, as readable lines (empty when they agree)."""
    problems = []
    for name in sorted(set(pyproject) | set(conda)):
        if name not in conda:
            problems.append(f"{name}: in pyproject.toml, missing from environment.yml")
        elif name not in pyproject:
            problems.append(f"{name}: in environment.yml, missing from pyproject.toml")
        elif pyproject[name] != conda[name]:
            problems.append(
                f"{name}: pyproject.toml {pyproject[name]!r} != environment.yml {conda[name]!r}"
            )
    return problems


def third_party_imports(root: Path) -> dict[str, dict[str, list[str]]]:
    """{top-level import name: {'module' | 'function': [file:line, ...]}} for every absolute import
    in ``root/**/*.py`` that is neither the standard library nor the package itself.
    ``module`` imports run at import time; ``function`` imports sit inside a def (guarded)."""
    found: dict[str, dict[str, list[str]]] = {}
    own = root.name
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        in_function: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                in_function.update(id(n) for n in ast.walk(node) if n is not node)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top == own or top in sys.stdlib_module_names or top == "__future__":
                    continue
                where = "function" if id(node) in in_function else "module"
                rel = f"{path.relative_to(root.parent)}:{node.lineno}"
                found.setdefault(top, {}).setdefault(where, []).append(rel)
    return found


def undeclared(
    imports: dict[str, dict[str, list[str]]], runtime: set[str], extras: dict[str, set[str]]
) -> list[str]:
    """Imports whose distribution is not declared. Module-level imports need a runtime
    dependency; imports inside functions may instead come from an optional extra other than
    ``test`` (the test extra is for the test suite, never for the package's own code)."""
    optional = set().union(*(v for k, v in extras.items() if k != "test")) if extras else set()
    problems = []
    for top, places in sorted(imports.items()):
        dist = normalize(IMPORT_TO_DIST.get(top, top))
        if dist in runtime:
            continue
        if "module" not in places and dist in optional:
            continue
        where = ", ".join(places.get("module", []) + places.get("function", []))
        problems.append(f"{top} (distribution {dist}) is imported at {where} but not declared")
    return problems


# --- the real files ------------------------------------------------------------------------


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


SELF = "snfkit"

_SELF_EXTRAS = re.compile(r"^\s*snfkit\s*\[([^\]]*)\]\s*$", re.IGNORECASE)


def self_extras(lines: list[str]) -> set[str]:
    """The extras that ``lines`` pull in by naming the project itself (``snfkit[a,b]``)."""
    out: set[str] = set()
    for line in lines:
        m = _SELF_EXTRAS.match(line)
        if m:
            out |= {e.strip() for e in m.group(1).split(",") if e.strip()}
    return out


def merged(parts: list[dict[str, str]]) -> dict[str, str]:
    """One {name: bounds} map from several; a name listed twice must have the same bounds."""
    out: dict[str, str] = {}
    for part in parts:
        for name, spec in part.items():
            if out.get(name, spec) != spec:
                raise ValueError(f"{name} has bounds {out[name]!r} and {spec!r} in two extras")
            out[name] = spec
    return out


def _declared() -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """Runtime requirements and {extra: requirements}, without the project's own name (an extra
    that pulls in other extras, ``snfkit[export]``)."""
    project = _pyproject()["project"]
    extras = {
        k: {n: b for n, b in requirements(v).items() if n != SELF}
        for k, v in project.get("optional-dependencies", {}).items()
    }
    return requirements(project["dependencies"]), extras


def test_pyproject_and_environment_declare_the_same_packages():
    runtime, extras = _declared()
    conda, pip = environment_dependencies((REPO / "environment.yml").read_text())
    conda_reqs = requirements(conda)
    py_bound = conda_reqs.pop("python")
    conda_reqs.pop("pip")
    conda_reqs = {normalize(CONDA_TO_PYPI.get(k, k)): v for k, v in conda_reqs.items()}
    assert compare(merged([runtime, *extras.values()]), conda_reqs) == []
    assert py_bound == _pyproject()["project"]["requires-python"].replace(" ", "")
    assert pip == ["-e ."]


def test_runtime_and_extras_do_not_overlap():
    runtime, extras = _declared()
    for name, reqs in extras.items():
        assert set(runtime) & set(reqs) == set(), name


def test_the_test_extra_installs_every_other_extra():
    """CI installs the test extra (README, .ci/run), and must test every optional feature."""
    optional = _pyproject()["project"]["optional-dependencies"]
    assert self_extras(optional["test"]) == set(optional) - {"test"}
    assert '".[test]"' in (REPO / ".ci" / "run").read_text()


def test_the_quick_start_installs_the_notebooks_extra():
    readme = (REPO / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = [line for line in quick.splitlines() if line.startswith("python3 -m venv")]
    assert len(commands) == 2, commands
    assert '".[notebooks]"' in commands[0] and "snfkit demo" in commands[0]
    assert '".[test]"' in commands[1] and "pytest" in commands[1]
    assert "jupyter lab notebooks/" in quick


def test_every_third_party_import_is_declared():
    runtime, extras = _declared()
    imports = third_party_imports(REPO / "snfkit")
    assert "numpy" in imports and "numba" in imports  # the scan does see imports
    assert undeclared(imports, set(runtime), {k: set(v) for k, v in extras.items()}) == []


def test_console_script_points_at_the_cli():
    target = _pyproject()["project"]["scripts"]["snfkit"]
    assert target == "snfkit.cli:app"
    module, _, name = target.partition(":")
    assert isinstance(getattr(importlib.import_module(module), name), typer.Typer)


# --- the checks can fail -------------------------------------------------------------------


def test_parse_and_normalize():
    assert parse_requirement("NumPy >= 1.26, <3") == ("numpy", "<3,>=1.26")
    assert parse_requirement("typing_extensions") == ("typing-extensions", "")
    assert parse_requirement('dpkt>=1.9.8 ; python_version>"3"') == ("dpkt", ">=1.9.8")
    assert parse_requirement("Foo.Bar[extra]>=1") == ("foo-bar", ">=1")
    with pytest.raises(ValueError):
        requirements(["numpy>=1", "NumPy>=2"])


def test_self_extras_and_merged():
    assert self_extras(["snfkit[export, notebooks]", "pytest>=8", "other[x]"]) == {
        "export",
        "notebooks",
    }
    assert merged([{"a": ">=1"}, {"a": ">=1", "b": ""}]) == {"a": ">=1", "b": ""}
    with pytest.raises(ValueError, match="two extras"):
        merged([{"a": ">=1"}, {"a": ">=2"}])


def test_compare_reports_mismatches():
    assert compare({"numpy": ">=1.26"}, {"numpy": ">=1.26"}) == []
    problems = compare({"numpy": ">=1.26", "rich": ">=13"}, {"numpy": ">=2.0", "pyyaml": ">=6"})
    assert problems == [
        "numpy: pyproject.toml '>=1.26' != environment.yml '>=2.0'",
        "pyyaml: in environment.yml, missing from pyproject.toml",
        "rich: in pyproject.toml, missing from environment.yml",
    ]


def test_environment_reader():
    text = """# comment
name: x
dependencies:
  - python>=3.11
  - numpy>=1.26  # runtime
  - pip
  - pip:
      - -e .
      - "foo>=1"
other: 1
"""
    assert environment_dependencies(text) == (
        ["python>=3.11", "numpy>=1.26", "pip"],
        ["-e .", "foo>=1"],
    )


def test_import_scan_flags_undeclared(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("import numpy as np\nimport os\nfrom pkg.sub import x\n")
    (pkg / "sub" / "__init__.py").write_text(
        "from yaml import safe_load\n"
        "def f():\n    import optuna\n    from . import y\n    import json\n"
    )
    imports = third_party_imports(pkg)
    assert set(imports) == {"numpy", "yaml", "optuna"}
    assert imports["optuna"] == {"function": ["pkg/sub/__init__.py:3"]}
    problems = undeclared(imports, {"numpy"}, {"test": {"pyyaml"}, "sweeps": {"optuna"}})
    assert problems == [
        "yaml (distribution pyyaml) is imported at pkg/sub/__init__.py:1 but not declared"
    ]
    assert undeclared(imports, {"numpy", "pyyaml"}, {"sweeps": {"optuna"}}) == []
    assert len(undeclared(imports, {"numpy", "pyyaml"}, {"test": {"optuna"}})) == 1

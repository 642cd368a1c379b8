"""Imports run one way: engine <- runner <- figures / sweeps / cli (STYLE.md "Kernels apart from the
API"). Read from the sources (module-level and function-level imports alike), so a late import
inside a function cannot hide an upward arrow."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "snfkit"

UPPER = ("snfkit.figures", "snfkit.sweeps", "snfkit.cli", "snfkit.charts", "snfkit.billing")
"""The layers above the runner: tables, charts, sweeps and the command line."""


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, me: str | None = None) -> list[tuple[str, list[str]]]:
    """(module, names) for every ``import`` and ``from ... import`` in the file, at any depth
    (``me``: the file's module name, when it is not under the package)."""
    found = []
    me = me or _module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            found.append((mod, [alias.name for alias in node.names]))
    return found


def _under(mod: str, prefixes) -> bool:
    return any(mod == p or mod.startswith(p + ".") for p in prefixes)


SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_the_package_is_read():
    names = {_module_name(p) for p in SOURCES}
    assert {"snfkit.engine.replay_nb", "snfkit.runner.drive", "snfkit.figures"} <= names


ENGINE = ("snfkit.engine", "snfkit.latency_hist", "snfkit.errors", "snfkit.memory")
"""The kernels and the leaves they may use (a histogram layout, the error types, the pool their
callers' big buffers come from)."""

LOWER = (
    "snfkit.runner",
    "snfkit.params",
    "snfkit.results",
    "snfkit.prepared",
    "snfkit.errors",
    "snfkit.progress",
    "snfkit.faults",
    "snfkit.pool",
)
"""The runner and what it stands on (besides the engine). Metrics, like billing, read a replay's
results from above it."""


def layer_violations(me: str, mods: list[str]) -> list[str]:
    """The imports of module ``me`` that point up a layer."""
    bad = []
    for mod in (m for m in mods if m.startswith("snfkit")):
        if _under(me, ENGINE):
            # kernels see arrays and NamedTuples: nothing of snfkit above the engine
            if not _under(mod, ENGINE):
                bad.append(mod)
        elif _under(me, LOWER):
            if _under(mod, UPPER) or (
                _under(mod, ["snfkit.runner"]) and not _under(me, ["snfkit.runner"])
            ):
                bad.append(mod)
    return bad


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: _module_name(p))
def test_imports_run_one_way(path):
    me = _module_name(path)
    assert layer_violations(me, [m for m, _ in _imports(path)]) == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: _module_name(p))
def test_no_module_imports_a_siblings_private_names(path):
    me = _module_name(path)
    for mod, names in _imports(path):
        if mod.startswith("snfkit") and mod != me:
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            assert not private, f"{me} imports private {private} from {mod}"


def test_the_kernel_driver_and_the_tables_do_not_import_each_other():
    drive = {m for m, _ in _imports(PACKAGE / "runner" / "drive.py")}
    tables = {m for m, _ in _imports(PACKAGE / "runner" / "tables.py")}
    assert not _under_any(drive, "snfkit.runner.tables")
    assert not _under_any(tables, "snfkit.runner.drive")


def _under_any(mods: set[str], target: str) -> bool:
    return any(_under(m, [target]) for m in mods)


def test_an_upward_import_is_caught(tmp_path):
    """Negative control: a kernel module that imports the runner, and the results that import a
    chart, are caught."""
    copy = tmp_path / "snfkit" / "engine" / "replay_nb.py"
    copy.parent.mkdir(parents=True)
    copy.write_text(
        (PACKAGE / "engine" / "replay_nb.py").read_text()
        + "\n\ndef late():\n    from snfkit.runner import replay\n"
    )
    mods = [m for m, _ in _imports(copy, "snfkit.engine.replay_nb")]
    assert layer_violations("snfkit.engine.replay_nb", mods) == ["snfkit.runner"]
    assert layer_violations("snfkit.results", ["snfkit.charts.theme"]) == ["snfkit.charts.theme"]
    assert layer_violations("snfkit.params", ["snfkit.runner.drive"]) == ["snfkit.runner.drive"]


def import_graph(files: dict[str, Path]) -> dict[str, set[str]]:
    """Module name -> the modules among ``files`` that it imports (at any depth; ``from a import b``
    counts as importing ``a.b`` when that is one of the modules)."""
    graph = {}
    for me, path in files.items():
        deps = set()
        for mod, names in _imports(path, me):
            subs = {f"{mod}.{n}" for n in names} & files.keys()
            deps |= subs or ({mod} & files.keys())
        graph[me] = deps - {me}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while not comp or comp[-1] != v:
                comp.append(stack.pop())
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle():
    graph = import_graph({_module_name(p): p for p in SOURCES})
    assert "snfkit.traces.result" in graph["snfkit.traces.pcap"]  # `from x import y` is seen
    assert cycles(graph) == []


def test_a_cycle_through_a_function_level_import_is_caught(tmp_path):
    """Negative control: the shape of the old ingest <-> pcap cycle."""
    files = {name: tmp_path / f"{name}.py" for name in ("pkg", "pkg.a", "pkg.b", "pkg.c")}
    files["pkg"].write_text("")
    files["pkg.a"].write_text("def read():\n    from pkg.b import parse\n")
    files["pkg.b"].write_text("from pkg.a import read\n")
    files["pkg.c"].write_text("import pkg.a\n")
    assert cycles(import_graph(files)) == [["pkg.a", "pkg.b"]]

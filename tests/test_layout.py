"""The package layout: no import cycles (imports inside functions count), imports at module level,
and dependencies that point one way only (cli -> studies/search/report -> training/ledger -> datasets;
nas -> predictors -> search_spaces)."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("nas", "predictors", "search_spaces")

#: Imports deliberately left inside a function, each with its reason (STYLE.md: an optional heavy
#: dependency, said so in a comment beside it).
INNER_IMPORTS_ALLOWED = {
    ("predictors.persistence", "skops.io"),  # skops.io imports torch; predictors must not
}


def _modules() -> dict[str, Path]:
    mods = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join(parts)] = path
    return mods


def _imported(module: str, path: Path, node: ast.AST, mods: dict[str, Path]) -> list[str]:
    """The project modules an import statement loads (a package's face counts as a module)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
            base = base[: len(base) - node.level + 1]
            source = ".".join(base + ([node.module] if node.module else []))
        else:
            source = node.module or ""
        names = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in mods else source for alias in node.names]
    else:
        return []
    out = []
    for name in names:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        if name and name != module:
            out.append(name)
    return out


def _inner_imports(tree: ast.Module) -> list[ast.stmt]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found += [n for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom))]
    return found


@pytest.fixture(scope="module")
def graph() -> nx.DiGraph:
    mods = _modules()
    g = nx.DiGraph()
    g.add_nodes_from(mods)
    for module, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            for target in _imported(module, path, node, mods):
                g.add_edge(module, target)
    return g


def test_the_graph_sees_the_packages(graph):
    assert {"nas.search.loop", "nas.training.loop", "predictors.models", "search_spaces.genome"} <= set(graph)
    assert graph.has_edge("nas.search.loop", "nas.search.config")


def test_no_import_cycles(graph):
    cycles = sorted((c for c in nx.simple_cycles(graph)), key=len)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c + c[:1]) for c in cycles[:5])


def test_imports_are_at_module_level():
    found = []
    for module, path in _modules().items():
        for node in _inner_imports(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found += [(module, name, node.lineno) for name in names if (module, name) not in INNER_IMPORTS_ALLOWED]
    assert not found, "imports inside functions (hidden dependencies): " + ", ".join(
        f"{m}:{line} imports {name}" for m, name, line in found)


@pytest.mark.parametrize("lower, upper", [
    ("search_spaces", "predictors"), ("search_spaces", "nas"), ("predictors", "nas"),
    ("nas.search", "nas.report"), ("nas.search", "nas.cli"), ("nas.search", "nas.studies"),
    ("nas.training", "nas.search"), ("nas.training", "nas.studies"), ("nas.training", "nas.report"),
    ("nas.training", "nas.ledger"), ("nas.ledger", "nas.search"), ("nas.datasets", "nas.training"),
    ("nas.studies", "nas.cli"), ("nas.report", "nas.cli"),
])
def test_dependencies_point_one_way(graph, lower, upper):
    wrong = sorted((a, b) for a, b in graph.edges
                   if (a == lower or a.startswith(lower + ".")) and (b == upper or b.startswith(upper + ".")))
    assert not wrong, f"{lower} must not import {upper}: " + ", ".join(f"{a} -> {b}" for a, b in wrong)


#: A module doing one job may be long; one over this many lines is split (STYLE.md: a file does one thing).
MAX_MODULE_LINES = 450


def test_no_module_is_over_the_line_limit():
    long = {m: n for m, path in _modules().items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert not long, f"modules over {MAX_MODULE_LINES} lines (split them by job): {long}"

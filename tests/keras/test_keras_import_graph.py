"""numbanet.keras has no import circle (DESIGN.md): not at module level, and not through
imports inside functions either (saving rebuilds models through its registry instead of
importing the models module). The graph is read from the source, importing nothing."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import numbanet

PACKAGE = Path(numbanet.__file__).resolve().parent
ROOT = PACKAGE.parent


def _modules() -> dict:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, modules: dict, module_level: bool) -> set:
    """The numbanet modules that ``name`` imports (at module level only, or anywhere)."""
    tree = ast.parse(path.read_text())
    nodes = []

    def walk(body):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            nodes.append(node)
            for field in ("body", "orelse", "finalbody", "handlers"):
                if isinstance(getattr(node, field, None), list):
                    walk(getattr(node, field))
    if module_level:
        walk(tree.body)
    else:
        nodes = list(ast.walk(tree))
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in nodes:
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                       for a in node.names]
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _cycles(module_level: bool) -> list:
    modules = _modules()
    graph = {m: _imports(m, p, modules, module_level) for m, p in modules.items()}
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))
    for v in graph:
        if v not in index:
            visit(v)
    return [g for g in groups if any(m.startswith("numbanet.keras") for m in g)]


@pytest.mark.parametrize("module_level", [True, False], ids=["module level", "anywhere"])
def test_numbanet_keras_modules_import_each_other_without_a_circle(module_level):
    assert _cycles(module_level) == []


def test_load_model_rebuilds_sequential_through_the_registry():
    from numbanet.keras import models, saving
    assert saving._MODEL_CLASSES["Sequential"] is models.Sequential
    assert "numbanet.keras.models" not in _imports(
        "numbanet.keras.saving", PACKAGE / "keras" / "saving.py", _modules(), False)

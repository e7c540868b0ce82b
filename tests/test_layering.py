"""The layer rule of DESIGN.md, checked on the source of the package.

- Each layer imports only from the layers below it, and no module-level import forms a
  circle anywhere in ``numbanet/``.
- Above autograd (nn, optim, keras, static, jit, distributed, utils, viz, models), code
  reaches tensors through public ops only: never ``._data``, ``._wrap``, ``._vc``,
  ``.backend``, ``backend_for`` or ``_bump_version``, and never the grad mode's state.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "numbanet"
ABOVE_AUTOGRAD = ("nn", "optim", "keras", "static", "jit", "distributed", "utils", "viz",
                  "models")
INTERNALS = re.compile(r"\.backend\b|\._data\b|\._wrap\b|\._vc\b|_bump_version|backend_for\b"
                       r"|grad_mode import state|\bstate\.enabled\b"
                       # a tensor's or node's private fields (an object's own are self._...)
                       r"|(?<!self)\._(device|shape|requires_grad|grad|output_nr|outputs"
                       r"|retained|base|saved|edges)\b")
# layer -> the layers it must not import
FORBIDDEN = {
    "backend": ("tensor", "autograd", "nn", "optim", "keras", "static", "jit", "utils",
                "datasets", "viz"),
    "autograd": ("nn", "optim", "keras", "static", "jit", "utils", "datasets", "viz"),
    "nn": ("keras", "static", "jit", "viz"),
    "optim": ("keras", "static", "jit", "viz"),
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _top_level_imports(tree: ast.Module):
    """The imports a module runs when it is imported (not those inside functions)."""
    def visit(body):
        for node in body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                yield node
            elif isinstance(node, (ast.If, ast.Try, ast.With)):
                for block in ("body", "orelse", "finalbody"):
                    yield from visit(getattr(node, block, []))
                for handler in getattr(node, "handlers", []):
                    yield from visit(handler.body)
    yield from visit(tree.body)


def _imported(name: str, path: Path, node, modules) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name in modules]
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    if node.level:
        base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1])
        source = base + ("." + node.module if node.module else "")
    else:
        source = node.module or ""
    targets = []
    for alias in node.names:  # ``from . import x`` imports the submodule x, if there is one
        sub = f"{source}.{alias.name}"
        target = sub if sub in modules else source
        if target in modules and target != name:
            targets.append(target)
    return targets


def _import_graph(anywhere: bool = False):
    """Module -> the numbanet modules it imports when it is imported (``anywhere``: also
    those imported inside its functions)."""
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        nodes = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))] \
            if anywhere else _top_level_imports(tree)
        graph[name] = {t for node in nodes for t in _imported(name, path, node, modules)}
    return graph


def _circles(graph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
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
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_module_level_import_circle_anywhere():
    assert _circles(_import_graph()) == []


def test_the_circle_finder_finds_a_circle():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_each_layer_imports_only_from_the_layers_below_it(layer):
    graph = _import_graph()
    above = tuple(f"numbanet.{name}" for name in FORBIDDEN[layer])
    wrong = sorted((m, t) for m, targets in graph.items()
                   if m == f"numbanet.{layer}" or m.startswith(f"numbanet.{layer}.")
                   for t in targets if t in above or t.startswith(tuple(a + "." for a in above)))
    assert wrong == []


def test_layers_above_autograd_use_public_tensor_ops_only():
    breaches = []
    for layer in ABOVE_AUTOGRAD:
        for path in sorted((PACKAGE / layer).rglob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if INTERNALS.search(line) and not line.lstrip().startswith("#"):
                    breaches.append(f"{path.relative_to(PACKAGE.parent)}:{number}: "
                                    f"{line.strip()}")
    assert breaches == []

"""The graph layer reaches the devices through the backend contract only: it imports no
device's backend module (cpu.py, cuda*.py, host_memory.py), so that a new device needs no
change in graph/. Fused kernels run through ``Backend.elementwise_program``."""
import ast
import pathlib

import numbanet

GRAPH = pathlib.Path(numbanet.__file__).parent / "graph"
# what graph/ may import from numbanet.backend: the contract and the device-independent parts
ALLOWED_MODULES = {"numbanet.backend", "numbanet.backend.scalar", "numbanet.backend.layout",
                   "numbanet.backend.specialise", "numbanet.backend.windows"}
CONTRACT_NAMES = {"Backend", "Array", "Window", "UnaryOp", "BinaryOp", "ReduceOp",
                  "ArgReduceOp", "layout", "scalar", "windows", "specialise"}


def _backend_imports(path):
    """(module, name) of every import of numbanet.backend in ``path``, in functions too."""
    package = ["numbanet", "graph"]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + (node.module.split(".") if node.module else []))
            if module.startswith("numbanet.backend"):
                for alias in node.names:
                    yield module, alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("numbanet.backend"):
                    yield alias.name, None


def test_graph_imports_only_the_backend_contract():
    found = {p.name: list(_backend_imports(p)) for p in sorted(GRAPH.glob("*.py"))}
    assert found["fusion.py"] and found["recorder.py"], "the scan reads relative imports"
    bad = [(f, m, n) for f, imports in found.items() for m, n in imports
           if m not in ALLOWED_MODULES or (m == "numbanet.backend" and n not in CONTRACT_NAMES)]
    assert not bad, f"graph/ reaches past the backend contract: {bad}"


def test_the_scan_sees_a_reach_into_a_device_backend(tmp_path):
    bad = tmp_path / "x.py"
    bad.write_text("def f():\n    from ..backend import cuda as c\n    return c._launch\n")
    assert list(_backend_imports(bad)) == [("numbanet.backend", "cuda")]

"""The teaching notebooks (``notebooks/*.ipynb``) run top to bottom, and are stored clean.

Each notebook runs in a fresh Jupyter kernel started from this interpreter (so from the
project's virtual environment), in ``notebooks/`` as its working directory, with the
repository on ``PYTHONPATH`` so that ``import numbanet`` finds this checkout whether or
not it is installed. A cell that raises fails the test with that cell's traceback.

CUDA code in a notebook runs on a real GPU or not at all: the kernel gets
``NUMBA_ENABLE_CUDASIM=0`` even where the test suite itself uses the simulator.

Running them needs nbclient, nbformat and ipykernel (in the ``dev`` extra); without
them these tests skip.
"""
import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT = 300  # seconds; each notebook takes well under a minute on 2 cores
INSTALL = 'the notebook tests need nbclient, nbformat and ipykernel: pip install ".[dev]"'


def test_the_notebooks_are_there():
    names = [p.name for p in NOTEBOOKS]
    assert "01_cpu_vs_gpu.ipynb" in names and len(names) >= 5, names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    assert notebook["nbformat"] == 4
    for i, cell in enumerate(notebook["cells"]):
        assert cell["source"], f"{path.name}: cell {i} is empty"
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"{path.name}: cell {i} has stored outputs"
            assert cell["execution_count"] is None, \
                f"{path.name}: cell {i} has an execution count"


def kernel_environment(scratch: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["NUMBA_ENABLE_CUDASIM"] = "0"   # a real GPU or none: the simulator is for tests
    env["IPYTHONDIR"] = str(scratch / "ipython")  # leave the user's IPython profile alone
    env["HYPOTHESIS_STORAGE_DIRECTORY"] = str(scratch / "hypothesis")  # not in notebooks/
    env.pop("MPLBACKEND", None)         # plots go to the notebook (the inline backend)
    return env


@pytest.mark.notebooks
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path, tmp_path):
    nbclient = pytest.importorskip("nbclient", reason=INSTALL)
    nbformat = pytest.importorskip("nbformat", reason=INSTALL)
    pytest.importorskip("ipykernel", reason=INSTALL)
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    # A kernel spec for this interpreter, in a folder of its own: Jupyter's "python3" could
    # be another Python, without numbanet's dependencies.
    spec = tmp_path / "kernels" / "numbanet-tests"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "numbanet (tests)", "language": "python"}))
    manager = KernelManager(
        kernel_name="numbanet-tests", connection_file=str(tmp_path / "connection.json"),
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")]))
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(notebook, km=manager, timeout=CELL_TIMEOUT,
                                     resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute(env=kernel_environment(tmp_path))
    except nbclient.exceptions.CellExecutionError as error:
        pytest.fail(f"{path.name}: a cell failed\n{error}", pytrace=False)

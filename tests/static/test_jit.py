"""``numbanet.jit``: tracing eager code into a graph, its errors, and saving a graph that
another process loads and runs without the model's code."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import numbanet as nb
import numbanet.jit as jit
from numbanet import nn

DEVICES = ["cpu", "cuda"]
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

MODEL_SOURCE = textwrap.dedent('''
    import numbanet as nb
    from numbanet import nn


    class TwoLayerNet(nn.Module):
        def __init__(self, d_in, h, d_out):
            super().__init__()
            self.linear1 = nn.Linear(d_in, h)
            self.linear2 = nn.Linear(h, d_out)

        def forward(self, x):
            h = self.linear1(x).clamp(min=0)
            return self.linear2(h).sigmoid() * 2.0 - 1.0, h.sum(1)
''')


def seed_net():
    return nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3), nn.Tanh())


@pytest.mark.parametrize("device", DEVICES)
def test_traced_module_matches_eager_run(device):
    nb.manual_seed(0)
    model = seed_net().to(device)
    x = nb.randn(4, 6).to(device)
    graph = jit.trace(model, x)
    for _ in range(2):
        x = nb.randn(4, 6).to(device)
        got = graph(x)
        assert got.device == x.device and got.dtype is nb.float32
        np.testing.assert_allclose(got.cpu().numpy(), model(x).detach().cpu().numpy(),
                                   rtol=1e-6, atol=1e-6)


def test_trace_of_a_function_with_several_inputs_and_outputs():
    def f(a, b):
        return (a * b).relu() + 1.0, (a - b).sum()

    a, b = nb.randn(3, 2), nb.randn(3, 2)
    graph = jit.trace(f, (a, b))
    s, total = graph(a.numpy(), b.numpy())
    np.testing.assert_allclose(s.numpy(), ((a * b).relu() + 1.0).numpy(), rtol=1e-6)
    np.testing.assert_allclose(total.numpy(), (a - b).sum().numpy(), rtol=1e-6)
    assert graph.kernel_count() < graph.kernel_count(optimize=False)


def test_traced_graph_refuses_inputs_of_another_shape():
    graph = jit.trace(seed_net(), nb.randn(4, 6))
    with pytest.raises(ValueError, match=r"input 0 has shape \(5, 6\), but the graph was "
                                         r"traced with shape \(4, 6\).*trace again"):
        graph(nb.randn(5, 6))
    with pytest.raises(TypeError, match="traced with 1 input"):
        graph(nb.randn(4, 6), nb.randn(4, 6))


@pytest.mark.parametrize("branch", [
    lambda x: x if x.sum().item() > 0 else -x,
    lambda x: x if bool((x > 0).all()) else -x,
    lambda x: nb.tensor(x.numpy() * 2),
    lambda x: x * float(x.max()),
], ids=["item", "bool", "numpy", "float"])
def test_code_that_reads_values_while_traced_gets_a_clear_error(branch):
    with pytest.raises(jit.TracingError, match="values"):
        jit.trace(branch, nb.randn(3))


def test_a_tensor_captured_from_outside_is_named_as_the_problem():
    w = nb.randn(3, 2)
    with pytest.raises(jit.TracingError, match="neither an input nor a parameter"):
        jit.trace(lambda x: x @ w, nb.randn(4, 3))


def test_parameters_are_restored_after_tracing_even_when_it_fails():
    model = seed_net()
    before = [p.detach().numpy().copy() for p in model.parameters()]
    with pytest.raises(jit.TracingError):
        jit.trace(lambda x: model(x) * model(x).sum().item(), nb.randn(2, 6))
    jit.trace(model, nb.randn(2, 6))
    for p, b in zip(model.parameters(), before):
        assert p.device == nb.device("cpu")
        np.testing.assert_array_equal(p.detach().numpy(), b)


def test_changing_weights_in_place_while_traced_is_refused():
    class SelfUpdating(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = seed_net()

        def forward(self, x):
            out = self.net(x)
            with nb.no_grad():
                for p in self.net.parameters():
                    p -= 0.1
            return out
    with pytest.raises(jit.TracingError, match="changed weights in place"):
        jit.trace(SelfUpdating(), nb.randn(2, 6))


def test_saved_file_is_a_zip_of_json_and_npy_without_pickles(tmp_path):
    graph = jit.trace(seed_net(), nb.randn(4, 6))
    path = tmp_path / "net.nbg"
    graph.save(path)
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        meta = json.loads(z.read("graph.json"))
        assert all(n == "graph.json" or n.endswith(".npy") for n in names)
        for n in names:
            if n.endswith(".npy"):
                assert b"pickle" not in z.read(n)[:128]
    assert meta["format"] == "numbanet.graph" and meta["version"] == 1
    assert set(meta["variables"]) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    assert meta["inputs"] == [{"name": "input_0", "shape": [4, 6], "dtype": "float32"}]


def test_save_then_load_and_run_in_a_fresh_process_without_the_models_code(tmp_path):
    (tmp_path / "mymodel.py").write_text(MODEL_SOURCE)
    sys.path.insert(0, str(tmp_path))
    try:
        import mymodel
        nb.manual_seed(0)
        model = mymodel.TwoLayerNet(7, 5, 3)
        x = nb.randn(4, 7)
        graph = jit.trace(model, x)
        expected = [t.detach().numpy() for t in model(x)]
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("mymodel", None)
    graph.save(tmp_path / "model.nbg")
    os.remove(tmp_path / "mymodel.py")  # the model's code is gone
    np.save(tmp_path / "x.npy", x.numpy())
    script = textwrap.dedent(f'''
        import sys
        import numpy as np
        import numbanet.jit
        graph = numbanet.jit.load({str(tmp_path / "model.nbg")!r})
        y, s = graph(np.load({str(tmp_path / "x.npy")!r}))
        assert "mymodel" not in sys.modules
        np.save({str(tmp_path / "y.npy")!r}, y.numpy())
        np.save({str(tmp_path / "s.npy")!r}, s.numpy())
    ''')
    env = dict(os.environ, PYTHONPATH=REPO)
    done = subprocess.run([sys.executable, "-c", script], cwd=str(tmp_path), env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), expected[0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.load(tmp_path / "s.npy"), expected[1], rtol=1e-6, atol=1e-6)


def test_loading_something_else_says_what_is_wrong(tmp_path):
    bad = tmp_path / "not_a_graph.nbg"
    bad.write_text("hello")
    with pytest.raises(ValueError, match="not_a_graph.nbg' is not a ZIP archive"):
        jit.load(bad)
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as z:
        z.writestr("weights.npy", b"")
    with pytest.raises(ValueError, match="other.zip'.*'graph.json' is missing"):
        jit.load(tmp_path / "other.zip")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as z:
        z.writestr("graph.json", '{"format": "numbanet.tensors"}')
    with pytest.raises(ValueError, match="other.zip'.*not a numbanet graph file"):
        jit.load(tmp_path / "other.zip")

"""The CUDA device: placement, transfers, errors, agreement with the CPU, zero host copies
in a training step, and interop. These run on the GPU where there is one and on Numba's
CUDA simulator elsewhere (``conftest.py``); all carry the ``cuda`` marker."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import numbanet as nb

SIMULATED = nb.cuda.is_simulated()

pytestmark = pytest.mark.cuda
CUDA = "cuda"
real_gpu_only = pytest.mark.skipif(SIMULATED, reason="needs a real GPU (the simulator keeps "
                                   "device arrays in host memory)")


def host(t):
    return t.detach().cpu().numpy()


# ---- devices and placement ------------------------------------------------------------------

def test_cuda_is_available_and_counts_devices():
    assert nb.cuda.is_available()
    assert nb.cuda.device_count() >= 1
    assert isinstance(nb.cuda.get_device_name(), str)
    nb.cuda.synchronize()


def test_tensors_on_cuda_report_cuda_0_as_in_pytorch():
    t = nb.zeros(2, 3, device="cuda")
    assert t.device == nb.device("cuda:0") and str(t.device) == "cuda:0"
    assert t.is_cuda and not nb.zeros(1).is_cuda
    assert "device='cuda:0'" in repr(t)


@pytest.mark.parametrize("make", [
    lambda: nb.zeros(2, 3, device=CUDA), lambda: nb.ones(2, 3, device=CUDA),
    lambda: nb.full((2, 3), 7.0, device=CUDA), lambda: nb.empty(2, 3, device=CUDA),
    lambda: nb.arange(0, 6, device=CUDA), lambda: nb.eye(3, device=CUDA),
    lambda: nb.tensor([[1.0, 2.0]], device=CUDA), lambda: nb.rand(2, 3, device=CUDA),
    lambda: nb.randn(2, 3, device=CUDA), lambda: nb.randint(0, 5, (2, 3), device=CUDA),
], ids=["zeros", "ones", "full", "empty", "arange", "eye", "tensor", "rand", "randn",
        "randint"])
def test_every_creation_function_takes_device(make):
    t = make()
    assert t.device.type == "cuda"


def test_to_cuda_and_back_keeps_values_dtypes_and_gradients():
    for dtype in (nb.float32, nb.float64, nb.int64, nb.bool):
        a = np.arange(6).reshape(2, 3) % 4
        x = nb.tensor(a, dtype=dtype)
        on = x.to("cuda")
        assert on.device.type == "cuda" and on.dtype is dtype
        np.testing.assert_array_equal(host(on.cpu()), host(x))
        np.testing.assert_array_equal(host(x.cuda().cpu()), host(x))
    w = nb.tensor([1.0, 2.0], requires_grad=True)
    (w.cuda() * 3.0).sum().backward()  # the gradient comes back to the CPU leaf
    np.testing.assert_array_equal(host(w.grad), [3.0, 3.0])
    assert w.grad.device == nb.device("cpu")


def test_numpy_of_a_cuda_tensor_asks_for_cpu_first():
    with pytest.raises(TypeError, match="cpu"):
        nb.ones(2, device=CUDA).numpy()


@pytest.mark.parametrize("op", ["add", "mm", "where", "cat"])
def test_an_op_mixing_devices_names_both_devices_and_the_op(op):
    a, b = nb.ones(2, 2), nb.ones(2, 2, device=CUDA)
    run = {"add": lambda: a + b, "mm": lambda: a.mm(b),
           "where": lambda: nb.where(a > 0, a, b), "cat": lambda: nb.cat([a, b])}[op]
    with pytest.raises(RuntimeError) as info:
        run()
    message = str(info.value)
    assert "cpu" in message and "cuda:0" in message and op in message


def test_an_unknown_cuda_index_is_a_clear_error():
    with pytest.raises(RuntimeError, match="cuda:7"):
        nb.zeros(2, device="cuda:7")


def test_manual_seed_repeats_draws_on_cuda():
    nb.manual_seed(123)
    a = host(nb.randn(5, 7, device=CUDA)), host(nb.rand(3, device=CUDA))
    nb.manual_seed(123)
    b = host(nb.randn(5, 7, device=CUDA)), host(nb.rand(3, device=CUDA))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    nb.manual_seed(124)
    assert not np.array_equal(host(nb.randn(5, 7, device=CUDA)), a[0])


def test_random_draws_look_right():
    nb.manual_seed(0)
    size = 1000 if SIMULATED else 4000  # the simulator runs each GPU thread in Python
    u = host(nb.rand(size, device=CUDA, dtype=nb.float64))
    n = host(nb.randn(size, device=CUDA, dtype=nb.float64))
    i = host(nb.randint(3, 7, (size,), device=CUDA))
    assert 0 <= u.min() and u.max() < 1 and abs(u.mean() - 0.5) < 0.05
    assert abs(n.mean()) < 0.1 and abs(n.std() - 1) < 0.1
    assert set(np.unique(i)) == {3, 4, 5, 6}


def test_reductions_finish_across_blocks_and_passes():
    """Rows longer than one block's span take several passes of partial results."""
    from numbanet.backend import cuda as backend
    span = backend.THREADS * (16 if backend.SIMULATED else 8)
    n = span * span + 7  # two passes of partials, the last block ragged
    rng = np.random.default_rng(3)
    a = rng.standard_normal((2, n))
    a[1, n - 3] = 50.0  # the maximum sits in the last block
    t = nb.tensor(a, device=CUDA)
    np.testing.assert_allclose(host(t.sum(dim=1)), a.sum(axis=1), rtol=1e-12)
    np.testing.assert_array_equal(host(t.max(dim=1)[0]), a.max(axis=1))
    np.testing.assert_array_equal(host(t.argmax(dim=1)), a.argmax(axis=1))
    np.testing.assert_array_equal(host(t.argmin(dim=1)), a.argmin(axis=1))
    np.testing.assert_allclose(host(t.sum()), a.sum(), rtol=1e-12)


# ---- the same computation on both devices ------------------------------------------------------

def _computation(dev):
    rng = np.random.default_rng(5)
    x = nb.tensor(rng.standard_normal((4, 5)), dtype=nb.float64, device=dev, requires_grad=True)
    w = nb.tensor(rng.standard_normal((5, 3)), dtype=nb.float64, device=dev, requires_grad=True)
    b = nb.tensor(rng.standard_normal(3), dtype=nb.float64, device=dev, requires_grad=True)
    h = (x.mm(w) + b).tanh()
    y = nb.softmax(h.t()[1:], dim=0).log() * h.sigmoid()[:, 1:].t()
    z = (y.exp().sum(dim=1, keepdim=True) / (1 + y.abs().max())).sqrt()
    loss = z.mean() + (x[x > 0] ** 2).sum() * 0.1 + h.max(dim=1)[0].sum()
    loss.backward()
    return [host(t) for t in (loss, x.grad, w.grad, b.grad, h.argmax(dim=0))]


def test_the_same_float64_computation_agrees_on_cpu_and_cuda_to_1e_10():
    for on_cpu, on_cuda in zip(_computation("cpu"), _computation(CUDA)):
        np.testing.assert_allclose(on_cuda, on_cpu, rtol=1e-10, atol=1e-10)


def _seed_weights(dev, dtype=nb.float32):
    rng = np.random.default_rng(0)
    n, d_in, hidden, d_out = 8, 20, 10, 3
    arrays = [rng.standard_normal(s) for s in ((n, d_in), (n, d_out), (d_in, hidden),
                                               (hidden, d_out))]
    x, y, w1, w2 = (nb.tensor(a, dtype=dtype, device=dev) for a in arrays)
    return x, y, w1.requires_grad_(), w2.requires_grad_()


def _seed_step(x, y, w1, w2, lr=1e-3):
    y_pred = x.mm(w1).clamp(min=0).mm(w2)
    loss = (y_pred - y).pow(2).sum()
    value = loss.item()
    if w1.grad is not None:
        w1.grad.zero_()
        w2.grad.zero_()
    loss.backward()
    with nb.no_grad():
        w1 -= lr * w1.grad
        w2 -= lr * w2.grad
    return value


def test_a_few_training_steps_give_the_same_parameters_on_both_devices():
    runs = {}
    for dev in ("cpu", CUDA):
        tensors = _seed_weights(dev, nb.float64)
        losses = [_seed_step(*tensors) for _ in range(4)]
        runs[dev] = losses, [host(t) for t in tensors[2:]]
    assert runs["cpu"][0][-1] < runs["cpu"][0][0]
    np.testing.assert_allclose(runs[CUDA][0], runs["cpu"][0], rtol=1e-10)
    for a, b in zip(runs[CUDA][1], runs["cpu"][1]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


# ---- data stays on the device ---------------------------------------------------------------

class _TransferCounter:
    """Counts every copy between host and device: numbanet's own upload/download, Numba's
    driver copies on a GPU, and NumPy arrays handed to a kernel (copied in and out) on the
    simulator."""

    def __init__(self, monkeypatch):
        from numbanet.backend import cuda_memory  # every host/device copy of the backend
        self.copies = []
        for name in ("_upload", "_download"):
            original = getattr(cuda_memory, name)
            monkeypatch.setattr(cuda_memory, name, self._counting(name, original))
        if SIMULATED:
            from numba.cuda.simulator import kernel
            original_call = kernel.FakeCUDAKernel.__call__

            def call(fake, *args):
                for a in args:
                    if isinstance(a, np.ndarray) and a.ndim > 0:
                        self.copies.append(("host array to a kernel", a.shape))
                return original_call(fake, *args)
            monkeypatch.setattr(kernel.FakeCUDAKernel, "__call__", call)
        else:
            from numba.cuda.cudadrv import driver
            for name in ("host_to_device", "device_to_host"):
                monkeypatch.setattr(driver, name, self._counting(name, getattr(driver, name)))

    def _counting(self, name, fn):
        def counted(*args, **kwargs):
            self.copies.append((name, None))
            return fn(*args, **kwargs)
        return counted


def test_a_training_step_on_cuda_copies_nothing_but_the_loss_item(monkeypatch):
    tensors = _seed_weights(CUDA)
    _seed_step(*tensors)  # the first step compiles and creates the .grad tensors
    counter = _TransferCounter(monkeypatch)
    _seed_step(*tensors)
    downloads = [c for c in counter.copies if c[0] in ("_download", "device_to_host")]
    others = [c for c in counter.copies if c not in downloads]
    assert others == [], f"host/device copies during a step: {others}"
    # loss.item() reads one value back: numbanet's download, and on a GPU the driver's copy
    assert [c[0] for c in downloads if c[0] == "_download"] == ["_download"]


def test_the_counter_does_see_a_copy(monkeypatch):
    counter = _TransferCounter(monkeypatch)
    nb.ones(3).to("cuda").cpu()
    assert len(counter.copies) >= 2


# ---- interop --------------------------------------------------------------------------------

def test_cuda_tensors_have_no_cuda_array_interface_on_cpu_tensors():
    assert not hasattr(nb.ones(2), "__cuda_array_interface__")


@real_gpu_only
def test_cuda_array_interface_describes_the_device_memory():
    t = nb.arange(12, device=CUDA, dtype=nb.float32).reshape(3, 4).t()
    iface = t.__cuda_array_interface__
    assert iface["shape"] == (4, 3) and iface["typestr"] == "<f4"
    assert iface["strides"] == (4, 16)
    from numba import cuda
    np.testing.assert_array_equal(cuda.as_cuda_array(t).copy_to_host(), host(t))


@real_gpu_only
def test_dlpack_round_trips_with_pytorch_and_cupy_on_the_gpu():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("this PyTorch has no CUDA")
    t = nb.arange(6, device=CUDA, dtype=nb.float32).reshape(2, 3)
    pt = torch.from_dlpack(t)
    assert pt.is_cuda and pt.data_ptr() == t.__cuda_array_interface__["data"][0]
    pt[0, 0] = 42
    assert host(t)[0, 0] == 42
    back = nb.from_dlpack(torch.arange(6.0, device="cuda").reshape(3, 2).t())
    assert back.device.type == "cuda" and back.stride() == (1, 2)
    np.testing.assert_array_equal(host(back), np.arange(6.0).reshape(3, 2).T)
    cupy = pytest.importorskip("cupy")
    c = cupy.from_dlpack(t)
    assert float(c[0, 0]) == 42
    np.testing.assert_array_equal(host(nb.from_dlpack(cupy.arange(3.0))), [0.0, 1.0, 2.0])


def test_dlpack_on_the_simulator_says_there_is_no_device_memory():
    if not SIMULATED:
        pytest.skip("only the simulator refuses")
    with pytest.raises(BufferError, match="simulator"):
        nb.ones(2, device=CUDA).__dlpack__()


# ---- the kernels compile for a real GPU --------------------------------------------------------

def _nvvm_available() -> bool:
    """NVVM and NVRTC from the ``nvidia-nvvm`` / ``nvidia-cuda-nvrtc`` wheels (or a GPU
    machine's CUDA toolkit)."""
    import glob
    import importlib.util
    spec = importlib.util.find_spec("nvidia")
    roots = list(spec.submodule_search_locations) if spec else []
    found = [glob.glob(os.path.join(r, "**", pattern), recursive=True)
             for r in roots for pattern in ("libnvvm.so*", "libnvrtc.so*")]
    return sum(bool(f) for f in found) >= 2


@pytest.mark.skipif(not _nvvm_available() and SIMULATED,
                    reason="needs NVVM to compile PTX without a GPU (pip install "
                           "'numbanet[cuda-check]')")
def test_every_cuda_kernel_compiles_to_ptx_for_hopper():
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    root = os.path.dirname(os.path.dirname(os.path.abspath(nb.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    script = os.path.join(os.path.dirname(__file__), "backend", "ptx_check.py")
    done = subprocess.run([sys.executable, script], env=env, capture_output=True, text=True,
                          timeout=600)
    failures = [line for line in done.stdout.splitlines() if line.startswith("FAIL")]
    assert done.returncode == 0 and not failures, done.stdout[-3000:] + done.stderr[-3000:]

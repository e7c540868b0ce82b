"""PyTorch names that programs use around the ops: ``Size``, tensor attributes, ``new_*``,
the legacy typed constructors and ``.type()``, the default dtype, threads,
``accelerator`` and ``backends``, ``linspace``/``logspace``, ``tril``/``triu``/``diag``;
against PyTorch where it is installed."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

import numbanet as nb

torch = pytest.importorskip("torch")


def _same(ours, theirs, **tol):
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    np.testing.assert_allclose(ours.detach().cpu().numpy(), theirs.detach().numpy(), **tol)


def test_size_is_a_tuple_with_torch_s_behaviour():
    s = nb.zeros(2, 3, 4).shape
    t = torch.zeros(2, 3, 4).shape
    assert repr(s) == repr(t).replace("torch", "numbanet")
    assert s == (2, 3, 4) and isinstance(s, tuple) and isinstance(s, nb.Size)
    assert s.numel() == t.numel() == 24
    assert isinstance(s[1:], nb.Size) and s[1:] == (3, 4) and s[0] == 2
    assert isinstance(s + (5,), nb.Size)
    assert nb.zeros(2, 3).size() == (2, 3) and nb.zeros(2, 3).size(-1) == 3
    assert pickle.loads(pickle.dumps(s)) == s
    assert repr(nb.tensor(1.0).shape) == "numbanet.Size([])"


def test_tensor_memory_attributes_match_torch():
    a = nb.arange(24.0).reshape(4, 6)
    b = torch.arange(24.0).reshape(4, 6)
    for f in (lambda x: x.element_size(), lambda x: x.nbytes, lambda x: x.itemsize,
              lambda x: x[1:, 2:].storage_offset(), lambda x: x.t().storage_offset(),
              lambda x: x[2].storage_offset(), lambda x: x.stride()):
        assert f(a) == f(b)
    assert a.data_ptr() == a[0].data_ptr() != a[1].data_ptr()
    assert a[1].data_ptr() - a.data_ptr() == 6 * 4


def test_new_constructors_take_the_tensor_s_dtype_and_device():
    for lib in (nb, torch):
        x = lib.ones(2, dtype=lib.float64)
        assert x.new_zeros(2, 3).dtype == lib.float64 and x.new_zeros((2, 3)).shape == (2, 3)
        assert x.new_ones(3).tolist() == [1.0, 1.0, 1.0]
        assert x.new_full((2,), 7).tolist() == [7.0, 7.0]
        assert x.new_tensor([1, 2]).dtype == lib.float64
        assert x.new_empty(4).shape == (4,)
        assert x.new_zeros(2, dtype=lib.int64).dtype == lib.int64
        assert x.new_ones(2, requires_grad=True).requires_grad
    y = nb.ones(2, device="cuda")
    assert y.new_zeros(3).device == y.device


def test_legacy_typed_constructors_and_type():
    for lib in (nb, torch):
        assert lib.FloatTensor([1, 2]).dtype == lib.float32
        assert lib.LongTensor([1, 2]).tolist() == [1, 2]
        assert lib.DoubleTensor(2, 3).shape == (2, 3)
        assert lib.BoolTensor([1, 0]).tolist() == [True, False]
        assert isinstance(lib.ones(2), lib.FloatTensor)
        assert not isinstance(lib.ones(2), lib.LongTensor)
        x = lib.ones(2)
        assert x.type().split(".", 1)[1] == "FloatTensor"
        assert x.type(lib.DoubleTensor).dtype == lib.float64
        assert x.type(lib.int64).dtype == lib.int64
        assert x.long().type().endswith("LongTensor")
    assert nb.ones(2).type("numbanet.DoubleTensor").dtype == nb.float64
    assert nb.ones(2).type("torch.LongTensor").dtype == nb.int64


def test_default_dtype_changes_new_tensors_and_number_promotion():
    assert nb.get_default_dtype() is nb.float32
    try:
        for lib in (nb, torch):
            lib.set_default_dtype(lib.float64)
            assert lib.tensor([1.5]).dtype == lib.float64
            assert lib.zeros(2).dtype == lib.float64
            assert (lib.tensor([1, 2]) * 2.5).dtype == lib.float64
            assert lib.get_default_dtype() == lib.float64
            lib.set_default_dtype(lib.float32)
    finally:
        nb.set_default_dtype(nb.float32)
        torch.set_default_dtype(torch.float32)
    with pytest.raises(TypeError, match="floating-point"):
        nb.set_default_dtype(nb.int64)


def test_threads_accelerator_and_backends_switches():
    n = nb.get_num_threads()
    nb.set_num_threads(1)
    assert nb.get_num_threads() == 1
    nb.set_num_threads(n)
    with pytest.raises(RuntimeError):
        nb.set_num_threads(0)
    assert nb.accelerator.is_available() == nb.cuda.is_available()
    expected = nb.device("cuda") if nb.cuda.is_available() else None
    assert nb.accelerator.current_accelerator() == expected
    assert nb.backends.mps.is_available() is False
    import numbanet.backends.cudnn as cudnn
    cudnn.benchmark = True
    assert nb.backends.cudnn.benchmark is True
    cudnn.benchmark = False
    nb.backends.cuda.matmul.allow_tf32 = True


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_linspace_and_logspace_match_torch(dtype):
    for args in [(0, 1, 5), (-3.5, 7.25, 11), (2, -2, 4), (1, 1, 1), (0, 5, 0)]:
        _same(nb.linspace(*args, dtype=getattr(nb, dtype)),
              torch.linspace(*args, dtype=getattr(torch, dtype)), rtol=1e-6, atol=1e-6)
    if dtype != "int64":
        _same(nb.logspace(0, 3, 7, dtype=getattr(nb, dtype)),
              torch.logspace(0, 3, 7, dtype=getattr(torch, dtype)), rtol=1e-6)
        _same(nb.logspace(1, 2, 3, base=2, dtype=getattr(nb, dtype)),
              torch.logspace(1, 2, 3, base=2, dtype=getattr(torch, dtype)), rtol=1e-6)
    with pytest.raises(RuntimeError, match="non-negative"):
        nb.linspace(0, 1, -1)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
@pytest.mark.parametrize("k", [-2, -1, 0, 1, 3])
def test_tril_triu_diag_match_torch_with_gradients(device, k):
    a = np.random.default_rng(k + 5).standard_normal((2, 3, 4))
    x, tx = nb.tensor(a, device=device), torch.tensor(a)
    _same(nb.tril(x, k), torch.tril(tx, k))
    _same(x.triu(k), tx.triu(k))
    _same(nb.diag(x[0], k), torch.diag(tx[0], k))
    _same(nb.diag(x[0, 0], k), torch.diag(tx[0, 0], k))
    _same(nb.tril(nb.tensor([[1, 2], [3, 4]], device=device), k),
          torch.tril(torch.tensor([[1, 2], [3, 4]]), k))
    for f in (lambda t: nb.tril(t, k), lambda t: nb.triu(t, k),
              lambda t: nb.diag(t[0], k), lambda t: nb.diag(t[0, 0], k)):
        assert nb.autograd.gradcheck(f, (nb.tensor(a, device=device, requires_grad=True),))


def test_tril_and_diag_errors_as_torch():
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        nb.tril(nb.ones(3))
    with pytest.raises(RuntimeError, match="1D or 2D"):
        nb.diag(nb.ones(2, 2, 2))


def test_tensors_pickle_in_process_and_deep_copy_as_torch():
    import copy
    for device in ("cpu", "cuda"):
        x = nb.tensor([1.5, -2.0], dtype=nb.float64, device=device, requires_grad=True)
        (x * 3).sum().backward()
        y = pickle.loads(pickle.dumps(x))
        assert y.tolist() == x.tolist() and y.dtype == x.dtype and y.device == x.device
        assert y.requires_grad and y.grad is None
        z = copy.deepcopy(x)
        assert z.tolist() == x.tolist() and z.grad.tolist() == [3.0, 3.0]
        z.detach().zero_()
        assert x.tolist() == [1.5, -2.0]  # new memory
        with pytest.raises(RuntimeError, match="graph leaves"):
            copy.deepcopy(x * 2)
    both = [nb.ones(2)] * 2
    copied = copy.deepcopy(both)
    assert copied[0] is copied[1]

"""The fused ops of ``numbanet.autograd.ops.fused``: Adam's in-place step, Keras's batch
normalisation with moving statistics, and the flat buffers of ``numbanet.distributed``."""
from __future__ import annotations

import numpy as np
import pytest

import numbanet as nb
from numbanet.autograd.ops import fused
from numbanet.autograd.ops.normalization import batch_norm_train


def _adam_reference(p, g, m, v, step, lr, beta1, beta2, eps, weight_decay, keras):
    """The kernel's formula written with NumPy, in its order and its dtype's arithmetic."""
    real = p.dtype.type
    c1, c2 = 1 - beta1 ** step, (1 - beta2 ** step) ** 0.5
    e = eps / c2 if keras else eps
    step_size, bc2, b2, e, wd, omb1, omb2 = (real(lr / c1), real(c2), real(beta2), real(e),
                                             real(weight_decay), real(1.0 - beta1),
                                             real(1.0 - beta2))
    p, g, m, v = (a.copy() for a in (p, g, m, v))
    if wd != 0:
        g = g + wd * p
    m = m + (g - m) * omb1
    v = v * b2 + omb2 * g * g
    p = p - step_size * (m / (np.sqrt(v) / bc2 + e))
    return p, m, v


def _state(dtype=nb.float64, shape=(3, 4), seed=0):
    nb.manual_seed(seed)
    p = nb.randn(*shape, dtype=dtype)
    g = nb.randn(*shape, dtype=dtype)
    m = nb.randn(*shape, dtype=dtype) * 0.1
    v = nb.rand(*shape, dtype=dtype) * 0.1
    return p, g, m, v


@pytest.mark.parametrize("dtype", [nb.float32, nb.float64])
@pytest.mark.parametrize("placement", ["torch", "keras"])
@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_adam_step_is_bit_identical_to_the_unfused_formula(dtype, placement, weight_decay):
    p, g, m, v = _state(dtype)
    arrays = [t.numpy().copy() for t in (p, g, m, v)]
    for step in (1, 2, 7):
        left = fused.adam_([p], [g], [m], [v], step, lr=0.01, beta1=0.9, beta2=0.999,
                           eps=1e-7, weight_decay=weight_decay, eps_placement=placement)
        assert left == []
        arrays[0], arrays[2], arrays[3] = _adam_reference(
            arrays[0], arrays[1], arrays[2], arrays[3], step, 0.01, 0.9, 0.999, 1e-7,
            weight_decay, placement == "keras")
        for t, a in zip((p, g, m, v), arrays):
            np.testing.assert_array_equal(t.numpy(), a)


@pytest.mark.cuda
@pytest.mark.parametrize("placement", ["torch", "keras"])
def test_adam_step_on_cuda_matches_the_formula(placement):
    p, g, m, v = _state()
    expected = _adam_reference(*(t.numpy() for t in (p, g, m, v)), 3, 0.01, 0.9, 0.999, 1e-7,
                               0.05, placement == "keras")
    on_gpu = [t.cuda() for t in (p, g, m, v)]
    versions = [t._vc[0] for t in on_gpu]
    assert fused.adam_(*([t] for t in on_gpu), 3, lr=0.01, beta1=0.9, beta2=0.999, eps=1e-7,
                       weight_decay=0.05, eps_placement=placement) == []
    for t, e in zip((on_gpu[0], on_gpu[2], on_gpu[3]), expected):
        np.testing.assert_allclose(t.cpu().numpy(), e, rtol=1e-14, atol=0)
    assert [t._vc[0] - b for t, b in zip(on_gpu, versions)] == [1, 0, 1, 1]
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        fused.adam_([on_gpu[0]], [g], [on_gpu[2]], [on_gpu[3]], 1, lr=0.01, beta1=0.9,
                    beta2=0.999, eps=1e-7)


def test_adam_step_takes_one_step_per_parameter():
    a, b = _state(seed=1), _state(shape=(5,), seed=2)
    expected = [_adam_reference(*(t.numpy() for t in s), step, 0.1, 0.8, 0.9, 1e-8, 0.0, False)
                for s, step in ((a, 3), (b, 1))]
    fused.adam_([a[0], b[0]], [a[1], b[1]], [a[2], b[2]], [a[3], b[3]], [3, 1], lr=0.1,
                beta1=0.8, beta2=0.9, eps=1e-8)
    for s, (p, m, v) in zip((a, b), expected):
        np.testing.assert_array_equal(s[0].numpy(), p)
        np.testing.assert_array_equal(s[2].numpy(), m)
        np.testing.assert_array_equal(s[3].numpy(), v)


def test_adam_step_bumps_the_version_of_what_it_writes():
    p, g, m, v = _state()
    p.requires_grad_(True)
    y = (p * p).sum()  # saves p for backward
    before = [t._vc[0] for t in (p, g, m, v)]
    with nb.no_grad():
        fused.adam_([p], [g], [m], [v], 1, lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8)
    assert [t._vc[0] for t in (p, g, m, v)] == [before[0] + 1, before[1], before[2] + 1,
                                                  before[3] + 1]
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def _refused(params, grads, ms, vs, error, match):
    """The op raises ``error`` and changes nothing; in 'skip' mode it names the indices."""
    before = [[t.numpy().copy() for t in ts] for ts in (params, grads, ms, vs)]
    with pytest.raises(error, match=match):
        fused.adam_(params, grads, ms, vs, 1, lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8)
    for ts, arrays in zip((params, grads, ms, vs), before):
        for t, a in zip(ts, arrays):
            np.testing.assert_array_equal(t.numpy(), a)


def test_adam_step_refuses_a_broadcast_view_before_any_kernel_runs():
    good, (p, g, m, v) = _state(seed=1), _state()
    wide = nb.randn(1, 4, dtype=nb.float64).expand(3, 4)
    _refused([good[0], wide], [good[1], g], [good[2], m], [good[3], v], ValueError,
             "parameter 1: the parameter of shape \\(3, 4\\) is not contiguous")
    _refused([good[0], p], [good[1], g], [good[2], wide], [good[3], v], ValueError,
             "exp_avg of shape")


def test_adam_step_refuses_read_only_memory():
    p, g, m, v = _state()
    frozen = np.zeros((3, 4))
    frozen.flags.writeable = False
    _refused([p], [g], [nb.from_numpy(frozen)], [v], RuntimeError, "read-only")
    # a read-only gradient is fine: the op only reads it
    read_only_grad = g.numpy().copy()
    read_only_grad.flags.writeable = False
    assert fused.adam_([p], [nb.from_numpy(read_only_grad)], [m], [v], 1, lr=0.1,
                       beta1=0.9, beta2=0.999, eps=1e-8) == []


@pytest.mark.parametrize("case", ["same tensor", "view", "foreign memory"])
def test_adam_step_refuses_arguments_that_share_memory(case):
    p, g, m, v = _state()
    if case == "same tensor":
        m = v
    elif case == "view":
        g = p.view(3, 4)
    else:
        base = np.zeros((2, 3, 4))
        m, v = nb.from_numpy(base[0]), nb.from_numpy(base[:1].reshape(3, 4))
    _refused([p], [g], [m], [v], RuntimeError, "must not share memory")


def test_adam_step_refuses_mixed_dtypes_shapes_and_non_tensors():
    p, g, m, v = _state()
    _refused([p], [g.float()], [m], [v], ValueError, "one dtype and shape")
    _refused([p], [g], [m], [nb.zeros(4, 3, dtype=nb.float64)], ValueError,
             "one dtype and shape")
    i = nb.zeros(3, 4, dtype=nb.int64)
    _refused([i], [i.clone()], [i.clone()], [i.clone()], TypeError, "floating-point")
    with pytest.raises(TypeError, match="expected Tensors, got a ndarray"):
        fused.adam_([p], [g.numpy()], [m], [v], 1, lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8)
    with pytest.raises(ValueError, match="one gradient, exp_avg and exp_avg_sq per"):
        fused.adam_([p], [], [m], [v], 1, lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8)
    with pytest.raises(ValueError, match="eps_placement"):
        fused.adam_([p], [g], [m], [v], 1, lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8,
                    eps_placement="tf")
    with pytest.raises(ValueError, match="2 steps for 1 parameters"):
        fused.adam_([p], [g], [m], [v], [1, 2], lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8)


def test_adam_step_refuses_a_parameter_that_requires_grad_in_grad_mode():
    p, g, m, v = _state()
    p.requires_grad_(True)
    with pytest.raises(RuntimeError, match="requires grad and grad mode is on"):
        fused.adam_([p], [g], [m], [v], 1, lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8)
    with nb.no_grad():
        assert fused.adam_([p], [g], [m], [v], 1, lr=0.1, beta1=0.9, beta2=0.999,
                           eps=1e-8) == []


def _cases():
    """(name, p, g, m, v) for every check of the fused step, and a good case."""
    p, g, m, v = _state()
    frozen = np.zeros((3, 4))
    frozen.flags.writeable = False
    base = np.zeros((2, 3, 4))
    leaf = p.clone().requires_grad_(True)
    return [("good", p, g, m, v), ("broadcast", p, nb.randn(1, 4).double().expand(3, 4), m, v),
            ("strided", p, g, m.t().contiguous().t(), v),
            ("read-only", p, g, m, nb.from_numpy(frozen)), ("shared", p, g, m, m),
            ("view", p, p.view(3, 4), m, v),
            ("foreign overlap", p, g, nb.from_numpy(base[0]),
             nb.from_numpy(base[:1].reshape(3, 4))),
            ("dtype", p, g.float(), m, v), ("shape", p, g.reshape(4, 3), m, v),
            ("int", *(nb.zeros(2, dtype=nb.int64) for _ in range(4))),
            ("not a tensor", p, g.numpy(), m, v), ("leaf in grad mode", leaf, g, m, v)]


@pytest.mark.parametrize("index", range(len(_cases())))
def test_the_quick_check_agrees_with_the_detailed_one(index):
    name, p, g, m, v = _cases()[index]
    quick = fused._fusable(p, g, m, v, True)
    assert quick == (fused._adam_problem(p, g, m, v, True) is None)
    assert quick == (name == "good")


def test_adam_step_skips_what_it_cannot_take_when_asked():
    a, b, c = _state(seed=1), _state(seed=2), _state(seed=3)
    wide = nb.randn(1, 4, dtype=nb.float64).expand(3, 4)
    before = b[0].numpy().copy()
    left = fused.adam_([a[0], b[0], c[0]], [a[1], wide, c[1]], [a[2], b[2], c[2]],
                       [a[3], b[3], c[3]], 1, lr=0.1, beta1=0.9, beta2=0.999, eps=1e-8,
                       unfusable="skip")
    assert left == [1]
    np.testing.assert_array_equal(b[0].numpy(), before)
    assert not np.array_equal(a[0].numpy(), _state(seed=1)[0].numpy())


def test_the_optimizers_take_the_fused_op_for_parameters():
    """nn.Parameter (a Tensor subclass) and Keras variables go through the kernel."""
    calls = []
    real = fused.adam_

    def spy(*args, **kwargs):
        left = real(*args, **kwargs)
        calls.append(left)
        return left
    import numbanet.keras.optimizers as keras_optimizers
    import numbanet.optim.adam as adam_module
    mp = pytest.MonkeyPatch()
    mp.setattr(adam_module, "adam_", spy)
    mp.setattr(keras_optimizers, "adam_", spy)
    try:
        w = nb.nn.Parameter(nb.randn(3, 2))
        w.grad = nb.randn(3, 2)
        nb.optim.Adam([w]).step()
        model = nb.keras.Sequential([nb.keras.Input(shape=(2,)), nb.keras.layers.Dense(3)])
        opt = nb.keras.optimizers.Adam()
        opt.apply_gradients([(nb.ones(*tuple(v.shape)), v) for v in model.trainable_weights])
    finally:
        mp.undo()
    assert calls == [[], []]


# ---- rows of data ---------------------------------------------------------------------------

def test_row_slice_is_a_view_of_the_rows_outside_autograd():
    x = nb.arange(12.0).reshape(4, 3).requires_grad_(True)
    r = fused.row_slice(x, 1, 3)
    np.testing.assert_array_equal(r.detach().numpy(), x.detach().numpy()[1:3])
    assert r.grad_fn is None and not r.requires_grad
    with nb.no_grad():
        x[1, 0] = 100.0
    assert r[0, 0].item() == 100.0
    assert fused.row_slice(x, 4, 4).shape == (0, 3)
    with pytest.raises(IndexError, match="rows 2:5 are outside the 4 rows"):
        fused.row_slice(x, 2, 5)


def test_take_rows_is_indexing_by_an_int64_tensor():
    x = nb.randn(5, 2, 3)
    order = nb.tensor([4, 0, 2, 2], dtype=nb.int64)
    np.testing.assert_array_equal(fused.take_rows(x, order).numpy(), x[order].numpy())
    w = nb.randn(5, 3).requires_grad_(True)  # rows of data: outside autograd
    rows = fused.take_rows(w, order)
    assert rows.grad_fn is None and not rows.requires_grad
    np.testing.assert_array_equal(rows.numpy(), nb.index_select(w, 0, order).detach().numpy())
    strided = nb.arange(6, dtype=nb.int64)[::2]  # rows 0, 2, 4 through a strided index
    np.testing.assert_array_equal(fused.take_rows(x, strided).numpy(), x.numpy()[[0, 2, 4]])
    with pytest.raises(IndexError, match="out of bounds"):
        fused.take_rows(x, nb.tensor([5]))
    with pytest.raises(ValueError, match="1-D int64 index"):
        fused.take_rows(x, nb.tensor([[0]]))
    with pytest.raises(ValueError, match="1-D int64 index"):
        fused.take_rows(x, nb.tensor([0.0]))


# ---- Keras's batch normalisation: batch_norm_train with Keras's momentum (1 - m) and the
# biased variance ----------------------------------------------------------------------------

def _keras_batch_norm(x, gamma, beta, mean, var, momentum, eps):
    return batch_norm_train(x, gamma, beta, mean, var, 1.0 - momentum, eps, unbiased=False)


def test_batch_norm_training_normalises_and_moves_the_statistics_keras_way():
    nb.manual_seed(0)
    x = nb.randn(6, 3, dtype=nb.float64).requires_grad_(True)
    gamma = nb.rand(3, dtype=nb.float64).requires_grad_(True)
    beta = nb.randn(3, dtype=nb.float64).requires_grad_(True)
    mean, var = nb.zeros(3, dtype=nb.float64), nb.ones(3, dtype=nb.float64)
    y = _keras_batch_norm(x, gamma, beta, mean, var, 0.9, 1e-3)
    a = x.detach().numpy()
    mu, sigma2 = a.mean(0), a.var(0)
    np.testing.assert_allclose(y.detach().numpy(), gamma.detach().numpy() * (a - mu)
                               / np.sqrt(sigma2 + 1e-3) + beta.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(mean.numpy(), 0.1 * mu, rtol=1e-12)
    np.testing.assert_allclose(var.numpy(), 0.9 + 0.1 * sigma2, rtol=1e-12)
    assert nb.autograd.gradcheck(
        lambda x, g, b: _keras_batch_norm(x, g, b, mean.clone(), var.clone(), 0.9, 1e-3),
        (x, gamma, beta))


@pytest.mark.parametrize("momentum", [0.99, 0.3])
def test_batch_norm_training_of_a_strided_input_moves_the_biased_statistics(momentum):
    nb.manual_seed(1)
    x = nb.randn(3, 4, 5, dtype=nb.float64).permute(2, 1, 0)  # (5, 4, 3), not contiguous
    assert not x.is_contiguous()
    gamma, beta = nb.rand(4, dtype=nb.float64), nb.randn(4, dtype=nb.float64)
    moving = [nb.randn(4, dtype=nb.float64), nb.rand(4, dtype=nb.float64) + 0.5]
    old = [t.numpy().copy() for t in moving]
    y = _keras_batch_norm(x, gamma, beta, *moving, momentum, 1e-3)
    a = x.numpy()
    mu, sigma2 = a.mean((0, 2)), a.var((0, 2))
    np.testing.assert_allclose(y.numpy(), gamma.numpy()[:, None] * (a - mu[:, None])
                               / np.sqrt(sigma2[:, None] + 1e-3) + beta.numpy()[:, None],
                               rtol=1e-12)
    for t, before, batch in zip(moving, old, (mu, sigma2)):
        np.testing.assert_allclose(t.numpy(), before * momentum + batch * (1 - momentum),
                                   rtol=1e-12)


# ---- flat buffers and host memory -------------------------------------------------------------

def test_flatten_and_unflatten_dense_tensors_round_trip():
    a, b = nb.randn(2, 3), nb.randn(4).reshape(2, 2).t()  # a strided one too
    flat = fused.flatten_dense_tensors([a, None, b], [(2, 3), (3,), (2, 2)], weight=2.0,
                                       extra=np.array([7.0, 8.0], dtype=np.float32))
    assert flat.shape == (15,) and flat.is_contiguous() and flat.dtype is nb.float32
    np.testing.assert_array_equal(flat.numpy(), np.concatenate(
        [2 * a.numpy().ravel(), np.zeros(3), 2 * b.numpy().ravel(), [7.0, 8.0]]))
    a2, z, b2 = fused.unflatten_dense_tensors(flat, [(2, 3), (3,), (2, 2)])
    np.testing.assert_array_equal(a2.numpy(), 2 * a.numpy())
    np.testing.assert_array_equal(b2.numpy(), 2 * b.numpy())
    assert np.shares_memory(a2.numpy(), flat.numpy()) and z.shape == (3,)
    version = flat._vc[0]
    b2.mul_(0.5)  # a view: one version counter with flat
    assert flat._vc[0] == version + 1
    np.testing.assert_array_equal(fused.flatten_dense_tensors([a]).numpy(), a.numpy().ravel())
    with pytest.raises(ValueError, match="give device and dtype"):
        fused.flatten_dense_tensors([None], [(2,)])


def test_host_buffer_shares_a_contiguous_cpu_tensor_and_copies_a_strided_one():
    x = nb.randn(3, 4)
    assert np.shares_memory(fused.host_buffer(x), x.numpy())
    strided = fused.host_buffer(x.t())
    assert strided.flags.c_contiguous and not np.shares_memory(strided, x.numpy())
    np.testing.assert_array_equal(strided, x.numpy().T)
    assert fused.device_buffer(x) is x.numpy()
    with pytest.raises(ValueError, match="not contiguous"):
        fused.device_buffer(x.t())


def test_from_host_takes_over_the_array_without_a_copy():
    a = np.arange(6, dtype=np.int64)
    t = fused.from_host(a)
    assert t.dtype is nb.int64 and np.shares_memory(t.numpy(), a)
    assert fused.from_host(np.zeros(2, dtype=bool)).dtype is nb.bool
    with pytest.raises(TypeError, match="uint8 array is not of a numbanet dtype"):
        fused.from_host(np.zeros(2, dtype=np.uint8))


@pytest.mark.cuda
def test_flat_buffers_on_cuda_match_the_cpu():
    a, b = nb.randn(2, 3), nb.randn(5)
    flat = fused.flatten_dense_tensors([a.cuda(), None, b.cuda()], [(2, 3), (1,), (5,)],
                                       weight=0.5, extra=np.array([1.0], dtype=np.float32))
    expected = fused.flatten_dense_tensors([a, None, b], [(2, 3), (1,), (5,)], weight=0.5,
                                           extra=np.array([1.0], dtype=np.float32))
    host = fused.host_buffer(flat)
    np.testing.assert_array_equal(host, expected.numpy())
    up = fused.from_host(host, flat.device)
    pieces = fused.unflatten_dense_tensors(up, [(2, 3), (1,), (5,)])
    np.testing.assert_array_equal(pieces[2].cpu().numpy(), 0.5 * b.numpy())

"""Indexing against NumPy: ``x[key]`` and ``x[key] = value`` with ints (negative too), slices
with steps, None, Ellipsis, int tensors (repeats, negatives, several broadcasting together,
adjacent or not) and bool masks, alone and mixed; and the errors of bad keys.

PyTorch differs from NumPy in one rule: an int always selects first, even beside index
tensors, so ``x[0, :, idx]`` of a (2, 3, 4) tensor is (3, len(idx)) (NumPy: (len(idx), 3)).
``torch_rule`` applies a key that way with NumPy."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from strategies import laid_out, shapes, torch_index, torch_rule, values

import numbanet as nb

F64, I64, BOOL = nb.float64, nb.int64, nb.bool
WRITABLE_LAYOUTS = ("contiguous", "transposed", "strided")


# ---- keys ---------------------------------------------------------------------------------

@st.composite
def index_keys(draw, shape, advanced=True):
    """A NumPy index for an array of ``shape``: a tuple (or a bare entry) of ints, slices
    (positive steps, bounds past the ends), None, at most one Ellipsis, int arrays that
    broadcast together, or one bool mask over one or more consecutive dims."""
    ndim = len(shape)
    k = draw(st.integers(0, ndim))
    split = draw(st.integers(0, k)) if draw(st.booleans()) else None  # where the Ellipsis goes
    dims = list(range(k)) if split is None else \
        list(range(split)) + list(range(ndim - (k - split), ndim))
    batch = draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=3))
    entries = []  # (position in dims, entry)
    arrays = masks = 0
    i = 0
    while i < len(dims):
        d, size = dims[i], shape[dims[i]]
        kinds = ["int", "slice"]
        if advanced and not masks:
            kinds.append("array")
            if not arrays:
                kinds.append("mask")
        kind = draw(st.sampled_from(kinds))
        if kind == "mask":
            span = 1
            while (i + span < len(dims) and dims[i + span] == d + span and
                   (split is None or (i < split) == (i + span < split))):
                span += 1
            span = draw(st.integers(1, span))
            entries.append((i, draw(hnp.arrays(np.bool_, shape[d:d + span]))))
            masks += 1
            i += span
            continue
        if kind == "int":
            entries.append((i, draw(st.integers(-size, size - 1))))
        elif kind == "slice":
            bound = st.one_of(st.none(), st.integers(-size - 2, size + 2))
            entries.append((i, slice(draw(bound), draw(bound),
                                     draw(st.one_of(st.none(), st.integers(1, 3))))))
        else:
            trim = draw(st.integers(0, len(batch)))
            idx_shape = tuple(1 if draw(st.booleans()) else b for b in batch[trim:])
            entries.append((i, draw(hnp.arrays(np.int64, idx_shape,
                                                elements=st.integers(-size, size - 1)))))
            arrays += 1
        i += 1
    key = [e for _, e in entries]
    if split is not None:
        at = sum(1 for pos, _ in entries if pos < split)
        key.insert(at, Ellipsis)
    for _ in range(draw(st.integers(0, 2))):
        key.insert(draw(st.integers(0, len(key))), None)
    if len(key) == 1 and draw(st.booleans()):
        return key[0]
    return tuple(key)


def to_tensor_key(key, as_list=False):
    """The numbanet form of a NumPy key: arrays become int64 or bool tensors (or lists)."""
    def one(k):
        if isinstance(k, np.ndarray):
            if as_list and k.ndim == 1:
                return k.tolist()
            return nb.from_numpy(np.array(k))
        return k
    return tuple(one(k) for k in key) if isinstance(key, tuple) else one(key)


def check(t, expected):
    assert isinstance(t, nb.Tensor)
    got = np.asarray(t.numpy())
    expected = np.asarray(expected)
    assert got.shape == expected.shape, f"shape {got.shape}, expected {expected.shape}"
    assert t.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


def _has_advanced(key):
    return any(isinstance(k, np.ndarray) for k in (key if isinstance(key, tuple) else (key,)))


# ---- getitem ------------------------------------------------------------------------------

@given(data=st.data())
def test_getitem_matches_numpy(data):
    shape = data.draw(shapes(min_dims=1, max_dims=4))
    ref, t = data.draw(laid_out(data.draw(values(shape)), dtype=F64))
    key = data.draw(index_keys(ref.shape))
    check(t[to_tensor_key(key, as_list=data.draw(st.booleans()))], torch_index(ref, key))


@given(data=st.data())
def test_getitem_with_basic_keys_matches_numpy(data):
    shape = data.draw(shapes(min_dims=1, max_dims=4))
    ref, t = data.draw(laid_out(np.rint(data.draw(values(shape))), dtype=I64))
    key = data.draw(index_keys(ref.shape, advanced=False))
    check(t[key], ref.astype(np.int64)[key])


@given(data=st.data())
def test_getitem_of_bool_tensors(data):
    shape = data.draw(shapes(min_dims=1, max_dims=3))
    ref, t = data.draw(laid_out(data.draw(values(shape)) > 0, dtype=BOOL))
    key = data.draw(index_keys(ref.shape))
    check(t[to_tensor_key(key)], torch_index(ref, key))


def test_basic_indexing_returns_a_view_and_advanced_indexing_a_copy():
    base = nb.arange(12, dtype=F64).reshape(3, 4)
    view = base[1:, ::2]
    view.fill_(-1)
    assert (base.numpy() == -1).sum() == 4
    picked = base[nb.tensor([0, 0, 2])]
    picked.fill_(100)
    assert (base.numpy() == 100).sum() == 0
    masked = base[base > 5]
    masked.fill_(100)
    assert (base.numpy() == 100).sum() == 0


def test_int_tensor_indices_with_repeats_and_negatives():
    a = np.arange(20.0).reshape(4, 5)
    t = nb.tensor(a)
    idx = np.array([3, -1, 0, 0, -4])
    check(t[nb.tensor(idx)], a[idx])
    check(t[:, nb.tensor(idx)], a[:, idx])
    check(t[[0, 0, 1]], a[[0, 0, 1]])


def test_rows_picked_by_an_index_tensor_and_their_gradient():
    """``x[idx]`` with one 1-D int tensor, the minibatch case, which gathers with ``idx``
    itself as the index: repeats and negatives, the gradient, and an ``idx`` changed in
    place before backward refused as PyTorch refuses it."""
    a = np.arange(20.0).reshape(5, 4)
    idx = nb.tensor([4, -1, 0, 4])
    x = nb.tensor(a, requires_grad=True)
    picked = x[idx]
    check(picked.detach(), a[[4, -1, 0, 4]])
    picked.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy()[:, 0], [1.0, 0.0, 0.0, 0.0, 3.0])
    idx = nb.tensor([1, 2])
    picked = x[idx]
    idx += 1
    check(picked.detach(), a[[1, 2]])  # the values were gathered before the change
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        picked.sum().backward()


def test_rows_picked_by_an_index_tensor_are_index_selects_op_to_second_order():
    """``x[idx]`` is the op of ``index_select`` (one row gather, its gradient one scatter-add),
    with negatives counted from the end; gradient and gradient of the gradient match
    central differences."""
    rng = np.random.default_rng(3)
    x = nb.tensor(rng.normal(size=(5, 3)), dtype=nb.float64, requires_grad=True)
    idx = nb.tensor([4, -1, 0, 4, 2])
    picked, selected = x[idx], nb.index_select(x, 0, nb.tensor([4, 4, 0, 4, 2]))
    assert type(picked.grad_fn) is type(selected.grad_fn)
    check(picked.detach(), selected.detach().numpy())
    probe = nb.tensor(rng.normal(size=(5, 3)), dtype=nb.float64)
    assert nb.autograd.gradcheck(lambda t: t[idx] * probe, (x,))

    def first(t):
        with nb.enable_grad():
            t = t if t.requires_grad else t.detach().requires_grad_()
            g, = nb.autograd.grad((t[idx] ** 3 * probe).sum(), (t,), create_graph=True)
            return g
    assert nb.autograd.gradcheck(first, (x,))


def test_multi_dimensional_int_tensor_index():
    a = np.arange(24.0).reshape(4, 6)
    idx = np.array([[0, 3], [2, 2], [-1, 1]])
    check(nb.tensor(a)[nb.tensor(idx)], a[idx])
    check(nb.tensor(a)[:, nb.tensor(idx)], a[:, idx])


def test_several_index_tensors_broadcast_together():
    a = np.arange(60.0).reshape(3, 4, 5)
    rows = np.array([[0], [2]])
    cols = np.array([1, 3, -1])
    t = nb.tensor(a)
    check(t[nb.tensor(rows), nb.tensor(cols)], a[rows, cols])
    check(t[nb.tensor(rows), :, nb.tensor(cols)], a[rows, :, cols])
    check(t[:, nb.tensor(rows), nb.tensor(cols)], a[:, rows, cols])


@pytest.mark.parametrize(("key", "shape"), [
    ((slice(None), [0, 1], [1, 2]), (3, 2)),      # adjacent after a slice: stay in place
    (([0, 1], slice(None), [1, 2]), (2, 4)),      # separated by a slice: go first
    ((0, slice(None), [1, 2]), (4, 2)),           # an int selects first (NumPy: (2, 4))
    ((slice(None), 1, [0, 2]), (3, 2)),
    ((None, [0, 2], slice(1, 3), 1), (1, 2, 2)),
    ((Ellipsis, [0, 1], [1, 0]), (3, 2)),         # Ellipsis before adjacent arrays
    (([[0], [1]], Ellipsis, [1, 2]), (2, 2, 4)),  # Ellipsis between arrays
    ((slice(None), [0, 1], Ellipsis, [2, 3]), (3, 2)),  # an Ellipsis of no dims: adjacent
    ((None, slice(None), 0, Ellipsis, [1]), (1, 3, 1)),
    (([0, 1], 0, [1, 2]), (2,)),                  # an int between arrays leaves them adjacent
    (([0, 1], None, [1, 2]), (2, 1, 5)),          # ... but a None separates them
    ((1, [0, 1], Ellipsis), (2, 5)),
], ids=str)
def test_advanced_index_placement_follows_pytorch(key, shape):
    """The shapes are PyTorch's (2.x) for a (3, 4, 5) tensor."""
    a = np.arange(60.0).reshape(3, 4, 5)
    tkey = tuple(nb.tensor(k) if isinstance(k, list) else k for k in key)
    npkey = tuple(np.array(k) if isinstance(k, list) else k for k in key)
    assert torch_index(a, npkey).shape == shape
    check(nb.tensor(a)[tkey], torch_index(a, npkey))


def test_bool_masks_over_all_and_leading_dims():
    a = np.arange(24.0).reshape(2, 3, 4) - 10
    t = nb.tensor(a)
    check(t[t > 0], a[a > 0])
    lead = np.array([[True, False, True], [False, False, True]])
    check(t[nb.tensor(lead)], a[lead])
    check(t[nb.tensor(np.array([False, True]))], a[np.array([False, True])])
    check(t[:, nb.tensor(np.array([True, False, True]))], a[:, np.array([True, False, True])])
    check(t[nb.tensor(np.zeros((2, 3), bool))], a[np.zeros((2, 3), bool)])


def test_mask_mixed_with_ints_slices_and_none():
    a = np.arange(60.0).reshape(3, 4, 5)
    t = nb.tensor(a)
    m = np.array([True, False, True, True])
    check(t[1, nb.tensor(m)], a[1, m])
    check(t[:2, nb.tensor(m), 1:4], a[:2, m, 1:4])
    check(t[None, ..., nb.tensor(m), 2], a[None, ..., m, 2])


def test_indexing_a_zero_dimensional_tensor():
    t = nb.full((), 3.5, dtype=F64)
    check(t[()], np.array(3.5))
    check(t[None], np.array([3.5]))
    check(t[...], np.array(3.5))


@given(data=st.data())
def test_indexed_gradient_flows_back_to_the_selected_elements(data):
    """x[key].sum() has gradient 1 at each selected position, counted once per selection."""
    shape = data.draw(shapes(min_dims=1, max_dims=3))
    array = data.draw(values(shape))
    key = data.draw(index_keys(shape))
    x = nb.tensor(array, dtype=F64, requires_grad=True)
    x[to_tensor_key(key)].sum().backward()
    size = int(np.prod(shape))
    positions = np.asarray(torch_index(np.arange(size).reshape(shape), key)).ravel()
    expected = np.bincount(positions, minlength=size).reshape(shape).astype(np.float64)
    np.testing.assert_array_equal(x.grad.numpy(), expected)


# ---- setitem ------------------------------------------------------------------------------

def _duplicates(shape, key) -> bool:
    positions = torch_index(np.arange(int(np.prod(shape))).reshape(shape), key)
    return np.unique(positions).size != np.asarray(positions).size


@given(data=st.data())
def test_setitem_matches_numpy(data):
    shape = data.draw(shapes(min_dims=1, max_dims=4))
    ref, t = data.draw(laid_out(data.draw(values(shape)), layouts=WRITABLE_LAYOUTS, dtype=F64))
    ref = ref.copy()
    key = data.draw(index_keys(ref.shape))
    target_shape = torch_index(ref, key).shape
    as_scalar = _duplicates(ref.shape, key) or data.draw(st.booleans())
    if as_scalar:  # repeated positions get one value, so the order of writes can't matter
        value = data.draw(st.sampled_from([0, -1.5, 2.25, 7]))
        t[to_tensor_key(key)] = value
    else:
        trim = data.draw(st.integers(0, len(target_shape)))
        vshape = tuple(1 if data.draw(st.booleans()) else s for s in target_shape[trim:])
        value, tv = data.draw(laid_out(data.draw(values(vshape)), dtype=F64))
        t[to_tensor_key(key)] = tv
    view, rest = torch_rule(ref, key)
    view[rest] = value
    check(t, ref)


@given(data=st.data())
def test_setitem_of_int_tensors_with_basic_keys(data):
    shape = data.draw(shapes(min_dims=1, max_dims=3))
    ref, t = data.draw(laid_out(np.rint(data.draw(values(shape))), layouts=WRITABLE_LAYOUTS,
                                dtype=I64))
    ref = ref.astype(np.int64)
    key = data.draw(index_keys(ref.shape, advanced=False))
    value = data.draw(st.integers(-5, 5))
    t[key] = value
    ref[key] = value
    check(t, ref)


def test_setitem_with_a_mask_zeroes_negative_gradients():
    """The seed's ``grad_h[h < 0] = 0`` (the hand-written ReLU backward)."""
    nb.manual_seed(0)
    h = nb.randn(6, 5)
    grad_h = nb.randn(6, 5)
    expected = np.where(h.numpy() < 0, 0, grad_h.numpy())
    grad_h[h < 0] = 0
    check(grad_h, expected)


def test_setitem_with_a_mask_on_a_non_contiguous_tensor():
    a = np.arange(12.0).reshape(3, 4) - 6
    t = nb.tensor(a.T.copy()).t()  # values of a, transposed layout
    t[t < 0] = 0
    check(t, np.maximum(a, 0))
    u = nb.tensor(a)
    u[u > 2] = nb.tensor(-1.0, dtype=F64)
    check(u, np.where(a > 2, -1, a))


def test_setitem_with_a_mask_and_a_tensor_of_values():
    a = np.arange(6.0) - 3
    t = nb.tensor(a)
    mask = a > 0
    t[nb.tensor(mask)] = nb.tensor([10.0, 20.0])
    expected = a.copy()
    expected[mask] = [10, 20]
    check(t, expected)


def test_setitem_with_leading_dims_mask_broadcasts_the_value():
    a = np.zeros((3, 4))
    t = nb.tensor(a)
    m = np.array([True, False, True])
    t[nb.tensor(m)] = nb.tensor([1.0, 2.0, 3.0, 4.0])
    a[m] = [1.0, 2.0, 3.0, 4.0]
    check(t, a)


def test_setitem_with_int_tensor_indices():
    a = np.zeros((4, 5))
    t = nb.tensor(a)
    rows, cols = np.array([0, -1, 2]), np.array([1, 1, -5])
    t[nb.tensor(rows), nb.tensor(cols)] = nb.tensor([1.0, 2.0, 3.0])
    a[rows, cols] = [1.0, 2.0, 3.0]
    check(t, a)
    t[:, nb.tensor([0, 2])] = 9
    a[:, [0, 2]] = 9
    check(t, a)


def test_setitem_of_a_single_element():
    t = nb.zeros(3, 4)
    t[1, 2] = 5
    t[-1, -1] = 7.5
    v = nb.zeros(4)
    v[0] = 1
    v[-1] = 2
    expected = np.zeros((3, 4))
    expected[1, 2], expected[-1, -1] = 5, 7.5
    check(t, expected.astype(np.float32))
    check(v, np.array([1, 0, 0, 2], np.float32))


def test_augmented_assignment_through_an_index():
    a = np.arange(5.0)
    t = nb.tensor(a)
    t[nb.tensor([0, 0, 3])] += 1  # like NumPy: each position once
    a[[0, 0, 3]] += 1
    check(t, a.astype(np.float32))
    t[1:3] *= 10
    a[1:3] *= 10
    check(t, a.astype(np.float32))
    t[4] -= 4
    a[4] -= 4
    check(t, a.astype(np.float32))


def test_setitem_from_an_overlapping_view_reads_the_old_values():
    a = np.arange(6.0)
    t = nb.tensor(a)
    t[1:] = t[:-1]
    a[1:] = a[:-1].copy()
    check(t, a.astype(np.float32))


def test_setitem_casts_the_value_to_the_tensor_dtype():
    t = nb.zeros(3, dtype=I64)
    t[nb.tensor([0, 2])] = nb.tensor([1.7, -2.2])
    check(t, np.array([1, 0, -2]))
    b = nb.zeros(2, dtype=BOOL)
    b[0] = 1
    check(b, np.array([True, False]))


def test_setitem_drops_the_values_leading_dims_of_size_one_as_pytorch():
    t = nb.zeros(1)
    t[0] = nb.ones(1)
    check(t, np.ones(1, np.float32))
    t = nb.zeros(2)
    t[nb.tensor([True, True])] = nb.ones(1, 2)
    check(t, np.ones(2, np.float32))
    v = nb.ones(1, 1, 4, dtype=F64, requires_grad=True)
    x = nb.zeros(3, 4, dtype=F64, requires_grad=True)
    y = x * 1
    y[0:2] = v * 2
    (y * nb.arange(12.0, dtype=F64).reshape(3, 4)).sum().backward()
    check(v.grad, np.array([[[8.0, 12, 16, 20]]]))  # PyTorch's figures
    check(x.grad, np.concatenate([np.zeros((2, 4)), [[8.0, 9, 10, 11]]]))
    with pytest.raises(ValueError):
        nb.zeros(3)[0] = nb.ones(2, 1)  # only leading size-1 dims are dropped


def test_index_tensors_that_do_not_broadcast_raise_an_index_error():
    with pytest.raises(IndexError, match=r"could not be broadcast together with shapes "
                                         r"\[2\], \[3\]"):
        nb.zeros(4, 4)[nb.tensor([0, 1]), nb.tensor([0, 1, 2])]


def test_setitem_with_a_value_of_the_wrong_shape_raises():
    t = nb.zeros(3, 4)
    with pytest.raises(ValueError) as err:
        t[0] = nb.zeros(3)
    assert "(3,)" in str(err.value) and "(4,)" in str(err.value)
    assert not type(err.value).__module__.startswith("numba")


# ---- errors ---------------------------------------------------------------------------------

def _clean(err):
    assert not type(err.value).__module__.startswith("numba"), \
        f"a Numba error reached the user: {type(err.value)}"
    return str(err.value)


@pytest.mark.parametrize("key,dim,size", [
    (3, 0, 3), (-4, 0, 3), ((0, 4), 1, 4), ((slice(None), -5), 1, 4), ((0, 0, 5), 2, 5),
    ((Ellipsis, 7), 2, 5), ((None, 1, 9), 1, 4),
], ids=str)
def test_out_of_bounds_int_index_names_the_dim_and_size(key, dim, size):
    t = nb.zeros(3, 4, 5)
    with pytest.raises(IndexError) as err:
        t[key]
    message = _clean(err)
    assert f"dimension {dim}" in message and f"size {size}" in message
    with pytest.raises(IndexError) as err:
        t[key] = 1.0
    message = _clean(err)
    assert f"dimension {dim}" in message and f"size {size}" in message


@pytest.mark.parametrize("key,dim,size", [
    (([0, 3],), 0, 3), ((slice(None), [4]), 1, 4), ((slice(None), [-5, 0]), 1, 4),
    ((0, slice(None), [1, 5]), 2, 5),
], ids=str)
def test_out_of_bounds_index_tensor_names_the_dim_and_size(key, dim, size):
    t = nb.zeros(3, 4, 5)
    tkey = tuple(nb.tensor(k) if isinstance(k, list) else k for k in key)
    with pytest.raises(IndexError) as err:
        t[tkey]
    message = _clean(err)
    assert f"dimension {dim}" in message and f"size {size}" in message
    with pytest.raises(IndexError) as err:
        t[tkey] = 0.0
    _clean(err)


@pytest.mark.parametrize("key", [slice(None, None, -1), (slice(None), slice(3, 0, -2)),
                                 slice(None, None, 0)], ids=str)
def test_negative_or_zero_slice_step_raises(key):
    t = nb.zeros(3, 4)
    with pytest.raises(ValueError) as err:
        t[key]
    assert "step" in _clean(err)
    with pytest.raises(ValueError) as err:
        t[key] = 1.0
    _clean(err)


@pytest.mark.parametrize("key", [(0, 0, 0), (0, Ellipsis, 0, 0), (slice(None),) * 3,
                                 (nb.zeros(3, 4, dtype=BOOL), 0)], ids=str)
def test_too_many_indices_raise(key):
    t = nb.zeros(3, 4)
    with pytest.raises(IndexError) as err:
        t[key]
    assert "too many indices" in _clean(err)
    with pytest.raises(IndexError) as err:
        t[key] = 1.0
    _clean(err)


def test_two_ellipses_raise():
    with pytest.raises(IndexError) as err:
        nb.zeros(3, 4)[..., 0, ...]
    _clean(err)


@pytest.mark.parametrize("mask_shape", [(2,), (4,), (3, 3), (2, 4)], ids=str)
def test_mask_shape_mismatch_raises(mask_shape):
    t = nb.zeros(3, 4)
    mask = nb.ones(mask_shape, dtype=BOOL)
    with pytest.raises(IndexError) as err:
        t[mask]
    message = _clean(err)
    assert str(tuple(mask_shape)) in message
    with pytest.raises(IndexError) as err:
        t[mask] = 0.0
    _clean(err)


@pytest.mark.parametrize("key", [nb.tensor([0.0, 1.0]), [0.5, 1.0], 1.5, "a", {0: 1}],
                         ids=["float tensor", "float list", "float", "str", "dict"])
def test_invalid_index_types_raise_index_error(key):
    t = nb.zeros(3, 4)
    with pytest.raises((IndexError, TypeError)) as err:
        t[key]
    _clean(err)


def test_indices_on_another_device_are_not_testable_yet():
    cuda = getattr(nb, "cuda", None)
    if cuda is None or not cuda.is_available():
        pytest.skip("needs a second device (CUDA)")
    t = nb.zeros(3)
    with pytest.raises(RuntimeError):
        t[nb.tensor([0, 1], device="cuda")]

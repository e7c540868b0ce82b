"""backend/layout.py against NumPy, which applies the same rules to its own arrays."""
import itertools

import numpy as np
import pytest

from numbanet.backend import layout


def _views(rng, count=300):
    """Arrays of 0 to 4 dims as NumPy views: permuted, sliced with steps, broadcast."""
    for _ in range(count):
        nd = int(rng.integers(0, 5))
        shape = tuple(int(n) for n in rng.integers(1, 5, nd))
        a = np.arange(max(1, int(np.prod(shape))), dtype=np.float32).reshape(shape)
        if nd and rng.random() < 0.5:
            a = a.transpose(rng.permutation(nd))
        if nd and rng.random() < 0.5:
            d = int(rng.integers(0, nd))
            key = [slice(None)] * nd
            key[d] = slice(int(rng.integers(0, a.shape[d])), None, int(rng.integers(1, 3)))
            a = a[tuple(key)]
        yield a


def test_c_strides_and_contiguity_are_numpys():
    rng = np.random.default_rng(0)
    for a in _views(rng):
        assert layout.c_strides(a.shape, 4) == np.empty(a.shape, np.float32).strides
        assert layout.is_c_contiguous(a) == a.flags.c_contiguous
    assert layout.is_c_contiguous(np.empty((3, 0, 2))[:, :, ::2])


def test_nocopy_reshape_gives_a_view_exactly_where_numpy_does():
    rng = np.random.default_rng(1)
    for a in _views(rng):
        for new in {(a.size,), (1, a.size), (a.size, 1)} | {
                s for s in itertools.permutations(a.shape + (1,))}:
            try:
                expected = np.reshape(a, new, copy=False).strides
            except ValueError:
                expected = None
            got = layout.nocopy_reshape(a.shape, a.strides, new)
            if expected is None:
                assert got is None, (a.shape, a.strides, new)
            else:  # the strides of dims of size 1 do not matter
                assert got is not None, (a.shape, a.strides, new)
                assert [s for s, n in zip(got, new) if n != 1] == \
                    [s for s, n in zip(expected, new) if n != 1], (a.shape, a.strides, new)


def test_check_reshape_refuses_another_size():
    layout.check_reshape(6, (2, 3))
    with pytest.raises(ValueError, match="size 6 into shape"):
        layout.check_reshape(6, (4, 2))


def test_index_view_is_numpys_basic_indexing():
    rng = np.random.default_rng(2)
    for a in _views(rng):
        if not a.ndim:
            continue
        dims = a.shape[:int(rng.integers(1, a.ndim + 1))]
        key = tuple(int(rng.integers(-n, n)) if rng.random() < 0.4 else
                    slice(int(rng.integers(0, n)), int(rng.integers(0, n + 1)),
                          int(rng.integers(1, 3))) for n in dims)
        view = a[key + (Ellipsis,)]  # a view, also of 0 dims
        delta, shape, strides = layout.index_view(a.shape, a.strides, key)
        assert shape == view.shape
        if view.size:
            assert strides == view.strides
            base = a.__array_interface__["data"][0]
            assert view.__array_interface__["data"][0] - base == delta
    with pytest.raises(IndexError, match="index 3 is out of bounds for dimension 0"):
        layout.index_view((3,), (8,), (3,))


def test_broadcast_strides_broadcasts_shapes_and_right_alignment():
    a = np.ones((3, 1), np.float64)
    strides = layout.broadcast_strides(a.shape, a.strides, (2, 3, 4))
    assert strides == np.broadcast_to(a, (2, 3, 4)).strides
    with pytest.raises(ValueError, match="cannot be broadcast"):
        layout.broadcast_strides((3,), (8,), (4,))
    assert layout.broadcasts((3, 1), (2, 3, 4)) and not layout.broadcasts((2, 3), (3,))
    assert layout.broadcast_shapes((3, 1), (2, 1, 5)) == np.broadcast_shapes((3, 1), (2, 1, 5))
    assert layout.broadcast_shapes((0,), (1,)) == (0,)
    with pytest.raises(ValueError):
        layout.broadcast_shapes((2,), (3,))
    assert layout.right_aligned((3,), (8,), 4) == ((1, 1, 1, 3), (0, 0, 0, 8))


def test_peel_picks_the_sub_array_of_each_operand():
    out = np.arange(2 * 3 * 1 * 1 * 2).reshape(2, 3, 1, 1, 2)
    for x in (np.ones((2, 3, 1, 1, 2)), np.ones((1, 3, 1, 1, 2)), np.ones((3, 1, 1, 2))):
        for i in range(out.shape[0]):
            at = layout.peel(x.shape, i, out.ndim)
            sub = x if at is None else x[at]
            assert np.broadcast_shapes(sub.shape, out[i].shape) == out[i].shape


def test_reduction_rows_and_gather_plan():
    a = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    perm, kept, rows = layout.reduction_rows(a.shape, (0, 2))
    np.testing.assert_array_equal(a.transpose(perm).reshape(rows).sum(1).reshape(kept),
                                  a.sum(axis=(0, 2)))
    assert layout.reduced_shape(a.shape, (0, 2)) == (3,)
    assert layout.gather_plan(a.shape, 1) == (2, 3, 4)
    assert layout.gather_plan(a.shape, 0) == (1, 2, 12)


def test_matmul_shape():
    assert layout.matmul_shape((5, 1, 2, 3), (4, 3, 6)) == (5, 4, 2, 6)
    for bad in (((2, 3), (4, 5)), ((3,), (3, 2)), ((2, 2, 3), (3, 3, 4))):
        with pytest.raises(ValueError, match="matmul: shapes"):
            layout.matmul_shape(*bad)

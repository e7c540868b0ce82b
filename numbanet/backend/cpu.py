"""The CPU backend: ``@njit`` kernels over NumPy arrays.

Elementwise kernels are two templates (a flat loop for contiguous operands, a
4-D strided loop with broadcasting for everything else) specialised per op
with the scalar definitions of ``backend/scalar.py``. Kernels are serial: on
the small machines numbanet targets, NumPy's BLAS threads and a second Numba
thread pool slow each other down (DESIGN.md), so only matmul runs threaded,
inside BLAS. Every kernel is compiled on first use and cached on disk.
"""
from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import overload

from . import Backend, checks, layout, optimizers, scalar
from . import cpu_windows as _win
from . import host_memory as _host
from . import windows as _windows
from .specialise import fingerprint, specialise

# NumPy's error model: a division by zero gives inf/nan instead of raising. The scalar
# functions handle zero themselves (IEEE semantics), and without the check that the
# Python error model puts before every division, loops with a division vectorise:
# the Adam update ran 3-10x faster with it.
_jit = njit(cache=True, error_model="numpy")
_jit_reduce = njit(cache=True, error_model="numpy", fastmath={"reassoc"})


# ---- operand access: an operand is an array or a scalar -------------------------------

def _at1(x, i):
    raise NotImplementedError  # compiled only, see the overload below


def _flat(x):
    raise NotImplementedError


def _at4(x, i, j, k, l):
    raise NotImplementedError


def _same(x, y):
    raise NotImplementedError


def _fits(x, out):
    raise NotImplementedError


@overload(_at1)
def _at1_impl(x, i):
    if isinstance(x, types.Array):
        return lambda x, i: x[i]
    return lambda x, i: x


@overload(_flat)
def _flat_impl(x):
    if isinstance(x, types.Array):
        return lambda x: x.ravel()
    return lambda x: x


@overload(_same)
def _same_impl(x, y):
    if isinstance(x, types.Array):
        return lambda x, y: x.ctypes.data == y.ctypes.data
    return lambda x, y: False


@overload(_fits)
def _fits_impl(x, out):
    """Whether ``x`` (4-D, or a scalar) broadcasts to the 4-D ``out``: ``_at4`` clamps each
    index to the operand's size, so a dimension that is neither 1 nor out's would read the
    wrong element (or, of size 0, outside the array). The strided kernels check it first."""
    if isinstance(x, types.Array):
        def fits(x, out):
            for d in range(4):
                if x.shape[d] != out.shape[d] and x.shape[d] != 1:
                    return False
            return True
        return fits
    return lambda x, out: True


@overload(_at4)
def _at4_impl(x, i, j, k, l):
    if isinstance(x, types.Array):
        def at(x, i, j, k, l):
            s = x.shape  # a dimension of size 1 broadcasts: min(i, 0) == 0
            return x[min(i, s[0] - 1), min(j, s[1] - 1), min(k, s[2] - 1), min(l, s[3] - 1)]
        return at
    return lambda x, i, j, k, l: x


# ---- elementwise templates (``fn`` is bound per op by ``specialise``) --------------------

def fn(*args):
    raise NotImplementedError  # placeholder name, replaced in each specialised copy


def _unary_flat(a, out):
    af = _flat(a)
    of = out.ravel()
    for i in range(of.shape[0]):
        of[i] = fn(_at1(af, i))


def _unary_strided(a, out):
    if not _fits(a, out):
        return False
    n0, n1, n2, n3 = out.shape
    for i in range(n0):
        for j in range(n1):
            for k in range(n2):
                for l in range(n3):
                    out[i, j, k, l] = fn(_at4(a, i, j, k, l))
    return True


def _binary_flat(a, b, out):
    af = _flat(a)
    bf = _flat(b)
    of = out.ravel()
    # In-place updates (``w -= lr * g``) write to an input; a loop that reads ``out`` itself
    # is one LLVM can still vectorise.
    if _same(af, of):
        for i in range(of.shape[0]):
            of[i] = fn(of[i], _at1(bf, i))
    elif _same(bf, of):
        for i in range(of.shape[0]):
            of[i] = fn(_at1(af, i), of[i])
    else:
        for i in range(of.shape[0]):
            of[i] = fn(_at1(af, i), _at1(bf, i))


def _binary_strided(a, b, out):
    if not (_fits(a, out) and _fits(b, out)):
        return False
    n0, n1, n2, n3 = out.shape
    for i in range(n0):
        for j in range(n1):
            for k in range(n2):
                for l in range(n3):
                    out[i, j, k, l] = fn(_at4(a, i, j, k, l), _at4(b, i, j, k, l))
    return True


def _reduce_rows(a, out):
    """Reduce each row of the 2-D ``a`` into ``out``, walking memory in order."""
    rows, cols = a.shape
    if a.strides[1] <= a.strides[0] or rows == 1:
        for r in range(rows):
            out[r] = a[r, 0]
            acc = out[r]  # the accumulator takes the dtype of ``out``
            for c in range(1, cols):
                acc = fn(acc, a[r, c])
            out[r] = acc
    else:
        for r in range(rows):
            out[r] = a[r, 0]
        for c in range(1, cols):
            for r in range(rows):
                out[r] = fn(out[r], a[r, c])


@_jit
def _where_strided(cond, a, b, out):
    if not (_fits(cond, out) and _fits(a, out) and _fits(b, out)):
        return False
    n0, n1, n2, n3 = out.shape
    for i in range(n0):
        for j in range(n1):
            for k in range(n2):
                for l in range(n3):
                    out[i, j, k, l] = (_at4(a, i, j, k, l) if _at4(cond, i, j, k, l)
                                       else _at4(b, i, j, k, l))
    return True


@_jit
def _argreduce_rows(a, want_max, out):
    rows, cols = a.shape
    for r in range(rows):
        best = a[r, 0]
        where = 0
        if best == best:  # a NaN wins at once
            for c in range(1, cols):
                v = a[r, c]
                if v != v:
                    where = c
                    break
                if (v > best) if want_max else (v < best):
                    best = v
                    where = c
        out[r] = where


@_jit
def _gather(a, index, out):
    """out[o, k, i] = a[o, index[k], i]; an index in [-n, 0) counts from the end. Returns
    the position of the first index outside [-n, n), where it stops, or -1."""
    outer, n, inner = a.shape
    for k in range(index.shape[0]):
        src = index[k]  # read once: the memory may be shared and change at any time
        if src < 0:
            src += n
        if src < 0 or src >= n:
            return k
        for o in range(outer):
            for i in range(inner):
                out[o, k, i] = a[o, src, i]
    return -1


@_jit
def _scatter(dst, index, src, accumulate):
    """dst[o, index[k], i] (+)= src[o, k, i], as ``_gather`` reads indices; returns the
    position of the first index out of range, where it stops, or -1."""
    outer, n, inner = dst.shape
    for k in range(index.shape[0]):
        at = index[k]
        if at < 0:
            at += n
        if at < 0 or at >= n:
            return k
        for o in range(outer):
            for i in range(inner):
                if accumulate:
                    dst[o, at, i] += src[o, k, i]
                else:
                    dst[o, at, i] = src[o, k, i]
    return -1


@_jit
def _nonzero(flat, shape):
    n = 0
    for i in range(flat.shape[0]):
        if flat[i] != 0:
            n += 1
    out = np.empty((n, shape.shape[0]), dtype=np.int64)
    row = 0
    for i in range(flat.shape[0]):
        if flat[i] != 0:
            rest = i
            for d in range(shape.shape[0] - 1, -1, -1):
                out[row, d] = rest % shape[d]
                rest //= shape[d]
            row += 1
    return out


_OPTIMIZERS = optimizers.compiled(njit, "cpu")
_adam_constants, _adam_element = _OPTIMIZERS.adam_constants, _OPTIMIZERS.adam_element


@_jit
def _adam_step(p, g, m, v, lr, beta1, beta2, eps, bias_correction1, bias_correction2_sqrt,
               weight_decay):
    pf, gf, mf, vf = p.ravel(), g.ravel(), m.ravel(), v.ravel()
    constants = _adam_constants(pf, lr, beta1, beta2, eps, bias_correction1,
                                bias_correction2_sqrt, weight_decay)
    for i in range(pf.shape[0]):
        _adam_element(pf, gf, mf, vf, i, constants)


# ---- helpers ----------------------------------------------------------------------

def _as4d(x, ndim):
    """``x`` (array or scalar) as a 4-D view aligned to the right, as broadcasting aligns."""
    if not isinstance(x, np.ndarray) or x.ndim == 4:
        return x
    if x.ndim > 4:
        raise ValueError(f"an operand of shape {x.shape} has more dims than the output "
                         f"({ndim}): it does not broadcast to it")
    return x.reshape((1,) * (4 - x.ndim) + x.shape)


def _split_leading(x, i, ndim):
    """The sub-array of ``x`` for index ``i`` of the leading of ``ndim`` dims being peeled
    (``layout.peel``): ``x`` itself if it does not reach that far, its only entry there if
    it broadcasts."""
    if not isinstance(x, np.ndarray):
        return x
    at = layout.peel(x.shape, i, ndim)
    return x if at is None else x[at]


class _Kernels(dict):
    """op name -> compiled kernels, made on first use."""

    def __init__(self, table, flat, strided):
        super().__init__()
        self.table, self.flat, self.strided = table, flat, strided

    def __missing__(self, op):
        fn_ = self.table[op]
        suffix = f"{op}_{fingerprint(fn_)}"
        scalar_fn = njit(fn_)
        pair = (specialise(self.flat, _jit, suffix, fn=scalar_fn),
                specialise(self.strided, _jit, suffix, fn=scalar_fn))
        self[op] = pair
        return pair


class _ReduceKernels(dict):
    def __missing__(self, op):
        fn_ = scalar.REDUCE[op]
        kernel = specialise(_reduce_rows, _jit_reduce if op == "sum" else _jit,
                            f"{op}_{fingerprint(fn_)}", fn=njit(fn_))
        self[op] = kernel
        return kernel


# The kernels by op name: UNARY["relu"] is relu's (flat, strided) pair, REDUCE["sum"] the
# sum kernel (``_reduce_rows`` combining with ``scalar.REDUCE["sum"]``, i.e. ``scalar.add``).
UNARY = _Kernels(scalar.UNARY, _unary_flat, _unary_strided)
BINARY = _Kernels(scalar.BINARY, _binary_flat, _binary_strided)
REDUCE = _ReduceKernels()


def _one_value(x):
    """A broadcast single value (every stride 0, as the gradient of a sum) as a scalar of its
    dtype, so that the contiguous kernel can take it; anything else as it is."""
    if x.__class__ is np.ndarray and x.size and not any(x.strides):
        return x[(0,) * x.ndim]
    return x


def _not_broadcastable(op, operands, out):
    shapes = [tuple(x.shape) for x in operands if isinstance(x, np.ndarray)]
    return ValueError(f"{op}: operands of shapes {shapes} do not broadcast to the output's "
                      f"shape {out.shape}")


def _check_leading(operands, out, op="where"):
    """Before peeling the leading dim of ``out`` (more than 4 dims): the operands must
    broadcast to it."""
    for x in operands:
        if isinstance(x, np.ndarray) and not layout.broadcasts(x.shape, out.shape):
            raise _not_broadcastable(op, operands, out)


def _run_elementwise(op, kernels, operands, out):
    flat, strided = kernels
    shape = out.shape
    contiguous = out.flags.c_contiguous  # and every array operand C-contiguous, of out's shape
    for x in operands:
        if contiguous and isinstance(x, np.ndarray) and \
                (x.shape != shape or not x.flags.c_contiguous):
            contiguous = False
    if contiguous:
        if out.ndim > 2 or out.ndim == 0:
            # Other ranks go to the kernel as 1-D views: each rank of array would compile a
            # kernel of its own. 1-D and 2-D, the ranks of small hot loops, skip the ~1 us.
            size = out.size
            operands = [x.reshape(size) if x.__class__ is np.ndarray else x for x in operands]
            out = out.reshape(size)
        flat(*operands, out)
    elif out.ndim <= layout.KERNEL_DIMS:
        if not strided(*(_as4d(x, out.ndim) for x in operands), _as4d(out, 4)):
            raise _not_broadcastable(op, operands, out)
    else:  # more than 4 dims: peel the leading one
        nd = out.ndim
        _check_leading(operands, out, op)
        for i in range(shape[0]):
            _run_elementwise(op, kernels, [_split_leading(x, i, nd) for x in operands],
                             out[i])


class CPUBackend(Backend):
    name = "cpu"

    def __init__(self):
        self._rng = np.random.default_rng()

    # -- memory ---------------------------------------------------------------------------
    def empty(self, shape, dtype):
        return _host.empty(shape, dtype.numpy)

    def full(self, shape, value, dtype):
        out = _host.empty(shape, dtype.numpy)  # np.full, without its Python layer
        out.fill(value)
        return out

    def arange(self, start, stop, step, dtype):
        return np.arange(start, stop, step, dtype=dtype.numpy)

    def from_host(self, array):
        return array

    def to_host(self, a):
        return a

    # -- random numbers -------------------------------------------------------------------
    def manual_seed(self, seed):
        self._rng = np.random.default_rng(seed)

    def rand(self, shape, dtype):
        return self._rng.random(shape, dtype=dtype.numpy)

    def randn(self, shape, dtype):
        return self._rng.standard_normal(shape, dtype=dtype.numpy)

    def randint(self, low, high, shape):
        checks.random_range(low, high)
        return self._rng.integers(low, high, shape, dtype=np.int64)

    # -- views ------------------------------------------------------------------------------
    def basic_index(self, a, key):
        return a[tuple(key) + (Ellipsis,)]  # the Ellipsis keeps a 0-d result a view

    def permute(self, a, perm):
        return a.transpose(perm)

    def reshape_view(self, a, shape):
        try:
            return np.reshape(a, shape, copy=False)
        except ValueError:
            pass
        layout.check_reshape(a.size, shape)  # the error CUDA's gives (not NumPy's)
        return None  # the strides do not allow a view

    def broadcast_to(self, a, shape):
        # as_strided keeps the view writable in NumPy's eyes, so kernels see one array type;
        # the tensor layer refuses writes into it (is_writable).
        if not a.ndim:  # a single value, as the gradient of a loss
            return np.ndarray(shape, a.dtype, buffer=a, strides=(0,) * len(shape))
        strides = layout.broadcast_strides(a.shape, a.strides, shape)
        if a.flags.c_contiguous:  # four times cheaper than as_strided, for the common case
            return np.ndarray(shape, a.dtype, buffer=a, strides=strides)
        return np.lib.stride_tricks.as_strided(a, shape, strides)

    def is_contiguous(self, a):
        return a.flags.c_contiguous

    def is_writable(self, a):
        flags = a.flags
        if not flags.writeable:
            return False
        if flags.c_contiguous:  # no element shares memory with another
            return True
        return all(s != 0 or n <= 1 for n, s in zip(a.shape, a.strides))

    def contiguous(self, a):
        """``a`` itself when C-contiguous, else a C-contiguous copy."""
        if a.flags.c_contiguous:
            return a
        out = _host.empty(a.shape, a.dtype)
        self.unary("identity", a, out)
        return out

    # -- elementwise ------------------------------------------------------------------------
    def unary(self, op, a, out):
        if op == "identity" and out.size <= 4096 and not isinstance(a, np.ndarray):
            out.fill(a)  # fill_, zero_ of a small array: one C call (the kernel wins on large)
            return out
        if 0 < out.ndim <= 2 and out.flags.c_contiguous and (  # the hot case, as in binary
                not isinstance(a, np.ndarray) or a.shape == out.shape and a.flags.c_contiguous):
            UNARY[op][0](a, out)
            return out
        _run_elementwise(op, UNARY[op], (a,), out)
        return out

    def binary(self, op, a, b, out):
        # The hot case inline: 1-D or 2-D, and every array C-contiguous of out's shape.
        # ``_run_elementwise`` decides the same, but with 0.4-0.8 us more Python per op.
        if 0 < out.ndim <= 2 and out.flags.c_contiguous:
            shape = out.shape
            if (not isinstance(a, np.ndarray) or a.shape == shape and a.flags.c_contiguous) and \
                    (not isinstance(b, np.ndarray) or b.shape == shape and b.flags.c_contiguous):
                BINARY[op][0](a, b, out)
                return out
        _run_elementwise(op, BINARY[op], (_one_value(a), _one_value(b)), out)
        return out

    def where(self, cond, a, b, out):
        operands = (cond, a, b)
        nd = out.ndim
        if nd > layout.KERNEL_DIMS:
            _check_leading(operands, out)
            for i in range(out.shape[0]):
                self.where(*(_split_leading(x, i, nd) for x in operands), out[i])
            return out
        if not _where_strided(*(_as4d(x, nd) for x in operands), _as4d(out, 4)):
            raise _not_broadcastable("where", operands, out)
        return out

    # -- reductions -------------------------------------------------------------------------
    def _rows(self, a, axes):
        """``a`` as a 2-D (kept, reduced) array: a view where the strides allow."""
        if len(axes) == a.ndim and a.flags.c_contiguous:  # all of it, e.g. a loss
            return a.reshape(1, a.size), ()
        perm, kept, rows = layout.reduction_rows(a.shape, axes)
        return np.reshape(a.transpose(perm), rows), kept

    def reduce(self, op, a, axes, dtype):
        rows, kept = self._rows(a, axes)
        if op in ("sum", "prod"):
            acc = np.float64 if dtype.is_floating_point else np.int64
        else:
            acc = a.dtype
        out = np.empty(rows.shape[0], acc)
        if rows.shape[1] == 0:
            out.fill(0 if op == "sum" else 1)
        else:
            REDUCE[op](rows, out)
        out = out.reshape(kept)
        if out.dtype != dtype.numpy and out.size == 1:  # a loss: one number, cast in Python
            return out.astype(dtype.numpy)  # (a kernel call costs 3 us more)
        if out.dtype != dtype.numpy:
            cast = np.empty(kept, dtype.numpy)
            self.unary("identity", out, cast)
            out = cast
        return out

    def argreduce(self, op, a, axis):
        rows, kept = self._rows(a, (axis,))
        out = np.empty(rows.shape[0], np.int64)
        _argreduce_rows(rows, op == "max", out)
        return out.reshape(kept)

    # -- linear algebra ---------------------------------------------------------------------
    def matmul(self, a, b):
        if a.ndim == 2 and b.ndim == 2 and a.dtype == b.dtype:  # weights' gradients: large
            return np.matmul(a, b, out=_host.empty((a.shape[0], b.shape[1]), a.dtype))
        return np.matmul(a, b)

    # -- gather / scatter -------------------------------------------------------------------
    def index_select(self, a, axis, index):
        checks.index_arguments("index_select", a.shape, axis, index)
        out_shape = a.shape[:axis] + (index.shape[0],) + a.shape[axis + 1:]
        out = _host.empty(out_shape, a.dtype)
        three = layout.gather_plan(a.shape, axis)
        bad = _gather(self.contiguous(a).reshape(three), index,
                      out.reshape(three[0], index.shape[0], three[2]))
        if bad >= 0:
            raise checks.out_of_bounds("index_select", index[bad], axis, three[1])
        return out

    def _scatter(self, op, dst, axis, index, src, accumulate):
        checks.index_arguments(op, dst.shape, axis, index, src.shape)
        three = layout.gather_plan(dst.shape, axis)
        view = self.reshape_view(dst, three)
        target = view if view is not None else self.contiguous(dst).reshape(three)
        src3 = self.contiguous(src).reshape(three[0], index.shape[0], three[2])
        bad = _scatter(target, index, src3, accumulate)
        if view is None:
            self.unary("identity", target.reshape(dst.shape), dst)
        if bad >= 0:
            raise checks.out_of_bounds(op, index[bad], axis, three[1])
        return dst

    def index_add(self, dst, axis, index, src):
        return self._scatter("index_add", dst, axis, index, src, True)

    def index_put(self, dst, axis, index, src):
        return self._scatter("index_put", dst, axis, index, src, False)

    def nonzero(self, a):
        return _nonzero(self.contiguous(a).reshape(-1), np.array(a.shape, np.int64))

    # -- sliding windows ---------------------------------------------------------------------
    def im2col(self, x, geo, out_hw):
        (n, c, _, _), geo, out_hw = _windows.check("im2col", x.shape, geo, out_hw)
        kh, kw = geo[0], geo[1]
        cols = _host.empty((c * kh * kw, n, out_hw[0] * out_hw[1]), x.dtype)
        _win.im2col(self.contiguous(x).reshape(-1), x.shape, geo, cols.reshape(-1), out_hw)
        return cols

    def col2im(self, cols, geo, out_hw, shape):
        shape, geo, out_hw = _windows.check("col2im", shape, geo, out_hw)
        _windows.check_columns(cols.shape, shape, geo, out_hw)
        out = _host.zeros(shape, cols.dtype)
        _win.col2im(self.contiguous(cols).reshape(-1), geo, out.reshape(-1), shape, out_hw)
        return out

    def max_pool2d(self, x, geo, out_hw):
        _, geo, out_hw = _windows.check("max_pool2d", x.shape, geo, out_hw)
        shape = x.shape[:2] + out_hw
        out = _host.empty(shape, x.dtype)
        indices = _host.empty(shape, np.int64)
        n, c, height, width = x.shape
        if geo == (2, 2, 2, 2, 0, 0, 1, 1) and 2 * out_hw[0] <= height and \
                2 * out_hw[1] <= width:
            if not _win.max_pool_2x2(self.contiguous(x).reshape(-1), out.reshape(-1),
                                     indices.reshape(-1), n * c, height, width, *out_hw):
                return out, indices
        _win.max_pool_kernel(geo[0], geo[1])(x, geo, out, indices)
        return out, indices

    def max_pool2d_backward(self, g, indices, geo, shape):
        shape, _, _ = _windows.check_gradient("max_pool2d_backward", g.shape, shape, geo)
        _windows.check_pool_indices(indices.shape, indices.dtype, g.shape)
        out = _host.zeros(shape, g.dtype)
        flat = self.contiguous(indices).reshape(-1)
        bad = _win.max_pool_backward(self.contiguous(g).reshape(-1), flat, out.reshape(-1),
                                     shape[2] * shape[3], g.shape[2] * g.shape[3])
        if bad >= 0:
            raise checks.bad_pool_index(flat[bad], shape[2:])
        return out

    def avg_pool2d(self, x, geo, out_hw, count_include_pad, divisor_override):
        _, geo, out_hw = _windows.check("avg_pool2d", x.shape, geo, out_hw, dilation=False)
        out = _host.empty(x.shape[:2] + out_hw, x.dtype)
        _win.avg_pool(x, geo, bool(count_include_pad), int(divisor_override), out)
        return out

    def avg_pool2d_backward(self, g, geo, shape, count_include_pad, divisor_override):
        shape, geo, _ = _windows.check_gradient("avg_pool2d_backward", g.shape, shape, geo,
                                                dilation=False)
        out = _host.zeros(shape, g.dtype)
        _win.avg_pool_backward(g, geo, bool(count_include_pad), int(divisor_override), out)
        return out

    # -- generated elementwise kernels ------------------------------------------------------
    def elementwise_program(self, kernels, shape, is_array):
        flat, strided = kernels.flat, kernels.strided
        shape = tuple(shape)
        full4 = (1,) * (4 - len(shape)) + shape

        def run(args, outs):
            for a in args:
                if isinstance(a, np.ndarray) and (a.shape != shape or not a.flags.c_contiguous):
                    strided(*[a.reshape((1,) * (4 - a.ndim) + a.shape)
                              if isinstance(a, np.ndarray) else a for a in args],
                            *[o.reshape(full4) for o in outs])
                    return
            flat(*args, *outs)
        return run

    def adam_step(self, p, g, m, v, *numbers):
        checks.update_arrays("adam_step", (p, g, m, v), self.is_contiguous)
        _adam_step(p, g, m, v, *numbers)


_BACKEND = CPUBackend()


def backend_for(device):
    return _BACKEND

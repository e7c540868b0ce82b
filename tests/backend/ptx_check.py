"""Compile every CUDA kernel of numbanet to PTX for a Hopper GPU, without a GPU.

Run as a script in a process where Numba's CUDA simulator is off; it needs NVVM (the
``nvidia-nvvm`` and ``nvidia-cuda-nvrtc`` wheels, the ``cuda-check`` extra). Prints one line
per kernel signature and exits non-zero if any failed to compile. The CUDA tests run the
kernels on the simulator, which executes Python and so cannot catch a typing error that
only the real compiler sees; this check can.
"""
import sys
import time

from numba import cuda, types

from numbanet.backend import cuda_kernels as C
from numbanet.backend import scalar

CC = (9, 0)
f32, f64, i64, b1 = types.float32, types.float64, types.int64, types.boolean


def arr(t, nd, layout="A"):
    return types.Array(t, nd, layout)


def jobs():
    comparisons = {"eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or",
                   "logical_xor"}
    for op in scalar.UNARY:
        kernels = C.UNARY[op]
        for t in (f32, f64):
            out = b1 if op in ("to_bool", "logical_not") else t
            yield f"unary {op} {t}", kernels["_unary_flat"], (arr(t, 1, "C"), arr(out, 1, "C"))
            yield f"unary {op} {t} strided", kernels["_unary_strided"], (arr(t, 4), arr(out, 4))
    ident = C.UNARY["identity"]
    for src, dst in ((f32, f64), (f64, f32), (i64, f32), (f32, i64), (b1, f32), (i64, b1)):
        yield f"cast {src}->{dst}", ident["_unary_strided"], (arr(src, 4), arr(dst, 4))
        yield f"fill {dst}", ident["_unary_flat_s"], (dst, arr(dst, 1, "C"))
        yield f"fill {dst} strided", ident["_unary_strided_s"], (dst, arr(dst, 4))
    for op in scalar.BINARY:
        kernels = C.BINARY[op]
        for t in (f32, i64):
            out = b1 if op in comparisons else t
            yield f"binary {op} {t}", kernels["_binary_flat"], (arr(t, 1, "C"),) * 2 + (
                arr(out, 1, "C"),)
            yield f"binary {op} {t} strided", kernels["_binary_strided"], (arr(t, 4),) * 2 + (
                arr(out, 4),)
        yield f"binary {op} array-scalar", kernels["_binary_flat_as"], (
            arr(f32, 1, "C"), f32, arr(b1 if op in comparisons else f32, 1, "C"))
        yield f"binary {op} scalar-array strided", kernels["_binary_strided_sa"], (
            f64, arr(f64, 4), arr(b1 if op in comparisons else f64, 4))
    for op in scalar.REDUCE:
        for acc, t in ((C.np.float64, f32), (C.np.int64, i64)):
            out = f64 if acc is C.np.float64 else i64
            yield f"reduce {op} {t}", C.REDUCE[op, acc], (arr(t, 2), arr(out, 2, "C"), i64)
    for acc, t in ((C.np.float64, f32), (C.np.int64, b1)):
        out = f64 if acc is C.np.float64 else i64
        yield f"argreduce {t}", C.ARGREDUCE[acc], (arr(t, 2), arr(i64, 2, "C"), b1, b1,
                                                     arr(out, 2, "C"), arr(i64, 2, "C"), i64)
    for t, dt in ((f32, "float32"), (f64, "float64"), (i64, "int64")):
        yield f"matmul {t}", C._matmul_kernel(C.np.dtype(dt)), (arr(t, 3), arr(t, 3),
                                                                 arr(t, 3, "C"))
    yield "where", C._where_strided, (arr(b1, 4), arr(f32, 4), arr(f32, 4), arr(f32, 4))
    yield "arange", C._arange, (f64, f64, arr(f32, 1, "C"))
    bad = arr(i64, 1, "C")  # where the index kernels record a bad index
    yield "gather", C._gather, (arr(f32, 3, "C"), arr(i64, 1, "C"), arr(f32, 3, "C"), bad)
    for t in (f32, f64, i64):
        yield f"scatter {t}", C._scatter, (arr(t, 3), arr(i64, 1, "C"), arr(t, 3, "C"), b1,
                                           bad)
    yield "nonzero", C._nonzero_coords, (arr(i64, 1, "C"), arr(i64, 1, "C"), arr(i64, 2, "C"))
    from numba.cuda.random import xoroshiro128p_dtype
    from numba.np.numpy_support import from_dtype
    states = arr(from_dtype(xoroshiro128p_dtype), 1, "C")
    for (kind, dtype), kernel in C._RANDOM.items():
        t = f32 if dtype.name == "float32" else f64
        yield f"random {kind} {t}", kernel, (states, arr(t, 1, "C"), t, t)
    yield "randint", C._floor_to_int, (arr(f64, 1, "C"), i64, i64, arr(i64, 1, "C"))
    geo = types.UniTuple(i64, 8)
    for t in (f32, f64):
        yield f"im2col {t}", C._im2col, (arr(t, 4), geo, arr(t, 4))
        yield f"col2im {t}", C._col2im, (arr(t, 4), geo, arr(t, 4, "C"))
        yield f"max_pool2d {t}", C._max_pool, (arr(t, 4), geo, arr(t, 4, "C"),
                                               arr(i64, 4, "C"))
        yield f"max_pool2d_backward {t}", C._max_pool_backward, (
            arr(t, 4), arr(i64, 4, "C"), geo, arr(t, 4, "C"), bad)
        yield f"avg_pool2d {t}", C._avg_pool, (arr(t, 4), geo, b1, i64, arr(t, 4, "C"))
        yield f"avg_pool2d_backward {t}", C._avg_pool_backward, (arr(t, 4), geo, b1, i64,
                                                                 arr(t, 4, "C"))
    for t in (f32, f64):
        yield f"adam {t}", C._adam_step, (arr(t, 1, "C"),) * 4 + (f64,) * 7  # Python floats


class _Hopper:
    """Stands in for the current device where Numba asks for one while compiling device
    functions (there is no GPU, and none is needed to make PTX)."""
    compute_capability = CC


def main():
    assert not C.SIMULATED, "run with NUMBA_ENABLE_CUDASIM unset"
    import numba.cuda.dispatcher as dispatcher
    dispatcher.get_current_device = _Hopper
    failed = 0
    start = time.perf_counter()
    for name, kernel, sig in jobs():
        try:
            cuda.compile_ptx(kernel.py_func, sig, cc=CC)
            print("ok  ", name, flush=True)
        except Exception as e:  # report every kernel, then fail
            failed += 1
            print("FAIL", name, f"{type(e).__name__}: {str(e).splitlines()[0][:300]}",
                  flush=True)
    print(f"{failed} failed, {time.perf_counter() - start:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

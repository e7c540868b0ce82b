"""One kernel template, many ops: copy a template function with its op bound in.

Numba caches a compiled function by its qualified name and source file. A new
closure per op would not cache across processes; a copy of the template whose
globals name the op's scalar function, under a qualified name of its own,
does. Both backends build their per-op kernels this way.
"""
import hashlib
import types


def fingerprint(fn) -> str:
    """A short hash of a function's bytecode and constants, so that editing the
    scalar definition gives its kernels a new cache entry."""
    code = fn.__code__
    return hashlib.sha1(code.co_code + repr(code.co_consts).encode()).hexdigest()[:8]


def specialise(template, jit, suffix: str, **bindings):
    """Return ``jit`` applied to a copy of ``template`` whose globals include ``bindings``."""
    namespace = dict(template.__globals__)
    namespace.update(bindings)
    fn = types.FunctionType(template.__code__, namespace, f"{template.__name__}_{suffix}",
                            template.__defaults__, template.__closure__)
    fn.__qualname__ = f"{template.__qualname__}_{suffix}"
    fn.__module__ = template.__module__
    return jit(fn)

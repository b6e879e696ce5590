"""Matrix products that Numba kernels can call: BLAS's gemm -- the very function NumPy's
`matmul` calls -- reached from compiled code, so that a chunk of a layer's work (im2col, the
product, bias and ReLU, the pooling after it) is ONE call that lets go of Python's GIL once.

Why: `scratchnet.threads` runs a layer's chunks on two or more threads. The Numba kernels
and NumPy's products release the GIL, but the Python between them (a chunk calls four or
five of them) needs it, and a thread waiting for the GIL sleeps: on the 2-core VM where
this was measured, waking it costs as much as a small kernel. A Numba kernel of 7 us
called from two threads with 5 us of Python between calls ran 0.82x as fast as on one
thread (1.60x without the Python between); Coursera-32's first Conv2D + MaxPooling2D
forward (batch 32, float32, in a workspace, medians of 3 x 100) took 0.40 ms on one thread
and 0.38 on two as Python-driven chunks, 0.34 and 0.25 as one call per chunk.

How: NumPy's wheels ship OpenBLAS built with 64-bit integers, its CBLAS functions named
`scipy_cblas_sgemm64_` and `scipy_cblas_dgemm64_`. This module finds that library among
those threadpoolctl lists (the one inside NumPy's folder, so `threadpool_limits` governs
it exactly as it governs `np.matmul`), registers the two functions with LLVM under names
of its own and declares them to Numba as external functions; the compiled kernels call
them by name, so `cache=True` keeps working. `available()` first checks the two against
`np.matmul` on small products (both dtypes, transposed and not); where any of this fails --
NumPy built on another BLAS (MKL, Apple's Accelerate) -- it is False and the layers drive
their chunks with a product from Python as before (as they also do with
SCRATCHNET_NUMBA_BLAS=0 in the environment); the chunks without one stay one call. The products are the same calls with the same arguments as `np.matmul`'s, so
the results are the same bits (tests/test_one_call_chunks.py).
"""
import ctypes
import os

import numpy as np
from numba import njit, types

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112
_SYMBOLS = {"scratchnet_sgemm": "scipy_cblas_sgemm64_",
            "scratchnet_dgemm": "scipy_cblas_dgemm64_"}


def _declare(name, real):
    return types.ExternalFunction(name, types.void(
        types.int32, types.int32, types.int32, types.int64, types.int64, types.int64,
        real, types.voidptr, types.int64, types.voidptr, types.int64, real, types.voidptr,
        types.int64))


_sgemm = _declare("scratchnet_sgemm", types.float32)
_dgemm = _declare("scratchnet_dgemm", types.float64)


def _numpy_openblas():
    """The path of NumPy's own OpenBLAS, or None."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    numpy_dir = os.path.realpath(os.path.dirname(np.__file__))
    for info in threadpool_info():
        path = info.get("filepath") or ""
        if (info.get("internal_api") == "openblas"
                and os.path.realpath(path).startswith(numpy_dir)):
            return path
    return None


def _register():
    """Register the two gemm functions with LLVM; True when both were found."""
    path = _numpy_openblas()
    if path is None:
        return False
    try:
        import llvmlite.binding as llvm
        library = ctypes.CDLL(path)
        addresses = {ours: ctypes.cast(getattr(library, theirs), ctypes.c_void_p).value
                     for ours, theirs in _SYMBOLS.items()}
    except (OSError, AttributeError, ImportError):
        return False
    for ours, address in addresses.items():
        llvm.add_symbol(ours, address)
    return True


@njit(cache=True, nogil=True)
def _row_stride(a):
    """The distance between a 2-D array's rows, in elements; its rows must be contiguous."""
    if a.shape[1] > 1 and a.strides[1] != a.itemsize:
        raise ValueError("blas.gemm: every matrix needs contiguous rows")
    return max(a.strides[0] // a.itemsize, a.shape[1], 1)


@njit(cache=True, nogil=True)
def gemm(a, trans_a, b, trans_b, c):
    """c = op(a) @ op(b) for 2-D arrays of one float dtype with contiguous rows (views
    welcome: BLAS gets their first element and row stride): op(a) = a.T if trans_a else a,
    likewise b. np.matmul's bits when c has 2+ rows and 2+ columns (NumPy turns the other
    products into matrix-vector ones): the callers keep to those. Only call when
    `available()`."""
    m, n = c.shape
    k = a.shape[0] if trans_a else a.shape[1]
    if ((a.shape[1] if trans_a else a.shape[0]) != m or (b.shape[0] if trans_b else
                                                          b.shape[1]) != n
            or (b.shape[1] if trans_b else b.shape[0]) != k):
        raise ValueError("blas.gemm: the shapes do not match")
    if c.shape[1] > 1 and c.strides[1] != c.itemsize:
        raise ValueError("blas.gemm: every matrix needs contiguous rows")
    ta = TRANS if trans_a else NO_TRANS
    tb = TRANS if trans_b else NO_TRANS
    lda, ldb, ldc = _row_stride(a), _row_stride(b), _row_stride(c)
    if c.itemsize == 4:
        _sgemm(ROW_MAJOR, ta, tb, m, n, k, np.float32(1), a.ctypes, lda, b.ctypes, ldb,
               np.float32(0), c.ctypes, ldc)
    else:
        _dgemm(ROW_MAJOR, ta, tb, m, n, k, 1.0, a.ctypes, lda, b.ctypes, ldb, 0.0, c.ctypes,
               ldc)


def _works():
    """gemm gives np.matmul's bits on small products, both dtypes, a and b transposed or not."""
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        a = rng.standard_normal((37, 19)).astype(dtype)
        b = rng.standard_normal((19, 23)).astype(dtype)
        at, bt = np.ascontiguousarray(a.T), np.ascontiguousarray(b.T)
        for left, trans_a in ((a, False), (at, True)):
            for right, trans_b in ((b, False), (bt, True)):
                c = np.full((37, 23), np.nan, dtype)
                gemm(left, trans_a, right, trans_b, c)
                if not np.array_equal(c, np.matmul(left.T if trans_a else left,
                                                   right.T if trans_b else right)):
                    return False
    return True


_state = {}


def available():
    """True when Numba kernels may call `gemm` (checked once per process)."""
    if "ok" not in _state:
        ok = _register()
        if ok and os.environ.get("SCRATCHNET_NUMBA_BLAS", "1") != "0":
            try:
                ok = _works()
            except Exception:             # a failed compile or link: keep the Python paths
                ok = False
        else:
            ok = False
        _state["ok"] = ok
    return _state["ok"] and enabled()


def enabled():
    """Whether the one-call-per-chunk paths (kernels/chunks.py, Winograd's block loops) are
    on (`set_enabled`); those with a product also need `available()`."""
    return _state.get("enabled", True)


def set_enabled(flag):
    """Turn the one-call-per-chunk paths on or off: tests compare them with the chunks driven
    from Python, which are what runs where `available()` is False."""
    _state["enabled"] = bool(flag)

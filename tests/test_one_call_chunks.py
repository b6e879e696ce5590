"""One compiled call per chunk (kernels/chunks.py, Winograd's block loops) gives the same bits
as the chunks driven from Python, and `blas.gemm` -- the BLAS product those calls make --
gives np.matmul's bits.

The layers take the one-call paths wherever BLAS is callable from Numba (`blas.available()`);
`blas.set_enabled(False)` puts them back on the Python-driven chunks; on a NumPy built on
another BLAS only the chunks without a product run as one call. All three ways run here,
in both dtypes, serial and split over two threads into many small chunks, and must agree
exactly: forward, argmax (through dL/dx), every gradient, inference, and a few steps of
`fit` of the lecture CNNs (on and off).
"""
import contextlib
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, strategies as st

from scratchnet import lecture_models
from scratchnet import keras as K
from scratchnet.kernels import blas, chunks, winograd
from scratchnet.layers import conv_fast_paths
from scratchnet.layers.conv import Conv2D
from scratchnet.layers.pooling import MaxPooling2D
from tests.test_conv_pool_fusion import SPLIT, chunking

DTYPES = ("float32", "float64")
needs_blas = pytest.mark.skipif(not blas.available(),
                                reason="NumPy's BLAS is not callable from Numba here")


@contextlib.contextmanager
def one_call(flag):
    saved = blas.enabled()
    blas.set_enabled(flag)
    try:
        yield
    finally:
        blas.set_enabled(saved)


def test_numpy_wheels_blas_is_callable_from_numba():
    """Where NumPy ships scipy-openblas (its wheels, and CI), the one-call paths are on."""
    if blas._numpy_openblas() is None:
        pytest.skip("NumPy here is not built on its bundled OpenBLAS")
    assert blas.available()


def test_the_environment_can_turn_blas_from_numba_off():
    code = "from scratchnet.kernels import blas; print(blas.available())"
    env = dict(os.environ, SCRATCHNET_NUMBA_BLAS="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "False"


@needs_blas
@pytest.mark.parametrize("dtype", DTYPES)
@given(m=st.integers(2, 40), n=st.integers(2, 40), k=st.integers(1, 40),
       trans_a=st.booleans(), trans_b=st.booleans(), pad=st.integers(0, 3),
       seed=st.integers(0, 2**32 - 1))
def test_gemm_gives_the_bits_of_np_matmul(dtype, m, n, k, trans_a, trans_b, pad, seed):
    """Views with longer rows than they use (`pad`) go in as BLAS's row strides. (Products
    of one row or one column NumPy computes as matrix-vector ones: not compared.)"""
    rng = np.random.default_rng(seed)

    def stored(rows, columns):
        wide = rng.standard_normal((rows, columns + pad)).astype(dtype)
        return wide[:, :columns]

    a = stored(k, m) if trans_a else stored(m, k)
    b = stored(n, k) if trans_b else stored(k, n)
    c = np.full((m, n + pad), np.nan, dtype)[:, :n]
    blas.gemm(a, trans_a, b, trans_b, c)
    expected = np.matmul(a.T if trans_a else a, b.T if trans_b else b)
    np.testing.assert_array_equal(c, expected)


@needs_blas
def test_gemm_refuses_what_blas_cannot_take():
    a, b = np.ones((4, 6), np.float32), np.ones((6, 5), np.float32)
    with pytest.raises(ValueError, match="shapes do not match"):
        blas.gemm(a, False, b, False, np.empty((4, 4), np.float32))
    with pytest.raises(ValueError, match="contiguous rows"):
        blas.gemm(np.ones((4, 12), np.float32)[:, ::2], False, b, False,
                  np.empty((4, 5), np.float32))


# Conv2D + MaxPooling2D(2, 2) pairs whose output the pooling tiles (the one-call paths):
# one channel by im2col (16+ filters) and by the direct kernel (few filters), several
# channels, the RGB 3x3 im2col, and Winograd (3x3, 16+ channels and filters), also with an
# odd output size (Coursera's 11x11: the last row and column are left out); and pools whose
# backward alone is one call (3x3 windows, or 2x2 windows over an odd 'same' output).
PAIRS = {
    "one channel, im2col": ((4, 10, 10, 1), dict(filters=16, kernel_size=3, padding="same"), 2),
    "one channel, direct": ((4, 9, 9, 1), dict(filters=6, kernel_size=2), 2),
    "channels, im2col": ((5, 11, 11, 6), dict(filters=16, kernel_size=4), 2),
    "rgb 3x3": ((3, 10, 10, 3), dict(filters=8, kernel_size=3, padding="same"), 2),
    "winograd": ((3, 10, 10, 16), dict(filters=16, kernel_size=3, padding="same"), 2),
    "winograd, odd output": ((3, 13, 13, 16), dict(filters=16, kernel_size=3), 2),
    "3x3 pool": ((3, 12, 12, 4), dict(filters=16, kernel_size=3, padding="same"), 3),
    "untiled pool": ((3, 11, 11, 4), dict(filters=16, kernel_size=3, padding="same"), 2),
}


# The one-call kernels the layers call from Python (winograd.convolve_blocks is also called
# from compiled code, which a Python wrapper must not replace).
ONE_CALLS = ((chunks, ("gemm_pooled_forward", "direct_pooled_forward", "winograd_pooled_forward",
                       "gemm_pooled_dw", "pooled_dz", "gemm_dx", "gemm_grads")),
             (winograd, ("gradient_blocks",)))


def count_one_calls(patch):
    """Count the calls of the one-call kernels from now on (a dict, filled as they run)."""
    counts = {}
    for module, names in ONE_CALLS:
        for name in names:
            kernel = getattr(module, name)

            def counted(*args, _kernel=kernel, _name=name):
                counts[_name] = counts.get(_name, 0) + 1
                return _kernel(*args)

            patch.setattr(module, name, counted)
    return counts


def run_pair(case, dtype, activation, use_bias, seed):
    """Everything a Conv2D + MaxPooling2D pair computes: training forward, dL/dx or (first
    layer) none, the gradients, and an inference pass."""
    shape, config, pool_size = PAIRS[case]
    rng = np.random.default_rng(seed)
    conv = Conv2D(activation=activation, use_bias=use_bias, dtype=dtype, **config)
    pool = MaxPooling2D(pool_size, dtype=dtype)
    x = rng.standard_normal(shape).astype(dtype)
    conv(x)
    conv.set_weights([rng.standard_normal(w.shape).astype(dtype) for w in conv.get_weights()])
    out, cache = conv.forward_fused(x, pool, training=True)
    dy = rng.standard_normal(out.shape).astype(dtype)
    results = {"out": out.copy()}
    for first in (False, True):
        conv.zero_grads()
        dx = conv.backward_fused(dy, cache, pool, need_input_grad=not first)
        results[f"dx {first}"] = None if dx is None else dx.copy()
        results.update({f"grad {i} {first}": g.copy() for i, g in enumerate(conv.grads)})
    results["inference"] = conv.forward_fused(x, pool, training=False)[0].copy()
    return results


@SPLIT
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", sorted(PAIRS))
@given(activation=st.sampled_from((None, "relu")), use_bias=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_one_call_chunks_give_the_bits_of_python_driven_chunks(case, dtype, split, activation,
                                                                use_bias, seed):
    runs, calls = {}, {}
    for flag in (False, "no blas", True):
        with one_call(bool(flag)), chunking(split), pytest.MonkeyPatch.context() as patch:
            patch.setattr(conv_fast_paths, "WINOGRAD_MIN_WORK", 0)
            if flag == "no blas":            # a NumPy on another BLAS: product-free calls only
                patch.setattr(blas, "available", lambda: False)
            calls[flag] = count_one_calls(patch)
            runs[flag] = run_pair(case, dtype, activation, use_bias, seed)
    assert sum(calls[False].values()) == 0
    assert sum(calls["no blas"].values()) > 0, calls["no blas"]
    assert set(calls["no blas"]) <= {"direct_pooled_forward", "pooled_dz"}, calls["no blas"]
    if blas.available():                   # the one-call side really ran one-call chunks
        assert sum(calls[True].values()) > 0, calls[True]
    for flag in ("no blas", True):
        assert runs[False].keys() == runs[flag].keys()
        for name, value in runs[False].items():
            if value is None:
                assert runs[flag][name] is None, (flag, name)
            else:
                np.testing.assert_array_equal(runs[flag][name], value, err_msg=f"{flag} {name}")


@pytest.mark.parametrize("model", ("coursera_cnn32", "lenet5", "python_ml_cnn"))
def test_fit_gives_the_same_weights_either_way(model):
    """A few steps of the lecture CNNs, batch 32, one-call chunks on and off."""
    spec = lecture_models.get(model)
    x, y = spec.random_data(96, seed=3)
    x, y = spec.preprocess(x), spec.prepare_labels(y)
    weights, predictions = {}, {}
    for flag in (False, True):
        with one_call(flag):
            K.utils.set_random_seed(1)
            net = spec.build(K)
            net.fit(x, y, batch_size=32, epochs=1, verbose=0)
            weights[flag] = net.get_weights()
            predictions[flag] = net.predict(x, verbose=0)
    for w_off, w_on in zip(weights[False], weights[True]):
        np.testing.assert_array_equal(w_on, w_off)
    np.testing.assert_array_equal(predictions[True], predictions[False])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", ("channels, im2col", "rgb 3x3", "3x3 pool"))
def test_groups_add_up_runs_of_one_image(case, dtype):
    """Backward by groups (`Conv2DFastPaths._backward_by_groups`) with runs of ONE image
    (threads.CHUNK_BYTES = 1, as `chunking(True)` sets it): each group's dL/dw share adds its
    runs' products -- the same bits one-call or Python-driven -- and equals, to rounding, the
    share of one run per group (CHUNK_BYTES large)."""
    from scratchnet import threads
    from tolerances import assert_close, assert_close_normwise
    runs, seen = {}, {}
    kernel = chunks.gemm_grads

    def spy(x3, *args):
        seen.setdefault(small, []).append((x3.shape[0], args[14]))    # (images, run)
        return kernel(x3, *args)

    for small in (False, True):
        for flag in (False, True):
            with one_call(flag), chunking(True), pytest.MonkeyPatch.context() as patch:
                patch.setattr(chunks, "gemm_grads", spy)
                if not small:
                    patch.setattr(threads, "CHUNK_BYTES", 1 << 40)
                runs[small, flag] = run_pair(case, dtype, "relu", True, seed=11)
    if blas.available():                   # groups of several images, runs of one or all
        assert seen[True] and all(images > 1 and run == 1 for images, run in seen[True])
        assert seen[False] and all(run >= images for images, run in seen[False])
    for name, value in runs[True, False].items():
        if value is None:
            assert runs[True, True][name] is None and runs[False, False][name] is None
            continue
        np.testing.assert_array_equal(runs[True, True][name], value, err_msg=name)
        # another order of the same sums (normal random data: float32 entries that cancel)
        (assert_close if dtype == "float64" else assert_close_normwise)(
            value, runs[False, False][name], dtype, name)

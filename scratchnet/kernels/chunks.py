"""One compiled call per chunk of images for the Conv2D passes of the lecture CNNs whose
chunks otherwise call two to five kernels from Python: a Conv2D with the MaxPooling2D(2, 2)
after it (im2col or the direct one-channel kernel or Winograd's blocks, the product, bias
and ReLU, the pooling with its argmax), a first layer's dL/dw share, dz from the pool's
backward with the bias sums, dL/dx by product and col2im, and a group of images whose
im2col matrix backward makes again (im2col, dL/dw's share, dL/dx, run by run).

Why: `scratchnet.threads` runs a layer's chunks on several threads, and every return from
a kernel to the chunk's Python needs the GIL, which a thread waits for asleep (see
kernels/blas.py for the measurements). Here a chunk is ONE `nogil` call: the same kernels,
in the same order, on the same arrays, with the product by `blas.gemm` (the call that
np.matmul makes), so the results are the same bits as the Python-driven chunks they
replace in layers/conv_fast_paths.py (tests/test_one_call_chunks.py runs both ways). The
pooling ones only for the lectures' MaxPooling2D(2, 2) (`usable`); the layer drives its
chunks from Python otherwise, and wherever BLAS is not callable from Numba.

Measured (2-core AMD EPYC VM, float32, 2 threads): Coursera-32's first pair (28x28x1 ->
26x26x32 -> 13x13x32) forward at batch 32, in a workspace as in `fit`, 0.38 -> 0.25 ms
(medians of 3 x 100); `fit` at batch 32, one call per chunk off -> on, alternating, medians
of 5, img/s: Coursera-32 7,117 -> 9,868, Coursera 3,968 -> 4,464, LeNet-5 12,992 -> 14,016,
Python-ML 2,875 -> 3,367.
"""
import numpy as np
from numba import njit

from scratchnet.kernels import blas, conv_fast, pool_fast, winograd


@njit(cache=True, nogil=True)
def _pool_2x2(y2, n, ho, wo, relu, lowest, with_argmax, out, argmax):
    """2x2 max pooling of y2 (n*ho*wo, F) into out, with its argmax in training (-1 for
    windows whose max is a ReLU zero: conv_fast_paths._pool_chunk)."""
    pool_fast._max_pool_forward_2x2(y2.reshape(n, ho, wo, y2.shape[1]), lowest, with_argmax,
                                    out, argmax)
    if relu and with_argmax:
        pool_fast.drop_argmax_of_zeros(out, argmax)


@njit(cache=True, nogil=True)
def _dz_of_pool(dy, argmax, tiles, dz):
    """dz (n, Ho, Wo, F) from the pool's dy and argmax (pool_fast.max_pool_backward_images;
    tiles = (kh, kw) of windows that tile dz, as Pooling2D._backward_tiles gives them, or
    (0, 0))."""
    if tiles[0] > 0:
        pool_fast._max_pool_backward_tiled(dy, argmax, tiles[0], tiles[1], dz)
    else:
        n, h, w, c = dz.shape
        pool_fast._max_pool_backward(dy, argmax, dz.reshape(n, h * w, c))


@njit(cache=True, nogil=True)
def _im2col_rows(x3, c, kh, kw, sh, sw, dh, dw, top, left, ho, wo, rgb3x3, cols):
    """im2col (not transposed) of the images x3 (n, H, W*C) into cols: the 3x3 RGB kernel
    when `rgb3x3` (as conv_fast.fill_rows_cols decides), else conv_fast.im2col_kernel."""
    if rgb3x3:
        conv_fast.im2col_rgb3x3_kernel(x3, top, ho, wo, cols)
    else:
        conv_fast.im2col_kernel(x3, c, kh, kw, sh, sw, dh, dw, top, left, ho, wo, cols)


@njit(cache=True, nogil=True)
def gemm_pooled_forward(x3, c, kh, kw, sh, sw, dh, dw, top, left, ho, wo, store, transposed,
                        rgb3x3, r0, w2, bias, has_bias, relu, y2, lowest, with_argmax, out,
                        argmax):
    """The chunk of `Conv2DFastPaths._train_pooled` (with_argmax) or `_infer_fast` with a
    pool: im2col of the images x3 (n, H, W*C) into rows r0.. of the im2col matrix (`store`:
    cols itself, or cols.T when `transposed`, one input channel; `rgb3x3`: the 3x3 RGB
    kernel applies, as conv_fast.fill_rows_cols decides), y2 = cols @ w2, bias and ReLU in
    place, then 2x2 max pooling into out (and argmax)."""
    n = x3.shape[0]
    rows = n * ho * wo
    if transposed:
        cols_t = store[:, r0:r0 + rows]
        conv_fast.im2col_t_kernel(x3, kh, kw, sh, sw, dh, dw, top, left, ho, wo, cols_t)
        blas.gemm(cols_t, True, w2, False, y2)
    else:
        cols = store[r0:r0 + rows]
        _im2col_rows(x3, c, kh, kw, sh, sw, dh, dw, top, left, ho, wo, rgb3x3, cols)
        blas.gemm(cols, False, w2, False, y2)
    if relu or has_bias:
        conv_fast.bias_act_inplace_kernel(y2, bias, has_bias, relu)
    _pool_2x2(y2, n, ho, wo, relu, lowest, with_argmax, out, argmax)


@njit(cache=True, nogil=True)
def pooled_dz(dy, argmax, tiles, dz, sums, db_part):
    """`Conv2DFastPaths._backward_fast`'s dz chunk after a fused pooling: dz of the chunk's
    images from the pool's dy and argmax, and (if sums) its column sums into db_part."""
    _dz_of_pool(dy, argmax, tiles, dz)
    if sums:
        n, ho, wo, f = dz.shape
        conv_fast.column_sums_kernel(dz.reshape(n * ho * wo, f), db_part)


@njit(cache=True, nogil=True)
def gemm_pooled_dw(dy, argmax, tiles, dz, store, transposed, r0, share, db_part):
    """`Conv2DFastPaths._backward_first_pooled`'s chunk: dz of the chunk's images from the
    pool, its column sums into db_part (float64: the bias gradient) and its share of dw,
    share = cols^T dz (kh*kw*C, F), cols being rows r0.. of the im2col matrix (`store`: cols,
    or cols.T when `transposed`)."""
    _dz_of_pool(dy, argmax, tiles, dz)
    n, ho, wo, f = dz.shape
    rows = n * ho * wo
    dz2 = dz.reshape(rows, f)
    conv_fast.column_sums_kernel(dz2, db_part)
    if transposed:
        blas.gemm(store[:, r0:r0 + rows], False, dz2, False, share)
    else:
        blas.gemm(store[r0:r0 + rows], True, dz2, False, share)


@njit(cache=True, nogil=True)
def direct_pooled_forward(x3, kh, kw, top, left, wt, bias, has_bias, relu, y4, lowest,
                          with_argmax, out, argmax):
    """The chunk of `Conv2DFastPaths._train_pooled_direct` (with_argmax) or `_infer_fast`
    with a pool, direct kernel: the one-channel convolution (conv_fast.conv1ch_rows_kernel,
    wt = the kernel as (F, kh*kw)) into y4, then 2x2 max pooling into out (and argmax)."""
    conv_fast.conv1ch_rows_kernel(x3, kh, kw, top, left, wt, bias, has_bias, relu, False,
                                  y4, y4)
    n, ho, wo, f = y4.shape
    _pool_2x2(y4.reshape(n * ho * wo, f), n, ho, wo, relu, lowest, with_argmax, out, argmax)


@njit(cache=True, nogil=True)
def winograd_pooled_forward(x3, c, top, left, th, tw, total, block, u, bias, has_bias, relu,
                            y4, v, m, lowest, with_argmax, out, argmax):
    """The chunk of `Conv2DFastPaths._winograd_forward` with a pool: Winograd's blocks
    (winograd.convolve_blocks) into y4 (n, Ho, Wo, F), then 2x2 max pooling into out (and
    argmax)."""
    winograd.convolve_blocks(x3, c, top, left, th, tw, total, block, u, bias, has_bias, relu,
                             y4, y4, False, v, m)
    n, ho, wo, f = y4.shape
    _pool_2x2(y4.reshape(n * ho * wo, f), n, ho, wo, relu, lowest, with_argmax, out, argmax)


@njit(cache=True, nogil=True)
def gemm_dx(dz2, w2, dcols, c, kh, kw, sh, sw, dh, dw, top, left, ho, wo, dx3):
    """`Conv2DFastPaths._backward_fast`'s dL/dx chunk: dcols = dz2 w2^T, then col2im into
    the chunk's images dx3 (zeroed first)."""
    _dx_by_dcols(dz2, w2, dcols, c, kh, kw, sh, sw, dh, dw, top, left, ho, wo, dx3)


@njit(cache=True, nogil=True)
def _dx_by_dcols(dz2, w2, dcols, c, kh, kw, sh, sw, dh, dw, top, left, ho, wo, dx3):
    """`gemm_dx`'s two steps, for the kernels here that call them from compiled code (the
    tests count calls of `gemm_dx` through a Python wrapper, which compiled code cannot
    call)."""
    blas.gemm(dz2, False, w2, True, dcols)
    conv_fast.col2im_kernel(dcols, c, kh, kw, sh, sw, dh, dw, top, left, ho, wo, dx3, True)


@njit(cache=True, nogil=True)
def gemm_grads(x3, c, kh, kw, sh, sw, dh, dw, top, left, ho, wo, rgb3x3, dz2, w2, sub, cols,
               part, share, with_dw, dcols, with_dx, dx3):
    """A group of `Conv2DFastPaths._backward_by_groups`: for each run of `sub` images of x3
    (n, H, W*C), im2col again into cols (`rgb3x3`: the 3x3 RGB kernel applies), then (if
    with_dw) share = the sum over the runs of cols^T dz2 (the first run's product written,
    each later one made in `part` and added) and (if with_dx) dcols = dz2 w2^T, col2im into
    the run's images of dx3 (zeroed first). dz2: the group's rows of dz (n*Ho*Wo, F)."""
    n = x3.shape[0]
    m = ho * wo
    for s0 in range(0, n, sub):
        s1 = min(n, s0 + sub)
        rows = (s1 - s0) * m
        run_cols = cols[:rows]
        _im2col_rows(x3[s0:s1], c, kh, kw, sh, sw, dh, dw, top, left, ho, wo, rgb3x3,
                     run_cols)
        run_dz = dz2[s0 * m:s1 * m]
        if with_dw:
            if s0 == 0:
                blas.gemm(run_cols, True, run_dz, False, share)
            else:
                blas.gemm(run_cols, True, run_dz, False, part)
                share += part
        if with_dx:
            _dx_by_dcols(run_dz, w2, dcols[:rows], c, kh, kw, sh, sw, dh, dw, top, left, ho,
                         wo, dx3[s0:s1])


NO_ARGMAX = np.empty((1, 1, 1, 1), np.int32)


def pool_tiles(tiles):
    """A pool's backward tiles (`Pooling2D._backward_tiles`: (kh, kw) or None) as the
    kernels here take them."""
    return (0, 0) if tiles is None else (int(tiles[0]), int(tiles[1]))


def usable_kernels(dtype):
    """True when chunks without a product may run as one call: float32 or float64, and the
    one-call paths on (`blas.enabled()`: off with `blas.set_enabled(False)`)."""
    return np.dtype(dtype) in conv_fast._FLOATS and blas.enabled()


def usable_products(dtype):
    """True when chunks with a product may run as one call: `usable_kernels`, and BLAS
    callable from Numba (`blas.available()`)."""
    return usable_kernels(dtype) and blas.available()


def usable(pool, y_shape, dtype, need_blas):
    """True when a layer may run its chunks through this module: 2x2 windows, stride 2, no
    padding (the lectures' MaxPooling2D(2, 2): an odd last row or column is left out, as
    in Keras, and pool_fast._max_pool_forward_2x2 reads only the cells of the windows),
    float32 or float64, and BLAS callable from Numba where a product is involved (off as a
    whole with `blas.set_enabled(False)`)."""
    pads, out_hw = pool._window(y_shape)
    return (tuple(pool.pool_size) == (2, 2) and tuple(pool.strides) == (2, 2)
            and tuple(pads) == (0, 0) and tuple(out_hw) == (y_shape[1] // 2, y_shape[2] // 2)
            and (usable_products(dtype) if need_blas else usable_kernels(dtype)))

r"""Max and average pooling as Numba kernels: the same math as `pool_naive`, compiled.

See pool_naive.py for the formulas (TF's SAME windows, which cell a max-pool gradient goes
to, the average over real cells only). These kernels do the same arithmetic in the same
order, so naive and fast agree bit for bit (tests/test_pooling_naive_vs_fast.py).

What is fused:

* max forward computes the pooled value AND the argmax (i*W + j, int32) in one pass over
  the input, so backward never looks at x again: it scatters dy along the recorded argmax;
* the backward kernels zero dx image by image just before scattering into it (one pass over
  memory that is then in cache, instead of np.zeros then the scatter).

Layout NHWC with channels innermost: every window cell is a contiguous run of C values, and
the innermost loop runs over channels (vectorizable, no data-dependent strides).

Threads: `prange` over the batch (Numba's OpenMP layer, 2 threads) was measured against
these serial loops on the 2-core development machine, 2x2 max pooling forward + backward,
float32, median of 7 runs, in ms, over three sessions while other test suites were running
(load average 3-6):

    shape               serial         prange
    (32, 26, 26, 32)    0.45 - 0.56    0.31 once, otherwise 16 - 37
    (32, 11, 11, 64)    0.11 - 0.17    16 - 40

So the kernels are serial, and `nogil`: inside fit / evaluate / predict the max-pooling
wrappers below hand chunks of images to `scratchnet.threads.run_split`, whose threads wait
at no barrier and which gives up splitting while another process holds the other core. Pooling is a
few hundred microseconds of memory-bound work; for comparison, TensorFlow's own MaxPool +
MaxPoolGrad (tf.function, float32) took 0.76 ms and 0.50 ms on the same shapes when the
machine was quiet.

Argument checks (ranks, dtypes, contiguity) happen in Python in `scratchnet.layers.pooling`
and in the wrappers below, so no Numba typing error ever reaches a user.
"""
import numpy as np
from numba import njit

from scratchnet import threads

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _check(name, **arrays):
    for what, a in arrays.items():
        if not isinstance(a, np.ndarray) or a.dtype not in _FLOATS or a.ndim != 4:
            raise TypeError(f"{name}: {what} must be a 4-D float32 or float64 ndarray, "
                            f"received {getattr(a, 'dtype', type(a))} "
                            f"of shape {getattr(a, 'shape', None)}")


def _counts(length, size, stride, pad_before, out, dtype):
    """Number of real cells of each window along one axis, as floats of `dtype`."""
    starts = np.arange(out) * stride - pad_before
    return (np.minimum(starts + size, length) - np.maximum(starts, 0)).astype(dtype)


# ---------------------------------------------------------------------------- kernels
@njit(cache=True, nogil=True)
def _max_pool_forward(x, kh, kw, sh, sw, top, left, lowest, y, argmax):
    n, h, w, c = x.shape
    _, ho, wo, _ = y.shape
    best = np.empty(c, x.dtype)
    for b in range(n):
        for p in range(ho):
            i0 = p * sh - top
            i_lo, i_hi = max(i0, 0), min(i0 + kh, h)
            for q in range(wo):
                j0 = q * sw - left
                j_lo, j_hi = max(j0, 0), min(j0 + kw, w)
                out = y[b, p, q]
                arg = argmax[b, p, q]
                first = x[b, i_lo, j_lo]
                for ch in range(c):
                    out[ch] = lowest                    # MaxPool starts at lowest
                    best[ch] = first[ch]                # MaxPoolGrad at the first cell
                    arg[ch] = i_lo * w + j_lo
                for i in range(i_lo, i_hi):
                    for j in range(j_lo, j_hi):
                        cell = i * w + j
                        v_row = x[b, i, j]
                        for ch in range(c):
                            v = v_row[ch]
                            if v > out[ch]:
                                out[ch] = v
                            if v > best[ch]:            # strictly: ties keep the first
                                best[ch] = v
                                arg[ch] = cell


@njit(cache=True, nogil=True)
def _max_pool_forward_tiled(x, kh, kw, lowest, with_argmax, y, argmax):
    """_max_pool_forward when the kh x kw windows tile x exactly (strides = pool size, no
    padding, nothing left over), for 16+ channels: no window clipping, the first cell read
    once, and with_argmax=False (inference) skips the argmax (argmax is then not touched
    and may be any int32 array). Same comparisons, so the same y and argmax bit for bit.
    2x2, float32, one thread, ms: (256, 26, 26, 64) 5.1 -> 4.3 with the argmax, 3.6
    without; (32, 26, 26, 64) 0.33 -> 0.24 / 0.23."""
    n, h, w, c = x.shape
    _, ho, wo, _ = y.shape
    best = np.empty(c, x.dtype)
    arg = np.empty(c, np.int32)
    for b in range(n):
        for p in range(ho):
            i0 = p * kh
            for q in range(wo):
                j0 = q * kw
                out = y[b, p, q]
                first = x[b, i0, j0]
                cell0 = i0 * w + j0
                for ch in range(c):
                    v = first[ch]
                    out[ch] = v if v > lowest else lowest
                    best[ch] = v
                    arg[ch] = cell0
                for i in range(i0, i0 + kh):
                    for j in range(j0, j0 + kw):
                        if i == i0 and j == j0:
                            continue
                        cell = i * w + j
                        v_row = x[b, i, j]
                        for ch in range(c):
                            v = v_row[ch]
                            if v > out[ch]:
                                out[ch] = v
                            if with_argmax and v > best[ch]:
                                best[ch] = v
                                arg[ch] = cell
                if with_argmax:
                    a = argmax[b, p, q]
                    for ch in range(c):
                        a[ch] = arg[ch]


@njit(cache=True, nogil=True)
def _max_pool_forward_tiled_few(x, kh, kw, lowest, with_argmax, y, argmax):
    """_max_pool_forward_tiled for FEW channels (LeNet's 6 and 16): one channel at a time,
    the window's max, first-largest value and argmax in scalars, instead of a vector loop
    over channels too short to pay for itself. 2x2, float32, one thread, ms:
    (256, 28, 28, 6) 5.0 -> 1.6 (1.3 without the argmax); (32, 28, 28, 6) 0.56 -> 0.17 (but
    (32, 26, 26, 64) 0.33 -> 1.5: many channels use _max_pool_forward_tiled)."""
    n, h, w, c = x.shape
    _, ho, wo, _ = y.shape
    for b in range(n):
        for p in range(ho):
            i0 = p * kh
            for q in range(wo):
                j0 = q * kw
                cell0 = i0 * w + j0
                for ch in range(c):
                    v = x[b, i0, j0, ch]
                    out = v if v > lowest else lowest       # MaxPool starts at lowest
                    best = v                                # MaxPoolGrad at the first cell
                    arg = cell0
                    for i in range(kh):
                        for j in range(kw):
                            v = x[b, i0 + i, j0 + j, ch]
                            if v > out:
                                out = v
                            if v > best:                    # strictly: ties keep the first
                                best = v
                                arg = cell0 + i * w + j
                    y[b, p, q, ch] = out
                    if with_argmax:
                        argmax[b, p, q, ch] = arg


@njit(cache=True, nogil=True)
def _max_pool_forward_2x2(x, lowest, with_argmax, y, argmax):
    """_max_pool_forward_tiled for 2x2 windows, stride 2 (the lectures' MaxPooling2D(2, 2)):
    the window's four cells are four rows of channels read side by side, and each channel's
    max and argmax come from three comparisons in the same order as the general loops
    (cells (0,0), (0,1), (1,0), (1,1)), so y and argmax are the same bits. Any channel
    count. float32, one thread, with the argmax, ms: 256 x (74, 148, 16) 24.6 -> 4.5
    (horse-or-human's first layer, band by band); 256 x (72, 72, 32) 15.4 -> 3.7;
    (32, 26, 26, 64) 0.3 -> 0.1; (32, 28, 28, 6) 0.2 -> 0.1. (The same written as two
    loops, max then argmax: 8.5 and 5.5 for the first two. A 2x2 backward kernel writing
    the four cells in one loop was slower than _max_pool_backward_tiled, 19.8 vs 9.8: its
    four rows of dx may overlap as far as the compiler knows, so nothing is vectorized.)"""
    n, h, w, c = x.shape
    _, ho, wo, _ = y.shape
    for b in range(n):
        for p in range(ho):
            top_row = x[b, 2 * p]
            low_row = x[b, 2 * p + 1]
            for q in range(wo):
                x00, x01 = top_row[2 * q], top_row[2 * q + 1]
                x10, x11 = low_row[2 * q], low_row[2 * q + 1]
                out = y[b, p, q]
                arg = argmax[b, p, q] if with_argmax else argmax[0, 0, 0]
                cell = 2 * p * w + 2 * q
                for ch in range(c):
                    v0, v1, v2, v3 = x00[ch], x01[ch], x10[ch], x11[ch]
                    top = v0 if v0 > lowest else lowest       # MaxPool starts at lowest
                    top = v1 if v1 > top else top
                    top = v2 if v2 > top else top
                    out[ch] = v3 if v3 > top else top
                    if with_argmax:
                        best, at = v0, cell                   # MaxPoolGrad: the first cell,
                        if v1 > best:                         # strictly larger replaces it
                            best, at = v1, cell + 1
                        if v2 > best:
                            best, at = v2, cell + w
                        arg[ch] = cell + w + 1 if v3 > best else at


@njit(cache=True, nogil=True)
def _max_pool_backward(dy, argmax, dx):
    """dx: (N, H*W, C), overwritten. An argmax of -1 sends its gradient nowhere (a window
    whose max was a ReLU's 0, when Conv2D ran the pooling fused: drop_argmax_of_zeros)."""
    n, hw, c = dx.shape
    _, ho, wo, _ = dy.shape
    for b in range(n):
        dx[b] = 0
        for p in range(ho):
            for q in range(wo):
                g = dy[b, p, q]
                arg = argmax[b, p, q]
                for ch in range(c):
                    if arg[ch] >= 0:
                        dx[b, arg[ch], ch] += g[ch]


@njit(cache=True, nogil=True)
def drop_argmax_of_zeros(y, argmax):
    """argmax = -1 wherever the pooled value y is not positive. For max pooling fused with
    the ReLU before it (Conv2D.forward_fused in training): such a window's max is a ReLU
    output of 0, whose ReLU gradient is 0, so its gradient must reach no cell."""
    flat_y, flat_arg = y.reshape(-1), argmax.reshape(-1)
    for t in range(flat_y.size):
        if not flat_y[t] > 0:
            flat_arg[t] = -1


@njit(cache=True, nogil=True)
def _max_pool_backward_tiled(dy, argmax, kh, kw, dx):
    """dx: (N, H, W, C), overwritten, when the kh x kw windows tile x exactly (strides = pool
    size, no padding, nothing left over): each cell is written once, g + 0 where it is the
    window's argmax (the 0 + g of zero-then-add, bit for bit) and 0 elsewhere, so dx needs no
    separate zeroing pass. 2x2, float32, ms: (32, 26, 26, 64) 0.15 vs 0.32 zero-then-scatter,
    (32, 24, 24, 32) 0.09 vs 0.15; but (32, 28, 28, 6) 0.58 vs 0.07 (six channels do not fill
    the vector loop), so MaxPooling2D uses it from 16 channels on."""
    n, h, w, c = dx.shape
    _, ho, wo, _ = dy.shape
    for b in range(n):
        for p in range(ho):
            for q in range(wo):
                g = dy[b, p, q]
                arg = argmax[b, p, q]
                for i in range(p * kh, p * kh + kh):
                    for j in range(q * kw, q * kw + kw):
                        cell = i * w + j
                        d_row = dx[b, i, j]
                        for ch in range(c):
                            d_row[ch] = g[ch] + 0.0 if arg[ch] == cell else 0.0


@njit(cache=True, nogil=True)
def _avg_pool_forward(x, kh, kw, sh, sw, top, left, row_count, col_count, y):
    n, h, w, c = x.shape
    _, ho, wo, _ = y.shape
    for b in range(n):
        for p in range(ho):
            i0 = p * sh - top
            i_lo, i_hi = max(i0, 0), min(i0 + kh, h)
            for q in range(wo):
                j0 = q * sw - left
                j_lo, j_hi = max(j0, 0), min(j0 + kw, w)
                out = y[b, p, q]
                out[:] = 0
                for i in range(i_lo, i_hi):
                    for j in range(j_lo, j_hi):
                        v_row = x[b, i, j]
                        for ch in range(c):
                            out[ch] += v_row[ch]
                count = row_count[p] * col_count[q]
                for ch in range(c):
                    out[ch] /= count


@njit(cache=True, nogil=True)
def _avg_pool_backward(dy, kh, kw, sh, sw, top, left, inv_count, dx, share):
    n, h, w, c = dx.shape
    _, ho, wo, _ = dy.shape
    for b in range(n):
        dx[b] = 0
        for p in range(ho):
            i0 = p * sh - top
            i_lo, i_hi = max(i0, 0), min(i0 + kh, h)
            for q in range(wo):
                j0 = q * sw - left
                j_lo, j_hi = max(j0, 0), min(j0 + kw, w)
                inv = inv_count[p, q]
                g = dy[b, p, q]
                for ch in range(c):
                    share[ch] = g[ch] * inv
                for i in range(i_lo, i_hi):
                    for j in range(j_lo, j_hi):
                        d_row = dx[b, i, j]
                        for ch in range(c):
                            d_row[ch] += share[ch]


# ---------------------------------------------------------------------------- wrappers
def tiles_exactly(shape, pool_size, strides, pads, out_hw):
    """True when the windows tile an input of `shape` exactly: strides = pool size, no
    padding, nothing left over (2x2 pooling of even sizes)."""
    (kh, kw), (ho, wo) = pool_size, out_hw
    return (tuple(strides) == (kh, kw) and tuple(pads) == (0, 0)
            and tuple(shape[1:3]) == (ho * kh, wo * kw))


def max_pool_images(x, pool_size, strides, pads, out_hw, y, argmax=None):
    """Serial: y (and argmax, unless None) for the images of x, all contiguous arrays of the
    right shapes. The kernel for the job: tiled windows -> a tiled kernel (many or few
    channels), otherwise the general one."""
    c = x.shape[3]
    lowest = np.finfo(x.dtype).min                     # a NumPy scalar of x's dtype
    kh, kw = map(int, pool_size)
    if tiles_exactly(x.shape, pool_size, strides, pads, out_hw):
        arg = _NO_ARGMAX if argmax is None else argmax
        if (kh, kw) == (2, 2):
            _max_pool_forward_2x2(x, lowest, argmax is not None, y, arg)
        elif c >= 16:
            _max_pool_forward_tiled(x, kh, kw, lowest, argmax is not None, y, arg)
        else:
            _max_pool_forward_tiled_few(x, kh, kw, lowest, argmax is not None, y, arg)
        return
    if argmax is None:                                 # the general kernel always writes one
        argmax = np.empty(y.shape, np.int32)
    _max_pool_forward(x, *map(int, (*pool_size, *strides, *pads)), lowest, y, argmax)


_NO_ARGMAX = np.empty((1, 1, 1, 1), np.int32)


# Same signatures as pool_naive's functions. pool_size, strides, pads, out_hw: int pairs.
def max_pool_forward(x, pool_size, strides, pads, out_hw, out=None, with_argmax=True):
    """y (N, Ho, Wo, C) and argmax (same shape, int32: i*W + j of the routed cell; None when
    with_argmax=False, for inference). `out`: an array of y's shape and dtype to write y
    into (default: a new one). Chunks of images go to `scratchnet.threads`."""
    _check("max_pool_forward", x=x)
    x = np.ascontiguousarray(x)
    n = x.shape[0]
    y = np.empty((n, *out_hw, x.shape[3]), x.dtype) if out is None else out
    argmax = np.empty(y.shape, np.int32) if with_argmax else None
    threads.run_split(lambda b0, b1, _: max_pool_images(
        x[b0:b1], pool_size, strides, pads, out_hw, y[b0:b1],
        None if argmax is None else argmax[b0:b1]), n, x.size)
    return y, argmax


def max_pool_backward(dy, argmax, input_shape, tiles=None, out=None):
    """dx (input_shape): each dy[b,p,q,c] added to the cell argmax[b,p,q,c].

    `tiles=(kh, kw)` promises that the pooling windows tile the input exactly (strides equal
    to the pool size, no padding, H = Ho*kh and W = Wo*kw): then a one-pass kernel is used.
    `out`: an array of dx's shape and dtype to write dx into (default: a new one)."""
    _check("max_pool_backward", dy=dy)
    if argmax.shape != dy.shape or argmax.dtype != np.int32:
        raise ValueError(f"max_pool_backward: argmax {argmax.dtype}{argmax.shape} does not "
                         f"match dy {dy.shape}")
    n, h, w, c = input_shape
    dx = np.empty((n, h, w, c), dy.dtype) if out is None else out.reshape(n, h, w, c)
    dy, argmax = np.ascontiguousarray(dy), np.ascontiguousarray(argmax)
    if tiles is not None:
        kh, kw = map(int, tiles)
        if (h, w) != (dy.shape[1] * kh, dy.shape[2] * kw):
            raise ValueError(f"max_pool_backward: {kh}x{kw} tiles of dy {dy.shape} do not "
                             f"cover an input of shape {tuple(input_shape)}")
    threads.run_split(lambda b0, b1, _: max_pool_backward_images(
        dy[b0:b1], argmax[b0:b1], dx[b0:b1], tiles), n, dx.size)
    return dx


def max_pool_backward_images(dy, argmax, dx, tiles=None):
    """Serial: dx (n, H, W, C), overwritten, from dy and argmax (n, Ho, Wo, C), all contiguous;
    `tiles` as in `max_pool_backward` (the one-pass kernel when the windows tile dx)."""
    if tiles is not None:
        _max_pool_backward_tiled(dy, argmax, int(tiles[0]), int(tiles[1]), dx)
    else:
        n, h, w, c = dx.shape
        _max_pool_backward(dy, argmax, dx.reshape(n, h * w, c))


def avg_pool_forward(x, pool_size, strides, pads, out_hw):
    """y (N, Ho, Wo, C): the mean of the real cells of each window."""
    _check("avg_pool_forward", x=x)
    x = np.ascontiguousarray(x)
    n, h, w, c = x.shape
    (kh, kw), (sh, sw), (top, left), (ho, wo) = pool_size, strides, pads, out_hw
    y = np.empty((n, ho, wo, c), x.dtype)
    _avg_pool_forward(x, kh, kw, sh, sw, top, left, _counts(h, kh, sh, top, ho, x.dtype),
                      _counts(w, kw, sw, left, wo, x.dtype), y)
    return y


def avg_pool_backward(dy, input_shape, pool_size, strides, pads):
    """dx (input_shape): each window's dy * (1 / n(p, q)) added to each of its real cells."""
    _check("avg_pool_backward", dy=dy)
    n, h, w, c = input_shape
    _, ho, wo, _ = dy.shape
    (kh, kw), (sh, sw), (top, left) = pool_size, strides, pads
    dx = np.empty((n, h, w, c), dy.dtype)
    # 1 / n(p, q) in double, rounded to dy's dtype: TF's AvgPoolGrad coefficient
    counts = np.outer(_counts(h, kh, sh, top, ho, np.float64), _counts(w, kw, sw, left, wo,
                                                                        np.float64))
    inv_count = (1.0 / counts).astype(dy.dtype)
    _avg_pool_backward(np.ascontiguousarray(dy), kh, kw, sh, sw, top, left, inv_count, dx,
                       np.empty(c, dy.dtype))
    return dx

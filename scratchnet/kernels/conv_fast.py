"""2-D convolution, fast: Numba im2col/col2im around BLAS matrix products.

Same math and shapes as `conv_naive` (read that first); this file only changes how the work
is laid out so that nearly all of it is one big matrix product.

im2col ("image to columns"): copy every kh x kw x C input window into one row of a matrix

    cols[(b*Ho + p)*Wo + q, (i*kw + j)*C + c] = xp[b, p*sh + i*dh, q*sw + j*dw, c]
    cols: (M, K) with M = n*Ho*Wo output positions, K = kh*kw*C window entries

The kernel (kh, kw, C, F), read as a (K, F) matrix w2 (a free reshape: same memory order),
then gives the whole convolution as ONE product, and backward as two more:

    forward   z2  = cols @ w2 (+ b)        (M, K) @ (K, F)     -> z (n, Ho, Wo, F)
    dL/dw     dw2 = cols^T @ dz2            (K, M) @ (M, F)     cols kept from forward
    dL/db     db  = column sums of dz2      (F,)
    dL/dx     dcols = dz2 @ w2^T            (M, F) @ (F, K), then col2im: add every row of
              dcols back onto the window it came from (overlapping windows add up)

Padding is never materialized: im2col writes zeros where a window hangs over the border,
col2im skips those entries. When a kernel row (i fixed, all j, all c) lies inside the image
and dilation is 1, it is kw*C contiguous numbers in x (channels last), copied in one run.

Choices, measured on the 2-core dev machine (AMD EPYC, float32, batch 32, ms, min of 5-15
runs; other engineers' test runs kept the load at 4-6 the whole time, so numbers vary by up
to 2x from run to run, orderings did not):

* im2col + BLAS beats direct Numba loops (accumulate each output's F filters tap by tap)
  for every lecture shape, even with 1 input channel: 28x28x1 -> 26x26x32 k3: direct 1.04 vs
  im2col 0.53 + gemm 0.21; 13x13x32 -> 11x11x64: direct 12-24 vs 0.15 + 0.8-1.4;
  300x300x3 -> 16 (n=8): direct 69 vs 21 + 9-13. Doing im2col + gemm per image (so cols
  stays in cache, recomputed for dw) did not pay either (300x300x3: 140-250 whole vs 157-318).
  Exception, measured later at batch 256: ONE input channel with FEW filters (LeNet's first
  layer, 1 -> 6), by conv1ch_rows_kernel below, which skips the im2col copy, the bad GEMM
  shape (K = 25, N = 6) and the separate bias/ReLU pass: one thread, 7.6 -> 2.7 ms, and in
  training with its own dw kernel (see their docstrings). With 32-64 filters the GEMM
  holds its own (DIRECT_MAX_FILTERS).
* Numba kernels are serial (no prange) and `nogil`: the Conv2D layer runs them, with the
  products, per chunk of images on `scratchnet.threads`' own helper threads (see there:
  1.4-1.75 CPU-seconds per second on 2 free cores, and it steps back to serial when another
  process holds a core). prange versions of im2col/col2im/bias+relu were 10-30x SLOWER here
  (im2col 28x28x1: 12.4 vs 0.53; whole layer 28x28x1 -> 32 forward 32 vs 0.7, 13x13x32 -> 64
  forward + backward 45 vs 7), with OpenBLAS at 1 or 2 threads: Numba's OpenMP workers spin
  at barriers and lose to OpenBLAS's workers and to any other process on 2 cores.
* OpenBLAS threads (set to 1 inside fit / evaluate / predict by `scratchnet.threads`): at
  its default 2 threads on this busy machine the same gemm takes 0.2 ms or 6-300 ms
  (spin-waiting against the other load); at 1 thread it is steady. Whole Conv2D(relu)
  forward / forward + backward (dL/dx only for layers that are not first), min ms,
  OpenBLAS at 1 thread, one scratchnet thread, against TF 2.21 (tf.function, 2 threads):

      layer (batch 32)                  scratchnet fwd  fwd+bwd |  TF fwd  fwd+bwd | naive f+b
      28x28x1 -> 26x26x32 k3                  0.66     1.20 |    0.78     1.61 |   22
      28x28x1 -> 26x26x64 k3                  1.04     2.30 |    1.29     2.26 |
      13x13x32 -> 11x11x64 k3                 2.38     6.7  |    1.82     5.55 |   11
      LeNet 28x28x1 -> 6 k5 same              1.11     1.75 |    0.76     1.31 |
      LeNet 14x14x6 -> 10x10x16 k5            0.49     1.22 |    0.66     1.99 |    2.9
      PyML 28x28x1 -> 32 k5 same              1.58     2.83 |    1.05     2.12 |
      PyML 14x14x32 -> 64 k5 same             19.7     30.7 |    5.96     9.43 |   55
      300x300x3 -> 298x298x16 k3               202      318 |    89.9      138 |

  With OpenBLAS at its default 2 threads the same table's medians were 8-12 ms for every
  small layer and 1.2 s forward for 300x300x3 on this loaded machine.
  Small layers: on par with TensorFlow (which runs 2 threads). Large ones (the 300x300
  first layer: memory-bound im2col of 27 floats per output pixel and the fresh output's page
  faults; the 14x14x32 k5 same layer: three 321M-multiply-add gemms on one thread) are
  2-3x slower than TF's oneDNN on 2 threads.
* Bias (and ReLU) are fused into one pass over z after the product; ReLU's backward and the
  bias gradient likewise (one pass over dz). The bias gradient sums in float64.

Every kernel takes C-contiguous arrays of one float dtype and plain ints (two compiled
specializations each: float32 and float64), `cache=True`. The Python wrappers below check
shapes and dtypes first, so a Numba typing error never reaches the user.
"""
import numpy as np
from numba import njit

from scratchnet.engine import workspace

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


# ---------------------------------------------------------------- Numba kernels
@njit(cache=True, nogil=True)
def im2col_kernel(x3, c, kh, kw, sh, sw, dh, dw, top, left, ho, wo, cols):
    """x3: x (n, H, W, C) viewed as (n, H, W*C); fills cols (n*Ho*Wo, kh*kw*C).

    The copies go through 1-D row views (`dst`, `src`): with them Numba sees two contiguous
    runs and emits a vectorized copy; indexing cols[r, base + t] element by element did not
    vectorize and was 4-6x slower (32 x 13x13x64, k3, float32: 1.10 -> 0.17 ms)."""
    n, h, wc = x3.shape
    w = wc // c
    run = kw * c
    for bp in range(n * ho):                 # one output row (image b, row p) at a time
        b = bp // ho
        p = bp - b * ho
        for q in range(wo):
            r = bp * wo + q
            w0 = q * sw - left
            for i in range(kh):
                hh = p * sh - top + i * dh
                dst = cols[r, i * run:(i + 1) * run]
                if hh < 0 or hh >= h:            # whole kernel row in the padding
                    for t in range(run):
                        dst[t] = 0
                elif dw == 1 and w0 >= 0 and w0 + kw <= w:   # kw*C contiguous inputs
                    src = x3[b, hh, w0 * c:w0 * c + run]
                    for t in range(run):
                        dst[t] = src[t]
                else:
                    for j in range(kw):
                        ww = w0 + j * dw
                        if 0 <= ww < w:
                            for ch in range(c):
                                dst[j * c + ch] = x3[b, hh, ww * c + ch]
                        else:
                            for ch in range(c):
                                dst[j * c + ch] = 0


@njit(cache=True, nogil=True)
def im2col_t_kernel(x3, kh, kw, sh, sw, dh, dw, top, left, ho, wo, cols_t):
    """im2col for ONE input channel, written transposed: cols_t (kh*kw, n*Ho*Wo) = cols.T,
    for x3 = x (n, H, W). Row i*kw + j of cols_t is tap (i, j) of every output position:
    along an output row (b, p) that is a contiguous run of the input row, x[b, hh, j + q]
    for q < Wo (stride 1), copied as one vectorized run. The layer then uses cols_t.T, an
    (M, K) view, in the same products (BLAS takes it transposed, as fast). Why: with one
    channel, im2col_kernel's runs are only kw numbers long; 28x28x1, k5, per image, one
    thread: 20.6 -> 3.7 us, the product after it 13.1 -> 12.5 us."""
    n, h, w = x3.shape
    for i in range(kh):
        for j in range(kw):
            dst_row = cols_t[i * kw + j]
            w0 = j * dw - left
            for b in range(n):
                for p in range(ho):
                    hh = p * sh - top + i * dh
                    dst = dst_row[(b * ho + p) * wo:(b * ho + p + 1) * wo]
                    if hh < 0 or hh >= h:
                        for q in range(wo):
                            dst[q] = 0
                        continue
                    src = x3[b, hh]
                    if sw == 1 and w0 >= 0 and w0 + wo <= w:
                        run = src[w0:w0 + wo]
                        for q in range(wo):
                            dst[q] = run[q]
                    else:
                        for q in range(wo):
                            ww = w0 + q * sw
                            dst[q] = src[ww] if 0 <= ww < w else 0


@njit(cache=True, nogil=True)
def im2col_rgb3x3_kernel(x3, top, ho, wo, cols):
    """im2col_kernel for the commonest first layer: 3 channels (RGB), a 3x3 kernel, stride 1,
    no dilation, every window inside the image (rows p - top .. p - top + 2, columns q ..
    q + 2: no padding reached). A row of cols is three runs of 9 numbers, one per kernel row;
    with the 9 known to the compiler each run is copied unrolled (the general kernel's runs
    have a length only known at run time). 8 x 150x150x3, one thread: 2.24 -> 1.38 ms."""
    n = x3.shape[0]
    for bp in range(n * ho):
        b = bp // ho
        p = bp - b * ho
        r0, r1, r2 = x3[b, p - top], x3[b, p - top + 1], x3[b, p - top + 2]
        for q in range(wo):
            dst = cols[bp * wo + q]
            s0 = 3 * q
            for t in range(9):
                dst[t] = r0[s0 + t]
            for t in range(9):
                dst[9 + t] = r1[s0 + t]
            for t in range(9):
                dst[18 + t] = r2[s0 + t]


def rgb3x3_applies(x3, channels, geo):
    """True when im2col_rgb3x3_kernel serves images x3 (n, H, W*C) for geometry `geo`."""
    kh, kw, sh, sw, dh, dw, top, left, ho, wo = geo
    h, w = x3.shape[1], x3.shape[2] // channels
    return (channels == 3 and (kh, kw, sh, sw, dh, dw) == (3, 3, 1, 1, 1, 1) and left == 0
            and top <= 0 and ho - 1 - top + 2 < h and wo + 1 < w)


def fill_rows_cols(x3, channels, geo, cols):
    """im2col (not transposed) of images x3 (n, H, W*C) for the kernels' geometry `geo`
    (`_geometry_args`, possibly of a band of output rows): the RGB 3x3 kernel when it
    applies, else im2col_kernel."""
    if rgb3x3_applies(x3, channels, geo):
        kh, kw, sh, sw, dh, dw, top, left, ho, wo = geo
        im2col_rgb3x3_kernel(x3, top, ho, wo, cols)
    else:
        im2col_kernel(x3, channels, *geo, cols)


def cols_transposed(channels):
    """True when im2col writes cols transposed (`im2col_t_kernel`): one input channel."""
    return channels == 1


def new_cols(rows, depth, dtype, channels, reuse=None):
    """An (rows, depth) array for im2col -- the transpose of a C-contiguous (depth, rows)
    one for one-channel inputs (`cols_transposed`) -- or `reuse` when it is one already."""
    transposed = cols_transposed(channels)
    if (reuse is not None and reuse.shape == (rows, depth) and reuse.dtype == dtype
            and (reuse.T if transposed else reuse).flags.c_contiguous):
        return reuse
    if transposed:
        return workspace.aligned_empty((depth, rows), dtype).T
    return workspace.aligned_empty((rows, depth), dtype)


def fill_cols(x3, channels, geo, cols):
    """im2col of the images x3 (n, H, W*C) into cols (n*Ho*Wo, kh*kw*C), which comes from
    `new_cols` (or a row range of one); geo: `_geometry_args`."""
    if cols_transposed(channels):
        im2col_t_kernel(x3, *geo, cols.T)
    else:
        fill_rows_cols(x3, channels, geo, cols)


@njit(cache=True, nogil=True)
def col2im_kernel(dcols, c, kh, kw, sh, sw, dh, dw, top, left, ho, wo, dx3, zero):
    """Adds each row of dcols back onto its window: dx3 = dx (n, H, W, C) as (n, H, W*C),
    each image set to 0 first when `zero` (else added onto: a band of output rows, see
    `Conv2DFastPaths._bands`). Row views as in im2col_kernel (32 x 13x13x64, k3: 1.28 ->
    0.30 ms)."""
    n, h, wc = dx3.shape
    w = wc // c
    run = kw * c
    for b in range(n):                      # images are independent: no write conflicts
        if zero:
            dx3[b] = 0
        for p in range(ho):
            for q in range(wo):
                r = (b * ho + p) * wo + q
                w0 = q * sw - left
                for i in range(kh):
                    hh = p * sh - top + i * dh
                    if hh < 0 or hh >= h:
                        continue
                    src = dcols[r, i * run:(i + 1) * run]
                    if dw == 1 and w0 >= 0 and w0 + kw <= w:
                        dst = dx3[b, hh, w0 * c:w0 * c + run]
                        for t in range(run):
                            dst[t] += src[t]
                    else:
                        for j in range(kw):
                            ww = w0 + j * dw
                            if 0 <= ww < w:
                                for ch in range(c):
                                    dx3[b, hh, ww * c + ch] += src[j * c + ch]


@njit(cache=True, nogil=True)
def _padded_plane(image, top, left, wp, rows, xp):
    """xp[r*wp + c] = image[r - top, c - left], 0 outside the image (H, W), for `rows` rows
    of wp: one image zero-padded and laid out flat, as the one-channel kernels read it."""
    h, w = image.shape
    for r in range(rows):
        src_row = r - top
        row = xp[r * wp:(r + 1) * wp]
        if src_row < 0 or src_row >= h:
            row[:] = 0
            continue
        src = image[src_row]
        for c in range(wp):
            col = c - left
            row[c] = src[col] if 0 <= col < w else 0


@njit(cache=True, nogil=True)
def conv1ch_rows_kernel(x3, kh, kw, top, left, wt, bias, has_bias, relu, write_z, z, y):
    """Direct convolution of ONE-channel images with FEW filters (LeNet's first layer),
    stride 1, no dilation: x3 (n, H, W); wt (F, kh*kw), the kernel transposed; fills
    y (n, Ho, Wo, F) with f(conv + bias) (f: ReLU if relu, else identity) and, if write_z,
    z with conv + bias (z may be y when not write_z).

    Why: with C = 1 the GEMM has K = kh*kw (25 for LeNet) and N = F = 6, a shape BLAS
    handles badly, after im2col wrote kh*kw copies of every pixel. Here each image is first
    copied into a zero-padded plane xp (Ho + kh - 1 rows of Wp = Wo + kw - 1), flat. Then
    output (p, q) of filter k is sum_{i,j} w[k,i,j] xp[(p + i)*Wp + q + j]: for a fixed tap
    (i, j) that is ONE long run, acc[k, t] += w[k,i,j] * xp[i*Wp + j + t] for t = p*Wp + q
    over all Ho*Wp positions at once (the kw - 1 extra columns per row are computed and
    dropped). Long contiguous loops vectorize; the planes are written out channels-last
    (+ bias, ReLU) at the end. Same sums in the same order (taps i, then j) as the naive
    loops. LeNet 28x28x1 -> 28x28x6 k5 same, batch 256, float32, one thread: 2.7 ms,
    against 4.4 ms for the same math row by row and 7.6 for im2col + GEMM + bias/ReLU (but
    13.8 vs 10.6 with 64 filters, whose F columns suit the GEMM: DIRECT_MAX_FILTERS)."""
    n, h, w = x3.shape
    _, ho, wo, f = y.shape
    wp = wo + kw - 1
    span = ho * wp
    xp = np.zeros((ho + kh - 1) * wp + kw, x3.dtype)   # (+ kw: the last run's overhang)
    acc = np.empty((f, span), x3.dtype)
    for b in range(n):
        _padded_plane(x3[b], top, left, wp, ho + kh - 1, xp)
        acc[:] = 0
        for i in range(kh):
            for j in range(kw):
                run = xp[i * wp + j:i * wp + j + span]
                for k in range(f):
                    wv = wt[k, i * kw + j]
                    a = acc[k]
                    for t in range(span):
                        a[t] += wv * run[t]
        for p in range(ho):
            for q in range(wo):
                out_y = y[b, p, q]
                out_z = z[b, p, q]
                t = p * wp + q
                for k in range(f):
                    v = acc[k, t]
                    if has_bias:
                        v += bias[k]
                    if write_z:
                        out_z[k] = v
                    if relu:
                        v = v if v > 0 else 0
                    out_y[k] = v


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def conv1ch_rows_dw_kernel(x3, kh, kw, top, left, z, d, relu, acc, db):
    """The kernel and bias gradients of conv1ch_rows_kernel's convolution, for a first layer
    (no dL/dx): with dz = d * (z > 0) if relu else d, acc[i*kw + j, f] (float64) += the sum
    over this chunk's images, rows p and columns q of xpad[p + i, q + j] * dz[b, p, q, f],
    and db[f] = sum dz (float64). No im2col matrix (cols is never built for these layers
    in training).

    The forward kernel's layout, read the other way: per image, the zero-padded plane xp
    (rows of Wp = Wo + kw - 1, flat) and dz as one plane per filter, g[f, p*Wp + q], zero in
    the kw - 1 extra columns of each row. Then tap (i, j)'s sum is ONE dot product of
    length Ho*Wp, xp[i*Wp + j + t] * g[f, t], which the compiler runs with vector
    accumulators (`fastmath` reassociation: the order of the additions inside a dot product
    is the compiler's, the same on every call; nothing else of fastmath is allowed, so NaN
    and infinities propagate). LeNet's first layer, 32 images, float32, one thread: 595 ->
    312 us against accumulating row by row (acc[i*kw + j, f, q], 28-long loops, loads and
    stores of acc per multiply-add); in `fit`, batch 256, 2 threads, ms per step: forward
    5.1 -> 3.3 (im2col + GEMM + bias/ReLU -> conv1ch_rows_kernel), backward 4.4 -> 3.5 (the
    row-by-row version of this kernel)."""
    n, h, w = x3.shape
    _, ho, wo, f = z.shape
    wp = wo + kw - 1
    span = ho * wp
    xp = np.zeros((ho + kh - 1) * wp + kw, x3.dtype)   # (+ kw: the last run's overhang)
    g = np.zeros((f, span), x3.dtype)                   # the extra columns stay 0
    sums = np.zeros(f)
    zero = np.zeros(1, x3.dtype)[0]
    for b in range(n):
        _padded_plane(x3[b], top, left, wp, ho + kh - 1, xp)
        for p in range(ho):                            # dz, one plane per filter
            for q in range(wo):
                for k in range(f):
                    v = d[b, p, q, k]
                    if relu and not z[b, p, q, k] > 0:
                        v = 0
                    g[k, p * wp + q] = v
                    sums[k] += v
        for i in range(kh):
            for j in range(kw):
                run = xp[i * wp + j:i * wp + j + span]
                for k in range(f):
                    gk = g[k]
                    s = zero
                    for t in range(span):
                        s += run[t] * gk[t]
                    acc[i * kw + j, k] += s
    for k in range(f):
        db[k] = sums[k]


# Filters below which Conv2D uses conv1ch_rows_kernel. A per-pixel variant (acc[f] over the
# taps, the F loop innermost) was measured for many filters, batch 256, float32, 2 threads,
# inference, ms: 28x28x1 -> 64 k3 7.6-12.5 vs 7.8-8.1 for im2col + GEMM, -> 32 k3 3.0 vs 3.5,
# -> 32 k5 6.7 vs 4.8-5.1: no clear gain, so it was left out.
DIRECT_MAX_FILTERS = 16


def direct_one_channel(kernel_shape, strides, dilation):
    """True when Conv2D uses conv1ch_rows_kernel instead of im2col + GEMM: one input
    channel, few filters, stride 1, no dilation, a kernel larger than 1x1."""
    return (kernel_shape[2] == 1 and kernel_shape[3] < DIRECT_MAX_FILTERS
            and tuple(strides) == (1, 1) and tuple(dilation) == (1, 1)
            and kernel_shape[0] * kernel_shape[1] > 1)


def conv1ch_forward(x, kernel, bias, pads, relu=False, z=None, y=None):
    """Checked wrapper: (z, y) for one-channel x (n, H, W, 1), stride 1, no dilation, by
    conv1ch_rows_kernel, any number of filters (z = conv + bias; y = ReLU(z) if relu, else
    y is z)."""
    x = _check_float("x", x)
    kernel = _check_float("kernel", kernel, x.dtype)
    if (kernel.ndim != 4 or kernel.shape[2] != 1 or kernel.shape[0] * kernel.shape[1] == 1
            or x.ndim != 4 or x.shape[3] != 1):
        raise ValueError(f"conv1ch_forward: needs x (n, H, W, 1) and a kernel (kh, kw, 1, F) "
                         f"larger than 1x1, received {x.shape} and {kernel.shape}")
    ho, wo = geometry(x.shape, kernel.shape, (1, 1), pads, (1, 1))
    filters = kernel.shape[3]
    has_bias = bias is not None
    bias = (np.zeros(filters, x.dtype) if bias is None
            else _check_float("bias", bias, x.dtype))
    n = x.shape[0]
    z = np.empty((n, ho, wo, filters), x.dtype) if z is None else z
    y = (np.empty_like(z) if relu else z) if y is None else y
    one_channel_chunk(x.reshape(x.shape[:3]), kernel, bias, has_bias, relu, pads, z is not y,
                      z, y)
    return z, y


def one_channel_chunk(x3, kernel, bias, has_bias, relu, pads, write_z, z, y):
    """conv1ch_rows_kernel on images x3 (n, H, W) (kernel as stored: (kh, kw, 1, F))."""
    (top, _), (left, _) = pads
    kh, kw, _, filters = kernel.shape
    wt = np.ascontiguousarray(kernel.reshape(kh * kw, filters).T)
    conv1ch_rows_kernel(x3, kh, kw, int(top), int(left), wt, bias, has_bias, relu, write_z,
                        z, y)


@njit(cache=True, nogil=True)
def bias_act_kernel(z2, bias, has_bias, relu, y2):
    """z2 += bias (if has_bias); y2 = max(z2, 0) (if relu). One pass over (M, F); y2 must be
    a different array from z2 (in place: bias_act_inplace_kernel)."""
    m, f = z2.shape
    for r in range(m):
        z = z2[r]
        y = y2[r]
        for k in range(f):
            v = z[k] + bias[k] if has_bias else z[k]
            z[k] = v
            if relu:
                y[k] = v if v > 0 else 0


@njit(cache=True, nogil=True)
def bias_act_inplace_kernel(z2, bias, has_bias, relu):
    """z2 = max(z2 + bias, 0) in place (without the bias / the max as asked). Its own kernel
    because with y2 = z2, bias_act_kernel's loop cannot be vectorized (Numba must assume
    that the two rows overlap): (3872, 64) float32 0.135 -> 0.019 ms."""
    m, f = z2.shape
    for r in range(m):
        z = z2[r]
        for k in range(f):
            v = z[k] + bias[k] if has_bias else z[k]
            z[k] = v if (v > 0 or not relu) else 0


@njit(cache=True, nogil=True)
def relu_backward_kernel(z2, dy2, dz2, db, has_bias):
    """dz2 = dy2 where z2 > 0 else 0 (TF's ReLU gradient); db = column sums of dz2."""
    m, f = z2.shape
    acc = np.zeros(f)                          # float64 accumulators
    for r in range(m):
        for k in range(f):
            g = dy2[r, k] if z2[r, k] > 0 else 0
            dz2[r, k] = g
            acc[k] += g
    if has_bias:
        for k in range(f):
            db[k] = acc[k]


@njit(cache=True, nogil=True)
def column_sums_kernel(dz2, db):
    """db[k] = sum_r dz2[r, k], accumulated in float64."""
    m, f = dz2.shape
    acc = np.zeros(f)
    for r in range(m):
        for k in range(f):
            acc[k] += dz2[r, k]
    for k in range(f):
        db[k] = acc[k]


# ---------------------------------------------------------------- checked Python wrappers
def _check_float(name, a, dtype=None):
    a = np.asarray(a)
    if a.dtype not in _FLOATS:
        raise TypeError(f"conv2d: {name} must be float32 or float64, received {a.dtype}")
    if dtype is not None and a.dtype != dtype:
        raise TypeError(f"conv2d: {name} has dtype {a.dtype}, expected {dtype} like the input")
    return np.ascontiguousarray(a)


def reuse_or_new(buf, shape, dtype):
    """`buf` when it already has this shape and dtype (and is contiguous), else a new array."""
    if (buf is not None and buf.shape == tuple(shape) and buf.dtype == dtype
            and buf.flags.c_contiguous):
        return buf
    return np.empty(shape, dtype)


def geometry(x_shape, kernel_shape, strides, pads, dilation):
    """(Ho, Wo) for x (n, H, W, C) and kernel (kh, kw, C, F), with checks."""
    if len(x_shape) != 4 or len(kernel_shape) != 4:
        raise ValueError(f"conv2d: x must be (n, H, W, C) and kernel (kh, kw, C, F), "
                         f"received {tuple(x_shape)} and {tuple(kernel_shape)}")
    if x_shape[3] != kernel_shape[2]:
        raise ValueError(f"conv2d: x has {x_shape[3]} channels, the kernel {tuple(kernel_shape)} "
                         f"expects {kernel_shape[2]}")
    (top, bottom), (left, right) = pads
    out = []
    for size, before, after, k, s, d in ((x_shape[1], top, bottom, kernel_shape[0], strides[0],
                                          dilation[0]),
                                         (x_shape[2], left, right, kernel_shape[1], strides[1],
                                          dilation[1])):
        length = (size + before + after - ((k - 1) * d + 1)) // s + 1
        if length <= 0:
            raise ValueError(f"conv2d: empty output for input {tuple(x_shape)}, kernel "
                             f"{tuple(kernel_shape)}, strides {tuple(strides)}, dilation "
                             f"{tuple(dilation)}, padding {tuple(pads)}")
        out.append(int(length))
    return tuple(out)


def _geometry_args(kernel_shape, strides, pads, dilation, out_hw):
    (top, _), (left, _) = pads
    return (int(kernel_shape[0]), int(kernel_shape[1]), int(strides[0]), int(strides[1]),
            int(dilation[0]), int(dilation[1]), int(top), int(left), int(out_hw[0]),
            int(out_hw[1]))


def _is_pointwise(kernel_shape, strides, pads):
    """1x1 kernel, stride 1, no padding: cols is x itself, reshaped."""
    return (kernel_shape[:2] == (1, 1) and tuple(strides) == (1, 1)
            and tuple(pads) == ((0, 0), (0, 0)))


def im2col(x, kernel_shape, strides, pads, dilation, out=None):
    """cols (n*Ho*Wo, kh*kw*C) for x (n, H, W, C); `out` is reused when it fits."""
    x = _check_float("x", x)
    kernel_shape = tuple(kernel_shape)
    ho, wo = geometry(x.shape, kernel_shape, strides, pads, dilation)
    n, h, w, c = x.shape
    if _is_pointwise(kernel_shape, strides, pads):
        return x.reshape(n * h * w, c)
    cols = new_cols(n * ho * wo, kernel_shape[0] * kernel_shape[1] * c, x.dtype, c, reuse=out)
    fill_cols(x.reshape(n, h, w * c), c,
              _geometry_args(kernel_shape, strides, pads, dilation, (ho, wo)), cols)
    return cols


def col2im(dcols, x_shape, kernel_shape, strides, pads, dilation):
    """dL/dx (n, H, W, C) from dL/dcols: the adjoint of `im2col`."""
    kernel_shape = tuple(kernel_shape)
    n, h, w, c = x_shape
    ho, wo = geometry(x_shape, kernel_shape, strides, pads, dilation)
    dcols = _check_float("dcols", dcols)
    expected = (n * ho * wo, kernel_shape[0] * kernel_shape[1] * c)
    if dcols.shape != expected:
        raise ValueError(f"conv2d: dcols has shape {dcols.shape}, expected {expected}")
    if _is_pointwise(kernel_shape, strides, pads):
        return dcols.reshape(n, h, w, c).copy()
    dx = np.empty((n, h, w, c), dcols.dtype)
    col2im_kernel(dcols, c, *_geometry_args(kernel_shape, strides, pads, dilation, (ho, wo)),
                  dx.reshape(n, h, w * c), True)
    return dx


def conv2d_forward(x, kernel, bias, strides, pads, dilation, cols=None):
    """(z, cols): z = conv(x, kernel) + bias (n, Ho, Wo, F), and the im2col matrix for backward.

    `bias` may be None. `cols` is a buffer reused when its shape and dtype fit.
    """
    x = _check_float("x", x)
    kernel = _check_float("kernel", kernel, x.dtype)
    ho, wo = geometry(x.shape, kernel.shape, strides, pads, dilation)
    cols = im2col(x, kernel.shape, strides, pads, dilation, out=cols)
    filters = kernel.shape[3]
    z2 = cols @ kernel.reshape(-1, filters)                     # (M, K) @ (K, F)
    if bias is not None:
        bias = _check_float("bias", bias, x.dtype)
        if bias.shape != (filters,):
            raise ValueError(f"conv2d: bias has shape {bias.shape}, expected {(filters,)}")
        bias_act_inplace_kernel(z2, bias, True, False)
    return z2.reshape(x.shape[0], ho, wo, filters), cols


def conv2d_backward(x, kernel, dz, strides, pads, dilation, need_input_grad=True, cols=None):
    """(dL/dx or None, dL/dkernel, dL/dbias), given dz = dL/dz (n, Ho, Wo, F).

    `cols` is forward's im2col matrix of x; recomputed when not given.
    """
    x = _check_float("x", x)
    kernel = _check_float("kernel", kernel, x.dtype)
    dz = _check_float("dz", dz, x.dtype)
    ho, wo = geometry(x.shape, kernel.shape, strides, pads, dilation)
    filters = kernel.shape[3]
    if dz.shape != (x.shape[0], ho, wo, filters):
        raise ValueError(f"conv2d: dz has shape {dz.shape}, "
                         f"expected {(x.shape[0], ho, wo, filters)}")
    if cols is None:
        cols = im2col(x, kernel.shape, strides, pads, dilation)
    dz2 = dz.reshape(-1, filters)
    dkernel = np.empty_like(kernel)
    np.matmul(cols.T, dz2, out=dkernel.reshape(-1, filters))    # (K, M) @ (M, F)
    dbias = np.empty(filters, x.dtype)
    column_sums_kernel(dz2, dbias)
    if not need_input_grad:
        return None, dkernel, dbias
    dcols = dz2 @ kernel.reshape(-1, filters).T                 # (M, F) @ (F, K)
    return col2im(dcols, x.shape, kernel.shape, strides, pads, dilation), dkernel, dbias

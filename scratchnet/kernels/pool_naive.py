r"""Max and average pooling, spelled out with loops: the reference for `pool_fast`.

Layout NHWC (channels last). For output position (p, q) the window covers input rows
``p*sh - top ... p*sh - top + kh - 1`` and columns ``q*sw - left ... q*sw - left + kw - 1``;
`top` and `left` are TF's SAME padding before the data (0 for VALID, see layers/padding.py).
Cells outside the input are padding, and padding never takes part: the loops below simply
visit only the REAL cells of each window,

    rows i = max(p*sh - top, 0) ... min(p*sh - top + kh, H) - 1      (likewise columns j)

Max pooling, as TensorFlow's two CPU kernels do it:

    y[b,p,q,c]      = max(lowest, max over real (i, j) of x[b,i,j,c])
                      (MaxPool: start at the lowest finite number, keep a value only if it is
                      strictly larger, so NaN never wins and an all -inf window gives `lowest`)
    argmax[b,p,q,c] = i*W + j of the FIRST real cell, in row-major order, holding the window's
                      largest value (MaxPoolGrad: start at the window's first cell, move only
                      to a strictly larger value; ties -- e.g. the all-zero windows that ReLU
                      leaves behind -- go to the first one)
    dx[b,i,j,c]     = sum over windows (p, q) whose argmax is (i, j) of dy[b,p,q,c]

So the whole gradient of a window goes to ONE cell; with overlapping windows (strides < pool
size) a cell may collect from several windows, added in row-major (p, q) order.

Average pooling divides by the number of real cells n(p, q) (TF's SAME average ignores
padding instead of counting it as zeros):

    y[b,p,q,c]  = (sum over real (i, j) of x[b,i,j,c]) / n(p, q)
    dx[b,i,j,c] = sum over windows (p, q) containing (i, j) of dy[b,p,q,c] * (1 / n(p, q))

TF's AvgPoolGrad multiplies by the reciprocal, computed in double and rounded to the dtype,
and adds in the same (p, q) order as here; copying that makes dL/dx agree with it to the last
bit (dividing instead differs by an ulp per term, which grows to hundreds of ulps where
overlapping contributions cancel). One TF path differs: with oneDNN on (the x86 default),
float32 AvgPoolGrad divides and adds columns right to left; that stays within tolerance
(largest relative error seen: ~2e-6) and is not copied.

The loops run over batch, output rows, output columns and window cells; each step works on
the vector of C channels at once (the channels never interact). The order of every sum is
the one `pool_fast` uses, so the two agree bit for bit.
"""
import numpy as np


def window_range(p, stride, pad_before, size, length):
    """Real cells [lo, hi) of window number p along one axis of `length` cells."""
    start = p * stride - pad_before
    return max(start, 0), min(start + size, length)


def max_pool_forward(x, pool_size, strides, pads, out_hw):
    """y (N, Ho, Wo, C) and argmax (same shape, int32: i*W + j of the routed cell)."""
    n, h, w, c = x.shape
    (kh, kw), (sh, sw), (top, left), (ho, wo) = pool_size, strides, pads, out_hw
    lowest = np.finfo(x.dtype).min
    y = np.empty((n, ho, wo, c), x.dtype)
    argmax = np.empty((n, ho, wo, c), np.int32)
    for b in range(n):
        for p in range(ho):
            i_lo, i_hi = window_range(p, sh, top, kh, h)
            for q in range(wo):
                j_lo, j_hi = window_range(q, sw, left, kw, w)
                out = np.full(c, lowest, x.dtype)     # MaxPool's running max
                best = x[b, i_lo, j_lo].copy()        # MaxPoolGrad's running max ...
                arg = np.full(c, i_lo * w + j_lo)     # ... and where it sits
                for i in range(i_lo, i_hi):
                    for j in range(j_lo, j_hi):
                        v = x[b, i, j]
                        out = np.where(v > out, v, out)
                        wins = v > best
                        best = np.where(wins, v, best)
                        arg = np.where(wins, i * w + j, arg)
                y[b, p, q] = out
                argmax[b, p, q] = arg
    return y, argmax


def max_pool_backward(dy, argmax, input_shape):
    """dx: each dy[b,p,q,c] added to the cell argmax[b,p,q,c] of image b, channel c."""
    n, h, w, c = input_shape
    _, ho, wo, _ = dy.shape
    dx = np.zeros((n, h * w, c), dy.dtype)            # rows of the image flattened: i*W + j
    channels = np.arange(c)
    for b in range(n):
        for p in range(ho):
            for q in range(wo):
                # one cell per channel, all different: a plain fancy-index += is safe here
                dx[b, argmax[b, p, q], channels] += dy[b, p, q]
    return dx.reshape(n, h, w, c)


def avg_pool_forward(x, pool_size, strides, pads, out_hw):
    """y (N, Ho, Wo, C): the mean of the real cells of each window."""
    n, h, w, c = x.shape
    (kh, kw), (sh, sw), (top, left), (ho, wo) = pool_size, strides, pads, out_hw
    y = np.empty((n, ho, wo, c), x.dtype)
    for b in range(n):
        for p in range(ho):
            i_lo, i_hi = window_range(p, sh, top, kh, h)
            for q in range(wo):
                j_lo, j_hi = window_range(q, sw, left, kw, w)
                total = np.zeros(c, x.dtype)
                for i in range(i_lo, i_hi):
                    for j in range(j_lo, j_hi):
                        total = total + x[b, i, j]
                count = x.dtype.type((i_hi - i_lo) * (j_hi - j_lo))
                y[b, p, q] = total / count
    return y


def avg_pool_backward(dy, input_shape, pool_size, strides, pads):
    """dx: each window's dy * (1 / n(p, q)) added to every real cell of the window."""
    n, h, w, c = input_shape
    _, ho, wo, _ = dy.shape
    (kh, kw), (sh, sw), (top, left) = pool_size, strides, pads
    dx = np.zeros((n, h, w, c), dy.dtype)
    for b in range(n):
        for p in range(ho):
            i_lo, i_hi = window_range(p, sh, top, kh, h)
            for q in range(wo):
                j_lo, j_hi = window_range(q, sw, left, kw, w)
                # TF's AvgPoolGrad: dy times 1/n, the reciprocal taken in double, then rounded
                inv_count = dy.dtype.type(1.0 / ((i_hi - i_lo) * (j_hi - j_lo)))
                share = dy[b, p, q] * inv_count
                for i in range(i_lo, i_hi):
                    for j in range(j_lo, j_hi):
                        dx[b, i, j] += share
    return dx

"""The affine warp behind `ImageDataGenerator`'s rotations, shifts, shears and zooms.

Keras's legacy `apply_affine_transform` builds one 3x3 matrix and hands each channel to
`scipy.ndimage.affine_transform(channel, matrix, offset, order=1, mode=fill_mode, cval=cval)`.
That function works *backwards*: for every OUTPUT pixel (i, j) it asks "where in the INPUT
does this pixel come from?"

    (r, c) = matrix @ (i, j) + offset          # a real-valued position in the input

and reads the input there. Three details decide every number, and this module copies them
from scipy (scipy/ndimage/src/ni_interpolation.c) so the result is the same to rounding:

1. **Outside the image** (r below 0 or above h - 1), the position is first folded back in
   according to `fill_mode` (`_map_coordinate` below):
     - "constant": no folding; the whole output pixel becomes `cval`.
     - "nearest":  no folding either; step 3's clamping makes it read the edge  aaaa|abcd|dddd
     - "reflect":  mirror about the pixel edge  dcba|abcd|dcba   (period 2h)
     - "wrap":     scipy's historical wrap, whose period is h - 1, not h: the first and last
                   rows are treated as the same point, so it reads ...b c d|a b c d|b c d...
2. **Bilinear interpolation** (order=1): with r0 = floor(r) and a = r - r0, the value mixes
   rows r0 and r0 + 1 with the weights w0 = 1 - a and w1 = 1 - w0 (scipy computes the last
   weight as "1 minus the others", which is not always the float a); the same along
   columns, so four input pixels weighted (x * row weight) * column weight, summed in the
   order (r0, c0), (r0, c1), (r1, c0), (r1, c1).
3. **A neighbour that falls off the edge** (r0 + 1 = h after folding, or r0 = -1) is folded
   once more, this time by the spline's own boundary rule: whole-sample mirror for
   "constant" and "wrap" (index h reads h - 2), half-sample reflect for "reflect" (index h
   reads h - 1), clamp for "nearest".

`order=0` (nearest neighbour) is the same with r0 = floor(r + 0.5) and weight 1.

`affine_transform_2d` is the readable version, vectorised over the pixels: one array of
source positions per axis, four gathers, one weighted sum. `warp_channels` does the same
arithmetic in one compiled Numba loop over all channels (about 2 ms for a 300x300x3 image
instead of 25 ms); ImageDataGenerator uses that one. Both compute every position, weight
and sum in scipy's order, so they equal scipy's results bit for bit (float32 and float64) in
the tests -- which matters more than it seems: whether a position computed as 6.000000000000001
is inside a 7-row image decides between a pixel and `cval`.
"""
import numpy as np

FILL_MODES = ("constant", "nearest", "reflect", "wrap")


def _map_coordinate(pos, length, mode):
    """Fold real-valued positions `pos` lying outside [0, length - 1] back in (scipy's
    map_coordinate). Returns the folded positions; for "constant", positions outside are
    set to -1, which the caller reads as "use cval"."""
    pos = np.asarray(pos, dtype=np.float64)
    if mode == "nearest":               # scipy leaves these alone; the taps are clamped
        return pos
    low, high = pos < 0, pos > length - 1
    if mode == "constant":
        return np.where(low | high, -1.0, pos)
    if length <= 1:                     # a single row: every position reads it
        return np.where(low | high, 0.0, pos)
    out = pos.copy()
    if mode == "reflect":
        period = 2 * length
        p = pos[low]
        p = np.where(p < -period, period * np.trunc(-p / period) + p, p)
        # scipy nudges -0.0 .. -1e-15 to 1e-15 - 1, so that the result stays above -1
        out[low] = np.where(p < -length, p + period, np.where(p > -1e-15, 1e-15, -p) - 1)
        p = pos[high]
        p = p - period * np.trunc(p / period)
        out[high] = np.where(p >= length, period - p - 1, p)
    elif mode == "wrap":
        period = length - 1             # scipy's 'wrap': first and last samples coincide
        p = pos[low]
        out[low] = p + period * (np.trunc(-p / period) + 1)
        p = pos[high]
        out[high] = p - period * np.trunc(p / period)
    else:
        raise ValueError(f"fill_mode must be one of {FILL_MODES}; received {mode!r}")
    return out


def _fold_index(index, length, mode):
    """Fold an integer neighbour index that fell off the edge (step 3 in the module
    docstring): whole-sample mirror, half-sample reflect, or clamp."""
    if length <= 1:
        return np.zeros_like(index)
    if mode == "nearest":
        return np.clip(index, 0, length - 1)
    if mode == "reflect":                       # ... b a | a b c d | d c ...
        period = 2 * length
        index = np.mod(index, period)
        return np.where(index >= length, period - 1 - index, index)
    period = 2 * length - 2                     # ... c b | a b c d | c b ... (mirror)
    index = np.mod(index, period)
    return np.where(index >= length, period - index, index)


def _axis_taps(pos, length, mode, order):
    """For each output pixel, along one axis: the input indices read and their weights
    (two taps for order 1, one for order 0), and a mask of pixels that take `cval`."""
    folded = _map_coordinate(pos, length, mode)
    use_cval = folded <= -1.0 if mode != "nearest" else np.zeros(folded.shape, bool)
    folded = np.where(use_cval, 0.0, folded)
    if order == 1:
        start = np.floor(folded)
        w0 = 1.0 - (folded - start)
        start = start.astype(np.int64)
        indices = [_fold_index(start, length, mode), _fold_index(start + 1, length, mode)]
        weights = [w0, 1.0 - w0]
    else:
        start = np.floor(folded + 0.5).astype(np.int64)
        indices = [_fold_index(start, length, mode)]
        weights = [np.ones_like(folded)]
    return indices, weights, use_cval


def affine_transform_2d(image, matrix, offset, order=1, mode="nearest", cval=0.0):
    """scipy.ndimage.affine_transform for one 2-D channel, in NumPy.

    Args:
        image: 2-D array (h, w).
        matrix: 2x2 array; the input position of output pixel (i, j) is
            `matrix @ (i, j) + offset`.
        offset: length-2 array.
        order: 1 (bilinear, Keras's default) or 0 (nearest neighbour).
        mode: "constant", "nearest", "reflect" or "wrap" (scipy's meanings, see above).
        cval: the value outside the image in "constant" mode.

    Returns:
        A float64 array with `image`'s shape.
    """
    if order not in (0, 1):
        raise ValueError(f"interpolation_order must be 0 or 1 in scratchnet; received {order!r}")
    if mode not in FILL_MODES:
        raise ValueError(f"fill_mode must be one of {FILL_MODES}; received {mode!r}")
    image = np.asarray(image, dtype=np.float64)
    h, w = image.shape
    matrix = np.asarray(matrix, dtype=np.float64)
    offset = np.asarray(offset, dtype=np.float64)
    i, j = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64),
                       indexing="ij")
    rows = offset[0] + i * matrix[0, 0] + j * matrix[0, 1]   # scipy adds in this order; a
    cols = offset[1] + i * matrix[1, 0] + j * matrix[1, 1]   # position on an edge depends on it
    row_idx, row_w, row_out = _axis_taps(rows, h, mode, order)
    col_idx, col_w, col_out = _axis_taps(cols, w, mode, order)
    result = np.zeros((h, w))
    for ri, rw in zip(row_idx, row_w):          # scipy's order of the taps and of the
        for ci, cw in zip(col_idx, col_w):      # products, so the sums round alike
            result += image[ri, ci] * rw * cw
    return np.where(row_out | col_out, cval, result)


# ---------------------------------------------------------------------------------------------
# The same warp as one compiled loop (what ImageDataGenerator runs)
# ---------------------------------------------------------------------------------------------
# `affine_transform_2d` above is the readable version; it builds several full-size
# temporary arrays per channel (~8 ms for one 300x300 channel). The loop below does the same
# arithmetic, in the same order, pixel by pixel and for all channels at once, without
# temporaries (~1 ms for a 300x300x3 image). tests/test_image_generator.py checks it equal to
# both `affine_transform_2d` and scipy.

from numba import njit  # noqa: E402

_MODE_CODES = {"constant": 0, "nearest": 1, "reflect": 2, "wrap": 3}


@njit(cache=True, nogil=True)
def _map_coordinate_scalar(pos, length, mode):
    """`_map_coordinate` for one position (-1.0 means "use cval")."""
    if mode == 1 or (pos >= 0.0 and pos <= length - 1):  # inside, or "nearest"
        return pos
    if mode == 0:                                      # constant
        return -1.0
    if length <= 1:
        return 0.0
    if mode == 2:                                      # reflect
        period = 2.0 * length
        if pos < 0.0:
            if pos < -period:
                pos = period * np.floor(-pos / period) + pos
            if pos < -length:
                return pos + period
            return (1e-15 if pos > -1e-15 else -pos) - 1.0
        pos = pos - period * np.floor(pos / period)
        return period - pos - 1.0 if pos >= length else pos
    period = float(length - 1)                          # wrap
    if pos < 0.0:
        return pos + period * (np.floor(-pos / period) + 1.0)
    return pos - period * np.floor(pos / period)


@njit(cache=True, nogil=True)
def _fold_index_scalar(index, length, mode):
    """`_fold_index` for one integer index."""
    if length <= 1:
        return 0
    if mode == 1:
        return min(max(index, 0), length - 1)
    if mode == 2:
        period = 2 * length
        index = index % period
        return period - 1 - index if index >= length else index
    period = 2 * length - 2
    index = index % period
    return period - index if index >= length else index


@njit(cache=True, nogil=True)
def _warp_channels(x, out, m00, m01, m10, m11, o0, o1, order, mode, cval):
    """Warp every channel of x (channels, h, w) into out (same shape)."""
    n_channels, h, w = x.shape
    for i in range(h):
        for j in range(w):
            r = _map_coordinate_scalar(o0 + i * m00 + j * m01, h, mode)
            c = _map_coordinate_scalar(o1 + i * m10 + j * m11, w, mode)
            if mode != 1 and (r <= -1.0 or c <= -1.0):
                for ch in range(n_channels):
                    out[ch, i, j] = cval
                continue
            if order == 0:
                ri = _fold_index_scalar(int(np.floor(r + 0.5)), h, mode)
                ci = _fold_index_scalar(int(np.floor(c + 0.5)), w, mode)
                for ch in range(n_channels):
                    out[ch, i, j] = 0.0 + x[ch, ri, ci]
                continue
            r_start = np.floor(r)
            c_start = np.floor(c)
            wr0 = 1.0 - (r - r_start)
            wr1 = 1.0 - wr0
            wc0 = 1.0 - (c - c_start)
            wc1 = 1.0 - wc0
            r0 = _fold_index_scalar(int(r_start), h, mode)
            r1 = _fold_index_scalar(int(r_start) + 1, h, mode)
            c0 = _fold_index_scalar(int(c_start), w, mode)
            c1 = _fold_index_scalar(int(c_start) + 1, w, mode)
            for ch in range(n_channels):
                t = 0.0
                t += float(x[ch, r0, c0]) * wr0 * wc0
                t += float(x[ch, r0, c1]) * wr0 * wc1
                t += float(x[ch, r1, c0]) * wr1 * wc0
                t += float(x[ch, r1, c1]) * wr1 * wc1
                out[ch, i, j] = t


def warp_channels(x, matrix, offset, order=1, mode="nearest", cval=0.0):
    """`affine_transform_2d` applied to every channel of x (channels, h, w) at once, by the
    compiled loop. Float input; returns an array of x's dtype."""
    if order not in (0, 1):
        raise ValueError(f"interpolation_order must be 0 or 1 in scratchnet; received {order!r}")
    if mode not in FILL_MODES:
        raise ValueError(f"fill_mode must be one of {FILL_MODES}; received {mode!r}")
    x = np.ascontiguousarray(x)
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    out = np.empty_like(x)
    m = np.asarray(matrix, dtype=np.float64)
    o = np.asarray(offset, dtype=np.float64)
    _warp_channels(x, out, m[0, 0], m[0, 1], m[1, 0], m[1, 1], o[0], o[1], order,
                   _MODE_CODES[mode], float(cval))
    return out

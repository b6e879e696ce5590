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
     - "nearest":  clamp to the edge           aaaa|abcd|dddd
     - "reflect":  mirror about the pixel edge  dcba|abcd|dcba   (period 2h)
     - "wrap":     scipy's historical wrap, whose period is h - 1, not h: the first and last
                   rows are treated as the same point, so it reads ...b c d|a b c d|b c d...
2. **Bilinear interpolation** (order=1): with r0 = floor(r) and weight a = r - r0, the value
   mixes rows r0 and r0 + 1 as (1 - a) * x[r0] + a * x[r0 + 1]; the same along columns, so
   four input pixels with weights (1 - a)(1 - b), (1 - a) b, a (1 - b), a b.
3. **A neighbour that falls off the edge** (r0 + 1 = h after folding, or r0 = -1) is folded
   once more, this time by the spline's own boundary rule: whole-sample mirror for
   "constant" and "wrap" (index h reads h - 2), half-sample reflect for "reflect" (index h
   reads h - 1), clamp for "nearest".

`order=0` (nearest neighbour) is the same with r0 = floor(r + 0.5) and weight 1.

Everything is vectorised over the pixels: one array of source positions per axis, four
gathers, one weighted sum. The work is O(pixels) and NumPy's gathers are fast enough for the
300x300 images of the course (a few milliseconds per image).
"""
import numpy as np

FILL_MODES = ("constant", "nearest", "reflect", "wrap")


def _map_coordinate(pos, length, mode):
    """Fold real-valued positions `pos` lying outside [0, length - 1] back in (scipy's
    map_coordinate). Returns the folded positions; for "constant", positions outside are
    set to -1, which the caller reads as "use cval"."""
    pos = np.asarray(pos, dtype=np.float64)
    if mode == "nearest":
        return np.clip(pos, 0, length - 1)
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
        out[low] = np.where(p < -length, p + period, -p - 1)
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
    use_cval = folded <= -1.0
    if order == 1:
        start = np.floor(folded)
        frac = folded - start
        start = start.astype(np.int64)
        indices = [_fold_index(start, length, mode), _fold_index(start + 1, length, mode)]
        weights = [1.0 - frac, frac]
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
    rows = i * matrix[0, 0] + j * matrix[0, 1] + offset[0]
    cols = i * matrix[1, 0] + j * matrix[1, 1] + offset[1]
    row_idx, row_w, row_out = _axis_taps(rows, h, mode, order)
    col_idx, col_w, col_out = _axis_taps(cols, w, mode, order)
    result = np.zeros((h, w))
    for ri, rw in zip(row_idx, row_w):          # scipy's order of the taps and of the
        for ci, cw in zip(col_idx, col_w):      # products, so the sums round alike
            result += image[ri, ci] * rw * cw
    if mode == "constant":
        result = np.where(row_out | col_out, cval, result)
    return result

r"""Pooling layers: `MaxPooling2D` (`MaxPool2D`), `AveragePooling2D` (`AvgPool2D`),
`GlobalAveragePooling2D`, `GlobalMaxPooling2D`. No weights: they shrink feature maps.

Lectures: ML Zero to Hero 3 and Coursera C1 W3 (`Conv2D(64, (3,3))` then `MaxPooling2D(2, 2)`:
(None, 26, 26, 64) -> (None, 13, 13, 64), and the by-hand 2x2 max pooling that keeps the
largest of each 2x2 block); Hands-On CV ch. 3 (LeNet-5 with `MaxPool2D` / `AveragePooling2D`);
the university course (`MaxPool2D(pool_size=(2, 2), strides=(2, 2), padding='SAME')`:
(1, 28, 28, 3) -> (1, 14, 14, 3), and an odd 7x7 -> 4x4).

Shapes (channels last; k = pool_size, s = strides, which default to k):

    x: (n, H, W, C)  ->  y: (n, Ho, Wo, C)      Ho, Wo from layers/padding.py:
        'valid':  Ho = floor((H - kh) / sh) + 1     (the window must fit; empty -> error)
        'same':   Ho = ceil(H / sh), padded TF-style (the odd extra row/column at the
                  bottom/right)

For output (p, q) and channel c, with R(p, q) the REAL input cells of the window (padding is
never part of a window's max or average):

    max:      y[p,q] = max_{(i,j) in R} x[i,j]
              dL/dx[i,j] = sum of dL/dy[p,q] over the windows whose argmax is (i, j); the
              argmax is the FIRST largest cell in row-major order (TF's MaxPoolGrad), so on
              ties -- all-zero windows after ReLU -- one cell gets the whole gradient
    average:  y[p,q] = (1 / |R(p,q)|) sum_{(i,j) in R} x[i,j]
              dL/dx[i,j] = sum over windows containing (i, j) of dL/dy[p,q] * (1 / |R(p,q)|)

(|R| is the number of real cells: with 'same', TF averages border windows over fewer cells
rather than counting the padding as zeros.) The loops are in scratchnet/kernels/pool_naive.py
(readable) and pool_fast.py (Numba, what these layers run); see there for edge cases
(NaN, -inf) that follow TF's kernels too.

Global pooling reduces all of H and W: (n, H, W, C) -> (n, C), or (n, 1, 1, C) with
keepdims=True:

    average:  y[c] = mean_{i,j} x[i,j,c]           dL/dx[i,j,c] = dL/dy[c] / (H W)
    max:      y[c] = max_{i,j} x[i,j,c]            dL/dx[i,j,c] = dL/dy[c] [x[i,j,c] = y[c]] / m[c]

where m[c] counts the cells equal to the max: unlike MaxPooling2D, TF differentiates
`reduce_max` by splitting the gradient EQUALLY among tied maxima.
"""
import numpy as np

from scratchnet import backend
from scratchnet.engine import workspace
from scratchnet.kernels import pool_fast
from scratchnet.layers.base import Layer
from scratchnet.layers.padding import normalize_padding, normalize_tuple, output_length, paddings

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def normalize_data_format(data_format, what):
    """None or 'channels_last' (any case) -> 'channels_last'; anything else: a clear error."""
    if data_format is None:
        return "channels_last"
    value = str(data_format).lower()
    if value == "channels_last":
        return value
    if value == "channels_first":
        raise ValueError(
            f"{what}: data_format='channels_first' is not supported; scratchnet layers are "
            f"'channels_last' only: inputs of shape (batch, height, width, channels)"
        )
    raise ValueError(f"{what}: data_format must be 'channels_last' or 'channels_first', "
                     f"received {data_format!r}")


def _as_images(layer, x):
    """x as a C-contiguous float array of rank 4, or a clear error."""
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(
            f"Input of layer {layer.name!r} ({type(layer).__name__}) must have rank 4 "
            f"(batch, height, width, channels), received shape {x.shape}"
        )
    if x.dtype not in _FLOATS:
        x = x.astype(layer.dtype or backend.floatx())
    return np.ascontiguousarray(x)


def _check_rank(layer, input_shape):
    if len(input_shape) != 4:
        raise ValueError(
            f"Input of layer {layer.name!r} ({type(layer).__name__}) must have rank 4 "
            f"(batch, height, width, channels), received shape {tuple(input_shape)}"
        )


def _as_upstream(layer, dy, shape, dtype):
    dy = np.asarray(dy)
    if dy.shape != shape:
        raise ValueError(f"{type(layer).__name__} {layer.name!r}: backward expected dL/dy of "
                         f"shape {shape}, received {dy.shape}")
    return np.ascontiguousarray(dy, dtype=dtype)


class _Pooling2D(Layer):
    """Shared by MaxPooling2D and AveragePooling2D: arguments, shapes, checks."""

    _keras_builds_at_init = True

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None,
                 name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        what = f"{type(self).__name__}"
        self.pool_size = normalize_tuple(pool_size, 2, f"{what}: pool_size")
        self.strides = (self.pool_size if strides is None
                        else normalize_tuple(strides, 2, f"{what}: strides"))
        self.padding = normalize_padding(padding, what)
        self.data_format = normalize_data_format(data_format, what)

    def _output_hw(self, h, w):
        return tuple(output_length(n, k, s, self.padding)
                     for n, k, s in zip((h, w), self.pool_size, self.strides))

    def compute_output_shape(self, input_shape):
        _check_rank(self, input_shape)
        n, h, w, c = input_shape
        ho, wo = self._output_hw(h, w)
        if ho == 0 or wo == 0:
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: pool_size {self.pool_size} with strides "
                f"{self.strides} and padding {self.padding!r} does not fit in inputs of shape "
                f"{tuple(input_shape)}: the output would be {(n, ho, wo, c)} (empty). Use "
                f"padding='same', a smaller pool_size, or larger inputs."
            )
        return (n, ho, wo, c)

    def build(self, input_shape):
        self.compute_output_shape(input_shape)   # rank and empty-output checks

    def _input_spec(self):
        return 4, {}

    def _window(self, shape):
        """pads (top, left) and output (Ho, Wo) for inputs of this shape; checks the output
        is not empty."""
        self.compute_output_shape(shape)
        (top, _), (left, _) = paddings(shape[1:3], self.pool_size, self.strides, self.padding)
        return (top, left), self._output_hw(*shape[1:3])

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "padding": self.padding,
                "strides": self.strides, "data_format": self.data_format}


class MaxPooling2D(_Pooling2D):
    """The largest value of each pool_size window; dL/dy goes to that one cell."""

    def forward(self, x, training=False):
        x = _as_images(self, x)
        pads, out_hw = self._window(x.shape)
        n, c = x.shape[0], x.shape[3]
        # inference keeps no argmax (a backward after it computes one from x)
        y, argmax = pool_fast.max_pool_forward(
            x, self.pool_size, self.strides, pads, out_hw,
            out=workspace.array("y", (n, *out_hw, c), x.dtype), with_argmax=training)
        return y, (x.shape, argmax, None if training else x)

    def _backward_tiles(self, shape):
        """pool_size when the windows tile inputs of `shape` exactly (2x2 pooling of even
        sizes) and there are enough channels to fill the vector loop: then backward is one
        pass (see pool_fast._max_pool_backward_tiled); else None."""
        pads, out_hw = self._window(shape)
        tiled = (pool_fast.tiles_exactly(shape, self.pool_size, self.strides, pads, out_hw)
                 and shape[3] >= 16)
        return self.pool_size if tiled else None

    def backward(self, dy, cache, need_input_grad=True):
        if not need_input_grad:
            return None
        x_shape, argmax, x = cache
        if argmax is None:                       # after an inference pass
            pads, out_hw = self._window(x_shape)
            _, argmax = pool_fast.max_pool_forward(x, self.pool_size, self.strides, pads,
                                                   out_hw)
        dy = _as_upstream(self, dy, argmax.shape, self.dtype or backend.floatx())
        return pool_fast.max_pool_backward(dy, argmax, x_shape, self._backward_tiles(x_shape),
                                           out=workspace.array("dx", x_shape, dy.dtype))


class AveragePooling2D(_Pooling2D):
    """The mean of the real cells of each pool_size window."""

    def forward(self, x, training=False):
        x = _as_images(self, x)
        pads, out_hw = self._window(x.shape)
        y = pool_fast.avg_pool_forward(x, self.pool_size, self.strides, pads, out_hw)
        return y, (x.shape, y.shape, pads)

    def backward(self, dy, cache, need_input_grad=True):
        if not need_input_grad:
            return None
        x_shape, y_shape, pads = cache
        dy = _as_upstream(self, dy, y_shape, self.dtype or backend.floatx())
        return pool_fast.avg_pool_backward(dy, x_shape, self.pool_size, self.strides, pads)


class _GlobalPooling2D(Layer):
    _keras_builds_at_init = True

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format, type(self).__name__)
        self.keepdims = bool(keepdims)

    def build(self, input_shape):
        _check_rank(self, input_shape)

    def _input_spec(self):
        return 4, {}

    def compute_output_shape(self, input_shape):
        _check_rank(self, input_shape)
        n, _, _, c = input_shape
        return (n, 1, 1, c) if self.keepdims else (n, c)

    def _upstream(self, dy, x_shape):
        """dL/dy as (n, 1, 1, C), which broadcasts against x."""
        n, _, _, c = x_shape
        shape = (n, 1, 1, c) if self.keepdims else (n, c)
        return _as_upstream(self, dy, shape, self.dtype or backend.floatx()).reshape(n, 1, 1, c)

    def _output(self, y):
        return y if self.keepdims else y.reshape(y.shape[0], y.shape[3])

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format,
                "keepdims": self.keepdims}


class GlobalAveragePooling2D(_GlobalPooling2D):
    """The mean of each channel over the whole image (often in place of Flatten)."""

    def forward(self, x, training=False):
        x = _as_images(self, x)
        # accumulate in float64 (as exact as we can cheaply be), round once to x's dtype
        y = x.mean(axis=(1, 2), keepdims=True, dtype=np.float64).astype(x.dtype)
        return self._output(y), x.shape

    def backward(self, dy, cache, need_input_grad=True):
        if not need_input_grad:
            return None
        x_shape = cache
        dy = self._upstream(dy, x_shape)
        count = dy.dtype.type(x_shape[1] * x_shape[2])
        dx = np.empty(x_shape, dy.dtype)
        dx[...] = dy / count                     # TF's mean gradient: dy / (H W), broadcast
        return dx


class GlobalMaxPooling2D(_GlobalPooling2D):
    """The largest value of each channel over the whole image."""

    def forward(self, x, training=False):
        x = _as_images(self, x)
        y = x.max(axis=(1, 2), keepdims=True)
        return self._output(y), (x, y)

    def backward(self, dy, cache, need_input_grad=True):
        if not need_input_grad:
            return None
        x, y = cache
        dy = self._upstream(dy, x.shape)
        # TF's reduce_max gradient, operation for operation: indicators / count * dy
        hits = (x == y).astype(dy.dtype)
        count = hits.sum(axis=(1, 2), keepdims=True)
        with np.errstate(invalid="ignore"):      # a NaN max: 0 / 0 = NaN, as in TF
            return hits / count * dy


MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D

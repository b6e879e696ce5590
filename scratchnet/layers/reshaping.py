"""Layers that move numbers around without weights: `Reshape`, `Permute`, `ZeroPadding2D`,
`Cropping2D`, `UpSampling2D`. The batch axis is never touched; shapes below are per sample.

    Reshape(target_shape)      (n, *s) -> (n, *target_shape)   (one -1 allowed)
                               backward: dy reshaped back
    Permute(dims)              axes reordered, dims numbered from 1 (Permute((2, 1)) swaps
                               the two sample axes); backward: the inverse order
    ZeroPadding2D(padding)     (n, H, W, C) -> (n, top+H+bottom, left+W+right, C), zeros
                               around; backward: the middle of dy
    Cropping2D(cropping)       the inverse: rows/columns cut off; backward: dy put back in
                               the middle of zeros
    UpSampling2D(size)         each pixel repeated size[0] x size[1] times ('nearest');
                               backward: each block of dy summed onto its pixel

`padding` / `cropping`: an int (all four sides), (rows, cols) (symmetric), or
((top, bottom), (left, right)), as in Keras; channels_last only.
"""
import numpy as np

from scratchnet.layers.base import Layer
from scratchnet.layers.pooling import normalize_data_format


def _rank4(layer, input_shape):
    if len(input_shape) != 4:
        raise ValueError(f"Input of layer {layer.name!r} ({type(layer).__name__}) must have "
                         f"rank 4 (batch, height, width, channels), received shape "
                         f"{tuple(input_shape)}")


def _sides(value, what):
    """Keras's forms of a 2-D padding/cropping as ((top, bottom), (left, right))."""
    def count(v):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"{what} must be made of non-negative ints, received {value!r}")
        return int(v)

    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return ((count(value),) * 2,) * 2
    if isinstance(value, (tuple, list)) and len(value) == 2:
        if all(isinstance(v, (tuple, list)) and len(v) == 2 for v in value):
            return tuple((count(a), count(b)) for a, b in value)
        if all(not isinstance(v, (tuple, list)) for v in value):
            return tuple((count(v), count(v)) for v in value)
    raise ValueError(f"{what} must be an int, a tuple of 2 ints, or a tuple of 2 tuples of "
                     f"2 ints ((top, bottom), (left, right)), received {value!r}")


class Reshape(Layer):
    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        try:
            target = tuple(int(d) for d in target_shape)
        except TypeError:
            raise TypeError(f"Reshape: target_shape must be a tuple of ints, received "
                            f"{target_shape!r}") from None
        if sum(d == -1 for d in target) > 1 or any(d == 0 or d < -1 for d in target):
            raise ValueError(f"Reshape: target_shape may hold positive sizes and at most one "
                             f"-1, received {target_shape!r}")
        self.target_shape = target

    def compute_output_shape(self, input_shape):
        size = None if any(d is None for d in input_shape[1:]) else int(
            np.prod(input_shape[1:], dtype=np.int64))
        target = list(self.target_shape)
        known = int(np.prod([d for d in target if d != -1], dtype=np.int64))
        if -1 in target:
            if size is not None:
                if size % known:
                    self._refuse(input_shape)
                target[target.index(-1)] = size // known
            else:
                target[target.index(-1)] = None
        elif size is not None and size != known:
            self._refuse(input_shape)
        return (input_shape[0],) + tuple(target)

    def _refuse(self, input_shape):
        raise ValueError(f"Reshape {self.name!r}: the input shape {tuple(input_shape)} cannot "
                         f"be reshaped to target_shape {self.target_shape} (the number of "
                         "values per sample differs)")

    def forward(self, x, training=False):
        self.compute_output_shape((None,) + x.shape[1:])
        return x.reshape((x.shape[0],) + self.target_shape), x.shape

    def backward(self, dy, cache, need_input_grad=True):
        return dy.reshape(cache)

    def get_config(self):
        return {**super().get_config(), "target_shape": self.target_shape}


class Permute(Layer):
    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        dims = tuple(int(d) for d in dims)
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(f"Permute: dims must be a permutation of 1..{len(dims)} (axis 0, "
                             f"the batch, stays first), received {dims}")
        self.dims = dims

    def compute_output_shape(self, input_shape):
        if len(input_shape) != len(self.dims) + 1:
            raise ValueError(f"Permute {self.name!r}: dims {self.dims} need inputs of rank "
                             f"{len(self.dims) + 1}, received shape {tuple(input_shape)}")
        return (input_shape[0],) + tuple(input_shape[d] for d in self.dims)

    def forward(self, x, training=False):
        return np.transpose(x, (0,) + self.dims), None

    def backward(self, dy, cache, need_input_grad=True):
        return np.transpose(dy, np.argsort((0,) + self.dims))

    def get_config(self):
        return {**super().get_config(), "dims": self.dims}


class ZeroPadding2D(Layer):
    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = _sides(padding, "ZeroPadding2D: padding")
        self.data_format = normalize_data_format(data_format, "ZeroPadding2D")

    def compute_output_shape(self, input_shape):
        _rank4(self, input_shape)
        n, h, w, c = input_shape
        (top, bottom), (left, right) = self.padding
        return (n, None if h is None else h + top + bottom,
                None if w is None else w + left + right, c)

    def forward(self, x, training=False):
        (top, bottom), (left, right) = self.padding
        return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0))), x.shape

    def backward(self, dy, cache, need_input_grad=True):
        (top, _), (left, _) = self.padding
        _, h, w, _ = cache
        return dy[:, top:top + h, left:left + w, :]

    def get_config(self):
        return {**super().get_config(), "padding": self.padding,
                "data_format": self.data_format}


class Cropping2D(Layer):
    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.cropping = _sides(cropping, "Cropping2D: cropping")
        self.data_format = normalize_data_format(data_format, "Cropping2D")

    def compute_output_shape(self, input_shape):
        _rank4(self, input_shape)
        n, h, w, c = input_shape
        (top, bottom), (left, right) = self.cropping
        out_h = None if h is None else h - top - bottom
        out_w = None if w is None else w - left - right
        if (out_h is not None and out_h <= 0) or (out_w is not None and out_w <= 0):
            raise ValueError(f"Cropping2D {self.name!r}: cropping {self.cropping} leaves "
                             f"nothing of inputs of shape {tuple(input_shape)}")
        return (n, out_h, out_w, c)

    def forward(self, x, training=False):
        (top, bottom), (left, right) = self.cropping
        self.compute_output_shape(x.shape)
        h, w = x.shape[1:3]
        return x[:, top:h - bottom, left:w - right, :], x.shape

    def backward(self, dy, cache, need_input_grad=True):
        (top, _), (left, _) = self.cropping
        dx = np.zeros(cache, dy.dtype)
        dx[:, top:top + dy.shape[1], left:left + dy.shape[2], :] = dy
        return dx

    def get_config(self):
        return {**super().get_config(), "cropping": self.cropping,
                "data_format": self.data_format}


class UpSampling2D(Layer):
    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        from scratchnet.layers.padding import normalize_tuple
        self.size = normalize_tuple(size, 2, "UpSampling2D: size")
        self.data_format = normalize_data_format(data_format, "UpSampling2D")
        if interpolation != "nearest":
            raise ValueError(f"UpSampling2D: only interpolation='nearest' (Keras's default) is "
                             f"supported, received {interpolation!r}")
        self.interpolation = interpolation

    def compute_output_shape(self, input_shape):
        _rank4(self, input_shape)
        n, h, w, c = input_shape
        sh, sw = self.size
        return (n, None if h is None else h * sh, None if w is None else w * sw, c)

    def forward(self, x, training=False):
        sh, sw = self.size
        return np.repeat(np.repeat(x, sh, axis=1), sw, axis=2), None

    def backward(self, dy, cache, need_input_grad=True):
        n, h2, w2, c = dy.shape
        sh, sw = self.size
        return dy.reshape(n, h2 // sh, sh, w2 // sw, sw, c).sum(axis=(2, 4))

    def get_config(self):
        return {**super().get_config(), "size": self.size, "data_format": self.data_format,
                "interpolation": self.interpolation}

"""`Conv2D`: the 2-D convolution layer, y = f(conv(x, w) + b).

Lectures: the university course (`Conv2D(3, 3, 1, 'SAME')` on a 28x28x1 image -> 28x28x3,
kernel (3, 3, 1, 3)); Coursera C1 W3 (`Conv2D(64, (3, 3), activation='relu',
input_shape=(28, 28, 1))`: output (None, 26, 26, 64), 640 parameters); Hands-On CV ch. 3
(LeNet-5, padding, strides); Python ML ch. 15 (Conv2D(32, (5, 5)) -> pool -> Conv2D(64, (5, 5))).

Shapes (channels last, like Keras's default; n = batch, C = input channels, F = filters):

    x: (n, H, W, C)   kernel w: (kh, kw, C, F)   bias b: (F,)   z, y: (n, Ho, Wo, F)

Every output number is a dot product of one kh x kw x C window of the (zero-padded) input
with one filter, plus that filter's bias:

    z[n, p, q, f] = b[f] + sum_{i, j, c} xp[n, p*sh + i*dh, q*sw + j*dw, c] * w[i, j, c, f]
    y = f(z)                                    (the activation, as in Dense)

Output size per spatial axis (input n, kernel k, stride s, dilation d; `layers/padding.py`):
'valid' -> floor((n - (k-1)d - 1) / s) + 1 (no padding; must be >= 1), 'same' -> ceil(n / s)
(TF pads with zeros, the odd extra row/column at the bottom/right).

Backward, given dy = dL/dy:

    dz = f'(z) * dy                                       (the activation's rule)
    dw[i, j, c, f] = sum_{n, p, q} xp[n, p*sh + i*dh, q*sw + j*dw, c] dz[n, p, q, f]
    db[f]          = sum_{n, p, q} dz[n, p, q, f]
    dx             = every dz[n, p, q, f] w[i, j, c, f] added back onto the input pixel it
                     came from (skipped for the first layer: nothing needs it)

forward returns y and the call's cache (`ConvCache`: x, the paddings, z, y); backward reads
it and ADDS dw, db to the layer's gradients.

Two implementations live side by side in `scratchnet.kernels`: `conv_naive` spells these sums
out (loops, NumPy slices), `conv_fast` lays them out as im2col + three BLAS matrix products
(see its docstring for the measurements behind that). The layer uses the fast one
(`layer.implementation = "naive"` switches, e.g. to compare), driven chunk by chunk of
images over the cores by the methods in `layers/conv_fast_paths.py`. At inference the layer
keeps nothing for backward (a backward after it recomputes z), and in a model a MaxPooling2D
that alone takes its output runs inside its pass (`fuses_with`, `forward_fused`), so the
full-size output never goes to memory.
"""
import numpy as np

from scratchnet import activations, constraints, initializers, regularizers
from scratchnet.kernels import conv_naive, implementation_switch
from scratchnet.layers.base import Layer
from scratchnet.layers.dense import _regularization_config
from scratchnet.layers.conv_fast_paths import Conv2DFastPaths, ConvCache
from scratchnet.layers.padding import (normalize_padding, normalize_tuple, output_length,
                                       paddings)

_IMPLEMENTATIONS = ("fast", "naive")


class Conv2D(Conv2DFastPaths, Layer):
    """Keras's `Conv2D(filters, kernel_size, strides, padding, data_format, dilation_rate,
    groups, activation, use_bias, kernel_initializer, bias_initializer)`, channels_last.
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(filters, bool) or not isinstance(filters, (int, np.integer)) or filters <= 0:
            raise ValueError(f"Conv2D {self.name!r}: filters must be a positive int, "
                             f"received {filters!r}")
        self.filters = int(filters)
        self.kernel_size = normalize_tuple(kernel_size, 2, f"Conv2D {self.name!r}: kernel_size")
        self.strides = normalize_tuple(strides, 2, f"Conv2D {self.name!r}: strides")
        self.padding = normalize_padding(padding, f"Conv2D {self.name!r}")
        self.dilation_rate = normalize_tuple(dilation_rate, 2,
                                             f"Conv2D {self.name!r}: dilation_rate")
        if data_format not in (None, "channels_last"):
            raise ValueError(
                f"Conv2D {self.name!r}: only data_format='channels_last' (inputs shaped "
                f"(batch, height, width, channels), Keras's default) is supported, received "
                f"data_format={data_format!r}"
            )
        if groups != 1:
            raise ValueError(f"Conv2D {self.name!r}: only groups=1 is supported, "
                             f"received groups={groups!r}")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                f"Conv2D {self.name!r}: strides > 1 together with dilation_rate > 1 is not "
                f"supported (Keras rejects it too); received strides={self.strides} and "
                f"dilation_rate={self.dilation_rate}"
            )
        self.data_format = "channels_last"
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        # penalties and projections of the weights (regularizers.py, constraints.py)
        self.kernel_regularizer = regularizers.get(kernel_regularizer,
                                                   f"{self.name}: kernel_regularizer")
        self.bias_regularizer = regularizers.get(bias_regularizer, f"{self.name}: bias_regularizer")
        self.kernel_constraint = constraints.get(kernel_constraint, f"{self.name}: kernel_constraint")
        self.bias_constraint = constraints.get(bias_constraint, f"{self.name}: bias_constraint")
        self.kernel = self.bias = None
        self.implementation = "fast"

    # ---- building -------------------------------------------------------------------
    implementation = implementation_switch(
        _IMPLEMENTATIONS, "'fast' (Numba im2col + BLAS, the default)"
        " or 'naive' (the readable reference).")

    def _output_hw(self, height, width, input_shape):
        """(Ho, Wo); a clear error when 'valid' leaves nothing (kernel larger than input)."""
        out = tuple(output_length(n, k, s, self.padding, d) for n, k, s, d in zip(
            (height, width), self.kernel_size, self.strides, self.dilation_rate))
        if any(o is not None and o <= 0 for o in out):
            raise ValueError(
                f"Conv2D {self.name!r}: input shape {tuple(input_shape)} is too small for "
                f"kernel_size={self.kernel_size} with dilation_rate={self.dilation_rate}, "
                f"strides={self.strides} and padding='valid': the output would be empty "
                f"({out[0]}x{out[1]}). Use a smaller kernel, a larger input, or padding='same'."
            )
        return out

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[-1] is None:
            raise ValueError(
                f"Conv2D {self.name!r} needs inputs of shape (batch, height, width, channels) "
                f"with a known number of channels, received shape {tuple(input_shape)}"
            )
        if self.dtype not in ("float32", "float64"):
            raise TypeError(f"Conv2D {self.name!r}: dtype must be float32 or float64, "
                            f"received {self.dtype}")
        self._output_hw(input_shape[1], input_shape[2], input_shape)
        self.kernel = self.add_weight(self.kernel_size + (input_shape[-1], self.filters),
                                      self.kernel_initializer, name="kernel",
                                      regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight((self.filters,), self.bias_initializer, name="bias",
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)

    def compute_output_shape(self, input_shape):
        ho, wo = self._output_hw(input_shape[1], input_shape[2], input_shape)
        return (input_shape[0], ho, wo, self.filters)

    def _input_spec(self):
        return 4, {-1: self.kernel.shape[2]}

    # ---- computing ------------------------------------------------------------------
    def _prepare(self, x):
        """x as a contiguous (n, H, W, C) array of the layer's dtype, and its paddings."""
        self._require_built()
        x = np.ascontiguousarray(x, dtype=self.dtype)
        if x.ndim != 4 or x.shape[-1] != self.kernel.shape[2]:
            raise ValueError(
                f"Input of layer {self.name!r} (Conv2D) is incompatible: expected shape "
                f"(batch, height, width, {self.kernel.shape[2]}), received {x.shape}"
            )
        self._output_hw(x.shape[1], x.shape[2], x.shape)
        return x, paddings(x.shape[1:3], self.kernel_size, self.strides, self.padding,
                           self.dilation_rate)

    def forward(self, x, training=False):
        x, pads = self._prepare(x)
        if self._implementation == "naive":
            z = conv_naive.conv2d_forward(x, self.kernel, self.bias if self.use_bias else None,
                                          self.strides, pads, self.dilation_rate)
            y = self.activation(z)
            return y, ConvCache(x, pads, z=z, y=y)
        if not training and self._infers_in_chunks():
            return self._infer_fast(x, pads)
        return self._forward_fast(x, pads)

    def logits(self, cache):
        """z = conv(x, w) + b of the call: what a fused crossentropy differentiates."""
        self._ensure_saved(cache)
        return cache.z

    def backward(self, dy, cache, need_input_grad=True):
        self._ensure_saved(cache)
        dy = np.ascontiguousarray(dy, dtype=self.dtype).reshape(cache.z.shape)
        if self._implementation == "fast" and self.activation is activations.relu:
            return self._backward_fast(dy, cache, True, need_input_grad)
        dz = self.activation.backward(cache.z, cache.y, dy)
        return self.backward_from_logits(dz, cache, need_input_grad)

    def backward_from_logits(self, dz, cache, need_input_grad=True):
        self._ensure_saved(cache)
        dz = np.ascontiguousarray(dz, dtype=self.dtype).reshape(cache.z.shape)
        if self._implementation == "naive":
            dx, dkernel, dbias = conv_naive.conv2d_backward(
                cache.x, self.kernel, dz, self.strides, cache.pads, self.dilation_rate,
                need_input_grad)
            if self.trainable:
                self.add_grad(0, dkernel)
                if self.use_bias:
                    self.add_grad(1, dbias)
            return dx
        return self._backward_fast(dz, cache, False, need_input_grad)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "strides": self.strides,
                "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": self.dilation_rate,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                **_regularization_config(self)}


Convolution2D = Conv2D

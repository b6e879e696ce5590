"""`Activation`, `ReLU`, `Softmax`: an activation function as a layer of its own.

Lecture: the university course (a ReLU layer applied to conv outputs); same math as the
`activation=` argument of Dense (see scratchnet/activations.py for the formulas).

    y = f(x)          dL/dx = f'(x) * dL/dy   (softmax: y * (dy - sum(dy * y)))

Shapes: y and dL/dx have the shape of x. The cache of a call is (x, y) (ReLU: x).
"""
import numpy as np

from scratchnet import activations
from scratchnet.layers.base import Layer


class Activation(Layer):
    _keras_builds_at_init = True

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def forward(self, x, training=False):
        y = self.activation(x)
        return y, (x, y)

    def backward(self, dy, cache, need_input_grad=True):
        x, y = cache
        return self.activation.backward(x, y, dy)

    def logits(self, cache):
        return cache[0]

    def backward_from_logits(self, dz, cache, need_input_grad=True):
        return dz  # the loss already differentiated through this activation

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class Softmax(Activation):
    """Softmax over the last axis (Keras's default axis=-1)."""

    def __init__(self, axis=-1, **kwargs):
        if axis != -1:
            raise ValueError(f"Softmax: only axis=-1 is supported, received axis={axis}")
        super().__init__(activations.softmax, **kwargs)

    def get_config(self):
        config = super().get_config()
        config.pop("activation")
        return config


class ReLU(Layer):
    """Keras's ReLU layer: f(x) = min(max(x, 0), max_value), default max_value=None.

    Gradient: 1 where 0 < x < max_value, else 0 -- and also 1 at x == max_value unless
    max_value == 6. Keras computes max_value=6 with TF's Relu6 op (gradient 0 at 6) but any
    other max_value as relu followed by clip_by_value, whose gradient passes at the bound.
    """

    _keras_builds_at_init = True

    def __init__(self, max_value=None, **kwargs):
        for unsupported in ("negative_slope", "threshold"):
            if kwargs.get(unsupported, 0.0) != 0.0:
                raise ValueError(
                    f"ReLU: {unsupported}={kwargs[unsupported]!r} is not supported yet; "
                    "only the default 0.0"
                )
            kwargs.pop(unsupported, None)
        super().__init__(**kwargs)
        if max_value is not None and max_value < 0:
            raise ValueError(f"ReLU: max_value must be >= 0, received {max_value}")
        self.max_value = max_value

    def forward(self, x, training=False):
        y = np.maximum(x, 0, dtype=x.dtype)
        if self.max_value is not None:
            np.minimum(y, self.max_value, out=y)
        return y, x

    def backward(self, dy, cache, need_input_grad=True):
        x = cache
        passes = x > 0
        if self.max_value is not None:
            if self.max_value == 6:
                passes &= x < self.max_value
            else:
                passes &= x <= self.max_value
        return dy * passes

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value}

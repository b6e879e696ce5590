"""`Flatten`: (n, d1, d2, ...) -> (n, d1*d2*...), a reshape with no weights.

Lecture: ML Zero to Hero 2 (`Flatten(input_shape=(28, 28))` turns each 28x28 image into 784
numbers for the Dense layers). Backward reshapes dL/dy back to the input's shape.
"""
import numpy as np

from scratchnet.layers.base import Layer


class Flatten(Layer):
    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        size = None if any(d is None for d in rest) else int(np.prod(rest, dtype=np.int64))
        return (input_shape[0], size)

    def forward(self, x, training=False):
        return x.reshape(x.shape[0], -1), x.shape       # cache: the input's shape

    def backward(self, dy, cache, need_input_grad=True):
        return dy.reshape(cache)

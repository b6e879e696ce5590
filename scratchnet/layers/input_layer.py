"""`Input` / `InputLayer`: declares the shape of one sample; holds no weights.

    model = Sequential([Input(shape=(28, 28)), Flatten(), Dense(10)])

is the same as giving `input_shape=(28, 28)` to the first layer (Hands-On CV ch. 2).
"""
from scratchnet.layers.base import Layer, normalize_shape


class InputLayer(Layer):
    def __init__(self, shape=None, batch_size=None, dtype=None, name=None, input_shape=None):
        shape = shape if shape is not None else input_shape
        if shape is None:
            raise ValueError("Input: `shape` is required, e.g. Input(shape=(28, 28))")
        super().__init__(name=name, dtype=dtype, input_shape=normalize_shape(shape, "Input: shape"))
        self.batch_size = batch_size

    def forward(self, x, training=False):
        return x

    def backward(self, dy, need_input_grad=True):
        return dy

    def get_config(self):
        return {**super().get_config(), "shape": self.declared_input_shape}


def Input(shape=None, batch_size=None, dtype=None, name=None):
    """Keras's `Input(shape=...)`: here it returns the InputLayer that Sequential reads."""
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name)

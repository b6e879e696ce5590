"""`Input` / `InputLayer`: declares the shape of one sample; holds no weights.

    inputs = Input(shape=(28, 28))                         # a symbolic tensor (None, 28, 28)
    model = Sequential([Input(shape=(28, 28)), Flatten(), Dense(10)])

`Input(...)` returns the symbolic tensor a Functional model starts from (Hands-On CV ch. 2,
Python ML ch. 14); in a Sequential model it is the same as giving `input_shape=` to the first
layer. Forward and backward pass the array through unchanged.
"""
from scratchnet import backend
from scratchnet.engine import symbolic
from scratchnet.layers.base import Layer, normalize_shape


class InputLayer(Layer):
    def __init__(self, shape=None, batch_size=None, dtype=None, name=None, input_shape=None,
                 batch_shape=None, batch_input_shape=None):
        if batch_input_shape is not None:            # tf.keras 2's saved configs
            batch_shape = batch_input_shape
        if batch_shape is not None:
            batch_size, shape = batch_shape[0], tuple(batch_shape)[1:]
        shape = shape if shape is not None else input_shape
        if shape is None:
            raise ValueError("Input: `shape` is required, e.g. Input(shape=(28, 28))")
        shape = normalize_shape(shape, "Input: shape")
        super().__init__(name=name, dtype=dtype or backend.floatx(), input_shape=shape)
        self.batch_size = batch_size
        self._finish_build((batch_size,) + shape)
        tensor = symbolic.KerasTensor((batch_size,) + shape, self.dtype, name=self.name)
        symbolic.Node(self, [], [tensor], "one")

    @property
    def batch_shape(self):
        return (self.batch_size,) + self.declared_input_shape

    def forward(self, x, training=False):
        return x, None

    def backward(self, dy, cache, need_input_grad=True):
        return dy

    def get_config(self):
        return {"batch_shape": list(self.batch_shape), "dtype": self.dtype, "name": self.name}

    @classmethod
    def from_config(cls, config):
        from scratchnet.saving.serialization import check_keras_only, dtype_from_config

        config = dict(config)
        config.pop("trainable", None)
        if "dtype" in config:
            config["dtype"] = dtype_from_config(config["dtype"], "InputLayer.from_config")
        return cls(**check_keras_only("InputLayer.from_config", config, {
            "shape", "batch_size", "dtype", "name", "input_shape", "batch_shape",
            "batch_input_shape"}))


def Input(shape=None, batch_size=None, dtype=None, name=None, batch_shape=None):
    """Keras's `Input(shape=...)`: the symbolic tensor a model's graph starts from."""
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, name=name,
                      batch_shape=batch_shape).output

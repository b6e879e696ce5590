"""scratchnet: tf.keras, rebuilt from scratch in NumPy + Numba, checked against TensorFlow.

Lecture code runs with only the import swapped:

    import scratchnet as tf                      # instead of: import tensorflow as tf
    model = tf.keras.Sequential([tf.keras.layers.Flatten(input_shape=(28, 28)),
                                 tf.keras.layers.Dense(128, activation=tf.nn.relu),
                                 tf.keras.layers.Dense(10, activation=tf.nn.softmax)])

or `from scratchnet import keras` / `import scratchnet.keras as keras`.
"""
from scratchnet import (activations, backend, callbacks, initializers, layers, losses, metrics,
                        models, nn, optimizers, utils)
from scratchnet.layers import Input
from scratchnet.models import Model, Sequential

__version__ = "0.1.0"


def __getattr__(name):
    # Loaded on first use: `import scratchnet` stays fast and never touches the data files.
    if name in ("datasets", "keras"):
        import importlib

        return importlib.import_module(f"scratchnet.{name}")
    raise AttributeError(f"module 'scratchnet' has no attribute {name!r}")


__all__ = ["Input", "Model", "Sequential", "activations", "backend", "callbacks", "datasets",
           "initializers", "keras", "layers", "losses", "metrics", "models", "nn", "optimizers",
           "utils"]

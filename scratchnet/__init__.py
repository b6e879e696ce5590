"""scratchnet: tf.keras, rebuilt from scratch in NumPy + Numba, checked against TensorFlow.

Lecture code runs with only the import swapped:

    import scratchnet as tf                      # instead of: import tensorflow as tf
    model = tf.keras.Sequential([tf.keras.layers.Flatten(input_shape=(28, 28)),
                                 tf.keras.layers.Dense(128, activation=tf.nn.relu),
                                 tf.keras.layers.Dense(10, activation=tf.nn.softmax)])

or `from scratchnet import keras`, `from scratchnet.keras.layers import Dense`, ... (every
`tensorflow.keras` path has its `scratchnet.keras` twin). Besides `tf.keras` and `tf.nn`, the
few TensorFlow names lecture code uses around its models are here as thin NumPy aliases
(scratchnet/basics.py): tf.float32 & co., tf.newaxis, tf.cast, tf.constant,
tf.convert_to_tensor; tf.random.set_seed (TF1: tf.set_random_seed), tf.optimizers,
tf.losses, TF1's tf.train.AdamOptimizer.
"""
from scratchnet import (activations, backend, callbacks, config, initializers, layers, losses,
                        metrics, models, nn, optimizers, random, train, utils, version)
from scratchnet.basics import (TensorShape, bool_, cast, constant, convert_to_tensor, float16,
                               float32, float64, int8, int16, int32, int64, newaxis, uint8)
from scratchnet.graph_mode import (Graph, InteractiveSession, Session, TF1GraphModeError, compat,
                                   disable_eager_execution, function, get_default_graph,
                                   global_variables_initializer, placeholder,
                                   reset_default_graph)
from scratchnet.layers import Input
from scratchnet.models import Model, Sequential

set_random_seed = random.set_seed       # TF1's tf.set_random_seed

__version__ = version.VERSION          # scratchnet's version (tf.version.VERSION too)


def __getattr__(name):
    # Loaded on first use: `import scratchnet` stays fast and never touches the data files.
    if name in ("data", "datasets", "keras"):
        import importlib

        return importlib.import_module(f"scratchnet.{name}")
    raise AttributeError(f"module 'scratchnet' has no attribute {name!r}")


__all__ = ["Graph", "InteractiveSession", "Session", "TF1GraphModeError", "compat",
           "disable_eager_execution", "function", "get_default_graph",
           "global_variables_initializer", "placeholder", "reset_default_graph",
           "Input", "Model", "Sequential", "TensorShape", "activations", "backend", "bool_",
           "callbacks", "config", "version",
           "cast", "constant", "convert_to_tensor", "data", "datasets", "float16", "float32",
           "float64",
           "initializers", "int16", "int32", "int64", "int8", "keras", "layers", "losses",
           "metrics", "models", "newaxis", "nn", "optimizers", "random", "set_random_seed",
           "train", "uint8", "utils"]

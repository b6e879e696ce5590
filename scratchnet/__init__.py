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
                        math, metrics, models, nn, optimizers, random, train, utils, version)
from scratchnet.basics import (TensorShape, bool_, float16, float32, float64, int8, int16,
                               int32, int64, newaxis, uint8)
from scratchnet.gradient_tape import GradientTape
from scratchnet.graph_mode import (Graph, InteractiveSession, Session, TF1GraphModeError, compat,
                                   disable_eager_execution, function, get_default_graph,
                                   global_variables_initializer, placeholder,
                                   reset_default_graph)
from scratchnet.layers import Input
from scratchnet.models import Model, Sequential
from scratchnet.ops.array_ops import (concat, constant, convert_to_tensor, expand_dims, eye,
                                      fill, gather, identity, linspace, one_hot, ones,
                                      ones_like, range, rank, reshape, shape, size, squeeze,
                                      stack, stop_gradient, tile, transpose, unstack, zeros,
                                      zeros_like)
from scratchnet.ops.math_ops import (abs, add, add_n, argmax, argmin, cast, divide, equal, exp,
                                     greater, greater_equal, less, less_equal, logical_and,
                                     logical_not, logical_or, matmul, maximum, minimum,
                                     multiply, negative, not_equal, pow, reduce_all,
                                     reduce_any, reduce_max, reduce_mean, reduce_min,
                                     reduce_prod, reduce_sum, round, sigmoid, sign, sqrt,
                                     square, subtract, tanh, truediv, where)
from scratchnet.tensors import Tensor, Variable, is_tensor

bool = bool_                            # noqa: A001 (tf.bool; not in __all__)
set_random_seed = random.set_seed       # TF1's tf.set_random_seed

__version__ = version.VERSION          # scratchnet's version (tf.version.VERSION too)


def __getattr__(name):
    # Loaded on first use: `import scratchnet` stays fast and never touches the data files.
    if name in ("data", "datasets", "keras"):
        import importlib

        return importlib.import_module(f"scratchnet.{name}")
    raise AttributeError(f"module 'scratchnet' has no attribute {name!r}")


_TF_OPS = ["GradientTape", "Tensor", "Variable", "abs", "add", "add_n", "argmax", "argmin",
           "cast", "concat", "constant", "convert_to_tensor", "divide", "equal", "exp",
           "expand_dims", "eye", "fill", "gather", "greater", "greater_equal", "identity",
           "is_tensor", "less", "less_equal", "linspace", "logical_and", "logical_not",
           "logical_or", "math", "matmul", "maximum", "minimum", "multiply", "negative",
           "not_equal", "one_hot", "ones", "ones_like", "pow", "range", "rank",
           "reduce_all", "reduce_any", "reduce_max", "reduce_mean", "reduce_min",
           "reduce_prod", "reduce_sum", "reshape", "round", "shape", "sigmoid", "sign",
           "size", "sqrt", "square", "squeeze", "stack", "stop_gradient", "subtract", "tanh",
           "tile", "transpose", "truediv", "unstack", "where", "zeros", "zeros_like"]

__all__ = _TF_OPS + ["Graph", "InteractiveSession", "Session", "TF1GraphModeError", "compat",
           "disable_eager_execution", "function", "get_default_graph",
           "global_variables_initializer", "placeholder", "reset_default_graph",
           "Input", "Model", "Sequential", "TensorShape", "activations", "backend", "bool_",
           "callbacks", "config", "version", "data", "datasets", "float16", "float32",
           "float64", "initializers", "int16", "int32", "int64", "int8", "keras", "layers",
           "losses", "metrics", "models", "newaxis", "nn", "optimizers", "random",
           "set_random_seed", "train", "uint8", "utils"]

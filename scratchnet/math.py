"""`tf.math`: TensorFlow's element-wise math, reductions and comparisons (ops/math_ops.py has
each one's forward and gradient). The most used are also at the top level: `tf.add`,
`tf.reduce_mean`, `tf.square`, `tf.matmul`, ..."""
from scratchnet.ops.math_ops import (abs, add, add_n, argmax, argmin, cast, ceil, divide,
                                     equal, exp, floor, floordiv, floormod, greater,
                                     greater_equal, less, less_equal, log, logical_and,
                                     logical_not, logical_or, matmul, maximum, minimum, mod,
                                     multiply, negative, not_equal, pow, reduce_all,
                                     reduce_any, reduce_max, reduce_mean, reduce_min,
                                     reduce_prod, reduce_sum, round, sigmoid, sign, sqrt,
                                     square, subtract, tanh, truediv)
from scratchnet.ops.nn_ops import log_softmax, softmax

__all__ = ["abs", "add", "add_n", "argmax", "argmin", "cast", "ceil", "divide", "equal", "exp",
           "floor", "floordiv", "floormod", "greater", "greater_equal", "less", "less_equal",
           "log", "log_softmax", "logical_and", "logical_not", "logical_or", "matmul",
           "maximum", "minimum", "mod", "multiply", "negative", "not_equal", "pow",
           "reduce_all", "reduce_any", "reduce_max", "reduce_mean", "reduce_min",
           "reduce_prod", "reduce_sum", "round", "sigmoid", "sign", "softmax", "sqrt",
           "square", "subtract", "tanh", "truediv"]

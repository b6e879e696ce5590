"""Which NumPy ufuncs on a Tensor are TensorFlow operations (so `a * b`, `a @ b`, `-a`,
`a ** 2`, `a > b` on Tensors are recorded by a GradientTape like tf.multiply & co.)."""
import numpy as np

from scratchnet import gradient_tape
from scratchnet.ops import math_ops
from scratchnet.tensors import Tensor

UFUNCS = {
    np.add: math_ops.add, np.subtract: math_ops.subtract, np.multiply: math_ops.multiply,
    np.true_divide: math_ops.divide, np.negative: math_ops.negative,
    np.power: math_ops.pow, np.float_power: math_ops.pow,
    np.matmul: lambda a, b: math_ops.matmul(a, b),
    np.maximum: math_ops.maximum, np.minimum: math_ops.minimum,
    np.square: math_ops.square, np.sqrt: math_ops.sqrt, np.exp: math_ops.exp,
    np.log: math_ops.log, np.absolute: math_ops.abs, np.tanh: math_ops.tanh,
    np.floor_divide: math_ops.floordiv, np.remainder: math_ops.floormod,
    np.equal: math_ops.equal, np.not_equal: math_ops.not_equal,
    np.greater: math_ops.greater, np.greater_equal: math_ops.greater_equal,
    np.less: math_ops.less, np.less_equal: math_ops.less_equal,
}


def untracked(result, inputs):
    """The result of a NumPy ufunc scratchnet does not differentiate: a Tensor, or -- when a
    GradientTape tracks an input -- a plain array, as TensorFlow's NumPy bridge gives (so it
    cannot pass for a differentiable result)."""
    if gradient_tape.recording() and gradient_tape.tracked(inputs):
        return result
    return result.view(Tensor)

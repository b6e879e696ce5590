"""Which NumPy calls on a Tensor are TensorFlow operations.

Every NumPy ufunc in UFUNCS (so `a * b`, `a @ b`, `-a`, `a ** 2`, `a > b`, `np.exp(a)`) is the
tf operation, recorded by a GradientTape like tf.multiply & co. Other NumPy functions give
plain NumPy results, as TensorFlow's NumPy bridge does -- except inside the `call` of a model
or layer (the tape recording it is `_internal`), where a result that silently drops out of
the gradient would train wrongly: there the functions in FUNCTIONS are the tf operations, and
any other NumPy function on a tracked tensor raises a TypeError that names it.
"""
import numpy as np

from scratchnet import gradient_tape
from scratchnet.engine.symbolic import flatten
from scratchnet.engine.tape import UntraceableError
from scratchnet.ops import array_ops, math_ops
from scratchnet.tensors import Tensor, plain

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


def _reduction(op):
    def call(a, axis=None, dtype=None, out=None, keepdims=False, **kwargs):
        if dtype is not None or out is not None or kwargs:
            raise UntraceableError(f"np.{op.__name__[7:]} with dtype/out/where")
        return op(a, axis, keepdims)
    return call


FUNCTIONS = {
    np.sum: _reduction(math_ops.reduce_sum), np.mean: _reduction(math_ops.reduce_mean),
    np.max: _reduction(math_ops.reduce_max), np.min: _reduction(math_ops.reduce_min),
    np.amax: _reduction(math_ops.reduce_max), np.amin: _reduction(math_ops.reduce_min),
    np.reshape: lambda a, shape=None, **k: array_ops.reshape(a, k.get("newshape", shape)),
    np.transpose: lambda a, axes=None: array_ops.transpose(a, axes),
    np.concatenate: lambda arrays, axis=0: array_ops.concat(list(arrays), axis),
    np.stack: lambda arrays, axis=0: array_ops.stack(list(arrays), axis),
    np.expand_dims: lambda a, axis: array_ops.expand_dims(a, axis),
    np.squeeze: lambda a, axis=None: array_ops.squeeze(a, axis),
    np.where: lambda c, x=None, y=None: math_ops.where(c, x, y),
    np.dot: lambda a, b: math_ops.matmul(a, b),
}


def _carries_gradient(value):
    """True for a floating-point array (or tuple of them): what a gradient would flow
    through."""
    if isinstance(value, (list, tuple)):
        return any(_carries_gradient(v) for v in value)
    return isinstance(value, (np.ndarray, np.generic)) and np.asarray(value).dtype.kind in "fc"


def _in_a_call(values):
    """True inside a model's or layer's `call` (an internal tape records) when one of
    `values` is tracked: there nothing may silently leave the gradient."""
    return (gradient_tape.recording() and any(t._internal for t in gradient_tape._recording)
            and gradient_tape.tracked(flatten(values)))


def numpy_function(func, args, kwargs):
    """A NumPy function called with Tensors among its arguments (Tensor.__array_function__)."""
    if _in_a_call([args, kwargs]):
        op = FUNCTIONS.get(func)
        if op is None:
            found = func(*plain(list(args)), **plain(kwargs))
            if not _carries_gradient(found):
                return found          # np.shape, np.ndim, np.isfinite, ...: no gradient to lose
            raise UntraceableError(
                f"np.{func.__name__} on a tensor inside a model's or layer's call() cannot be "
                "differentiated by scratchnet: training would silently get a wrong gradient. "
                "Use tf operations (tf.reduce_sum, tf.concat, ...) or layers instead.")
        return op(*args, **kwargs)
    return func(*plain(list(args)), **plain(kwargs))


def untracked(result, inputs):
    """The result of a NumPy ufunc scratchnet does not differentiate: a Tensor, or -- when a
    GradientTape tracks an input -- a plain array, as TensorFlow's NumPy bridge gives (so it
    cannot pass for a differentiable result)."""
    if gradient_tape.recording() and gradient_tape.tracked(inputs):
        return result
    return result.view(Tensor)

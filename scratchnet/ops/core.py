"""What every operation does besides its math: take TensorFlow's inputs, make a Tensor,
and note itself on the open GradientTapes.

An operation in scratchnet/ops/ reads like this (math_ops.py):

    def exp(x, name=None):
        x_ = values(x)                              # a plain NumPy array
        y = np.exp(x_)                              # forward
        return result("Exp", [x], y,                # the Tensor, recorded when x is tracked
                      lambda dy: [dy * y])          # backward: dL/dx = dL/dy * e^x

`result` wraps the output as a Tensor and, only when an open tape tracks one of the inputs,
records the backward function (gradient_tape.py); broadcasting is undone by the tape.
"""
import numpy as np

from scratchnet import gradient_tape
from scratchnet.engine.tape import UntraceableError
from scratchnet.basics import _dtype
from scratchnet.tensors import Tensor, as_array, plain


def values(x, dtype=None, what="tensor"):
    """`x` (a Tensor, Variable, array, number or nested list) as a plain NumPy array, with
    TensorFlow's dtypes for Python values (floats float32, ints int32)."""
    try:
        return as_array(x, _dtype(dtype, what))
    except UntraceableError:
        raise                 # a traced tensor of a model's call: Model handles this one
    except (TypeError, ValueError) as error:
        raise TypeError(f"{what}: expected a tensor or array-like value, received {x!r} "
                        f"({error})") from None


def pair(a, b, what, broadcast=True):
    """Both operands of a binary operation as plain arrays, with TensorFlow's dtype rule: a
    tensor sets the dtype, and a Python number or list or a NumPy array beside it takes that
    dtype (`x * 0.5` stays float32, `n + 1` int32, `x * np.array([0.5])` float32) unless that
    would lose its value (a float next to an integer tensor: TensorFlow refuses, or truncates
    a NumPy float, where NumPy's promotion keeps the value). With no tensor, the first operand
    sets the dtype. `broadcast`: check that the shapes broadcast (element-wise operations)."""
    if isinstance(a, Tensor) and not isinstance(b, Tensor):
        x, y = plain(a), beside(b, a.dtype, what)
    elif isinstance(b, Tensor) and not isinstance(a, Tensor):
        x, y = beside(a, b.dtype, what), plain(b)
    elif isinstance(a, Tensor):
        x, y = plain(a), plain(b)
    else:
        x = values(a, what=what)
        y = beside(b, x.dtype, what)
    if broadcast:
        try:
            np.broadcast_shapes(x.shape, y.shape)
        except ValueError:
            raise ValueError(f"{what}: shapes {list(x.shape)} and {list(y.shape)} do not "
                             "broadcast (each axis, counted from the end, must be equal or "
                             "1 on one side)") from None
    return x, y


def beside(value, dtype, what):
    """`value` (a Python value or NumPy array) next to a tensor of `dtype`: converted to that
    dtype unless that would lose its value (see pair)."""
    python = values(value, what=what)
    if dtype.kind == "f" or (dtype.kind in "iu" and python.dtype.kind in "iub") or \
            (dtype.kind == "b" and python.dtype.kind == "b"):
        return python.astype(dtype)
    return python


def result(name, inputs, value, backward=None):
    """`value` (a fresh array) as a Tensor; recorded on the open tapes that track one of
    `inputs` with `backward(dy) -> [dL/d(input) or None per input]`."""
    out = Tensor._from(value)
    if backward is not None and gradient_tape.recording():
        gradient_tape.record(name, inputs, out, backward)
    return out


def axes_of(axis, ndim, what):
    """`axis` (None, an int or a list; negatives count from the end) as a tuple of axes."""
    if axis is None:
        return tuple(range(ndim))
    listed = np.asarray(plain(axis)).reshape(-1).tolist()
    out = []
    for a in listed:
        if not isinstance(a, int) or not -max(ndim, 1) <= a < max(ndim, 1):
            raise ValueError(f"{what}: axis {axis!r} is out of range for a tensor of rank "
                             f"{ndim}")
        out.append(a % max(ndim, 1))
    return tuple(out)

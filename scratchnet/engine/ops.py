"""Arithmetic on tensors inside a model: `x + y`, `x - y`, `x * y`, `x / y`, `-x`, `x[...]`.

These are the operations scratchnet differentiates when they are applied to a model's
tensors -- symbolic ones while building a Functional model, traced ones inside a subclassed
model's `call` -- so that, e.g., a residual `x + self.conv(x)` trains correctly. Each is a
tiny layer without weights (an "operation", as Keras 3 calls its ops), with the usual
forward/backward pair. Operands may be tensors or constants (Python numbers, NumPy arrays),
which are cast to the tensor's dtype (TF's weak typing: `x * 0.5` stays float32).

NumPy broadcasting applies, so the backward rule sums dL/dy over the broadcast axes to get
back to each operand's shape (`unbroadcast`):

    y = a + b    da = dy               db = dy
    y = a - b    da = dy               db = -dy
    y = a * b    da = dy * b           db = a * dy
    y = a / b    da = dy / b           db = dy * (-a / b / b)      (TF's RealDiv gradient)
    y = -a       da = -dy
    y = a[key]   da = zeros, with dy added at a[key]

Anything else applied to a traced tensor raises a clear error (engine/tape.py): use a layer.
"""
import numbers

import numpy as np

from scratchnet.gradient_tape import unbroadcast   # (the same rule as tf.GradientTape's)
from scratchnet.layers.base import Layer

_FORWARD = {"add": np.add, "subtract": np.subtract, "multiply": np.multiply,
            "divide": np.true_divide}
_CLASS_NAMES = {"add": "Add", "subtract": "Subtract", "multiply": "Multiply",
                "divide": "TrueDivide", "negative": "Negative", "getitem": "GetItem"}


def _broadcast_shapes(shapes):
    """np.broadcast_shapes with None (unknown batch) allowed."""
    ndim = max(len(s) for s in shapes)
    out = []
    for axis in range(ndim):
        dims = [s[axis - ndim + len(s)] for s in shapes if axis - ndim + len(s) >= 0]
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            raise ValueError(f"Operands of shapes {shapes} cannot be broadcast together")
        if known:
            out.append(known.pop())
        elif None in dims:
            out.append(None)
        else:
            out.append(1)
    return tuple(out)


class Operation(Layer):
    """A weightless operation on one or two tensor operands (see the module docstring)."""

    _is_op = True

    def __init__(self, kind, constants=None, key=None, name=None):
        from scratchnet.layers.base import unique_name

        super().__init__(name=name or unique_name(kind))
        self.kind = kind
        self.constants = constants or {}      # operand position -> constant
        self.key = key

    def _takes_list(self):
        return True

    def _operands(self, xs):
        """The full operand list: the tensors `xs` with the constants put back in place."""
        tensors = iter(xs)
        dtype = xs[0].dtype
        arity = 1 if self.kind in ("negative", "getitem") else 2
        return [np.asarray(self.constants[position], dtype=dtype)
                if position in self.constants else next(tensors) for position in range(arity)]

    def compute_output_shape(self, input_shapes):
        shapes = [tuple(s) for s in input_shapes]
        if self.kind == "getitem":
            (shape,) = shapes
            return _getitem_shape(shape, self.key)
        for position, value in sorted(self.constants.items()):
            shapes.insert(position, np.shape(value))
        return _broadcast_shapes(shapes)

    def forward(self, xs, training=False):
        ops = self._operands(xs)
        if self.kind == "negative":
            return np.negative(ops[0]), ops[0].shape
        if self.kind == "getitem":
            return ops[0][self.key], ops[0].shape
        y = _FORWARD[self.kind](ops[0], ops[1])
        if y.dtype != ops[0].dtype:
            y = y.astype(ops[0].dtype)
        keep = ops if self.kind in ("multiply", "divide") else [o.shape for o in ops]
        return y, keep

    def backward(self, dy, cache, need_input_grad=True):
        if self.kind == "negative":
            return [np.negative(dy)]
        if self.kind == "getitem":
            dx = np.zeros(cache, dy.dtype)
            np.add.at(dx, self.key, dy)
            return [dx]
        if self.kind in ("multiply", "divide"):
            a, b = cache
            shapes = (a.shape, b.shape)
            if self.kind == "multiply":
                grads = (dy * b, a * dy)
            else:
                grads = (dy / b, dy * (-a / b / b))
        else:
            shapes = cache
            grads = (dy, np.negative(dy) if self.kind == "subtract" else dy)
        return [unbroadcast(g, s) for position, (g, s) in enumerate(zip(grads, shapes))
                if position not in self.constants]

    @property
    def class_name(self):
        """How summary() names the type: Keras 3's op class (Add, Multiply, GetItem, ...)."""
        return _CLASS_NAMES[self.kind]

    def get_config(self):
        return {**super().get_config(), "kind": self.kind}

    def __repr__(self):
        return f"<Operation {self.kind}>"


def _getitem_shape(shape, key):
    """The shape of x[key] for x of `shape` (the batch axis, None, must be kept whole)."""
    key_tuple = key if isinstance(key, tuple) else (key,)
    keeps_batch = (not key_tuple or key_tuple[0] is Ellipsis
                   or key_tuple[0] == slice(None))
    if shape and shape[0] is None and not keeps_batch:
        raise ValueError(
            f"Slicing a symbolic tensor of shape {shape} with {key!r} would cut the batch "
            "axis, whose size is not known until the model runs: keep it whole, e.g. "
            "x[:, 1:3]")
    probe = np.zeros(tuple(1 if d is None else d for d in shape), dtype=bool)
    out = probe[key].shape
    if shape and shape[0] is None:
        out = (None,) + out[1:]
    return out


def _is_constant(value):
    return isinstance(value, (numbers.Number, np.ndarray, np.generic, list))


def _apply(op, tensors):
    """Call the operation on its tensor operands (symbolic or traced)."""
    return op(list(tensors))


def binary(kind, a, b):
    """a <kind> b where at least one of a, b is a model tensor (symbolic or traced)."""
    from scratchnet.engine.symbolic import KerasTensor
    from scratchnet.engine.tape import TracedTensor

    tensor_types = (KerasTensor, TracedTensor)
    constants, tensors = {}, []
    for position, value in enumerate((a, b)):
        if isinstance(value, tensor_types):
            tensors.append(value)
        elif _is_constant(value):
            constants[position] = np.asarray(value)
        else:
            return NotImplemented
    symbolic = any(isinstance(t, KerasTensor) for t in tensors)
    if symbolic and not all(isinstance(t, KerasTensor) for t in tensors):
        raise TypeError("Cannot combine a symbolic tensor with a traced one")
    op = Operation(kind, constants, name=None if symbolic else kind)
    return _apply(op, tensors)


def unary(kind, a):
    from scratchnet.engine.symbolic import KerasTensor

    op = Operation(kind, name=None if isinstance(a, KerasTensor) else kind)
    return _apply(op, [a])


def getitem(a, key):
    from scratchnet.engine.symbolic import KerasTensor

    if isinstance(key, list):
        key = np.asarray(key)
    op = Operation("getitem", key=key, name=None if isinstance(a, KerasTensor) else "getitem")
    return _apply(op, [a])

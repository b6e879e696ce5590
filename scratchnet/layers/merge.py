"""Merge layers: `Add`, `Subtract`, `Multiply`, `Average`, `Maximum`, `Minimum`,
`Concatenate` -- several tensors in, one out. What makes a graph more than a chain: a
residual connection `Add()([x, Conv2D(...)(x)])`, two branches joined by `Concatenate()`.

Called on a list: `Add()([a, b, c])`. Element-wise layers broadcast like NumPy (shapes equal,
or 1 where they differ). Forward works left to right, as Keras does, and backward follows
the same chain, so every gradient is the one TensorFlow computes:

    Add       y = x1 + x2 + ... + xk             dL/dxi = dy
    Subtract  y = x1 - x2                        dL/dx1 = dy, dL/dx2 = -dy
    Multiply  y = ((x1 * x2) * x3) ...           dL/dxi = dy * (product of the others),
                                                 taken back through the chain
    Average   y = (x1 + ... + xk) / k            dL/dxi = dy / k
    Maximum   y = max(max(x1, x2), x3) ...       dy goes to the larger one of each pair; on a
              (Minimum: min)                     tie to the left one (TF's Maximum gradient)
    Concatenate(axis)  y = [x1 | x2 | ...]       dL/dxi = the slice of dy that xi filled

Each dL/dxi is summed back over the axes broadcasting stretched (`ops.unbroadcast`).
"""
import numpy as np

from scratchnet.engine.ops import _broadcast_shapes, unbroadcast
from scratchnet.layers.base import Layer


class _Merge(Layer):
    """Shared by the merge layers: a list of at least two inputs."""

    min_inputs, max_inputs = 2, None

    def _takes_list(self):
        return True

    def _check_inputs(self, shapes):
        if not isinstance(shapes, list) or len(shapes) < self.min_inputs or (
                self.max_inputs is not None and len(shapes) > self.max_inputs):
            count = (f"exactly {self.max_inputs}" if self.max_inputs == self.min_inputs
                     else f"at least {self.min_inputs}")
            got = len(shapes) if isinstance(shapes, list) else "one tensor"
            raise ValueError(f"{type(self).__name__} {self.name!r} should be called on a list "
                             f"of {count} inputs, received {got}")

    def build(self, input_shape):
        self._check_inputs(input_shape)
        self.compute_output_shape(input_shape)

    def compute_output_shape(self, input_shape):
        self._check_inputs(input_shape)
        try:
            return _broadcast_shapes([tuple(s) for s in input_shape])
        except ValueError:
            raise ValueError(f"{type(self).__name__} {self.name!r}: inputs of shapes "
                             f"{[tuple(s) for s in input_shape]} cannot be combined element "
                             "by element (they must be equal, or 1 where they differ)") from None

    def forward(self, xs, training=False):
        self._check_inputs([x.shape for x in xs])
        y = xs[0]
        steps = []                                 # the chain: y_i = f(y_{i-1}, x_i)
        for x in xs[1:]:
            steps.append((y, x))
            y = self._combine(y, x)
        return self._finish(y, len(xs)), (steps, [x.shape for x in xs])

    def _finish(self, y, count):
        return y

    def backward(self, dy, cache, need_input_grad=True):
        steps, shapes = cache
        dy = self._unfinish(dy, len(shapes))
        grads = [None] * len(shapes)
        for i in range(len(steps) - 1, -1, -1):   # back along the chain
            a, b = steps[i]
            da, db = self._split(dy, a, b)
            grads[i + 1] = unbroadcast(db, shapes[i + 1])
            dy = da
        grads[0] = unbroadcast(dy, shapes[0])
        return grads

    def _unfinish(self, dy, count):
        return dy


class Add(_Merge):
    def _combine(self, a, b):
        return a + b

    def _split(self, dy, a, b):
        return dy, dy


class Subtract(_Merge):
    max_inputs = 2

    def _combine(self, a, b):
        return a - b

    def _split(self, dy, a, b):
        return dy, -dy


class Multiply(_Merge):
    def _combine(self, a, b):
        return a * b

    def _split(self, dy, a, b):
        return dy * b, a * dy


class Average(Add):
    def _finish(self, y, count):
        return y / y.dtype.type(count)

    def _unfinish(self, dy, count):
        return dy / dy.dtype.type(count)


class Maximum(_Merge):
    def _combine(self, a, b):
        return np.maximum(a, b)

    def _split(self, dy, a, b):
        left = a >= b                               # ties go to the left operand
        return np.where(left, dy, 0).astype(dy.dtype), np.where(left, 0, dy).astype(dy.dtype)


class Minimum(_Merge):
    def _combine(self, a, b):
        return np.minimum(a, b)

    def _split(self, dy, a, b):
        left = a <= b
        return np.where(left, dy, 0).astype(dy.dtype), np.where(left, 0, dy).astype(dy.dtype)


class Concatenate(_Merge):
    """Joins the inputs along `axis` (default -1, the channels / features); every other
    axis must match."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"Concatenate: axis must be an int, received {axis!r}")
        self.axis = int(axis)

    def _axis(self, rank):
        axis = self.axis + rank if self.axis < 0 else self.axis
        if not 0 < axis < rank:
            raise ValueError(f"Concatenate {self.name!r}: axis={self.axis} is not a non-batch "
                             f"axis of inputs of rank {rank}")
        return axis

    def compute_output_shape(self, input_shape):
        self._check_inputs(input_shape)
        shapes = [tuple(s) for s in input_shape]
        rank = len(shapes[0])
        axis = self._axis(rank)
        if any(len(s) != rank for s in shapes) or any(
                len({s[i] for s in shapes if s[i] is not None}) > 1
                for i in range(rank) if i != axis):
            raise ValueError(
                f"Concatenate {self.name!r}: a Concatenate layer requires inputs with matching "
                f"shapes except for the concatenation axis {self.axis}. Received: input_shape="
                f"{shapes}")
        sizes = [s[axis] for s in shapes]
        out = list(next((s for s in shapes if s[0] is not None), shapes[0]))
        out[axis] = None if None in sizes else sum(sizes)
        return tuple(out)

    def forward(self, xs, training=False):
        axis = self._axis(xs[0].ndim)
        return np.concatenate(xs, axis=axis), [x.shape[axis] for x in xs]

    def backward(self, dy, cache, need_input_grad=True):
        axis = self._axis(dy.ndim)
        return np.split(dy, np.cumsum(cache)[:-1], axis=axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


def add(inputs, **kwargs):
    """Keras's functional form: add([a, b]) is Add()([a, b])."""
    return Add(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    return Concatenate(axis=axis, **kwargs)(inputs)

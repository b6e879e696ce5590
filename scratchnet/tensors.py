"""`tf.Tensor` and `tf.Variable`: NumPy arrays with TensorFlow's manners.

What eager TensorFlow code gets back -- `tf.constant(...)`, `layer(x)`, `model(x)`,
`loss_fn(y, p)`, `tf.nn.softmax(z)` -- is a `Tensor` here. A Tensor IS a NumPy array (a
subclass of `np.ndarray`, sharing its memory, no copy), so everything NumPy and matplotlib do
with arrays works on it, and it adds what lecture code calls on TensorFlow tensors:

    t.numpy()        the values as a plain NumPy array (a 0-d tensor gives a NumPy scalar)
    t.shape          a tf.TensorShape (a tuple: `t.shape[1:]`, `t.shape.as_list()`)
    t.dtype          float32, int32, ... (`t.dtype == tf.float32`)
    print(t)         tf.Tensor([2.7 1.9 -2.9], shape=(3,), dtype=float32)

Arithmetic (`+ - * / ** @`, comparisons, `t[...]`), NumPy's element-wise functions
(`np.exp(t)`, `np.maximum(t, 0)`) and the array methods that reshape or reduce (`t.reshape`,
`t.T`, `t.sum(axis)`, `t.mean()`, `t.astype`) are TensorFlow operations giving Tensors, and
inside a `tf.GradientTape` they are recorded so that the tape can differentiate them
(gradient_tape.py, ops/dispatch.py). Other NumPy functions (`np.mean(t)`, `np.concatenate`)
give plain NumPy results, as they do in TensorFlow, and are not differentiated -- except
inside a model's or layer's `call`, where the common ones (np.sum, np.mean, np.concatenate,
np.reshape, ...) are the tf operations and any other raises a TypeError naming it, so that
training never gets a silently wrong gradient.

A `Variable` holds a value that changes: a model weight, or `w = tf.Variable(2.0)`. Its
`assign`, `assign_add` and `assign_sub` write into the same memory, so an optimizer, a
layer and the user all see one array. `layer.trainable_variables` gives the layers' weights
as Variables; the layers themselves compute on the plain arrays underneath (`_storage`), so
training never pays for any of this.

None of this runs in the training loops: `fit` works on plain arrays, and these types exist
only at the edge where user code touches results.
"""
import numbers

import numpy as np

from scratchnet.basics import TensorShape

_ndarray_shape = np.ndarray.shape


def plain(value):
    """`value` with every Tensor/Variable in it (lists, tuples, dicts too) as a plain array."""
    if isinstance(value, np.ndarray):
        return value.view(np.ndarray) if type(value) is not np.ndarray else value
    if isinstance(value, (list, tuple)):
        items = [plain(v) for v in value]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def default_dtype(value):
    """The dtype TensorFlow gives a Python value: floats float32, ints int32, bools bool."""
    array = np.asarray(value)
    if isinstance(value, (np.ndarray, np.generic)):      # NumPy values keep their dtype
        return array.dtype
    return {np.dtype(np.float64): np.dtype(np.float32),
            np.dtype(np.int64): np.dtype(np.int32)}.get(array.dtype, array.dtype)


def as_array(value, dtype=None):
    """A plain array of `value` with TensorFlow's dtype rules (see default_dtype)."""
    if isinstance(value, np.ndarray):
        array = plain(value)
        return array if dtype is None or array.dtype == dtype else array.astype(dtype)
    array = np.asarray(plain(value))
    target = np.dtype(dtype) if dtype is not None else default_dtype(value)
    return array if array.dtype == target else array.astype(target)


class Tensor(np.ndarray):
    """An immutable-by-convention array with TensorFlow's methods (see the module docstring)."""

    def __array_finalize__(self, obj):
        pass

    # ---- what lecture code reads --------------------------------------------------------
    @property
    def shape(self):
        return TensorShape(_ndarray_shape.__get__(self))

    @shape.setter
    def shape(self, value):          # (NumPy itself sets shapes of new arrays this way)
        _ndarray_shape.__set__(self, value)

    def numpy(self):
        """The values as a plain NumPy array (a NumPy scalar for a 0-d tensor)."""
        from scratchnet.ops import dispatch

        if dispatch._in_a_call([self]):
            raise dispatch.UntraceableError(
                ".numpy() on a tensor inside a model's or layer's call() leaves the gradient: "
                "training would silently get a wrong gradient. Keep computing with tf "
                "operations or layers.")
        array = self.view(np.ndarray)
        return array[()] if array.ndim == 0 else array

    def get_shape(self):
        return self.shape

    @property
    def rank(self):
        return self.ndim

    def __repr__(self):
        return (f"<tf.Tensor: shape={tuple(self.shape)}, dtype={self.dtype.name}, "
                f"numpy={_numpy_repr(self)}>")

    def __str__(self):
        array = self.view(np.ndarray)
        values = np.array2string(array) if array.ndim else str(array[()])
        newline = "\n" if array.ndim > 1 else ""            # (TensorFlow's layout)
        return (f"tf.Tensor({newline}{values}, shape={tuple(self.shape)}, "
                f"dtype={self.dtype.name})")

    def __hash__(self):
        raise TypeError("Tensor is unhashable (its value can change); use it by identity "
                        "(id(t)) or hash t.numpy().tobytes()")

    def __reduce__(self):
        raise TypeError("scratchnet Tensors are not pickled; save t.numpy() instead")

    # ---- NumPy interop: arithmetic is differentiable, the rest gives plain results -------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        from scratchnet.ops import dispatch

        if method == "__call__" and not kwargs:
            op = dispatch.UFUNCS.get(ufunc)
            if op is not None:
                return op(*inputs)
        if "out" in kwargs:
            kwargs["out"] = tuple(plain(o) for o in kwargs["out"])
        result = getattr(ufunc, method)(*plain(list(inputs)), **kwargs)
        if dispatch._in_a_call(list(inputs)) and dispatch._carries_gradient(result):
            name = ufunc.__name__ + ("" if method == "__call__" else f".{method}")
            raise dispatch.UntraceableError(
                f"np.{name} on a tensor inside a model's or layer's call() cannot be "
                "differentiated by scratchnet: training would silently get a wrong gradient. "
                "Use tf operations or layers instead.")
        if method == "__call__" and not kwargs and isinstance(result, np.ndarray):
            return dispatch.untracked(result, inputs)
        return result

    def __array_function__(self, func, types, args, kwargs):
        from scratchnet.ops import dispatch

        return dispatch.numpy_function(func, args, kwargs)

    # NumPy's methods that reshape or reduce are TensorFlow operations here (differentiable):
    def reshape(self, *shape, order="C"):
        from scratchnet.ops import array_ops

        if order != "C":
            raise ValueError("Tensor.reshape: only order='C' is supported")
        return array_ops.reshape(self, shape[0] if len(shape) == 1 else shape)

    def ravel(self, order="C"):
        return self.reshape(-1, order=order)

    flatten = ravel

    def transpose(self, *axes):
        from scratchnet.ops import array_ops

        perm = axes[0] if len(axes) == 1 and not isinstance(axes[0], int) else axes or None
        return array_ops.transpose(self, perm)

    @property
    def T(self):
        return self.transpose()

    def squeeze(self, axis=None):
        from scratchnet.ops import array_ops

        return array_ops.squeeze(self, axis)

    def astype(self, dtype, *args, **kwargs):
        from scratchnet.ops import math_ops

        return math_ops.cast(self, dtype)

    def _reduce(self, name, axis, keepdims, kwargs):
        from scratchnet.ops import math_ops

        if (kwargs.get("out") is not None or kwargs.get("dtype") is not None
                or self.dtype.kind not in "fc"):     # NumPy's own rules (bools, integers)
            return _tensor_from(getattr(self.view(np.ndarray), name[7:])(
                axis=axis, keepdims=keepdims, **kwargs))
        return getattr(math_ops, name)(self, axis, keepdims)

    def sum(self, axis=None, keepdims=False, **kwargs):
        return self._reduce("reduce_sum", axis, keepdims, kwargs)

    def mean(self, axis=None, keepdims=False, **kwargs):
        return self._reduce("reduce_mean", axis, keepdims, kwargs)

    def max(self, axis=None, keepdims=False, **kwargs):
        return self._reduce("reduce_max", axis, keepdims, kwargs)

    def min(self, axis=None, keepdims=False, **kwargs):
        return self._reduce("reduce_min", axis, keepdims, kwargs)

    def __getitem__(self, key):
        from scratchnet.ops import array_ops

        return array_ops.getitem(self, key)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __bool__(self):
        return bool(self.view(np.ndarray))

    def __index__(self):
        return self.view(np.ndarray).__index__()


class Variable(Tensor):
    """`tf.Variable(initial_value, trainable=True, name=None, dtype=None)`: a value that
    changes in place. `assign(v)`, `assign_add(d)`, `assign_sub(d)` write into the same
    memory (and return the variable); `v.numpy()` is a copy of the current value.
    A GradientTape watches every trainable Variable it sees read (see gradient_tape.py)."""

    def __new__(cls, initial_value=None, trainable=True, name=None, dtype=None, shape=None,
                validate_shape=True, **kwargs):
        if initial_value is None:
            raise ValueError("tf.Variable: initial_value is required")
        if callable(initial_value):
            initial_value = initial_value()
        if dtype is not None:
            from scratchnet.basics import _dtype
            dtype = _dtype(dtype, "tf.Variable")
        storage = np.array(as_array(initial_value, dtype), copy=True)
        return cls._over(storage, name or "Variable", trainable)

    @classmethod
    def _over(cls, storage, name, trainable, path=None):
        """A Variable whose memory is `storage` (a plain array kept by its owner)."""
        variable = storage.view(cls)
        variable._storage = storage
        variable._name = name
        variable._path = path or name
        variable._trainable = bool(trainable)
        variable._owned = False        # True once a layer holds it as a weight (layers/base.py)
        return variable

    def __init__(self, *args, **kwargs):
        pass

    def __array_finalize__(self, obj):
        # A NumPy view of a variable (v.T, v.reshape(...)) is a variable over that view.
        self._storage = self.view(np.ndarray)
        self._name = self._path = getattr(obj, "_name", "Variable")
        self._trainable = getattr(obj, "_trainable", True)
        self._owned = True                 # (a view is never adopted as a weight of its own)

    @property
    def name(self):
        return self._name

    @property
    def path(self):
        return self._path

    @property
    def trainable(self):
        return self._trainable

    @property
    def value(self):
        return Tensor._from(self._storage.copy())

    def read_value(self):
        return self.value

    def numpy(self):
        copy = self._storage.copy()
        return copy[()] if copy.ndim == 0 else copy

    def _assign(self, value, how, use_locking=None, name=None, read_value=True):
        value = as_array(value, self.dtype)
        if value.shape != self._storage.shape:
            raise ValueError(f"Variable {self._name!r}: cannot assign a value of shape "
                             f"{value.shape} to a variable of shape {self._storage.shape}")
        if how == "assign":
            self._storage[...] = value
        elif how == "add":
            self._storage += value
        else:
            self._storage -= value
        return self if read_value else None

    def assign(self, value, use_locking=None, name=None, read_value=True):
        return self._assign(value, "assign", read_value=read_value)

    def assign_add(self, delta, use_locking=None, name=None, read_value=True):
        return self._assign(delta, "add", read_value=read_value)

    def assign_sub(self, delta, use_locking=None, name=None, read_value=True):
        return self._assign(delta, "sub", read_value=read_value)

    # TensorFlow's `v += 1` makes a new tensor (the variable is unchanged); so here:
    def __iadd__(self, other):
        return self + other

    def __isub__(self, other):
        return self - other

    def __imul__(self, other):
        return self * other

    def __itruediv__(self, other):
        return self / other

    def __setitem__(self, key, value):
        raise TypeError(f"Variable {self._name!r} does not support item assignment: use "
                        "v.assign(new_value) (or v[...].assign in TensorFlow)")

    def __repr__(self):
        return (f"<tf.Variable '{self._name}:0' shape={tuple(self.shape)} "
                f"dtype={self.dtype.name}, numpy={_numpy_repr(self)}>")

    __str__ = __repr__


def _numpy_repr(tensor):
    """The values as TensorFlow shows them: `array([...], dtype=float32)`, or `2.0`."""
    array = tensor.view(np.ndarray)
    if not array.ndim:
        return str(array[()])
    return ("\n" if array.ndim > 1 else "") + repr(array)


def _tensor_from(array):
    """`array` (a fresh plain array, or a NumPy scalar) as a Tensor, without a copy."""
    return np.asarray(array).view(Tensor)


Tensor._from = staticmethod(_tensor_from)


def is_tensor(x):
    """True for scratchnet Tensors and Variables (tf.is_tensor)."""
    return isinstance(x, Tensor)


def is_number(x):
    return isinstance(x, numbers.Number)


__all__ = ["Tensor", "Variable", "as_array", "is_tensor", "plain"]

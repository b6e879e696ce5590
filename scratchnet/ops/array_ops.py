"""Making tensors and moving their elements around: creation, shape ops, slicing.

Moving elements changes no value, so each backward moves dL/dy back where the elements came
from:

    reshape / expand_dims / squeeze     dx = dy reshaped to x's shape
    transpose(perm)                     dx = dy transposed by the inverse permutation
    concat(axis)                        dx_i = the slice of dy that came from x_i
    stack(axis)                         dx_i = dy[..., i, ...] (along the new axis)
    tile(multiples)                     dx = the sum of dy's tiles
    gather(params, indices, axis)       dparams = zeros, with dy added at the gathered rows
    x[key]                              dx = zeros, with dy added at x[key]

The creation functions follow TensorFlow's dtype rules (`tf.constant(1.0)` is float32,
`tf.range(5)` int32) and return Tensors.
"""
import builtins

import numpy as np

from scratchnet.basics import _dtype
from scratchnet.ops.core import beside, axes_of, result, values
from scratchnet.tensors import Tensor, plain


# ---- making tensors ------------------------------------------------------------------------
def constant(value, dtype=None, shape=None, name=None):
    """A Tensor of `value` (Python floats become float32 and ints int32, as in TensorFlow),
    optionally broadcast to `shape`."""
    array = np.array(values(value, dtype, "tf.constant"), copy=True)
    if shape is not None:
        try:
            array = np.broadcast_to(array, tuple(shape)).copy() if array.size == 1 or \
                array.shape == tuple(shape) else array.reshape(tuple(shape))
        except ValueError:
            raise ValueError(f"tf.constant: a value of shape {array.shape} cannot become "
                             f"shape {tuple(shape)}") from None
    return Tensor._from(array)


def convert_to_tensor(value, dtype=None, dtype_hint=None, name=None):
    """`value` as a Tensor (a Tensor of the right dtype is returned as it is)."""
    if isinstance(value, Tensor) and (dtype is None or value.dtype == _dtype(dtype, "")):
        return value
    if dtype is None and dtype_hint is not None and not isinstance(value, np.ndarray):
        dtype = dtype_hint
    return Tensor._from(values(value, dtype, "tf.convert_to_tensor"))


def _float_dtype(dtype, what):
    return _dtype(dtype, what) if dtype is not None else np.dtype(np.float32)


def _shape(shape, what):
    shape = plain(shape)
    try:
        return tuple(int(d) for d in np.asarray(shape).reshape(-1))
    except (TypeError, ValueError):
        raise TypeError(f"{what}: shape must be a list of ints, received {shape!r}") from None


def zeros(shape, dtype=np.float32, name=None):
    return Tensor._from(np.zeros(_shape(shape, "tf.zeros"), _float_dtype(dtype, "tf.zeros")))


def ones(shape, dtype=np.float32, name=None):
    return Tensor._from(np.ones(_shape(shape, "tf.ones"), _float_dtype(dtype, "tf.ones")))


def zeros_like(input, dtype=None, name=None):      # noqa: A002
    a = values(input, what="tf.zeros_like")
    return Tensor._from(np.zeros(a.shape, _dtype(dtype, "tf.zeros_like") or a.dtype))


def ones_like(input, dtype=None, name=None):       # noqa: A002
    a = values(input, what="tf.ones_like")
    return Tensor._from(np.ones(a.shape, _dtype(dtype, "tf.ones_like") or a.dtype))


def fill(dims, value, name=None):
    v = values(value, what="tf.fill")
    return Tensor._from(np.full(_shape(dims, "tf.fill"), v, v.dtype))


def range(start, limit=None, delta=1, dtype=None, name="range"):   # noqa: A001
    """tf.range: like Python's range. Its dtype is the "largest" of its arguments' (Python ints
    int32, floats float32; tensors and NumPy values keep theirs) in TF's order int32 < int64 <
    float32 < float64, and the values are computed as TF does: start + i * delta in that
    dtype, for i < ceil((limit - start) / delta)."""
    what = "tf.range"
    if limit is None:
        start, limit = 0, start
    args = [values(a, what=what) for a in (start, limit, delta)]
    order = [np.dtype(t) for t in (np.int32, np.int64, np.float32, np.float64)]
    if dtype is None:
        dtype = max((a.dtype for a in args), key=lambda t: order.index(t) if t in order else 0)
    dtype = _dtype(dtype, what)
    start, limit, delta = (a.astype(dtype)[()] for a in args)
    if delta == 0 or (limit - start) * delta < 0:
        raise ValueError(f"{what}: cannot go from {start} to {limit} in steps of {delta} "
                         "(delta must be nonzero and point from start toward limit)")
    if dtype.kind in "iu":
        count = (abs(limit - start) + abs(delta) - 1) // abs(delta)
    else:
        count = np.ceil(np.abs((limit - start) / delta))
    return Tensor._from(start + np.arange(int(count)).astype(dtype) * delta)


def linspace(start, stop, num, name=None, axis=0):
    """`num` evenly spaced values from start to stop, both included, computed as TF does: in
    start's dtype (float64 when start is an integer), step = (stop - start) / (num - 1), the
    values start + i * step, stop itself last. Vectors start/stop give one sequence per
    element, laid along `axis` of the result."""
    what = "tf.linspace"
    first = values(start, what=what)
    dtype = first.dtype if first.dtype.kind == "f" else np.dtype(np.float64)
    first, last = np.broadcast_arrays(first.astype(dtype), values(stop, dtype, what))
    n = int(num)
    step = (last - first) / dtype.type(max(n - 1, 1))
    inner = first[..., None] + step[..., None] * np.arange(1, max(n - 1, 1)).astype(dtype)
    out = np.concatenate([first[..., None], inner, last[..., None]], axis=-1)[..., :n]
    (axis,) = axes_of(axis, out.ndim, what)
    return Tensor._from(np.moveaxis(out, -1, axis).copy())


def eye(num_rows, num_columns=None, batch_shape=None, dtype=np.float32, name=None):
    matrix = np.eye(int(num_rows), None if num_columns is None else int(num_columns),
                    dtype=_dtype(dtype, "tf.eye"))
    if batch_shape is not None:
        matrix = np.broadcast_to(matrix, tuple(batch_shape) + matrix.shape).copy()
    return Tensor._from(matrix)


def one_hot(indices, depth, on_value=None, off_value=None, axis=None, dtype=None, name=None):
    """on_value (1) where the index is, off_value (0) elsewhere, along a new axis (the last
    one unless `axis` says). The dtype, as in TF: `dtype`, else on_value's, else off_value's,
    else float32 (a Python on/off value takes the dtype given)."""
    what = "tf.one_hot"
    idx = values(indices, what=what).astype(np.int64)
    target = _dtype(dtype, what)
    given = {}
    for label, value in (("on_value", on_value), ("off_value", off_value)):
        if value is None:
            continue
        if target is None or isinstance(value, np.ndarray):     # (tensors keep their dtype)
            given[label] = values(value, what=what)
        else:
            given[label] = beside(value, target, what)
        if target is None:
            target = given[label].dtype
    if target is None:
        target = np.dtype(np.float32)
    for label, value in given.items():
        if value.dtype != target:
            raise TypeError(f"{what}: {label} has dtype {value.dtype.name}, expected "
                            f"{target.name} (the dtype of dtype= or of on_value)")
    on, off = given.get("on_value", 1), given.get("off_value", 0)
    hot = (idx[..., None] == np.arange(int(depth)))
    out = np.where(hot, on, off).astype(target)
    if axis is not None and axis != -1:
        out = np.moveaxis(out, -1, axis)
    return Tensor._from(out)


def identity(input, name=None):                     # noqa: A002
    return result("Identity", [input], values(input, what="tf.identity").copy(),
                  lambda dy: [dy])


def stop_gradient(input, name=None):                # noqa: A002
    """The same values, with no gradient flowing back through them."""
    return Tensor._from(values(input, what="tf.stop_gradient").copy())


# ---- shapes --------------------------------------------------------------------------------
def shape(input, out_type=np.int32, name=None):     # noqa: A002
    """The shape as a 1-D int32 tensor (the static shape is `x.shape`)."""
    return Tensor._from(np.array(np.shape(plain(input)), dtype=_dtype(out_type, "tf.shape")))


def size(input, out_type=np.int32, name=None):      # noqa: A002
    return Tensor._from(np.array(np.size(plain(input)), dtype=_dtype(out_type, "tf.size")))


def rank(input, name=None):                         # noqa: A002
    return Tensor._from(np.array(np.ndim(plain(input)), dtype=np.int32))


def reshape(tensor, shape, name=None):
    a = values(tensor, what="tf.reshape")
    try:
        y = a.reshape(_shape(shape, "tf.reshape")).copy()
    except ValueError:
        raise ValueError(f"tf.reshape: cannot reshape a tensor of shape {a.shape} "
                         f"({a.size} elements) into shape {list(_shape(shape, ''))}") from None
    return result("Reshape", [tensor], y, lambda dy: [dy.reshape(a.shape)])


def expand_dims(input, axis, name=None):            # noqa: A002
    a = values(input, what="tf.expand_dims")
    (axis,) = axes_of(axis, a.ndim + 1, "tf.expand_dims")
    return result("ExpandDims", [input], np.expand_dims(a, axis).copy(),
                  lambda dy: [dy.reshape(a.shape)])


def squeeze(input, axis=None, name=None):           # noqa: A002
    a = values(input, what="tf.squeeze")
    if axis is None:
        y = np.squeeze(a)
    else:
        axes = axes_of(axis, a.ndim, "tf.squeeze")
        for i in axes:
            if a.shape[i] != 1:
                raise ValueError(f"tf.squeeze: axis {i} of shape {a.shape} has size "
                                 f"{a.shape[i]}, expected 1")
        y = np.squeeze(a, axis=axes)
    return result("Squeeze", [input], y.copy(), lambda dy: [dy.reshape(a.shape)])


def transpose(a, perm=None, conjugate=False, name="transpose"):
    x = values(a, what="tf.transpose")
    perm = tuple(range(x.ndim))[::-1] if perm is None else axes_of(perm, x.ndim,
                                                                   "tf.transpose")
    if sorted(perm) != list(range(x.ndim)):
        raise ValueError(f"tf.transpose: perm {list(perm)} is not a permutation of the "
                         f"{x.ndim} axes")
    inverse = np.argsort(perm)
    return result("Transpose", [a], np.transpose(x, perm).copy(),
                  lambda dy: [np.transpose(dy, inverse)])


def concat(values_, axis, name="concat"):
    arrays = [values(v, what="tf.concat") for v in values_]
    (axis,) = axes_of(axis, arrays[0].ndim, "tf.concat")
    for a in arrays:
        if a.ndim != arrays[0].ndim or np.delete(a.shape, axis).tolist() != \
                np.delete(arrays[0].shape, axis).tolist():
            raise ValueError(f"tf.concat: all shapes must be equal except along axis {axis}, "
                             f"received {[list(a.shape) for a in arrays]}")
    ends = np.cumsum([a.shape[axis] for a in arrays])[:-1]
    return result("ConcatV2", list(values_), np.concatenate(arrays, axis=axis),
                  lambda dy: np.split(dy, ends, axis=axis))


def stack(values_, axis=0, name="stack"):
    arrays = [values(v, what="tf.stack") for v in values_]
    (axis,) = axes_of(axis, arrays[0].ndim + 1, "tf.stack")
    if any(a.shape != arrays[0].shape for a in arrays):
        raise ValueError(f"tf.stack: all shapes must be equal, received "
                         f"{[list(a.shape) for a in arrays]}")
    return result("Pack", list(values_), np.stack(arrays, axis=axis),
                  lambda dy: [np.take(dy, i, axis=axis) for i in builtins.range(len(arrays))])


def unstack(value, num=None, axis=0, name="unstack"):
    a = values(value, what="tf.unstack")
    (axis,) = axes_of(axis, a.ndim, "tf.unstack")
    return [getitem(value, (slice(None),) * axis + (i,)) for i in np.arange(a.shape[axis])]


def tile(input, multiples, name=None):              # noqa: A002
    a = values(input, what="tf.tile")
    reps = _shape(multiples, "tf.tile")
    if len(reps) != a.ndim:
        raise ValueError(f"tf.tile: multiples needs one entry per axis ({a.ndim}), "
                         f"received {list(reps)}")

    def backward(dy):
        # view dy as (r0, n0, r1, n1, ...) and sum over the repeat axes
        split = dy.reshape([v for r, n in zip(reps, a.shape) for v in (r, n)])
        return [split.sum(axis=tuple(np.arange(0, 2 * a.ndim, 2)))]

    return result("Tile", [input], np.tile(a, reps), backward)


def gather(params, indices, validate_indices=None, axis=None, batch_dims=0, name=None):
    p = values(params, what="tf.gather")
    idx = values(indices, what="tf.gather").astype(np.int64)
    (axis,) = axes_of(0 if axis is None else axis, p.ndim, "tf.gather")
    if batch_dims:
        raise NotImplementedError("tf.gather: batch_dims is not supported in scratchnet")
    if idx.size and (idx.min() < 0 or idx.max() >= p.shape[axis]):
        raise ValueError(f"tf.gather: indices must be in [0, {p.shape[axis]}), received "
                         f"{idx.reshape(-1)[:10].tolist()}")

    def backward(dy):
        dp = np.zeros(p.shape, dy.dtype)
        moved = np.moveaxis(dp, axis, 0)                      # a view: writes go into dp
        np.add.at(moved, idx.reshape(-1),
                  np.moveaxis(dy, tuple(np.arange(axis, axis + idx.ndim)),
                              tuple(np.arange(idx.ndim))).reshape((idx.size,) +
                                                                   moved.shape[1:]))
        return [dp, None]

    return result("GatherV2", [params, indices], np.take(p, idx, axis=axis), backward)


def getitem(tensor, key):
    """tensor[key] (TensorFlow's slicing: ints, slices, ..., tf.newaxis, int arrays)."""
    a = values(tensor)
    key = plain(key)
    y = np.array(a[key], copy=True)

    def backward(dy):
        dx = np.zeros(a.shape, dy.dtype)
        np.add.at(dx, key, dy)
        return [dx]

    return result("StridedSlice", [tensor], y, backward)

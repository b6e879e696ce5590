"""`tf.math`: arithmetic, element-wise functions, reductions and comparisons.

Each operation is its forward math and, beside it, its chain rule -- the backward function
that turns dL/d(output) `dy` into dL/d(each input), exactly the rule TensorFlow registers for
it (tensorflow/python/ops/math_grad.py), so that a GradientTape gives TensorFlow's numbers:

    add        y = a + b          da = dy                  db = dy
    subtract   y = a - b          da = dy                  db = -dy
    multiply   y = a * b          da = dy * b              db = a * dy
    divide     y = a / b          da = dy / b              db = dy * ((-a / b) / b)
    pow        y = a ** b         da = dy * b * a**(b-1)   db = dy * y * log(a)   (0 where a <= 0)
    maximum    y = max(a, b)      da = dy where a >= b     db = dy where a < b
    minimum    y = min(a, b)      da = dy where a <= b     db = dy where a > b
    square     y = x**2           dx = dy * 2x
    sqrt       y = sqrt(x)        dx = dy * 0.5 / y
    exp        y = e**x           dx = dy * y
    log        y = ln x           dx = dy / x
    abs        y = |x|            dx = dy * sign(x)
    sign       y = sign(x)        dx = 0                   (zeros, not None: TF's rule)
    sigmoid    y = 1/(1+e**-x)    dx = dy * y * (1 - y)
    tanh       y = tanh x         dx = dy * (1 - y**2)
    matmul     Y = A @ B          dA = dY @ B^T            dB = A^T @ dY
    reduce_sum / reduce_mean      dx = dy (/ count) copied back over the reduced axes
    reduce_max / reduce_min       dx = dy shared equally by the elements equal to the result
    reduce_prod                   dx = dy * (the product of the OTHER reduced elements),
                                  made of two running products, so zeros are no problem

(Broadcast operands get their gradient summed back to their own shape by the tape.)
Comparisons, argmax/argmin and the like have no gradient: their results are integers or
booleans, as in TensorFlow; neither have round, floor and ceil (None, as TF's).
"""
import numpy as np

from scratchnet.ops.core import axes_of, pair, result, values


# ---- arithmetic -------------------------------------------------------------------------
def add(x, y, name=None):
    a, b = pair(x, y, "tf.add")
    return result("AddV2", [x, y], np.add(a, b), lambda dy: [dy, dy])


def subtract(x, y, name=None):
    a, b = pair(x, y, "tf.subtract")
    return result("Sub", [x, y], np.subtract(a, b), lambda dy: [dy, -dy])


def multiply(x, y, name=None):
    a, b = pair(x, y, "tf.multiply")
    return result("Mul", [x, y], np.multiply(a, b), lambda dy: [dy * b, a * dy])


def divide(x, y, name=None):
    a, b = pair(x, y, "tf.divide")
    if a.dtype.kind in "iu" and b.dtype.kind in "iu":     # TF: int / int -> float64
        a, b = a.astype(np.float64), b.astype(np.float64)
    return result("RealDiv", [x, y], np.true_divide(a, b),
                  lambda dy: [dy / b, dy * ((-a / b) / b)])


truediv = divide


def floordiv(x, y, name=None):
    a, b = pair(x, y, "tf.math.floordiv")
    return result("FloorDiv", [x, y], np.floor_divide(a, b))


def floormod(x, y, name=None):
    a, b = pair(x, y, "tf.math.floormod")
    return result("FloorMod", [x, y], np.mod(a, b))


mod = floormod


def negative(x, name=None):
    return result("Neg", [x], np.negative(values(x)), lambda dy: [-dy])


def pow(x, y, name=None):      # noqa: A001 (TensorFlow's name)
    a, b = pair(x, y, "tf.pow")
    z = np.power(a, b)

    def backward(dy):
        log_a = np.where(a > 0, np.log(np.where(a > 0, a, 1)), 0).astype(z.dtype)
        return [dy * b * np.power(a, b - 1), dy * z * log_a]

    return result("Pow", [x, y], z, backward)


def maximum(x, y, name=None):
    a, b = pair(x, y, "tf.maximum")
    mask = a >= b
    return result("Maximum", [x, y], np.maximum(a, b),
                  lambda dy: [np.where(mask, dy, 0).astype(dy.dtype),
                              np.where(mask, 0, dy).astype(dy.dtype)])


def minimum(x, y, name=None):
    a, b = pair(x, y, "tf.minimum")
    mask = a <= b
    return result("Minimum", [x, y], np.minimum(a, b),
                  lambda dy: [np.where(mask, dy, 0).astype(dy.dtype),
                              np.where(mask, 0, dy).astype(dy.dtype)])


# ---- element-wise functions ---------------------------------------------------------------
def _float(x, what):
    a = values(x, what=what)
    return a if a.dtype.kind in "fc" else a.astype(np.float32)


def square(x, name=None):
    a = values(x, what="tf.square")
    return result("Square", [x], np.square(a), lambda dy: [dy * (2 * a)])


def sqrt(x, name=None):
    y = np.sqrt(_float(x, "tf.sqrt"))
    return result("Sqrt", [x], y, lambda dy: [dy * 0.5 / y])


def exp(x, name=None):
    y = np.exp(_float(x, "tf.exp"))
    return result("Exp", [x], y, lambda dy: [dy * y])


def log(x, name=None):
    a = _float(x, "tf.math.log")
    return result("Log", [x], np.log(a), lambda dy: [dy / a])


def abs(x, name=None):          # noqa: A001 (TensorFlow's name)
    a = values(x, what="tf.abs")
    return result("Abs", [x], np.abs(a), lambda dy: [dy * np.sign(a)])


def sign(x, name=None):
    a = values(x, what="tf.sign")
    return result("Sign", [x], np.sign(a), lambda dy: [np.zeros_like(dy)])


def sigmoid(x, name=None):
    from scratchnet import activations
    from scratchnet.ops import nn_ops

    return nn_ops.activation(activations.sigmoid, x)


def tanh(x, name=None):
    y = np.tanh(_float(x, "tf.tanh"))
    return result("Tanh", [x], y, lambda dy: [dy * (1 - y * y)])


def round(x, name=None):        # noqa: A001 (TensorFlow's name); banker's rounding as TF
    return result("Round", [x], np.round(values(x, what="tf.round")))


def floor(x, name=None):
    return result("Floor", [x], np.floor(values(x, what="tf.floor")))


def ceil(x, name=None):
    return result("Ceil", [x], np.ceil(values(x, what="tf.math.ceil")))


def cast(x, dtype, name=None):
    """x as `dtype` (floats to ints truncate toward zero, as TF's cast). The gradient passes
    through between float types, as in TensorFlow."""
    from scratchnet.basics import _dtype

    target = _dtype(dtype, "tf.cast")
    a = values(x, what="tf.cast")
    y = a.astype(target)
    differentiable = a.dtype.kind == "f" and target.kind == "f"
    return result("Cast", [x], y, (lambda dy: [dy.astype(a.dtype)]) if differentiable
                  else None)


# ---- matrix product -------------------------------------------------------------------------
def matmul(a, b, transpose_a=False, transpose_b=False, name=None):
    """A @ B over the last two axes (leading axes broadcast), as tf.matmul."""
    x, y = pair(a, b, "tf.matmul", broadcast=False)
    if x.ndim < 2 or y.ndim < 2:
        raise ValueError(f"tf.matmul: both operands must have rank >= 2, received shapes "
                         f"{x.shape} and {y.shape}")
    xa = np.swapaxes(x, -1, -2) if transpose_a else x
    yb = np.swapaxes(y, -1, -2) if transpose_b else y
    if xa.shape[-1] != yb.shape[-2]:
        raise ValueError(f"tf.matmul: cannot multiply matrices of shapes {xa.shape[-2:]} and "
                         f"{yb.shape[-2:]} (inner sizes {xa.shape[-1]} != {yb.shape[-2]})")
    try:
        np.broadcast_shapes(x.shape[:-2], y.shape[:-2])
    except ValueError:
        raise ValueError(f"tf.matmul: the batch axes of shapes {x.shape} and {y.shape} do not "
                         f"broadcast ({x.shape[:-2]} vs {y.shape[:-2]})") from None

    def backward(dy):
        da = np.matmul(dy, np.swapaxes(yb, -1, -2))        # dL/d(xa)
        db = np.matmul(np.swapaxes(xa, -1, -2), dy)        # dL/d(yb)
        return [np.swapaxes(da, -1, -2) if transpose_a else da,
                np.swapaxes(db, -1, -2) if transpose_b else db]

    return result("MatMul", [a, b], np.matmul(xa, yb), backward)


# ---- reductions ------------------------------------------------------------------------------
def _reduce(name, fn, x, axis, keepdims, backward_of):
    a = values(x, what=f"tf.{name}")
    if a.dtype.kind == "b" and fn in (np.sum, np.mean, np.prod):
        raise TypeError(f"tf.{name}: cannot add or multiply booleans (TensorFlow refuses "
                        f"them too); cast first, e.g. tf.{name}(tf.cast(x, tf.int32))")
    axes = axes_of(axis, a.ndim, f"tf.{name}")
    y = np.asarray(fn(a, axis=axes, keepdims=keepdims))
    if fn in (np.sum, np.prod) and y.dtype != a.dtype:     # TF keeps int32 sums int32
        y = y.astype(a.dtype)
    kept = y if keepdims else y.reshape([1 if i in axes else d for i, d in enumerate(a.shape)])

    def backward(dy):
        return [backward_of(a, kept, np.reshape(dy, kept.shape), axes)]

    return result(name, [x], y, backward if backward_of else None)


def _spread(a, kept, dy, axes):                 # reduce_sum: dy copied to every element
    return np.broadcast_to(dy, a.shape).copy()


def _spread_mean(a, kept, dy, axes):
    count = int(np.prod([a.shape[i] for i in axes])) if axes else 1
    return np.broadcast_to(dy / a.dtype.type(max(count, 1)), a.shape).copy()


def _to_extremes(a, kept, dy, axes):            # reduce_max/min: shared by the ties
    hits = (a == kept).astype(dy.dtype)
    return hits * (dy / hits.sum(axis=axes, keepdims=True))


def _product_of_others(a, kept, dy, axes):      # reduce_prod
    """dy times, for each element, the product of the other elements it was multiplied
    with -- as TF: the reduced axes go first and are flattened into one, and the product
    before each element (a running product, shifted by one) times the product after it gives
    that product without dividing by the element (which may be 0)."""
    others = [i for i in range(a.ndim) if i not in axes]
    order = list(axes) + others
    moved = np.transpose(a, order)
    rows = moved.reshape(int(np.prod(moved.shape[:len(axes)])), -1)
    ones = np.ones((1, rows.shape[1]), a.dtype)
    before = np.cumprod(np.concatenate([ones, rows[:-1]]), axis=0)
    after = np.cumprod(np.concatenate([ones, rows[::-1][:-1]]), axis=0)[::-1]
    product = np.transpose((before * after).reshape(moved.shape), np.argsort(order))
    return dy * product


def reduce_sum(input_tensor, axis=None, keepdims=False, name=None):
    return _reduce("reduce_sum", np.sum, input_tensor, axis, keepdims, _spread)


def reduce_mean(input_tensor, axis=None, keepdims=False, name=None):
    a = values(input_tensor, what="tf.reduce_mean")
    if a.dtype.kind in "iu":      # TF: the mean of integers is an integer, the sum divided
        axes = axes_of(axis, a.ndim, "tf.reduce_mean")      # and truncated toward zero
        total = np.sum(a, axis=axes, keepdims=keepdims)
        count = int(np.prod([a.shape[i] for i in axes])) if axes else 1
        quotient = np.abs(total) // max(count, 1)
        return result("Mean", [input_tensor], (np.sign(total) * quotient).astype(a.dtype))
    return _reduce("reduce_mean", np.mean, input_tensor, axis, keepdims, _spread_mean)


def reduce_max(input_tensor, axis=None, keepdims=False, name=None):
    return _reduce("reduce_max", np.max, input_tensor, axis, keepdims, _to_extremes)


def reduce_min(input_tensor, axis=None, keepdims=False, name=None):
    return _reduce("reduce_min", np.min, input_tensor, axis, keepdims, _to_extremes)


def reduce_prod(input_tensor, axis=None, keepdims=False, name=None):
    return _reduce("reduce_prod", np.prod, input_tensor, axis, keepdims, _product_of_others)


def reduce_any(input_tensor, axis=None, keepdims=False, name=None):
    return _reduce("reduce_any", np.any, input_tensor, axis, keepdims, None)


def reduce_all(input_tensor, axis=None, keepdims=False, name=None):
    return _reduce("reduce_all", np.all, input_tensor, axis, keepdims, None)


def _arg(name, fn, x, axis, output_type):
    from scratchnet.basics import _dtype

    a = values(x, what=f"tf.{name}")
    (axis,) = axes_of(0 if axis is None else axis, a.ndim, f"tf.{name}")
    return result(name, [x], fn(a, axis=axis).astype(_dtype(output_type, f"tf.{name}")))


def argmax(input, axis=None, output_type=np.int64, name=None):   # noqa: A002
    return _arg("argmax", np.argmax, input, axis, output_type)


def argmin(input, axis=None, output_type=np.int64, name=None):   # noqa: A002
    return _arg("argmin", np.argmin, input, axis, output_type)


# ---- comparisons (no gradient) -------------------------------------------------------------
def _compare(name, fn):
    def compare(x, y, name=None):
        a, b = pair(x, y, f"tf.{fn.__name__}")
        return result(name or fn.__name__, [x, y], fn(a, b))

    compare.__name__ = name
    compare.__doc__ = f"tf.{name}(x, y): element-wise, a bool tensor (no gradient)."
    return compare


equal = _compare("equal", np.equal)
not_equal = _compare("not_equal", np.not_equal)
greater = _compare("greater", np.greater)
greater_equal = _compare("greater_equal", np.greater_equal)
less = _compare("less", np.less)
less_equal = _compare("less_equal", np.less_equal)
logical_and = _compare("logical_and", np.logical_and)
logical_or = _compare("logical_or", np.logical_or)


def logical_not(x, name=None):
    return result("LogicalNot", [x], np.logical_not(values(x, what="tf.logical_not")))


def where(condition, x=None, y=None, name=None):
    """`where(c, x, y)`: x where c is true, else y (the gradient goes to the chosen one);
    `where(c)`: the coordinates of the true elements, shape (count, rank), int64."""
    c = values(condition, what="tf.where").astype(bool)
    if x is None and y is None:
        return result("Where", [condition], np.argwhere(c).astype(np.int64))
    if x is None or y is None:
        raise ValueError("tf.where: give both x and y, or neither")
    a, b = pair(x, y, "tf.where")
    try:
        np.broadcast_shapes(c.shape, a.shape, b.shape)
    except ValueError:
        raise ValueError(f"tf.where: the condition's shape {list(c.shape)} does not broadcast "
                         f"with x and y's {list(np.broadcast_shapes(a.shape, b.shape))}") from None
    return result("SelectV2", [condition, x, y], np.where(c, a, b),
                  lambda dy: [None, np.where(c, dy, 0).astype(dy.dtype),
                              np.where(c, 0, dy).astype(dy.dtype)])


def add_n(inputs, name=None):
    arrays = [values(x, what="tf.add_n") for x in inputs]
    return result("AddN", list(inputs), np.sum(arrays, axis=0).astype(arrays[0].dtype),
                  lambda dy: [dy] * len(arrays))
